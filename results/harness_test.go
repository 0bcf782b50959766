package results_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/lifecycle"
	"github.com/dialq/dialq/producer"
	"github.com/dialq/dialq/results"
	"github.com/dialq/dialq/vendors"
)

// world is one test's Redis, fake vendor, worker and results machinery.
type world struct {
	t       *testing.T
	db      *testredis.DB
	aopt    asynq.RedisClientOpt
	fake    *fakevendor.Server
	fakeURL string
	env     map[string]string
	batches *lifecycle.Manager
	results *results.Store
	log     *logrus.Logger
	deps    *jobs.Deps
	poller  *results.Poller
	sched   *results.Scheduler
	cb      *results.Callbacks
	// setHandler replaces what the fake's address serves.
	setHandler func(http.Handler)
}

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// setup builds the world; calls says how the fake's calls end, interval and
// window are the poll's.
func setup(t *testing.T, calls fakevendor.FlashAICallsConfig, interval, window time.Duration) *world {
	t.Helper()
	db := testredis.New(t)
	w := &world{t: t, db: db, aopt: redisconf.AsynqOpt(db.Opt), batches: lifecycle.New(db.Client, nil, nil, nil), results: results.NewStore(db.Client, nil)}
	var hmu sync.Mutex
	var handler http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hmu.Lock()
		h := handler
		hmu.Unlock()
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	w.setHandler = func(h http.Handler) {
		hmu.Lock()
		handler = h
		hmu.Unlock()
	}
	env, err := fakevendor.DemoEnv(srv.URL, filepath.Join(t.TempDir(), "speech.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := fakevendor.ConfigFromEnv(getenv(env))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Seed, cfg.FlashAICalls = 7, calls
	w.fake = fakevendor.New(cfg)
	w.setHandler(w.fake)
	w.fakeURL, w.env = srv.URL, env
	w.log = logrus.New()
	w.log.SetOutput(testWriter{t})
	w.log.SetLevel(logrus.WarnLevel)

	d, _, err := jobs.ClientsFromEnv(getenv(env), db.Client, "configured")
	if err != nil {
		t.Fatal(err)
	}
	c, insp := asynq.NewClient(w.aopt), asynq.NewInspector(w.aopt)
	t.Cleanup(func() { c.Close(); insp.Close() })
	d.Log = logrus.NewEntry(w.log)
	d.Lifecycle = lifecycle.New(w.db.Client, c, insp, d.Log)
	d.Retry = jobs.Retry{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond, Elapsed: 3 * time.Second,
		MaxInlineWait: time.Second, ThrottleCap: 100, RepeatCap: 5, AuthAttempts: 3, PauseRecheck: 200 * time.Millisecond}
	w.sched = &results.Scheduler{Client: c, Inspector: insp, Batches: w.batches, Results: w.results, Interval: interval}
	d.Results = w.sched
	w.poller = &results.Poller{Batches: w.batches, Results: w.results, Client: d.FlashAI, Log: d.Log, Interval: interval, Window: window}
	w.poller.Redials = &results.Redialer{Batches: w.batches, Results: w.results, Client: d.FlashAI, Queue: c,
		NXCloud: d.NXCloud, Yccall: d.Yccall, Speech: d.Speech,
		Gate: d.Gate, PollIn: interval, RetryIn: 200 * time.Millisecond, Log: d.Log}
	w.deps = d
	return w
}

// withCallbacks makes addPlan carry dialq's notifyUrl pointing at h.
func (w *world) withCallbacks(base string) {
	w.t.Helper()
	cb, err := results.NewCallbacks(base, "a-test-secret-0123456789", w.db.Client)
	if err != nil {
		w.t.Fatal(err)
	}
	cb.Poll, cb.Log = w.sched.PollNow, w.deps.Log
	w.cb = cb
	w.deps.FlashAINotify = cb.Issue
	w.poller.Redials.Notify = cb.Issue
}

func (w *world) start() {
	w.t.Helper()
	mux := asynq.NewServeMux()
	jobs.Register(mux, w.deps)
	results.Register(mux, w.poller)
	srv := jobs.NewServer(w.aopt, w.deps, jobs.ServerOptions{
		Concurrency: 4, ShutdownTimeout: 5 * time.Second,
		DelayedTaskCheckInterval: 50 * time.Millisecond, TaskCheckInterval: 20 * time.Millisecond,
		RetryDelay: func(n int, err error, t *asynq.Task) time.Duration {
			if ra := vendors.RetryAfter(err); ra > 0 {
				return ra
			}
			return 100 * time.Millisecond
		},
	})
	if err := srv.Start(mux); err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(srv.Shutdown)
}

// enqueue sends n numbers to FlashAI in parts of partSize.
func (w *world) enqueue(n, partSize int) (*producer.Summary, []string) {
	w.t.Helper()
	return w.enqueueTo("flashai", n, partSize)
}

// enqueueTo sends n numbers to vendor in parts of partSize.
func (w *world) enqueueTo(vendor string, n, partSize int) (*producer.Summary, []string) {
	w.t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "examples", vendor+".json"))
	if err != nil {
		w.t.Fatal(err)
	}
	return w.enqueueWith(vendor, data, n, partSize)
}

// enqueueWith sends n numbers to vendor under campaign data.
func (w *world) enqueueWith(vendor string, data []byte, n, partSize int) (*producer.Summary, []string) {
	w.t.Helper()
	c, err := producer.CampaignJSON(vendor, data)
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := producer.Profile(vendor, partSize, 0)
	if err != nil {
		w.t.Fatal(err)
	}
	phones := make([]string, n)
	for i := range phones {
		phones[i] = fmt.Sprintf("139%08d", i)
	}
	sum, err := producer.Enqueue(context.Background(), w.db.Client, w.aopt, strings.NewReader(strings.Join(phones, "\n")+"\n"),
		producer.Request{Vendor: vendor, Region: "CN", Format: ingest.Auto, Campaign: c, Profile: p, Source: "test"})
	if err != nil {
		w.t.Fatal(err)
	}
	return sum, phones
}

// waitComplete waits until every number the vendor took has a final result.
func (w *world) waitComplete(id string, timeout time.Duration) *results.Summary {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := w.batches.Status(context.Background(), id)
		if err != nil {
			w.t.Fatal(err)
		}
		sum, err := w.results.Summary(context.Background(), id)
		if err != nil {
			w.t.Fatal(err)
		}
		if st.Pending == 0 && sum.Final() == st.Delivered {
			return sum
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("results of %s not complete after %s: delivered %d, results %+v", id, timeout, st.Delivered, sum.Counts)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// collected reads every stored result as number -> disposition of its latest
// attempt.
func (w *world) collected(id string) map[string]string {
	w.t.Helper()
	out := map[string]string{}
	attempt := map[string]int{}
	err := results.Export(context.Background(), w.batches, w.results, id, func(r results.Row) error {
		if attempt[r.Phone] >= r.Attempt {
			w.t.Errorf("number %s exported twice for attempt %d", r.Phone, r.Attempt)
		}
		attempt[r.Phone] = r.Attempt
		out[r.Phone] = r.Disposition
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

func fakeCallsOff() fakevendor.FlashAICallsConfig { return fakevendor.FlashAICallsConfig{} }

// rewireFlashAI rebuilds the FlashAI client from w.env (after its base URL moved).
func (w *world) rewireFlashAI() {
	w.t.Helper()
	d, _, err := jobs.ClientsFromEnv(getenv(w.env), w.db.Client, "flashai")
	if err != nil {
		w.t.Fatal(err)
	}
	w.deps.FlashAI = d.FlashAI
	w.poller.Client = d.FlashAI
	w.poller.Redials.Client = d.FlashAI
}
