package compliance

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

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
