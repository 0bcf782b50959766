package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
)

// Queue puts one task per part of a committed batch on its queue: the move from
// committed to queued. A part whose task exists already (the same batch was
// enqueued before) is counted, not an error. headers carry the producer's trace.
func (m *Manager) Queue(ctx context.Context, man *ledger.Manifest, headers map[string]string) (enqueued, already int, err error) {
	for n := range man.Parts {
		task, err := queue.NewPartTaskWithHeaders(headers, man.Vendor, man.ID, n, PartRecords(man, n), asynq.Queue(man.Queue))
		if err != nil {
			return enqueued, already, err
		}
		_, err = m.client.EnqueueContext(ctx, task)
		switch {
		case errors.Is(err, asynq.ErrTaskIDConflict):
			already++
		case err != nil:
			return enqueued, already, fmt.Errorf("enqueue part %d: %w", n, err)
		default:
			enqueued++
		}
	}
	return enqueued, already, nil
}

// dropTask deletes part n's old task (archived, or completed and retained): its id
// is fixed, so it must go before the part is queued again. A running task cannot.
func (m *Manager) dropTask(man *ledger.Manifest, n int) error {
	if err := m.insp.DeleteTask(man.Queue, queue.PartTaskID(man.ID, n)); err != nil &&
		!errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
		return fmt.Errorf("part %d: remove old task: %w", n, err)
	}
	return nil
}

// requeue puts part n's task back on the queue, its old task dropped.
func (m *Manager) requeue(ctx context.Context, man *ledger.Manifest, n int) error {
	if err := m.dropTask(man, n); err != nil {
		return err
	}
	prev, err := m.store.Progress(ctx, man.ID, n)
	if err != nil {
		return err
	}
	if _, err := m.store.SetPartState(ctx, man.ID, n, ledger.PartQueued, time.Time{}, ""); err != nil {
		return err
	}
	task, err := queue.NewPartTask(man.Vendor, man.ID, n, PartRecords(man, n), asynq.Queue(man.Queue))
	if err == nil {
		_, err = m.client.EnqueueContext(ctx, task)
	}
	if err != nil {
		// A queued part without a task would wait for ever: put it back as it was,
		// so that the same command can be run again.
		if _, rerr := m.store.SetPartState(context.WithoutCancel(ctx), man.ID, n, prev.State, time.Time{}, ""); rerr != nil {
			return fmt.Errorf("part %d: enqueue: %w (and putting it back: %v)", n, err, rerr)
		}
		return fmt.Errorf("part %d: enqueue: %w", n, err)
	}
	return nil
}

// PartRecords is the number of records in part n, known from the manifest.
func PartRecords(man *ledger.Manifest, n int) int {
	if n < man.Parts-1 {
		return man.Profile.PartSize
	}
	return int(man.Accepted - int64(man.Parts-1)*int64(man.Profile.PartSize))
}
