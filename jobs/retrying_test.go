package jobs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/vendors"
)

// A vendor answering system errors: each part is `retrying` in status, with the
// vendor's code and message and the time of its next attempt (the one asynq runs
// it at), and the worker logs the failed attempts, masked.
func TestRetryingPartsInSight(t *testing.T) {
	h := setup(t)
	hook := logtest.NewLocal(h.log)
	h.fake.SetFaults(fakevendor.Faults{SystemError: 1})
	sum := h.enqueue("nxcloud", lines(numbers(8, 170000)), 4, 0)
	d := h.deps()
	d.Retry.Elapsed = 200 * time.Millisecond
	mux := asynq.NewServeMux()
	jobs.Register(mux, d)
	const delay = time.Minute
	srv := jobs.NewServer(h.aopt, d, jobs.ServerOptions{Concurrency: 2, ShutdownTimeout: time.Second,
		RetryDelay: func(n int, err error, _ *asynq.Task) time.Duration {
			if ra := vendors.RetryAfter(err); ra > 0 {
				return ra
			}
			return delay
		}})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	started := time.Now()
	var st *ledger.Status
	deadline := time.Now().Add(20 * time.Second)
	for {
		var err error
		if st, err = h.store.Status(context.Background(), sum.Batch); err != nil {
			t.Fatal(err)
		}
		if st.PartStates[ledger.PartRetrying] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("parts never retrying: %+v", st.PartStates)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(st.Waiting) != 2 {
		t.Fatalf("waiting %+v; want both parts", st.Waiting)
	}
	for _, p := range st.Waiting {
		if p.State != ledger.PartRetrying || p.LastCode != "99" || !strings.Contains(p.WaitReason, "99") ||
			!strings.Contains(p.WaitReason, "system error") || !strings.Contains(p.WaitReason, "attempt 1 of") {
			t.Errorf("part %+v; want retrying with code 99 and the vendor's message", p)
		}
		if p.ResumeAt == nil || p.ResumeAt.Before(started.Add(delay-time.Second)) || p.ResumeAt.After(time.Now().Add(delay)) {
			t.Errorf("part %d resumes at %v; want about a minute from now", p.Part, p.ResumeAt)
		}
		// The time shown is asynq's own.
		ti, err := asynq.NewInspector(h.aopt).GetTaskInfo("dialq-nxcloud", queue.PartTaskID(sum.Batch, p.Part))
		if err != nil || ti.State != asynq.TaskStateRetry || ti.NextProcessAt.Sub(*p.ResumeAt).Abs() > 2*time.Second {
			t.Errorf("asynq task %+v, %v; want retry at %v", ti, err, p.ResumeAt)
		}
	}
	var logged int
	for _, e := range hook.AllEntries() {
		if strings.HasPrefix(e.Message, "vendor call failed, part retries") {
			logged++
			if e.Data["code"] != "99" || e.Data["next_attempt"] == nil {
				t.Errorf("log line %q %v; want code and next attempt", e.Message, e.Data)
			}
		}
	}
	if logged != 2 {
		t.Errorf("%d failed attempts logged; want 2", logged)
	}
}
