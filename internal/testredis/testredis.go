// Package testredis gives tests a Redis, and never one they may not flush:
//
//   - DIALQ_TEST_REDIS_URL, when set, names a server the tests may flush (each test
//     process claims a DB 1-15 of its own and flushes it);
//   - else, when redis-server is on PATH, each test process starts its own on a
//     free loopback port (lazily, once), killed when the process exits;
//   - else an embedded miniredis, so that `go test ./...` passes with only Go.
//
// REDIS_URL is not read: it names the Redis the programs use, which may hold data
// that matters, and a test flushes its database.
package testredis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// EnvURL names a Redis server the tests may flush.
const EnvURL = "DIALQ_TEST_REDIS_URL"

// DB is one test's Redis: an address and DB number nobody else uses during the test.
type DB struct {
	URL    string
	Opt    *redis.Options
	Client *redis.Client
	// Real is true on a real Redis server (TTLs tick, restarts possible).
	Real bool
}

// New returns a flushed database for t (see the package comment for which server).
// Tests within one package must not run in parallel with each other.
func New(t testing.TB) *DB {
	t.Helper()
	opt := realOptions(t)
	if opt == nil {
		m := miniredis.RunT(t)
		opt := &redis.Options{Addr: m.Addr()}
		c := redis.NewClient(opt)
		t.Cleanup(func() { c.Close() })
		return &DB{URL: "redis://" + m.Addr() + "/0", Opt: opt, Client: c}
	}
	c := redis.NewClient(opt)
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("test redis at %s does not answer: %v", opt.Addr, err)
	}
	if err := c.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("flushdb: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &DB{URL: urlFor(opt), Opt: opt, Client: c, Real: true}
}

// realOptions is the real server's options for this process's DB, or nil for
// miniredis.
func realOptions(t testing.TB) *redis.Options {
	t.Helper()
	if url := os.Getenv(EnvURL); url != "" {
		opt, err := redis.ParseURL(url)
		if err != nil {
			t.Fatalf("%s: %v", EnvURL, err)
		}
		opt.DB = claimDB(t, *opt)
		return opt
	}
	addr, err := processServer()
	if err != nil {
		t.Fatalf("test redis-server: %v", err)
	}
	if addr == "" {
		return nil
	}
	return &redis.Options{Addr: addr}
}

// Real reports whether New gives a real Redis server.
func Real() bool {
	if os.Getenv(EnvURL) != "" {
		return true
	}
	_, err := exec.LookPath("redis-server")
	return err == nil
}

// RequireReal skips t unless New gives a real Redis.
func RequireReal(t testing.TB) {
	t.Helper()
	if !Real() {
		t.Skip("needs a real Redis: install redis-server or set " + EnvURL)
	}
}

var (
	ownOnce sync.Once
	ownAddr string
	ownErr  error
)

// processServer starts this test process's own redis-server once (no persistence,
// files in a temporary directory removed once it runs) and returns its address,
// or "" when redis-server is not installed. The server dies with the process
// (Pdeathsig); nothing stops it earlier, since tests of the process share it.
func processServer() (string, error) {
	ownOnce.Do(func() {
		if _, err := exec.LookPath("redis-server"); err != nil {
			return
		}
		ownAddr, ownErr = startOwn()
	})
	return ownAddr, ownErr
}

func startOwn() (string, error) {
	var lastErr error
	for range 5 { // a port taken between choosing and binding: choose again
		port, err := pickPort()
		if err != nil {
			return "", err
		}
		dir, err := os.MkdirTemp("", "dialq-testredis-")
		if err != nil {
			return "", err
		}
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
			// Many test processes run at once on a small machine.
			"--io-threads", "1")
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := Spawn(cmd); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("start: %w", err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		addr := "127.0.0.1:" + strconv.Itoa(port)
		err = waitAnswer(addr, exited)
		// Nothing is written there (no RDB, no AOF, the log on stdout).
		os.RemoveAll(dir)
		if err == nil {
			return addr, nil
		}
		_ = cmd.Process.Kill()
		lastErr = err
	}
	return "", lastErr
}

func waitAnswer(addr string, exited <-chan struct{}) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server on %s exited: %v", addr, err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s did not answer: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// spawner starts child processes from one OS thread that never exits: Linux
// sends Pdeathsig when the thread that forked the child ends, not the process,
// and the Go runtime may end other threads.
var spawner = sync.OnceValue(func() chan<- spawnReq {
	ch := make(chan spawnReq)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread lives as long as the process
		for r := range ch {
			r.done <- r.cmd.Start()
		}
	}()
	return ch
})

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

// Spawn starts cmd (a server a test runs) so that it is SIGKILLed when the test
// process dies, even without its cleanup running.
func Spawn(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	done := make(chan error, 1)
	spawner() <- spawnReq{cmd: cmd, done: done}
	return <-done
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

func pickPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
