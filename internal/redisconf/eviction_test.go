package redisconf_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/internal/testredis"
)

func TestCheckEviction(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		policy  string
		wantErr bool
	}{
		{"default", nil, "noeviction", false},
		{"allkeys-lru", []string{"--maxmemory-policy", "allkeys-lru"}, "allkeys-lru", true},
		{"volatile-ttl", []string{"--maxmemory-policy", "volatile-ttl"}, "volatile-ttl", true},
		// Managed Redis renames CONFIG away: INFO memory still says.
		{"config disabled, evicting", []string{"--rename-command", "CONFIG", "", "--maxmemory-policy", "allkeys-random"}, "allkeys-random", true},
		{"config disabled, noeviction", []string{"--rename-command", "CONFIG", ""}, "noeviction", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testredis.StartServer(t, tt.args...)
			conn := connTo(t, map[string]string{"REDIS_URL": srv.URL()})
			e, err := redisconf.CheckEviction(t.Context(), conn.Client)
			if err != nil {
				t.Fatal(err)
			}
			if len(e.Nodes) != 1 || e.Nodes[0].Policy != tt.policy || e.Nodes[0].Addr != srv.Addr {
				t.Fatalf("CheckEviction = %+v; want %s on %s", e, tt.policy, srv.Addr)
			}
			err = e.Err()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Err = %v; want error %t", err, tt.wantErr)
			}
			if err != nil {
				for _, want := range []string{srv.Addr + " has maxmemory-policy " + tt.policy, "CONFIG SET maxmemory-policy noeviction", "maxmemory-policy noeviction`"} {
					if !strings.Contains(err.Error(), want) || !errors.Is(err, redisconf.ErrEvicting) {
						t.Errorf("Err = %v; want it to say %q", err, want)
					}
				}
			}
		})
	}
	t.Run("not reported", func(t *testing.T) {
		m := miniredis.RunT(t)
		conn := connTo(t, map[string]string{"REDIS_URL": "redis://" + m.Addr() + "/0"})
		if _, err := redisconf.CheckEviction(t.Context(), conn.Client); !errors.Is(err, redisconf.ErrPolicyUnknown) {
			t.Errorf("CheckEviction on miniredis = %v; want ErrPolicyUnknown", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		conn := connTo(t, map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0"})
		_, err := redisconf.CheckEviction(t.Context(), conn.Client)
		if err == nil || errors.Is(err, redisconf.ErrPolicyUnknown) {
			t.Errorf("CheckEviction of nothing = %v; want a connection error", err)
		}
	})
}

// TestGuard changes the policy and the durability of a running server: the
// verdict follows at the next check, and Ready re-checks once its answer is old.
func TestGuard(t *testing.T) {
	srv := testredis.StartServer(t, testredis.Durable...)
	conn := connTo(t, map[string]string{"REDIS_URL": srv.URL()})
	ctx := t.Context()
	g := redisconf.NewGuard(conn.Client)
	g.RequireDurable = true
	g.MaxAge = 300 * time.Millisecond
	var changes atomic.Int32
	g.OnChange = func(error) { changes.Add(1) }
	if err := g.Check(ctx); err != nil {
		t.Fatalf("Check = %v; want safe", err)
	}
	admin := srv.Client()
	if err := admin.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	if err := g.Err(); err != nil {
		t.Fatalf("Err = %v before any re-check; want the cached verdict (no round trip)", err)
	}
	if err := g.Ready(ctx); err != nil {
		t.Fatalf("Ready within MaxAge = %v; want the cached verdict", err)
	}
	time.Sleep(350 * time.Millisecond)
	if err := g.Ready(ctx); !errors.Is(err, redisconf.ErrEvicting) {
		t.Fatalf("Ready after MaxAge = %v; want ErrEvicting", err)
	}
	if err := g.Err(); !errors.Is(err, redisconf.ErrEvicting) {
		t.Fatalf("Err = %v; want ErrEvicting", err)
	}
	if err := admin.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.ConfigSet(ctx, "appendfsync", "everysec").Err(); err != nil {
		t.Fatal(err)
	}
	if err := g.Check(ctx); !errors.Is(err, redisconf.ErrVolatile) {
		t.Fatalf("Check with appendfsync everysec = %v; want ErrVolatile", err)
	}
	if err := admin.ConfigSet(ctx, "appendfsync", "always").Err(); err != nil {
		t.Fatal(err)
	}
	if err := g.Check(ctx); err != nil {
		t.Fatalf("Check after the fix = %v; want safe", err)
	}
	if n := changes.Load(); n != 2 {
		t.Errorf("OnChange called %d times; want 2 (unsafe, then safe again)", n)
	}
	// Redis gone: the last verdict stands (the write check of /readyz says it is down).
	srv.Kill()
	if err := g.Check(ctx); err == nil {
		t.Error("Check of a dead server = nil; want the connection error")
	}
	if err := g.Err(); err != nil {
		t.Errorf("Err after a failed check = %v; want the last verdict (safe)", err)
	}
}

// Behind Sentinel the current master is asked, and a replica's policy does not count.
func TestCheckEvictionSentinel(t *testing.T) {
	set := testredis.StartSentinel(t, "--maxmemory-policy", "noeviction")
	conn := connTo(t, map[string]string{"REDIS_SENTINEL_ADDRS": strings.Join(set.Addrs, ","), "REDIS_SENTINEL_MASTER": set.MasterName})
	ctx := t.Context()
	if err := set.Replica.Client().ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	e, err := redisconf.CheckEviction(ctx, conn.Client)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("port %d", set.Master.Port)
	if len(e.Nodes) != 1 || e.Nodes[0].Addr != want || e.Err() != nil {
		t.Fatalf("CheckEviction = %+v (%v); want the master (%s), noeviction", e, e.Err(), want)
	}
	if err := set.Master.Client().ConfigSet(ctx, "maxmemory-policy", "volatile-lfu").Err(); err != nil {
		t.Fatal(err)
	}
	e, err = redisconf.CheckEviction(ctx, conn.Client)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Err(); err == nil || !strings.Contains(err.Error(), want+" has maxmemory-policy volatile-lfu") {
		t.Errorf("Err = %v; want it to name the master's volatile-lfu", err)
	}
}
