package compliance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Each list has a Bloom filter beside its buckets (key dialq:supp:{<list>}:bloom): a
// 2^27-bit (16 MiB) string, two bits a number, set before the number's entry is
// written, so it holds every listed number. Enqueue reads it once (one GET) and asks
// Redis only about the numbers it may hold: about 2% of unlisted numbers on a
// 10-million list, instead of every row. Removed or expired numbers leave their bits
// set; that costs a lookup, never a wrong answer. On a 10-million list it adds 1.7
// bytes a number.
const (
	bloomBits = 1 << 27
	bloomK    = 2
)

func bloomOffsets(n uint64) [bloomK]uint32 {
	x := (n + 0x632be59bd9b4e019) * 0x9e3779b97f4a7c15
	x ^= x >> 31
	x *= 0xbf58476d1ce4e5b9
	return [bloomK]uint32{uint32(x>>37) & (bloomBits - 1), uint32(x>>5) & (bloomBits - 1)}
}

// Bloom is a list's filter as read at one instant.
type Bloom struct {
	bits []byte // nil: the list has no entries
}

// MayHold is false when n is certainly not on the list.
func (b *Bloom) MayHold(n uint64) bool {
	for _, o := range bloomOffsets(n) {
		i := int(o >> 3)
		// SETBIT numbers bits from the most significant of each byte.
		if i >= len(b.bits) || b.bits[i]&(0x80>>(o&7)) == 0 {
			return false
		}
	}
	return true
}

// mergeScript ORs a filter into the list's filter.
//
//	KEYS[1]   the list's filter
//	KEYS[2]   a scratch key (same slot) holding the bits to add; deleted
var mergeScript = redis.NewScript(`
redis.call('BITOP', 'OR', KEYS[1], KEYS[1], KEYS[2])
redis.call('DEL', KEYS[2])
return 1`)

// mergeBloom ORs bits (a whole 16 MiB filter) into list's filter.
func mergeBloom(ctx context.Context, s *Store, list string, bits []byte) error {
	var r [8]byte
	_, _ = rand.Read(r[:])
	scratch := bloomScratchKey(list, hex.EncodeToString(r[:]))
	if err := s.rdb.Set(ctx, scratch, bits, time.Hour).Err(); err != nil {
		return err
	}
	return mergeScript.Run(ctx, s.rdb, []string{bloomKey(list), scratch}).Err()
}

// LoadBloom reads list's filter (16 MiB at most; less while the list is small).
func (s *Store) LoadBloom(ctx context.Context, list string) (*Bloom, error) {
	if err := CheckList(list); err != nil {
		return nil, err
	}
	b, err := s.rdb.Get(ctx, bloomKey(list)).Bytes()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read filter of %s: %w", list, err)
	}
	return &Bloom{bits: b}, nil
}
