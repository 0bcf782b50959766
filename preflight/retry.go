package preflight

import (
	"context"
	"time"

	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/flashai"
)

// Reads are safe to repeat, and a vendor's passing failure (a 5xx, a throttle, a
// dropped answer, a one-off signature refusal) must not stop an enqueue: each read
// is tried up to readAttempts times, freshly signed, waiting readBackoff doubling
// (or the vendor's Retry-After, up to maxReadWait) in between.
var (
	readAttempts = 5
	readBackoff  = 100 * time.Millisecond
	maxReadWait  = 10 * time.Second
)

// retrying is a Reader whose reads are retried.
type retrying struct{ r Reader }

func retry[T any](ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	wait := readBackoff
	for attempt := 1; ; attempt++ {
		v, err := f(ctx)
		if err == nil || attempt == readAttempts || ctx.Err() != nil {
			return v, err
		}
		switch vendors.ClassOf(err) {
		case vendors.Transient, vendors.Throttled, vendors.Ambiguous, vendors.AuthRefused:
		default:
			return v, err
		}
		d := max(wait, min(vendors.RetryAfter(err), maxReadWait))
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(d):
		}
		wait *= 2
	}
}

func (r retrying) GetBotence(ctx context.Context) ([]flashai.Script, error) {
	return retry(ctx, r.r.GetBotence)
}

func (r retrying) QueryPlanParams(ctx context.Context) ([]flashai.Param, error) {
	return retry(ctx, r.r.QueryPlanParams)
}

func (r retrying) GetCallLine(ctx context.Context) ([]flashai.Line, error) {
	return retry(ctx, r.r.GetCallLine)
}

func (r retrying) QueryAgentGroup(ctx context.Context) (*flashai.AgentList, error) {
	return retry(ctx, r.r.QueryAgentGroup)
}
