package jobs_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/compliance"

	"github.com/hibiken/asynq"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/internal/testworld"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/lifecycle"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/producer"
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
	v := testworld.StartVendor(t, testworld.Seed(42))
	return &harness{t: t, db: db, aopt: redisconf.AsynqOpt(db.Opt), fake: v.Fake, env: v.Env, store: lifecycle.New(db.Client, nil, nil, nil),
		log: testworld.Logger(t), setHandler: v.SetHandler}
}

// deps builds the worker's dependencies from the harness environment.
func (h *harness) deps() *jobs.Deps {
	h.t.Helper()
	d := testworld.Deps(h.t, h.env, h.db.Client, h.log)
	d.Lifecycle = h.lifecycle()
	d.Gate = compliance.NewGate(compliance.NewStore(h.db.Client))
	return d
}

// startWorker runs an in-process asynq server with the jobs handlers until the
// test ends.
func (h *harness) startWorker(d *jobs.Deps) *asynq.Server {
	h.t.Helper()
	srv, _ := testworld.StartWorker(h.t, h.aopt, d, testworld.ServerOptions())
	return srv
}

// enqueue puts a list through the real enqueue path.
func (h *harness) enqueue(vendor, list string, partSize, callSize int) *producer.Summary {
	h.t.Helper()
	return testworld.Enqueue(h.t, h.db, testworld.Batch{Vendor: vendor, List: list, PartSize: partSize, CallSize: callSize, Source: "test"})
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
func numbers(n, offset int) []string { return testworld.Phones(n, offset) }

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
	return testworld.Enqueue(h.t, h.db, testworld.Batch{Vendor: vendor, Campaign: []byte(campaignJSON), List: list, Source: "test"})
}

// lifecycle is the lifecycle manager on the test's Redis, as operators' commands use it.
func (h *harness) lifecycle() *lifecycle.Manager {
	h.t.Helper()
	c, insp := testworld.Queue(h.t, h.aopt)
	return lifecycle.New(h.db.Client, c, insp, logrus.NewEntry(h.log), h.ledgerOpts...)
}
