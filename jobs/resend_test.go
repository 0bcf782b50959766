package jobs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/quota"
	"github.com/dialq/dialq/vendors/flashai"
)

// A dead worker's FlashAI call over a quota-cut prefix (0-100 of 300) went
// through. The resend must keep that range, and its name, even when the first
// attempt after the crash does not send it (a quota to wait for, a 429 beyond the
// inline wait): a call of another shape has another plan name, which the vendor
// does not refuse as a repeat, and its numbers would be dialled twice.
func TestResendThatWaitsKeepsItsRange(t *testing.T) {
	for _, cause := range []string{"quota", "throttle"} {
		t.Run(cause, func(t *testing.T) {
			h := setup(t)
			phones := numbers(300, 61000)
			sum := h.enqueue("flashai", lines(phones), 0, 0)
			ctx := context.Background()
			d := h.deps()
			m := h.deadFlashAICall(d, sum.Batch, chunking.Range{Lo: 0, Hi: 100})
			switch cause {
			case "quota":
				// The window is used up for longer than the worker waits inline.
				env := map[string]string{"FLASHAI_QUOTA": "150/3s"}
				cfg, err := quota.FromEnv(func(k string) string { return env[k] }, nil)
				if err != nil {
					t.Fatal(err)
				}
				d.Quota = quota.New(h.db.Client, cfg)
				if _, err := quota.New(h.db.Client, cfg).Take(ctx, "flashai", 150, 0); err != nil {
					t.Fatal(err)
				}
			case "throttle":
				h.fake.SetFaults(fakevendor.Faults{Throttle: 1, RetryAfterSeconds: 2})
			}
			h.startWorker(d)
			if cause == "throttle" {
				h.waitPartState(m.ID, ledger.PartThrottled, 30*time.Second)
				h.fake.SetFaults(fakevendor.Faults{})
			}
			st := h.waitSettled(sum.Batch, 60*time.Second)
			if st.Delivered != 300 || st.Uncertain != 0 || !st.Finished {
				t.Fatalf("status %+v", st)
			}
			h.ledgerOnce("flashai", phones)
		})
	}
}

// waitPartState waits until some part of batch id is in state.
func (h *harness) waitPartState(id string, state ledger.PartState, timeout time.Duration) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := h.store.Status(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		if st.PartStates[state] > 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("batch %s: no part %s after %s: %+v", id, state, timeout, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A dead worker's FlashAI call (0-200) went through, and the vendor's quota now
// allows 100 numbers a window: the resend can never go out whole, and cut it
// would go out under other plan names, dialling its numbers twice. It waits as
// uncertain for an operator; the rest of the part is delivered.
func TestResendLargerThanQuotaParkedUncertain(t *testing.T) {
	h := setup(t)
	phones := numbers(300, 62000)
	sum := h.enqueue("flashai", lines(phones), 0, 0)
	d := h.deps()
	h.deadFlashAICall(d, sum.Batch, chunking.Range{Lo: 0, Hi: 200})
	env := map[string]string{"FLASHAI_QUOTA": "100/1s"}
	cfg, err := quota.FromEnv(func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Quota = quota.New(h.db.Client, cfg)
	h.startWorker(d)
	st := h.waitSettled(sum.Batch, 60*time.Second)
	h.ledgerOnce("flashai", phones)
	if st.Delivered != 100 || st.Uncertain != 200 {
		t.Errorf("status %+v; want 100 delivered, 200 uncertain", st)
	}
}

// deadFlashAICall plays a worker that died during part 0's FlashAI call over r
// after the vendor made its plan: the call is marked in flight, and the plan,
// named as the engine names it, holds r's numbers.
func (h *harness) deadFlashAICall(d *jobs.Deps, id string, r chunking.Range) *ledger.Manifest {
	h.t.Helper()
	ctx := context.Background()
	m, err := h.store.Manifest(ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	recs, err := h.store.LoadPart(ctx, m, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.MarkInflight(ctx, m.ID, 0, r); err != nil {
		h.t.Fatal(err)
	}
	name := "spring_" + jobs.NameID(m.ID) + "_0"
	if r.Lo != 0 || r.Hi != len(recs) {
		name += fmt.Sprintf("_%d_%d", r.Lo, r.Hi)
	}
	list, _ := chunking.EncodeMobileList(recs[r.Lo:r.Hi])
	if _, err := d.FlashAI.AddPlan(ctx, &flashai.AddPlanRequest{BatchName: name,
		BotenceID: "2873", CallDate: "20261123", CallHours: []int{9}, MobileList: list}); err != nil {
		h.t.Fatal(err)
	}
	return m
}
