package jobs_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/ratelimit"
	"github.com/dialq/dialq/vendors/registry"
	"github.com/dialq/dialq/webhook"
)

// Faults the vendor answers before acting: every vendor ends fully delivered, each
// number once.
func TestFaultsEndDelivered(t *testing.T) {
	for _, vendor := range registry.Names() {
		t.Run(vendor, func(t *testing.T) {
			h := setup(t)
			h.fake.SetFaults(fakevendor.Faults{ServerError: 0.15, Throttle: 0.1, RetryAfterSeconds: 1, SystemError: 0.15})
			h.startWorker(h.deps())
			phones := numbers(2000, 20000)
			sum := h.enqueue(vendor, lines(phones), 250, speechCalls(vendor, 125))
			st := h.waitSettled(sum.Batch, 90*time.Second)
			if st.Delivered != 2000 || !st.Finished {
				t.Fatalf("status %+v; want all 2000 delivered", st)
			}
			h.ledgerOnce(vendor, asSent(vendor, phones))
		})
	}
}

// Faults that leave the outcome unknown (a dropped connection, a broken body, a
// timeout): vendors that recognise repeats are sent again and end delivered;
// the others park the call as uncertain. Never twice.
func TestAmbiguousFaults(t *testing.T) {
	for _, vendor := range registry.Names() {
		t.Run(vendor, func(t *testing.T) {
			h := setup(t)
			h.fake.SetFaults(fakevendor.Faults{Drop: 0.15, Malformed: 0.15})
			h.startWorker(h.deps())
			phones := numbers(2000, 40000)
			sum := h.enqueue(vendor, lines(phones), 200, speechCalls(vendor, 100))
			st := h.waitSettled(sum.Batch, 90*time.Second)
			l := h.fake.Ledger(vendor)
			for n, c := range l.Numbers {
				if c != 1 {
					t.Errorf("%s received %s %d times", vendor, n, c)
				}
			}
			if int64(len(l.Numbers)) != st.Delivered {
				t.Errorf("ledger holds %d numbers, batch says %d delivered", len(l.Numbers), st.Delivered)
			}
			switch vendor {
			case "flashai":
				if st.Delivered != 2000 || st.Uncertain != 0 {
					t.Errorf("flashai can reconcile: status %+v", st)
				}
			default:
				if st.Uncertain == 0 {
					t.Errorf("%s: expected some uncertain calls with these faults: %+v", vendor, st)
				}
				if st.Delivered+st.Uncertain != 2000 {
					t.Errorf("status %+v", st)
				}
			}
		})
	}
}

// A worker that died during a FlashAI call left it in flight; the plan had gone
// through. The next attempt sends it again, the vendor answers 101007, and the
// part counts as delivered: each number once.
func TestReconcileFlashAIInflight(t *testing.T) {
	h := setup(t)
	phones := numbers(300, 60000)
	sum := h.enqueue("flashai", lines(phones), 0, 0)
	d := h.deps()
	h.deadFlashAICall(d, sum.Batch, chunking.Range{Lo: 0, Hi: 300})
	h.startWorker(d)
	st := h.waitSettled(sum.Batch, 30*time.Second)
	if st.Delivered != 300 || st.Uncertain != 0 || !st.Finished {
		t.Fatalf("status %+v", st)
	}
	h.ledgerOnce("flashai", phones)
	if got := h.fake.Ledger("flashai").Tasks; got != 1 {
		t.Errorf("vendor plans = %d; want 1", got)
	}
}

// NXCloud cannot say whether a call arrived: an in-flight call is parked as
// uncertain, never resent, until an operator resolves it.
func TestUncertainUntilResolved(t *testing.T) {
	for _, resolution := range []string{"delivered", "resend"} {
		t.Run(resolution, func(t *testing.T) {
			h := setup(t)
			phones := numbers(500, 70000)
			sum := h.enqueue("nxcloud", lines(phones), 250, 0)
			ctx := context.Background()
			if err := h.store.MarkInflight(ctx, sum.Batch, 1, chunking.Range{Lo: 0, Hi: 250}); err != nil {
				t.Fatal(err)
			}
			h.startWorker(h.deps())
			st := h.waitSettled(sum.Batch, 30*time.Second)
			if st.Delivered != 250 || st.Uncertain != 250 || st.Finished || st.PartStates[ledger.PartUncertain] != 1 {
				t.Fatalf("status %+v; want part 1 uncertain", st)
			}
			if n := len(h.fake.Ledger("nxcloud").Numbers); n != 250 {
				t.Fatalf("vendor got %d numbers; the uncertain part must not be sent", n)
			}
			if _, err := h.lifecycle().Resolve(ctx, sum.Batch, 1, resolution == "delivered"); err != nil {
				t.Fatal(err)
			}
			st = h.waitSettled(sum.Batch, 30*time.Second)
			if st.Delivered != 500 || st.Uncertain != 0 || !st.Finished {
				t.Fatalf("after resolve %s: %+v", resolution, st)
			}
			want := 250
			if resolution == "resend" {
				want = 500
			}
			if n := len(h.fake.Ledger("nxcloud").Numbers); n != want {
				t.Errorf("vendor holds %d numbers; want %d", n, want)
			}
		})
	}
}

// A speech part that failed after its create resumes with appends to the same
// task: one vendor task, each number once.
func TestSpeechResumesFromCheckpoint(t *testing.T) {
	h := setup(t)
	phones := numbers(3000, 80000)
	d := h.deps()
	// Let the create through, then fail every call for a while.
	var mu sync.Mutex
	calls := 0
	d.Limiter = limiterFunc(func() {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 2 {
			h.fake.SetFaults(fakevendor.Faults{ServerError: 1})
			time.AfterFunc(4*time.Second, func() { h.fake.SetFaults(fakevendor.Faults{}) })
		}
	})
	h.startWorker(d)
	sum := h.enqueue("speech", lines(phones), 3000, 1000)
	st := h.waitSettled(sum.Batch, 60*time.Second)
	if st.Delivered != 3000 || !st.Finished {
		t.Fatalf("status %+v", st)
	}
	h.ledgerOnce("speech", phones)
	if got := h.fake.Ledger("speech").Tasks; got != 1 {
		t.Errorf("speech tasks = %d; want 1 (appends resumed on the same task)", got)
	}
}

type limiterFunc func()

func (f limiterFunc) Wait(context.Context, string, time.Duration) (time.Duration, error) {
	f()
	return 0, nil
}

func TestCancelStopsFurtherCalls(t *testing.T) {
	h := setup(t)
	phones := numbers(2000, 90000)
	sum := h.enqueue("nxcloud", lines(phones), 100, 0)
	if err := h.lifecycle().Cancel(context.Background(), sum.Batch); err != nil {
		t.Fatal(err)
	}
	h.startWorker(h.deps())
	st := h.waitSettled(sum.Batch, 30*time.Second)
	if st.Delivered != 0 || st.Failed != 2000 || !st.Finished || st.PartStates[ledger.PartCancelled] != 20 {
		t.Fatalf("status %+v; want every number failed as cancelled", st)
	}
	if n := len(h.fake.Ledger("nxcloud").Numbers); n != 0 {
		t.Errorf("vendor received %d numbers after cancel", n)
	}
}

// Two workers sharing a fleet limit of 10 calls a second stay at or under it.
func TestFleetRateLimit(t *testing.T) {
	h := setup(t)
	phones := numbers(600, 100000)
	for range 2 {
		d := h.deps()
		l, err := ratelimit.New(h.db.Client, map[string]float64{"nxcloud": 10})
		if err != nil {
			t.Fatal(err)
		}
		d.Limiter = l
		h.startWorker(d)
	}
	start := time.Now()
	sum := h.enqueue("nxcloud", lines(phones), 20, 0) // 30 calls
	h.waitSettled(sum.Batch, 30*time.Second)
	took := time.Since(start)
	st := h.fake.Stats()
	if st.Calls["nxcloud"] != 30 {
		t.Fatalf("calls = %d; want 30", st.Calls["nxcloud"])
	}
	if st.MaxPerSec["nxcloud"] > 11 {
		t.Errorf("busiest second had %d calls; limit 10", st.MaxPerSec["nxcloud"])
	}
	if took < 2500*time.Millisecond {
		t.Errorf("30 calls at 10/s took %s; the limit was not applied", took)
	}
}

func TestFinishedBatchEventAndWebhook(t *testing.T) {
	h := setup(t)
	got := make(chan ledger.Event, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev ledger.Event
		b, _ := io.ReadAll(r.Body)
		if !webhook.Verify("hook-secret", b, r.Header.Get("X-Dialq-Signature")) {
			t.Errorf("webhook signature %q does not verify", r.Header.Get("X-Dialq-Signature"))
		}
		if err := json.Unmarshal(b, &ev); err == nil && r.Header.Get("X-Dialq-Event-Id") == ev.ID {
			got <- ev
		}
	}))
	defer hook.Close()
	ctx := context.Background()
	phones := numbers(10, 110000)
	sum := h.enqueueCampaign("yccall", `{"assign_type":2,"assign_agent":"q","task_scale":"1:1","task_name":"hook","webhook":"`+hook.URL+`"}`, lines(phones))
	d := h.deps()
	// The receiver is on loopback, so its address is listed.
	sender, err := webhook.New(webhook.Config{AllowedHosts: "127.0.0.1", Secret: "hook-secret"})
	if err != nil {
		t.Fatal(err)
	}
	d.Webhook = sender
	h.startWorker(d)
	select {
	case ev := <-got:
		if ev.Type != "batch.finished" || ev.Status.Batch != sum.Batch || ev.Status.Delivered != 10 || ev.ID != queue.EventID(sum.Batch, 1) {
			t.Errorf("webhook event %+v", ev)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook")
	}
	msgs, err := h.db.Client.XRange(ctx, h.store.EventsStream(), "-", "+").Result()
	if err != nil || len(msgs) != 1 || msgs[0].Values["batch"] != sum.Batch {
		t.Errorf("events stream = %v, %v", msgs, err)
	}
}

func TestControlsReachTheVendor(t *testing.T) {
	h := setup(t)
	h.startWorker(h.deps())
	phones := numbers(500, 120000)
	sum := h.enqueue("flashai", lines(phones), 250, 0)
	h.waitSettled(sum.Batch, 30*time.Second)
	c := asynq.NewClient(h.aopt)
	defer c.Close()
	insp := asynq.NewInspector(h.aopt)
	defer insp.Close()
	for _, tc := range []struct {
		typ string
		p   queue.ControlPayload
	}{
		{queue.TypeFlashAIControl, queue.ControlPayload{Batch: sum.Batch, Action: queue.ActionPause}},
		{queue.TypeFlashAIDelete, queue.ControlPayload{Batch: sum.Batch, Action: queue.ActionDelete, Request: "del-1"}},
	} {
		if err := h.store.SetControlNumbers(context.Background(), sum.Batch, "del-1", []string{"+86 " + phones[3]}); err != nil {
			t.Fatal(err)
		}
		task, _ := queue.NewControlTask(tc.typ, tc.p)
		info, err := c.Enqueue(task)
		if err != nil {
			t.Fatal(err)
		}
		var res queue.ControlResult
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			ti, err := insp.GetTaskInfo(info.Queue, info.ID)
			if err == nil && ti.State == asynq.TaskStateCompleted {
				_ = json.Unmarshal(ti.Result, &res)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(res.Answers) != 2 {
			t.Fatalf("%s: answers %+v; want one per plan", tc.typ, res)
		}
		for _, a := range res.Answers {
			if !a.OK {
				t.Errorf("%s %s refused: %s", tc.typ, a.Target, a.Error)
			}
		}
	}
}

// speechCalls is the call size for a test part: only speech parts take several calls.
func speechCalls(vendor string, n int) int {
	if vendor == "speech" {
		return n
	}
	return 0
}
