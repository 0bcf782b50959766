package redisconf

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotConfirmed means a write was made but not confirmed durable within the
// timeout: the caller must not act on it (no vendor call) and should retry later.
var ErrNotConfirmed = errors.New("redis write not confirmed durable")

// Confirmer makes a write durable before the caller acts on it: after the write,
// on the same connection, WAITAOF 1 0 (the master's own AOF fsync, Redis 7.2+) and
// WAIT 1 (one replica has it, so a Sentinel or Cluster failover keeps it). With
// neither, nothing is waited for: CheckDurability has then required appendfsync
// always, which fsyncs before replying.
//
// WAIT and WAITAOF wait for the offset of the last write made on their own
// connection; go-redis pools connections, so they only mean something in the same
// pipeline as the write. ConfirmAfter builds that pipeline.
type Confirmer struct {
	// WaitAOF runs WAITAOF 1 0 after the write.
	WaitAOF bool
	// WaitReplica runs WAIT 1 after the write.
	WaitReplica bool
	// Timeout bounds each wait; the server-side timeout is the same.
	Timeout time.Duration

	// replicas caches, per node client, whether it has a replica online (see
	// haveReplica).
	replicas sync.Map // node client -> replicaCheck
}

type replicaCheck struct {
	ok bool
	at time.Time
}

// replicaCheckTTL is how long a node's replica count is trusted.
const replicaCheckTTL = 200 * time.Millisecond

// haveReplica reports whether node has at least one replica online (cached for
// replicaCheckTTL). A write that WAIT could not confirm is worse than no write:
// the caller cannot act on it, yet whoever finds it later must assume it was acted
// on (an in-flight mark left behind reads as a call that may have been made). So
// while a master has no replica (just after a failover, before the old master has
// resynced), ConfirmAfter refuses before writing.
func (c *Confirmer) haveReplica(ctx context.Context, node redis.Cmdable) (bool, error) {
	if v, ok := c.replicas.Load(node); ok && time.Since(v.(replicaCheck).at) < replicaCheckTTL {
		return v.(replicaCheck).ok, nil
	}
	info, err := node.Info(ctx, "replication").Result()
	if err != nil {
		return false, err
	}
	ok := strings.Contains(info, "state=online")
	c.replicas.Store(node, replicaCheck{ok: ok, at: time.Now()})
	return ok, nil
}

// NewConfirmer chooses the waits d supports on every master: WAITAOF where all have
// it, WAIT where all have a replica.
func NewConfirmer(d Durability, timeout time.Duration) *Confirmer {
	c := &Confirmer{WaitAOF: len(d.Nodes) > 0, WaitReplica: len(d.Nodes) > 0, Timeout: timeout}
	for _, n := range d.Nodes {
		c.WaitAOF = c.WaitAOF && n.WaitAOF && n.AOF
		c.WaitReplica = c.WaitReplica && n.Replicas > 0
	}
	return c
}

// String says what is waited for, for the start-up log.
func (c *Confirmer) String() string {
	switch {
	case c.WaitAOF && c.WaitReplica:
		return "WAITAOF 1 0 + WAIT 1"
	case c.WaitAOF:
		return "WAITAOF 1 0"
	case c.WaitReplica:
		return "WAIT 1"
	}
	return "none (appendfsync always)"
}

// ConfirmAfter runs fn's commands and then the waits in one pipeline on one
// connection to the master that owns key (on a Cluster, key picks the node: every
// command fn queues must hash to key's slot). It returns fn's command errors, or
// ErrNotConfirmed when a wait came back short. Lua in fn must use EVAL (or EVALSHA
// of a script known to be loaded): a pipeline cannot fall back on NOSCRIPT.
//
// If the connection breaks, go-redis may send the whole pipeline again: fn's
// writes must be safe to repeat.
func (c *Confirmer) ConfirmAfter(ctx context.Context, client redis.UniversalClient, key string, fn func(redis.Pipeliner) error) error {
	if nc, ok := client.(noClose); ok {
		client = nc.UniversalClient
	}
	var node redis.UniversalClient = client
	if cc, ok := client.(*redis.ClusterClient); ok {
		// The cluster client sends a keyless WAIT to any master; pin the pipeline
		// to the key's master instead. A MOVED during resharding fails the
		// pipeline: the caller retries, nothing was acted on.
		n, err := cc.MasterForKey(ctx, key)
		if err != nil {
			return fmt.Errorf("redis node for %s: %w", key, err)
		}
		node = n
	}
	if c.WaitReplica {
		ok, err := c.haveReplica(ctx, node)
		if err != nil {
			return fmt.Errorf("redis replication state: %w", err)
		}
		if !ok {
			return fmt.Errorf("%w: the master has no replica online (nothing written)", ErrNotConfirmed)
		}
	}
	pipe := node.Pipeline()
	if err := fn(pipe); err != nil {
		return err
	}
	ms := c.Timeout.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	var aof *redis.Cmd
	var repl *redis.Cmd
	if c.WaitAOF {
		aof = pipe.Do(ctx, "WAITAOF", 1, 0, ms)
	}
	if c.WaitReplica {
		repl = pipe.Do(ctx, "WAIT", 1, ms)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis confirmed write: %w", err)
	}
	if aof != nil {
		res, err := aof.Int64Slice()
		if err != nil || len(res) < 1 || res[0] < 1 {
			return fmt.Errorf("%w: WAITAOF got %v (%v)", ErrNotConfirmed, res, err)
		}
	}
	if repl != nil {
		if n, err := repl.Int64(); err != nil || n < 1 {
			return fmt.Errorf("%w: no replica acknowledged within %v", ErrNotConfirmed, c.Timeout)
		}
	}
	return nil
}

// For ties c to client in the shape ledger.WithConfirmer takes:
// Confirm(ctx, key, write).
func (c *Confirmer) For(client redis.UniversalClient) Bound { return Bound{c: c, client: client} }

// Bound is a Confirmer tied to the process's client.
type Bound struct {
	c      *Confirmer
	client redis.UniversalClient
}

// Confirm runs write and the confirmer's waits in one pipeline (see ConfirmAfter).
func (b Bound) Confirm(ctx context.Context, key string, write func(p redis.Pipeliner)) error {
	return b.c.ConfirmAfter(ctx, b.client, key, func(p redis.Pipeliner) error { write(p); return nil })
}
