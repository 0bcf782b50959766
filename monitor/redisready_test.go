package monitor

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/internal/testredis"
)

// readyServer serves /readyz for the Redis env names, as the worker wires it.
func readyServer(t *testing.T, env map[string]string) *httptest.Server {
	t.Helper()
	conn, err := redisconf.FromEnv(func(k string) string { return env[k] }, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h, err := NewHandler(HTTPConfig{RedisConnOpt: conn.Dashboard(), Registry: prometheus.NewRegistry(), Ready: RedisReady(conn.Client)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func getReadyz(t *testing.T, srv *httptest.Server) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// watchReady polls /readyz until stop is closed and returns the sequence of
// distinct statuses seen.
func watchReady(t *testing.T, srv *httptest.Server, stop <-chan struct{}) func() []int {
	code, _ := getReadyz(t, srv)
	var mu sync.Mutex
	seen := []int{code}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(30 * time.Millisecond):
			}
			resp, err := http.Get(srv.URL + "/readyz")
			if err != nil {
				continue
			}
			resp.Body.Close()
			mu.Lock()
			if len(seen) == 0 || seen[len(seen)-1] != resp.StatusCode {
				seen = append(seen, resp.StatusCode)
			}
			mu.Unlock()
		}
	}()
	return func() []int { wg.Wait(); mu.Lock(); defer mu.Unlock(); return seen }
}

func waitReady(t *testing.T, srv *httptest.Server, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, body := getReadyz(t, srv)
		if code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d %q; not ready again within %v", code, body, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRedisReadyNeedsWrites(t *testing.T) {
	master := testredis.StartServer(t)
	replica := testredis.StartServer(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
	tests := []struct {
		name string
		srv  *testredis.Server
		code int
		body string
	}{
		{"master", master, http.StatusOK, "ok"},
		// A replica answers PING but refuses writes.
		{"replica", replica, http.StatusServiceUnavailable, "read-only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := readyServer(t, map[string]string{"REDIS_URL": tt.srv.URL()})
			code, body := getReadyz(t, srv)
			if code != tt.code || !strings.Contains(body, tt.body) {
				t.Errorf("/readyz = %d %q; want %d %q", code, body, tt.code, tt.body)
			}
			if strings.Contains(body, strconv.Itoa(tt.srv.Port)) {
				t.Errorf("/readyz names the address: %q", body)
			}
		})
	}
}

// A Redis restart: unready while it is down, ready again after, same process.
func TestRedisReadyAcrossRestart(t *testing.T) {
	s := testredis.StartServer(t)
	srv := readyServer(t, map[string]string{"REDIS_URL": s.URL()})
	waitReady(t, srv, time.Second)
	s.Kill()
	if code, body := getReadyz(t, srv); code != http.StatusServiceUnavailable || !strings.Contains(body, "does not take writes") {
		t.Errorf("/readyz with Redis down = %d %q; want 503", code, body)
	}
	s.Start()
	waitReady(t, srv, 10*time.Second)
}

// Sentinel: killing the master makes /readyz unready until the replica is
// promoted, then ready through the same pool; a commanded failover is ridden out
// too. No process restarts.
func TestRedisReadySentinelFailover(t *testing.T) {
	set := testredis.StartSentinel(t, testredis.Durable...)
	srv := readyServer(t, map[string]string{
		"REDIS_SENTINEL_ADDRS": strings.Join(set.Addrs, ","), "REDIS_SENTINEL_MASTER": set.MasterName,
	})
	waitReady(t, srv, 5*time.Second)

	t.Run("failover", func(t *testing.T) {
		stop := make(chan struct{})
		seen := watchReady(t, srv, stop)
		set.Failover()
		waitReady(t, srv, 20*time.Second)
		close(stop)
		if s := seen(); len(s) == 0 || s[len(s)-1] != http.StatusOK {
			t.Errorf("statuses during failover %v; want ending ready", s)
		}
	})

	t.Run("master killed", func(t *testing.T) {
		stop := make(chan struct{})
		seen := watchReady(t, srv, stop)
		set.KillMaster()
		waitReady(t, srv, 20*time.Second)
		close(stop)
		got := fmt.Sprint(seen())
		if want := fmt.Sprint([]int{200, 503, 200}); got != want {
			t.Errorf("statuses %s; want %s (ready, unready while no master, ready)", got, want)
		}
	})
}
