package jobs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/internal/testworld"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/producer"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/ratelimit"
	"github.com/dialq/dialq/vendors/flashai"
)

// enqueueAs enqueues list under an operator-chosen batch id.
func (h *harness) enqueueAs(vendor, id, list string, partSize int) (*producer.Summary, error) {
	h.t.Helper()
	c, err := producer.CampaignJSON(vendor, exampleCampaign(h.t, vendor))
	if err != nil {
		h.t.Fatal(err)
	}
	p, err := producer.Profile(vendor, partSize, speechCalls(vendor, partSize))
	if err != nil {
		h.t.Fatal(err)
	}
	return producer.Enqueue(context.Background(), h.db.Client, h.aopt, strings.NewReader(list), producer.Request{
		Vendor: vendor, Region: "CN", Format: ingest.Auto, Campaign: c, Profile: p, Source: "test", BatchID: id,
	})
}

// Finding 1: vendor-side names were the batch id cut to 12 characters, so two
// batches whose ids share a prefix shared names, and the second was counted as
// delivered on the first's 101007 (FlashAI) or stuck on a duplicate task name
// (speech). Names now come from a hash of the whole id.
func TestBatchesSharingAPrefixNeverShareNames(t *testing.T) {
	for _, vendor := range []string{"flashai", "speech", "nxcloud", "yccall"} {
		t.Run(vendor, func(t *testing.T) {
			h := setup(t)
			h.startWorker(h.deps())
			jan, feb := numbers(300, 200000), numbers(300, 201000)
			var ids []string
			for i, list := range [][]string{jan, feb} {
				id := []string{"campaign2026-jan-" + vendor, "campaign2026-feb-" + vendor}[i]
				if _, err := h.enqueueAs(vendor, id, lines(list), 300); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			for _, id := range ids {
				st := h.waitSettled(id, 30*time.Second)
				if st.Delivered != 300 || !st.Finished {
					t.Errorf("batch %s: %+v; want 300 delivered", id, st)
				}
			}
			h.ledgerOnce(vendor, asSent(vendor, append(jan, feb...)))
			if jobs.NameID(ids[0]) == jobs.NameID(ids[1]) {
				t.Errorf("name ids of %v are equal", ids)
			}
		})
	}
}

// A 101007 is believed only when the vendor's batch of that name holds this call's
// numbers: a name taken by anything else fails the part, naming the name.
func TestDuplicateBatchNameIsVerified(t *testing.T) {
	h := setup(t)
	phones := numbers(200, 210000)
	sum := h.enqueue("flashai", lines(phones), 0, 0)
	ctx := context.Background()
	name := "spring_" + jobs.NameID(sum.Batch) + "_0"
	d := h.deps()
	other, _ := chunking.EncodeMobileList([]chunking.Record{{Phone: "13912345678"}})
	if _, err := d.FlashAI.AddPlan(ctx, &flashai.AddPlanRequest{BatchName: name, BotenceID: "2873", CallDate: "20261123",
		CallHours: []int{9}, MobileList: other}); err != nil {
		t.Fatal(err)
	}
	h.startWorker(d)
	st := h.waitSettled(sum.Batch, 30*time.Second)
	if st.Delivered != 0 || st.Failed != 200 || st.PartStates[ledger.PartFailed] != 1 {
		t.Fatalf("status %+v; want the part failed", st)
	}
	var reasons []string
	_ = h.store.Outcomes(ctx, sum.Batch, 0, func(o ledger.Outcome) error {
		reasons = append(reasons, o.Code+" "+o.Reason)
		return nil
	})
	if len(reasons) != 200 || !strings.Contains(reasons[0], name) || !strings.HasPrefix(reasons[0], "101007") {
		t.Errorf("outcomes %d, first %q; want 101007 naming %s", len(reasons), reasons[0], name)
	}
	if got := len(h.fake.Ledger("flashai").Numbers); got != 1 {
		t.Errorf("vendor holds %d numbers; want only the other batch's one", got)
	}
}

// Finding 2: the same -batch id given for another list, or another vendor, exits
// with an error naming the batch, and writes nothing.
func TestBatchIDReuseRefused(t *testing.T) {
	h := setup(t)
	if _, err := h.enqueueAs("nxcloud", "daily", lines(numbers(10, 220000)), 0); err != nil {
		t.Fatal(err)
	}
	keys := h.db.Client.Keys(context.Background(), "*").Val()
	for _, tc := range []struct{ vendor, list string }{
		{"nxcloud", lines(numbers(10, 221000))},
		{"yccall", lines(numbers(10, 220000))},
	} {
		_, err := h.enqueueAs(tc.vendor, "daily", tc.list, 0)
		var ce *producer.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "daily") || !strings.Contains(err.Error(), "-batch") {
			t.Errorf("%s: err = %v; want a configuration error naming the batch and -batch", tc.vendor, err)
		}
	}
	if got := h.db.Client.Keys(context.Background(), "*").Val(); len(got) != len(keys) {
		t.Errorf("keys %d after refused runs; want %d (nothing written)", len(got), len(keys))
	}
	// The same list again is the same batch: nothing new, no error.
	sum, err := h.enqueueAs("nxcloud", "daily", lines(numbers(10, 220000)), 0)
	if err != nil || !sum.Existing {
		t.Errorf("same list again: %+v, %v; want existing", sum, err)
	}
}

// Finding 3: after cancel returns, no call for the batch starts anywhere: numbers
// reaching the vendor afterwards are at most those of the calls then in flight.
func TestCancelUnderLoad(t *testing.T) {
	h := setup(t)
	h.fake.SetFaults(fakevendor.Faults{LatencyMillis: 100})
	phones := numbers(3000, 230000)
	sum := h.enqueue("nxcloud", lines(phones), 50, 0)
	const concurrency = 4
	h.startWorker(h.deps())
	ctx := context.Background()
	for {
		st, _ := h.store.Status(ctx, sum.Batch)
		if st.Delivered >= 300 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := h.lifecycle().Cancel(ctx, sum.Batch); err != nil {
		t.Fatal(err)
	}
	atCancel := len(h.fake.Ledger("nxcloud").Numbers)
	st := h.waitSettled(sum.Batch, 60*time.Second)
	after := len(h.fake.Ledger("nxcloud").Numbers)
	if after-atCancel > concurrency*50 {
		t.Errorf("%d numbers reached the vendor after cancel returned; at most %d were in flight", after-atCancel, concurrency*50)
	}
	if !st.Finished || st.Failed == 0 || st.Delivered != int64(after) || st.State != ledger.StateFinished || !st.Cancelled {
		t.Errorf("status %+v; want finished, cancelled, delivered = the vendor's %d", st, after)
	}
	if err := h.lifecycle().Cancel(ctx, sum.Batch); !errors.Is(err, ledger.ErrFinished) {
		t.Errorf("cancel of a finished batch = %v; want ErrFinished", err)
	}
	for n, c := range h.fake.Ledger("nxcloud").Numbers {
		if c != 1 {
			t.Errorf("vendor received %s %d times", n, c)
		}
	}
}

// Finding 4: pause holds every undelivered part in dialq, resume releases them.
func TestPauseHoldsAndResumeReleases(t *testing.T) {
	h := setup(t)
	phones := numbers(400, 240000)
	sum := h.enqueue("yccall", lines(phones), 100, 0)
	ctx := context.Background()
	life := h.lifecycle()
	if err := life.Pause(ctx, sum.Batch); err != nil {
		t.Fatal(err)
	}
	h.startWorker(h.deps())
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := h.store.Status(ctx, sum.Batch)
		if st.PartStates[ledger.PartPaused] == 4 {
			if st.State != ledger.StatePaused || len(st.Waiting) != 4 {
				t.Errorf("paused batch status %+v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("parts not paused: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(h.fake.Ledger("yccall").Numbers); n != 0 {
		t.Fatalf("vendor received %d numbers while paused", n)
	}
	if err := life.Pause(ctx, sum.Batch); err == nil {
		t.Error("pausing a paused batch succeeded; want nothing to act on")
	}
	if err := life.Resume(ctx, sum.Batch); err != nil {
		t.Fatal(err)
	}
	st := h.waitSettled(sum.Batch, 30*time.Second)
	if st.Delivered != 400 || !st.Finished {
		t.Fatalf("after resume: %+v", st)
	}
	h.ledgerOnce("yccall", phones)
}

// Finding 5: a throttled vendor does not take the worker slots of another: its
// parts wait in their own queue and give the slot back instead of sleeping in it.
func TestThrottledVendorDoesNotStallOthers(t *testing.T) {
	h := setup(t)
	d := h.deps()
	lim, err := ratelimit.New(h.db.Client, map[string]float64{"nxcloud": 1})
	if err != nil {
		t.Fatal(err)
	}
	d.Limiter = lim
	slow := h.enqueue("nxcloud", lines(numbers(200, 250000)), 10, 0)
	h.startWorker(d)
	time.Sleep(500 * time.Millisecond) // NXCloud parts hold the queue first
	fast := h.enqueue("flashai", lines(numbers(400, 251000)), 100, 0)
	start := time.Now()
	st := h.waitSettled(fast.Batch, 20*time.Second)
	if !st.Finished || st.Delivered != 400 {
		t.Fatalf("flashai batch %+v", st)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("flashai batch took %s behind a throttled nxcloud batch", took)
	}
	ns, _ := h.store.Status(context.Background(), slow.Batch)
	if ns.Finished {
		t.Errorf("nxcloud batch finished at 1 call/s within seconds: %+v", ns)
	}
	if ns.PartStates[ledger.PartThrottled] == 0 {
		t.Errorf("no nxcloud part shown as throttled: %+v", ns.PartStates)
	}
}

// Finding 6: a worker serves only its vendors' queues; parts of a vendor nobody
// serves wait, visibly, and are delivered when a worker for it appears. An unknown
// vendor name refuses to start.
func TestWorkerServesOnlyItsVendors(t *testing.T) {
	h := setup(t)
	if _, _, err := jobs.ClientsFromEnv(testworld.Getenv(h.env), h.db.Client, "flashai,nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("WORKER_VENDORS with an unknown name: %v; want an error naming it", err)
	}
	only, _, err := jobs.ClientsFromEnv(testworld.Getenv(h.env), h.db.Client, "flashai")
	if err != nil {
		t.Fatal(err)
	}
	full := h.deps()
	only.Retry, only.Log, only.Lifecycle = full.Retry, full.Log, full.Lifecycle
	if got := only.Served(); len(got) != 1 || got[0] != "flashai" {
		t.Fatalf("served %v", got)
	}
	h.startWorker(only)
	sum := h.enqueue("nxcloud", lines(numbers(100, 260000)), 50, 0)
	time.Sleep(1500 * time.Millisecond)
	insp := asynq.NewInspector(h.aopt)
	defer insp.Close()
	q, err := insp.GetQueueInfo(queue.For("nxcloud"))
	if err != nil || q.Pending != 2 {
		t.Fatalf("nxcloud queue %+v, %v; want 2 parts pending", q, err)
	}
	st, _ := h.store.Status(context.Background(), sum.Batch)
	if st.Pending != 100 || st.PartStates[ledger.PartQueued] != 2 {
		t.Fatalf("status %+v; want every part queued", st)
	}
	h.startWorker(full)
	st = h.waitSettled(sum.Batch, 20*time.Second)
	if st.Delivered != 100 {
		t.Fatalf("after an nxcloud worker came: %+v", st)
	}
}

// Finding 7: every finish is announced once: a batch with no parts, a batch
// finished by resolve, and a retried batch (its second finish has its own id).
func TestEveryFinishAnnouncedOnce(t *testing.T) {
	h := setup(t)
	ctx := context.Background()
	h.startWorker(h.deps())
	empty := h.enqueue("yccall", "not-a-number\n", 0, 0)
	if empty.Parts != 0 {
		t.Fatalf("%+v", empty)
	}
	sum := h.enqueue("nxcloud", lines(numbers(100, 270000)), 50, 0)
	// A dead worker left part 1 in flight: uncertain until resolved.
	if err := h.store.MarkInflight(ctx, sum.Batch, 1, chunking.Range{Lo: 0, Hi: 50}); err != nil {
		t.Fatal(err)
	}
	h.waitSettled(sum.Batch, 20*time.Second)
	if _, err := h.lifecycle().Resolve(ctx, sum.Batch, 1, true); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs, _ := h.db.Client.XRange(ctx, h.store.EventsStream(), "-", "+").Result()
		byBatch := map[string][]string{}
		for _, m := range msgs {
			b, _ := m.Values["batch"].(string)
			id, _ := m.Values["id"].(string)
			byBatch[b] = append(byBatch[b], id)
		}
		if len(byBatch[empty.Batch]) == 1 && len(byBatch[sum.Batch]) == 1 {
			if byBatch[sum.Batch][0] != queue.EventID(sum.Batch, 1) {
				t.Errorf("event id %s", byBatch[sum.Batch][0])
			}
			time.Sleep(500 * time.Millisecond)
			msgs, _ = h.db.Client.XRange(ctx, h.store.EventsStream(), "-", "+").Result()
			if len(msgs) != 2 {
				t.Errorf("events %v; want one a batch", msgs)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events %v; want one for each batch", byBatch)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A part waiting on a long Retry-After is shown as throttled with its resume time,
// and holds no worker slot.
func TestLongRetryAfterShownThrottled(t *testing.T) {
	h := setup(t)
	h.fake.SetFaults(fakevendor.Faults{Throttle: 1, RetryAfterSeconds: 3600})
	sum := h.enqueue("yccall", lines(numbers(10, 280000)), 0, 0)
	h.startWorker(h.deps())
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := h.store.Status(context.Background(), sum.Batch)
		if len(st.Waiting) == 1 {
			w := st.Waiting[0]
			if w.State != ledger.PartThrottled || w.ResumeAt == nil || time.Until(*w.ResumeAt) < 59*time.Minute {
				t.Errorf("waiting part %+v; want throttled for about an hour", w)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no part shown throttled: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Poisoned records (issue 14 finding 4): a part record truncated, garbled, or
// copied from another batch is never sent: its part fails as corrupt, the other
// parts go on, and the batch finishes with nothing pending.
func TestCorruptRecordsNeverSent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(h *harness, id string)
	}{
		{"truncated", func(h *harness, id string) {
			key := "dialq:{" + id + "}:p:1"
			b, _ := h.db.Client.Get(context.Background(), key).Bytes()
			h.db.Client.Set(context.Background(), key, b[:len(b)/2], 0)
		}},
		{"garbage", func(h *harness, id string) {
			h.db.Client.Set(context.Background(), "dialq:{"+id+"}:p:1", "\x02garbage that is not a part", 0)
		}},
		{"foreign", func(h *harness, id string) {
			other := h.enqueue("yccall", lines(numbers(100, 291000)), 50, 0)
			b, _ := h.db.Client.Get(context.Background(), "dialq:{"+other.Batch+"}:p:1").Bytes()
			h.db.Client.Set(context.Background(), "dialq:{"+id+"}:p:1", b, 0)
		}},
		{"missing", func(h *harness, id string) {
			h.db.Client.Del(context.Background(), "dialq:{"+id+"}:p:1")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := setup(t)
			phones := numbers(150, 290000)
			sum := h.enqueue("yccall", lines(phones), 50, 0)
			tc.corrupt(h, sum.Batch)
			h.startWorker(h.deps())
			st := h.waitSettled(sum.Batch, 20*time.Second)
			if st.Delivered != 100 || st.Failed != 50 || st.Pending != 0 || !st.Finished {
				t.Fatalf("status %+v; want part 1 failed, the others delivered", st)
			}
			var codes []string
			_ = h.store.Outcomes(context.Background(), sum.Batch, 1, func(o ledger.Outcome) error {
				codes = append(codes, o.Code)
				return nil
			})
			if len(codes) != 50 || codes[0] != "corrupt" {
				t.Errorf("part 1 outcomes %d, code %v; want 50 corrupt", len(codes), codes[:min(1, len(codes))])
			}
			for _, n := range phones[50:100] {
				if h.fake.Ledger("yccall").Numbers[n] != 0 {
					t.Fatalf("a number of the corrupt part reached the vendor")
				}
			}
		})
	}
}

// A campaign that no longer decodes (or a manifest that fails its checksum) fails
// its parts as corrupt instead of leaving the batch queued forever.
func TestBrokenCampaignFailsAsCorrupt(t *testing.T) {
	h := setup(t)
	sum := h.enqueue("yccall", lines(numbers(100, 300000)), 50, 0)
	h.db.Client.HSet(context.Background(), "dialq:{"+sum.Batch+"}:m", "campaign", `{"task_scale":`)
	h.startWorker(h.deps())
	st := h.waitSettled(sum.Batch, 20*time.Second)
	if st.Failed != 100 || st.Pending != 0 || !st.Finished || h.fake.Ledger("yccall").Tasks != 0 {
		t.Fatalf("status %+v, vendor tasks %d; want every number failed as corrupt, nothing sent", st, h.fake.Ledger("yccall").Tasks)
	}
}

func exampleCampaign(t *testing.T, vendor string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "examples", vendor+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
