// Package producer is the producer's side of dialq as a library: it streams one list
// through validation into a batch in Redis and queues one task per part. The
// enqueue command, the demo and the tests all go through it.
package producer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/internal/tracing"
	"github.com/dialq/dialq/lifecycle"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/vendors/registry"
)

// Request describes one list to enqueue.
type Request struct {
	Vendor string
	Region string
	Format ingest.Format
	// Campaign is the vendor's settings, as CampaignJSON returns them.
	Campaign json.RawMessage
	Profile  chunking.Profile
	// BatchID is optional: by default it is derived from vendor, region, campaign,
	// profile and the input's bytes, so that the same command enqueues nothing new.
	BatchID   string
	Queue     string
	Source    string
	Retention time.Duration
	Workers   int
	Strict    bool
	DryRun    bool
	// OnReject sees every rejected row (for a rejects file); may be nil.
	OnReject func(ingest.Reject) error
	// Progress is called as rows are read; may be nil.
	Progress func(read int64)
	// RowCheck refuses rows the vendor's tenant cannot take (package preflight);
	// VendorCheck says what was checked, for the summary. Both may be empty.
	RowCheck    func(chunking.Record) string
	VendorCheck string
}

// Summary is what one run did.
type Summary struct {
	Batch      string `json:"batch"`
	Vendor     string `json:"vendor"`
	Read       int64  `json:"read"`
	Accepted   int64  `json:"accepted"`
	Rejected   int64  `json:"rejected"`
	Duplicates int64  `json:"duplicates"`
	Parts      int    `json:"parts"`
	Enqueued   int    `json:"enqueued"`
	// AlreadyQueued counts parts whose task existed: the same batch ran before.
	AlreadyQueued int  `json:"already_queued"`
	Existing      bool `json:"existing"`
	// Committed is true once the batch exists in Redis.
	Committed bool    `json:"committed"`
	DryRun    bool    `json:"dry_run,omitempty"`
	Format    string  `json:"format"`
	Seconds   float64 `json:"seconds"`
	// IgnoredColumns are CSV columns that map to no field.
	IgnoredColumns []string `json:"ignored_columns,omitempty"`
	// Suppressed counts numbers the compliance gate left out (read = accepted +
	// rejected + suppressed); Gate says whether it was applied (GateNone, ...).
	Suppressed int64  `json:"suppressed"`
	Gate       string `json:"gate,omitempty"`
	// VendorCheck says whether the campaign was checked against the vendor's tenant.
	VendorCheck string `json:"vendor_check,omitempty"`
}

// ConfigError is a request that cannot run: nothing was read or written.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// ErrStrict means Strict was set and rows were rejected: nothing was enqueued.
var ErrStrict = errors.New("rows rejected under -strict, nothing enqueued")

// CampaignJSON validates vendor's campaign and returns its canonical form.
func CampaignJSON(vendor string, data []byte) (json.RawMessage, error) {
	c, err := campaign.Parse(vendor, data)
	if err != nil {
		return nil, &ConfigError{err}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, &ConfigError{err}
	}
	return b, nil
}

// Profile returns vendor's profile with the sizes overridden where non-zero.
func Profile(vendor string, partSize, callSize int) (chunking.Profile, error) {
	p, err := registry.Profile(vendor)
	if err != nil {
		return p, &ConfigError{err}
	}
	v, _ := registry.Lookup(vendor)
	if partSize > 0 {
		p.PartSize = partSize
		if !v.Limits.Appends {
			// A part is one call for every vendor but speech, which appends.
			p.CallSize = partSize
		}
	}
	if callSize > 0 {
		p.CallSize = callSize
	} else if p.CallSize > p.PartSize {
		p.CallSize = p.PartSize // a small speech part is one create
	}
	if err := registry.Validate(p); err != nil {
		return p, &ConfigError{err}
	}
	return p, nil
}

// enqueue is Enqueue (trace.go) under its span.
func enqueue(ctx context.Context, rdb redis.UniversalClient, aopt asynq.RedisConnOpt, in io.Reader, req Request) (*Summary, error) {
	started := time.Now()
	if req.Queue == "" {
		req.Queue = queue.For(req.Vendor)
	}
	if err := validateRequest(ctx, req); err != nil {
		return nil, err
	}
	// The content is hashed decompressed: the same list gives the same batch id
	// whether or not it was gzipped.
	hasher := sha256.New()
	src, err := ingest.OpenTee(in, req.Format, hasher)
	if err != nil {
		return nil, err
	}
	sink := &stagingSink{ctx: ctx, onReject: req.OnReject}
	var life *lifecycle.Manager
	if !req.DryRun {
		client, insp := asynq.NewClient(aopt), asynq.NewInspector(aopt)
		defer client.Close()
		defer insp.Close()
		life = lifecycle.New(rdb, client, insp, nil)
		sink.staging = life.Stage()
	}
	abort := func() {
		if sink.staging != nil {
			_ = sink.staging.Abort(context.WithoutCancel(ctx))
		}
	}
	splitter, err := chunking.NewSplitter(req.Profile.PartSize, sink.writePart)
	if err != nil {
		return nil, &ConfigError{err}
	}
	sink.splitter = splitter
	gate, gateState, err := newGateFilter(ctx, rdb, req, started)
	if err != nil {
		return nil, err
	}
	sink.gate = gate
	// Rows are read, validated and staged part by part in one streamed pass.
	readCtx, readSpan := tracing.Start(ctx, "enqueue.read")
	sink.ctx = readCtx
	counts, err := ingest.Run(ctx, src, ingest.Options{Vendor: req.Vendor, Region: req.Region, Workers: req.Workers, Progress: req.Progress, RowCheck: req.RowCheck}, sink)
	if err == nil && gate != nil {
		// ingest counted the suppressed rows as accepted: they are neither.
		err = gate.flush(sink)
		counts.Accepted -= gate.suppressed
	}
	if err == nil {
		err = splitter.Close()
	}
	endRead(readSpan, counts, gate, err)
	if err != nil {
		abort()
		return nil, fmt.Errorf("%w (nothing was enqueued)", err)
	}
	fingerprint := Fingerprint(req.Vendor, req.Region, req.Campaign, req.Profile, hasher.Sum(nil))
	id := req.BatchID
	if id == "" {
		id = req.Vendor + "-" + fingerprint[:16]
	}
	sum := &Summary{
		Batch: id, Vendor: req.Vendor, Read: counts.Read, Accepted: counts.Accepted, Rejected: counts.Rejected,
		Duplicates: counts.Duplicates, Parts: splitter.Parts(), DryRun: req.DryRun, Format: string(src.Format),
		IgnoredColumns: src.Ignored, Gate: gateState, VendorCheck: req.VendorCheck,
	}
	if gate != nil {
		sum.Suppressed = gate.suppressed
	}
	defer func() { sum.Seconds = time.Since(started).Round(time.Millisecond).Seconds() }()
	if req.Strict && counts.Rejected > 0 {
		abort()
		return sum, ErrStrict
	}
	if req.DryRun {
		return sum, nil
	}
	m := &ledger.Manifest{
		ID: id, Vendor: req.Vendor, Region: req.Region, Queue: req.Queue, Campaign: req.Campaign, Profile: req.Profile,
		Read: counts.Read, Accepted: counts.Accepted, Rejected: counts.Rejected, Duplicates: counts.Duplicates,
		Parts: splitter.Parts(), Created: time.Now().UTC(), Retention: req.Retention, Source: req.Source,
		Fingerprint: fingerprint, Suppressed: sum.Suppressed,
	}
	commitCtx, commitSpan := tracing.Start(ctx, "enqueue.commit")
	existing, err := sink.staging.Commit(commitCtx, m)
	tracing.End(commitSpan, err)
	var conflict *ledger.ConflictError
	if errors.As(err, &conflict) {
		return sum, &ConfigError{err}
	}
	if err != nil {
		abort()
		return sum, fmt.Errorf("%w (run the same command again to finish)", err)
	}
	sum.Existing, sum.Committed = existing, true
	if !existing {
		if err := gate.writeAudit(ctx, id, req.Retention); err != nil {
			return sum, fmt.Errorf("%w (the batch is committed; its audit is incomplete)", err)
		}
	}
	if existing {
		// The stored manifest is the truth: the same input gave the same parts.
		if m, err = life.Manifest(ctx, id); err != nil {
			return sum, err
		}
	}
	sum.Enqueued, sum.AlreadyQueued, err = queueParts(ctx, life, m)
	if err != nil {
		return sum, fmt.Errorf("%w (run the same command again to finish)", err)
	}
	if m.Parts == 0 {
		if err := life.Committed(ctx, m); err != nil {
			return sum, fmt.Errorf("%w (run the same command again to finish)", err)
		}
	}
	return sum, nil
}

// Fingerprint identifies a list and what it is for: vendor, region, campaign,
// sizes and the content's hash. The same command over the same input (gzipped or
// not) gives the same fingerprint, and by default the batch id is made from it.
func Fingerprint(vendor, region string, campaignJSON []byte, p chunking.Profile, content []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00%d\x00", vendor, region, campaignJSON, p.PartSize, p.CallSize)
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// queueParts puts one task per part on the queue, traced. A part whose task exists
// already (the same batch was enqueued before) is counted, not an error.
func queueParts(ctx context.Context, life *lifecycle.Manager, m *ledger.Manifest) (enqueued, already int, err error) {
	ctx, span := tracing.Start(ctx, "enqueue.queue")
	defer func() { endQueue(span, m, enqueued, already, err) }()
	return life.Queue(ctx, m, tracing.Headers(ctx))
}

type stagingSink struct {
	ctx      context.Context
	staging  *lifecycle.Staging
	splitter *chunking.Splitter
	onReject func(ingest.Reject) error
	// gate, when set, holds rows back to check them in blocks (compliance.go).
	gate *gateFilter
}

func (s *stagingSink) Accept(rec chunking.Record) error {
	if s.gate != nil {
		return s.gate.accept(s, rec)
	}
	return s.accept(rec)
}

func (s *stagingSink) Reject(r ingest.Reject) error {
	if s.gate != nil {
		return s.gate.reject(s, r)
	}
	return s.reject(r)
}

func (s *stagingSink) accept(rec chunking.Record) error { return s.splitter.Add(rec) }

func (s *stagingSink) reject(r ingest.Reject) error {
	if s.onReject != nil {
		if err := s.onReject(r); err != nil {
			return fmt.Errorf("rejects: %w", err)
		}
	}
	if s.staging == nil {
		return nil
	}
	return s.staging.AddReject(s.ctx, ledger.Reject{Line: r.Line, Raw: r.Raw, Reason: r.Reason})
}

func (s *stagingSink) writePart(n int, recs []chunking.Record) error {
	if s.staging == nil {
		return nil
	}
	ctx, span := tracing.Start(s.ctx, "enqueue.stage")
	err := s.staging.WritePart(ctx, n, recs)
	endStage(span, n, len(recs), err)
	return err
}
