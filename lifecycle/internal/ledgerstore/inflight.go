package ledgerstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/chunking"
)

// keepScript puts a call's in-flight mark back unless the part has ended: no
// control is checked, since the mark records a call that may already have
// reached the vendor, not one about to start.
//
//	KEYS[1] part state
//	ARGV[1] the in-flight field, ARGV[2] now (Unix ms)
var keepScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if st == 'done' or st == 'failed' or st == 'cancelled' then return 0 end
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
return 1`)

// KeepInflight restores the in-flight mark of a call that a dead attempt left and
// that this attempt cleared to resend, when the resend does not go out after all
// (a quota to wait for, a pause, a refusal before acting): the next attempt then
// resends the same range under the same name, which the vendor recognises.
func (s *Store) KeepInflight(ctx context.Context, id string, n int, r chunking.Range) error {
	if err := keepScript.Run(ctx, s.rdb, []string{k.state(id, n)}, rangeField("inflight", r), s.now().UnixMilli()).Err(); err != nil {
		return fmt.Errorf("keep part %d %d-%d in flight: %w", n, r.Lo, r.Hi, err)
	}
	return nil
}

// Refusals of a mark: the call must not start.
var (
	ErrCancelled = errors.New("batch cancelled by an operator")
	ErrPaused    = errors.New("batch paused by an operator")
	// ErrPartFinal means the part was settled by another attempt.
	ErrPartFinal = errors.New("part already settled")
	// ErrInflight means another attempt of the part is calling the vendor over the
	// range.
	ErrInflight = errors.New("another attempt is calling the vendor over this range")
)

// MarkInflight notes, durably, that a call over r is about to be sent. If the worker
// dies before RecordRange, the next attempt finds the mark and reconciles instead of
// sending blindly. It refuses (ErrCancelled, ErrPaused) once an operator has stopped
// the batch: the check and the mark are one step, so no call starts after a cancel.
func (s *Store) MarkInflight(ctx context.Context, id string, n int, r chunking.Range) error {
	var cmd *redis.Cmd
	err := s.confirm.Confirm(ctx, k.state(id, n), func(p redis.Pipeliner) {
		cmd = markScript.Eval(ctx, p, []string{k.manifest(id), k.state(id, n)}, rangeField("inflight", r), s.now().UnixMilli())
	})
	if err != nil && cmd != nil {
		if v, cerr := cmd.Int(); cerr == nil && v == 1 {
			// The mark was written but not confirmed durable: no call is made, so
			// the mark goes, or the next attempt would take it for a call that was.
			_ = s.ClearInflight(context.WithoutCancel(ctx), id, n, r)
		}
	}
	if err == nil {
		err = cmd.Err()
	}
	if err != nil {
		return fmt.Errorf("mark part %d %d-%d in flight: %w", n, r.Lo, r.Hi, err)
	}
	v, _ := cmd.Int()
	return markCode(id, v)
}

// ClearInflight drops r's mark without an outcome: used when the call was
// certainly not processed (the vendor answered with an error before acting).
func (s *Store) ClearInflight(ctx context.Context, id string, n int, r chunking.Range) error {
	return s.rdb.HDel(ctx, k.state(id, n), rangeField("inflight", r)).Err()
}
