package quota

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Keys, all of one vendor in one Cluster slot (hash tag {quota:<vendor>}), so that
// one script takes from every window and the semaphore at once:
//
//	dialq:{quota:<v>}:w:<ms>       HASH  sliding window of <ms>: bucket index → numbers taken
//	                                     (a bucket is a 60th of the window); expires after the window
//	dialq:{quota:<v>}:day:<date>   STRING numbers taken on that date in the quota's zone;
//	                                     expires a day after the date ends
//	dialq:{quota:<v>}:sem          ZSET  calls in flight: lease id → lease end (ms)
func tag(vendor string) string { return "dialq:{quota:" + vendor + "}" }

func semKey(vendor string) string { return tag(vendor) + ":sem" }

func slideKey(vendor string, w Window) string {
	return tag(vendor) + ":w:" + strconv.FormatInt(w.Len.Milliseconds(), 10)
}

func dayKey(vendor, day string) string { return tag(vendor) + ":day:" + day }

// bucketMS is a sliding window's bucket: a 60th of it. A take counts in the window
// from its bucket's start, so the window holds all takes of its last W, and a
// little more (never less): the conservative side.
func bucketMS(w Window) int64 { return max(1, (w.Len.Milliseconds()+59)/60) }

// Confirmer makes a write durable before the caller acts on it (redisconf.Bound):
// the take's script and WAITAOF/WAIT run in one pipeline on the key's master.
type Confirmer interface {
	Confirm(ctx context.Context, key string, write func(p redis.Pipeliner)) error
}

type plain struct{ rdb redis.UniversalClient }

func (c plain) Confirm(ctx context.Context, _ string, write func(p redis.Pipeliner)) error {
	p := c.rdb.Pipeline()
	write(p)
	_, err := p.Exec(ctx)
	return err
}

// Limiter takes calls' numbers and slots from the vendors' quotas.
type Limiter struct {
	rdb     redis.UniversalClient
	cfg     *Config
	confirm Confirmer
	now     func() time.Time
	// lease ids: this process's random prefix and a counter.
	prefix string
	seq    atomic.Uint64
}

// Option configures a Limiter.
type Option func(*Limiter)

// WithClock sets the clock (tests; the worker passes its ledger's clock).
func WithClock(now func() time.Time) Option { return func(l *Limiter) { l.now = now } }

// WithConfirmer confirms each take durable (Cluster, Sentinel) before the call.
func WithConfirmer(c Confirmer) Option { return func(l *Limiter) { l.confirm = c } }

// New returns a Limiter on cfg's quotas.
func New(rdb redis.UniversalClient, cfg *Config, opts ...Option) *Limiter {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	l := &Limiter{rdb: rdb, cfg: cfg, confirm: plain{rdb}, now: time.Now, prefix: hex.EncodeToString(b)}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Config is the limiter's configuration.
func (l *Limiter) Config() *Config { return l.cfg }

// Has reports whether vendor has a quota: without one, Take is never asked.
func (l *Limiter) Has(vendor string) bool { return l != nil && l.cfg.Has(vendor) }

// Take is numbers and a slot taken for one call.
type Take struct {
	Vendor string
	N      int
	At     time.Time
	lease  string
	// stop ends the lease's renewal.
	stop context.CancelFunc
}

// Wait means the call cannot go now: Until is when the quota frees (the
// semaphore: a guess), Why says which quota.
type Wait struct {
	Vendor string
	Until  time.Time
	Why    string
}

func (w *Wait) Error() string {
	return fmt.Sprintf("%s quota: %s; frees %s", w.Vendor, w.Why, w.Until.UTC().Format(time.RFC3339))
}

// The kinds of window the take and give-back scripts tell apart (their ARGV);
// the scripts spell windowSliding, and a test (schema_test.go) holds them to these.
const (
	windowSliding = "s"
	windowDay     = "d"
)

// takeScript takes n numbers from every window of a vendor and one in-flight slot,
// all or nothing.
//
//	KEYS[1]    the semaphore
//	KEYS[1+i]  window i's key (sliding: its HASH; day: the date's STRING)
//	ARGV[1] now (ms); ARGV[2] n; ARGV[3] lease id; ARGV[4] lease end (ms);
//	ARGV[5] the semaphore's limit (0: none); ARGV[6] w, the number of windows;
//	then 4 a window: kind ("s" sliding, "d" day), limit,
//	  sliding: length (ms), bucket (ms); day: the next midnight (ms), the key's expiry (ms)
//	returns {1, n, 0} taken; {0, left, wait} short: left (< n) could be taken now,
//	and when left is 0, wait (ms) is when the tightest window next frees;
//	{-1, 0, wait} every slot is in flight, the first lease ends in wait ms
var takeScript = redis.NewScript(`
local now, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local semMax, nw = tonumber(ARGV[5]), tonumber(ARGV[6])
if semMax > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= semMax then
    local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {-1, 0, tonumber(first[2]) - now}
  end
end
local avail, wait = n, 0
for i = 1, nw do
  local a = 6 + (i - 1) * 4
  local kind, limit, p1, p2 = ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local key = KEYS[1 + i]
  local used, frees = 0, 0
  if kind == 's' then
    local minb = math.floor((now - p1) / p2)
    local h = redis.call('HGETALL', key)
    local oldest = nil
    for j = 1, #h, 2 do
      local b, c = tonumber(h[j]), tonumber(h[j + 1])
      if b < minb then
        redis.call('HDEL', key, h[j])
      elseif c > 0 then
        used = used + c
        if oldest == nil or b < oldest then oldest = b end
      end
    end
    if oldest then frees = (oldest + 1) * p2 + p1 - now end
  else
    used = tonumber(redis.call('GET', key) or '0')
    frees = p1 - now
  end
  local left = math.max(0, limit - used)
  if left == 0 and frees > wait then wait = frees end
  if left < avail then avail = left end
end
if avail < n then
  if avail > 0 then wait = 0 end
  return {0, avail, wait}
end
for i = 1, nw do
  local a = 6 + (i - 1) * 4
  local kind, p1, p2 = ARGV[a + 1], tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  if kind == 's' then
    redis.call('HINCRBY', KEYS[1 + i], string.format('%d', math.floor(now / p2)), n)
    redis.call('PEXPIRE', KEYS[1 + i], p1 + p2)
  else
    redis.call('INCRBY', KEYS[1 + i], n)
    redis.call('PEXPIREAT', KEYS[1 + i], p2)
  end
end
if semMax > 0 then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]) - now)
end
return {1, n, 0}`)

// args builds the take's keys and window arguments at now.
func (l *Limiter) args(vendor string, v Vendor, now time.Time) (keys []string, wargs []any) {
	keys = []string{semKey(vendor)}
	for _, w := range v.Windows {
		if w.Day {
			next := NextMidnight(now, l.cfg.Zone)
			keys = append(keys, dayKey(vendor, Day(now, l.cfg.Zone)))
			wargs = append(wargs, windowDay, w.Limit, next.UnixMilli(), next.Add(24*time.Hour).UnixMilli())
			continue
		}
		keys = append(keys, slideKey(vendor, w))
		wargs = append(wargs, windowSliding, w.Limit, w.Len.Milliseconds(), bucketMS(w))
	}
	return keys, wargs
}

// Take takes up to n numbers and one slot of vendor's quotas for a call: all n when
// they fit, else as many as are left (the call is cut to fit; the rest waits). It
// waits inline while that takes no longer than budget, and otherwise returns a
// *Wait at once. The take is confirmed durable (WithConfirmer) before it returns;
// the caller must GiveBack a take whose call is not sent, and Finish one whose
// call was made. Without a quota it returns a take of n that holds nothing.
func (l *Limiter) Take(ctx context.Context, vendor string, n int, budget time.Duration) (*Take, error) {
	if !l.Has(vendor) || n <= 0 {
		return &Take{Vendor: vendor, N: n, At: time.Now()}, nil
	}
	v := l.cfg.Vendors[vendor]
	start := time.Now()
	pause := 25 * time.Millisecond
	for {
		now := l.now()
		keys, wargs := l.args(vendor, v, now)
		lease := ""
		if v.Inflight > 0 {
			lease = l.prefix + "-" + strconv.FormatUint(l.seq.Add(1), 10)
		}
		args := append([]any{now.UnixMilli(), n, lease, now.Add(l.cfg.Lease).UnixMilli(), v.Inflight, len(v.Windows)}, wargs...)
		var cmd *redis.Cmd
		err := l.confirm.Confirm(ctx, keys[0], func(p redis.Pipeliner) { cmd = takeScript.Eval(ctx, p, keys, args...) })
		var res []int64
		if cmd != nil {
			res, _ = cmd.Int64Slice()
		}
		if err != nil {
			if len(res) == 3 && res[0] == 1 {
				// Written but not confirmed: nothing is sent, so nothing is held.
				_ = l.GiveBack(context.WithoutCancel(ctx), &Take{Vendor: vendor, N: n, At: now, lease: lease})
			}
			return nil, fmt.Errorf("%s quota: %w", vendor, err)
		}
		if len(res) != 3 {
			return nil, fmt.Errorf("%s quota: unexpected answer %v", vendor, res)
		}
		var wait time.Duration
		var why string
		switch res[0] {
		case 1:
			t := &Take{Vendor: vendor, N: n, At: now, lease: lease}
			if lease != "" {
				t.renew(ctx, l)
			}
			return t, nil
		case 0:
			if res[1] > 0 {
				n = int(res[1]) // cut to fit, and take that at once
				continue
			}
			wait, why = time.Duration(res[2])*time.Millisecond, "every number of "+v.String()+" is used"
		default:
			// Slots free as calls end, usually well before the first lease does:
			// look again soon, backing off, and give the worker slot back past budget.
			wait, why = time.Duration(res[2])*time.Millisecond, fmt.Sprintf("%d calls in flight, the limit", v.Inflight)
			if time.Since(start)+pause <= budget {
				wait = pause
				pause = min(2*pause, 200*time.Millisecond)
			} else {
				wait = min(wait, time.Second)
			}
		}
		wait = max(wait, time.Millisecond)
		if time.Since(start)+wait > budget {
			return nil, &Wait{Vendor: vendor, Until: now.Add(max(wait, time.Second)), Why: why}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// renew keeps the take's lease alive while its call runs (every third of the
// lease), until Finish or GiveBack; a worker killed mid-call stops renewing and its
// slot comes back within the lease.
func (t *Take) renew(parent context.Context, l *Limiter) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	t.stop = cancel
	go func() {
		tick := time.NewTicker(l.cfg.Lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				end := l.now().Add(l.cfg.Lease).UnixMilli()
				p := l.rdb.Pipeline()
				p.ZAddXX(ctx, semKey(t.Vendor), redis.Z{Score: float64(end), Member: t.lease})
				p.PExpire(ctx, semKey(t.Vendor), l.cfg.Lease)
				_, _ = p.Exec(ctx)
			}
		}
	}()
}

// giveBackScript returns a take that was not sent: its numbers to the windows it
// was taken from, its slot to the semaphore.
//
//	KEYS[1] the semaphore; KEYS[1+i] window i's key as the take used it
//	ARGV[1] the lease id ("" none); ARGV[2] n; ARGV[3] w;
//	then a window's bucket index (sliding) or "" (day)
var giveBackScript = redis.NewScript(`
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[1], ARGV[1]) end
local n = tonumber(ARGV[2])
for i = 1, tonumber(ARGV[3]) do
  local key, b = KEYS[1 + i], ARGV[3 + i]
  if b ~= '' then
    local c = tonumber(redis.call('HGET', key, b) or '0')
    if math.min(c, n) > 0 then redis.call('HINCRBY', key, b, -math.min(c, n)) end
  else
    local c = tonumber(redis.call('GET', key) or '0')
    if math.min(c, n) > 0 then redis.call('DECRBY', key, math.min(c, n)) end
  end
end
return 1`)

// GiveBack returns t's numbers and slot: its call was not sent (a cancel or pause at
// the mark, the vendor refused it before acting, the range was cut again).
func (l *Limiter) GiveBack(ctx context.Context, t *Take) error {
	if t == nil || !l.Has(t.Vendor) {
		return nil
	}
	if t.stop != nil {
		t.stop()
	}
	v := l.cfg.Vendors[t.Vendor]
	keys, _ := l.args(t.Vendor, v, t.At)
	args := []any{t.lease, t.N, len(v.Windows)}
	for _, w := range v.Windows {
		if w.Day {
			args = append(args, "")
		} else {
			args = append(args, t.At.UnixMilli()/bucketMS(w))
		}
	}
	if err := giveBackScript.Run(ctx, l.rdb, keys, args...).Err(); err != nil {
		return fmt.Errorf("%s quota give back: %w", t.Vendor, err)
	}
	return nil
}

// finishScript ends a call that was made: its slot is freed, and its numbers are
// counted from the call's end instead of its start (the vendor counts them when it
// receives them, at any moment in between): moved to the end's bucket, and added
// to the end's date too when the call crossed midnight.
//
//	KEYS[1] the semaphore; KEYS[1+i] window i's key at the call's end
//	ARGV[1] the lease id ("" none); ARGV[2] n; ARGV[3] w;
//	then 3 a window: sliding: the take's bucket, the end's bucket, the key's lifetime (ms);
//	day: "", 1 when the call crossed midnight (else 0), the key's expiry (ms)
var finishScript = redis.NewScript(`
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[1], ARGV[1]) end
local n = tonumber(ARGV[2])
for i = 1, tonumber(ARGV[3]) do
  local a = 3 + (i - 1) * 3
  local key, from, to, ttl = KEYS[1 + i], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3])
  if from ~= '' then
    if tonumber(to) > tonumber(from) then
      local m = math.min(tonumber(redis.call('HGET', key, from) or '0'), n)
      if m > 0 then
        redis.call('HINCRBY', key, from, -m)
        redis.call('HINCRBY', key, to, m)
        redis.call('PEXPIRE', key, ttl)
      end
    end
  elseif to == '1' then
    redis.call('INCRBY', key, n)
    redis.call('PEXPIREAT', key, ttl)
  end
end
return 1`)

// Finish ends t's call, made whatever its outcome: see finishScript.
func (l *Limiter) Finish(ctx context.Context, t *Take) error {
	if t == nil || !l.Has(t.Vendor) {
		return nil
	}
	if t.stop != nil {
		t.stop()
	}
	v := l.cfg.Vendors[t.Vendor]
	now := l.now()
	keys, _ := l.args(t.Vendor, v, now)
	args := []any{t.lease, t.N, len(v.Windows)}
	for _, w := range v.Windows {
		if w.Day {
			crossed := 0
			if Day(now, l.cfg.Zone) != Day(t.At, l.cfg.Zone) {
				crossed = 1
			}
			args = append(args, "", crossed, NextMidnight(now, l.cfg.Zone).Add(24*time.Hour).UnixMilli())
			continue
		}
		g := bucketMS(w)
		args = append(args, t.At.UnixMilli()/g, now.UnixMilli()/g, w.Len.Milliseconds()+g)
	}
	if err := finishScript.Run(ctx, l.rdb, keys, args...).Err(); err != nil {
		return fmt.Errorf("%s quota finish: %w", t.Vendor, err)
	}
	return nil
}
