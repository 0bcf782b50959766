package results

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/vendors/registry"
)

// Scheduler starts and hurries polls.
type Scheduler struct {
	Client    *asynq.Client
	Inspector *asynq.Inspector
	Batches   ledger.Reader
	Results   *Store
	// Interval is the first poll's delay; zero means DefaultPoll.
	Interval time.Duration
}

// Register adds the poll's handler (when p has a FlashAI client) and the
// redials' (when p has a Redialer).
func Register(mux *asynq.ServeMux, p *Poller) {
	if p.Client != nil {
		mux.Handle(TypePollFlashAI, p)
	}
	if p.Redials != nil {
		mux.Handle(TypeRedialFlashAI, p.Redials)
		mux.Handle(TypeRedial, p.Redials)
	}
}

// PartDelivered schedules the polls of a part that reached the vendor: FlashAI
// parts that delivered any number. The engine calls it whenever it finds a part
// with all its calls recorded (settling it, or finding it settled), so a worker
// that died in between does not lose the schedule; the task id makes repeats one.
func (s *Scheduler) PartDelivered(ctx context.Context, m *ledger.Manifest, part int) error {
	if m.Vendor != registry.FlashAI {
		return nil
	}
	ps, err := s.Batches.Progress(ctx, m.ID, part)
	if err != nil {
		return err
	}
	delivered := 0
	for _, sm := range ps.Done {
		delivered += sm.Delivered
	}
	if delivered == 0 {
		return nil
	}
	if _, err := s.Results.Delivered(ctx, m, part); err != nil {
		return err
	}
	in := s.Interval
	if in <= 0 {
		in = DefaultPoll
	}
	return s.enqueue(ctx, m.ID, part, in)
}

func (s *Scheduler) enqueue(ctx context.Context, id string, part int, in time.Duration) error {
	t, err := NewPollTask(id, part, in)
	if err != nil {
		return err
	}
	if _, err := s.Client.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("batch %s part %d: schedule results poll: %w", id, part, err)
	}
	return nil
}

// PollNow runs the poll of part's attempt at once: a waiting poll is moved to
// the front, a missing one is queued; a poll already running is left to finish
// (it reads the vendor anyway).
func (s *Scheduler) PollNow(ctx context.Context, id string, part, attempt int) error {
	err := s.Inspector.RunTask(queue.For(registry.FlashAI), pollTaskID(id, part, attempt))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		t, err := newPollTask(id, part, attempt, 0)
		if err != nil {
			return err
		}
		if _, err := s.Client.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("batch %s part %d: poll now: %w", id, part, err)
		}
		return nil
	default:
		return nil // running or pending already
	}
}
