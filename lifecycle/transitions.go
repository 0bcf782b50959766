package lifecycle

import (
	"fmt"
	"slices"

	"github.com/dialq/dialq/lifecycle/ledger"
)

// Move is a named change of a part's state, or of a batch's operator control.
type Move string

// Part moves. Each is one method (transitions_test.go holds the methods to the
// table below on real Redis).
const (
	// MoveStart marks a call in flight and its part running (Manager.MarkInflight,
	// called by the worker right before each vendor call).
	MoveStart Move = "start"
	// MoveSettle ends a part's run once its calls are recorded (Manager.Settle):
	// done, failed, cancelled or uncertain, from what was recorded.
	MoveSettle Move = "settle"
	// MoveThrottle, MovePausePart, MoveWait and MoveRetryLater send a part back to
	// the queue until a time (Manager.Wait): a vendor's Retry-After or the fleet
	// rate limit, the batch's pause, the campaign's calling window, a failed call
	// that may pass (asynq runs the part again).
	MoveThrottle   Move = "throttle"
	MovePausePart  Move = "pause-part"
	MoveWait       Move = "wait"
	MoveRetryLater Move = "retry-later"
	// MoveExhaust settles a part whose retries ran out (Manager.Exhaust).
	MoveExhaust Move = "exhaust"
	// MoveRetry queues a failed part again (Manager.Retry).
	MoveRetry Move = "retry"
	// MoveResolveDelivered and MoveResolveResend settle an uncertain part after
	// an operator checked with the vendor (Manager.Resolve).
	MoveResolveDelivered Move = "resolve-delivered"
	MoveResolveResend    Move = "resolve-resend"
)

// Batch control moves (Manager.Pause, Resume, Cancel): they change the batch's
// control, which every MoveStart checks atomically; parts follow as they come up.
const (
	MovePause  Move = "pause"
	MoveResume Move = "resume"
	MoveCancel Move = "cancel"
)

// Transition is one row of the table: a move, the states it is made from, and
// the states it may lead to.
type Transition[S comparable] struct {
	Move Move
	From []S
	To   []S
}

var (
	notFinal = func() []ledger.PartState {
		var out []ledger.PartState
		for _, s := range ledger.PartStates {
			if !s.Final() {
				out = append(out, s)
			}
		}
		return out
	}()
	settled = []ledger.PartState{ledger.PartDone, ledger.PartFailed, ledger.PartCancelled, ledger.PartUncertain}
)

// PartTransitions is every move of a part. A move from a state not in its From is
// refused (an error, or for exhaust nothing done: the part was settled by another
// attempt) and leaves the part as it was.
//
// Settle is allowed from every state: a redelivered task re-settles a final part,
// and the state follows from what the calls recorded. Waiting and starting are
// allowed from uncertain because the ledger's guard (markScript, settleScript)
// refuses final states only; an uncertain part's task has ended, so only an
// operator's resolve requeues it in practice.
var PartTransitions = []Transition[ledger.PartState]{
	{Move: MoveStart, From: notFinal, To: []ledger.PartState{ledger.PartRunning}},
	{Move: MoveSettle, From: ledger.PartStates, To: settled},
	{Move: MoveThrottle, From: notFinal, To: []ledger.PartState{ledger.PartThrottled}},
	{Move: MovePausePart, From: notFinal, To: []ledger.PartState{ledger.PartPaused}},
	{Move: MoveWait, From: notFinal, To: []ledger.PartState{ledger.PartWaiting}},
	{Move: MoveRetryLater, From: notFinal, To: []ledger.PartState{ledger.PartRetrying}},
	{Move: MoveExhaust, From: notFinal, To: []ledger.PartState{ledger.PartFailed, ledger.PartUncertain}},
	{Move: MoveRetry, From: []ledger.PartState{ledger.PartFailed}, To: []ledger.PartState{ledger.PartQueued}},
	{Move: MoveResolveDelivered, From: []ledger.PartState{ledger.PartUncertain},
		To: []ledger.PartState{ledger.PartDone, ledger.PartFailed, ledger.PartCancelled}},
	{Move: MoveResolveResend, From: []ledger.PartState{ledger.PartUncertain}, To: []ledger.PartState{ledger.PartQueued}},
}

// ControlTransitions is every move of a batch's control (of a batch not yet
// finished: a finished batch refuses them all).
var ControlTransitions = []Transition[ledger.Control]{
	{Move: MovePause, From: []ledger.Control{ledger.ControlNone}, To: []ledger.Control{ledger.ControlPaused}},
	{Move: MoveResume, From: []ledger.Control{ledger.ControlPaused}, To: []ledger.Control{ledger.ControlNone}},
	{Move: MoveCancel, From: []ledger.Control{ledger.ControlNone, ledger.ControlPaused}, To: []ledger.Control{ledger.ControlCancelled}},
}

// Controls lists every batch control.
var Controls = []ledger.Control{ledger.ControlNone, ledger.ControlPaused, ledger.ControlCancelled}

// Allowed reports whether move may be made from state, and the states it may
// lead to.
func Allowed[S comparable](table []Transition[S], move Move, from S) ([]S, bool) {
	for _, t := range table {
		if t.Move == move {
			return t.To, slices.Contains(t.From, from)
		}
	}
	return nil, false
}

// may consults PartTransitions before a move is written: the move must start from
// from (unless from is "", not read) and may end in to (unless to is ""). The
// ledger's scripts make the same check atomically against the stored state; this
// keeps each method bound to its row of the table, so a move the table does not
// hold is refused before anything is written.
func may(move Move, from, to ledger.PartState) bool {
	for _, t := range PartTransitions {
		if t.Move == move {
			return (from == "" || slices.Contains(t.From, from)) && (to == "" || slices.Contains(t.To, to))
		}
	}
	return false
}

// waitMoves names the move that sends a part to each waiting state.
var waitMoves = map[ledger.PartState]Move{
	ledger.PartThrottled: MoveThrottle,
	ledger.PartPaused:    MovePausePart,
	ledger.PartWaiting:   MoveWait,
	ledger.PartRetrying:  MoveRetryLater,
}

// refused is the error of a move the table does not hold.
func refused(part int, move Move, from, to ledger.PartState) error {
	return fmt.Errorf("part %d: move %s from %q to %q is not in PartTransitions", part, move, from, to)
}
