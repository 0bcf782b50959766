// Package compliance is dialq's compliance gate: named suppression (do-not-call)
// lists, contact caps counted across every batch and vendor, calling windows
// (package compliance/window), and a per-batch audit of every decision.
//
// # Suppression list layout
//
// A list of 10 million numbers must cost at most 24 bytes of Redis memory a number;
// a plain SET costs 60-80. So a list is 2^18 (262,144) small hashes, its buckets,
// each kept in Redis's compact listpack encoding (at most 128 entries of at most 64
// bytes under the default hash-max-listpack-entries/value; 10 million numbers make
// about 38 an entry a bucket, so a list stays compact up to about 25 million).
//
//	key    dialq:supp:{<list>}:<bucket>     (keys.go)
//	field  the bucket-relative rest of the number, a 32-bit integer (listpack: 6 bytes)
//	value  the entry's expiry in Unix seconds, or 0 for never (6 or 2 bytes)
//
// The number n (its E.164 digits as an integer, below 2^50) goes through a bijection
// h = mix(n) of [0, 2^50) so that numbers sharing their last digits spread evenly;
// bucket = h mod 2^18 and field = h / 2^18 - 2^31 (signed, so Redis stores it as a
// 32-bit integer). unmix(field, bucket) gives the number back for Export.
//
// An expired entry counts as absent everywhere; Count deletes the expired entries it
// meets. Adding a number that is present never shortens its expiry (a permanent
// entry stays permanent): Remove is how an entry is taken out.
package compliance

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/compliance/policy"
)

const (
	bucketBits = 18
	nBuckets   = 1 << bucketBits
	fieldBias  = 1 << 31
	// chunk is how many numbers one script call carries: large enough that the round
	// trip is a small part of the cost, small enough that Redis is not blocked long.
	chunk = 4096
)

// DefaultList is the list used when none is named.
const DefaultList = "dnc"

// Store keeps suppression lists, contact caps and audits in Redis.
type Store struct {
	rdb redis.UniversalClient
}

// NewStore returns a Store on rdb.
func NewStore(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb} }

// CheckList returns an error unless list is a valid list name.
func CheckList(list string) error {
	if !policy.ListName.MatchString(list) {
		return fmt.Errorf("list %q: 1-32 lower-case letters, digits, '_' or '-'", list)
	}
	return nil
}

func slot(n uint64) (bucket uint32, field string) {
	h := mix(n)
	return uint32(h & (nBuckets - 1)), strconv.FormatInt(int64(h>>bucketBits)-fieldBias, 10)
}

func unslot(bucket uint32, field string) (uint64, error) {
	f, err := strconv.ParseInt(field, 10, 64)
	if err != nil || f < -fieldBias || f >= fieldBias {
		return 0, fmt.Errorf("bad suppression field %q", field)
	}
	return unmix(uint64(f+fieldBias)<<bucketBits | uint64(bucket)), nil
}

func expiry(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(t.Unix(), 1)
}

// checkScript looks entries up.
//
//	KEYS[i]     bucket key of entry i
//	ARGV[1]     now, Unix seconds
//	ARGV[i+1]   entry i's field
//
// Returns a string with one byte an entry: '1' listed and not expired, '0' not.
var checkScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do
  local e = redis.call('HGET', KEYS[i], ARGV[i+1])
  if e and (e == '0' or tonumber(e) > now) then out[i] = '1' else out[i] = '0' end
end
return table.concat(out)`)

// countScript counts the live entries of some buckets and deletes the expired ones.
//
//	KEYS[i]   a bucket key
//	ARGV[1]   now, Unix seconds
//
// Returns the number of live entries.
var countScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local n = 0
for i = 1, #KEYS do
  local h = redis.call('HGETALL', KEYS[i])
  for j = 1, #h, 2 do
    local e = tonumber(h[j+1])
    if e == 0 or e > now then n = n + 1 else redis.call('HDEL', KEYS[i], h[j]) end
  end
end
return n`)

func parseAll(numbers []string) ([]uint64, error) {
	keys := make([]uint64, len(numbers))
	for i, s := range numbers {
		n, err := ParseE164(s)
		if err != nil {
			return nil, fmt.Errorf("number %d: %w", i+1, err)
		}
		keys[i] = n
	}
	return keys, nil
}

// Remove takes numbers off list and returns how many were on it (expired or not).
func (s *Store) Remove(ctx context.Context, list string, numbers []string) (int64, error) {
	if err := CheckList(list); err != nil {
		return 0, err
	}
	keys, err := parseAll(numbers)
	if err != nil {
		return 0, err
	}
	var removed int64
	for lo := 0; lo < len(keys); lo += chunk {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.IntCmd, 0, chunk)
		for _, n := range keys[lo:min(lo+chunk, len(keys))] {
			b, f := slot(n)
			cmds = append(cmds, pipe.HDel(ctx, bucketKey(list, b), f))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return removed, fmt.Errorf("remove from %s: %w", list, err)
		}
		for _, c := range cmds {
			removed += c.Val()
		}
	}
	return removed, nil
}

// Check returns, for each number, the first of lists that holds it, or "".
func (s *Store) Check(ctx context.Context, lists []string, numbers []string) ([]string, error) {
	keys, err := parseAll(numbers)
	if err != nil {
		return nil, err
	}
	return s.CheckKeys(ctx, lists, keys, time.Now())
}

// CheckKeys is Check on E.164 keys at the instant now.
func (s *Store) CheckKeys(ctx context.Context, lists []string, keys []uint64, now time.Time) ([]string, error) {
	out := make([]string, len(keys))
	for _, l := range lists {
		if err := CheckList(l); err != nil {
			return nil, err
		}
	}
	reloaded := false
	for lo := 0; lo < len(keys); lo += chunk {
		part := keys[lo:min(lo+chunk, len(keys))]
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(lists))
		for li, l := range lists {
			ks := make([]string, len(part))
			args := make([]any, len(part)+1)
			args[0] = now.Unix()
			for i, n := range part {
				b, f := slot(n)
				ks[i], args[i+1] = bucketKey(l, b), f
			}
			cmds[li] = checkScript.EvalSha(ctx, pipe, ks, args...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			if reloaded || !redis.HasErrorPrefix(err, "NOSCRIPT") {
				return nil, fmt.Errorf("check suppression: %w", err)
			}
			// The script cache was flushed (or never loaded): load it, once.
			if err := checkScript.Load(ctx, s.rdb).Err(); err != nil {
				return nil, fmt.Errorf("check suppression: %w", err)
			}
			reloaded = true
			lo -= chunk
			continue
		}
		for li, c := range cmds {
			hits, err := c.Text()
			if err != nil || len(hits) != len(part) {
				return nil, fmt.Errorf("check suppression: bad reply (%v)", err)
			}
			for i := range part {
				if out[lo+i] == "" && hits[i] == '1' {
					out[lo+i] = lists[li]
				}
			}
		}
	}
	return out, nil
}

// countChunk is how many buckets one count script scans (about 80,000 entries on a
// 10-million list: tens of milliseconds of Redis time).
const countChunk = 2048

// Count returns how many live numbers list holds, deleting the expired entries it
// meets. It scans the whole list: seconds for 10 million numbers.
func (s *Store) Count(ctx context.Context, list string) (int64, error) {
	if err := CheckList(list); err != nil {
		return 0, err
	}
	var total int64
	keys := make([]string, countChunk)
	for lo := uint32(0); lo < nBuckets; lo += countChunk {
		for i := range keys {
			keys[i] = bucketKey(list, lo+uint32(i))
		}
		n, err := countScript.Run(ctx, s.rdb, keys, time.Now().Unix()).Int64()
		if err != nil {
			return total, fmt.Errorf("count %s: %w", list, err)
		}
		total += n
	}
	return total, nil
}

// ErrStop may be returned by an Export callback to end the export early, without error.
var ErrStop = errors.New("stop")

// Export calls fn with each live number of list ("+<digits>") and its expiry (zero:
// never), in no particular order.
func (s *Store) Export(ctx context.Context, list string, fn func(number string, expires time.Time) error) error {
	if err := CheckList(list); err != nil {
		return err
	}
	const perPipe = 1024
	for lo := uint32(0); lo < nBuckets; lo += perPipe {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, perPipe)
		for i := range cmds {
			cmds[i] = pipe.HGetAll(ctx, bucketKey(list, lo+uint32(i)))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("export %s: %w", list, err)
		}
		now := time.Now().Unix()
		for i, c := range cmds {
			for f, e := range c.Val() {
				exp, _ := strconv.ParseInt(e, 10, 64)
				if exp != 0 && exp <= now {
					continue
				}
				n, err := unslot(lo+uint32(i), f)
				if err != nil {
					return err
				}
				var at time.Time
				if exp != 0 {
					at = time.Unix(exp, 0).UTC()
				}
				if err := fn(FormatE164(n), at); err != nil {
					if errors.Is(err, ErrStop) {
						return nil
					}
					return err
				}
			}
		}
	}
	return nil
}
