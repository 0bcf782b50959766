package ledgerstore

// PartState is where one part stands. The lifecycle package owns every move between
// states; the ledger only stores them.
type PartState string

// Part states. Done, Failed and Cancelled are final. Uncertain waits for an
// operator (enqueue resolve) and keeps its batch unfinished.
const (
	PartQueued    PartState = "queued"
	PartRunning   PartState = "running"
	PartThrottled PartState = "throttled" // waiting on a vendor's Retry-After or the fleet rate limit
	PartPaused    PartState = "paused"    // held by an operator (enqueue pause)
	PartWaiting   PartState = "waiting"   // outside the campaign's calling window
	PartRetrying  PartState = "retrying"  // a call failed and may pass: asynq runs the part again at its resume time
	PartDone      PartState = "done"
	PartFailed    PartState = "failed"
	PartUncertain PartState = "uncertain"
	PartCancelled PartState = "cancelled"
)

// PartStates lists every part state, in the order operators read them.
var PartStates = []PartState{PartQueued, PartRunning, PartRetrying, PartThrottled, PartPaused, PartWaiting,
	PartUncertain, PartDone, PartFailed, PartCancelled}

// Final reports whether a part in s has nothing left to do.
func (s PartState) Final() bool { return s == PartDone || s == PartFailed || s == PartCancelled }

func (s PartState) valid() bool {
	for _, v := range PartStates {
		if s == v {
			return true
		}
	}
	return false
}

// State is where a batch stands.
type State string

// Batch states. A batch is Finished when every part is final and nothing is pending.
const (
	StateEnqueued  State = "enqueued"
	StatePaused    State = "paused"
	StateCancelled State = "cancelled" // cancelled; parts still settling or settled
	StateFinished  State = "finished"
)

// Control is an operator's hold on a batch, checked atomically with each in-flight
// mark, so that no call starts after the control was set.
type Control string

// Controls.
const (
	ControlNone      Control = ""
	ControlPaused    Control = "paused"
	ControlCancelled Control = "cancelled"
)

// NumberOutcome is what happened to one number the ledger accepted. It is stored
// (an Outcome's state, a counter's name), so a value is never renamed.
type NumberOutcome string

// Number outcomes other than delivered.
const (
	OutcomeRefused   NumberOutcome = "refused"
	OutcomeFailed    NumberOutcome = "failed"
	OutcomeUncertain NumberOutcome = "uncertain"
	// OutcomeSuppressed: the compliance gate stopped the number right before its call
	// (a suppression list or its contact cap); the code says which.
	OutcomeSuppressed NumberOutcome = "suppressed"
)
