package results_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/results"
)

// truth is the fake's view of the batch's numbers, by number as sent.
func (w *world) truth() map[string]string {
	out := map[string]string{}
	for _, plan := range w.fake.FlashAIResults() {
		for ph, d := range plan {
			if _, dup := out[ph]; dup {
				w.t.Errorf("number %s in two plans", ph)
			}
			out[ph] = d
		}
	}
	return out
}

// TestResultLoop: calls end over a second, the worker polls every 100 ms, and
// every number's result matches the fake's, counted once.
func TestResultLoop(t *testing.T) {
	w := setup(t, fakevendor.FlashAICallsConfig{Enabled: true, Answer: 0.6, NotCalled: 0.1, Delay: time.Second},
		100*time.Millisecond, time.Hour)
	w.start()
	sum, phones := w.enqueue(1200, 500)
	got := w.waitComplete(sum.Batch, 30*time.Second)
	truth := w.truth()
	if len(truth) != len(phones) {
		t.Fatalf("fake holds %d numbers; want %d", len(truth), len(phones))
	}
	if diff := cmp.Diff(truth, w.collected(sum.Batch)); diff != "" {
		t.Errorf("results (-fake +dialq):\n%s", diff)
	}
	var want results.Counts
	for _, d := range truth {
		switch d {
		case "answered":
			want.Answered++
		case "not_answered":
			want.NotAnswered++
		case "not_called":
			want.NotCalled++
		}
	}
	if got.Counts != want || got.Bad != 0 {
		t.Errorf("counts %+v bad %d; want %+v", got.Counts, got.Bad, want)
	}
	if want.Answered == 0 || want.NotAnswered == 0 || want.NotCalled == 0 {
		t.Errorf("the fake made no mix: %+v", want)
	}
	// Every slice closed: no more polls.
	s, err := w.results.Summary(context.Background(), sum.Batch)
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range s.Slices {
		if !mt.Closed || mt.EndCount == 0 {
			t.Errorf("slice %+v not closed", mt)
		}
	}
	// Keys expire with the batch's retention.
	for _, key := range w.db.Client.Keys(context.Background(), ledger.Tag(sum.Batch)+":res*").Val() {
		if ttl := w.db.Client.PTTL(context.Background(), key).Val(); ttl <= 0 {
			t.Errorf("key %s has no expiry", key)
		}
	}
}

// TestWindowExpiry: a plan stopped half-way never ends at the vendor; when the
// window closes the numbers without a call are not_called.
func TestWindowExpiry(t *testing.T) {
	w := setup(t, fakevendor.FlashAICallsConfig{Enabled: true, Answer: 1, Delay: 4 * time.Second},
		100*time.Millisecond, 1500*time.Millisecond)
	w.start()
	sum, _ := w.enqueue(200, 200)
	w.waitDelivered(sum.Batch)
	time.Sleep(500 * time.Millisecond)
	for name := range w.fake.FlashAIResults() {
		w.stopPlan(name)
	}
	got := w.waitComplete(sum.Batch, 20*time.Second)
	truth := w.truth()
	answered := 0
	for _, d := range truth {
		if d == "answered" {
			answered++
		}
	}
	if answered == 0 || answered == 200 {
		t.Fatalf("stop came at the wrong time: %d answered", answered)
	}
	if got.Answered != int64(answered) || got.NotCalled != int64(200-answered) || got.NotAnswered != 0 {
		t.Errorf("counts %+v; want %d answered, %d not_called", got.Counts, answered, 200-answered)
	}
}

// TestCallbacks: with an hour between polls, only the vendor's callback brings
// the results in; forged tokens get 404 and change nothing.
func TestCallbacks(t *testing.T) {
	w := setup(t, fakevendor.FlashAICallsConfig{Enabled: true, Answer: 0.5, Delay: 300 * time.Millisecond},
		time.Hour, 72*time.Hour)
	var mu sync.Mutex
	var handler http.Handler = http.NotFoundHandler()
	front := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := handler
		mu.Unlock()
		h.ServeHTTP(rw, r)
	}))
	defer front.Close()
	w.withCallbacks(front.URL + "/")
	mu.Lock()
	handler = w.cb
	mu.Unlock()
	w.start()
	sum, _ := w.enqueue(300, 100)

	for _, path := range []string{
		"/callbacks/flashai/" + strings.Repeat("0", 32),
		"/callbacks/flashai/" + w.cb.Token("someone_else_0"),
		"/callbacks/flashai/../x",
		"/callbacks/flashai/",
	} {
		resp, err := http.Post(front.URL+path, "application/json", strings.NewReader(`{"phone":"13900000001","status":"answered"}`))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("forged %s: status %d; want 404", path, resp.StatusCode)
		}
	}
	// The fake posts one callback per plan once its calls ended.
	got := w.waitComplete(sum.Batch, 20*time.Second)
	if got.Final() != 300 {
		t.Errorf("results %+v; want 300", got.Counts)
	}
	if diff := cmp.Diff(w.truth(), w.collected(sum.Batch)); diff != "" {
		t.Errorf("results (-fake +dialq):\n%s", diff)
	}
}

// TestPutRaces: polls racing over one slice count each number once, and an older
// view never replaces a newer one.
func TestPutRaces(t *testing.T) {
	w := setup(t, fakevendor.FlashAICallsConfig{}, time.Hour, time.Hour)
	sum, _ := w.enqueue(10, 10)
	ctx := context.Background()
	m, err := w.batches.Manifest(ctx, sum.Batch)
	if err != nil {
		t.Fatal(err)
	}
	sl := results.Slice{Part: 0, Attempt: 1, Range: chunking.Range{Lo: 0, Hi: 10}}
	older := []results.Result{{Index: 1, Disposition: results.Answered}, {Index: 2, Disposition: results.NotAnswered}}
	newer := append(older, results.Result{Index: 5, Disposition: results.NotAnswered})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, end := older, 2
			if i%2 == 0 {
				res, end = newer, 3
			}
			if _, _, err := w.results.Put(ctx, m, sl, res, false, end, false); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s, _ := w.results.Summary(ctx, sum.Batch)
	if want := (results.Counts{Answered: 1, NotAnswered: 2}); s.Counts != want {
		t.Errorf("counts %+v; want %+v", s.Counts, want)
	}
	if got, _ := w.results.Get(ctx, m, sl); len(got) != 3 {
		t.Errorf("slice holds %d results; want the newer 3", len(got))
	}
	closedRes := append(newer, results.Result{Index: 7, Disposition: results.NotCalled})
	if ok, _, _ := w.results.Put(ctx, m, sl, closedRes, true, 10, false); !ok {
		t.Error("closing put not applied")
	}
	if ok, _, _ := w.results.Put(ctx, m, sl, append(closedRes, results.Result{Index: 8, Disposition: results.Answered}), true, 10, false); ok {
		t.Error("a poll changed a closed slice")
	}
	if ok, _, _ := w.results.Put(ctx, m, sl, older, false, 2, true); !ok {
		t.Error("an import (force) did not replace")
	}
	s, _ = w.results.Summary(ctx, sum.Batch)
	if want := (results.Counts{Answered: 1, NotAnswered: 1}); s.Counts != want {
		t.Errorf("after the import: counts %+v; want %+v", s.Counts, want)
	}
}

func (w *world) waitDelivered(id string) {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := w.batches.Status(context.Background(), id)
		if err != nil {
			w.t.Fatal(err)
		}
		if st.Pending == 0 && st.Finished {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("batch %s not delivered: %+v", id, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *world) stopPlan(name string) {
	w.t.Helper()
	if err := w.deps.FlashAI.BatchPlanStop(context.Background(), name); err != nil {
		w.t.Fatal(err)
	}
}

// TestCrashMidPoll: a poll whose list answer is lost (a dropped connection, as a
// worker dying mid-poll leaves things) stores nothing; the next poll collects
// every number once.
func TestCrashMidPoll(t *testing.T) {
	w := setup(t, fakevendor.FlashAICallsConfig{Enabled: true, Answer: 0.5, NotCalled: 0.1, Delay: 200 * time.Millisecond},
		100*time.Millisecond, time.Hour)
	var mu sync.Mutex
	drops := 0
	fake := w.fake
	w.setHandler(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/getBatchPlanCallList") {
			mu.Lock()
			drop := drops < 3
			drops++
			mu.Unlock()
			if drop {
				panic(http.ErrAbortHandler)
			}
		}
		fake.ServeHTTP(rw, r)
	}))
	w.start()
	sum, _ := w.enqueue(600, 200)
	got := w.waitComplete(sum.Batch, 20*time.Second)
	if got.Final() != 600 {
		t.Errorf("counts %+v; want 600 numbers once", got.Counts)
	}
	if diff := cmp.Diff(w.truth(), w.collected(sum.Batch)); diff != "" {
		t.Errorf("results (-fake +dialq):\n%s", diff)
	}
}
