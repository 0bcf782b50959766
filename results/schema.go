package results

import "github.com/dialq/dialq/lifecycle/ledger"

// The results hash's counter fields and the redial state prefix the Lua scripts
// (putScript, recordScript) spell; the Go side reads and writes them through
// these, and a test (schema_test.go) refuses any other name in a script.
const (
	fieldAnswered              = "answered"
	fieldNotAnswered           = "not_answered"
	fieldNotCalled             = "not_called"
	fieldRedialled             = "redialled"
	fieldRefused               = "refused"
	fieldSupersededAnswered    = "superseded_answered"
	fieldSupersededNotAnswered = "superseded_not_answered"
	fieldSupersededNotCalled   = "superseded_not_called"
	// redialSent prefixes a redial's field once its call went out: "sent:<task name>".
	redialSent = "sent:"
	// fieldHold holds an operator's pause or cancel of the batch's redials, valued
	// like the manifest's control (ledger.ControlPaused, ledger.ControlCancelled).
	fieldHold = "hold"
)

// schemaNames is every name the results scripts may spell.
var schemaNames = []string{fieldAnswered, fieldNotAnswered, fieldNotCalled, fieldRedialled, fieldRefused,
	fieldSupersededAnswered, fieldSupersededNotAnswered, fieldSupersededNotCalled, redialSent,
	fieldHold, ledger.FieldControl, string(ledger.ControlPaused), string(ledger.ControlCancelled)}
