// How a part's attempt ends: settled, re-scheduled without a failure (deferred),
// retried, or given up; and the result its task writes.

package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/vendors"
)

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
	state ledger.PartState
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
			if n, nerr := e.deps.Lifecycle.NoteThrottle(ctx, p.m.ID, p.part); nerr == nil && n > e.deps.Retry.ThrottleCap {
				return e.giveUp(ctx, t, p, fmt.Errorf("throttled %d times: %w", n, err))
			}
		}
		return e.defer_(ctx, t, p.m, p.part, p.log, df)
	}
	_ = e.deps.Lifecycle.NoteError(ctx, p.m.ID, p.part, errReason(err))
	if vendors.ClassOf(err) == vendors.Throttled {
		if n, nerr := e.deps.Lifecycle.NoteThrottle(ctx, p.m.ID, p.part); nerr == nil && n > e.deps.Retry.ThrottleCap {
			return e.giveUp(ctx, t, p, fmt.Errorf("throttled %d times: %w", n, err))
		}
		return err
	}
	n, nerr := e.deps.Lifecycle.NoteFailure(ctx, p.m.ID, p.part)
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
	e.deps.Metrics.AddNumbers(e.caller.vendor(), string(ledger.OutcomeFailed), n)
	p.log.WithError(cause).Error("part gave up; its remaining numbers are failed (enqueue retry runs it again)")
	writeResult(t, PartResult{Batch: p.m.ID, Part: p.part, Vendor: p.m.Vendor, State: string(ledger.PartFailed), Reason: errReason(cause)})
	return fmt.Errorf("%v: %w", cause, asynq.SkipRetry)
}

// defer_ records why and until when the part waits, and hands it back to asynq,
// which re-schedules it after df.after (RetryDelay) without counting a failure.
func (e *engine) defer_(ctx context.Context, t *asynq.Task, m *ledger.Manifest, part int, log *logrus.Entry, df *deferred) error {
	at := df.resumeAt(e.deps.Lifecycle.Now())
	if df.state != "" {
		if err := e.deps.Lifecycle.Wait(context.WithoutCancel(ctx), m.ID, part, df.state, at, df.why); err != nil {
			if errors.Is(err, ledger.ErrPartFinal) {
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
	ps, err := d.Lifecycle.Progress(ctx, p.m.ID, p.part)
	if err != nil {
		return err
	}
	res := PartResult{Batch: p.m.ID, Part: p.part, Vendor: p.m.Vendor, State: string(state), DurationMS: time.Since(started).Milliseconds()}
	res.Tasks = ledger.TaskRefs(ps.Extra)
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
