package redisconf_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/ratelimit"
	"github.com/dialq/dialq/vendors/flashai"
)

// TestCluster runs what a worker uses of Redis on a 3-master cluster with one
// replica each, through REDIS_CLUSTER_ADDRS: durability of every master, confirmed
// writes on keys of different masters, asynq's client, server and inspector on
// the shared pool, the rate limiter and the FlashAI nonce store.
func TestCluster(t *testing.T) {
	cl := testredis.StartCluster(t, 3, 1, testredis.Durable...)
	conn := connTo(t, map[string]string{"REDIS_CLUSTER_ADDRS": strings.Join(cl.Addrs[:2], ",")})
	ctx := t.Context()
	if err := conn.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("durability", func(t *testing.T) {
		d, err := redisconf.CheckDurability(ctx, conn.Client)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Nodes) != 3 {
			t.Fatalf("nodes = %d (%s); want the 3 masters", len(d.Nodes), d)
		}
		for _, n := range d.Nodes {
			if !n.AOF || n.AppendFsync != "always" || n.Replicas != 1 || n.Role != "master" {
				t.Errorf("node %+v; want aof always, 1 replica, master", n)
			}
		}
		if err := d.Err(); err != nil {
			t.Errorf("Err = %v; want durable", err)
		}
		// One master without AOF is enough to refuse.
		var weak *testredis.Server
		for _, s := range cl.Nodes {
			if s.Addr == d.Nodes[1].Addr {
				weak = s
			}
		}
		wc := weak.Client()
		if err := wc.ConfigSet(ctx, "appendonly", "no").Err(); err != nil {
			t.Fatal(err)
		}
		defer wc.ConfigSet(ctx, "appendonly", "yes")
		d, err = redisconf.CheckDurability(ctx, conn.Client)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Err(); err == nil || !strings.Contains(err.Error(), weak.Addr+" has appendonly no") {
			t.Errorf("Err = %v; want it to name %s", err, weak.Addr)
		}
	})

	t.Run("eviction", func(t *testing.T) {
		e, err := redisconf.CheckEviction(ctx, conn.Client)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Nodes) != 3 || e.Err() != nil {
			t.Fatalf("CheckEviction = %s, Err %v; want the 3 masters, noeviction", e, e.Err())
		}
		// One evicting master is enough to refuse.
		weak := cl.Nodes[0]
		for _, s := range cl.Nodes {
			if s.Addr == e.Nodes[2].Addr {
				weak = s
			}
		}
		wc := weak.Client()
		if err := wc.ConfigSet(ctx, "maxmemory-policy", "volatile-lru").Err(); err != nil {
			t.Fatal(err)
		}
		defer wc.ConfigSet(ctx, "maxmemory-policy", "noeviction")
		e, err = redisconf.CheckEviction(ctx, conn.Client)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Err(); err == nil || !strings.Contains(err.Error(), weak.Addr+" has maxmemory-policy volatile-lru") {
			t.Errorf("Err = %v; want it to name %s", err, weak.Addr)
		}
	})

	t.Run("confirmed writes", func(t *testing.T) {
		d, err := redisconf.CheckDurability(ctx, conn.Client)
		if err != nil {
			t.Fatal(err)
		}
		c := redisconf.NewConfirmer(d, time.Second)
		if !c.WaitReplica {
			t.Fatalf("confirmer %s; want WAIT on a cluster with replicas", c)
		}
		cc := conn.Client.(*redis.ClusterClient)
		masters := map[string]bool{}
		for i := range 30 {
			key := fmt.Sprintf("dialq:{b%d}:inflight", i)
			if err := c.ConfirmAfter(ctx, conn.Client, key, func(p redis.Pipeliner) error {
				p.HSet(ctx, key, "part", i)
				return nil
			}); err != nil {
				t.Fatalf("ConfirmAfter %s = %v", key, err)
			}
			node, err := cc.MasterForKey(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			masters[node.Options().Addr] = true
			if got := conn.Client.HGet(ctx, key, "part").Val(); got != fmt.Sprint(i) {
				t.Errorf("%s part = %q; want %d", key, got, i)
			}
		}
		if len(masters) != 3 {
			t.Errorf("keys landed on %d masters; want all 3 exercised", len(masters))
		}
	})

	t.Run("asynq", func(t *testing.T) {
		client := asynq.NewClient(conn.Asynq)
		defer client.Close()
		insp := asynq.NewInspector(conn.Asynq)
		defer insp.Close()
		const n = 20
		for _, q := range []string{"default", "control"} {
			for i := range n {
				if _, err := client.EnqueueContext(ctx, asynq.NewTask("test:noop", fmt.Appendf(nil, "%d", i)), asynq.Queue(q)); err != nil {
					t.Fatalf("enqueue on %s: %v", q, err)
				}
			}
			info, err := insp.GetQueueInfo(q)
			if err != nil {
				t.Fatalf("inspector: %v", err)
			}
			if info.Pending != n {
				t.Errorf("queue %s pending = %d; want %d", q, info.Pending, n)
			}
		}
		var done atomic.Int32
		srv := asynq.NewServer(conn.Asynq, asynq.Config{
			Concurrency: 4, Queues: map[string]int{"default": 1, "control": 1},
			LogLevel: asynq.ErrorLevel, TaskCheckInterval: 50 * time.Millisecond,
		})
		mux := asynq.NewServeMux()
		mux.HandleFunc("test:noop", func(context.Context, *asynq.Task) error { done.Add(1); return nil })
		if err := srv.Start(mux); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for done.Load() < 2*n && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		srv.Shutdown()
		if got := done.Load(); got != 2*n {
			t.Errorf("processed %d tasks; want %d", got, 2*n)
		}
		// asynq's shutdown left the shared pool open.
		if err := conn.Ping(ctx); err != nil {
			t.Errorf("after asynq shutdown: %v", err)
		}
	})

	t.Run("rate limit", func(t *testing.T) {
		lim, err := ratelimit.New(conn.Client, map[string]float64{"nxcloud": 20})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for range 11 {
			if _, err := lim.Wait(ctx, "nxcloud", time.Minute); err != nil {
				t.Fatalf("Wait = %v", err)
			}
		}
		// 11 calls spaced at 20/s take about 500 ms.
		if el := time.Since(start); el < 400*time.Millisecond || el > 5*time.Second {
			t.Errorf("11 calls at 20/s took %v; want about 500ms", el)
		}
	})

	t.Run("flashai nonces", func(t *testing.T) {
		nonces := flashai.NewRedisNonces(conn.Client)
		seen := map[string]bool{}
		for range 50 {
			n, err := nonces.Nonce(ctx)
			if err != nil {
				t.Fatalf("Nonce = %v", err)
			}
			if seen[n] {
				t.Fatalf("nonce %s handed out twice", n)
			}
			seen[n] = true
			if ttl := conn.Client.TTL(ctx, flashai.NonceKeyPrefix+n).Val(); ttl <= 0 || ttl > flashai.NonceTTL {
				t.Errorf("nonce %s TTL %v; want up to %v", n, ttl, flashai.NonceTTL)
			}
		}
	})
}
