package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/lifecycle/ledger"
)

// partMoves makes each move of the table through its method.
var partMoves = map[Move]func(ctx context.Context, f *fixture, man *ledger.Manifest) error{
	MoveStart: func(ctx context.Context, f *fixture, man *ledger.Manifest) error {
		return f.m.MarkInflight(ctx, man.ID, 0, chunking.Range{Lo: 0, Hi: 5})
	},
	MoveSettle: func(ctx context.Context, f *fixture, man *ledger.Manifest) error {
		_, err := f.m.Settle(ctx, man, 0, false)
		return err
	},
	MoveThrottle:   waitMove(ledger.PartThrottled),
	MovePausePart:  waitMove(ledger.PartPaused),
	MoveWait:       waitMove(ledger.PartWaiting),
	MoveRetryLater: waitMove(ledger.PartRetrying),
	MoveExhaust: func(ctx context.Context, f *fixture, man *ledger.Manifest) error {
		_, err := f.m.Exhaust(ctx, man, 0, nil, "test", "retries ran out")
		return err
	},
	MoveRetry: func(ctx context.Context, f *fixture, man *ledger.Manifest) error {
		_, _, err := f.m.Retry(ctx, man.ID)
		return err
	},
	MoveResolveDelivered: func(ctx context.Context, f *fixture, man *ledger.Manifest) error {
		_, err := f.m.Resolve(ctx, man.ID, 0, true)
		return err
	},
	MoveResolveResend: func(ctx context.Context, f *fixture, man *ledger.Manifest) error {
		_, err := f.m.Resolve(ctx, man.ID, 0, false)
		return err
	},
}

func waitMove(state ledger.PartState) func(context.Context, *fixture, *ledger.Manifest) error {
	return func(ctx context.Context, f *fixture, man *ledger.Manifest) error {
		return f.m.Wait(ctx, man.ID, 0, state, time.Now().Add(time.Minute), "test")
	}
}

// TestPartTransitions makes every move from every part state on real Redis: the
// moves in PartTransitions are made and lead where the table says, the others
// are refused and leave the part as it was.
func TestPartTransitions(t *testing.T) {
	f := setup(t)
	if len(partMoves) != len(PartTransitions) {
		t.Fatalf("the test makes %d moves; the table has %d", len(partMoves), len(PartTransitions))
	}
	for i, tr := range PartTransitions {
		move := partMoves[tr.Move]
		if move == nil {
			t.Fatalf("no method for move %s", tr.Move)
		}
		for j, from := range ledger.PartStates {
			t.Run(fmt.Sprintf("%s/%s", tr.Move, from), func(t *testing.T) {
				man := f.commit(t, fmt.Sprintf("tr-%d-%d", i, j), 1, 5, 0)
				if _, err := f.store.SetPartState(f.ctx, man.ID, 0, from, time.Time{}, ""); err != nil {
					t.Fatal(err)
				}
				to, allowed := Allowed(PartTransitions, tr.Move, from)
				err := move(f.ctx, f, man)
				got := f.partState(t, man.ID, 0)
				switch {
				case allowed && err != nil:
					t.Errorf("%s from %s: %v; the table allows it", tr.Move, from, err)
				case allowed && !slices.Contains(to, got):
					t.Errorf("%s from %s led to %s; the table says one of %v", tr.Move, from, got, to)
				case !allowed && got != from:
					t.Errorf("%s from %s moved the part to %s; the table refuses it", tr.Move, from, got)
				case !allowed && err == nil && tr.Move != MoveExhaust:
					// Exhaust of a settled part is no error: another attempt settled it.
					t.Errorf("%s from %s: no error; the table refuses it", tr.Move, from)
				}
			})
		}
	}
}

// TestControlTransitions makes every control move from every control on real
// Redis, and from a finished batch, which refuses them all.
func TestControlTransitions(t *testing.T) {
	f := setup(t)
	moves := map[Move]func(ctx context.Context, id string) error{
		MovePause: f.m.Pause, MoveResume: f.m.Resume, MoveCancel: f.m.Cancel,
	}
	if len(moves) != len(ControlTransitions) {
		t.Fatalf("the test makes %d moves; the table has %d", len(moves), len(ControlTransitions))
	}
	for i, tr := range ControlTransitions {
		for j, from := range Controls {
			t.Run(fmt.Sprintf("%s/%q", tr.Move, from), func(t *testing.T) {
				man := f.commit(t, fmt.Sprintf("ctl-%d-%d", i, j), 1, 5, 0)
				if from != ledger.ControlNone {
					if _, err := f.store.SetControl(f.ctx, man.ID, from); err != nil {
						t.Fatal(err)
					}
				}
				to, allowed := Allowed(ControlTransitions, tr.Move, from)
				err := moves[tr.Move](f.ctx, man.ID)
				got, cerr := f.store.Control(f.ctx, man.ID)
				if cerr != nil {
					t.Fatal(cerr)
				}
				switch {
				case allowed && (err != nil || !slices.Contains(to, got)):
					t.Errorf("%s from %q: %v, control %q; the table says one of %q", tr.Move, from, err, got, to)
				case !allowed && (err == nil || got != from):
					t.Errorf("%s from %q: %v, control %q; the table refuses it", tr.Move, from, err, got)
				}
			})
		}
		t.Run(fmt.Sprintf("%s/finished", tr.Move), func(t *testing.T) {
			man := f.commit(t, fmt.Sprintf("ctl-%d-finished", i), 1, 5, 0)
			f.record(t, man.ID, 0, 0, "ddddd")
			if _, err := f.m.Settle(f.ctx, man, 0, false); err != nil {
				t.Fatal(err)
			}
			if st := f.status(t, man.ID); !st.Finished {
				t.Fatalf("batch not finished: %+v", st)
			}
			if err := moves[tr.Move](f.ctx, man.ID); err == nil {
				t.Errorf("%s of a finished batch: no error; it must be refused", tr.Move)
			}
		})
	}
}

// TestMethodsConsultTheTable takes each row out of PartTransitions in turn: the
// method of that move must then refuse it from a state the row allowed, and leave
// the part as it was. Start is the one move only the ledger's script guards (it is
// one step with the check of the batch's control), so it is not taken out.
func TestMethodsConsultTheTable(t *testing.T) {
	f := setup(t)
	table := PartTransitions
	t.Cleanup(func() { PartTransitions = table })
	for i, tr := range table {
		if tr.Move == MoveStart {
			continue
		}
		t.Run(string(tr.Move), func(t *testing.T) {
			PartTransitions = slices.Delete(slices.Clone(table), i, i+1)
			defer func() { PartTransitions = table }()
			from := tr.From[0]
			man := f.commit(t, fmt.Sprintf("consult-%d", i), 1, 5, 0)
			if _, err := f.store.SetPartState(f.ctx, man.ID, 0, from, time.Time{}, ""); err != nil {
				t.Fatal(err)
			}
			err := partMoves[tr.Move](f.ctx, f, man)
			if got := f.partState(t, man.ID, 0); got != from {
				t.Errorf("%s without its row moved the part from %s to %s (err %v)", tr.Move, from, got, err)
			}
		})
	}
}
