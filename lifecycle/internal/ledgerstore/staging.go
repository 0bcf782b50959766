package ledgerstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/chunking"
)

// ConflictError is a batch id given for a list other than the one it holds.
type ConflictError struct {
	ID       string
	Existing *Manifest
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("batch %s exists with other content (vendor %s, created %s, source %q): choose another -batch id, "+
		"or leave -batch out to derive one from the list", e.ID, e.Existing.Vendor, e.Existing.Created.Format(time.RFC3339), e.Existing.Source)
}

// Staging collects a batch's parts and rejects while the input streams in, under a
// temporary id: the batch id is derived from the whole input, known only at the end.
// Nothing under a staging id is visible as a batch until Commit.
type Staging struct {
	s       *Store
	id      string
	parts   int
	rejects []any
	// nrejects counts every reject added, flushed or not: Commit moves the rejects
	// list only when one was staged (RENAME of a missing key fails).
	nrejects int
}

const stagingTTL = 24 * time.Hour

// afterMove, set only by tests, runs between the move and the manifest: where a
// Redis that fills up fails a commit half done.
var afterMove func()

// claimTTL bounds how long a commit that died holds its batch id: the same command
// run again after it takes the id over.
const claimTTL = time.Minute

// NewStaging starts a staging area.
func (s *Store) NewStaging() *Staging {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &Staging{s: s, id: "staging-" + hex.EncodeToString(b)}
}

// Seal is what the staged parts are sealed with; Commit keeps it in the manifest.
func (st *Staging) Seal() string { return st.id }

// WritePart stores part n's records.
func (st *Staging) WritePart(ctx context.Context, n int, recs []chunking.Record) error {
	if n != st.parts {
		return fmt.Errorf("part %d written out of order, want %d", n, st.parts)
	}
	if err := st.s.rdb.Set(ctx, k.part(st.id, n), SealRecords(st.id, n, recs), stagingTTL).Err(); err != nil {
		return fmt.Errorf("write part %d: %w", n, err)
	}
	st.parts++
	return nil
}

// Reject is one input row refused before delivery (or suppressed by the gate).
type Reject struct {
	Line   int64  `json:"line"`
	Raw    string `json:"raw"`
	Reason string `json:"reason"`
}

// AddReject buffers a rejected row; rejects are written a thousand at a time.
func (st *Staging) AddReject(ctx context.Context, r Reject) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	st.rejects = append(st.rejects, b)
	st.nrejects++
	if len(st.rejects) >= 1000 {
		return st.flushRejects(ctx)
	}
	return nil
}

func (st *Staging) flushRejects(ctx context.Context) error {
	if len(st.rejects) == 0 {
		return nil
	}
	key := k.rejects(st.id)
	_, err := st.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, key, st.rejects...)
		p.Expire(ctx, key, stagingTTL)
		return nil
	})
	st.rejects = st.rejects[:0]
	if err != nil {
		return fmt.Errorf("write rejects: %w", err)
	}
	return nil
}

// Abort deletes what was staged.
func (st *Staging) Abort(ctx context.Context) error {
	keys := []string{k.rejects(st.id)}
	for n := range st.parts {
		keys = append(keys, k.part(st.id, n))
	}
	return st.s.deleteKeys(ctx, keys)
}

func (s *Store) deleteKeys(ctx context.Context, keys []string) error {
	// One DEL a key: on Cluster a multi-key DEL must not span slots.
	for lo := 0; lo < len(keys); lo += 1000 {
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, key := range keys[lo:min(lo+1000, len(keys))] {
				p.Del(ctx, key)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// move puts src's value under dst, keeping the staging expiry: until the manifest
// owns them (createManifest persists them), the keys expire by themselves. On one
// Redis that is a RENAME; on Cluster the two keys are in different slots, so the
// value is copied.
func (s *Store) move(ctx context.Context, pairs [][2]string, renew func() error) error {
	if _, cluster := s.rdb.(*redis.ClusterClient); !cluster {
		for lo := 0; lo < len(pairs); lo += 1000 {
			if err := renew(); err != nil {
				return err
			}
			_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, kv := range pairs[lo:min(lo+1000, len(pairs))] {
					p.Rename(ctx, kv[0], kv[1])
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
	for lo := 0; lo < len(pairs); lo += 100 {
		if err := renew(); err != nil {
			return err
		}
		chunk := pairs[lo:min(lo+100, len(pairs))]
		dumps := make([]*redis.StringCmd, len(chunk))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, kv := range chunk {
				dumps[i] = p.Dump(ctx, kv[0])
			}
			return nil
		})
		if err != nil {
			return err
		}
		_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, kv := range chunk {
				p.RestoreReplace(ctx, kv[1], stagingTTL, dumps[i].Val())
				p.Del(ctx, kv[0])
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Commit moves the staged parts and rejects under m.ID and writes the manifest.
// When a batch with that id exists already with the same fingerprint (the same
// command ran before), it drops the staging area and returns existing=true: the
// caller then only makes sure every part's task is queued. A batch with that id
// and another fingerprint is a *ConflictError, and nothing is written.
func (st *Staging) Commit(ctx context.Context, m *Manifest) (existing bool, err error) {
	if err := st.flushRejects(ctx); err != nil {
		return false, err
	}
	if m.Parts != st.parts {
		return false, fmt.Errorf("manifest has %d parts, %d staged", m.Parts, st.parts)
	}
	s := st.s
	if old, err := s.Manifest(ctx, m.ID); err == nil {
		if old.Fingerprint != m.Fingerprint {
			_ = st.Abort(ctx)
			return false, &ConflictError{ID: m.ID, Existing: old}
		}
		// Indexing is a command of its own (the index is not the batch's slot): a
		// run that died between manifest and index is finished here.
		if err := s.rdb.ZAdd(ctx, k.index(), redis.Z{Score: float64(old.Created.UnixMilli()), Member: m.ID}).Err(); err != nil {
			return false, fmt.Errorf("index batch %s: %w", m.ID, err)
		}
		return true, st.Abort(ctx)
	} else if !errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("commit batch %s: %w", m.ID, err)
	}
	claimed, err := st.claim(ctx, m.ID)
	if err != nil {
		return false, fmt.Errorf("commit batch %s: %w", m.ID, err)
	}
	if !claimed {
		// The same command committed (or is committing) concurrently and its
		// manifest is there: its parts are the batch; ours are dropped, and the
		// caller queues its tasks.
		return true, st.Abort(ctx)
	}
	// Parts first, manifest last: a batch is visible only once all its records are.
	pairs := make([][2]string, 0, st.parts+1)
	for i := range st.parts {
		pairs = append(pairs, [2]string{k.part(st.id, i), k.part(m.ID, i)})
	}
	if st.nrejects > 0 {
		pairs = append(pairs, [2]string{k.rejects(st.id), k.rejects(m.ID)})
	}
	moved := make([]string, len(pairs))
	for i, kv := range pairs {
		moved[i] = kv[1]
	}
	// A commit that fails from here (Redis full, a lost connection, a signal)
	// deletes what it moved and releases the batch id, so that a re-run takes it
	// at once; without a manifest nothing owns those keys.
	defer func() {
		if err != nil && !existing {
			st.release(context.WithoutCancel(ctx), m.ID, moved)
		}
	}()
	// The claim is renewed as the parts move: a slow move (Cluster copies) must not
	// outlive it and let another run move its parts over these.
	renew := func() error {
		v, err := claimScript.Run(ctx, s.rdb, []string{k.claim(m.ID), k.manifest(m.ID)}, st.id, claimTTL.Milliseconds()).Int()
		if err == nil && v != 1 {
			err = fmt.Errorf("the claim on batch id %s was lost while its parts were moved", m.ID)
		}
		return err
	}
	if err = s.move(ctx, pairs, renew); err != nil {
		return false, fmt.Errorf("commit batch %s parts: %w", m.ID, err)
	}
	if afterMove != nil {
		afterMove()
	}
	if m.Retention == 0 {
		m.Retention = DefaultRetention
	}
	m.Seal = st.id
	made, err := createManifest(ctx, s.rdb, m, moved)
	if err != nil {
		return false, fmt.Errorf("commit batch %s manifest: %w", m.ID, err)
	}
	if !made {
		// The same command committed concurrently and won: its manifest, and the
		// counts workers have moved since, must not be reset.
		return true, nil
	}
	if err := s.rdb.ZAdd(ctx, k.index(), redis.Z{Score: float64(m.Created.UnixMilli()), Member: m.ID}).Err(); err != nil {
		// The manifest owns the batch's keys now; a re-run indexes it (see above).
		return false, fmt.Errorf("index batch %s: %w", m.ID, err)
	}
	return false, nil
}

// claim takes the batch id for this commit. While another commit holds it, claim
// waits: for that commit's manifest (claimed=false: the batch exists), or for the
// claim to go (released by a commit that failed, or expired after a run that died
// holding it), and then takes it.
func (st *Staging) claim(ctx context.Context, id string) (claimed bool, err error) {
	for {
		switch v, err := claimScript.Run(ctx, st.s.rdb, []string{k.claim(id), k.manifest(id)}, st.id, claimTTL.Milliseconds()).Int(); {
		case err != nil:
			return false, err
		case v == 1:
			return true, nil
		case v == 2:
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// release undoes a failed commit: unless a manifest was made, it deletes the keys
// moved under the batch id and the claim, if the claim is still this commit's.
// DEL needs no memory: a Redis that refuses writes for want of it takes this.
func (st *Staging) release(ctx context.Context, id string, moved []string) {
	keys := append([]string{k.claim(id), k.manifest(id)}, moved...)
	_ = releaseScript.Run(ctx, st.s.rdb, keys, st.id).Err()
}

// createManifest writes m unless a manifest exists, and makes the manifest the
// owner of the moved keys (they lose their staging expiry in the same script); it
// reports whether it wrote.
func createManifest(ctx context.Context, rdb redis.UniversalClient, m *Manifest, moved []string) (bool, error) {
	args := []any{
		"vendor", m.Vendor, "region", m.Region, "queue", m.Queue, "campaign", string(m.Campaign),
		"profile", mustJSON(m.Profile), "read", m.Read, "accepted", m.Accepted, "rejected", m.Rejected,
		"duplicates", m.Duplicates, "suppressed", m.Suppressed, "parts", m.Parts, "created", m.Created.UnixMilli(),
		"retention_s", int64(m.Retention / time.Second), "source", m.Source, "fingerprint", m.Fingerprint,
		"seal", m.Seal, "sum", m.checksum(), "state", string(StateEnqueued),
		"delivered", 0, "refused", 0, "failed", 0, "uncertain", 0, "parts_final", 0,
	}
	keys := append([]string{k.manifest(m.ID), k.claim(m.ID)}, moved...)
	made, err := createScript.Run(ctx, rdb, keys, append([]any{m.Seal, len(args)}, args...)...).Int()
	if err == nil && made < 0 {
		err = fmt.Errorf("the claim on batch id %s lapsed while its parts were moved and another run took it: run the command again", m.ID)
	}
	return made == 1, err
}
