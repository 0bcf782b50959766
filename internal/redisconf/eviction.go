package redisconf

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// NoEviction is the only maxmemory-policy dialq accepts: a full Redis refuses
// writes (dialq sees the error and retries or stops) instead of deleting keys,
// which would lose batches, part records and in-flight marks without a trace.
const NoEviction = "noeviction"

// ErrEvicting is wrapped by Eviction.Err when a master may delete keys to make room.
var ErrEvicting = errors.New("redis may evict dialq's keys")

// ErrPolicyUnknown is returned by CheckEviction when a server reports its policy
// neither in CONFIG GET nor in INFO memory (an embedded test server, a proxy).
var ErrPolicyUnknown = errors.New("redis does not report its maxmemory-policy")

// EvictionFix is the fix every refusal names.
const EvictionFix = "set maxmemory-policy noeviction (redis.conf line `maxmemory-policy noeviction`, " +
	"or at run time `CONFIG SET maxmemory-policy noeviction` then `CONFIG REWRITE`; on managed Redis, the parameter group's maxmemory-policy)"

// Policy is one master's maxmemory-policy.
type Policy struct {
	Addr   string
	Policy string
}

// Eviction is every master's policy: one for a single Redis or Sentinel, one per
// master on a Cluster.
type Eviction struct {
	Nodes []Policy
}

// Err is nil when no master evicts; else it names each master, its policy and the fix.
func (e Eviction) Err() error {
	var bad []string
	for _, n := range e.Nodes {
		if n.Policy != NoEviction {
			bad = append(bad, fmt.Sprintf("%s has maxmemory-policy %s", n.Addr, n.Policy))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s: a full Redis would delete keys (batches, part records, in-flight marks) and numbers would be lost or dialled twice; %s",
		ErrEvicting, strings.Join(bad, "; "), EvictionFix)
}

// String is a one-line summary for the start-up log.
func (e Eviction) String() string {
	parts := make([]string, 0, len(e.Nodes))
	for _, n := range e.Nodes {
		parts = append(parts, n.Addr+" maxmemory-policy="+n.Policy)
	}
	return strings.Join(parts, "; ")
}

// CheckEviction asks every master (each master of a Cluster; the current master
// behind Sentinel) for its maxmemory-policy: CONFIG GET, or INFO memory where
// CONFIG is renamed away. An error means a master could not be asked, or does not
// say (ErrPolicyUnknown); whether the answer is acceptable is Eviction.Err.
func CheckEviction(ctx context.Context, client redis.UniversalClient) (Eviction, error) {
	if nc, ok := client.(noClose); ok {
		client = nc.UniversalClient
	}
	cc, ok := client.(*redis.ClusterClient)
	if !ok {
		p, err := nodePolicy(ctx, client)
		if err != nil {
			return Eviction{}, err
		}
		return Eviction{Nodes: []Policy{p}}, nil
	}
	var mu sync.Mutex
	var e Eviction
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		p, err := nodePolicy(ctx, c)
		if err != nil {
			return err
		}
		mu.Lock()
		e.Nodes = append(e.Nodes, p)
		mu.Unlock()
		return nil
	})
	return e, err
}

func nodePolicy(ctx context.Context, c redis.Cmdable) (Policy, error) {
	var p Policy
	p.Addr = nodeAddr(c)
	cfg, cfgErr := c.ConfigGet(ctx, "maxmemory-policy").Result()
	if cfgErr == nil && cfg["maxmemory-policy"] != "" {
		p.Policy = cfg["maxmemory-policy"]
	}
	if p.Policy == "" || p.Addr == "" {
		// CONFIG renamed away (managed Redis), or a failover client whose Options
		// name the sentinels: INFO says both.
		info, err := c.Info(ctx, "memory", "server").Result()
		if err != nil && p.Policy == "" {
			if isNetErr(err) || isNetErr(cfgErr) {
				return p, fmt.Errorf("redis maxmemory-policy: %w", err)
			}
			return p, fmt.Errorf("%w (CONFIG GET: %v; INFO memory: %v)", ErrPolicyUnknown, cfgErr, err)
		}
		fields := parseInfo(info)
		if p.Policy == "" {
			p.Policy = fields["maxmemory_policy"]
		}
		if p.Addr == "" {
			p.Addr = "port " + fields["tcp_port"]
		}
	}
	if p.Addr == "" || p.Addr == "port " {
		p.Addr = "the master"
	}
	if p.Policy == "" {
		return p, ErrPolicyUnknown
	}
	return p, nil
}

// isNetErr tells a server that could not be reached from one that answered with
// an error reply (an unknown command, a section it does not have).
func isNetErr(err error) bool {
	if err == nil {
		return false
	}
	var reply redis.Error
	return !errors.As(err, &reply)
}

// nodeAddr is a node client's address, or "" for a failover client (its Options
// name no address: INFO's tcp_port then stands for the master).
func nodeAddr(c any) string {
	cl, ok := c.(*redis.Client)
	if !ok || cl.Options().Addr == "FailoverClient" {
		return ""
	}
	return cl.Options().Addr
}
