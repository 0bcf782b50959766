package results_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/internal/testworld"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/lifecycle"
	"github.com/dialq/dialq/producer"
	"github.com/dialq/dialq/results"
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

// setup builds the world; calls says how the fake's calls end, interval and
// window are the poll's.
func setup(t *testing.T, calls fakevendor.FlashAICallsConfig, interval, window time.Duration) *world {
	t.Helper()
	db := testredis.New(t)
	w := &world{t: t, db: db, aopt: redisconf.AsynqOpt(db.Opt), batches: lifecycle.New(db.Client, nil, nil, nil), results: results.NewStore(db.Client, nil)}
	v := testworld.StartVendor(t, func(cfg *fakevendor.Config) { cfg.Seed, cfg.FlashAICalls = 7, calls })
	w.fake, w.fakeURL, w.env, w.setHandler = v.Fake, v.URL, v.Env, v.SetHandler
	w.log = testworld.Logger(t)

	d := testworld.Deps(t, v.Env, db.Client, w.log)
	c, insp := testworld.Queue(t, w.aopt)
	d.Lifecycle = lifecycle.New(w.db.Client, c, insp, d.Log)
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
	opt := testworld.ServerOptions()
	opt.DelayedTaskCheckInterval, opt.TaskCheckInterval = 50*time.Millisecond, 20*time.Millisecond
	testworld.StartWorker(w.t, w.aopt, w.deps, opt, func(mux *asynq.ServeMux) { results.Register(mux, w.poller) })
}

// enqueue sends n numbers to FlashAI in parts of partSize.
func (w *world) enqueue(n, partSize int) (*producer.Summary, []string) {
	w.t.Helper()
	return w.enqueueTo("flashai", n, partSize)
}

// enqueueTo sends n numbers to vendor in parts of partSize.
func (w *world) enqueueTo(vendor string, n, partSize int) (*producer.Summary, []string) {
	w.t.Helper()
	return w.enqueueWith(vendor, nil, n, partSize)
}

// enqueueWith sends n numbers to vendor under campaign data (nil: the example's).
func (w *world) enqueueWith(vendor string, data []byte, n, partSize int) (*producer.Summary, []string) {
	w.t.Helper()
	phones := testworld.Phones(n, 0)
	sum := testworld.Enqueue(w.t, w.db, testworld.Batch{Vendor: vendor, Campaign: data, List: strings.Join(phones, "\n") + "\n",
		PartSize: partSize, Source: "test"})
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
	d, _, err := jobs.ClientsFromEnv(testworld.Getenv(w.env), w.db.Client, "flashai")
	if err != nil {
		w.t.Fatal(err)
	}
	w.deps.FlashAI = d.FlashAI
	w.poller.Client = d.FlashAI
	w.poller.Redials.Client = d.FlashAI
}
