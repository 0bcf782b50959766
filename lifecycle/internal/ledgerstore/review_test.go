package ledgerstore

import (
	"errors"
	"testing"

	"github.com/dialq/dialq/chunking"
)

// A second mark over a range already in flight is refused: only the attempt that
// marked it calls; a dead worker's mark is cleared by reconcile, never overwritten.
func TestMarkRefusesARangeInFlight(t *testing.T) {
	f := setup(t)
	f.newBatch(t, "b1", 10)
	r := chunking.Range{Lo: 0, Hi: 10}
	if err := f.s.MarkInflight(f.ctx, "b1", 0, r); err != nil {
		t.Fatal(err)
	}
	if err := f.s.MarkInflight(f.ctx, "b1", 0, r); !errors.Is(err, ErrInflight) {
		t.Fatalf("second mark = %v; want ErrInflight", err)
	}
	if err := f.s.ClearInflight(f.ctx, "b1", 0, r); err != nil {
		t.Fatal(err)
	}
	if err := f.s.MarkInflight(f.ctx, "b1", 0, r); err != nil {
		t.Fatalf("mark after clearing = %v", err)
	}
}

// A range overlapping one recorded before counts nothing: a part given up while
// its last call was in flight had that call's numbers recorded then.
func TestRecordRefusesOverlaps(t *testing.T) {
	f := setup(t)
	f.newBatch(t, "b1", 10)
	if !f.record(t, "b1", 0, rr(0, "ffffffffff")) {
		t.Fatal("first record refused")
	}
	before := f.checkLedger(t, "b1")
	ok, err := f.s.RecordRange(f.ctx, "b1", 0, rr(2, "ddd"))
	if err != nil || ok {
		t.Fatalf("overlapping record = %v, %v; want false, nil", ok, err)
	}
	if after := f.checkLedger(t, "b1"); after.Delivered != before.Delivered || after.Failed != 10 {
		t.Errorf("counts moved: before %+v after %+v", before, after)
	}
}

// Numbers the gate suppressed at the worker count as suppressed, not pending, and
// the account adds up.
func TestSuppressedAtTheWorker(t *testing.T) {
	f := setup(t)
	f.newBatch(t, "b1", 5)
	f.record(t, "b1", 0, rr(0, "dsdsd"))
	st := f.checkLedger(t, "b1")
	if st.Suppressed != 2 || st.Delivered != 3 || st.Pending != 0 {
		t.Fatalf("status %+v; want 2 suppressed, 3 delivered", st)
	}
	if s := f.settle(t, "b1", 0, PartDone); !s.Finished {
		t.Errorf("the batch did not finish: %+v", s)
	}
}

// An announcement that runs after the batch re-opened publishes nothing and leaves
// the running batch's keys without expiry.
func TestPublishAfterReopen(t *testing.T) {
	f := setup(t)
	f.newBatch(t, "b1", 3)
	f.record(t, "b1", 0, rr(0, "fff"))
	s := f.settle(t, "b1", 0, PartFailed)
	if !s.Finished || s.Generation != 1 {
		t.Fatalf("settle %+v", s)
	}
	if _, err := f.s.ReopenFailed(f.ctx, "b1", 0); err != nil {
		t.Fatal(err)
	}
	f.settle(t, "b1", 0, PartQueued)
	if _, published := f.publish(t, "b1", 1); published {
		t.Error("a finish published after its batch re-opened")
	}
	for _, key := range f.keys(t, "dialq:{b1}:*") {
		if ttl := f.db.Client.TTL(f.ctx, key).Val(); ttl > 0 {
			t.Errorf("key %s of the re-opened batch expires in %s", key, ttl)
		}
	}
	if due, err := f.s.WebhookDue(f.ctx, "b1", 1); err != nil || due {
		t.Errorf("webhook due for a re-opened finish: %v, %v", due, err)
	}
}

// A listed batch whose keys vanished is reported as lost, not as never existing.
func TestLostBatch(t *testing.T) {
	f := setup(t)
	f.newBatch(t, "b1", 3)
	for _, key := range f.keys(t, "dialq:{b1}:*") {
		f.db.Client.Del(f.ctx, key)
	}
	_, err := f.s.Status(f.ctx, "b1")
	if !errors.Is(err, ErrLost) || !errors.Is(err, ErrNotFound) {
		t.Errorf("Status of a batch whose keys vanished = %v; want ErrLost", err)
	}
	if _, err := f.s.Status(f.ctx, "never"); errors.Is(err, ErrLost) || !errors.Is(err, ErrNotFound) {
		t.Errorf("Status of an unknown batch = %v; want ErrNotFound only", err)
	}
}
