package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/vendors/registry"
)

// Cancel of a FlashAI batch of many parts against a slow vendor (1 s a call) waits
// for the worker to stop every plan, in parallel within the fleet rate, showing
// progress, and exits 0 once it is done: after it returns, no call of the batch
// starts, and every plan the vendor holds is stopped. A fixed wait shorter than the
// stops one at a time would take (60 × 1 s) proves they do not run one at a time.
func TestCancelSlowFlashAIWithBinaries(t *testing.T) {
	w := setup(t)
	w.fake.SetFaults(fakevendor.Faults{LatencyMillis: 200})
	id := w.enqueue(registry.FlashAI, list(numbers(2000, 440000)), "-part-size", "20")["batch"].(string)
	w.startWorker("FLASHAI_RATE=20")
	deadline := time.Now().Add(time.Minute)
	for len(w.fake.FlashAIPlans()) < 60 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d plans made", len(w.fake.FlashAIPlans()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.fake.SetFaults(fakevendor.Faults{LatencyMillis: 1000})
	start := time.Now()
	r := w.run("enqueue", "", nil, "cancel", "-wait", "20s", id)
	returned := time.Now()
	t.Logf("cancel took %s\nstdout:\n%s\nstderr:\n%s", returned.Sub(start).Round(time.Millisecond), r.stdout, r.stderr)
	if r.code != 0 {
		t.Fatalf("cancel exited %d; want 0", r.code)
	}
	m := regexp.MustCompile(`stop: (\d+) of (\d+) vendor tasks done, 0 failed`).FindStringSubmatch(r.stdout)
	if m == nil || m[1] != m[2] {
		t.Fatalf("cancel did not report every vendor task stopped:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "vendor tasks done") {
		t.Errorf("no progress shown on stderr:\n%s", r.stderr)
	}
	// Settled, every part is final: a call marked before the cancel was answered
	// (a part settles only after its calls in flight), and no mark is granted to a
	// final part, so no late call can still arrive. Waiting on that, not a sleep.
	st := w.waitSettled(id, time.Minute)
	if !st.Cancelled || st.Delivered+st.Failed != 2000 {
		t.Errorf("status %+v", st)
	}
	plans := w.fake.FlashAIPlans()
	if n, _ := strconv.Atoi(m[1]); n != len(plans) || n < 60 {
		t.Errorf("cancel stopped %d vendor tasks; the vendor holds %d plans", n, len(plans))
	}
	for name, status := range plans {
		if status != "stopped" {
			t.Errorf("plan %s is %s after cancel returned", name, status)
		}
	}
	// Calls that make the vendor dial: results polls (getBatch…) keep reading the
	// plans after a cancel by design, and stops are what cancel sends.
	dials := map[string]bool{"/flashai/addPlan": true, "/flashai/addAgentPlan": true, "/flashai/batchPlanRestart": true}
	for _, c := range w.fake.Calls(registry.FlashAI) {
		if dials[c.Path] && c.At.After(returned) {
			t.Errorf("%s %s started %s after cancel returned", c.Path, c.Name, c.At.Sub(returned))
		}
	}
}
