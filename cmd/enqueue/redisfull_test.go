package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/testredis"
)

// fullRedis is a Redis of the test's own with maxmemory and noeviction: fill
// makes it refuse writes (OOM) from then on.
type fullRedis struct {
	srv   *testredis.Server
	admin *redis.Client
	vars  map[string]string
}

func startFullRedis(t *testing.T, maxmemory string) *fullRedis {
	t.Helper()
	srv := testredis.StartServer(t, "--maxmemory", maxmemory, "--maxmemory-policy", "noeviction")
	return &fullRedis{srv: srv, admin: srv.Client(), vars: map[string]string{"REDIS_URL": srv.URL()}}
}

// full sets maxmemory below what Redis holds: every write that needs memory is
// refused from then on.
func (f *fullRedis) full(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if err := f.admin.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if err := f.admin.HSet(ctx, "dialq:probe", "a", "b").Err(); err == nil || !strings.HasPrefix(err.Error(), "OOM") {
		t.Fatalf("HSET on the full Redis = %v; want OOM", err)
	}
}

// fill writes junk until Redis answers OOM; the junk expires in an hour.
func (f *fullRedis) fill(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	// Large values first, then small ones: a refused command's own arguments count
	// until it is refused, so Redis is full for small writes only once a small one
	// is refused.
	i := 0
	for _, size := range []int{64 << 10, 1 << 10, 16} {
		junk := strings.Repeat("x", size)
		for ; ; i++ {
			err := f.admin.Set(ctx, fmt.Sprintf("junk:%d", i), junk, 3600e9).Err()
			if err == nil {
				continue
			}
			if !strings.HasPrefix(err.Error(), "OOM") {
				t.Fatalf("fill: %v", err)
			}
			i++
			break
		}
	}
}

// keysWithoutExpiry lists dialq's keys that have no TTL (junk and asynq's aside).
func (f *fullRedis) keysWithoutExpiry(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	iter := f.admin.Scan(ctx, 0, "dialq:*", 1000).Iterator()
	for iter.Next(ctx) {
		if ttl := f.admin.TTL(ctx, iter.Val()).Val(); ttl < 0 {
			out = append(out, iter.Val())
		}
	}
	return out
}

func TestReadOnlyCommandsWhileRedisFull(t *testing.T) {
	f := startFullRedis(t, "8mb")
	args := []string{"-vendor", "yccall", "-campaign", campaignFile("yccall"), "-json", listCSV}
	r := runWith(t, f.vars, nil, args...)
	if r.code != exitOK {
		t.Fatalf("enqueue: exit %d: %s", r.code, r.stderr)
	}
	sum := summaryOf(t, r)
	// A batch in the index whose keys are gone: list drops it from the index,
	// which it may fail to do while Redis is full.
	if err := f.admin.ZAdd(context.Background(), "dialq:batches", redis.Z{Score: 1, Member: "yccall-lost"}).Err(); err != nil {
		t.Fatal(err)
	}
	f.full(t)
	for _, cmd := range [][]string{
		{"status", sum.Batch}, {"status", "-json", sum.Batch}, {"list"}, {"list", "-json"},
		{"failures", sum.Batch}, {"audit", sum.Batch},
	} {
		r := runWith(t, f.vars, nil, cmd...)
		if r.code != exitOK {
			t.Errorf("%v while Redis refuses writes: exit %d: %s", cmd, r.code, r.stderr)
		}
	}
}

// An enqueue that Redis refuses half way (room for some parts only) exits non-zero leaving nothing that
// never expires; once Redis has room the same command runs through at once.
func TestEnqueueWhileRedisFull(t *testing.T) {
	f := startFullRedis(t, "8mb")
	var list strings.Builder
	for i := range 30000 {
		fmt.Fprintf(&list, "139%08d\n", i)
	}
	args := []string{"-vendor", "yccall", "-campaign", campaignFile("yccall"), "-json", "-part-size", "1000", "-call-size", "1000", "-"}
	f.fill(t)
	// Room for some of the parts: the run fails half way through staging.
	for i := range 6 {
		f.admin.Del(context.Background(), fmt.Sprintf("junk:%d", i))
	}
	r := runWith(t, f.vars, []byte(list.String()), args...)
	if r.code == exitOK || !strings.Contains(r.stderr, "OOM") {
		t.Fatalf("enqueue on a full Redis: exit %d, stderr %q; want a failure naming OOM", r.code, r.stderr)
	}
	t.Logf("failed run: %s", r.stderr)
	if keys := f.keysWithoutExpiry(t); len(keys) != 0 {
		t.Errorf("keys without expiry after the failed enqueue: %v", keys)
	}
	ctx := context.Background()
	if left, _ := f.admin.Keys(ctx, "dialq:*").Result(); len(left) != 0 {
		t.Errorf("the failed enqueue left %d keys (staging not deleted): %v", len(left), left[:min(len(left), 5)])
	}
	junk, _ := f.admin.Keys(ctx, "junk:*").Result()
	for _, key := range junk {
		f.admin.Del(ctx, key)
	}
	start := time.Now()
	r = runWith(t, f.vars, []byte(list.String()), args...)
	if r.code != exitOK {
		t.Fatalf("re-run with room: exit %d: %s", r.code, r.stderr)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("re-run took %s", d)
	}
	if sum := summaryOf(t, r); sum.Accepted != 30000 || sum.Parts != 30 {
		t.Errorf("re-run summary %+v; want 30000 accepted in 30 parts", sum)
	}
}
