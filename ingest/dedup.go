package ingest

import "math/bits"

// Dedup remembers each distinct number (its E.164 digits as an integer, never zero)
// with the line it first appeared on. It is an open-addressing table (12 bytes a
// slot) split into shards that grow one at a time by a fifth once 90% full, so the
// load stays between 75% and 90%: at most 16 bytes a number, and memory never
// doubles at once, which a Go map of 10 million numbers would (about 40 bytes each).
// Long probe runs at 90% cost far less than the validation of one number.
type Dedup struct {
	shards [dedupShards]dedupShard
	n      int
}

const (
	dedupShards   = 256
	dedupMaxLoad  = 0.9
	dedupGrowth   = 1.2
	dedupMinSlots = 64
)

type dedupShard struct {
	keys  []uint64
	lines []uint32
	n     int
}

// NewDedup returns an empty set.
func NewDedup() *Dedup { return &Dedup{} }

// Len is the number of distinct numbers seen.
func (d *Dedup) Len() int { return d.n }

// Bytes is the memory held by the tables.
func (d *Dedup) Bytes() int {
	total := 0
	for i := range d.shards {
		total += len(d.shards[i].keys) * 12
	}
	return total
}

func mix(k uint64) uint64 {
	// splitmix64's finaliser: phone numbers share long prefixes, so spread them.
	k ^= k >> 30
	k *= 0xbf58476d1ce4e5b9
	k ^= k >> 27
	k *= 0x94d049bb133111eb
	k ^= k >> 31
	return k
}

// Add records key first seen on line. If key was seen before it returns the line
// of its first occurrence and false; lines above 4,294,967,295 are clamped.
func (d *Dedup) Add(key uint64, line int64) (first int64, added bool) {
	h := mix(key)
	s := &d.shards[h>>56]
	if float64(s.n+1) > float64(len(s.keys))*dedupMaxLoad {
		s.grow()
	}
	l := uint32(min(line, int64(^uint32(0))))
	i, found := s.find(key, h)
	if found {
		return int64(s.lines[i]), false
	}
	s.keys[i], s.lines[i] = key, l
	s.n++
	d.n++
	return line, true
}

// find returns key's slot, or the empty slot where it belongs.
func (s *dedupShard) find(key, h uint64) (int, bool) {
	// Lemire's fast range maps the hash onto any table size, so the table can grow
	// by a fifth instead of doubling.
	hi, _ := bits.Mul64(h<<8, uint64(len(s.keys)))
	i := int(hi)
	for {
		switch s.keys[i] {
		case key:
			return i, true
		case 0:
			return i, false
		}
		i++
		if i == len(s.keys) {
			i = 0
		}
	}
}

func (s *dedupShard) grow() {
	size := max(dedupMinSlots, int(float64(len(s.keys))*dedupGrowth))
	old, oldLines := s.keys, s.lines
	s.keys, s.lines = make([]uint64, size), make([]uint32, size)
	for i, k := range old {
		if k != 0 {
			j, _ := s.find(k, mix(k))
			s.keys[j], s.lines[j] = k, oldLines[i]
		}
	}
}
