package jobs_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/lifecycle/ledger"
)

// A part's failure budget is kept in the ledger: when it runs out the part settles
// failed with its numbers accounted for, and the batch finishes (asynq's own retry
// budget would archive it unsettled).
func TestFailureBudgetSettlesThePart(t *testing.T) {
	h := setup(t)
	h.fake.SetFaults(fakevendor.Faults{ServerError: 1})
	d := h.deps()
	d.Retry.Elapsed = 20 * time.Millisecond
	d.Retry.MaxFailures = 3
	h.startWorker(d)
	sum := h.enqueue("yccall", lines(numbers(40, 350000)), 20, 0)
	st := h.waitSettled(sum.Batch, 30*time.Second)
	if st.Failed != 40 || !st.Finished || st.PartStates[ledger.PartFailed] != 2 {
		t.Fatalf("status %+v; want every number failed and the batch finished", st)
	}
	// retry gives the parts a fresh budget, and they go through once the vendor is back.
	h.fake.SetFaults(fakevendor.Faults{})
	if _, _, err := h.lifecycle().Retry(context.Background(), sum.Batch); err != nil {
		t.Fatal(err)
	}
	if st = h.waitSettled(sum.Batch, 30*time.Second); st.Delivered != 40 || !st.Finished {
		t.Fatalf("after retry: %+v", st)
	}
}

// A worker shutting down starts no new vendor call: its parts go back to the queue
// and another worker (here the same one, resumed) carries on.
func TestShuttingDownStartsNoCall(t *testing.T) {
	h := setup(t)
	var stopping atomic.Bool
	stopping.Store(true)
	d := h.deps()
	d.Stopping = stopping.Load
	h.startWorker(d)
	sum := h.enqueue("nxcloud", lines(numbers(100, 360000)), 50, 0)
	time.Sleep(1500 * time.Millisecond)
	if n := h.fake.Stats().Calls["nxcloud"]; n != 0 {
		t.Fatalf("%d vendor calls while shutting down", n)
	}
	stopping.Store(false)
	if st := h.waitSettled(sum.Batch, 30*time.Second); st.Delivered != 100 {
		t.Fatalf("status %+v", st)
	}
	h.ledgerOnce("nxcloud", asSent("nxcloud", numbers(100, 360000)))
}
