package jobs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/vendors/speech"
)

// Issue 14 finding 2: one spurious authentication refusal (clock skew, a rotated
// key) is retried freshly signed instead of failing the part for good.
func TestSpuriousAuthRefusalRetried(t *testing.T) {
	for _, vendor := range []string{"nxcloud", "yccall", "speech", "flashai"} {
		t.Run(vendor, func(t *testing.T) {
			h := setup(t)
			h.fake.RefuseAuth(1)
			h.startWorker(h.deps())
			phones := numbers(100, 310000)
			sum := h.enqueue(vendor, lines(phones), 100, speechCalls(vendor, 100))
			st := h.waitSettled(sum.Batch, 30*time.Second)
			if st.Delivered != 100 || !st.Finished {
				t.Fatalf("status %+v; want every number delivered after one refused signature", st)
			}
			h.ledgerOnce(vendor, asSent(vendor, phones))
		})
	}
}

// A refusal that persists still fails the part, with the vendor's code.
func TestPersistentAuthRefusalFails(t *testing.T) {
	h := setup(t)
	h.fake.RefuseAuth(1000)
	h.startWorker(h.deps())
	sum := h.enqueue("speech", lines(numbers(50, 320000)), 50, 50)
	st := h.waitSettled(sum.Batch, 30*time.Second)
	if st.Failed != 50 || st.PartStates[ledger.PartFailed] != 1 {
		t.Fatalf("status %+v; want the part failed", st)
	}
	var code string
	_ = h.store.Outcomes(context.Background(), sum.Batch, 0, func(o ledger.Outcome) error { code = o.Code; return nil })
	if code != speech.CodeAuthFailed {
		t.Errorf("failed with code %q; want the vendor's 10001", code)
	}
}

// Issue 14 finding 1: the answer to a speech create is lost after the vendor made
// the task; the resent create is refused as a duplicate name, under whatever code
// the tenant uses. dialq recognises the wording, counts the create as arrived and
// never loops; each number reaches the vendor once.
func TestSpeechDuplicateCreateAnyCode(t *testing.T) {
	for _, tc := range []struct{ code, message string }{
		{"20001", "task name exists"},
		{"29002", "duplicate task name"},
		{"29008", "任务名称已存在"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			h := setup(t)
			h.fake.SetFaults(fakevendor.Faults{SpeechDuplicateCode: tc.code, SpeechDuplicateMessage: tc.message})
			var lost atomic.Bool
			h.setHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, speech.PathCreate) && lost.CompareAndSwap(false, true) {
					h.fake.ServeHTTP(httptest.NewRecorder(), r) // the vendor makes the task…
					conn, _, err := w.(http.Hijacker).Hijack()  // …and its answer is lost
					if err == nil {
						conn.Close()
					}
					return
				}
				h.fake.ServeHTTP(w, r)
			}))
			h.startWorker(h.deps())
			phones := numbers(200, 330000)
			sum := h.enqueue("speech", lines(phones), 200, 200)
			st := h.waitSettled(sum.Batch, 30*time.Second)
			if st.Delivered != 200 || !st.Finished || !lost.Load() {
				t.Fatalf("status %+v (answer lost: %v); want every number delivered", st, lost.Load())
			}
			h.ledgerOnce("speech", phones)
			if got := h.fake.Ledger("speech").Tasks; got != 1 {
				t.Errorf("speech tasks = %d; want 1", got)
			}
		})
	}
}

// Issue 14 finding 1, the bound: a call refused the same way again and again
// (here an unknown system error on every create) is parked as uncertain with the
// vendor's code after Retry.RepeatCap attempts, not retried for weeks.
func TestSameRefusalAgainIsBounded(t *testing.T) {
	h := setup(t)
	h.fake.SetFaults(fakevendor.Faults{SystemError: 1})
	d := h.deps()
	d.Retry = jobs.Retry{Initial: 5 * time.Millisecond, Max: 10 * time.Millisecond, Elapsed: 50 * time.Millisecond,
		MaxInlineWait: time.Second, ThrottleCap: 100, RepeatCap: 3, AuthAttempts: 3, PauseRecheck: time.Second}
	h.startWorker(d)
	sum := h.enqueue("speech", lines(numbers(20, 340000)), 20, 20)
	st := h.waitSettled(sum.Batch, 30*time.Second)
	if st.Uncertain != 20 || st.PartStates[ledger.PartUncertain] != 1 {
		t.Fatalf("status %+v; want the call parked uncertain", st)
	}
	var reason string
	_ = h.store.Outcomes(context.Background(), sum.Batch, 0, func(o ledger.Outcome) error { reason = o.Code + " " + o.Reason; return nil })
	if reason == "" {
		t.Error("no reason recorded")
	}
	t.Logf("parked with: %s", reason)
}
