package ledgerstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/internal/testredis"
)

// fullFixture is a fixture on a Redis of its own that refuses writes from fill
// until drain (maxmemory, noeviction).
func fullFixture(t *testing.T) (*fixture, func(), func()) {
	t.Helper()
	srv := testredis.StartServer(t, "--maxmemory-policy", "noeviction")
	c := srv.Client()
	f := &fixture{ctx: context.Background(), s: NewStore(c), db: &testredis.DB{Client: c, Real: true}}
	// Full: maxmemory below what Redis holds, so every write that needs memory is
	// refused however much a connection's buffers shrink meanwhile.
	fill := func() {
		if err := c.ConfigSet(f.ctx, "maxmemory", "1").Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.HSet(f.ctx, "dialq:probe", "a", "b").Err(); !IsOOM(err) {
			t.Fatalf("HSET on the full Redis = %v; want OOM", err)
		}
	}
	drain := func() {
		if err := c.ConfigSet(f.ctx, "maxmemory", "0").Err(); err != nil {
			t.Fatal(err)
		}
	}
	return f, fill, drain
}

// noOwner lists keys of dialq's that nothing would ever expire: without a TTL
// and outside a batch whose manifest exists.
func noOwner(t *testing.T, f *fixture) []string {
	t.Helper()
	var out []string
	for _, key := range f.keys(t, "dialq:*") {
		if f.db.Client.PTTL(f.ctx, key).Val() > 0 || key == k.index() {
			continue
		}
		if strings.HasPrefix(key, "dialq:{") {
			id := key[len("dialq:{"):strings.Index(key, "}")]
			if n, _ := f.db.Client.Exists(f.ctx, k.manifest(id)).Result(); n == 1 {
				continue
			}
		}
		out = append(out, key)
	}
	return out
}

// A commit that Redis fails half way (it fills up between the move of the parts
// and the manifest) leaves no key without an owner, releases the batch id, and
// the same commit run again takes it at once.
func TestCommitFailsWhenRedisFills(t *testing.T) {
	f, fill, drain := fullFixture(t)
	m := manifest("b1", 3, 4, 4, 2)
	st := f.stage(t, []int{4, 4, 2}, 3)
	afterMove = fill
	t.Cleanup(func() { afterMove = nil })
	if _, err := st.Commit(f.ctx, m); err == nil || !IsOOM(err) {
		t.Fatalf("Commit on a Redis that filled up = %v; want OOM", err)
	}
	afterMove = nil
	if err := st.Abort(f.ctx); err != nil {
		t.Fatalf("Abort while full: %v", err)
	}
	if keys := noOwner(t, f); len(keys) != 0 {
		t.Errorf("keys nothing expires after a failed commit: %v", keys)
	}
	if n := f.db.Client.Exists(f.ctx, k.claim("b1")).Val(); n != 0 {
		t.Errorf("the failed commit's claim is still held")
	}
	drain()
	start := time.Now()
	m = manifest("b1", 3, 4, 4, 2)
	existing, err := f.stage(t, []int{4, 4, 2}, 3).Commit(f.ctx, m)
	if err != nil || existing {
		t.Fatalf("re-run Commit = %v, %v; want a new batch", existing, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("re-run took %s: it waited for the failed run's claim", d)
	}
	for p, n := range []int{4, 4, 2} {
		if recs, err := f.loadPart(t, "b1", p); err != nil || len(recs) != n {
			t.Errorf("part %d after the re-run: %d records, %v", p, len(recs), err)
		}
	}
	for _, key := range f.keys(t, "dialq:{b1}:*") {
		if ttl := f.db.Client.PTTL(f.ctx, key).Val(); ttl != -1*time.Millisecond && ttl != -1 {
			t.Errorf("committed key %s has PTTL %v; want none (the batch's finish sets it)", key, ttl)
		}
	}
}

// A run that dies holding the claim (SIGKILL: no release) delays a re-run by
// the claim's lifetime at most, and the re-run then commits rather than fails.
func TestCommitTakesOverAnExpiredClaim(t *testing.T) {
	f := setup(t)
	if !f.db.Real {
		t.Skip("needs real TTLs")
	}
	if err := f.db.Client.Set(f.ctx, k.claim("b1"), "staging-dead", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	m := manifest("b1", 0, 2)
	m.Duplicates = 0
	existing, err := f.stage(t, []int{2}, 0).Commit(f.ctx, m)
	if err != nil || existing {
		t.Fatalf("Commit after a dead run's claim = %v, %v; want a new batch", existing, err)
	}
}

// Reads of a batch work while Redis refuses writes: a full Redis refuses even
// reads queued in a MULTI.
func TestStatusWhileRedisFull(t *testing.T) {
	f, fill, _ := fullFixture(t)
	m := manifest("b1", 0, 4, 4)
	m.Duplicates = 0
	if _, err := f.stage(t, []int{4, 4}, 0).Commit(f.ctx, m); err != nil {
		t.Fatal(err)
	}
	fill()
	st, err := f.s.Status(f.ctx, "b1")
	if err != nil || st.Accepted != 8 || st.Parts != 2 {
		t.Fatalf("Status while full = %+v, %v", st, err)
	}
	if _, err := f.s.Manifest(f.ctx, "b1"); err != nil {
		t.Errorf("Manifest while full: %v", err)
	}
}
