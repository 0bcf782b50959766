package jobs_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/compliance"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/lifecycle"
	"github.com/dialq/dialq/quota"
)

// Every vendor under a quota smaller than two calls and one call in flight: calls
// are cut to fit and the rest waits throttled; at the vendor, no second holds more
// than the quota and no two requests overlap; every number arrives once.
func TestQuotaCutToFitEveryVendor(t *testing.T) {
	for _, vendor := range []string{"nxcloud", "yccall", "speech", "flashai"} {
		t.Run(vendor, func(t *testing.T) {
			h := setup(t)
			env := map[string]string{"NXCLOUD_QUOTA": "150/1s", "YCCALL_QUOTA": "150/1s", "SPEECH_QUOTA": "150/1s",
				"FLASHAI_QUOTA": "150/1s", "NXCLOUD_INFLIGHT": "1", "YCCALL_INFLIGHT": "1", "SPEECH_INFLIGHT": "1", "FLASHAI_INFLIGHT": "1"}
			cfg, err := quota.FromEnv(func(k string) string { return env[k] }, nil)
			if err != nil {
				t.Fatal(err)
			}
			d := h.deps()
			d.Quota = quota.New(h.db.Client, cfg)
			h.startWorker(d)
			phones := numbers(500, 7000)
			partSize, callSize := 100, 0 // a part is one call, but for speech's appends
			if vendor == "speech" {
				partSize, callSize = 250, 100
			}
			sum := h.enqueue(vendor, lines(phones), partSize, callSize)
			st := h.waitSettled(sum.Batch, 60*time.Second)
			if !st.Finished || st.Delivered != 500 {
				t.Fatalf("status %+v; want 500 delivered", st)
			}
			h.ledgerOnce(vendor, asSent(vendor, phones))
			l := h.fake.Ledger(vendor)
			busiest := 0
			for i, a := range l.Accepts {
				n := 0
				for _, b := range l.Accepts[i:] {
					if b.At.Sub(a.At) < time.Second {
						n += b.N
					}
				}
				busiest = max(busiest, n)
			}
			if busiest > 150 {
				t.Errorf("%d numbers reached the vendor within a second; the quota is 150", busiest)
			}
			if l.MaxInflight != 1 {
				t.Errorf("%d requests at once at the vendor; want 1", l.MaxInflight)
			}
			if len(l.Accepts) <= 5 {
				t.Errorf("%d calls for 500 numbers in calls of 100 under 150/1s: none was cut", len(l.Accepts))
			}
			span := l.Accepts[len(l.Accepts)-1].At.Sub(l.Accepts[0].At)
			if span < 2*time.Second {
				t.Errorf("500 numbers at 150/s went out within %s", span)
			}
		})
	}
}

// roundTrips counts what a client sends to Redis: one a command or pipeline
// (connection handshakes aside).
type roundTrips struct{ n atomic.Int64 }

func (c *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd.Name()) {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (c *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && !handshake(cmds[0].Name()) {
			c.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// handshake is a new connection's setup: how many the pool opens varies.
func handshake(name string) bool {
	return name == "hello" || name == "client" || name == "select" || name == "auth"
}

// Without a quota for the vendor (another vendor's set) delivery makes exactly the
// round trips it made before quotas; with one, each call adds its take and finish.
func TestNoQuotaNoExtraRoundTrip(t *testing.T) {
	// Counting needs one server across the subtests: the warm-up loads the scripts
	// there. miniredis is new per test, so its first EVALSHA of each script misses.
	testredis.RequireReal(t)
	run := func(name string, env map[string]string) (n int64) {
		t.Run(name, func(t *testing.T) {
			h := setup(t)
			counter := &roundTrips{}
			rdb := redis.NewClient(h.db.Opt)
			t.Cleanup(func() { rdb.Close() })
			rdb.AddHook(counter)
			d := h.deps()
			c, insp := asynq.NewClient(h.aopt), asynq.NewInspector(h.aopt)
			t.Cleanup(func() { c.Close(); insp.Close() })
			d.Lifecycle = lifecycle.New(rdb, c, insp, d.Log)
			if env != nil {
				cfg, err := quota.FromEnv(func(k string) string { return env[k] }, nil)
				if err != nil {
					t.Fatal(err)
				}
				d.Quota = quota.New(rdb, cfg)
			}
			sum := h.enqueue("nxcloud", lines(numbers(300, 9000)), 100, 0)
			counter.n.Store(0)
			h.startWorker(d)
			if st := h.waitSettled(sum.Batch, 30*time.Second); st.Delivered != 300 {
				t.Fatalf("status %+v", st)
			}
			// The batch's announcement runs a moment after: count once all is quiet.
			for prev := int64(-1); prev != counter.n.Load(); {
				prev = counter.n.Load()
				time.Sleep(500 * time.Millisecond)
			}
			n = counter.n.Load()
		})
		return n
	}
	run("warm-up", map[string]string{"NXCLOUD_QUOTA": "1000/1m", "NXCLOUD_INFLIGHT": "5"}) // loads every script once
	none := run("none", nil)
	other := run("other", map[string]string{"YCCALL_QUOTA": "5/1m", "YCCALL_INFLIGHT": "1"})
	own := run("own", map[string]string{"NXCLOUD_QUOTA": "1000/1m", "NXCLOUD_INFLIGHT": "5"})
	t.Logf("round trips for 3 calls: no quota %d, another vendor's %d, its own %d", none, other, own)
	if other != none {
		t.Errorf("another vendor's quota changed this vendor's round trips: %d, not %d", other, none)
	}
	if own != none+6 {
		t.Errorf("a quota of its own: %d round trips; want %d plus a take and a finish a call (6)", own, none)
	}
}

// A call cut to fit after the compliance gate: numbers suppressed after enqueue are
// not sent and not counted against the quota; the contact caps of the numbers cut
// off are given back (each number delivered holds exactly one take, and no other
// number holds one); every number once, no 2 s over the quota.
func TestQuotaCutAfterTheGate(t *testing.T) {
	testredis.RequireReal(t) // suppression lists and caps use what miniredis lacks
	h := setup(t)
	ctx := context.Background()
	phones := numbers(100, 390000)
	cs := compliance.NewStore(h.db.Client)
	if _, err := cs.Add(ctx, "dnc", []string{"+8613333333333"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	sum := h.enqueueCampaign("nxcloud", nxcloudWith(`{"suppress":["dnc"],"contact_cap":{"max":1,"days":30}}`), lines(phones))
	if _, err := cs.Add(ctx, "dnc", []string{"+86" + phones[3], "+86" + phones[45], "+86" + phones[70]}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"NXCLOUD_QUOTA": "40/2s"}
	cfg, err := quota.FromEnv(func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := h.deps()
	d.Quota = quota.New(h.db.Client, cfg)
	h.startWorker(d)
	st := h.waitSettled(sum.Batch, 60*time.Second)
	if st.Delivered != 97 || st.Suppressed != 3 || !st.Finished {
		t.Fatalf("status %+v; want 97 delivered, 3 suppressed", st)
	}
	l := h.fake.Ledger("nxcloud")
	for _, i := range []int{3, 45, 70} {
		if l.Numbers["86"+phones[i]] != 0 {
			t.Errorf("suppressed number %d reached the vendor", i)
		}
	}
	if len(l.Numbers) != 97 || len(l.Accepts) < 3 {
		t.Fatalf("vendor holds %d numbers in %d calls; want 97 in at least 3 (cut to 40)", len(l.Numbers), len(l.Accepts))
	}
	for i, a := range l.Accepts {
		n := 0
		for _, b := range l.Accepts[i:] {
			if b.At.Sub(a.At) < 2*time.Second {
				n += b.N
			}
		}
		if n > 40 {
			t.Errorf("%d numbers within 2 s from call %d; the quota is 40", n, i)
		}
	}
	keys, err := h.db.Client.Keys(ctx, "dialq:cap:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 97 {
		t.Errorf("%d numbers hold a contact-cap take; want the 97 delivered", len(keys))
	}
	for _, k := range keys {
		if n := h.db.Client.StrLen(ctx, k).Val(); n != 8 {
			t.Errorf("%s holds %d bytes of takes; want one take (8)", k, n)
		}
	}
}
