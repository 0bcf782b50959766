package lifecycle

import (
	"context"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/lifecycle/internal/ledgerstore"
	"github.com/dialq/dialq/lifecycle/ledger"
)

// Staging holds a new batch's parts and rejects in Redis until Commit makes them a
// batch. Nothing staged is seen by a worker or an operator before the commit, and
// a staging area that is never committed expires.
type Staging struct{ st *ledgerstore.Staging }

// Stage starts a staging area for a new batch.
func (m *Manager) Stage() *Staging { return &Staging{st: m.store.NewStaging()} }

// Seal is what the staged parts are sealed with; Commit keeps it in the manifest.
func (s *Staging) Seal() string { return s.st.Seal() }

// WritePart stores part n's records.
func (s *Staging) WritePart(ctx context.Context, n int, recs []chunking.Record) error {
	return s.st.WritePart(ctx, n, recs)
}

// AddReject stores a rejected row, reported with the batch.
func (s *Staging) AddReject(ctx context.Context, r ledger.Reject) error {
	return s.st.AddReject(ctx, r)
}

// Abort deletes what was staged.
func (s *Staging) Abort(ctx context.Context) error { return s.st.Abort(ctx) }

// Commit is the move that makes a batch: the staged parts and rejects go under
// man.ID, the manifest is written and the batch is enqueued, its parts queued in
// the ledger (their tasks follow with Manager.Queue). When a batch with that id
// exists already with the same fingerprint (the same command ran before), it drops
// the staging area and returns existing=true. A batch with that id and another
// fingerprint is a *ledger.ConflictError, and nothing is written.
func (s *Staging) Commit(ctx context.Context, man *ledger.Manifest) (existing bool, err error) {
	return s.st.Commit(ctx, man)
}
