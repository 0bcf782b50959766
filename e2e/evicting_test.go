package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/vendors/registry"
)

// TestEvictingRedisRefused runs the real binaries on a Redis that evicts when
// full: enqueue exits 1 having written nothing, and the worker refuses to start,
// both naming the setting and the fix. DIALQ_ALLOW_VOLATILE_REDIS (set by the
// world) does not cover eviction.
func TestEvictingRedisRefused(t *testing.T) {
	srv := testredis.StartServer(t, append([]string{"--maxmemory-policy", "allkeys-lru"}, testredis.Durable...)...)
	w := newWorld(t, redisDB(srv.URL()), nil, nil)
	list := strings.Join(numbers(50, 0), "\n") + "\n"
	res := w.run("enqueue", list, nil, "-vendor", "yccall", "-campaign", "../examples/yccall.json", "-")
	if res.code != 1 || !strings.Contains(res.stderr, "maxmemory-policy allkeys-lru") || !strings.Contains(res.stderr, "CONFIG SET maxmemory-policy noeviction") {
		t.Errorf("enqueue on an evicting Redis: exit %d, stderr %q; want exit 1 naming the policy and the fix", res.code, res.stderr)
	}
	if n := srv.Client().DBSize(context.Background()).Val(); n != 0 {
		keys := srv.Client().Keys(context.Background(), "*").Val()
		t.Errorf("enqueue refused but wrote %d keys: %v", n, keys)
	}
	start := time.Now()
	res = w.run("worker", "", []string{"WORKER_HTTP_ADDR=127.0.0.1:0"})
	if res.code == 0 || !strings.Contains(res.stderr, "maxmemory-policy allkeys-lru") || !strings.Contains(res.stderr, "CONFIG SET maxmemory-policy noeviction") {
		t.Errorf("worker on an evicting Redis: exit %d, stderr %q; want a refusal naming the policy and the fix", res.code, res.stderr)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("worker took %s to refuse", d)
	}
}

// TestEvictionTurnedOnAtRunTime: an operator's CONFIG SET maxmemory-policy
// allkeys-lru while a worker delivers turns /readyz 503 and stops new vendor
// calls; setting noeviction back resumes them and the batch completes.
func TestEvictionTurnedOnAtRunTime(t *testing.T) {
	srv := testredis.StartServer(t, testredis.Durable...)
	w := newWorld(t, redisDB(srv.URL()), nil, nil)
	delete(w.env, "DIALQ_ALLOW_VOLATILE_REDIS")
	w.env["WORKER_CONCURRENCY"] = "1"
	w.env["YCCALL_RATE"] = "5"
	sum := w.enqueue("yccall", strings.Join(numbers(400, 0), "\n")+"\n", "-call-size", "10", "-part-size", "10")
	id := sum["batch"].(string)
	_, addr := w.startServing("DIALQ_ALLOW_VOLATILE_REDIS=false")
	readyz := func() int {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	calls := func() int { return w.fake.Stats().Calls[registry.Yccall] }
	deadline := time.Now().Add(20 * time.Second)
	for calls() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no calls within 20s: %+v", w.fake.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := readyz(); code != http.StatusOK {
		t.Fatalf("/readyz = %d before the change; want 200", code)
	}
	admin := srv.Client()
	ctx := context.Background()
	if err := admin.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for readyz() != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("/readyz still 200 10s after CONFIG SET maxmemory-policy allkeys-lru")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A call already past the gate (waiting on the rate limiter) may still go.
	time.Sleep(time.Second)
	stopped := calls()
	time.Sleep(6 * time.Second)
	if now := calls(); now != stopped {
		t.Fatalf("vendor calls went on while Redis evicts: %d then %d", stopped, now)
	}
	if held := len(w.fake.Ledger(registry.Yccall).Numbers); held >= 400 {
		t.Fatalf("all numbers sent before the change took effect; the test proves nothing")
	}
	if err := admin.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	st := w.waitSettled(id, 90*time.Second)
	if got := w.noneTwice(registry.Yccall); st.Delivered != 400 || got != 400 {
		t.Fatalf("after the fix: delivered %d, vendor holds %d numbers; want 400 each: %+v", st.Delivered, got, st)
	}
	if code := readyz(); code != http.StatusOK {
		t.Errorf("/readyz = %d after the fix; want 200", code)
	}
}
