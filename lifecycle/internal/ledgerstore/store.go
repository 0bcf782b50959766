// Package ledgerstore is the ledger of every batch in Redis: its manifest, its parts'
// records, what happened to each call and number, and the counts that always add
// up: read = rejected + suppressed + delivered + refused + failed + uncertain + pending.
//
// The ledger stores; package lifecycle decides. The package is internal to
// lifecycle, so lifecycle is its only writer; readers use package ledger, which
// re-exports its types. Every key is built in keys.go and every script documents
// its KEYS and ARGV where it is defined (scripts.go).
package ledgerstore

import (
	"context"
	"crypto/sha256"
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

// ErrLegacy means the batch was written with the key layout before hash tags.
var ErrLegacy = errors.New("batch written by an older dialq (keys without hash tags): drain it with that version")

// DefaultRetention is how long a finished batch's keys are kept.
const DefaultRetention = 7 * 24 * time.Hour

// Confirmer makes a write durable before dialq relies on it: it runs write and then
// waits, on the same connection, until the write is on disk or a replica (WAITAOF,
// WAIT). The in-flight mark goes through it, so a Redis crash or failover cannot lose
// the mark of a call that went out.
type Confirmer interface {
	Confirm(ctx context.Context, key string, write func(p redis.Pipeliner)) error
}

// pipelineConfirmer only runs the write: for a Redis whose every write is already
// durable when acknowledged (appendfsync always), and for tests.
type pipelineConfirmer struct{ rdb redis.UniversalClient }

func (c pipelineConfirmer) Confirm(ctx context.Context, _ string, write func(p redis.Pipeliner)) error {
	cmds, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error { write(p); return nil })
	if err != nil {
		return err
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return err
		}
	}
	return nil
}

// Store reads and writes batches.
type Store struct {
	rdb     redis.UniversalClient
	now     func() time.Time
	confirm Confirmer
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithConfirmer sets how in-flight marks are made durable.
func WithConfirmer(c Confirmer) Option { return func(s *Store) { s.confirm = c } }

// NewStore returns a Store on rdb.
func NewStore(rdb redis.UniversalClient, opts ...Option) *Store {
	s := &Store{rdb: rdb, now: time.Now, confirm: pipelineConfirmer{rdb}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

// EventsStream is the Redis stream where finished batches are announced.
func (s *Store) EventsStream() string { return k.events() }

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
	// Suppressed counts numbers left out by the compliance gate at enqueue.
	Suppressed int64         `json:"suppressed"`
	Parts      int           `json:"parts"`
	Created    time.Time     `json:"created"`
	Retention  time.Duration `json:"-"`
	Source     string        `json:"source,omitempty"`
	// Fingerprint identifies the content: vendor, region, campaign, sizes and the
	// input. A batch id given again with another fingerprint is refused.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Seal is the random id the parts' records are sealed with (codec.go).
	Seal string `json:"-"`
}

// immutable lists the manifest's fields that never change after commit, in the
// order its checksum covers them.
func (m *Manifest) immutable() []string {
	return []string{m.ID, m.Vendor, m.Region, m.Queue, string(m.Campaign), mustJSON(m.Profile),
		itoa(m.Read), itoa(m.Accepted), itoa(m.Rejected), itoa(m.Duplicates), itoa(m.Suppressed),
		strconv.Itoa(m.Parts), itoa(m.Created.UnixMilli()), m.Source, m.Fingerprint, m.Seal}
}

func (m *Manifest) checksum() string {
	h := sha256.New()
	for _, f := range m.immutable() {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Manifest reads batch id's manifest and checks it: a manifest whose checksum does
// not match is ErrCorrupt (with the manifest as read, never to be sent from).
func (s *Store) Manifest(ctx context.Context, id string) (*Manifest, error) {
	h, err := s.rdb.HGetAll(ctx, k.manifest(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", id, err)
	}
	if len(h) == 0 {
		return nil, s.missing(ctx, id)
	}
	return manifestFrom(id, h)
}

func manifestFrom(id string, h map[string]string) (*Manifest, error) {
	m := &Manifest{
		ID: id, Vendor: h["vendor"], Region: h["region"], Queue: h["queue"], Campaign: json.RawMessage(h["campaign"]),
		Read: atoi(h["read"]), Accepted: atoi(h["accepted"]), Rejected: atoi(h["rejected"]),
		Duplicates: atoi(h["duplicates"]), Suppressed: atoi(h["suppressed"]), Parts: int(atoi(h["parts"])), Source: h["source"],
		Created:     time.UnixMilli(atoi(h["created"])).UTC(),
		Retention:   time.Duration(atoi(h["retention_s"])) * time.Second,
		Fingerprint: h["fingerprint"], Seal: h["seal"],
	}
	if err := json.Unmarshal([]byte(h["profile"]), &m.Profile); err != nil {
		return nil, fmt.Errorf("batch %s manifest: %w: profile: %v", id, ErrCorrupt, err)
	}
	if h["sum"] != m.checksum() {
		// The manifest is returned with the error: its parts can then be failed
		// as corrupt, so the batch's account still closes.
		return m, fmt.Errorf("batch %s manifest: %w: checksum does not match", id, ErrCorrupt)
	}
	return m, nil
}

// ErrLost means the batch is listed but its keys are gone: expired after its
// retention, or lost by Redis (a restart without persistence, eviction) — then
// numbers not yet delivered were never sent.
var ErrLost = fmt.Errorf("%w: its keys are gone from Redis (expired after its retention, or lost: numbers not yet delivered were never sent)", ErrNotFound)

// missing tells a batch that never was from one whose keys are gone, and from one
// the old key layout holds.
func (s *Store) missing(ctx context.Context, id string) error {
	if n, err := s.rdb.Exists(ctx, LegacyManifestKey(id)).Result(); err == nil && n > 0 {
		return fmt.Errorf("batch %s: %w", id, ErrLegacy)
	}
	if _, err := s.rdb.ZScore(ctx, k.index(), id).Result(); err == nil {
		return fmt.Errorf("batch %s: %w", id, ErrLost)
	}
	return fmt.Errorf("batch %s: %w", id, ErrNotFound)
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// LoadPart reads and checks part n's records. A record that fails its seal is
// ErrCorrupt: it is never sent.
func (s *Store) LoadPart(ctx context.Context, m *Manifest, n int) ([]chunking.Record, error) {
	b, err := s.rdb.Get(ctx, k.part(m.ID, n)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("batch %s part %d: %w: records missing", m.ID, n, ErrCorrupt)
	}
	if err != nil {
		return nil, fmt.Errorf("batch %s part %d: %w", m.ID, n, err)
	}
	recs, err := OpenRecords(m.Seal, n, b)
	if err != nil {
		return nil, fmt.Errorf("batch %s part %d: %w", m.ID, n, err)
	}
	return recs, nil
}

// Rejects calls fn for each row rejected (or suppressed) at input, in input order.
func (s *Store) Rejects(ctx context.Context, id string, fn func(Reject) error) error {
	key := k.rejects(id)
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

// List returns the most recent batches' ids, newest first.
func (s *Store) List(ctx context.Context, limit int) ([]string, error) {
	ids, err := s.rdb.ZRevRange(ctx, k.index(), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	return ids, nil
}

// Forget removes id from the index (its keys have expired).
func (s *Store) Forget(ctx context.Context, id string) error {
	return s.rdb.ZRem(ctx, k.index(), id).Err()
}
