package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/internal/redisconf"
)

// guardEvery is how often a running worker re-checks Redis's eviction policy and
// durability; /readyz re-checks on demand when the last answer is 2 s old.
const guardEvery = 5 * time.Second

// checkEviction refuses a Redis that may delete keys when full: an evicted batch
// index, part record or in-flight mark loses numbers or dials them twice, and no
// error says so. There is no override. A server that does not report its policy
// (an embedded test Redis) passes only under DIALQ_ALLOW_VOLATILE_REDIS, which
// already accepts a Redis whose guarantees cannot be read.
func checkEviction(ctx context.Context, conn *redisconf.Conn, allowVolatile bool, log *logrus.Entry) error {
	e, err := redisconf.CheckEviction(ctx, conn.Client)
	switch {
	case errors.Is(err, redisconf.ErrPolicyUnknown) && allowVolatile:
		log.WithError(err).Warn("redis eviction policy cannot be read and " + redisconf.EnvAllowVolatile + "=true")
		return nil
	case errors.Is(err, redisconf.ErrPolicyUnknown):
		return fmt.Errorf("redis at %s: %w: %s (or set %s=true to run anyway, for tests only)", conn.Describe(), err, redisconf.EvictionFix, redisconf.EnvAllowVolatile)
	case err != nil:
		return fmt.Errorf("redis at %s: eviction check: %w", conn.Describe(), err)
	}
	if err := e.Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", conn.Describe(), err)
	}
	log.WithField("eviction", e.String()).Info("redis keeps every key (maxmemory-policy noeviction)")
	return nil
}

// startGuard re-checks what start-up checked, for /readyz and for the engine's
// gate before each vendor call, until ctx ends.
func startGuard(ctx context.Context, conn *redisconf.Conn, allowVolatile bool, log *logrus.Entry) *redisconf.Guard {
	g := redisconf.NewGuard(conn.Client)
	g.RequireDurable = !allowVolatile
	g.AllowUnknown = allowVolatile
	g.OnChange = func(err error) {
		if err != nil {
			log.WithError(err).Error("redis no longer keeps what it is given: not ready, no new vendor calls until it is fixed")
			return
		}
		log.Info("redis keeps what it is given again: vendor calls resume")
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_ = g.Check(cctx) // start-up checked the same; this fills the verdict
	cancel()
	go g.Run(ctx, guardEvery)
	return g
}
