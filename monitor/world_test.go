package monitor

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialq/dialq/compliance"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/internal/testworld"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/lifecycle"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/vendors/flashai"
)

// world is a batch pages test's system: a Redis, the fake vendor over loopback,
// the worker's handlers in process, and the monitor Handler over loopback with the
// batch pages on, wired as cmd/worker wires them.
type world struct {
	t     *testing.T
	db    *testredis.DB
	aopt  asynq.RedisClientOpt
	fake  *fakevendor.Server
	env   map[string]string
	store *lifecycle.Manager
	deps  *jobs.Deps
	srv   *httptest.Server
	// summaries counts FlashAI call summaries asked through the pages.
	summaries *countingSummarizer
}

type countingSummarizer struct {
	CallSummarizer
	mu sync.Mutex
	n  int
}

func (c *countingSummarizer) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *countingSummarizer) GetBatchPlanCallSummary(ctx context.Context, name string) (*flashai.CallSummary, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.CallSummarizer.GetBatchPlanCallSummary(ctx, name)
}

func newWorld(t *testing.T, cfg HTTPConfig) *world {
	t.Helper()
	db := testredis.New(t)
	v := testworld.StartVendor(t, testworld.Seed(42))
	deps := testworld.Deps(t, v.Env, db.Client, testworld.Logger(t))
	store := lifecycle.New(db.Client, nil, nil, nil)
	aopt := redisconf.AsynqOpt(db.Opt)
	lc, li := testworld.Queue(t, aopt)
	deps.Lifecycle = lifecycle.New(db.Client, lc, li, deps.Log)
	deps.Gate = compliance.NewGate(compliance.NewStore(db.Client))

	w := &world{t: t, db: db, aopt: redisconf.AsynqOpt(db.Opt), fake: v.Fake, env: v.Env, store: store, deps: deps}
	cfg.RedisConnOpt = w.aopt
	cfg.Registry = prometheus.NewRegistry()
	cfg.Batches = store
	if deps.FlashAI != nil {
		w.summaries = &countingSummarizer{CallSummarizer: deps.FlashAI}
		cfg.FlashAI = w.summaries
	}
	h, err := NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	w.srv = httptest.NewServer(h)
	t.Cleanup(w.srv.Close)
	return w
}

// startWorker runs the jobs handlers in process until stop or the test's end.
func (w *world) startWorker() (stop func()) {
	w.t.Helper()
	opt := testworld.ServerOptions()
	// Fewer workers and a flat retry delay, as these tests were written with.
	opt.Concurrency = 2
	opt.RetryDelay = func(int, error, *asynq.Task) time.Duration { return 100 * time.Millisecond }
	_, stop = testworld.StartWorker(w.t, w.aopt, w.deps, opt)
	return stop
}

// enqueue puts list through the real enqueue path with the example campaign.
func (w *world) enqueue(vendor, list string, partSize int) string {
	w.t.Helper()
	return testworld.Enqueue(w.t, w.db, testworld.Batch{Vendor: vendor, List: list, PartSize: partSize, Source: "list.csv"}).Batch
}

// waitSettled waits until batch id has nothing pending and no part queued or running.
func (w *world) waitSettled(id string, timeout time.Duration) *ledger.Status {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := w.store.Status(context.Background(), id)
		if err != nil {
			w.t.Fatal(err)
		}
		final := st.PartStates[ledger.PartDone] + st.PartStates[ledger.PartFailed] + st.PartStates[ledger.PartCancelled]
		if st.Pending == 0 && st.PartStates[ledger.PartQueued] == 0 && st.PartStates[ledger.PartRunning] == 0 &&
			st.PartStates[ledger.PartThrottled] == 0 && !(final == st.Parts && !st.Finished) {
			return st
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("batch %s not settled after %s: %+v", id, timeout, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFinished waits until batch id is finished (its end time set).
func (w *world) waitFinished(id string, timeout time.Duration) *ledger.Status {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := w.status(id)
		if st.Finished && st.FinishedAt != nil {
			return st
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("batch %s not finished after %s: %+v", id, timeout, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (w *world) status(id string) *ledger.Status {
	w.t.Helper()
	st, err := w.store.Status(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

// phones makes n distinct valid CN mobile numbers.
func phones(n, offset int) []string { return testworld.Phones(n, offset) }

// listOf is a one-column list of the numbers followed by the junk rows.
func listOf(numbers []string, junk ...string) string {
	return strings.Join(append(append([]string{}, numbers...), junk...), "\n") + "\n"
}

// leaks returns the numbers of want found in body, whole or as their last nine
// digits (a number printed without its prefix).
func leaks(body string, want []string) []string {
	var out []string
	for _, p := range want {
		if strings.Contains(body, p) || strings.Contains(body, p[2:]) {
			out = append(out, p)
		}
	}
	return out
}
