// Package batch is the ledger of every batch in Redis: its manifest, its parts'
// records, what happened to each call and number, and the counts that always add
// up: read = rejected + delivered + refused + failed + uncertain + pending.
package batch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/chunking"
)

// ErrNotFound means no batch has that id (or it has expired).
var ErrNotFound = errors.New("batch not found")

// Batch states.
const (
	StateEnqueued  = "enqueued"
	StateFinished  = "finished"
	StateCancelled = "cancelled"
)

// Part states. Done, Failed and Cancelled are final; Uncertain waits for an operator.
const (
	PartQueued    = "queued"
	PartRunning   = "running"
	PartDone      = "done"
	PartFailed    = "failed"
	PartUncertain = "uncertain"
	PartCancelled = "cancelled"
)

// Number outcomes other than delivered.
const (
	OutcomeRefused   = "refused"
	OutcomeFailed    = "failed"
	OutcomeUncertain = "uncertain"
)

// DefaultRetention is how long a finished batch's keys are kept.
const DefaultRetention = 7 * 24 * time.Hour

// Store reads and writes batches. Keys live under a prefix ("dialq" by default).
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewStore returns a Store on rdb.
func NewStore(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb, prefix: "dialq"} }

func (s *Store) indexKey() string                   { return s.prefix + ":batches" }
func (s *Store) eventsKey() string                  { return s.prefix + ":events" }
func (s *Store) manifestKey(id string) string       { return s.prefix + ":b:" + id }
func (s *Store) rejectsKey(id string) string        { return s.prefix + ":b:" + id + ":rejects" }
func (s *Store) partKey(id string, n int) string    { return fmt.Sprintf("%s:b:%s:p:%d", s.prefix, id, n) }
func (s *Store) stateKey(id string, n int) string   { return s.partKey(id, n) + ":s" }
func (s *Store) outcomeKey(id string, n int) string { return s.partKey(id, n) + ":o" }

// EventsStream is the Redis stream where finished batches are announced.
func (s *Store) EventsStream() string { return s.eventsKey() }

// Manifest is what a batch is: written once by enqueue, before its tasks.
type Manifest struct {
	ID         string           `json:"batch"`
	Vendor     string           `json:"vendor"`
	Region     string           `json:"region"`
	Queue      string           `json:"queue"`
	Campaign   json.RawMessage  `json:"campaign"`
	Profile    chunking.Profile `json:"profile"`
	Read       int64            `json:"read"`
	Accepted   int64            `json:"accepted"`
	Rejected   int64            `json:"rejected"`
	Duplicates int64            `json:"duplicates"`
	Parts      int              `json:"parts"`
	Created    time.Time        `json:"created"`
	Retention  time.Duration    `json:"-"`
	Source     string           `json:"source,omitempty"`
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

// NewStaging starts a staging area.
func (s *Store) NewStaging() *Staging {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &Staging{s: s, id: "staging-" + hex.EncodeToString(b)}
}

// WritePart stores part n's records.
func (st *Staging) WritePart(ctx context.Context, n int, recs []chunking.Record) error {
	if n != st.parts {
		return fmt.Errorf("part %d written out of order, want %d", n, st.parts)
	}
	if err := st.s.rdb.Set(ctx, st.s.partKey(st.id, n), EncodeRecords(recs), stagingTTL).Err(); err != nil {
		return fmt.Errorf("write part %d: %w", n, err)
	}
	st.parts++
	return nil
}

// Reject is one input row refused before delivery.
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
	key := st.s.rejectsKey(st.id)
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
	keys := []string{st.s.rejectsKey(st.id)}
	for n := range st.parts {
		keys = append(keys, st.s.partKey(st.id, n))
	}
	return st.s.deleteKeys(ctx, keys)
}

func (s *Store) deleteKeys(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		if err := s.rdb.Del(ctx, keys[:n]...).Err(); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// Commit moves the staged parts and rejects under m.ID and writes the manifest.
// When a batch with that id exists already (the same command ran before), it drops
// the staging area and returns existing=true: the caller then only makes sure every
// part's task is queued.
func (st *Staging) Commit(ctx context.Context, m *Manifest) (existing bool, err error) {
	if err := st.flushRejects(ctx); err != nil {
		return false, err
	}
	if m.Parts != st.parts {
		return false, fmt.Errorf("manifest has %d parts, %d staged", m.Parts, st.parts)
	}
	s := st.s
	n, err := s.rdb.Exists(ctx, s.manifestKey(m.ID)).Result()
	if err != nil {
		return false, fmt.Errorf("commit batch %s: %w", m.ID, err)
	}
	if n > 0 {
		return true, st.Abort(ctx)
	}
	// Parts first, manifest last: a batch is visible only once all its records are.
	for lo := 0; lo < st.parts; lo += 1000 {
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := lo; i < min(lo+1000, st.parts); i++ {
				p.Rename(ctx, s.partKey(st.id, i), s.partKey(m.ID, i))
				p.Persist(ctx, s.partKey(m.ID, i))
			}
			return nil
		})
		if err != nil {
			return false, fmt.Errorf("commit batch %s parts: %w", m.ID, err)
		}
	}
	if st.nrejects > 0 {
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Rename(ctx, s.rejectsKey(st.id), s.rejectsKey(m.ID))
			p.Persist(ctx, s.rejectsKey(m.ID))
			return nil
		})
		if err != nil {
			return false, fmt.Errorf("commit batch %s rejects: %w", m.ID, err)
		}
	}
	if m.Retention == 0 {
		m.Retention = DefaultRetention
	}
	created := m.Created.UnixMilli()
	args := []any{created, m.ID,
		"vendor", m.Vendor, "region", m.Region, "queue", m.Queue, "campaign", string(m.Campaign),
		"profile", mustJSON(m.Profile), "read", m.Read, "accepted", m.Accepted, "rejected", m.Rejected,
		"duplicates", m.Duplicates, "parts", m.Parts, "created", created,
		"retention_s", int64(m.Retention / time.Second), "source", m.Source, "state", StateEnqueued,
		"delivered", 0, "refused", 0, "failed", 0, "uncertain", 0, "parts_final", 0,
	}
	made, err := createScript.Run(ctx, s.rdb, []string{s.manifestKey(m.ID), s.indexKey()}, args...).Int()
	if err != nil {
		return false, fmt.Errorf("commit batch %s manifest: %w", m.ID, err)
	}
	if made == 0 {
		// The same command committed concurrently and won: its manifest, and the
		// counts workers have moved since, must not be reset.
		return true, st.Abort(ctx)
	}
	if m.Parts == 0 {
		// Nothing to deliver: the batch is finished the moment it exists, and is
		// announced (event and retention) like any other finished batch.
		if _, err := s.finishIfDone(ctx, m.ID); err != nil {
			return false, err
		}
		if _, err := s.Announce(ctx, m.ID); err != nil {
			return false, err
		}
	}
	return false, nil
}

// createScript writes a manifest only if none exists and indexes it.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
return 1`)

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Manifest reads batch id's manifest.
func (s *Store) Manifest(ctx context.Context, id string) (*Manifest, error) {
	h, err := s.rdb.HGetAll(ctx, s.manifestKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", id, err)
	}
	if len(h) == 0 {
		return nil, fmt.Errorf("batch %s: %w", id, ErrNotFound)
	}
	m := &Manifest{
		ID: id, Vendor: h["vendor"], Region: h["region"], Queue: h["queue"], Campaign: json.RawMessage(h["campaign"]),
		Read: atoi(h["read"]), Accepted: atoi(h["accepted"]), Rejected: atoi(h["rejected"]),
		Duplicates: atoi(h["duplicates"]), Parts: int(atoi(h["parts"])), Source: h["source"],
		Created:   time.UnixMilli(atoi(h["created"])).UTC(),
		Retention: time.Duration(atoi(h["retention_s"])) * time.Second,
	}
	if err := json.Unmarshal([]byte(h["profile"]), &m.Profile); err != nil {
		return nil, fmt.Errorf("batch %s profile: %w", id, err)
	}
	return m, nil
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// LoadPart reads part n's records.
func (s *Store) LoadPart(ctx context.Context, id string, n int) ([]chunking.Record, error) {
	b, err := s.rdb.Get(ctx, s.partKey(id, n)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("batch %s part %d: %w", id, n, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("batch %s part %d: %w", id, n, err)
	}
	recs, err := DecodeRecords(b)
	if err != nil {
		return nil, fmt.Errorf("batch %s part %d: %w", id, n, err)
	}
	return recs, nil
}

// Rejects calls fn for each row rejected at input, in input order.
func (s *Store) Rejects(ctx context.Context, id string, fn func(Reject) error) error {
	key := s.rejectsKey(id)
	for start := int64(0); ; start += 1000 {
		items, err := s.rdb.LRange(ctx, key, start, start+999).Result()
		if err != nil {
			return fmt.Errorf("batch %s rejects: %w", id, err)
		}
		for _, it := range items {
			var r Reject
			if err := json.Unmarshal([]byte(it), &r); err != nil {
				return fmt.Errorf("batch %s rejects: %w", id, err)
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(items) < 1000 {
			return nil
		}
	}
}

func rangeField(prefix string, r chunking.Range) string {
	return fmt.Sprintf("%s:%d-%d", prefix, r.Lo, r.Hi)
}

func parseRange(s string) (chunking.Range, bool) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		return chunking.Range{}, false
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	return chunking.Range{Lo: a, Hi: b}, err1 == nil && err2 == nil && a < b
}
