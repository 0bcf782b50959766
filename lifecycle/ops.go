package lifecycle

import "context"

// WebhookDone records that finish gen of batch id was posted to its webhook (or
// given up on).
func (m *Manager) WebhookDone(ctx context.Context, id string, gen int64) error {
	return m.store.WebhookDone(ctx, id, gen)
}

// SetControlNumbers stores the numbers an operator's control request req acts on,
// so the control task's payload carries only ids; they expire in a day.
func (m *Manager) SetControlNumbers(ctx context.Context, id, req string, numbers []string) error {
	return m.store.SetControlNumbers(ctx, id, req, numbers)
}

// Forget removes batch id from the index once its keys have expired.
func (m *Manager) Forget(ctx context.Context, id string) error { return m.store.Forget(ctx, id) }
