package redisconf_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/internal/testredis"
)

func connTo(t *testing.T, env map[string]string) *redisconf.Conn {
	t.Helper()
	conn, err := redisconf.FromEnv(func(k string) string { return env[k] }, "")
	if err != nil {
		t.Fatalf("FromEnv = %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// hasWaitAOF is what the server's version says, to compare CheckDurability's
// COMMAND INFO answer with.
func hasWaitAOF(t *testing.T, version string) bool {
	t.Helper()
	var major, minor int
	if _, err := fmt.Sscanf(version, "%d.%d", &major, &minor); err != nil {
		t.Fatalf("redis version %q: %v", version, err)
	}
	return major > 7 || major == 7 && minor >= 2
}

func TestCheckDurability(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		aof        bool
		fsync      string
		configOff  bool
		wantErr    string // empty: durable (on a server without WAITAOF)
		waitAOFFix bool   // WAITAOF would make it durable
	}{
		{"no aof", nil, false, "everysec", false, "appendonly no", false},
		{"aof everysec", []string{"--appendonly", "yes", "--appendfsync", "everysec"}, true, "everysec", false, "appendfsync everysec", true},
		{"aof always", testredis.Durable, true, "always", false, "", false},
		{"config disabled, aof always", append([]string{"--rename-command", "CONFIG", ""}, testredis.Durable...), true, "", true, "CONFIG is disabled", true},
		{"config disabled, no aof", []string{"--rename-command", "CONFIG", ""}, false, "", true, "appendonly no", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testredis.StartServer(t, tt.args...)
			conn := connTo(t, map[string]string{"REDIS_URL": srv.URL()})
			d, err := redisconf.CheckDurability(t.Context(), conn.Client)
			if err != nil {
				t.Fatalf("CheckDurability = %v", err)
			}
			if len(d.Nodes) != 1 {
				t.Fatalf("nodes = %+v; want one", d.Nodes)
			}
			n := d.Nodes[0]
			waitAOF := hasWaitAOF(t, n.Version)
			if n.AOF != tt.aof || n.AppendFsync != tt.fsync || n.ConfigDisabled != tt.configOff || n.WaitAOF != waitAOF || n.Role != "master" || n.Addr != srv.Addr {
				t.Errorf("node = %+v; want aof %t fsync %q config disabled %t waitaof %t master at %s", n, tt.aof, tt.fsync, tt.configOff, waitAOF, srv.Addr)
			}
			want := tt.wantErr
			if waitAOF && tt.waitAOFFix {
				want = ""
			}
			err = d.Err()
			switch {
			case want == "" && err != nil:
				t.Errorf("Err = %v; want durable", err)
			case want != "" && (!errors.Is(err, redisconf.ErrVolatile) || !strings.Contains(err.Error(), want)):
				t.Errorf("Err = %v; want ErrVolatile naming %q", err, want)
			}
		})
	}
}

func TestCheckDurabilityCountsReplicas(t *testing.T) {
	master := testredis.StartServer(t, testredis.Durable...)
	replica := testredis.StartServer(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
	waitReplicas(t, master.Client(), 1)
	conn := connTo(t, map[string]string{"REDIS_URL": master.URL()})
	d, err := redisconf.CheckDurability(t.Context(), conn.Client)
	if err != nil {
		t.Fatal(err)
	}
	if d.Nodes[0].Replicas != 1 {
		t.Errorf("replicas = %d; want 1", d.Nodes[0].Replicas)
	}
	// The replica itself is no place to write.
	rconn := connTo(t, map[string]string{"REDIS_URL": replica.URL()})
	d, err = redisconf.CheckDurability(t.Context(), rconn.Client)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Err(); err == nil || !strings.Contains(err.Error(), "not a master") {
		t.Errorf("Err on a replica = %v; want 'not a master'", err)
	}
}

func waitReplicas(t testing.TB, c *redis.Client, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := c.Info(context.Background(), "replication").Result()
		if err == nil && strings.Contains(info, "connected_slaves:"+strconv.Itoa(want)) &&
			(want == 0 || strings.Contains(info, "state=online")) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("master has not %d replicas online: %v\n%s", want, err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestConfirmAfter(t *testing.T) {
	master := testredis.StartServer(t, testredis.Durable...)
	conn := connTo(t, map[string]string{"REDIS_URL": master.URL()})
	ctx := t.Context()

	d, err := redisconf.CheckDurability(ctx, conn.Client)
	if err != nil {
		t.Fatal(err)
	}
	alone := redisconf.NewConfirmer(d, time.Second)
	if alone.WaitReplica {
		t.Fatalf("confirmer %s waits for a replica that does not exist", alone)
	}
	if err := alone.ConfirmAfter(ctx, conn.Client, "k0", func(p redis.Pipeliner) error {
		return p.Set(ctx, "k0", "v0", 0).Err()
	}); err != nil {
		t.Fatalf("ConfirmAfter without replica = %v", err)
	}
	if got := conn.Client.Get(ctx, "k0").Val(); got != "v0" {
		t.Errorf("k0 = %q; want v0", got)
	}

	replica := testredis.StartServer(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
	waitReplicas(t, master.Client(), 1)
	d, err = redisconf.CheckDurability(ctx, conn.Client)
	if err != nil {
		t.Fatal(err)
	}
	// Generous: a loaded machine can delay the replica's ack; only a missing replica
	// must fail.
	c := redisconf.NewConfirmer(d, 3*time.Second)
	if !c.WaitReplica {
		t.Fatalf("confirmer %s does not wait for the replica", c)
	}
	rc := replica.Client()
	for i := range 50 {
		key, val := fmt.Sprintf("k%d", i), strconv.Itoa(i)
		if err := c.ConfirmAfter(ctx, conn.Client, key, func(p redis.Pipeliner) error {
			p.Set(ctx, key, val, 0)
			return nil
		}); err != nil {
			t.Fatalf("ConfirmAfter with replica = %v", err)
		}
		// Confirmed means the replica has it now, not eventually.
		if got := rc.Get(ctx, key).Val(); got != val {
			t.Fatalf("replica %s = %q right after confirmation; want %q", key, got, val)
		}
	}

	// fn's own error and a failed write are returned as they are.
	boom := errors.New("boom")
	if err := c.ConfirmAfter(ctx, conn.Client, "x", func(redis.Pipeliner) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("ConfirmAfter = %v; want fn's error", err)
	}
	conn.Client.RPush(ctx, "list", "a")
	if err := c.ConfirmAfter(ctx, conn.Client, "list", func(p redis.Pipeliner) error {
		p.Incr(ctx, "list")
		return nil
	}); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Errorf("ConfirmAfter on a failing write = %v; want WRONGTYPE", err)
	}

	// Without the replica the write cannot be confirmed: the caller must not act.
	replica.Kill()
	waitReplicas(t, master.Client(), 0)
	short := redisconf.NewConfirmer(d, 300*time.Millisecond)
	start := time.Now()
	err = short.ConfirmAfter(ctx, conn.Client, "lost", func(p redis.Pipeliner) error {
		p.Set(ctx, "lost", "1", 0)
		return nil
	})
	if !errors.Is(err, redisconf.ErrNotConfirmed) {
		t.Errorf("ConfirmAfter without a live replica = %v; want ErrNotConfirmed", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("ConfirmAfter gave up after %v; want at most about the 300ms timeout", el)
	}
	// Once the master is known to have no replica, nothing is written at all: a
	// mark nobody can act on would later read as a call that may have been made.
	time.Sleep(250 * time.Millisecond)
	err = short.ConfirmAfter(ctx, conn.Client, "unwritten", func(p redis.Pipeliner) error {
		p.Set(ctx, "unwritten", "1", 0)
		return nil
	})
	if !errors.Is(err, redisconf.ErrNotConfirmed) {
		t.Errorf("ConfirmAfter with no replica = %v; want ErrNotConfirmed", err)
	}
	if n := conn.Client.Exists(ctx, "unwritten").Val(); n != 0 {
		t.Errorf("ConfirmAfter wrote although no replica could confirm")
	}
}

// BenchmarkConfirmAfter measures one confirmed write (a SET): on a Redis without
// AOF (the baseline, nothing waited for), with appendfsync always, and with
// appendfsync always plus WAIT 1 on a replica; one writer at a time ("serial") and
// 20 at once ("parallel"), as a worker's parts are.
func BenchmarkConfirmAfter(b *testing.B) {
	setups := []struct {
		name    string
		args    []string
		replica bool
	}{
		{"no-aof", nil, false},
		{"aof-always", testredis.Durable, false},
		{"aof-always+wait-replica", testredis.Durable, true},
	}
	for _, st := range setups {
		for _, parallel := range []bool{false, true} {
			b.Run(st.name+map[bool]string{false: "/serial", true: "/parallel"}[parallel], func(b *testing.B) {
				master := testredis.StartServer(b, st.args...)
				mc := master.Client()
				if st.replica {
					testredis.StartServer(b, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
					waitReplicas(b, mc, 1)
				}
				ctx := context.Background()
				d, err := redisconf.CheckDurability(ctx, mc)
				if err != nil {
					b.Fatal(err)
				}
				c := redisconf.NewConfirmer(d, time.Second)
				if c.WaitReplica != st.replica {
					b.Fatalf("confirmer %s", c)
				}
				write := func(i int) {
					key := "bench:" + strconv.Itoa(i%1000)
					if err := c.ConfirmAfter(ctx, mc, key, func(p redis.Pipeliner) error {
						p.Set(ctx, key, "inflight", time.Hour)
						return nil
					}); err != nil {
						b.Error(err)
					}
				}
				b.ResetTimer()
				if !parallel {
					for i := range b.N {
						write(i)
					}
					return
				}
				b.SetParallelism(10) // 20 writers on 2 CPUs
				var n atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						write(int(n.Add(1)))
					}
				})
			})
		}
	}
}
