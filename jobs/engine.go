package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dialq/dialq/compliance"

	"github.com/hibiken/asynq"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/vendors"
)

// Metrics is what the handlers report; monitor.Metrics implements it.
type Metrics interface {
	ObserveCall(vendor, outcome string, d time.Duration)
	AddNumbers(vendor, state string, n int)
	ThrottledWait(vendor string, d time.Duration)
	// Problem counts an event operators must hear of: "corrupt", "unmatched_refusal",
	// "lost_batch", "webhook_failed", …
	Problem(vendor, kind string)
}

// RateLimiter spaces vendor calls across the whole fleet.
type RateLimiter interface {
	// Wait blocks until one more call to vendor is allowed and returns how long it
	// waited; when that would take longer than budget it returns a *ratelimit.Busy.
	Wait(ctx context.Context, vendor string, budget time.Duration) (time.Duration, error)
}

// Retry bounds for the in-handler retries of transient failures: short, so a part
// that keeps failing goes back to the queue (and its retry delay) instead of holding
// a worker slot.
type Retry struct {
	Initial, Max, Elapsed time.Duration
	// MaxInlineWait is the longest wait (a Retry-After, the fleet rate limit) taken
	// in the worker slot; longer ones re-schedule the part and give the slot back.
	MaxInlineWait time.Duration
	// ThrottleCap bounds how often a part may be throttled by its vendor back to the
	// queue without counting as a failure.
	ThrottleCap int
	// RepeatCap bounds how often one call may be refused the same way before its
	// numbers are parked as uncertain instead of tried again.
	RepeatCap int
	// AuthAttempts bounds the attempts of a call refused for its signature or
	// credentials, each freshly signed, before the part fails.
	AuthAttempts int
	// PauseRecheck is how often a paused part comes back to look.
	PauseRecheck time.Duration
	// MaxFailures is a part's failure budget: past it, its numbers not yet recorded
	// are failed and the part settles. Zero means queue.PartMaxFailures.
	MaxFailures int
}

// DefaultRetry is used when Deps.Retry is zero.
var DefaultRetry = Retry{Initial: 200 * time.Millisecond, Max: time.Second, Elapsed: 5 * time.Second,
	MaxInlineWait: time.Second, ThrottleCap: 100, RepeatCap: 5, AuthAttempts: 4, PauseRecheck: 30 * time.Second}

// refusal is a number the vendor refused inside an accepted call.
type refusal struct {
	idx          int // index within the call's records
	code, reason string
}

// sent is the result of one accepted vendor call.
type sent struct {
	refused []refusal
	// suppressed are the records the compliance gate kept out of the call, by index
	// within the call's range, with the gate's verdict.
	suppressed map[int]string
	// unmatched are refusals whose number matched no record of the call: the call's
	// outcome is then not known number by number.
	unmatched []string
	// taskRef names the vendor task the call made or filled, for controls.
	taskRef string
	// extra is vendor state to checkpoint with the call (speech task id).
	extra map[string]string
	// reconciled means the vendor showed that an earlier attempt of this call went
	// through (see each caller for why that is safe to believe).
	reconciled bool
}

// caller is one vendor's part of delivering a part.
type caller interface {
	vendor() string
	// send makes one vendor call over recs, the records in range r of the part.
	send(ctx context.Context, p *partRun, r chunking.Range, recs []chunking.Record) (*sent, error)
	// resendSafe reports whether r may be sent again after an outcome that is not
	// known: only where the vendor recognises the repeat.
	resendSafe(p *partRun, r chunking.Range) bool
}

// partRun is one attempt at one part.
type partRun struct {
	m        *ledger.Manifest
	campaign campaign.Campaign
	part     int
	recs     []chunking.Record
	// extra is the part's checkpointed vendor state, kept current in memory.
	extra map[string]string
	log   *logrus.Entry
	// permanent is set once a call failed for good: the part is archived.
	permanent error
	// gate is the campaign's compliance block and how to read its numbers as
	// E.164; nil without one.
	gate *gateRun
	// resend are calls a dead attempt left in flight that go out again whole (the
	// vendor recognises them by their range's name): still marked, never cut.
	resend map[chunking.Range]bool
}

// engine delivers parts for one vendor.
type engine struct {
	deps   *Deps
	caller caller
}

type nopMetrics struct{}

func (nopMetrics) ObserveCall(string, string, time.Duration) {}
func (nopMetrics) AddNumbers(string, string, int)            {}
func (nopMetrics) ThrottledWait(string, time.Duration)       {}
func (nopMetrics) Problem(string, string)                    {}

// errStopped means the batch was cancelled before the next call: the part's
// remaining numbers are failed with code cancelled.
var errStopped = errors.New("batch cancelled by an operator before this call")

// ProcessTask implements asynq.Handler.
func (e *engine) ProcessTask(ctx context.Context, t *asynq.Task) error {
	started := time.Now()
	var pl queue.PartPayload
	if err := json.Unmarshal(t.Payload(), &pl); err != nil {
		return fmt.Errorf("part payload: %v: %w", err, asynq.SkipRetry)
	}
	d := e.deps
	log := d.Log.WithContext(ctx).WithFields(logrus.Fields{"vendor": e.caller.vendor(), "batch": pl.Batch, "part": pl.Part})
	m, err := d.Lifecycle.Manifest(ctx, pl.Batch)
	switch {
	case errors.Is(err, ledger.ErrNotFound), errors.Is(err, ledger.ErrLegacy):
		// Its keys are gone (expired, evicted, or a Redis that kept nothing): the
		// numbers cannot be sent, and the operator must hear of it.
		log.WithError(err).Error("batch lost: its records are gone from Redis; nothing sent for this part")
		d.Metrics.Problem(e.caller.vendor(), "lost_batch")
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	case errors.Is(err, ledger.ErrCorrupt) && m != nil:
		return e.corrupt(ctx, m, pl.Part, log, err)
	case err != nil:
		return err
	}
	ps, err := d.Lifecycle.Progress(ctx, m.ID, pl.Part)
	if err != nil {
		return err
	}
	if ps.State.Final() || ps.State == ledger.PartUncertain {
		// Redelivered after its outcome was recorded: nothing to do but make sure
		// a finish it caused was announced.
		log.WithField("state", ps.State).Info("part already settled")
		if err := e.scheduleResults(ctx, m, pl.Part); err != nil {
			return err
		}
		return d.Lifecycle.EnsureAnnounced(context.WithoutCancel(ctx), m.ID)
	}
	if ctl, err := d.Lifecycle.Control(ctx, m.ID); err != nil {
		return err
	} else if ctl == ledger.ControlPaused {
		return e.defer_(ctx, t, m, pl.Part, log, &deferred{state: ledger.PartPaused, after: d.Retry.PauseRecheck, why: "batch paused by an operator"})
	}
	c, err := campaign.Parse(m.Vendor, m.Campaign)
	if err != nil {
		return e.corrupt(ctx, m, pl.Part, log, fmt.Errorf("batch campaign no longer decodes: %w", err))
	}
	recs, err := d.Lifecycle.LoadPart(ctx, m, pl.Part)
	if errors.Is(err, ledger.ErrCorrupt) {
		return e.corrupt(ctx, m, pl.Part, log, err)
	}
	if err != nil {
		return err
	}
	p := &partRun{m: m, campaign: c, part: pl.Part, recs: recs, extra: ps.Extra, log: log}
	if cc := c.Compliance(); cc != nil && d.Gate != nil {
		conv, err := compliance.NewConverter(m.Vendor, m.Region)
		if err != nil {
			return e.corrupt(ctx, m, pl.Part, log, fmt.Errorf("compliance: %w", err))
		}
		p.gate = &gateRun{cfg: *cc, conv: conv}
	} else if cc != nil {
		// A campaign with a gate is never delivered by a worker without one: the
		// part waits for a worker that has it.
		return e.defer_(ctx, t, m, pl.Part, log, &deferred{after: time.Minute, why: "campaign has a compliance block and this worker no compliance gate"})
	}

	if err := e.reconcile(ctx, p, ps); err != nil {
		return err
	}
	ps, err = d.Lifecycle.Progress(ctx, m.ID, pl.Part)
	if err != nil {
		return err
	}
	for _, r := range p.calls(ps) {
		if ctx.Err() != nil {
			return ctx.Err() // shutting down: the part resumes from its checkpoint
		}
		if d.Stopping != nil && d.Stopping() {
			// asynq does not cancel a handler when shutdown starts, only when its
			// timeout ends, and then hands the part to another worker at once: stop
			// starting calls now, so that none is in flight by then.
			return e.defer_(ctx, t, m, p.part, log, &deferred{after: time.Second, why: "worker shutting down"})
		}
		if d.RedisUnsafe != nil {
			if err := d.RedisUnsafe(); err != nil {
				// A call recorded on a Redis that may evict its record could be lost
				// or repeated: wait for an operator to fix the setting.
				return e.defer_(ctx, t, m, p.part, log, &deferred{after: redisUnsafeRecheck, why: "redis unsafe: " + err.Error()})
			}
		}
		err := e.deliverRange(ctx, p, r)
		if errors.Is(err, errStopped) {
			n, err := d.Lifecycle.FailRemaining(context.WithoutCancel(ctx), m, p.part, recs, "cancelled",
				"batch cancelled by an operator before this call")
			if err != nil {
				return err
			}
			d.Metrics.AddNumbers(e.caller.vendor(), "cancelled", n)
			break
		}
		if err != nil {
			return e.retryable(ctx, t, p, err)
		}
	}
	return e.settle(ctx, p, t, started)
}

// corrupt fails every number of a part whose records or campaign fail their check:
// nothing of it is sent, the batch's other parts go on.
func (e *engine) corrupt(ctx context.Context, m *ledger.Manifest, part int, log *logrus.Entry, cause error) error {
	ctx = context.WithoutCancel(ctx)
	if ps, err := e.deps.Lifecycle.Progress(ctx, m.ID, part); err != nil {
		return err
	} else if ps.State.Final() {
		return nil
	}
	log.WithError(cause).Error("part record corrupt: never sent, its numbers are failed (corrupt)")
	e.deps.Metrics.Problem(e.caller.vendor(), "corrupt")
	n, err := e.deps.Lifecycle.Exhaust(ctx, m, part, nil, "corrupt", cause.Error())
	if err != nil {
		return err
	}
	e.deps.Metrics.AddNumbers(e.caller.vendor(), string(ledger.OutcomeFailed), n)
	return fmt.Errorf("%v: %w", cause, asynq.SkipRetry)
}

// reconcile settles calls a dead worker left in flight: sent again where the vendor
// recognises repeats, parked as uncertain where it cannot tell.
func (e *engine) reconcile(ctx context.Context, p *partRun, ps *ledger.PartProgress) error {
	for _, r := range ps.Inflight {
		if _, done := ps.Done[r]; done {
			continue
		}
		if e.caller.resendSafe(p, r) {
			// The mark stays until the resend is marked again: an attempt that
			// has to wait leaves the range's shape for the next one.
			p.log.WithField("range", fmt.Sprintf("%d-%d", r.Lo, r.Hi)).Info("call left in flight: sending again, the vendor recognises repeats")
			if p.resend == nil {
				p.resend = map[chunking.Range]bool{}
			}
			p.resend[r] = true
			continue
		}
		p.log.WithField("range", fmt.Sprintf("%d-%d", r.Lo, r.Hi)).Warn("call left in flight and the vendor cannot tell if it arrived: parked as uncertain")
		if err := e.recordAll(ctx, p, r, ledger.OutcomeUncertain, "inflight",
			"the worker stopped during this call; the vendor cannot say whether it arrived"); err != nil {
			return err
		}
	}
	return nil
}

// deliverRange sends one call and records its outcome. It returns an error only
// when the range is left unrecorded and the part should be tried again later.
func (e *engine) deliverRange(ctx context.Context, p *partRun, r chunking.Range) error {
	if p.permanent != nil {
		// Credentials or the campaign are refused: no call of this part can pass.
		return e.recordAll(ctx, p, r, ledger.OutcomeFailed, errCode(p.permanent), errReason(p.permanent))
	}
	res, cur, err := e.sendWithRetry(ctx, p, r)
	if err == nil {
		if err := e.recordSent(ctx, p, cur, res); err != nil || cur == r {
			return err
		}
		// Cut to fit a quota: the rest is a call of its own, which waits.
		return e.deliverRange(ctx, p, chunking.Range{Lo: cur.Hi, Hi: r.Hi})
	}
	if errors.Is(err, errStopped) || errors.Is(err, &deferred{}) {
		return err
	}
	var nw *neverWhole
	if errors.As(err, &nw) {
		p.log.WithField("range", fmt.Sprintf("%d-%d", r.Lo, r.Hi)).Warn("a call to resend is larger than a quota allows: parked as uncertain")
		return e.recordAll(ctx, p, r, ledger.OutcomeUncertain, "quota", nw.Error())
	}
	switch vendors.ClassOf(err) {
	case vendors.InvalidPart:
		if r.Len() == 1 {
			return e.recordAll(ctx, p, r, ledger.OutcomeFailed, errCode(err), errReason(err))
		}
		// One bad record must not fail the rest: split and try each half. Each
		// half's call checks the batch's controls again before it starts.
		lo, hi := r.Halves()
		p.log.WithField("range", fmt.Sprintf("%d-%d", r.Lo, r.Hi)).Info("parameter error over the call: bisecting")
		if err := e.deliverRange(ctx, p, lo); err != nil {
			return err
		}
		return e.deliverRange(ctx, p, hi)
	case vendors.Permanent, vendors.AuthRefused:
		// AuthRefused reaches here only once its fresh-signature attempts ran out.
		p.permanent = err
		p.log.WithError(err).Error("vendor refused the call for good")
		return e.recordAll(ctx, p, r, ledger.OutcomeFailed, errCode(err), errReason(err))
	case vendors.Ambiguous:
		if e.caller.resendSafe(p, cur) {
			// Out of in-handler retries: the part goes back to the queue with the
			// call still marked in flight, and the next attempt sends it again.
			return err
		}
		p.log.WithError(err).Warn("no answer to a call the vendor may have processed: parked as uncertain")
		if err := e.recordAll(ctx, p, cur, ledger.OutcomeUncertain, "no-answer", errReason(err)); err != nil || cur == r {
			return err
		}
		// Only the prefix a quota left went out: the rest is a call of its own.
		return e.deliverRange(ctx, p, chunking.Range{Lo: cur.Hi, Hi: r.Hi})
	case vendors.Transient:
		// The same refusal again and again (a vendor that answers a create it holds
		// already with a code we do not know as "duplicate") must not loop for
		// weeks: past RepeatCap the call's numbers wait for an operator.
		n, nerr := e.deps.Lifecycle.NoteRepeat(context.WithoutCancel(ctx), p.m.ID, p.part, r, errCode(err)+" "+errReason(err))
		if nerr == nil && n >= e.deps.Retry.RepeatCap {
			p.log.WithError(err).WithField("attempts", n).Warn("call refused the same way again and again: parked as uncertain")
			return e.recordAll(ctx, p, r, ledger.OutcomeUncertain, errCode(err),
				fmt.Sprintf("refused the same way %d times, may have arrived: %s", n, errReason(err)))
		}
	}
	// Transient or throttled beyond the in-handler budget: nothing was processed,
	// and sendWithRetry has cleared the in-flight mark.
	return err
}
