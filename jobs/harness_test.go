package jobs_test

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

	"github.com/dialq/dialq/compliance"

	"github.com/hibiken/asynq"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/lifecycle"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/producer"
	"github.com/dialq/dialq/vendors"
)

// harness is one test's world: a Redis, the fake vendor over loopback HTTP, and
// vendor clients configured from the same environment as the fake.
type harness struct {
	t    *testing.T
	db   *testredis.DB
	aopt asynq.RedisClientOpt
	fake *fakevendor.Server
	env  map[string]string
	// store reads the ledger and makes the moves a test sets up by hand.
	store *lifecycle.Manager
	// ledgerOpts are the ledger options of every Manager the harness builds.
	ledgerOpts []ledger.Option
	log        *logrus.Logger
	// setHandler replaces what the vendor's address serves (a wrapper around fake).
	setHandler func(http.Handler)
}

func setup(t *testing.T) *harness {
	t.Helper()
	db := testredis.New(t)
	var handler http.Handler = http.NotFoundHandler()
	var mu sync.RWMutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.RLock()
		h := handler
		mu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	env, err := fakevendor.DemoEnv(srv.URL, filepath.Join(t.TempDir(), "speech.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := fakevendor.ConfigFromEnv(getenv(env))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Seed = 42
	fake := fakevendor.New(cfg)
	mu.Lock()
	handler = fake
	mu.Unlock()
	log := logrus.New()
	log.SetOutput(testWriter{t})
	log.SetLevel(logrus.WarnLevel)
	setHandler := func(h http.Handler) {
		mu.Lock()
		handler = h
		mu.Unlock()
	}
	return &harness{t: t, db: db, aopt: redisconf.AsynqOpt(db.Opt), fake: fake, env: env, store: lifecycle.New(db.Client, nil, nil, nil),
		log: log, setHandler: setHandler}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// fastRetry keeps tests quick while exercising the same paths.
var fastRetry = jobs.Retry{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond, Elapsed: 3 * time.Second,
	MaxInlineWait: time.Second, ThrottleCap: 100, RepeatCap: 5, AuthAttempts: 3, PauseRecheck: 200 * time.Millisecond}

// deps builds the worker's dependencies from the harness environment.
func (h *harness) deps() *jobs.Deps {
	h.t.Helper()
	d, _, err := jobs.ClientsFromEnv(getenv(h.env), h.db.Client, "configured")
	if err != nil {
		h.t.Fatal(err)
	}
	d.Retry = fastRetry
	d.Log = logrus.NewEntry(h.log)
	d.Lifecycle = h.lifecycle()
	d.Gate = compliance.NewGate(compliance.NewStore(h.db.Client))
	return d
}

// startWorker runs an in-process asynq server with the jobs handlers until the
// test ends.
func (h *harness) startWorker(d *jobs.Deps) *asynq.Server {
	h.t.Helper()
	mux := asynq.NewServeMux()
	jobs.Register(mux, d)
	srv := jobs.NewServer(h.aopt, d, jobs.ServerOptions{
		Concurrency: 4, ShutdownTimeout: 5 * time.Second,
		DelayedTaskCheckInterval: 100 * time.Millisecond, TaskCheckInterval: 50 * time.Millisecond,
		RetryDelay: func(n int, err error, t *asynq.Task) time.Duration {
			if ra := vendors.RetryAfter(err); ra > 0 {
				return ra
			}
			return 100 * time.Millisecond
		},
	})
	if err := srv.Start(mux); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(srv.Shutdown)
	return srv
}

// enqueue puts a list through the real enqueue path.
func (h *harness) enqueue(vendor, list string, partSize, callSize int) *producer.Summary {
	h.t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "examples", vendor+".json"))
	if err != nil {
		h.t.Fatal(err)
	}
	c, err := producer.CampaignJSON(vendor, data)
	if err != nil {
		h.t.Fatal(err)
	}
	p, err := producer.Profile(vendor, partSize, callSize)
	if err != nil {
		h.t.Fatal(err)
	}
	sum, err := producer.Enqueue(context.Background(), h.db.Client, h.aopt, strings.NewReader(list), producer.Request{
		Vendor: vendor, Region: "CN", Format: ingest.Auto, Campaign: c, Profile: p, Source: "test",
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return sum
}

// waitSettled waits until the batch has no pending numbers and no part runs.
func (h *harness) waitSettled(id string, timeout time.Duration) *ledger.Status {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := h.store.Status(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		checkSum(h.t, st)
		final := st.PartStates[ledger.PartDone] + st.PartStates[ledger.PartFailed] + st.PartStates[ledger.PartCancelled]
		// Status reads the manifest before the parts: a snapshot may show every
		// part final a moment before the batch's finish.
		finishing := final == st.Parts && !st.Finished
		if st.Pending == 0 && st.PartStates[ledger.PartQueued] == 0 && st.PartStates[ledger.PartRunning] == 0 &&
			st.PartStates[ledger.PartThrottled] == 0 && st.PartStates[ledger.PartPaused] == 0 && !finishing {
			return st
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("batch %s not settled after %s: %+v", id, timeout, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkSum asserts the batch's account adds up.
func checkSum(t *testing.T, st *ledger.Status) {
	t.Helper()
	if got := st.Rejected + st.Suppressed + st.Delivered + st.Refused + st.Failed + st.Uncertain + st.Pending; got != st.Read || st.Pending < 0 {
		t.Fatalf("account does not add up: read %d != rejected %d + suppressed %d + delivered %d + refused %d + failed %d + uncertain %d + pending %d",
			st.Read, st.Rejected, st.Suppressed, st.Delivered, st.Refused, st.Failed, st.Uncertain, st.Pending)
	}
}

// numbers makes n distinct valid CN mobile numbers, one a line.
func numbers(n, offset int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("139%08d", offset+i)
	}
	return out
}

func lines(phones []string) string { return strings.Join(phones, "\n") + "\n" }

// ledgerOnce asserts that the vendor received exactly the given numbers, once each.
func (h *harness) ledgerOnce(vendor string, want []string) {
	h.t.Helper()
	l := h.fake.Ledger(vendor)
	for n, c := range l.Numbers {
		if c != 1 {
			h.t.Errorf("%s received %s %d times", vendor, n, c)
		}
	}
	missing := 0
	for _, n := range want {
		if l.Numbers[n] == 0 {
			missing++
		}
	}
	if missing > 0 || len(l.Numbers) != len(want) {
		h.t.Errorf("%s ledger holds %d numbers, want %d (%d missing)", vendor, len(l.Numbers), len(want), missing)
	}
}

// asSent is how a test number reaches vendor.
func asSent(vendor string, phones []string) []string {
	if vendor != "nxcloud" {
		return phones
	}
	out := make([]string, len(phones))
	for i, p := range phones {
		out[i] = "86" + p
	}
	return out
}

// enqueueCampaign enqueues with campaign JSON given inline.
func (h *harness) enqueueCampaign(vendor, campaignJSON, list string) *producer.Summary {
	h.t.Helper()
	c, err := producer.CampaignJSON(vendor, []byte(campaignJSON))
	if err != nil {
		h.t.Fatal(err)
	}
	p, _ := producer.Profile(vendor, 0, 0)
	sum, err := producer.Enqueue(context.Background(), h.db.Client, h.aopt, strings.NewReader(list), producer.Request{
		Vendor: vendor, Region: "CN", Format: ingest.Auto, Campaign: c, Profile: p, Source: "test",
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return sum
}

// lifecycle is the lifecycle manager on the test's Redis, as operators' commands use it.
func (h *harness) lifecycle() *lifecycle.Manager {
	h.t.Helper()
	c, insp := asynq.NewClient(h.aopt), asynq.NewInspector(h.aopt)
	h.t.Cleanup(func() { c.Close(); insp.Close() })
	return lifecycle.New(h.db.Client, c, insp, logrus.NewEntry(h.log), h.ledgerOpts...)
}
