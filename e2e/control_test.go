package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/vendors/registry"
)

func list(phones []string) string { return strings.Join(phones, "\n") + "\n" }

// Under load (vendor latency, a fleet rate limit), once `enqueue cancel` returns no
// new call for the batch starts: the numbers that reach the vendor afterwards are
// at most those of the calls then in flight (one part each, at most the worker's
// concurrency).
func TestCancelUnderLoadWithBinaries(t *testing.T) {
	w := setup(t)
	w.fake.SetFaults(fakevendor.Faults{LatencyMillis: 150})
	const partSize, concurrency = 50, 8
	id := w.enqueue(registry.NXCloud, list(numbers(4000, 400000)), "-part-size", "50")["batch"].(string)
	w.startWorker("NXCLOUD_RATE=20")
	deadline := time.Now().Add(time.Minute)
	for w.status(id).Delivered < 300 {
		if time.Now().After(deadline) {
			t.Fatal("delivery did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := w.run("enqueue", "", nil, "cancel", id)
	atCancel := len(w.fake.Ledger(registry.NXCloud).Numbers)
	if r.code != 0 || !strings.Contains(r.stdout, "cancelled") {
		t.Fatalf("cancel: %+v", r)
	}
	st := w.waitSettled(id, time.Minute)
	after := w.noneTwice(registry.NXCloud)
	if after-atCancel > concurrency*partSize {
		t.Errorf("%d numbers reached the vendor after cancel returned; at most %d calls of %d were in flight",
			after-atCancel, concurrency, partSize)
	}
	t.Logf("delivered at cancel %d, after %d; failed (cancelled) %d", atCancel, after, st.Failed)
	if !st.Finished || !st.Cancelled || st.Delivered != int64(after) || st.Failed != 4000-int64(after) {
		t.Errorf("status %+v; want finished, cancelled, the rest failed", st)
	}
	if r := w.run("enqueue", "", nil, "cancel", id); r.code != 1 {
		t.Errorf("cancel of a finished batch exited %d; want 1", r.code)
	}
}

// An NXCloud batch held at 1 call/s does not delay a FlashAI batch enqueued after
// it: each vendor has its own queue, and a wait for the rate limit gives the
// worker slot back.
func TestThrottledVendorDoesNotDelayAnotherWithBinaries(t *testing.T) {
	w := setup(t)
	slow := w.enqueue(registry.NXCloud, list(numbers(1000, 410000)), "-part-size", "10")["batch"].(string)
	w.startWorker("NXCLOUD_RATE=1")
	time.Sleep(time.Second) // the NXCloud parts are taken first
	start := time.Now()
	fast := w.enqueue(registry.FlashAI, list(numbers(2000, 420000)), "-part-size", "200")["batch"].(string)
	st := w.waitSettled(fast, 30*time.Second)
	took := time.Since(start)
	if !st.Finished || st.Delivered != 2000 {
		t.Fatalf("flashai batch %+v", st)
	}
	if took > 15*time.Second {
		t.Errorf("flashai batch took %s behind an nxcloud batch at 1 call/s", took)
	}
	ns := w.status(slow)
	t.Logf("flashai batch finished in %s; nxcloud meanwhile delivered %d of 1000, parts %v", took.Round(time.Millisecond), ns.Delivered, ns.PartStates)
	if ns.Finished {
		t.Errorf("the nxcloud batch finished at 1 call/s: %+v", ns)
	}
}

// A worker with WORKER_VENDORS=flashai leaves NXCloud parts pending, visibly; a
// second worker for NXCloud delivers them. An unknown vendor name refuses to start.
func TestWorkerVendorsWithBinaries(t *testing.T) {
	w := setup(t)
	bad := w.startWorker("WORKER_VENDORS=flashai,acme")
	select {
	case <-bad.done:
		if bad.err == nil || !strings.Contains(bad.logsSoFar(), "acme") {
			t.Errorf("worker with an unknown vendor: %v\n%s", bad.err, bad.logsSoFar())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a worker naming an unknown vendor kept running")
	}
	phones := numbers(300, 430000)
	id := w.enqueue(registry.NXCloud, list(phones), "-part-size", "100")["batch"].(string)
	w.startWorker("WORKER_VENDORS=flashai")
	time.Sleep(3 * time.Second)
	st := w.status(id)
	if st.Pending != 300 || st.PartStates[ledger.PartQueued] != 3 || len(w.fake.Ledger(registry.NXCloud).Numbers) != 0 {
		t.Fatalf("with only a flashai worker: %+v; want every nxcloud part queued", st)
	}
	w.startWorker("WORKER_VENDORS=nxcloud")
	st = w.waitSettled(id, 30*time.Second)
	if st.Delivered != 300 || w.noneTwice(registry.NXCloud) != 300 {
		t.Fatalf("after an nxcloud worker came: %+v", st)
	}
}
