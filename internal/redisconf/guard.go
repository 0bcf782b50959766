package redisconf

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Guard re-checks, while a worker runs, what it checked at start: that no master
// evicts keys and (RequireDurable) that every master is durable. An operator's
// CONFIG SET at run time then turns the worker not ready and stops new vendor
// calls. The verdict is kept in memory: Err costs no round trip, so the engine can
// ask it before every call; Run refreshes it on a ticker and Ready on demand.
type Guard struct {
	client redis.UniversalClient
	// RequireDurable also re-runs CheckDurability (off when the worker runs with
	// DIALQ_ALLOW_VOLATILE_REDIS).
	RequireDurable bool
	// AllowUnknown accepts a server that does not report its policy (an embedded
	// test Redis accepted at start under DIALQ_ALLOW_VOLATILE_REDIS).
	AllowUnknown bool
	// MaxAge is how long Ready trusts the last verdict (default 2 s).
	MaxAge time.Duration
	// OnChange, when set, is called when the verdict changes (nil: safe again).
	OnChange func(err error)

	mu      sync.Mutex // one check at a time
	verdict atomic.Pointer[verdict]
}

type verdict struct {
	err error
	at  time.Time
}

// NewGuard returns a Guard of client whose first verdict is "safe": call Check
// before relying on it.
func NewGuard(client redis.UniversalClient) *Guard {
	g := &Guard{client: client}
	g.verdict.Store(&verdict{})
	return g
}

// Err is the last verdict: nil while Redis keeps what it is given, else why not.
func (g *Guard) Err() error { return g.verdict.Load().err }

// Check asks Redis now and stores the verdict, which it returns. When Redis cannot
// be asked (down, a failover under way) the previous verdict stands and the error
// says why: an unreachable Redis refuses writes by itself, and /readyz's write
// check reports it.
func (g *Guard) Check(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	err, asked := g.ask(ctx)
	if !asked {
		return err
	}
	old := g.verdict.Swap(&verdict{err: err, at: time.Now()})
	if g.OnChange != nil && (old.err == nil) != (err == nil) {
		g.OnChange(err)
	}
	return err
}

// ask returns the verdict, or asked=false with the error when Redis did not answer.
func (g *Guard) ask(ctx context.Context) (verdict error, asked bool) {
	e, err := CheckEviction(ctx, g.client)
	switch {
	case errors.Is(err, ErrPolicyUnknown) && g.AllowUnknown:
	case errors.Is(err, ErrPolicyUnknown):
		return err, true
	case err != nil:
		return err, false
	default:
		if verr := e.Err(); verr != nil {
			return verr, true
		}
	}
	if g.RequireDurable {
		d, err := CheckDurability(ctx, g.client)
		if err != nil {
			return err, false
		}
		if verr := d.Err(); verr != nil {
			return verr, true
		}
	}
	return nil, true
}

// Ready is a /readyz check: the verdict, asked again when older than MaxAge.
func (g *Guard) Ready(ctx context.Context) error {
	maxAge := g.MaxAge
	if maxAge <= 0 {
		maxAge = 2 * time.Second
	}
	if time.Since(g.verdict.Load().at) >= maxAge {
		_ = g.Check(ctx) // an unanswered check keeps the last verdict
	}
	return g.Err()
}

// Run checks every interval until ctx ends.
func (g *Guard) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cctx, cancel := context.WithTimeout(ctx, every)
			_ = g.Check(cctx)
			cancel()
		}
	}
}
