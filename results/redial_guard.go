package results

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/quota"
)

// Redials obey the first send's rules (README "Controls", "Vendor quotas"). Right
// before each vendor call, after every wait, one script in the batch's slot checks
// the batch's control and the redials' hold, writes the call's mark and takes its
// numbers from the campaign's daily cap, all or nothing; the vendor's quota and
// in-flight slot (package quota) are taken just before it and given back when it
// refuses, as jobs' holdAndMark does. So once a cancel or pause returns no redial
// call of the batch starts, and redials count against quotas and caps. A call that
// does not fit is not cut: the redial task is scheduled again for when it may.

// guardScript: KEYS[1] the manifest, KEYS[2] the results hash, KEYS[3] the day's
// count (any key of the slot without a cap); ARGV[1] the mark's field, ARGV[2] its
// value, ARGV[3] "1" when a mark found refuses the call (a call the vendor cannot
// recognise when repeated), ARGV[4] the numbers sent, ARGV[5] the cap (0: none),
// ARGV[6] the count's expiry (ms). Returns 1 marked; 2 marked before by a call the
// vendor recognises (its day was taken then); -1 no batch; -2 cancelled; -3
// paused; -4 marked before; -5 - left when the day has room for left only.
var guardScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local ctl = redis.call('HGET', KEYS[1], 'control')
local hold = redis.call('HGET', KEYS[2], 'hold')
if ctl == 'cancelled' or hold == 'cancelled' then return -2 end
if ctl == 'paused' or hold == 'paused' then return -3 end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  if ARGV[3] == '1' then return -4 end
  return 2
end
local n, cap = tonumber(ARGV[4]), tonumber(ARGV[5])
if cap > 0 then
  local used = tonumber(redis.call('GET', KEYS[3]) or '0')
  if used + n > cap then
    local left = cap - used
    if left < 0 then left = 0 end
    return -5 - left
  end
  if n > 0 then
    redis.call('INCRBY', KEYS[3], n)
    redis.call('PEXPIREAT', KEYS[3], ARGV[6])
  end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1`)

// errStopped: the batch or its redials were cancelled before the call.
var errStopped = errors.New("batch cancelled: no redial")

// callHold is what one redial call holds of the quotas.
type callHold struct {
	take  *quota.Take
	daily *ledger.Daily // set when this call took its numbers from the day
	n     int
	field string
}

// guard takes the quotas of a call of n numbers and writes its mark (field, value).
// once: a mark found means an earlier call of the same numbers may have reached a
// vendor that cannot tell a repeat (errUncertain).
func (rd *Redialer) guard(ctx context.Context, m *ledger.Manifest, c campaign.Campaign, field, value string, n int, once bool) (*callHold, error) {
	now := rd.Results.now()
	take, err := rd.Quota.Take(ctx, m.Vendor, n, 0)
	var w *quota.Wait
	if errors.As(err, &w) {
		return nil, &again{after: max(w.Until.Sub(now), time.Second), why: w.Error()}
	}
	if err != nil {
		return nil, err
	}
	bg := context.WithoutCancel(ctx)
	if take.N < n {
		_ = rd.Quota.GiveBack(bg, take)
		return nil, &again{after: rd.quotaRetry(m.Vendor),
			why: fmt.Sprintf("%s quota: %d numbers left, the redial's call sends %d", m.Vendor, take.N, n)}
	}
	d, loc := jobs.DailyCap(c, rd.Quota, now)
	keys := []string{ledger.ManifestKey(m.ID), hashKey(m.ID), hashKey(m.ID)}
	args := []any{field, value, "0", n, 0, 0}
	if once {
		args[2] = "1"
	}
	if d != nil {
		keys[2] = ledger.DailyKey(m.ID, d.Day)
		args[4], args[5] = d.Cap, d.Ends.Add(48*time.Hour).UnixMilli()
	}
	var cmd *redis.Cmd
	err = rd.Batches.Confirm(ctx, hashKey(m.ID), func(p redis.Pipeliner) {
		cmd = guardScript.Eval(ctx, p, keys, args...)
	})
	if err == nil {
		err = cmd.Err()
	}
	v, _ := cmd.Int()
	h := &callHold{take: take, n: n, field: field}
	if v == 1 {
		h.daily = d
	}
	if err != nil {
		if v == 1 { // written but not confirmed durable: undone
			_ = rd.Results.rdb.HDel(bg, hashKey(m.ID), field).Err()
		}
		h.giveBack(bg, rd, m.ID)
		return nil, fmt.Errorf("redial mark %s: %w", field, err)
	}
	if v >= 1 {
		return h, nil
	}
	h.giveBack(bg, rd, m.ID)
	switch {
	case v == -1:
		return nil, fmt.Errorf("batch %s: %w", m.ID, ledger.ErrNotFound)
	case v == -2:
		return nil, errStopped
	case v == -3:
		return nil, &again{after: rd.retryIn(), why: "batch paused by an operator"}
	case v == -4:
		return nil, fmt.Errorf("%w: the call began before and its answer was never recorded", errUncertain)
	}
	left := -5 - v
	return nil, &again{after: max(d.Ends.Sub(now), time.Second), why: fmt.Sprintf(
		"daily cap of %d numbers: %d left for %s (%s), the redial's call sends %d; the next day starts %s",
		d.Cap, left, d.Day, loc, n, d.Ends.Format(time.RFC3339))}
}

// finish ends h's call, made whatever its outcome: its slot frees.
func (h *callHold) finish(ctx context.Context, rd *Redialer) {
	if err := rd.Quota.Finish(context.WithoutCancel(ctx), h.take); err != nil {
		rd.log().WithError(err).Warn("quota: finishing a redial's take failed; its slot frees when its lease ends")
	}
}

// giveBack returns what h holds: its call was not made.
func (h *callHold) giveBack(ctx context.Context, rd *Redialer, id string) {
	ctx = context.WithoutCancel(ctx)
	_ = rd.Quota.GiveBack(ctx, h.take)
	if h.daily != nil {
		_ = rd.Batches.GiveBackDaily(ctx, id, h.daily.Day, h.n)
	}
}

// refused ends h's call that the vendor refused before acting: everything goes
// back and the mark is cleared, so that the call is tried again whole.
func (h *callHold) refused(ctx context.Context, rd *Redialer, id string) error {
	h.giveBack(ctx, rd, id)
	return rd.Results.rdb.HDel(context.WithoutCancel(ctx), hashKey(id), h.field).Err()
}

// quotaRetry is when a redial call that does not fit the vendor's quota is tried
// again: the shortest sliding window frees within its length.
func (rd *Redialer) quotaRetry(vendor string) time.Duration {
	after := rd.retryIn()
	if rd.Quota != nil {
		for _, w := range rd.Quota.Config().Vendors[vendor].Windows {
			if !w.Day {
				after = min(after, w.Len)
			}
		}
	}
	return after
}

// redialChunk is the most numbers one redial call of m's campaign sends: within
// the vendor's smallest quota window and the campaign's daily cap, so that every
// call can fit (limit: the vendor's own, 0 for none).
func (rd *Redialer) redialChunk(m *ledger.Manifest, c campaign.Campaign, limit int) int {
	n := quota.MaxLimit
	if rd.Quota != nil {
		n = rd.Quota.Config().Smallest(m.Vendor)
	}
	if d := campaign.DailyCapOf(c); d > 0 {
		n = min(n, d)
	}
	if limit > 0 {
		n = min(n, limit)
	}
	return max(n, 1)
}

func chunkField(pl RedialPayload, i int) string {
	f := redialField(pl.Part, pl.Attempt) + ":call"
	if i > 0 {
		f += strconv.Itoa(i)
	}
	return f
}
