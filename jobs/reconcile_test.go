package jobs_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/vendors/flashai"
)

// FlashAI parts parked uncertain (a call refused the same way again and again)
// list the plan each call was making; reconcile asks FlashAI and settles what it
// proves: a plan holding every number is delivered, no plan is sent again, a plan
// holding only some is left uncertain.
func TestReconcileFlashAI(t *testing.T) {
	h := setup(t)
	ctx := context.Background()
	h.fake.SetFaults(fakevendor.Faults{SystemError: 1})
	sum := h.enqueue("flashai", lines(numbers(40, 180000)), 10, 0)
	d := h.deps()
	d.Retry.Elapsed = 50 * time.Millisecond
	h.startWorker(d)
	var st *ledger.Status
	for deadline := time.Now().Add(30 * time.Second); ; {
		st, _ = h.store.Status(ctx, sum.Batch)
		if st != nil && st.PartStates[ledger.PartUncertain] == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("parts never uncertain: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	name := func(part int) string { return fmt.Sprintf("spring_%s_%d", jobs.NameID(sum.Batch), part) }
	for i, u := range st.UncertainParts {
		if u.Part != i || u.Numbers != 10 || len(u.Tasks) != 1 || u.Tasks[0] != "batch "+name(i) {
			t.Errorf("uncertain part %+v; want part %d, 10 numbers, batch %s", u, i, name(i))
		}
	}
	h.fake.SetFaults(fakevendor.Faults{})
	m, err := h.store.Manifest(ctx, sum.Batch)
	if err != nil {
		t.Fatal(err)
	}
	plan := func(part int, recs []chunking.Record) {
		list, _ := chunking.EncodeMobileList(recs)
		if _, err := d.FlashAI.AddPlan(ctx, &flashai.AddPlanRequest{BatchName: name(part), BotenceID: "2873",
			CallDate: "20261123", CallHours: []int{9}, MobileList: list}); err != nil {
			t.Fatal(err)
		}
	}
	for part, keep := range map[int]int{0: 10, 1: 10, 2: 5} {
		recs, err := h.store.LoadPart(ctx, m, part)
		if err != nil {
			t.Fatal(err)
		}
		plan(part, recs[:keep])
	}
	c := asynq.NewClient(h.aopt)
	defer c.Close()
	task, _ := queue.NewControlTask(queue.TypeFlashAIReconcile, queue.ControlPayload{Batch: sum.Batch, Action: queue.ActionReconcile})
	info, err := c.Enqueue(task)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.lifecycle().AwaitControl(ctx, info.Queue, info.ID, 10*time.Second, nil)
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	want := map[string]string{"part 0": "delivered", "part 1": "delivered", "part 2": "left uncertain", "part 3": "resent"}
	for _, a := range res.Answers {
		if !strings.HasPrefix(a.Outcome, want[a.Target]) {
			t.Errorf("%s: %q; want %s", a.Target, a.Outcome, want[a.Target])
		}
	}
	if len(res.Answers) != 4 {
		t.Errorf("answers %+v", res.Answers)
	}
	st = h.waitSettled(sum.Batch, 30*time.Second)
	if st.Delivered != 30 || st.Uncertain != 10 || st.PartStates[ledger.PartUncertain] != 1 {
		t.Errorf("after reconcile: %+v; want parts 0, 1 and 3 delivered, part 2 uncertain", st)
	}
}
