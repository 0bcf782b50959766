package ledgerstore

import (
	"context"
	"fmt"

	"github.com/dialq/dialq/chunking"
)

// NoteThrottle counts a throttled attempt of part n and returns the count so far.
func (s *Store) NoteThrottle(ctx context.Context, id string, n int) (int, error) {
	c, err := noteScript.Run(ctx, s.rdb, []string{k.manifest(id), k.state(id, n)}, "throttles").Int()
	return c, err
}

// NoteError keeps the last error of part n for operators (never secrets: the vendor
// clients keep them out of error strings).
func (s *Store) NoteError(ctx context.Context, id string, n int, msg string) error {
	return noteScript.Run(ctx, s.rdb, []string{k.manifest(id), k.state(id, n)}, "last_error", msg).Err()
}

// NoteCode keeps the vendor code of part n's last error beside it.
func (s *Store) NoteCode(ctx context.Context, id string, n int, code string) error {
	return s.rdb.HSet(ctx, k.state(id, n), "last_code", code).Err()
}

// NoteRepeat counts how often the call over r was refused with the same error in a
// row, and returns the count: a different error starts the count again.
func (s *Store) NoteRepeat(ctx context.Context, id string, n int, r chunking.Range, errKey string) (int, error) {
	v, err := repeatScript.Run(ctx, s.rdb, []string{k.state(id, n)}, rangeField("repeat", r), errKey).Int()
	if err != nil {
		return 0, fmt.Errorf("batch %s part %d repeat: %w", id, n, err)
	}
	return v, nil
}

// NoteFailure counts a failed attempt of part n and returns the count so far: the
// part's failure budget is kept here, not in asynq's retry count, which deferrals
// (pauses, rate-limit waits) do not move but which archives a task unsettled when
// it runs out.
func (s *Store) NoteFailure(ctx context.Context, id string, n int) (int, error) {
	c, err := noteScript.Run(ctx, s.rdb, []string{k.manifest(id), k.state(id, n)}, "failures").Int()
	return c, err
}
