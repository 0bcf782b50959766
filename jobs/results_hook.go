package jobs

import (
	"context"

	"github.com/dialq/dialq/lifecycle/ledger"
)

// ResultsHook schedules the collection of a delivered part's call results
// (results.Scheduler). It must be idempotent: the engine calls it each time it
// finds a part with every call recorded, so that a worker dying between the
// settle and the schedule loses nothing.
type ResultsHook interface {
	PartDelivered(ctx context.Context, m *ledger.Manifest, part int) error
}

// FlashAINotify issues the notifyUrl a FlashAI plan is sent with (results
// callbacks), remembering which part the plan's name belongs to.
type FlashAINotify func(ctx context.Context, m *ledger.Manifest, part int, name string) (string, error)

func (e *engine) scheduleResults(ctx context.Context, m *ledger.Manifest, part int) error {
	if e.deps.Results == nil {
		return nil
	}
	return e.deps.Results.PartDelivered(context.WithoutCancel(ctx), m, part)
}
