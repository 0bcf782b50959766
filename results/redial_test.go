package results_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/results"
)

func recycleCampaign(t *testing.T, block string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "flashai.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(b))
	return []byte(s[:len(s)-1] + `, "recycle": ` + block + "}")
}

// latestTruth is the fake's fate of each number in its latest plan (a redial's
// plan name ends in _r<k>).
func (w *world) latestTruth() (map[string]string, map[string]int) {
	latest, plans := map[string]string{}, map[string]int{}
	best := map[string]string{}
	for name, plan := range w.fake.FlashAIResults() {
		for ph, d := range plan {
			plans[ph]++
			if name > best[ph] { // "_r2" sorts after the first plan's "_<part>"
				best[ph], latest[ph] = name, d
			}
		}
	}
	return latest, plans
}

func (w *world) waitRedialled(id string, timeout time.Duration) *results.Status {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := w.batches.Status(context.Background(), id)
		if err != nil {
			w.t.Fatal(err)
		}
		rs, err := results.StatusOf(context.Background(), w.results, st)
		if err != nil {
			w.t.Fatal(err)
		}
		if rs.Complete && rs.Redialled > 0 {
			return rs
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("not complete with redials after %s: %+v", timeout, rs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRedial: numbers not answered or not called are sent once more after a
// second, in a new plan; answered ones never; the status counts each number at
// its latest attempt, and the export matches the fake's latest fates.
func TestRedial(t *testing.T) {
	w := setup(t, fakevendor.FlashAICallsConfig{Enabled: true, Answer: 0.5, NotCalled: 0.2, Delay: 300 * time.Millisecond},
		100*time.Millisecond, time.Hour)
	w.start()
	sum, phones := w.enqueueWith("flashai", recycleCampaign(t, `{"on": ["not_answered", "not_called"], "after": "1s", "max_attempts": 2}`), 400, 200)
	rs := w.waitRedialled(sum.Batch, 30*time.Second)
	latest, plans := w.latestTruth()
	first := map[string]string{}
	for name, plan := range w.fake.FlashAIResults() {
		if !strings.Contains(name, "_r") {
			for ph, d := range plan {
				first[ph] = d
			}
		}
	}
	redialled := 0
	for _, ph := range phones {
		switch {
		case first[ph] == "answered" && plans[ph] != 1:
			t.Errorf("answered %s was redialled", ph)
		case first[ph] != "answered" && plans[ph] != 2:
			t.Errorf("%s (%s) in %d plans; want 2", ph, first[ph], plans[ph])
		}
		if plans[ph] == 2 {
			redialled++
		}
	}
	if int(rs.Redialled) != redialled || redialled == 0 {
		t.Errorf("status redialled %d; the fake got %d", rs.Redialled, redialled)
	}
	var want results.Status
	for _, d := range latest {
		switch d {
		case "answered":
			want.Answered++
		case "not_answered":
			want.NotAnswered++
		case "not_called":
			want.NotCalled++
		}
	}
	if rs.Answered != want.Answered || rs.NotAnswered != want.NotAnswered || rs.NotCalled != want.NotCalled || rs.Pending != 0 {
		t.Errorf("status %+v; want latest %+v", rs, want)
	}
	if diff := cmp.Diff(latest, w.collected(sum.Batch)); diff != "" {
		t.Errorf("latest results (-fake +dialq):\n%s", diff)
	}
	led := w.fake.Ledger(fakevendor.FlashAI)
	for n, c := range led.Numbers {
		if c > 2 {
			t.Errorf("%s reached the fake %d times", n, c)
		}
	}
}

// TestRedialCrash: the redial's addPlan reaches the vendor but its answer is lost
// (as when the worker dies mid-call): the retry sends the same plan name, the
// vendor's 101007 is verified, and no number goes out twice.
func TestRedialCrash(t *testing.T) {
	w := setup(t, fakevendor.FlashAICallsConfig{Enabled: true, Answer: 0.3, Delay: 200 * time.Millisecond},
		100*time.Millisecond, time.Hour)
	var once sync.Once
	dropped := false
	fake := w.fake
	w.setHandler(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if strings.HasSuffix(r.URL.Path, "/addPlan") && bytes.Contains(body, []byte(`_r2"`)) {
			hit := false
			once.Do(func() { hit = true })
			if hit {
				fake.ServeHTTP(httptestRecorder{}, r) // the vendor takes it...
				dropped = true
				panic(http.ErrAbortHandler) // ...and the answer is lost
			}
		}
		fake.ServeHTTP(rw, r)
	}))
	w.start()
	sum, _ := w.enqueueWith("flashai", recycleCampaign(t, `{"on": ["not_answered"], "after": "1s", "max_attempts": 2}`), 100, 100)
	rs := w.waitRedialled(sum.Batch, 30*time.Second)
	if !dropped {
		t.Fatal("the redial's answer was never dropped")
	}
	_, plans := w.latestTruth()
	n := 0
	for _, c := range w.fake.Ledger(fakevendor.FlashAI).Numbers {
		if c > 2 {
			t.Errorf("a number reached the fake %d times", c)
		}
		if c == 2 {
			n++
		}
	}
	if n != int(rs.Redialled) || n == 0 {
		t.Errorf("fake holds %d numbers twice; status redialled %d (plans %d)", n, rs.Redialled, len(plans))
	}
}

// httptestRecorder discards a response.
type httptestRecorder struct{}

func (httptestRecorder) Header() http.Header         { return http.Header{} }
func (httptestRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (httptestRecorder) WriteHeader(int)             {}

// TestRedialHeld: a paused batch's redial waits until it is resumed; a cancelled
// batch's redial never goes out. (The hold is written as the operator's commands
// write it while a batch is open.)
func TestRedialHeld(t *testing.T) {
	for _, hold := range []string{"paused", "cancelled"} {
		t.Run(hold, func(t *testing.T) {
			w := setup(t, fakevendor.FlashAICallsConfig{Enabled: true, Answer: 0.3, Delay: 100 * time.Millisecond},
				100*time.Millisecond, time.Hour)
			w.start()
			sum, _ := w.enqueueWith("flashai", recycleCampaign(t, `{"on": ["not_answered"], "after": "1s", "max_attempts": 2}`), 50, 50)
			w.waitComplete(sum.Batch, 20*time.Second)
			ctx := context.Background()
			if err := w.db.Client.HSet(ctx, ledger.ManifestKey(sum.Batch), "control", hold).Err(); err != nil {
				t.Fatal(err)
			}
			// The redial comes due (1s) and meets the hold: paused, its task is sent
			// back with the pause; cancelled, it is stopped and leaves the queue.
			n := 0
			if hold == "paused" {
				if n = w.redialsDue(sum.Batch); n == 0 {
					t.Fatal("no redial due to hold")
				}
			}
			w.waitRedialsHeld(sum.Batch, "flashai", n)
			for name := range w.fake.FlashAIResults() {
				if strings.Contains(name, "_r2") {
					t.Fatalf("redialled while %s", hold)
				}
			}
			st, _ := w.batches.Status(ctx, sum.Batch)
			rs, _ := results.StatusOf(ctx, w.results, st)
			if hold == "cancelled" {
				if rs.Redialled != 0 || !rs.Complete {
					t.Errorf("cancelled: %+v", rs)
				}
				return
			}
			if rs.Complete {
				t.Errorf("paused with a redial due, yet complete: %+v", rs)
			}
			w.db.Client.HDel(ctx, ledger.ManifestKey(sum.Batch), "control")
			if rs := w.waitRedialled(sum.Batch, 20*time.Second); rs.Redialled == 0 {
				t.Errorf("resumed: %+v", rs)
			}
		})
	}
}

// TestRedialHeldAfterFinish: once a batch finished, pause, resume and cancel act
// on its redials (Store.Hold, which enqueue pause|resume|cancel fall back to).
func TestRedialHeldAfterFinish(t *testing.T) {
	w := setup(t, fakevendor.FlashAICallsConfig{Enabled: true, Answer: 0.3, Delay: 100 * time.Millisecond},
		100*time.Millisecond, time.Hour)
	w.start()
	sum, _ := w.enqueueWith("flashai", recycleCampaign(t, `{"on": ["not_answered"], "after": "2s", "max_attempts": 2}`), 60, 30)
	w.waitComplete(sum.Batch, 20*time.Second)
	ctx := context.Background()
	if ok, err := w.results.Hold(ctx, sum.Batch, "resume"); ok || err != nil {
		t.Fatalf("resume of redials not held: %v %v", ok, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if ok, err := w.results.Hold(ctx, sum.Batch, "pause"); err != nil {
			t.Fatal(err)
		} else if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no redial came due to pause")
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.waitRedialsHeld(sum.Batch, "flashai", w.redialsDue(sum.Batch)) // each came due (2s) and met the pause
	if len(w.fake.FlashAIResults()) != 2 {
		t.Fatalf("redialled while paused: plans %d", len(w.fake.FlashAIResults()))
	}
	// Cancel while paused: every due redial stops, and the results are complete.
	if ok, err := w.results.Hold(ctx, sum.Batch, "cancel"); !ok || err != nil {
		t.Fatalf("cancel: %v %v", ok, err)
	}
	st, _ := w.batches.Status(ctx, sum.Batch)
	rs, _ := results.StatusOf(ctx, w.results, st)
	if !rs.Complete || rs.Redialled != 0 {
		t.Errorf("after cancel: %+v", rs)
	}
	w.waitRedialsHeld(sum.Batch, "flashai", 0) // each ran again, found itself stopped, and is gone
	if len(w.fake.FlashAIResults()) != 2 {
		t.Errorf("redialled after cancel")
	}
}
