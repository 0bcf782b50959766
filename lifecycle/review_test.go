package lifecycle

import (
	"testing"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/lifecycle/ledger"
)

// A part given up while a call is in flight (its handler still in the call) has
// that call's numbers recorded as uncertain, not failed, and settles uncertain: the
// batch waits for an operator instead of finishing past a number that may have
// gone out; the late record of the call counts nothing twice.
func TestExhaustWithACallInFlight(t *testing.T) {
	f := setup(t)
	m := f.commit(t, "b1", 1, 10, 0)
	f.record(t, "b1", 0, 0, "ddd")
	if err := f.store.MarkInflight(f.ctx, "b1", 0, chunking.Range{Lo: 3, Hi: 6}); err != nil {
		t.Fatal(err)
	}
	n, err := f.m.Exhaust(f.ctx, m, 0, nil, "transient", "gave up")
	if err != nil || n != 4 {
		t.Fatalf("Exhaust = %d, %v; want the 4 numbers not in flight failed", n, err)
	}
	st := f.status(t, "b1")
	if st.Delivered != 3 || st.Uncertain != 3 || st.Failed != 4 || st.Finished {
		t.Fatalf("status %+v; want 3 delivered, 3 uncertain, 4 failed, not finished", st)
	}
	if s := f.partState(t, "b1", 0); s != ledger.PartUncertain {
		t.Errorf("part %s; want uncertain", s)
	}
	// The call in flight comes back: its record overlaps nothing new.
	ok, err := f.store.RecordRange(f.ctx, "b1", 0, ledger.RangeResult{Range: chunking.Range{Lo: 3, Hi: 6}, Delivered: 3})
	if err != nil || ok {
		t.Errorf("late record = %v, %v; want not counted", ok, err)
	}
	if st := f.status(t, "b1"); st.Delivered != 3 || st.Uncertain != 3 {
		t.Errorf("after the late record: %+v", st)
	}
	// Exhausting a part that is final already changes nothing.
	if _, err := f.m.Resolve(f.ctx, "b1", 0, true); err != nil {
		t.Fatal(err)
	}
	if n, err := f.m.Exhaust(f.ctx, m, 0, nil, "transient", "again"); err != nil || n != 0 {
		t.Errorf("Exhaust of a final part = %d, %v", n, err)
	}
	if s := f.partState(t, "b1", 0); s != ledger.PartFailed {
		t.Errorf("part %s after resolving; want failed (4 numbers failed)", s)
	}
}
