// Package ratelimit spaces vendor calls across the whole worker fleet with a GCRA
// limiter kept in Redis (go-redis/redis_rate): any number of workers together stay
// at or under each vendor's rate.
package ratelimit

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Limiter waits for each vendor's fleet-wide rate. A vendor without a rate is not limited.
type Limiter struct {
	l      *redis_rate.Limiter
	limits map[string]redis_rate.Limit
	prefix string
}

// New returns a limiter allowing rates[vendor] calls a second across the fleet.
func New(rdb redis.UniversalClient, rates map[string]float64) (*Limiter, error) {
	limits := map[string]redis_rate.Limit{}
	for vendor, r := range rates {
		if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
			return nil, fmt.Errorf("rate for %s: %v is not a rate", vendor, r)
		}
		if r == 0 {
			continue
		}
		limits[vendor] = limitFor(r)
	}
	return &Limiter{l: redis_rate.NewLimiter(rdb), limits: limits, prefix: "dialq:rate:"}, nil
}

// limitFor spaces calls evenly (burst 1), so that every one-second window holds at
// most about r calls, not r plus a burst. Fractional rates stretch the period.
func limitFor(r float64) redis_rate.Limit {
	if r >= 1 {
		return redis_rate.Limit{Rate: int(math.Round(r)), Period: time.Second, Burst: 1}
	}
	return redis_rate.Limit{Rate: 1, Period: time.Duration(float64(time.Second) / r), Burst: 1}
}

// Busy means the next call is further away than the caller would wait: the part
// goes back to the queue for RetryAfter instead of holding a worker slot.
type Busy struct {
	Vendor     string
	RetryAfter time.Duration
}

func (b *Busy) Error() string {
	return fmt.Sprintf("%s fleet rate limit: next call in %s", b.Vendor, b.RetryAfter.Round(time.Millisecond))
}

// Wait blocks until vendor may make one more call and returns how long it waited.
// When that would take longer than budget in all, it returns a *Busy at once.
func (l *Limiter) Wait(ctx context.Context, vendor string, budget time.Duration) (time.Duration, error) {
	limit, ok := l.limits[vendor]
	if !ok {
		return 0, nil
	}
	var waited time.Duration
	for {
		res, err := l.l.Allow(ctx, l.prefix+vendor, limit)
		if err != nil {
			return waited, fmt.Errorf("rate limit %s: %w", vendor, err)
		}
		if res.Allowed > 0 {
			return waited, nil
		}
		if waited+res.RetryAfter > budget {
			// Other workers queue for the same slots: coming back after one
			// period leaves room for them, not a thundering herd.
			return waited, &Busy{Vendor: vendor, RetryAfter: max(res.RetryAfter, limit.Period/time.Duration(limit.Rate))}
		}
		select {
		case <-ctx.Done():
			return waited, ctx.Err()
		case <-time.After(res.RetryAfter):
			waited += res.RetryAfter
		}
	}
}
