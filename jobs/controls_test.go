package jobs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/lifecycle"
	"github.com/dialq/dialq/queue"
)

// A control runs over every vendor task in parallel within the fleet rate, reports
// progress as it goes, and names each vendor task that refused: pausing stopped
// plans is refused by the vendor (101002) for every one of them.
func TestControlParallelProgressAndFailures(t *testing.T) {
	h := setup(t)
	d := h.deps()
	h.startWorker(d)
	sum := h.enqueue("flashai", lines(numbers(400, 150000)), 20, 0)
	h.waitSettled(sum.Batch, 30*time.Second)
	c := asynq.NewClient(h.aopt)
	defer c.Close()
	life := h.lifecycle()
	ctx := context.Background()
	h.fake.SetFaults(fakevendor.Faults{LatencyMillis: 300})
	run := func(action string) (*queue.ControlResult, []queue.ControlResult, time.Duration, error) {
		task, _ := queue.NewControlTask(queue.TypeFlashAIControl, queue.ControlPayload{Batch: sum.Batch, Action: action})
		info, err := c.Enqueue(task)
		if err != nil {
			t.Fatal(err)
		}
		var seen []queue.ControlResult
		start := time.Now()
		res, err := life.AwaitControl(ctx, info.Queue, info.ID, 5*time.Second, func(r queue.ControlResult) { seen = append(seen, r) })
		return res, seen, time.Since(start), err
	}
	res, seen, took, err := run(queue.ActionStop)
	if err != nil || !res.Final || res.Total != 20 || res.Done != 20 || res.Failed != 0 {
		t.Fatalf("stop: %+v, %v", res, err)
	}
	// 20 plans at 300 ms each: one at a time would take 6 s.
	if took > 4*time.Second {
		t.Errorf("stop of 20 plans at 300 ms each took %s: not in parallel", took)
	}
	if len(seen) < 3 {
		t.Errorf("progress reports %+v; want several", seen)
	}
	res, _, _, err = run(queue.ActionPause)
	var failed *lifecycle.ControlFailedError
	if !errors.As(err, &failed) || len(failed.Failed) != 20 || res.Failed != 20 {
		t.Fatalf("pause of stopped plans: %+v, %v; want every plan named as failed", res, err)
	}
	if !strings.Contains(err.Error(), "20 of 20 vendor tasks failed to pause") || !strings.Contains(err.Error(), "101002") {
		t.Errorf("error %q does not name the failures", err)
	}
}

// No worker serving the control queue: the wait ends after the stall timeout,
// saying so.
func TestAwaitControlStalls(t *testing.T) {
	h := setup(t)
	sum := h.enqueue("flashai", lines(numbers(10, 160000)), 10, 0)
	c := asynq.NewClient(h.aopt)
	defer c.Close()
	task, _ := queue.NewControlTask(queue.TypeFlashAIControl, queue.ControlPayload{Batch: sum.Batch, Action: queue.ActionStop})
	info, err := c.Enqueue(task)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.lifecycle().AwaitControl(context.Background(), info.Queue, info.ID, 500*time.Millisecond, nil)
	if !errors.Is(err, lifecycle.ErrControlStalled) || !strings.Contains(err.Error(), "no worker took it") {
		t.Errorf("AwaitControl without a worker = %v", err)
	}
}

// Yccall's TaskSet goes through the same parallel control: every task of the
// batch answers.
func TestControlYccallTaskSet(t *testing.T) {
	h := setup(t)
	h.startWorker(h.deps())
	sum := h.enqueue("yccall", lines(numbers(60, 190000)), 10, 0)
	h.waitSettled(sum.Batch, 30*time.Second)
	c := asynq.NewClient(h.aopt)
	defer c.Close()
	for _, action := range []string{queue.ActionPause, queue.ActionRestart, queue.ActionStop} {
		task, _ := queue.NewControlTask(queue.TypeYccallTaskSet, queue.ControlPayload{Batch: sum.Batch, Action: action})
		info, err := c.Enqueue(task)
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.lifecycle().AwaitControl(context.Background(), info.Queue, info.ID, 5*time.Second, nil)
		if err != nil || !res.Final || res.Total != 6 || res.Done != 6 || res.Failed != 0 {
			t.Errorf("%s: %+v, %v; want 6 tasks answered", action, res, err)
		}
	}
}
