package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dialq/dialq/compliance"
	"github.com/dialq/dialq/compliance/window"

	"github.com/cenkalti/backoff/v4"
	"github.com/hibiken/asynq"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/batch"
	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/internal/tracing"
	"github.com/dialq/dialq/ratelimit"
	"github.com/dialq/dialq/tasks"
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
	// are failed and the part settles. Zero means tasks.PartMaxFailures.
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
	m        *batch.Manifest
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

// gateRun is what the compliance gate needs for a part.
type gateRun struct {
	cfg  campaign.Compliance
	conv *compliance.Converter
}

// nameID is the batch's id in vendor-side names: a hash of the whole batch id, so
// that ids sharing a prefix (campaign2026-jan-…, campaign2026-feb-…) never share a
// name, and short enough for every vendor's name limit.
func (p *partRun) nameID() string { return NameID(p.m.ID) }

// NameID is the 12-hex-digit (48-bit) hash of batch id used in vendor-side names.
func NameID(batchID string) string {
	h := sha256.Sum256([]byte("dialq-name\x00" + batchID))
	return hex.EncodeToString(h[:6])
}

// rangeSuffix names a call inside a part when it is not the whole part (a bisected
// half, or a call of a multi-call part).
func (p *partRun) rangeSuffix(r chunking.Range) string {
	if r.Lo == 0 && r.Hi == len(p.recs) {
		return ""
	}
	return fmt.Sprintf("_%d_%d", r.Lo, r.Hi)
}

// numberID is the deterministic per-number id sent to every vendor (NXCloud
// orderID, Yccall customuuid, speech externalCustomerId): a resubmission carries
// the same ids, so the vendor or an operator can recognise it.
func numberID(batchID, phone string) string {
	h := sha256.Sum256([]byte(batchID + "\x00" + phone))
	return hex.EncodeToString(h[:16])
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

// PartResult is what a part's task writes as its result (the dashboard shows it).
type PartResult struct {
	Batch      string     `json:"batch"`
	Part       int        `json:"part"`
	Vendor     string     `json:"vendor"`
	State      string     `json:"state"`
	Delivered  int        `json:"delivered"`
	Refused    int        `json:"refused"`
	Failed     int        `json:"failed"`
	Uncertain  int        `json:"uncertain"`
	Tasks      []string   `json:"vendor_tasks,omitempty"`
	ResumeAt   *time.Time `json:"resume_at,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	DurationMS int64      `json:"duration_ms"`
}

// deferred sends a part back to the queue until a time, without counting a
// failure: the fleet rate limit, a vendor's long Retry-After, an operator's pause,
// a closed calling window, a worker shutting down.
type deferred struct {
	// state is what the part shows meanwhile; "" leaves it as it is.
	state batch.PartState
	after time.Duration
	why   string
	// vendorThrottle counts against Retry.ThrottleCap (the vendor said 429).
	vendorThrottle bool
	// at, when set, is the exact time to resume (a window's opening).
	at time.Time
}

func (d *deferred) Error() string {
	return fmt.Sprintf("%s for %s: %s", d.state, d.after.Round(time.Millisecond), d.why)
}
func (d *deferred) Class() vendors.Class      { return vendors.Throttled }
func (d *deferred) RetryAfter() time.Duration { return d.after }
func (d *deferred) Is(target error) bool      { _, ok := target.(*deferred); return ok }
func (d *deferred) resumeAt(now time.Time) time.Time {
	if !d.at.IsZero() {
		return d.at
	}
	return now.Add(d.after)
}

// errStopped means the batch was cancelled before the next call: the part's
// remaining numbers are failed with code cancelled.
var errStopped = errors.New("batch cancelled by an operator before this call")

// ProcessTask implements asynq.Handler.
func (e *engine) ProcessTask(ctx context.Context, t *asynq.Task) error {
	started := time.Now()
	var pl tasks.PartPayload
	if err := json.Unmarshal(t.Payload(), &pl); err != nil {
		return fmt.Errorf("part payload: %v: %w", err, asynq.SkipRetry)
	}
	d := e.deps
	log := d.Log.WithContext(ctx).WithFields(logrus.Fields{"vendor": e.caller.vendor(), "batch": pl.Batch, "part": pl.Part})
	m, err := d.Store.Manifest(ctx, pl.Batch)
	switch {
	case errors.Is(err, batch.ErrNotFound), errors.Is(err, batch.ErrLegacy):
		// Its keys are gone (expired, evicted, or a Redis that kept nothing): the
		// numbers cannot be sent, and the operator must hear of it.
		log.WithError(err).Error("batch lost: its records are gone from Redis; nothing sent for this part")
		d.Metrics.Problem(e.caller.vendor(), "lost_batch")
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	case errors.Is(err, batch.ErrCorrupt) && m != nil:
		return e.corrupt(ctx, m, pl.Part, log, err)
	case err != nil:
		return err
	}
	ps, err := d.Store.Progress(ctx, m.ID, pl.Part)
	if err != nil {
		return err
	}
	if ps.State.Final() || ps.State == batch.PartUncertain {
		// Redelivered after its outcome was recorded: nothing to do but make sure
		// a finish it caused was announced.
		log.WithField("state", ps.State).Info("part already settled")
		if err := e.scheduleResults(ctx, m, pl.Part); err != nil {
			return err
		}
		return d.Lifecycle.EnsureAnnounced(context.WithoutCancel(ctx), m.ID)
	}
	if ctl, err := d.Store.Control(ctx, m.ID); err != nil {
		return err
	} else if ctl == batch.ControlPaused {
		return e.defer_(ctx, t, m, pl.Part, log, &deferred{state: batch.PartPaused, after: d.Retry.PauseRecheck, why: "batch paused by an operator"})
	}
	c, err := campaign.Parse(m.Vendor, m.Campaign)
	if err != nil {
		return e.corrupt(ctx, m, pl.Part, log, fmt.Errorf("batch campaign no longer decodes: %w", err))
	}
	recs, err := d.Store.LoadPart(ctx, m, pl.Part)
	if errors.Is(err, batch.ErrCorrupt) {
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
	ps, err = d.Store.Progress(ctx, m.ID, pl.Part)
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
func (e *engine) corrupt(ctx context.Context, m *batch.Manifest, part int, log *logrus.Entry, cause error) error {
	ctx = context.WithoutCancel(ctx)
	if ps, err := e.deps.Store.Progress(ctx, m.ID, part); err != nil {
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
	e.deps.Metrics.AddNumbers(e.caller.vendor(), batch.OutcomeFailed, n)
	return fmt.Errorf("%v: %w", cause, asynq.SkipRetry)
}

// reconcile settles calls a dead worker left in flight: sent again where the vendor
// recognises repeats, parked as uncertain where it cannot tell.
func (e *engine) reconcile(ctx context.Context, p *partRun, ps *batch.PartProgress) error {
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
		if err := e.recordAll(ctx, p, r, batch.OutcomeUncertain, "inflight",
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
		return e.recordAll(ctx, p, r, batch.OutcomeFailed, errCode(p.permanent), errReason(p.permanent))
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
		return e.recordAll(ctx, p, r, batch.OutcomeUncertain, "quota", nw.Error())
	}
	switch vendors.ClassOf(err) {
	case vendors.InvalidPart:
		if r.Len() == 1 {
			return e.recordAll(ctx, p, r, batch.OutcomeFailed, errCode(err), errReason(err))
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
		return e.recordAll(ctx, p, r, batch.OutcomeFailed, errCode(err), errReason(err))
	case vendors.Ambiguous:
		if e.caller.resendSafe(p, cur) {
			// Out of in-handler retries: the part goes back to the queue with the
			// call still marked in flight, and the next attempt sends it again.
			return err
		}
		p.log.WithError(err).Warn("no answer to a call the vendor may have processed: parked as uncertain")
		if err := e.recordAll(ctx, p, cur, batch.OutcomeUncertain, "no-answer", errReason(err)); err != nil || cur == r {
			return err
		}
		// Only the prefix a quota left went out: the rest is a call of its own.
		return e.deliverRange(ctx, p, chunking.Range{Lo: cur.Hi, Hi: r.Hi})
	case vendors.Transient:
		// The same refusal again and again (a vendor that answers a create it holds
		// already with a code we do not know as "duplicate") must not loop for
		// weeks: past RepeatCap the call's numbers wait for an operator.
		n, nerr := e.deps.Store.NoteRepeat(context.WithoutCancel(ctx), p.m.ID, p.part, r, errCode(err)+" "+errReason(err))
		if nerr == nil && n >= e.deps.Retry.RepeatCap {
			p.log.WithError(err).WithField("attempts", n).Warn("call refused the same way again and again: parked as uncertain")
			return e.recordAll(ctx, p, r, batch.OutcomeUncertain, errCode(err),
				fmt.Sprintf("refused the same way %d times, may have arrived: %s", n, errReason(err)))
		}
	}
	// Transient or throttled beyond the in-handler budget: nothing was processed,
	// and sendWithRetry has cleared the in-flight mark.
	return err
}

// sendWithRetry makes one call, retrying what is safe to retry with backoff. Each
// attempt waits for the fleet rate limit, checks the batch's controls with its
// in-flight mark, and is signed afresh by the client.
func (e *engine) sendWithRetry(ctx context.Context, p *partRun, r chunking.Range) (*sent, chunking.Range, error) {
	d := e.deps
	vendor := e.caller.vendor()
	recs := p.recs[r.Lo:r.Hi]
	// cur is the call as sent: r, or its prefix when a quota cut it. Once a call
	// may have reached the vendor, its retries keep its shape (resend).
	cur, fixed := r, p.resend[r]
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = d.Retry.Initial, d.Retry.Max, d.Retry.Elapsed
	// No jitter: it would stretch a step past Max (the fleet rate limit spreads
	// the workers already).
	b.RandomizationFactor = 0
	var res *sent
	authRefusals, attempt := 0, 0
	op := func() error {
		attempt++
		waited, err := d.Limiter.Wait(ctx, vendor, d.Retry.MaxInlineWait)
		var busy *ratelimit.Busy
		if errors.As(err, &busy) {
			return backoff.Permanent(&deferred{state: batch.PartThrottled, after: busy.RetryAfter, why: busy.Error()})
		}
		if err != nil {
			return backoff.Permanent(err)
		}
		if waited > 0 {
			d.Metrics.ThrottledWait(vendor, waited)
		}
		// A call in progress finishes even when shutdown starts: abandoning it
		// would leave its outcome unknown. The client's timeout still bounds it.
		callCtx := context.WithoutCancel(ctx)
		if _, err := e.dailyLeft(callCtx, p); err != nil {
			return backoff.Permanent(err) // the day is used up: waiting for the next
		}
		// The compliance gate, right before the call: a number added to a list
		// after enqueue is not sent, the contact cap is taken, and outside the
		// calling window the part waits for its opening.
		call, decision, err := e.gate(callCtx, p, r, recs)
		if err != nil {
			return backoff.Permanent(err)
		}
		releaseCaps := func() {
			if len(decision.Caps) > 0 {
				_ = d.Gate.Release(callCtx, p.m.ID, decision.Caps, d.Store.Now())
			}
		}
		if fixed {
			// The dead attempt's mark goes just before this attempt's own.
			if err := d.Store.ClearInflight(callCtx, p.m.ID, p.part, r); err != nil {
				releaseCaps()
				return backoff.Permanent(err)
			}
		}
		// Marked in flight just before the request, after the rate-limit wait,
		// with the quotas taken (quota.go): the mark is where an operator's
		// cancel or pause stops the call, and a worker dying before it has sent
		// nothing.
		h, err := e.holdAndMark(callCtx, p, r, &call, &decision, fixed)
		if err != nil {
			releaseCaps() // nothing goes out
			if fixed && !errors.Is(err, batch.ErrCancelled) {
				// The dead attempt's call may have gone through: its mark
				// comes back, so the next attempt resends it whole.
				if kerr := d.Store.KeepInflight(callCtx, p.m.ID, p.part, r); kerr != nil {
					return backoff.Permanent(kerr)
				}
			}
		} else {
			cur = h.r
		}
		release := func() { releaseCaps(); h.giveBack(callCtx, e, p) }
		switch {
		case errors.Is(err, batch.ErrCancelled):
			return backoff.Permanent(errStopped)
		case errors.Is(err, batch.ErrPaused):
			return backoff.Permanent(&deferred{state: batch.PartPaused, after: d.Retry.PauseRecheck, why: "batch paused by an operator"})
		case errors.Is(err, batch.ErrInflight):
			return backoff.Permanent(&deferred{after: 5 * time.Second, why: "another attempt of this part is calling the vendor"})
		case err != nil:
			return backoff.Permanent(err)
		}
		start := time.Now()
		if len(call.recs) == 0 {
			// The gate kept every number out: no call.
			res = &sent{}
		} else {
			sendCtx, span := tracing.Start(callCtx, "vendor.call")
			res, err = e.caller.send(sendCtx, p, cur, call.recs)
			endCallSpan(span, vendor, p, len(call.recs), attempt, err)
			if err == nil || vendors.ClassOf(err) == vendors.Ambiguous {
				h.finish(callCtx, e)
			}
		}
		if res != nil {
			res.suppressed = call.suppressed
			call.remap(res)
		}
		class := vendors.ClassOf(err)
		outcome := "ok"
		if err != nil {
			outcome = class.String()
			if class != vendors.Ambiguous {
				// The vendor answered with a refusal: nothing was processed. A
				// resend refused before acting keeps the dead attempt's mark
				// (that call may have gone through) while it is tried again.
				release()
				keep := fixed && cur == r && (class == vendors.Transient || class == vendors.Throttled || class == vendors.AuthRefused)
				if !keep {
					if cerr := d.Store.ClearInflight(callCtx, p.m.ID, p.part, cur); cerr != nil {
						return backoff.Permanent(cerr)
					}
				}
			}
			p.log.WithError(err).WithField("class", outcome).Debug("vendor call failed")
		}
		d.Metrics.ObserveCall(vendor, outcome, time.Since(start))
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return backoff.Permanent(err)
		case class == vendors.Transient:
			return err
		case class == vendors.AuthRefused:
			// Clock skew, a rotated key or an expired token: the next attempt is
			// signed afresh (Yccall logs in again). Only a refusal that persists
			// fails the part.
			authRefusals++
			if authRefusals < d.Retry.AuthAttempts {
				p.log.WithError(err).Warn("vendor refused the signature or credentials: retrying freshly signed")
				return err
			}
			return backoff.Permanent(err)
		case class == vendors.Ambiguous && e.caller.resendSafe(p, cur):
			// Resent in this attempt: same range, same name. The mark stays
			// and the next try replaces it.
			if p.resend == nil {
				p.resend = map[chunking.Range]bool{}
			}
			p.resend[cur] = true
			return err
		case class == vendors.Throttled:
			wait := vendors.RetryAfter(err)
			if wait > d.Retry.MaxInlineWait {
				return backoff.Permanent(&deferred{state: batch.PartThrottled, after: wait, vendorThrottle: true,
					why: "vendor asked to wait (Retry-After): " + errReason(err)})
			}
			d.Metrics.ThrottledWait(vendor, wait)
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return backoff.Permanent(err)
			}
			return err
		}
		return backoff.Permanent(err)
	}
	err := backoff.Retry(op, backoff.WithContext(b, ctx))
	return res, cur, err
}

func (e *engine) recordSent(ctx context.Context, p *partRun, r chunking.Range, res *sent) error {
	if len(res.unmatched) > 0 {
		// The vendor refused numbers we cannot find in the call: which of the call's
		// numbers it took is not known, so none is counted as delivered.
		e.deps.Metrics.Problem(e.caller.vendor(), "unmatched_refusal")
		p.log.WithFields(logrus.Fields{"range": fmt.Sprintf("%d-%d", r.Lo, r.Hi), "unmatched": maskAll(res.unmatched)}).
			Error("vendor refused numbers that match no record of the call: the call's numbers are parked as uncertain")
		return e.recordAll(ctx, p, r, batch.OutcomeUncertain, "unmatched-refusal",
			fmt.Sprintf("the vendor refused %d numbers that match none of this call's records: %s", len(res.unmatched), res.refusedReason()))
	}
	out := batch.RangeResult{Range: r, Extra: res.extra}
	if res.taskRef != "" {
		if out.Extra == nil {
			out.Extra = map[string]string{}
		}
		out.Extra[batch.TaskField(r)] = res.taskRef
	}
	seen := map[int]bool{}
	for _, rf := range res.refused {
		if rf.idx < 0 || rf.idx >= r.Len() || seen[rf.idx] {
			continue
		}
		seen[rf.idx] = true
		rec := p.recs[r.Lo+rf.idx]
		out.Outcomes = append(out.Outcomes, batch.Outcome{Index: r.Lo + rf.idx, Line: rec.Line, Phone: rec.Phone,
			State: batch.OutcomeRefused, Code: rf.code, Reason: rf.reason})
	}
	for idx, verdict := range res.suppressed {
		rec := p.recs[r.Lo+idx]
		out.Outcomes = append(out.Outcomes, batch.Outcome{Index: r.Lo + idx, Line: rec.Line, Phone: rec.Phone,
			State: batch.OutcomeSuppressed, Code: verdict, Reason: "stopped by the compliance gate right before the call"})
	}
	out.Delivered = r.Len() - len(out.Outcomes)
	if res.reconciled {
		p.log.WithField("range", fmt.Sprintf("%d-%d", r.Lo, r.Hi)).Info("vendor shows an earlier attempt went through: counted as delivered")
	}
	if err := e.record(ctx, p, out); err != nil {
		return err
	}
	for k, v := range out.Extra {
		p.extra[k] = v
	}
	return nil
}

func (s *sent) refusedReason() string {
	for _, rf := range s.refused {
		if rf.reason != "" {
			return rf.reason
		}
	}
	return "no reason given"
}

// recordAll records every record of r with one outcome.
func (e *engine) recordAll(ctx context.Context, p *partRun, r chunking.Range, state, code, reason string) error {
	out := batch.RangeResult{Range: r}
	for i := r.Lo; i < r.Hi; i++ {
		out.Outcomes = append(out.Outcomes, batch.Outcome{Index: i, Line: p.recs[i].Line, Phone: p.recs[i].Phone,
			State: state, Code: code, Reason: reason})
	}
	if state == batch.OutcomeUncertain {
		out.Extra = e.uncertainName(p, r)
	}
	return e.record(ctx, p, out)
}

func (e *engine) record(ctx context.Context, p *partRun, out batch.RangeResult) error {
	// Recording must not be lost to a shutdown that starts after the call returned.
	ctx = context.WithoutCancel(ctx)
	added, err := e.deps.Store.RecordRange(ctx, p.m.ID, p.part, out)
	if err != nil || !added {
		return err
	}
	counts := map[string]int{batch.OutcomeDelivered: out.Delivered}
	for _, o := range out.Outcomes {
		counts[o.State]++
	}
	for state, n := range counts {
		e.deps.Metrics.AddNumbers(e.caller.vendor(), state, n)
	}
	return nil
}

// retryable turns an error that leaves the part unfinished into what asynq acts on:
// a deferral (re-scheduled, not a failure), vendor throttling (not a failure, but
// capped) or a plain retry.
func (e *engine) retryable(ctx context.Context, t *asynq.Task, p *partRun, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	ctx = context.WithoutCancel(ctx)
	var df *deferred
	if errors.As(err, &df) {
		if df.vendorThrottle {
			if n, nerr := e.deps.Store.NoteThrottle(ctx, p.m.ID, p.part); nerr == nil && n > e.deps.Retry.ThrottleCap {
				return e.giveUp(ctx, t, p, fmt.Errorf("throttled %d times: %w", n, err))
			}
		}
		return e.defer_(ctx, t, p.m, p.part, p.log, df)
	}
	_ = e.deps.Store.NoteError(ctx, p.m.ID, p.part, errReason(err))
	if vendors.ClassOf(err) == vendors.Throttled {
		if n, nerr := e.deps.Store.NoteThrottle(ctx, p.m.ID, p.part); nerr == nil && n > e.deps.Retry.ThrottleCap {
			return e.giveUp(ctx, t, p, fmt.Errorf("throttled %d times: %w", n, err))
		}
		return err
	}
	n, nerr := e.deps.Store.NoteFailure(ctx, p.m.ID, p.part)
	if nerr != nil {
		return err
	}
	if n >= e.deps.Retry.MaxFailures {
		return e.giveUp(ctx, t, p, fmt.Errorf("%d failed attempts, the last: %w", n, err))
	}
	return e.retrying(ctx, t, p, n, err)
}

// giveUp settles a part whose failure budget ran out: every number not yet recorded
// is failed with the last error, so the batch's account stays whole and the batch
// can finish; `enqueue retry` runs it again.
func (e *engine) giveUp(ctx context.Context, t *asynq.Task, p *partRun, cause error) error {
	n, err := e.deps.Lifecycle.Exhaust(ctx, p.m, p.part, p.recs, vendors.ClassOf(cause).String(), "gave up: "+errReason(cause))
	if err != nil {
		return err
	}
	e.deps.Metrics.AddNumbers(e.caller.vendor(), batch.OutcomeFailed, n)
	p.log.WithError(cause).Error("part gave up; its remaining numbers are failed (enqueue retry runs it again)")
	writeResult(t, PartResult{Batch: p.m.ID, Part: p.part, Vendor: p.m.Vendor, State: string(batch.PartFailed), Reason: errReason(cause)})
	return fmt.Errorf("%v: %w", cause, asynq.SkipRetry)
}

// defer_ records why and until when the part waits, and hands it back to asynq,
// which re-schedules it after df.after (RetryDelay) without counting a failure.
func (e *engine) defer_(ctx context.Context, t *asynq.Task, m *batch.Manifest, part int, log *logrus.Entry, df *deferred) error {
	at := df.resumeAt(e.deps.Store.Now())
	if df.state != "" {
		if err := e.deps.Lifecycle.Wait(context.WithoutCancel(ctx), m.ID, part, df.state, at, df.why); err != nil {
			if errors.Is(err, batch.ErrPartFinal) {
				return nil // settled by another attempt meanwhile
			}
			return err
		}
		writeResult(t, PartResult{Batch: m.ID, Part: part, Vendor: m.Vendor, State: string(df.state), ResumeAt: &at, Reason: df.why})
	}
	log.WithFields(logrus.Fields{"state": df.state, "resume_at": at.Format(time.RFC3339)}).Info("part re-scheduled: " + df.why)
	return df
}

// settle sets the part's final state and writes its result; the lifecycle
// announces the batch if this part finished it.
func (e *engine) settle(ctx context.Context, p *partRun, t *asynq.Task, started time.Time) error {
	d := e.deps
	ctx = context.WithoutCancel(ctx)
	// Scheduled before the settle: a part found settled schedules again, so a
	// worker dying in between loses nothing (the poll's task id makes one).
	if err := e.scheduleResults(ctx, p.m, p.part); err != nil {
		return err
	}
	state, err := d.Lifecycle.Settle(ctx, p.m, p.part, p.permanent != nil)
	if err != nil {
		return err
	}
	ps, err := d.Store.Progress(ctx, p.m.ID, p.part)
	if err != nil {
		return err
	}
	res := PartResult{Batch: p.m.ID, Part: p.part, Vendor: p.m.Vendor, State: string(state), DurationMS: time.Since(started).Milliseconds()}
	res.Tasks = batch.TaskRefs(ps.Extra)
	for r := range ps.Done {
		sm := ps.Done[r]
		res.Delivered += sm.Delivered
		res.Refused += sm.Refused
		res.Failed += sm.Failed
		res.Uncertain += sm.Uncertain
	}
	writeResult(t, res)
	p.log.WithFields(logrus.Fields{"state": state, "delivered": res.Delivered, "refused": res.Refused,
		"failed": res.Failed, "uncertain": res.Uncertain}).Info("part settled")
	if p.permanent != nil {
		return fmt.Errorf("%s: %w", errReason(p.permanent), asynq.SkipRetry)
	}
	return nil
}

func writeResult(t *asynq.Task, v any) {
	if w := t.ResultWriter(); w != nil {
		if b, err := json.Marshal(v); err == nil {
			_, _ = w.Write(b)
		}
	}
}

// errCode is the vendor's code in err, when it has one.
func errCode(err error) string {
	var c interface{ VendorCode() string }
	if errors.As(err, &c) {
		return c.VendorCode()
	}
	return vendors.ClassOf(err).String()
}

// errReason is err's message: the vendor clients keep secrets and numbers out of it.
func errReason(err error) string { return err.Error() }

// gateCall is one call after the compliance gate: the records that go out, and the
// range indexes of those and of the ones kept out.
type gateCall struct {
	recs []chunking.Record
	// keep maps an index in recs to its index in the call's range; nil when every
	// record goes out.
	keep       []int
	suppressed map[int]string
}

// remap turns the refusals' indexes into the call's range.
func (c *gateCall) remap(res *sent) {
	if c.keep == nil {
		return
	}
	for i := range res.refused {
		if j := res.refused[i].idx; j >= 0 && j < len(c.keep) {
			res.refused[i].idx = c.keep[j]
		}
	}
}

// errWindowNeverOpens is a calling window that never opens for a part's numbers.
type errWindowNeverOpens struct{ error }

func (errWindowNeverOpens) Class() vendors.Class { return vendors.Permanent }
func (errWindowNeverOpens) VendorCode() string   { return "window" }

// gate asks the compliance gate about the call over r: which records go out, and
// whether the calling window is open. Without a gate every record goes out.
func (e *engine) gate(ctx context.Context, p *partRun, r chunking.Range, recs []chunking.Record) (gateCall, compliance.Decision, error) {
	if p.gate == nil {
		return gateCall{recs: recs}, compliance.Decision{}, nil
	}
	phones := make([]string, len(recs))
	for i, rec := range recs {
		n, err := p.gate.conv.E164(rec.Phone)
		if err != nil {
			return gateCall{}, compliance.Decision{}, fmt.Errorf("compliance: record %d: %w", r.Lo+i, err)
		}
		phones[i] = n
	}
	now := e.deps.Store.Now()
	dec, err := e.deps.Gate.BeforeCall(ctx, p.m.ID, p.gate.cfg, phones, now)
	if errors.Is(err, window.ErrNeverOpens) {
		return gateCall{}, dec, errWindowNeverOpens{err}
	}
	if err != nil {
		return gateCall{}, dec, err
	}
	if !dec.WindowOpensAt.IsZero() {
		return gateCall{}, dec, &deferred{state: batch.PartWaiting, after: dec.WindowOpensAt.Sub(now), at: dec.WindowOpensAt,
			why: "outside the campaign's calling window; it opens " + dec.WindowOpensAt.UTC().Format(time.RFC3339)}
	}
	call := gateCall{recs: recs}
	for i := range recs {
		if dec.Send(i) {
			continue
		}
		if call.suppressed == nil {
			call.suppressed = map[int]string{}
		}
		call.suppressed[i] = dec.Verdicts[i]
	}
	if len(call.suppressed) > 0 {
		call.recs, call.keep = make([]chunking.Record, 0, len(recs)-len(call.suppressed)), []int{}
		for i, rec := range recs {
			if _, out := call.suppressed[i]; !out {
				call.recs = append(call.recs, rec)
				call.keep = append(call.keep, i)
			}
		}
	}
	return call, dec, nil
}
