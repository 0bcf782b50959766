package testredis

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A REDIS_URL in the environment names a server whose data may matter: New
// neither uses nor flushes it.
func TestNewLeavesREDIS_URLAlone(t *testing.T) {
	RequireServer(t)
	other := StartServer(t)
	ctx := context.Background()
	for db := range 16 {
		c := redis.NewClient(&redis.Options{Addr: other.Addr, DB: db})
		if err := c.Set(ctx, "precious", db, 0).Err(); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	t.Setenv("REDIS_URL", other.URL())
	t.Setenv(EnvURL, "")
	db := New(t)
	if !db.Real || db.Opt.Addr == other.Addr {
		t.Fatalf("New = %s (real %t); want a server of the test process's own, not REDIS_URL's %s", db.Opt.Addr, db.Real, other.Addr)
	}
	for n := range 16 {
		c := redis.NewClient(&redis.Options{Addr: other.Addr, DB: n})
		if v := c.Get(ctx, "precious").Val(); v != fmt.Sprint(n) {
			t.Errorf("REDIS_URL's DB %d lost its key (%q)", n, v)
		}
		c.Close()
	}
	if again := New(t); again.Opt.Addr != db.Opt.Addr {
		t.Errorf("second New on %s, first on %s; want one server per process", again.Opt.Addr, db.Opt.Addr)
	}
}

// DIALQ_TEST_REDIS_URL names a server the tests may flush: New uses it, in a DB
// of the process's own.
func TestNewExplicitServer(t *testing.T) {
	RequireServer(t)
	srv := StartServer(t)
	t.Setenv(EnvURL, srv.URL())
	db := New(t)
	if db.Opt.Addr != srv.Addr || db.Opt.DB < 1 {
		t.Fatalf("New = %s DB %d; want %s, DB 1-15", db.Opt.Addr, db.Opt.DB, srv.Addr)
	}
}

// The process's own server goes when the process does, even when it is
// SIGKILLed and runs no cleanup.
func TestOwnServerDiesWithProcess(t *testing.T) {
	if os.Getenv("TESTREDIS_CHILD") == "1" {
		db := New(t)
		fmt.Println("addr", db.Opt.Addr)
		time.Sleep(time.Minute) // killed by the parent
		return
	}
	RequireServer(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestOwnServerDiesWithProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "TESTREDIS_CHILD=1", EnvURL+"=")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var addr string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "addr "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		t.Fatal("child printed no address")
	}
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("child's server does not answer: %v", err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for c.Ping(context.Background()).Err() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the killed process's redis-server on %s still answers", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
