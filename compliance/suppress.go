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
	"iter"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/campaign"
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
	if !campaign.ListName.MatchString(list) {
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

// importScript adds entries to some buckets of a list, never shortening an
// expiry; one HMGET and at most one HSET a bucket, however many entries it gets.
//
//	KEYS[j]   bucket key j
//	ARGV[1]   now, Unix seconds
//	ARGV[2]   the entries' expiry, Unix seconds, 0 = never
//	ARGV[3..] for each bucket j in turn: its number of entries k, then k fields
//
// Returns how many entries were absent (or expired, when ARGV[2] is not 0) before.
var importScript = redis.NewScript(`
local now, e = tonumber(ARGV[1]), tonumber(ARGV[2])
local added, a = 0, 3
for j = 1, #KEYS do
  local k = tonumber(ARGV[a])
  local fields = {}
  for i = 1, k do fields[i] = ARGV[a + i] end
  a = a + k + 1
  if e == 0 then
    -- Permanent entries replace whatever is there: nothing to compare.
    local set = {}
    for i = 1, k do set[2*i-1], set[2*i] = fields[i], '0' end
    added = added + redis.call('HSET', KEYS[j], unpack(set))
  else
  local cur = redis.call('HMGET', KEYS[j], unpack(fields))
  local set, n = {}, 0
  for i = 1, k do
    local c = tonumber(cur[i])
    if not c or (c ~= 0 and c <= now) then added = added + 1 end
    if not c or (c ~= 0 and (e == 0 or e > c)) then
      set[n + 1], set[n + 2] = fields[i], ARGV[2]
      n = n + 2
    end
  end
  if n > 0 then redis.call('HSET', KEYS[j], unpack(set)) end
  end
end
return added`)

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

// Importer adds numbers to one list; not safe for concurrent use. It buffers up
// to Buffer numbers and writes them sorted by bucket, so that Redis does one
// HMGET and one HSET a bucket rather than a command a number: on a 10-million
// import with the default buffer, about 15 numbers a bucket write.
type Importer struct {
	s    *Store
	list string
	exp  int64
	// Buffer is how many numbers are held before a write (8 bytes each).
	Buffer int
	buf    []uint64 // bucket<<32 | field+2^31: sorts by bucket
	// bloom collects the filter bits of a large import (see bloom.go), merged into
	// the list's filter every flush; a small import sets its bits directly.
	bloom  []byte
	added  int64
	loaded bool // the script is in Redis's cache
	// A write in flight: done reports its end; inflight is its buffer, spare the
	// buffer to fill next. Fields the write changes (added, bloom, loaded) are read
	// only after wait.
	done            chan error
	inflight, spare []uint64
}

// DefaultImportBuffer is Importer.Buffer's default: 4 Mi numbers, 32 MiB.
const DefaultImportBuffer = 1 << 22

// NewImporter starts an import into list; entries expire at expires (zero: never).
func (s *Store) NewImporter(list string, expires time.Time) (*Importer, error) {
	if err := CheckList(list); err != nil {
		return nil, err
	}
	return &Importer{s: s, list: list, exp: expiry(expires), Buffer: DefaultImportBuffer}, nil
}

// Add adds number n (an E.164 key, see ParseE164).
func (im *Importer) Add(ctx context.Context, n uint64) error {
	h := mix(n)
	im.buf = append(im.buf, (h&(nBuckets-1))<<32|h>>bucketBits)
	if len(im.buf) >= max(im.Buffer, 1) {
		return im.startWrite(ctx)
	}
	return nil
}

// startWrite hands the full buffer to a goroutine and goes on filling the other
// one: sorting and encoding the next numbers overlap Redis writing these.
func (im *Importer) startWrite(ctx context.Context) error {
	if err := im.wait(); err != nil {
		return err
	}
	buf := im.buf
	im.buf, im.inflight = im.spare[:0], buf
	im.done = make(chan error, 1)
	go func() { im.done <- im.write(ctx, buf) }()
	return nil
}

// wait waits for the write in flight; its error is the import's.
func (im *Importer) wait() error {
	if im.done == nil {
		return nil
	}
	err := <-im.done
	im.done, im.spare, im.inflight = nil, im.inflight, nil
	return err
}

// smallImport is the size up to which filter bits are set one by one (BITFIELD)
// rather than merged from a local 16 MiB copy.
const smallImport = 1 << 14

// write writes buf's numbers (at most one write runs at a time).
func (im *Importer) write(ctx context.Context, buf []uint64) error {
	if len(buf) == 0 {
		return nil
	}
	slices.Sort(buf)
	buf = slices.Compact(buf) // a number twice in one write is one entry
	// The filter first: it must hold every listed number (see bloom.go).
	if err := im.setBloom(ctx, buf); err != nil {
		return fmt.Errorf("import into %s: %w", im.list, err)
	}
	const perCall = 512 // buckets a script call
	const inFlight = 8  // script calls a round trip: Redis works while the next are built
	if !im.loaded {
		if err := importScript.Load(ctx, im.s.rdb).Err(); err != nil {
			return fmt.Errorf("import into %s: %w", im.list, err)
		}
		im.loaded = true
	}
	exp := strconv.FormatInt(im.exp, 10)
	pipe := im.s.rdb.Pipeline()
	var cmds []*redis.Cmd
	send := func() error {
		if len(cmds) == 0 {
			return nil
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("import into %s: %w", im.list, err)
		}
		for _, c := range cmds {
			n, _ := c.Int64()
			im.added += n
		}
		cmds = cmds[:0]
		return nil
	}
	for i := 0; i < len(buf); {
		keys := make([]string, 0, perCall)
		args := []any{time.Now().Unix(), exp}
		for i < len(buf) && len(keys) < perCall {
			b := uint32(buf[i] >> 32)
			j := i
			for j < len(buf) && uint32(buf[j]>>32) == b {
				j++
			}
			keys = append(keys, bucketKey(im.list, b))
			args = append(args, j-i)
			for _, v := range buf[i:j] {
				args = append(args, strconv.FormatInt(int64(uint32(v))-fieldBias, 10))
			}
			i = j
		}
		cmds = append(cmds, importScript.EvalSha(ctx, pipe, keys, args...))
		if len(cmds) == inFlight {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if err := send(); err != nil {
		return err
	}
	return nil
}

func numbers(buf []uint64) func(yield func(uint64) bool) {
	return func(yield func(uint64) bool) {
		for _, v := range buf {
			if !yield(unmix(uint64(uint32(v))<<bucketBits | v>>32)) {
				return
			}
		}
	}
}

func (im *Importer) setBloom(ctx context.Context, buf []uint64) error {
	if len(buf) <= smallImport && im.bloom == nil {
		bits := make([]any, 0, 4*bloomK*len(buf))
		for n := range numbers(buf) {
			for _, o := range bloomOffsets(n) {
				bits = append(bits, "SET", "u1", o, 1)
			}
		}
		return im.s.rdb.BitField(ctx, bloomKey(im.list), bits...).Err()
	}
	if im.bloom == nil {
		im.bloom = make([]byte, bloomBits/8)
	}
	for n := range numbers(buf) {
		for _, o := range bloomOffsets(n) {
			im.bloom[o>>3] |= 0x80 >> (o & 7)
		}
	}
	return mergeBloom(ctx, im.s, im.list, im.bloom)
}

// Close writes what is buffered and returns how many numbers were new to the list
// (a write that go-redis retried after a timeout may find its own entries and
// count fewer; the entries are right either way).
func (im *Importer) Close(ctx context.Context) (added int64, err error) {
	if err := im.wait(); err != nil {
		return im.added, err
	}
	err = im.write(ctx, im.buf)
	im.buf = im.buf[:0]
	return im.added, err
}

// Import adds numbers (E.164, '+' optional) to list, expiring at expires (zero:
// never), and returns how many were new. A malformed number stops the import with
// its position (the number itself is not in the error: errors reach logs).
func (s *Store) Import(ctx context.Context, list string, numbers iter.Seq[string], expires time.Time) (int64, error) {
	im, err := s.NewImporter(list, expires)
	if err != nil {
		return 0, err
	}
	i := 0
	for num := range numbers {
		i++
		n, err := ParseE164(num)
		if err != nil {
			return im.added, fmt.Errorf("number %d: %w", i, err)
		}
		if err := im.Add(ctx, n); err != nil {
			return im.added, err
		}
	}
	return im.Close(ctx)
}

// Add adds numbers to list; see Import.
func (s *Store) Add(ctx context.Context, list string, numbers []string, expires time.Time) (int64, error) {
	return s.Import(ctx, list, sliceSeq(numbers), expires)
}

func sliceSeq(ss []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, s := range ss {
			if !yield(s) {
				return
			}
		}
	}
}

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
