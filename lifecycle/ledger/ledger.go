// Package ledger is the read side of the batch ledger in Redis: what a batch is
// (its manifest), where its parts stand, what happened to each call and number,
// and the names of its schema. It only reads. Every write — a commit, an in-flight
// mark, a recorded call, a settle, a wait, a control, a finish — is a named method
// of package lifecycle, which alone holds the raw store (lifecycle/internal/ledgerstore);
// the compiler keeps it so.
//
// The names below are the store's own, re-exported, so a reader and the writer
// speak of the same types and constants.
package ledger

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/lifecycle/internal/ledgerstore"
)

// BatchReader reads what a batch is and how it stands.
type BatchReader interface {
	Manifest(ctx context.Context, id string) (*Manifest, error)
	Status(ctx context.Context, id string) (*Status, error)
	List(ctx context.Context, limit int) ([]string, error)
	Rejects(ctx context.Context, id string, fn func(Reject) error) error
}

// PartReader reads a batch's parts: their states, records and numbers' outcomes.
type PartReader interface {
	Parts(ctx context.Context, id string, parts int) ([]PartStatus, error)
	Progress(ctx context.Context, id string, n int) (*PartProgress, error)
	Outcomes(ctx context.Context, id string, n int, fn func(Outcome) error) error
	LoadPart(ctx context.Context, m *Manifest, n int) ([]chunking.Record, error)
}

// ControlReader reads an operator's hold on a batch and the vendor tasks it
// reaches.
type ControlReader interface {
	Control(ctx context.Context, id string) (Control, error)
	ControlView(ctx context.Context, m *Manifest) (ControlView, error)
	VendorTasks(ctx context.Context, m *Manifest) ([]string, error)
	ControlNumbers(ctx context.Context, id, req string) ([]string, error)
}

// FinishReader reads a batch's finish, its announcement and its daily cap.
type FinishReader interface {
	FinishOf(ctx context.Context, id string) (Finish, error)
	WebhookDue(ctx context.Context, id string, gen int64) (bool, error)
	DailyUsed(ctx context.Context, id, day string) (int, error)
	EventsStream() string
	Now() time.Time
}

// Reader reads everything in the ledger and writes nothing.
type Reader interface {
	BatchReader
	PartReader
	ControlReader
	FinishReader
}

// NewReader returns a Reader on rdb.
func NewReader(rdb redis.UniversalClient, opts ...Option) Reader {
	return ReaderOf(ledgerstore.NewStore(rdb, opts...))
}

// ReaderOf is the read side of a store that package lifecycle holds. The store is
// wrapped, not returned as an interface, so that no type assertion reaches its
// writes.
func ReaderOf(s *ledgerstore.Store) Reader { return reader{s} }

type reader struct{ s *ledgerstore.Store }

func (r reader) Manifest(ctx context.Context, id string) (*Manifest, error) {
	return r.s.Manifest(ctx, id)
}
func (r reader) Status(ctx context.Context, id string) (*Status, error) { return r.s.Status(ctx, id) }
func (r reader) List(ctx context.Context, limit int) ([]string, error)  { return r.s.List(ctx, limit) }
func (r reader) Rejects(ctx context.Context, id string, fn func(Reject) error) error {
	return r.s.Rejects(ctx, id, fn)
}
func (r reader) Parts(ctx context.Context, id string, parts int) ([]PartStatus, error) {
	return r.s.Parts(ctx, id, parts)
}
func (r reader) Progress(ctx context.Context, id string, n int) (*PartProgress, error) {
	return r.s.Progress(ctx, id, n)
}
func (r reader) Outcomes(ctx context.Context, id string, n int, fn func(Outcome) error) error {
	return r.s.Outcomes(ctx, id, n, fn)
}
func (r reader) LoadPart(ctx context.Context, m *Manifest, n int) ([]chunking.Record, error) {
	return r.s.LoadPart(ctx, m, n)
}
func (r reader) Control(ctx context.Context, id string) (Control, error) { return r.s.Control(ctx, id) }
func (r reader) ControlView(ctx context.Context, m *Manifest) (ControlView, error) {
	return r.s.ControlView(ctx, m)
}
func (r reader) VendorTasks(ctx context.Context, m *Manifest) ([]string, error) {
	return r.s.VendorTasks(ctx, m)
}
func (r reader) ControlNumbers(ctx context.Context, id, req string) ([]string, error) {
	return r.s.ControlNumbers(ctx, id, req)
}
func (r reader) FinishOf(ctx context.Context, id string) (Finish, error) {
	return r.s.FinishOf(ctx, id)
}
func (r reader) WebhookDue(ctx context.Context, id string, gen int64) (bool, error) {
	return r.s.WebhookDue(ctx, id, gen)
}
func (r reader) DailyUsed(ctx context.Context, id, day string) (int, error) {
	return r.s.DailyUsed(ctx, id, day)
}
func (r reader) EventsStream() string { return r.s.EventsStream() }
func (r reader) Now() time.Time       { return r.s.Now() }

const (
	ControlCancelled    = ledgerstore.ControlCancelled
	ControlNone         = ledgerstore.ControlNone
	ControlPaused       = ledgerstore.ControlPaused
	DefaultRetention    = ledgerstore.DefaultRetention
	FieldAccepted       = ledgerstore.FieldAccepted
	FieldAnnouncedGen   = ledgerstore.FieldAnnouncedGen
	FieldControl        = ledgerstore.FieldControl
	FieldDelivered      = ledgerstore.FieldDelivered
	FieldFailed         = ledgerstore.FieldFailed
	FieldFinishGen      = ledgerstore.FieldFinishGen
	FieldFinishedAt     = ledgerstore.FieldFinishedAt
	FieldParts          = ledgerstore.FieldParts
	FieldPartsFinal     = ledgerstore.FieldPartsFinal
	FieldRefused        = ledgerstore.FieldRefused
	FieldRetention      = ledgerstore.FieldRetention
	FieldState          = ledgerstore.FieldState
	FieldSuppressedLate = ledgerstore.FieldSuppressedLate
	FieldUncertain      = ledgerstore.FieldUncertain
	FieldWebhookGen     = ledgerstore.FieldWebhookGen
	OutcomeDelivered    = ledgerstore.OutcomeDelivered
	OutcomeFailed       = ledgerstore.OutcomeFailed
	OutcomeRefused      = ledgerstore.OutcomeRefused
	OutcomeSuppressed   = ledgerstore.OutcomeSuppressed
	OutcomeUncertain    = ledgerstore.OutcomeUncertain
	PartCancelled       = ledgerstore.PartCancelled
	PartDone            = ledgerstore.PartDone
	PartFailed          = ledgerstore.PartFailed
	PartFieldFailures   = ledgerstore.PartFieldFailures
	PartFieldLastError  = ledgerstore.PartFieldLastError
	PartFieldResumeAt   = ledgerstore.PartFieldResumeAt
	PartFieldState      = ledgerstore.PartFieldState
	PartFieldThrottles  = ledgerstore.PartFieldThrottles
	PartFieldWaitReason = ledgerstore.PartFieldWaitReason
	PartPaused          = ledgerstore.PartPaused
	PartQueued          = ledgerstore.PartQueued
	PartRetrying        = ledgerstore.PartRetrying
	PartRunning         = ledgerstore.PartRunning
	PartThrottled       = ledgerstore.PartThrottled
	PartUncertain       = ledgerstore.PartUncertain
	PartWaiting         = ledgerstore.PartWaiting
	PrefixDone          = ledgerstore.PrefixDone
	PrefixExtra         = ledgerstore.PrefixExtra
	PrefixInflight      = ledgerstore.PrefixInflight
	PrefixRepeat        = ledgerstore.PrefixRepeat
	PrefixTask          = ledgerstore.PrefixTask
	PrefixUncertainTask = ledgerstore.PrefixUncertainTask
	StateCancelled      = ledgerstore.StateCancelled
	StateEnqueued       = ledgerstore.StateEnqueued
	StateFinished       = ledgerstore.StateFinished
	StatePaused         = ledgerstore.StatePaused
	SuffixRepeatErr     = ledgerstore.SuffixRepeatErr
)

var (
	ErrAlreadyCancelled = ledgerstore.ErrAlreadyCancelled
	ErrCancelled        = ledgerstore.ErrCancelled
	ErrCorrupt          = ledgerstore.ErrCorrupt
	ErrFinished         = ledgerstore.ErrFinished
	ErrInflight         = ledgerstore.ErrInflight
	ErrLegacy           = ledgerstore.ErrLegacy
	ErrLost             = ledgerstore.ErrLost
	ErrNotFound         = ledgerstore.ErrNotFound
	ErrPartFinal        = ledgerstore.ErrPartFinal
	ErrPaused           = ledgerstore.ErrPaused
	ManifestFields      = ledgerstore.ManifestFields
	Outcomes            = ledgerstore.Outcomes
	PartFields          = ledgerstore.PartFields
	PartStates          = ledgerstore.PartStates
)

type (
	CallTask      = ledgerstore.CallTask
	Confirmer     = ledgerstore.Confirmer
	ConflictError = ledgerstore.ConflictError
	Control       = ledgerstore.Control
	ControlView   = ledgerstore.ControlView
	Daily         = ledgerstore.Daily
	DailyShort    = ledgerstore.DailyShort
	Event         = ledgerstore.Event
	Finish        = ledgerstore.Finish
	Manifest      = ledgerstore.Manifest
	NumberOutcome = ledgerstore.NumberOutcome
	Option        = ledgerstore.Option
	Outcome       = ledgerstore.Outcome
	PartProgress  = ledgerstore.PartProgress
	PartState     = ledgerstore.PartState
	PartStatus    = ledgerstore.PartStatus
	RangeResult   = ledgerstore.RangeResult
	Reject        = ledgerstore.Reject
	Settled       = ledgerstore.Settled
	State         = ledgerstore.State
	Status        = ledgerstore.Status
	UncertainPart = ledgerstore.UncertainPart
)

var (
	AuditKey           = ledgerstore.AuditKey
	CallTasks          = ledgerstore.CallTasks
	DailyKey           = ledgerstore.DailyKey
	DecodeRecords      = ledgerstore.DecodeRecords
	EncodeRecords      = ledgerstore.EncodeRecords
	IsOOM              = ledgerstore.IsOOM
	LegacyManifestKey  = ledgerstore.LegacyManifestKey
	ManifestKey        = ledgerstore.ManifestKey
	OpenRecords        = ledgerstore.OpenRecords
	ParseRangeField    = ledgerstore.ParseRangeField
	Pending            = ledgerstore.Pending
	RangeField         = ledgerstore.RangeField
	SealRecords        = ledgerstore.SealRecords
	Tag                = ledgerstore.Tag
	TaskField          = ledgerstore.TaskField
	TaskRefs           = ledgerstore.TaskRefs
	UncertainTaskField = ledgerstore.UncertainTaskField
	WithClock          = ledgerstore.WithClock
	WithConfirmer      = ledgerstore.WithConfirmer
)
