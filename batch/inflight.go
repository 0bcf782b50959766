package batch

import (
	"context"
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
