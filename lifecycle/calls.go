package lifecycle

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/lifecycle/ledger"
)

// The worker's moves around one vendor call. Each is one atomic script in the
// store; they are named here so that the worker writes the ledger only through
// this package.

// MarkInflight is the move start: call r of part n is marked in flight and the part
// running, atomically with a check of the batch's control, so no call starts after
// an operator's pause or cancel (ledger.ErrPaused, ledger.ErrCancelled).
func (m *Manager) MarkInflight(ctx context.Context, id string, n int, r chunking.Range) error {
	return m.store.MarkInflight(ctx, id, n, r)
}

// MarkInflightDaily is MarkInflight that also takes sent numbers from the
// campaign's daily cap d, in the same script (ledger.DailyShort when the day is
// full).
func (m *Manager) MarkInflightDaily(ctx context.Context, id string, n int, r chunking.Range, sent int, d ledger.Daily) error {
	return m.store.MarkInflightDaily(ctx, id, n, r, sent, d)
}

// GiveBackDaily returns n numbers to batch id's cap for day: taken for a call that
// was never made.
func (m *Manager) GiveBackDaily(ctx context.Context, id, day string, n int) error {
	return m.store.GiveBackDaily(ctx, id, day, n)
}

// KeepInflight restores the in-flight mark of a call that a dead attempt left and
// this attempt cleared to resend, when the resend does not go out after all: the
// next attempt then resends the same range under the same name.
func (m *Manager) KeepInflight(ctx context.Context, id string, n int, r chunking.Range) error {
	return m.store.KeepInflight(ctx, id, n, r)
}

// ClearInflight drops call r's mark without an outcome: the vendor answered with an
// error before acting, so the call was certainly not processed.
func (m *Manager) ClearInflight(ctx context.Context, id string, n int, r chunking.Range) error {
	return m.store.ClearInflight(ctx, id, n, r)
}

// RecordRange is the move record: what one call did, each number's outcome and the
// counts, written once (false when the call was recorded before).
func (m *Manager) RecordRange(ctx context.Context, id string, n int, res ledger.RangeResult) (bool, error) {
	return m.store.RecordRange(ctx, id, n, res)
}

// NoteThrottle counts a throttled attempt of part n and returns the count.
func (m *Manager) NoteThrottle(ctx context.Context, id string, n int) (int, error) {
	return m.store.NoteThrottle(ctx, id, n)
}

// NoteError keeps part n's last error, shown to operators.
func (m *Manager) NoteError(ctx context.Context, id string, n int, msg string) error {
	return m.store.NoteError(ctx, id, n, msg)
}

// NoteCode keeps part n's last vendor code, shown while it retries.
func (m *Manager) NoteCode(ctx context.Context, id string, n int, code string) error {
	return m.store.NoteCode(ctx, id, n, code)
}

// NoteRepeat counts how often the call over r was refused with the same error in a
// row (a different error starts again), so a refusal that repeats can be stopped.
func (m *Manager) NoteRepeat(ctx context.Context, id string, n int, r chunking.Range, errKey string) (int, error) {
	return m.store.NoteRepeat(ctx, id, n, r, errKey)
}

// NoteFailure counts a failed attempt of part n and returns the count.
func (m *Manager) NoteFailure(ctx context.Context, id string, n int) (int, error) {
	return m.store.NoteFailure(ctx, id, n)
}

// Confirm runs write and waits until it is durable (the ledger's Confirmer): for
// marks kept beside the ledger that a crash must not lose, such as a redial's hold.
func (m *Manager) Confirm(ctx context.Context, key string, write func(p redis.Pipeliner)) error {
	return m.store.Confirm(ctx, key, write)
}
