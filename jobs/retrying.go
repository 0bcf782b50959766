package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/redact"
)

// retryIn is a failed attempt with the delay the engine chose for the next one:
// RetryDelay honours it, so the part runs again when status says it will. Its
// class is the failure's own (a failure, unlike a deferral).
type retryIn struct {
	error
	after time.Duration
}

func (r *retryIn) RetryAfter() time.Duration { return r.after }
func (r *retryIn) Unwrap() error             { return r.error }

// retrying records that part p goes back to asynq after failed attempt n: the part
// is `retrying` until its next attempt, with the vendor's code and message, and
// the failure is logged (rate-limited, masked).
func (e *engine) retrying(ctx context.Context, t *asynq.Task, p *partRun, n int, err error) error {
	d := e.deps
	retried, _ := asynq.GetRetryCount(ctx)
	after := d.retryDelay(retried, err, t)
	at := d.Lifecycle.Now().Add(after)
	code, msg := errCode(err), redact.Message(errReason(err))
	why := fmt.Sprintf("attempt %d of %d failed: %s: %s", n, d.Retry.MaxFailures, code, msg)
	if werr := d.Lifecycle.Wait(ctx, p.m.ID, p.part, ledger.PartRetrying, at, why); werr != nil {
		if errors.Is(werr, ledger.ErrPartFinal) {
			return nil // settled by another attempt meanwhile
		}
		return werr
	}
	_ = d.Lifecycle.NoteCode(ctx, p.m.ID, p.part, code)
	writeResult(t, PartResult{Batch: p.m.ID, Part: p.part, Vendor: p.m.Vendor, State: string(ledger.PartRetrying), ResumeAt: &at, Reason: why})
	d.failLog.log(p.log.WithFields(logrus.Fields{"code": code, "attempt": n, "next_attempt": at.Format(time.RFC3339)}),
		e.caller.vendor(), "vendor call failed, part retries: "+msg)
	return &retryIn{error: err, after: after}
}

// failLog lets through the first `burst` failed-attempt lines of each vendor in
// every window and counts the rest, said in one line when the next window opens:
// a storm of errors is seen without flooding the log.
type failLog struct {
	mu     sync.Mutex
	window time.Duration
	burst  int
	byV    map[string]*failWindow
	now    func() time.Time
}

type failWindow struct {
	start      time.Time
	n, dropped int
}

func newFailLog(window time.Duration, burst int) *failLog {
	return &failLog{window: window, burst: burst, byV: map[string]*failWindow{}, now: time.Now}
}

func (f *failLog) log(entry *logrus.Entry, vendor, msg string) {
	now := f.now()
	f.mu.Lock()
	w := f.byV[vendor]
	if w == nil {
		w = &failWindow{start: now}
		f.byV[vendor] = w
	}
	dropped := 0
	if now.Sub(w.start) >= f.window {
		dropped = w.dropped
		*w = failWindow{start: now}
	}
	w.n++
	show := w.n <= f.burst
	if !show {
		w.dropped++
	}
	f.mu.Unlock()
	if dropped > 0 {
		entry.WithField("not_logged", dropped).Warnf("%d more failed attempts of %s were not logged in the last %s", dropped, vendor, f.window)
	}
	if show {
		entry.Warn(msg)
	}
}
