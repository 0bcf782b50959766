package redisconf

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// EnvAllowVolatile lets the worker start on a Redis that would lose acknowledged
// writes in a crash (for demos and tests only).
const EnvAllowVolatile = "DIALQ_ALLOW_VOLATILE_REDIS"

// Node is what one Redis master says about its persistence and replication.
type Node struct {
	Addr    string
	Version string
	Role    string // "master" or "slave"
	// AOF is appendonly yes.
	AOF bool
	// AppendFsync is always, everysec or no; empty when CONFIG is disabled (it
	// is not in INFO).
	AppendFsync string
	// ConfigDisabled is set when CONFIG GET was refused and INFO was read instead.
	ConfigDisabled bool
	// Replicas is connected_slaves.
	Replicas int
	// WaitAOF is true when the server has WAITAOF (Redis 7.2+).
	WaitAOF bool
}

// Durability is every master's Node: one for a single Redis or Sentinel, one per
// master on a Cluster.
type Durability struct {
	Nodes []Node
}

// ErrVolatile is wrapped by Durability.Err when a crash could lose an acknowledged
// write, so an in-flight mark could vanish and a number be dialled twice.
var ErrVolatile = errors.New("redis could lose acknowledged writes")

// Err is nil when every master keeps an acknowledged write through a crash:
// appendonly yes, and appendfsync always or WAITAOF to wait for the fsync. Else it
// names the node and the setting to change.
func (d Durability) Err() error {
	var problems []string
	for _, n := range d.Nodes {
		switch {
		case n.Role != "" && n.Role != "master":
			problems = append(problems, fmt.Sprintf("%s is a %s, not a master", n.Addr, n.Role))
		case !n.AOF:
			problems = append(problems, fmt.Sprintf("%s has appendonly no: set appendonly yes and appendfsync always", n.Addr))
		case n.WaitAOF:
			// The in-flight mark waits for its own fsync.
		case n.AppendFsync == "always":
		case n.ConfigDisabled:
			problems = append(problems, fmt.Sprintf("%s: appendfsync cannot be read (CONFIG is disabled) and Redis %s has no WAITAOF: appendfsync always is required", n.Addr, n.Version))
		default:
			problems = append(problems, fmt.Sprintf("%s has appendfsync %s and Redis %s has no WAITAOF: set appendfsync always (or run Redis 7.2+)", n.Addr, n.AppendFsync, n.Version))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrVolatile, strings.Join(problems, "; "))
}

// String is a one-line summary for the start-up log.
func (d Durability) String() string {
	parts := make([]string, 0, len(d.Nodes))
	for _, n := range d.Nodes {
		fsync := n.AppendFsync
		if fsync == "" {
			fsync = "unknown"
		}
		parts = append(parts, fmt.Sprintf("%s redis %s aof=%t appendfsync=%s replicas=%d waitaof=%t", n.Addr, n.Version, n.AOF, fsync, n.Replicas, n.WaitAOF))
	}
	return strings.Join(parts, "; ")
}

// CheckDurability asks every master (each master of a Cluster; the current master
// behind Sentinel) for its persistence and replication. An error means Redis could
// not be asked; whether the answer is good enough is Durability.Err.
func CheckDurability(ctx context.Context, client redis.UniversalClient) (Durability, error) {
	if nc, ok := client.(noClose); ok {
		client = nc.UniversalClient
	}
	cc, ok := client.(*redis.ClusterClient)
	if !ok {
		n, err := checkNode(ctx, client)
		if err != nil {
			return Durability{}, err
		}
		return Durability{Nodes: []Node{n}}, nil
	}
	var mu sync.Mutex
	var d Durability
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		n, err := checkNode(ctx, c)
		if err != nil {
			return err
		}
		mu.Lock()
		d.Nodes = append(d.Nodes, n)
		mu.Unlock()
		return nil
	})
	return d, err
}

// nodeClient is a single node's client: a *redis.Client, or the failover client.
type nodeClient interface {
	redis.Cmdable
	Do(ctx context.Context, args ...any) *redis.Cmd
}

func checkNode(ctx context.Context, c nodeClient) (Node, error) {
	var n Node
	n.Addr = nodeAddr(c)
	info, err := c.Info(ctx, "server", "persistence", "replication").Result()
	if err != nil {
		return n, fmt.Errorf("redis INFO: %w", err)
	}
	fields := parseInfo(info)
	n.Version = fields["redis_version"]
	n.Role = fields["role"]
	n.Replicas, _ = strconv.Atoi(fields["connected_slaves"])
	if n.Addr == "" {
		// A failover client's Options name the sentinels, not the master.
		n.Addr = "port " + fields["tcp_port"]
	}
	cfg, err := c.ConfigGet(ctx, "append*").Result()
	switch {
	case err == nil:
		n.AOF = cfg["appendonly"] == "yes"
		n.AppendFsync = cfg["appendfsync"]
	default:
		// Managed Redis often renames CONFIG away; INFO still says whether AOF is on.
		n.ConfigDisabled = true
		n.AOF = fields["aof_enabled"] == "1"
	}
	n.WaitAOF, err = hasCommand(ctx, c, "waitaof")
	if err != nil {
		return n, err
	}
	return n, nil
}

// hasCommand asks COMMAND INFO rather than comparing versions: forks and
// backports report versions that say nothing about their commands.
func hasCommand(ctx context.Context, c nodeClient, name string) (bool, error) {
	res, err := c.Do(ctx, "COMMAND", "INFO", name).Slice()
	if err != nil {
		return false, fmt.Errorf("redis COMMAND INFO: %w", err)
	}
	return len(res) == 1 && res[0] != nil, nil
}

func parseInfo(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out
}
