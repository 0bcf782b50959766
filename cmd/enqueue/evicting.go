package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/redisconf"
)

// refuseEvicting stops a command that writes new data (a batch, suppressed
// numbers) before it writes anything when Redis may delete keys when full: the
// batch would vanish part by part with no error anywhere (exit 1, a setting to
// fix). A server that does not report its policy (an embedded test Redis) gets a
// warning on stderr.
func refuseEvicting(ctx context.Context, rdb redis.UniversalClient, stderr io.Writer) error {
	ev, err := redisconf.CheckEviction(ctx, rdb)
	switch {
	case errors.Is(err, redisconf.ErrPolicyUnknown):
		fmt.Fprintf(stderr, "warning: %v: dialq needs maxmemory-policy noeviction\n", err)
		return nil
	case err != nil:
		return inputErr(fmt.Errorf("redis eviction check: %w", err))
	}
	if err := ev.Err(); err != nil {
		return usageErr("refusing to enqueue: %v", err)
	}
	return nil
}
