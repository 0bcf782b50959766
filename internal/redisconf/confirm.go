package redisconf

import (
	"context"
	"errors"
	"fmt"
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
	var pipe redis.Pipeliner
	if cc, ok := client.(*redis.ClusterClient); ok {
		// The cluster client sends a keyless WAIT to any master; pin the pipeline
		// to the key's master instead. A MOVED during resharding fails the
		// pipeline: the caller retries, nothing was acted on.
		node, err := cc.MasterForKey(ctx, key)
		if err != nil {
			return fmt.Errorf("redis node for %s: %w", key, err)
		}
		pipe = node.Pipeline()
	} else {
		pipe = client.Pipeline()
	}
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
