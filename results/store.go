package results

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/lifecycle/ledger"
)

// Store keeps results in Redis.
type Store struct {
	rdb redis.UniversalClient
	now func() time.Time
}

// NewStore returns a Store on rdb; now nil means time.Now.
func NewStore(rdb redis.UniversalClient, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{rdb: rdb, now: now}
}

// Meta is what is known of a slice beside its results.
type Meta struct {
	Slice  Slice
	Counts Counts
	// Closed slices take no more polls: the vendor's plan ended or the window closed.
	Closed bool
	// EndCount is the vendor's endCount at the last poll that wrote the slice.
	EndCount int
}

// putScript replaces a slice's results when the new ones know more, and moves the
// batch's counters by the difference, in one step: two polls racing (a callback's
// and the schedule's) never count a number twice, and an older view never
// overwrites a newer one.
//
// KEYS[1] results hash, KEYS[2] slice string, KEYS[3] the batch's manifest (its expiry)
// ARGV[1] slice field, ARGV[2] encoded results,
// ARGV[3..5] answered, not_answered, not_called in them, ARGV[6] closed (0/1),
// ARGV[7] the vendor's endCount, ARGV[8] force (1: an import replaces whatever is
// there), ARGV[9] retention in ms.
// Returns {applied, Δanswered, Δnot_answered, Δnot_called}.
var putScript = redis.NewScript(`
local old = redis.call('HGET', KEYS[1], ARGV[1])
local o = {0, 0, 0, 0, -1}
if old then
  local i = 1
  for x in string.gmatch(old, '[^,]+') do o[i] = tonumber(x); i = i + 1 end
end
local a, n, c = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local cl, e = tonumber(ARGV[6]), tonumber(ARGV[7])
if old and ARGV[8] ~= '1' then
  if o[4] == 1 then return {0, 0, 0, 0} end
  local total, ototal = a + n + c, o[1] + o[2] + o[3]
  if total < ototal then return {0, 0, 0, 0} end
  if total == ototal and cl == o[4] and e <= o[5] then return {0, 0, 0, 0} end
end
local ttl = tonumber(ARGV[9])
local mt = redis.call('PTTL', KEYS[3])
if mt > ttl then ttl = mt end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl)
redis.call('HSET', KEYS[1], ARGV[1], a .. ',' .. n .. ',' .. c .. ',' .. cl .. ',' .. e)
redis.call('HINCRBY', KEYS[1], 'answered', a - o[1])
redis.call('HINCRBY', KEYS[1], 'not_answered', n - o[2])
redis.call('HINCRBY', KEYS[1], 'not_called', c - o[3])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return {1, a - o[1], n - o[2], c - o[3]}
`)

// DefaultRetention is how long results outlive their last write when the batch
// names no retention.
const DefaultRetention = ledger.DefaultRetention

func retention(m *ledger.Manifest) time.Duration {
	if m.Retention > 0 {
		return m.Retention
	}
	return DefaultRetention
}

// Put stores slice sl's results (sorted by index, one per number) unless the slice
// already holds as much (force replaces anyway: an import). It returns whether it
// wrote, and how the batch's counts moved.
func (s *Store) Put(ctx context.Context, m *ledger.Manifest, sl Slice, res []Result, closed bool, endCount int, force bool) (bool, Counts, error) {
	b, err := Encode(sealOf(m), sl, res)
	if err != nil {
		return false, Counts{}, err
	}
	c := CountsOf(res)
	v, err := putScript.Run(ctx, s.rdb, []string{hashKey(m.ID), sliceKey(m.ID, sl), ledger.ManifestKey(m.ID)},
		"c:"+sl.field(), b, c.Answered, c.NotAnswered, c.NotCalled, flag(closed), endCount, flag(force),
		retention(m).Milliseconds()).Int64Slice()
	if err != nil {
		return false, Counts{}, fmt.Errorf("batch %s results %s: %w", m.ID, sl.field(), err)
	}
	return v[0] == 1, Counts{Answered: v[1], NotAnswered: v[2], NotCalled: v[3]}, nil
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Get reads slice sl's results; a slice never written has none.
func (s *Store) Get(ctx context.Context, m *ledger.Manifest, sl Slice) ([]Result, error) {
	b, err := s.rdb.Get(ctx, sliceKey(m.ID, sl)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("batch %s results %s: %w", m.ID, sl.field(), err)
	}
	res, err := Decode(sealOf(m), sl, b)
	if err != nil {
		return nil, fmt.Errorf("batch %s results %s: %w", m.ID, sl.field(), err)
	}
	return res, nil
}

// Latest counts each number's latest attempt only.
func (s *Summary) Latest() Counts {
	return Counts{Answered: s.Answered - s.Superseded.Answered, NotAnswered: s.NotAnswered - s.Superseded.NotAnswered,
		NotCalled: s.NotCalled - s.Superseded.NotCalled}
}

// Summary is a batch's results as counted.
type Summary struct {
	Counts
	// Bad counts vendor records that did not parse or matched no number.
	Bad int64 `json:"bad"`
	// Redialled counts numbers sent again; Superseded their results before,
	// which are no longer their latest.
	Redialled  int64  `json:"redialled"`
	Superseded Counts `json:"-"`
	// Refused counts numbers a vendor refused in a redial's call: that attempt's
	// final result. RedialsUncertain counts redials whose call may have reached
	// the vendor without its answer (never resent).
	Refused          int64 `json:"refused"`
	RedialsUncertain int   `json:"-"`
	// Due counts redials scheduled and not yet sent.
	Due int `json:"-"`
	// Slices are every slice written, by part, attempt and range.
	Slices []Meta `json:"-"`
	// Since maps each part polled to when it was delivered.
	Since map[int]time.Time `json:"-"`
}

// Summary reads batch id's counters and slices.
func (s *Store) Summary(ctx context.Context, id string) (*Summary, error) {
	h, err := s.rdb.HGetAll(ctx, hashKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("batch %s results: %w", id, err)
	}
	sum := &Summary{Since: map[int]time.Time{}}
	sum.Answered, sum.NotAnswered, sum.NotCalled = atoi(h[fieldAnswered]), atoi(h[fieldNotAnswered]), atoi(h[fieldNotCalled])
	sum.Bad, sum.Redialled, sum.Refused = atoi(h["bad"]), atoi(h[fieldRedialled]), atoi(h[fieldRefused])
	sum.Superseded = Counts{Answered: atoi(h[fieldSupersededAnswered]), NotAnswered: atoi(h[fieldSupersededNotAnswered]),
		NotCalled: atoi(h[fieldSupersededNotCalled])}
	for k, v := range h {
		switch {
		case strings.HasPrefix(k, "redial:") && strings.HasPrefix(v, "due:"):
			sum.Due++
		case strings.HasPrefix(k, "redial:") && strings.HasPrefix(v, "uncertain:"):
			sum.RedialsUncertain++
		case strings.HasPrefix(k, "c:"):
			if m, ok := parseMeta(strings.TrimPrefix(k, "c:"), v); ok {
				sum.Slices = append(sum.Slices, m)
			}
		case strings.HasPrefix(k, "since:"):
			if p, err := strconv.Atoi(strings.TrimPrefix(k, "since:")); err == nil {
				sum.Since[p] = time.UnixMilli(atoi(v)).UTC()
			}
		}
	}
	sort.Slice(sum.Slices, func(i, j int) bool {
		a, b := sum.Slices[i].Slice, sum.Slices[j].Slice
		if a.Part != b.Part {
			return a.Part < b.Part
		}
		if a.Attempt != b.Attempt {
			return a.Attempt < b.Attempt
		}
		return a.Range.Lo < b.Range.Lo
	})
	return sum, nil
}

// Meta reads what is known of slice sl; ok is false when it was never written.
func (s *Store) Meta(ctx context.Context, id string, sl Slice) (Meta, bool, error) {
	v, err := s.rdb.HGet(ctx, hashKey(id), "c:"+sl.field()).Result()
	if errors.Is(err, redis.Nil) {
		return Meta{Slice: sl}, false, nil
	}
	if err != nil {
		return Meta{}, false, fmt.Errorf("batch %s results: %w", id, err)
	}
	m, ok := parseMeta(sl.field(), v)
	return m, ok, nil
}

func parseMeta(field, v string) (Meta, bool) {
	f := strings.Split(field, ":")
	if len(f) != 3 {
		return Meta{}, false
	}
	part, e1 := strconv.Atoi(f[0])
	att, e2 := strconv.Atoi(f[1])
	lo, hi, ok := strings.Cut(f[2], "-")
	l, e3 := strconv.Atoi(lo)
	h, e4 := strconv.Atoi(hi)
	vals := strings.Split(v, ",")
	if e1 != nil || e2 != nil || e3 != nil || e4 != nil || !ok || len(vals) != 5 {
		return Meta{}, false
	}
	return Meta{
		Slice:  Slice{Part: part, Attempt: att, Range: chunking.Range{Lo: l, Hi: h}},
		Counts: Counts{Answered: atoi(vals[0]), NotAnswered: atoi(vals[1]), NotCalled: atoi(vals[2])},
		Closed: vals[3] == "1", EndCount: int(atoi(vals[4])),
	}, true
}

// Delivered notes when part was delivered (the first note wins): the results
// window counts from it. It returns the time kept.
func (s *Store) Delivered(ctx context.Context, m *ledger.Manifest, part int) (time.Time, error) {
	return s.deliveredAt(ctx, m, sinceField(part, 1))
}

// sinceField names when attempt k of part was delivered.
func sinceField(part, k int) string {
	if k <= 1 {
		return "since:" + strconv.Itoa(part)
	}
	return "since:" + strconv.Itoa(part) + ":" + strconv.Itoa(k)
}

func (s *Store) deliveredAt(ctx context.Context, m *ledger.Manifest, field string) (time.Time, error) {
	key := hashKey(m.ID)
	now := s.now().UnixMilli()
	var get *redis.StringCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSetNX(ctx, key, field, now)
		get = p.HGet(ctx, key, field)
		// Expiry like the slices': refreshed by every write, never below the retention.
		p.PExpire(ctx, key, retention(m))
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("batch %s results: %w", m.ID, err)
	}
	return time.UnixMilli(atoi(get.Val())).UTC(), nil
}

// AddBad counts vendor records that did not parse or matched no number.
func (s *Store) AddBad(ctx context.Context, id string, n int) error {
	if n == 0 {
		return nil
	}
	return s.rdb.HIncrBy(ctx, hashKey(id), "bad", int64(n)).Err()
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
