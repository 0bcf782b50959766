package ledgerstore

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
)

// readTx runs the reads fn queues in one MULTI, so that they see one moment. A
// Redis at maxmemory refuses every command queued in a MULTI, reads included
// (EXECABORT); it then takes no write either, so nothing moves between the reads
// and a plain pipeline sees one moment just as well: operators can still read a
// batch while Redis is full.
func (s *Store) readTx(ctx context.Context, fn func(p redis.Pipeliner)) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error { fn(p); return nil })
	if err == nil || !IsOOM(err) {
		return err
	}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error { fn(p); return nil })
	return err
}

// IsOOM reports whether err is Redis refusing a write for want of memory (OOM), or
// a transaction it discarded for that reason (EXECABORT).
func IsOOM(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.HasPrefix(msg, "OOM ") || strings.Contains(msg, "EXECABORT") || strings.Contains(msg, ": OOM ")
}

// noteScript counts (HINCRBY field 1) or notes (HSET field value) on a part's
// state, only while the batch's manifest exists: a late attempt of a batch whose
// keys expired must not make a state key that nothing would ever expire.
//
//	KEYS[1] manifest, KEYS[2] part state
//	ARGV[1] field, ARGV[2] value (absent: count)
//	returns the count (0 for a note, or when the batch is gone)
var noteScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[2] then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) return 0 end
return redis.call('HINCRBY', KEYS[2], ARGV[1], 1)`)
