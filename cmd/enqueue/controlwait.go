package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/lifecycle"
	"github.com/dialq/dialq/queue"
)

const stallHelp = "how long to wait for the worker without any progress before giving up (the wait goes on while vendor tasks are answered)"

// submitControl queues a control task and waits for the worker to finish it, for
// as long as it progresses, showing progress on stderr; it exits 0 only when
// every vendor task took the control, and names those that did not.
func submitControl(ctx context.Context, c *conn, e env, typ string, p queue.ControlPayload, stall time.Duration) error {
	task, err := queue.NewControlTask(typ, p)
	if err != nil {
		return usageErr("%v", err)
	}
	info, err := c.client.EnqueueContext(ctx, task)
	if err != nil {
		return inputErr(fmt.Errorf("queue control: %w", err))
	}
	var shown time.Time
	var last string
	res, err := c.life.AwaitControl(ctx, info.Queue, info.ID, stall, func(r queue.ControlResult) {
		line := fmt.Sprintf("%s: %d of %d vendor tasks done", r.Action, r.Done, r.Total)
		if r.Inflight > 0 && r.Done == r.Total {
			line += fmt.Sprintf("; waiting for %d calls in flight, which may make more", r.Inflight)
		}
		if r.Final || line == last || time.Since(shown) < time.Second {
			return
		}
		shown, last = time.Now(), line
		fmt.Fprintln(e.stderr, line)
	})
	if res != nil && res.Final {
		for _, a := range res.Answers {
			if a.Outcome != "" {
				fmt.Fprintf(e.stdout, "%s %s: %s\n", res.Action, a.Target, a.Outcome)
			}
		}
		fmt.Fprintf(e.stdout, "%s: %d of %d vendor tasks done, %d failed\n", res.Action, res.Done, res.Total, res.Failed)
		if res.Note != "" {
			fmt.Fprintf(e.stdout, "note: %s\n", res.Note)
		}
	}
	var failed *lifecycle.ControlFailedError
	if errors.As(err, &failed) {
		for _, a := range failed.Failed {
			fmt.Fprintf(e.stdout, "%s %s: failed: %s\n", failed.Action, a.Target, a.Error)
		}
	}
	if err != nil {
		return inputErr(err)
	}
	return nil
}

// warnUnserved says on stderr when no running worker serves queue: parts sent
// there with -queue would wait without a word.
func warnUnserved(aopt asynq.RedisConnOpt, queue string, e env) {
	insp := asynq.NewInspector(aopt)
	defer insp.Close()
	if msg := lifecycle.New(nil, nil, insp, nil).Unserved(queue); msg != "" {
		fmt.Fprintln(e.stderr, "enqueue: warning:", msg)
	}
}
