package testredis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server process of a test's own, on a free loopback port, with
// its files in a temporary directory. Cleanup kills it.
type Server struct {
	Addr string
	Port int
	Dir  string
	args []string
	t    testing.TB

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Durable is the redis-server arguments for a Redis that keeps every acknowledged
// write through a crash.
var Durable = []string{"--appendonly", "yes", "--appendfsync", "always"}

// RequireServer skips t when redis-server is not installed.
func RequireServer(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
}

// StartServer starts redis-server with args after dialq's test defaults (no RDB
// snapshots, AOF off unless args turn it on). It waits until the server answers.
func StartServer(t testing.TB, args ...string) *Server {
	t.Helper()
	RequireServer(t)
	dir := t.TempDir()
	s := &Server{Port: freePort(t), Dir: dir, t: t}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
	s.args = append([]string{
		"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--logfile", filepath.Join(dir, "redis.log"),
		"--daemonize", "no",
		// A replica syncs at once instead of after diskless sync's 5 s wait.
		"--repl-diskless-sync-delay", "0",
	}, args...)
	t.Cleanup(s.Kill)
	s.Start()
	return s
}

// Start (re)starts the process with the same arguments and files.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	cmd := exec.Command("redis-server", s.args...)
	cmd.Dir = s.Dir
	// Killed with the test process, should it die before its cleanup runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := Spawn(cmd); err != nil {
		s.mu.Unlock()
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.cmd = cmd
	s.mu.Unlock()
	s.waitUp()
}

func (s *Server) waitUp() {
	s.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		// An error reply (NOAUTH, LOADING) comes from a server that is up.
		var reply redis.Error
		if err == nil || errors.As(err, &reply) {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
			s.t.Fatalf("redis-server on %s did not answer: %v\n%s", s.Addr, err, tail(string(log), 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill SIGKILLs the process, as a crash would: whatever is not on disk is gone.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart kills the process and starts it again on the same port and files.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.Start()
}

// Client returns a client of this server, closed at cleanup.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// URL is the server's redis:// URL, DB 0.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// freePort returns a loopback port that is free, and whose cluster bus port
// (+10000) is free too.
func freePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if port+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		if err != nil {
			continue
		}
		bus.Close()
		return port
	}
	t.Fatal("no free port pair for redis-server")
	return 0
}

// Cluster is a Redis Cluster of test-owned servers.
type Cluster struct {
	Nodes []*Server
	// Addrs are every node's address, the seeds for REDIS_CLUSTER_ADDRS.
	Addrs []string
	t     testing.TB
}

// StartCluster starts masters*(1+replicasPerMaster) nodes with args (for example
// Durable), joins them with redis-cli --cluster create and waits until every node
// reports cluster_state:ok. masters must be at least 3 (redis-cli's minimum).
func StartCluster(t testing.TB, masters, replicasPerMaster int, args ...string) *Cluster {
	t.Helper()
	RequireServer(t)
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("redis-cli not installed")
	}
	c := &Cluster{t: t}
	n := masters * (1 + replicasPerMaster)
	nodeArgs := append([]string{
		"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
	}, args...)
	for range n {
		s := StartServer(t, nodeArgs...)
		c.Nodes = append(c.Nodes, s)
		c.Addrs = append(c.Addrs, s.Addr)
	}
	create := append([]string{"--cluster", "create"}, c.Addrs...)
	create = append(create, "--cluster-replicas", strconv.Itoa(replicasPerMaster), "--cluster-yes")
	if out, err := exec.Command("redis-cli", create...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, tail(string(out), 2000))
	}
	c.WaitOK()
	return c
}

// WaitOK waits until every running node reports cluster_state:ok and agrees on
// the slot owners.
func (c *Cluster) WaitOK() {
	c.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		var why string
		for _, s := range c.Nodes {
			cl := redis.NewClient(&redis.Options{Addr: s.Addr})
			info, err := cl.ClusterInfo(ctx).Result()
			if err == nil && !strings.Contains(info, "cluster_state:ok") {
				err = fmt.Errorf("not ok")
			}
			if err == nil {
				// A replica must have finished its first sync before tests kill anything.
				repl, _ := cl.Info(ctx, "replication").Result()
				if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
					err = fmt.Errorf("replica not in sync")
				}
				// The master counts a replica online only after its first ack, a moment
				// after the replica's link is up; a confirmed write (WAIT) needs that.
				if strings.Contains(repl, "role:master") && strings.Count(repl, "state=online") < strings.Count(repl, ",state=") {
					err = fmt.Errorf("master does not see its replicas online yet")
				}
			}
			cl.Close()
			if err != nil {
				ok, why = false, s.Addr+": "+err.Error()
				break
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("cluster not ok within 30s: %s", why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Client returns a cluster client, closed at cleanup.
func (c *Cluster) Client() *redis.ClusterClient {
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

// Sentinels is one master, one replica and three sentinels, all test-owned.
type Sentinels struct {
	Master, Replica *Server
	Sentinels       []*Server
	// Addrs are the sentinels' addresses, for REDIS_SENTINEL_ADDRS.
	Addrs []string
	// MasterName is for REDIS_SENTINEL_MASTER.
	MasterName string
	t          testing.TB
	killed     *Server
}

// StartSentinel starts the set with args for both data servers (for example
// Durable) and waits until all three sentinels know the master, the replica and
// each other, so that a failover can be elected.
func StartSentinel(t testing.TB, args ...string) *Sentinels {
	t.Helper()
	RequireServer(t)
	set := &Sentinels{MasterName: "dialq", t: t}
	set.Master = StartServer(t, args...)
	set.Replica = StartServer(t, append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(set.Master.Port)}, args...)...)
	for range 3 {
		dir := t.TempDir()
		port := freePort(t)
		conf := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"+
			"sentinel monitor %s 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds %[4]s 1000\nsentinel failover-timeout %[4]s 10000\nsentinel parallel-syncs %[4]s 1\n",
			port, dir, filepath.Join(dir, "sentinel.log"), set.MasterName, set.Master.Port)
		// Sentinel rewrites its config file: it must be one of its own.
		path := filepath.Join(dir, "sentinel.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		s := &Server{Port: port, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir, t: t,
			args: []string{path, "--sentinel"}}
		t.Cleanup(s.Kill)
		s.Start()
		set.Sentinels = append(set.Sentinels, s)
		set.Addrs = append(set.Addrs, s.Addr)
	}
	set.waitFor("sentinels know the replica and each other", func(ctx context.Context, sc *redis.SentinelClient) bool {
		reps, err := sc.Replicas(ctx, set.MasterName).Result()
		if err != nil || len(reps) != 1 || !strings.Contains(fmt.Sprint(reps[0]), "master-link-status:ok") {
			return false
		}
		sents, err := sc.Sentinels(ctx, set.MasterName).Result()
		return err == nil && len(sents) == 2
	})
	return set
}

// waitFor polls every sentinel until cond holds on all of them (60 s at most).
func (set *Sentinels) waitFor(what string, cond func(ctx context.Context, sc *redis.SentinelClient) bool) {
	set.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for {
		all := true
		for _, s := range set.Sentinels {
			sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr})
			ok := cond(ctx, sc)
			sc.Close()
			if !ok {
				all = false
				break
			}
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			set.t.Fatalf("sentinel: %s: not within 60s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// MasterAddr is the master's address as the first sentinel reports it.
func (set *Sentinels) MasterAddr(ctx context.Context) (string, error) {
	sc := redis.NewSentinelClient(&redis.Options{Addr: set.Addrs[0]})
	defer sc.Close()
	hp, err := sc.GetMasterAddrByName(ctx, set.MasterName).Result()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// Failover asks a sentinel for a failover (SENTINEL FAILOVER) and waits until
// every sentinel names the other server as master and it accepts writes.
func (set *Sentinels) Failover() {
	set.t.Helper()
	ctx := context.Background()
	before, err := set.MasterAddr(ctx)
	if err != nil {
		set.t.Fatalf("sentinel master: %v", err)
	}
	sc := redis.NewSentinelClient(&redis.Options{Addr: set.Addrs[0]})
	defer sc.Close()
	if err := sc.Failover(ctx, set.MasterName).Err(); err != nil {
		set.t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	set.waitNewMaster(before)
}

// KillMaster SIGKILLs the current master and waits until the sentinels have
// promoted the replica. The killed server stays down until Revive.
func (set *Sentinels) KillMaster() {
	set.t.Helper()
	ctx := context.Background()
	before, err := set.MasterAddr(ctx)
	if err != nil {
		set.t.Fatalf("sentinel master: %v", err)
	}
	for _, s := range []*Server{set.Master, set.Replica} {
		if s.Addr == before {
			s.Kill()
			set.killed = s
		}
	}
	set.waitNewMaster(before)
}

// Revive restarts the server KillMaster killed, as a supervisor would, and waits
// until the sentinels have made it the new master's replica and it is in sync.
func (set *Sentinels) Revive() {
	set.t.Helper()
	if set.killed == nil {
		set.t.Fatal("Revive without KillMaster")
	}
	set.killed.Start()
	set.killed = nil
	set.waitFor("the revived server in sync as a replica", func(ctx context.Context, sc *redis.SentinelClient) bool {
		reps, err := sc.Replicas(ctx, set.MasterName).Result()
		if err != nil || len(reps) != 1 {
			return false
		}
		r := fmt.Sprint(reps[0])
		return strings.Contains(r, "master-link-status:ok") && !strings.Contains(r, "s_down") && !strings.Contains(r, "disconnected")
	})
}

func (set *Sentinels) waitNewMaster(before string) {
	set.t.Helper()
	set.waitFor("a new master", func(ctx context.Context, sc *redis.SentinelClient) bool {
		hp, err := sc.GetMasterAddrByName(ctx, set.MasterName).Result()
		if err != nil || net.JoinHostPort(hp[0], hp[1]) == before {
			return false
		}
		c := redis.NewClient(&redis.Options{Addr: net.JoinHostPort(hp[0], hp[1])})
		defer c.Close()
		role, err := c.Do(ctx, "ROLE").Slice()
		return err == nil && len(role) > 0 && role[0] == "master"
	})
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
