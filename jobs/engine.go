package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/hibiken/asynq"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/batch"
	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/vendors"
)

// Metrics is what the handlers report; monitor.Metrics implements it.
type Metrics interface {
	ObserveCall(vendor, outcome string, d time.Duration)
	AddNumbers(vendor, state string, n int)
	ThrottledWait(vendor string, d time.Duration)
}

// RateLimiter spaces vendor calls across the whole fleet.
type RateLimiter interface {
	// Wait blocks until one more call to vendor is allowed and returns how long it waited.
	Wait(ctx context.Context, vendor string) (time.Duration, error)
}

// Retry bounds for the in-handler retries of transient failures: well inside the
// task timeout and asynq's lease, so a part that keeps failing goes back to the
// queue (and its retry delay) instead of holding a worker.
type Retry struct {
	Initial, Max, Elapsed time.Duration
	// MaxInlineWait is the longest Retry-After waited in the handler; longer ones
	// go back to asynq, which honours them through RetryDelayFunc.
	MaxInlineWait time.Duration
	// ThrottleCap bounds how often a part may be throttled back to the queue
	// without counting as a failure.
	ThrottleCap int
}

// DefaultRetry is used when Deps.Retry is zero.
var DefaultRetry = Retry{Initial: 200 * time.Millisecond, Max: 5 * time.Second, Elapsed: 20 * time.Second,
	MaxInlineWait: 5 * time.Second, ThrottleCap: 100}

// refusal is a number the vendor refused inside an accepted call.
type refusal struct {
	idx          int // index within the call's records
	code, reason string
}

// sent is the result of one accepted vendor call.
type sent struct {
	refused []refusal
	// taskRef names the vendor task the call made or filled, for controls.
	taskRef string
	// extra is vendor state to checkpoint with the call (speech task id).
	extra map[string]string
	// reconciled means the vendor told us an earlier attempt of this call went
	// through (FlashAI 101007, a speech duplicate task name).
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
}

// shortID is the batch id's hash, used in vendor-side names to keep them unique
// across batches and short.
func (p *partRun) shortID() string {
	id := p.m.ID
	if i := strings.LastIndexByte(id, '-'); i >= 0 && len(id)-i > 8 {
		id = id[i+1:]
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
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

// PartResult is what a part's task writes as its result (the dashboard shows it).
type PartResult struct {
	Batch      string   `json:"batch"`
	Part       int      `json:"part"`
	Vendor     string   `json:"vendor"`
	State      string   `json:"state"`
	Delivered  int      `json:"delivered"`
	Refused    int      `json:"refused"`
	Failed     int      `json:"failed"`
	Uncertain  int      `json:"uncertain"`
	Tasks      []string `json:"vendor_tasks,omitempty"`
	DurationMS int64    `json:"duration_ms"`
}

// ProcessTask implements asynq.Handler.
func (e *engine) ProcessTask(ctx context.Context, t *asynq.Task) error {
	started := time.Now()
	var pl PartPayload
	if err := json.Unmarshal(t.Payload(), &pl); err != nil {
		return fmt.Errorf("part payload: %v: %w", err, asynq.SkipRetry)
	}
	d := e.deps
	log := d.Log.WithFields(logrus.Fields{"vendor": e.caller.vendor(), "batch": pl.Batch, "part": pl.Part})
	m, err := d.Store.Manifest(ctx, pl.Batch)
	if errors.Is(err, batch.ErrNotFound) {
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	ps, err := d.Store.PartState(ctx, m.ID, pl.Part)
	if err != nil {
		return err
	}
	switch ps.State {
	case batch.PartDone, batch.PartFailed, batch.PartCancelled, batch.PartUncertain:
		// Redelivered after its outcome was recorded: nothing to do.
		log.WithField("state", ps.State).Info("part already settled")
		return nil
	}
	c, err := campaign.Parse(m.Vendor, m.Campaign)
	if err != nil {
		return fmt.Errorf("batch campaign: %v: %w", err, asynq.SkipRetry)
	}
	recs, err := d.Store.LoadPart(ctx, m.ID, pl.Part)
	if err != nil {
		return err
	}
	p := &partRun{m: m, campaign: c, part: pl.Part, recs: recs, extra: ps.Extra, log: log}

	if err := e.reconcile(ctx, p, ps); err != nil {
		return err
	}
	ps, err = d.Store.PartState(ctx, m.ID, pl.Part)
	if err != nil {
		return err
	}
	for _, r := range chunking.Calls(chunking.Remaining(len(recs), ps.DoneRanges()), m.Profile.CallSize) {
		if ctx.Err() != nil {
			return ctx.Err() // shutting down: the part resumes from its checkpoint
		}
		if err := e.deliverRange(ctx, p, r); err != nil {
			return e.retryable(ctx, p, err)
		}
	}
	return e.settle(ctx, p, t, started)
}

// reconcile settles calls a dead worker left in flight: sent again where the vendor
// recognises repeats, parked as uncertain where it cannot tell.
func (e *engine) reconcile(ctx context.Context, p *partRun, ps *batch.PartState) error {
	for _, r := range ps.Inflight {
		if _, done := ps.Done[r]; done {
			continue
		}
		if e.caller.resendSafe(p, r) {
			p.log.WithField("range", fmt.Sprintf("%d-%d", r.Lo, r.Hi)).Info("call left in flight: sending again, the vendor recognises repeats")
			if err := e.deps.Store.ClearInflight(ctx, p.m.ID, p.part, r); err != nil {
				return err
			}
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
	d := e.deps
	if cancelled, err := d.Store.Cancelled(ctx, p.m.ID); err != nil {
		return err
	} else if cancelled {
		return e.recordAll(ctx, p, r, batch.OutcomeFailed, "cancelled", "batch cancelled by an operator before this call")
	}
	if p.permanent != nil {
		// Credentials or the campaign are refused: no call of this part can pass.
		return e.recordAll(ctx, p, r, batch.OutcomeFailed, errCode(p.permanent), errReason(p.permanent))
	}
	res, err := e.sendWithRetry(ctx, p, r)
	if err == nil {
		return e.recordSent(ctx, p, r, res)
	}
	switch vendors.ClassOf(err) {
	case vendors.InvalidPart:
		if r.Len() == 1 {
			return e.recordAll(ctx, p, r, batch.OutcomeFailed, errCode(err), errReason(err))
		}
		// One bad record must not fail the rest: split and try each half.
		lo, hi := r.Halves()
		p.log.WithField("range", fmt.Sprintf("%d-%d", r.Lo, r.Hi)).Info("parameter error over the call: bisecting")
		if err := e.deliverRange(ctx, p, lo); err != nil {
			return err
		}
		return e.deliverRange(ctx, p, hi)
	case vendors.Permanent:
		p.permanent = err
		p.log.WithError(err).Error("vendor refused the call for good")
		return e.recordAll(ctx, p, r, batch.OutcomeFailed, errCode(err), errReason(err))
	case vendors.Ambiguous:
		if e.caller.resendSafe(p, r) {
			// Out of in-handler retries: the part goes back to the queue with the
			// call still marked in flight, and the next attempt sends it again.
			return err
		}
		p.log.WithError(err).Warn("no answer to a call the vendor may have processed: parked as uncertain")
		return e.recordAll(ctx, p, r, batch.OutcomeUncertain, "no-answer", errReason(err))
	}
	// Transient or throttled beyond the in-handler budget: nothing was processed,
	// and sendWithRetry has cleared the in-flight mark.
	return err
}

// sendWithRetry makes one call, retrying what is safe to retry with backoff. Each
// attempt waits for the fleet rate limit and is signed afresh by the client.
func (e *engine) sendWithRetry(ctx context.Context, p *partRun, r chunking.Range) (*sent, error) {
	d := e.deps
	vendor := e.caller.vendor()
	recs := p.recs[r.Lo:r.Hi]
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = d.Retry.Initial, d.Retry.Max, d.Retry.Elapsed
	var res *sent
	op := func() error {
		if waited, err := d.Limiter.Wait(ctx, vendor); err != nil {
			return backoff.Permanent(err)
		} else if waited > 0 {
			d.Metrics.ThrottledWait(vendor, waited)
		}
		// A call in progress finishes even when shutdown starts: abandoning it
		// would leave its outcome unknown. The client's timeout still bounds it.
		callCtx := context.WithoutCancel(ctx)
		// Marked in flight just before the request, not while waiting for the rate
		// limit or a backoff: a worker dying then has sent nothing.
		if err := d.Store.MarkInflight(callCtx, p.m.ID, p.part, r); err != nil {
			return backoff.Permanent(err)
		}
		start := time.Now()
		var err error
		res, err = e.caller.send(callCtx, p, r, recs)
		class := vendors.ClassOf(err)
		outcome := "ok"
		if err != nil {
			outcome = class.String()
			if class != vendors.Ambiguous {
				// The vendor answered with a refusal: nothing was processed.
				if cerr := d.Store.ClearInflight(callCtx, p.m.ID, p.part, r); cerr != nil {
					return backoff.Permanent(cerr)
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
		case class == vendors.Ambiguous && e.caller.resendSafe(p, r):
			return err
		case class == vendors.Throttled:
			wait := vendors.RetryAfter(err)
			if wait > d.Retry.MaxInlineWait {
				return backoff.Permanent(err)
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
	return res, err
}

func (e *engine) recordSent(ctx context.Context, p *partRun, r chunking.Range, res *sent) error {
	out := batch.RangeResult{Range: r, Extra: res.extra}
	if res.taskRef != "" {
		if out.Extra == nil {
			out.Extra = map[string]string{}
		}
		out.Extra[fmt.Sprintf("task:%d-%d", r.Lo, r.Hi)] = res.taskRef
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
	out.Delivered = r.Len() - len(out.Outcomes)
	if res.reconciled {
		p.log.WithField("range", fmt.Sprintf("%d-%d", r.Lo, r.Hi)).Info("vendor confirms an earlier attempt went through: counted as delivered")
	}
	if err := e.record(ctx, p, out); err != nil {
		return err
	}
	for k, v := range out.Extra {
		p.extra[k] = v
	}
	return nil
}

// recordAll records every record of r with one outcome.
func (e *engine) recordAll(ctx context.Context, p *partRun, r chunking.Range, state, code, reason string) error {
	out := batch.RangeResult{Range: r}
	for i := r.Lo; i < r.Hi; i++ {
		out.Outcomes = append(out.Outcomes, batch.Outcome{Index: i, Line: p.recs[i].Line, Phone: p.recs[i].Phone,
			State: state, Code: code, Reason: reason})
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
	counts := map[string]int{"delivered": out.Delivered}
	for _, o := range out.Outcomes {
		counts[o.State]++
	}
	for state, n := range counts {
		e.deps.Metrics.AddNumbers(e.caller.vendor(), state, n)
	}
	return nil
}

// retryable turns an error that leaves the part unfinished into what asynq acts on:
// throttling (not a failure, but capped) or a plain retry.
func (e *engine) retryable(ctx context.Context, p *partRun, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	_ = e.deps.Store.NoteError(context.WithoutCancel(ctx), p.m.ID, p.part, errReason(err))
	if vendors.ClassOf(err) == vendors.Throttled {
		n, nerr := e.deps.Store.NoteThrottle(ctx, p.m.ID, p.part)
		if nerr == nil && n > e.deps.Retry.ThrottleCap {
			return fmt.Errorf("throttled %d times, counting as a failure: %w", n, unthrottled{err})
		}
	}
	return err
}

// unthrottled hides a throttled error's class once the throttle cap is reached, so
// that asynq counts it as a failure and the part's retries run out.
type unthrottled struct{ error }

func (u unthrottled) Class() vendors.Class { return vendors.Transient }

// settle sets the part's final state, writes its result and, if it was the last
// part, announces the batch.
func (e *engine) settle(ctx context.Context, p *partRun, t *asynq.Task, started time.Time) error {
	d := e.deps
	ctx = context.WithoutCancel(ctx)
	ps, err := d.Store.PartState(ctx, p.m.ID, p.part)
	if err != nil {
		return err
	}
	state := batch.PartDone
	switch {
	case p.permanent != nil:
		state = batch.PartFailed
	case ps.HasUncertain():
		state = batch.PartUncertain
	}
	if cancelled, _ := d.Store.Cancelled(ctx, p.m.ID); cancelled && state == batch.PartDone && ps.HasFailed() {
		state = batch.PartCancelled
	}
	res := PartResult{Batch: p.m.ID, Part: p.part, Vendor: p.m.Vendor, State: state, DurationMS: time.Since(started).Milliseconds()}
	for k, v := range ps.Extra {
		if strings.HasPrefix(k, "task:") {
			res.Tasks = append(res.Tasks, v)
		}
	}
	for r := range ps.Done {
		sm := ps.Done[r]
		res.Delivered += sm.Delivered
		res.Refused += sm.Refused
		res.Failed += sm.Failed
		res.Uncertain += sm.Uncertain
	}
	if w := t.ResultWriter(); w != nil {
		if b, err := json.Marshal(res); err == nil {
			_, _ = w.Write(b)
		}
	}
	finished, err := d.Store.SetPartState(ctx, p.m.ID, p.part, state)
	if err != nil {
		return err
	}
	p.log.WithFields(logrus.Fields{"state": state, "delivered": res.Delivered, "refused": res.Refused,
		"failed": res.Failed, "uncertain": res.Uncertain}).Info("part settled")
	if finished {
		d.announce(ctx, p.m, p.campaign)
	}
	if p.permanent != nil {
		return fmt.Errorf("%s: %w", errReason(p.permanent), asynq.SkipRetry)
	}
	return nil
}

// announce publishes a finished batch on the events stream and its webhook.
func (d *Deps) announce(ctx context.Context, m *batch.Manifest, c campaign.Campaign) {
	log := d.Log.WithFields(logrus.Fields{"vendor": m.Vendor, "batch": m.ID})
	ev, err := d.Store.Announce(ctx, m.ID)
	if err != nil {
		log.WithError(err).Error("announce finished batch")
		return
	}
	log.WithFields(logrus.Fields{"delivered": ev.Status.Delivered, "refused": ev.Status.Refused,
		"failed": ev.Status.Failed}).Info("batch finished")
	if url := c.WebhookURL(); url != "" {
		if err := postWebhook(ctx, d.HTTPClient, url, ev); err != nil {
			log.WithError(err).Warn("batch webhook not delivered")
		}
	}
}

func postWebhook(ctx context.Context, hc *http.Client, url string, ev *batch.Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	op := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
		if err != nil {
			return backoff.Permanent(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("webhook: %w", vendors.ScrubURLError(err))
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("webhook answered %d", resp.StatusCode)
		}
		return nil
	}
	b := backoff.WithMaxRetries(backoff.NewExponentialBackOff(), 3)
	return backoff.Retry(op, backoff.WithContext(b, ctx))
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
