package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/ratelimit"
	"github.com/dialq/dialq/vendors"
)

// Controls bounds how an operator control runs over a batch's vendor tasks.
type Controls struct {
	// Parallel is how many vendor tasks are controlled at once (within the vendor's
	// fleet rate limit, which every control call takes like a part's call).
	Parallel int
	// Attempts bounds the tries of one vendor task's control: a stop, pause or
	// restart repeated is harmless (the vendor answers the state it is in).
	Attempts int
	// Settle is how long a stop or pause waits for the calls in flight when it was
	// asked (which may make a vendor task it has not seen) before it gives up on them.
	Settle time.Duration
	// Progress is how often progress is written for the waiting command.
	Progress time.Duration
}

// DefaultControls is used for Deps.Controls fields left zero.
var DefaultControls = Controls{Parallel: 8, Attempts: 4, Settle: time.Minute, Progress: 250 * time.Millisecond}

func (c Controls) withDefaults() Controls {
	if c.Parallel <= 0 {
		c.Parallel = DefaultControls.Parallel
	}
	if c.Attempts <= 0 {
		c.Attempts = DefaultControls.Attempts
	}
	if c.Settle <= 0 {
		c.Settle = DefaultControls.Settle
	}
	if c.Progress <= 0 {
		c.Progress = DefaultControls.Progress
	}
	return c
}

// controlHandler runs an operator control over every vendor task of a batch, in
// parallel, and writes its progress and at last each answer as the task's result.
type controlHandler struct {
	deps *Deps
	run  func(ctx context.Context, m *ledger.Manifest, p queue.ControlPayload, target string) error
}

// controlRun is one control task's progress, written as the task's result.
type controlRun struct {
	mu      sync.Mutex
	res     queue.ControlResult
	seen    map[string]bool
	w       *asynq.ResultWriter
	written time.Time
	every   time.Duration
}

func (r *controlRun) answer(a queue.ControlAnswer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Answers = append(r.res.Answers, a)
	r.res.Done++
	if !a.OK {
		r.res.Failed++
	}
	if time.Since(r.written) >= r.every {
		r.writeLocked()
	}
}

// writeLocked writes the result; a failed write only costs the command a progress
// report (it waits on its stall timeout), so it is not an error of the control.
func (r *controlRun) writeLocked() {
	r.written = time.Now()
	r.res.Beat = r.written.UnixMilli()
	if r.w == nil {
		return
	}
	if b, err := json.Marshal(r.res); err == nil {
		_, _ = r.w.Write(b)
	}
}

func (r *controlRun) write() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writeLocked()
}

func (h *controlHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p queue.ControlPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("control payload: %v: %w", err, asynq.SkipRetry)
	}
	m, err := h.deps.Lifecycle.Manifest(ctx, p.Batch)
	if err != nil {
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	}
	cfg := h.deps.Controls.withDefaults()
	run := &controlRun{res: queue.ControlResult{Batch: m.ID, Action: p.Action}, seen: map[string]bool{},
		w: t.ResultWriter(), every: cfg.Progress}
	log := h.deps.Log.WithFields(logrus.Fields{"batch": m.ID, "vendor": m.Vendor, "action": p.Action})
	// A stop or pause must reach the vendor tasks that calls in flight when it was
	// asked are still making: after each round it waits for them and goes again.
	settling := p.Action == queue.ActionStop || p.Action == queue.ActionPause
	deadline := time.Now().Add(cfg.Settle)
	for {
		view, err := h.deps.Lifecycle.ControlView(ctx, m)
		if err != nil {
			return err
		}
		var fresh []string
		for _, target := range view.Targets {
			if !run.seen[target] {
				run.seen[target] = true
				fresh = append(fresh, target)
			}
		}
		run.mu.Lock()
		run.res.Total += len(fresh)
		run.res.Inflight = view.Inflight
		run.writeLocked()
		run.mu.Unlock()
		if err := h.runAll(ctx, m, p, cfg, fresh, run); err != nil {
			return err
		}
		if !settling || (view.Inflight == 0 && len(fresh) == 0) {
			break
		}
		if time.Now().After(deadline) {
			note := fmt.Sprintf("%d calls were still in flight after %s: a vendor task they make may have been missed (run enqueue control %s BATCH again)",
				view.Inflight, cfg.Settle, p.Action)
			run.mu.Lock()
			run.res.Note = note
			run.mu.Unlock()
			log.Warn(note)
			break
		}
		if len(fresh) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	run.mu.Lock()
	run.res.Final = true
	run.writeLocked()
	res := run.res
	run.mu.Unlock()
	log.WithFields(logrus.Fields{"targets": res.Total, "failed": res.Failed}).Info("control done")
	return nil
}

// runAll controls targets, cfg.Parallel at a time.
func (h *controlHandler) runAll(ctx context.Context, m *ledger.Manifest, p queue.ControlPayload, cfg Controls, targets []string, run *controlRun) error {
	sem := make(chan struct{}, cfg.Parallel)
	var wg sync.WaitGroup
	// A beat while calls wait for a slow vendor or its rate: the command waits as
	// long as the worker is alive.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				run.write()
			}
		}
	}()
	for _, target := range targets {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			a := queue.ControlAnswer{Target: target, OK: true}
			if err := h.one(ctx, m, p, cfg, target); err != nil {
				a.OK, a.Error = false, err.Error()
			}
			run.answer(a)
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// one controls one vendor task within the vendor's fleet rate, retrying what may
// pass (a repeat of a control is harmless).
func (h *controlHandler) one(ctx context.Context, m *ledger.Manifest, p queue.ControlPayload, cfg Controls, target string) error {
	var err error
	for attempt := 1; attempt <= cfg.Attempts; attempt++ {
		if err = h.rate(ctx, m.Vendor); err != nil {
			return err
		}
		err = h.run(ctx, m, p, target)
		switch c := vendors.ClassOf(err); {
		case err == nil:
			return nil
		case c == vendors.Permanent || c == vendors.InvalidPart || ctx.Err() != nil:
			return err
		}
		wait := time.Duration(attempt) * 200 * time.Millisecond
		if ra := vendors.RetryAfter(err); ra > 0 {
			wait = ra
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
	return fmt.Errorf("%d attempts, the last: %w", cfg.Attempts, err)
}

// rate waits for the vendor's fleet rate limit, however long it takes: a control
// holds no part's slot.
func (h *controlHandler) rate(ctx context.Context, vendor string) error {
	for {
		_, err := h.deps.Limiter.Wait(ctx, vendor, 5*time.Second)
		var busy *ratelimit.Busy
		if !errors.As(err, &busy) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(busy.RetryAfter):
		}
	}
}
