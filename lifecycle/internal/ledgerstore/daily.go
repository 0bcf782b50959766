package ledgerstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/chunking"
)

// A campaign's daily cap: at most Cap numbers of the batch sent per calendar day.
// The day's count lives in the batch's slot, so it is taken in one script with the
// in-flight mark:
//
//	dialq:{<b>}:daily:<yyyy-mm-dd>   STRING numbers sent that day (expires two days after it)
func (keys) daily(id, day string) string { return tag(id) + ":daily:" + day }

// Daily is one call's share of a daily cap.
type Daily struct {
	Cap int
	// Day is the calendar date in the cap's zone (yyyy-mm-dd); Ends is its end.
	Day  string
	Ends time.Time
}

// DailyShort means the day has room for Left more numbers only: nothing was
// marked or taken.
type DailyShort struct{ Left int }

func (e *DailyShort) Error() string {
	return fmt.Sprintf("daily cap: %d numbers left today", e.Left)
}

// markDailyScript is markScript plus the daily cap: the mark and the take of n
// numbers from the day's count are one step, all or nothing.
//
//	KEYS[1] manifest
//	KEYS[2] part state
//	KEYS[3] the day's count
//	ARGV[1] the in-flight field, ARGV[2] now (ms)
//	ARGV[3] n, the numbers the call sends; ARGV[4] the cap; ARGV[5] the count's expiry (ms)
//	returns markScript's codes, or -5 - left when the day has room for left < n
var markDailyScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local ctl = redis.call('HGET', KEYS[1], 'control')
if ctl == 'cancelled' then return -2 end
if ctl == 'paused' then return -3 end
local st = redis.call('HGET', KEYS[2], 'state')
if st == 'done' or st == 'failed' or st == 'cancelled' then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return -4 end
local used, n, cap = tonumber(redis.call('GET', KEYS[3]) or '0'), tonumber(ARGV[3]), tonumber(ARGV[4])
if used + n > cap then
  local left = cap - used
  if left < 0 then left = 0 end
  return -5 - left
end
if n > 0 then
  redis.call('INCRBY', KEYS[3], n)
  redis.call('PEXPIREAT', KEYS[3], ARGV[5])
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2], 'state', 'running')
redis.call('HDEL', KEYS[2], 'resume_at', 'wait_reason')
return 1`)

// MarkInflightDaily is MarkInflight that also takes sent numbers from the batch's
// day under d, atomically: a *DailyShort when the day has less room (nothing
// marked). A mark not confirmed durable is cleared and its take given back.
func (s *Store) MarkInflightDaily(ctx context.Context, id string, n int, r chunking.Range, sent int, d Daily) error {
	var cmd *redis.Cmd
	field := rangeField("inflight", r)
	err := s.confirm.Confirm(ctx, k.state(id, n), func(p redis.Pipeliner) {
		cmd = markDailyScript.Eval(ctx, p, []string{k.manifest(id), k.state(id, n), k.daily(id, d.Day)},
			field, s.now().UnixMilli(), sent, d.Cap, d.Ends.Add(48*time.Hour).UnixMilli())
	})
	if err != nil && cmd != nil {
		if v, cerr := cmd.Int(); cerr == nil && v == 1 {
			cctx := context.WithoutCancel(ctx)
			_ = s.ClearInflight(cctx, id, n, r)
			_ = s.GiveBackDaily(cctx, id, d.Day, sent)
		}
	}
	if err == nil {
		err = cmd.Err()
	}
	if err != nil {
		return fmt.Errorf("mark part %d %d-%d in flight: %w", n, r.Lo, r.Hi, err)
	}
	v, _ := cmd.Int()
	if v <= -5 {
		return &DailyShort{Left: -5 - v}
	}
	return markCode(id, v)
}

// markCode turns markScript's answer into an error.
func markCode(id string, v int) error {
	switch v {
	case 1:
		return nil
	case 0:
		return ErrPartFinal
	case -2:
		return ErrCancelled
	case -3:
		return ErrPaused
	case -4:
		return ErrInflight
	default:
		return fmt.Errorf("batch %s: %w", id, ErrNotFound)
	}
}

// DailyUsed reads how many numbers batch id sent on day.
func (s *Store) DailyUsed(ctx context.Context, id, day string) (int, error) {
	v, err := s.rdb.Get(ctx, k.daily(id, day)).Int()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("batch %s daily count: %w", id, err)
	}
	return v, nil
}

// giveBackDailyScript takes n back from a day's count (never below zero).
//
//	KEYS[1] the day's count
//	ARGV[1] n
var giveBackDailyScript = redis.NewScript(`
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = math.min(c, tonumber(ARGV[1]))
if n > 0 then redis.call('DECRBY', KEYS[1], n) end
return n`)

// GiveBackDaily returns n numbers to batch id's day: a call that was not sent.
func (s *Store) GiveBackDaily(ctx context.Context, id, day string, n int) error {
	if n <= 0 {
		return nil
	}
	if err := giveBackDailyScript.Run(ctx, s.rdb, []string{k.daily(id, day)}, n).Err(); err != nil {
		return fmt.Errorf("batch %s give back daily count: %w", id, err)
	}
	return nil
}
