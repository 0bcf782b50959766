// Package testredis gives tests a Redis: the real one named by REDIS_URL when it is
// set (CI always sets it), otherwise an embedded miniredis so that `go test ./...`
// passes on a machine with only Go.
package testredis

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// DB is one test's Redis: an address and DB number nobody else uses during the test.
type DB struct {
	URL    string
	Opt    *redis.Options
	Client *redis.Client
	// Real is true on a real Redis server (TTLs tick, restarts possible).
	Real bool
}

// New returns a flushed database for t. On a real Redis each test process claims its
// own DB number so that packages running in parallel do not flush each other; tests
// within one package must not run in parallel with each other.
func New(t testing.TB) *DB {
	t.Helper()
	if url := os.Getenv("REDIS_URL"); url != "" {
		opt, err := redis.ParseURL(url)
		if err != nil {
			t.Fatalf("REDIS_URL: %v", err)
		}
		opt.DB = claimDB(t, *opt)
		c := redis.NewClient(opt)
		ctx := context.Background()
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatalf("redis at REDIS_URL does not answer: %v", err)
		}
		if err := c.FlushDB(ctx).Err(); err != nil {
			t.Fatalf("flushdb: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		return &DB{URL: urlFor(opt), Opt: opt, Client: c, Real: true}
	}
	m := miniredis.RunT(t)
	opt := &redis.Options{Addr: m.Addr()}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return &DB{URL: "redis://" + m.Addr() + "/0", Opt: opt, Client: c}
}

// RequireReal skips t unless a real Redis is configured.
func RequireReal(t testing.TB) {
	t.Helper()
	if os.Getenv("REDIS_URL") == "" {
		t.Skip("needs a real Redis: set REDIS_URL")
	}
}

var claimed atomic.Int32

// claimDB gives this test process a DB number (1-15) of its own: go test runs
// packages as parallel processes, and one package's FLUSHDB must not hit another's
// data. A claim is a key in DB 0 holding our pid; a claim whose process is gone is
// taken over.
func claimDB(t testing.TB, opt redis.Options) int {
	t.Helper()
	if n := claimed.Load(); n != 0 {
		return int(n)
	}
	opt.DB = 0
	c := redis.NewClient(&opt)
	defer c.Close()
	ctx := context.Background()
	me := strconv.Itoa(os.Getpid())
	for n := 1; n <= 15; n++ {
		key := fmt.Sprintf("dialq:test:db:%d", n)
		ok, err := c.SetNX(ctx, key, me, time.Hour).Result()
		if err != nil {
			t.Fatalf("claim test db: %v", err)
		}
		if !ok {
			holder, _ := c.Get(ctx, key).Result()
			if holder != me && processAlive(holder) {
				continue
			}
			// Compare-and-set so that two processes cannot both take over a dead claim.
			if err := takeOver.Run(ctx, c, []string{key}, holder, me).Err(); err != nil {
				continue
			}
		}
		claimed.CompareAndSwap(0, int32(n))
		return int(claimed.Load())
	}
	t.Fatal("no free Redis DB for tests: 15 test processes hold one")
	return 0
}

var takeOver = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("SET", KEYS[1], ARGV[2], "EX", 3600)
  return 1
end
return redis.error_reply("taken")`)

func processAlive(pid string) bool {
	n, err := strconv.Atoi(pid)
	if err != nil {
		return false
	}
	return syscall.Kill(n, 0) == nil
}

func urlFor(opt *redis.Options) string {
	auth := ""
	if opt.Password != "" {
		auth = fmt.Sprintf("%s:%s@", opt.Username, opt.Password)
	}
	scheme := "redis"
	if opt.TLSConfig != nil {
		scheme = "rediss"
	}
	return fmt.Sprintf("%s://%s%s/%d", scheme, auth, opt.Addr, opt.DB)
}
