package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/queue"
)

// ErrControlStalled means a control task made no progress for the stall timeout:
// no worker took it, or the one running it stopped moving.
var ErrControlStalled = errors.New("control made no progress")

// ControlFailedError names the vendor tasks a control could not act on, and why.
type ControlFailedError struct {
	Action string
	Failed []queue.ControlAnswer
	Total  int
}

func (e *ControlFailedError) Error() string {
	msg := fmt.Sprintf("%d of %d vendor tasks failed to %s:", len(e.Failed), e.Total, e.Action)
	for i, a := range e.Failed {
		if i == 10 {
			return msg + fmt.Sprintf(" … and %d more", len(e.Failed)-i)
		}
		msg += fmt.Sprintf(" %s (%s);", a.Target, a.Error)
	}
	return msg[:len(msg)-1]
}

// AwaitControl waits for control task id on queue qname to finish, for as long as it
// moves: stall is how long it may go without any progress (taken by a worker, a
// vendor task answered, a retry) before the wait ends with ErrControlStalled.
// progress is called with each new report. The result is returned when the task
// completed; a *ControlFailedError when any vendor task failed.
func (m *Manager) AwaitControl(ctx context.Context, qname, id string, stall time.Duration, progress func(queue.ControlResult)) (*queue.ControlResult, error) {
	const poll = 200 * time.Millisecond
	var last string
	moved := time.Now()
	var res queue.ControlResult
	for {
		ti, err := m.insp.GetTaskInfo(qname, id)
		if err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			return nil, fmt.Errorf("control task %s: %w", id, err)
		}
		if ti != nil {
			if len(ti.Result) > 0 {
				_ = json.Unmarshal(ti.Result, &res)
			}
			sig := fmt.Sprintf("%v/%d/%d/%d/%s/%d", ti.State, res.Done, res.Total, ti.Retried, ti.LastErr, res.Beat)
			if sig != last {
				last, moved = sig, time.Now()
				if progress != nil && len(ti.Result) > 0 {
					progress(res)
				}
			}
			switch ti.State {
			case asynq.TaskStateCompleted:
				return &res, failure(&res)
			case asynq.TaskStateArchived:
				return &res, fmt.Errorf("control task %s failed: %s", id, ti.LastErr)
			}
		}
		if time.Since(moved) > stall {
			return &res, stalled(ti, id, stall, &res)
		}
		select {
		case <-ctx.Done():
			return &res, ctx.Err()
		case <-time.After(poll):
		}
	}
}

func stalled(ti *asynq.TaskInfo, id string, stall time.Duration, res *queue.ControlResult) error {
	switch {
	case ti == nil:
		return fmt.Errorf("control task %s is gone: %w", id, ErrControlStalled)
	case ti.State == asynq.TaskStatePending || ti.State == asynq.TaskStateScheduled:
		return fmt.Errorf("control task %s: no worker took it within %s (is a worker serving %s running?): %w",
			id, stall, queue.ControlQueue, ErrControlStalled)
	case ti.State == asynq.TaskStateRetry:
		return fmt.Errorf("control task %s: retrying after %q, no progress for %s: %w", id, ti.LastErr, stall, ErrControlStalled)
	}
	return fmt.Errorf("control task %s: %d of %d vendor tasks answered, then nothing for %s (the worker may have died; asynq hands the task to another): %w",
		id, res.Done, res.Total, stall, ErrControlStalled)
}

// failure is the control's failure, nil when every vendor task took it.
func failure(res *queue.ControlResult) error {
	var failed []queue.ControlAnswer
	for _, a := range res.Answers {
		if !a.OK {
			failed = append(failed, a)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return &ControlFailedError{Action: res.Action, Failed: failed, Total: res.Total}
}
