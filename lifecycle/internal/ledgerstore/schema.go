package ledgerstore

import (
	"sort"
	"strings"

	"github.com/dialq/dialq/chunking"
)

// The ledger's Redis schema as code: the names stored in the manifest and part
// hashes, and the formats of their range fields. The Lua scripts (scripts.go)
// spell these names out; schema_test.go parses every script and fails on a
// quoted word or table key that is not one of them, so a script cannot drift
// from the constants (or name a state that does not exist).

// OutcomeDelivered is the outcome of a number the vendor accepted. Delivered
// numbers are counted, not listed: only the other outcomes appear in a part's
// outcome list.
const OutcomeDelivered NumberOutcome = "delivered"

// Outcomes lists every number outcome, in the order the ledger reports them.
var Outcomes = []NumberOutcome{OutcomeDelivered, OutcomeRefused, OutcomeFailed, OutcomeUncertain, OutcomeSuppressed}

// Manifest hash fields (dialq:{<b>}:m) written or read outside the manifest's
// plain description: the counters, the state and the announcement bookkeeping.
// A counter per outcome is named after the outcome (FieldDelivered is
// OutcomeDelivered), except suppressed_late (numbers the gate stopped at the
// worker; "suppressed" counts those left out at enqueue).
const (
	FieldState          = "state"
	FieldControl        = "control"
	FieldParts          = "parts"
	FieldPartsFinal     = "parts_final"
	FieldAccepted       = "accepted"
	FieldDelivered      = string(OutcomeDelivered)
	FieldRefused        = string(OutcomeRefused)
	FieldFailed         = string(OutcomeFailed)
	FieldUncertain      = string(OutcomeUncertain)
	FieldSuppressedLate = "suppressed_late"
	FieldFinishGen      = "finish_gen"
	FieldFinishedAt     = "finished_at"
	FieldAnnouncedGen   = "announced_gen"
	FieldWebhookGen     = "webhook_gen"
	FieldRetention      = "retention_s"
)

// ManifestFields lists every field a manifest hash may hold.
var ManifestFields = []string{
	// the batch's description (staging.go's createManifest)
	"vendor", "region", "queue", "campaign", "profile", "read", FieldAccepted, "rejected", "duplicates",
	"suppressed", FieldParts, "created", FieldRetention, "source", "fingerprint", "seal", "sum",
	// state and counters
	FieldState, FieldControl, FieldPartsFinal, FieldDelivered, FieldRefused, FieldFailed, FieldUncertain,
	FieldSuppressedLate, FieldFinishGen, FieldFinishedAt, FieldAnnouncedGen, FieldWebhookGen,
}

// Part progress hash fields (dialq:{<b>}:p:<n>:s): plain fields, and the
// prefixes of range fields "<prefix>:<lo>-<hi>" (RangeField).
const (
	PartFieldState      = "state"
	PartFieldResumeAt   = "resume_at"
	PartFieldWaitReason = "wait_reason"
	PartFieldFailures   = "failures"
	PartFieldThrottles  = "throttles"
	PartFieldLastError  = "last_error"

	// PrefixDone holds a recorded call's summary; PrefixInflight the time a call
	// was marked in flight; PrefixRepeat how often a call was refused the same
	// way (and, with SuffixRepeatErr, that refusal); PrefixExtra a checkpoint a
	// caller recorded (its name follows, for example a TaskField).
	PrefixDone      = "done"
	PrefixInflight  = "inflight"
	PrefixRepeat    = "repeat"
	SuffixRepeatErr = ":err"
	PrefixExtra     = "x"
	// PrefixTask names the extra that holds the vendor task a call created;
	// PrefixUncertainTask the one an uncertain call was making (what an operator
	// asks the vendor about).
	PrefixTask          = "task"
	PrefixUncertainTask = "uncertain"
)

// PartFields lists the plain fields and field prefixes a part hash may hold.
var PartFields = []string{PartFieldState, PartFieldResumeAt, PartFieldWaitReason, PartFieldFailures,
	PartFieldThrottles, PartFieldLastError, PrefixDone, PrefixInflight, PrefixRepeat, PrefixExtra}

// RangeField is the field "<prefix>:<lo>-<hi>" of range r.
func RangeField(prefix string, r chunking.Range) string { return rangeField(prefix, r) }

// ParseRangeField reads a field RangeField wrote with prefix.
func ParseRangeField(prefix, field string) (chunking.Range, bool) {
	rest, ok := strings.CutPrefix(field, prefix+":")
	if !ok {
		return chunking.Range{}, false
	}
	return parseRange(rest)
}

// TaskField is the extra ("task:<lo>-<hi>") under which the vendor-side task or
// plan name a call over r created is checkpointed.
func TaskField(r chunking.Range) string { return rangeField(PrefixTask, r) }

// UncertainTaskField is the extra ("uncertain:<lo>-<hi>") naming the vendor task
// an uncertain call over r was making.
func UncertainTaskField(r chunking.Range) string { return rangeField(PrefixUncertainTask, r) }

// CallTask is a vendor task a part's extras name.
type CallTask struct {
	Range chunking.Range
	Name  string
	// Uncertain is true for the task of an uncertain call (UncertainTaskField).
	Uncertain bool
}

// CallTasks returns the vendor tasks a part's extras name, in call order: the
// one place that reads TaskField's and UncertainTaskField's format.
func CallTasks(extra map[string]string) []CallTask {
	var out []CallTask
	for key, v := range extra {
		if v == "" {
			continue
		}
		if r, ok := ParseRangeField(PrefixTask, key); ok {
			out = append(out, CallTask{Range: r, Name: v})
		} else if r, ok := ParseRangeField(PrefixUncertainTask, key); ok {
			out = append(out, CallTask{Range: r, Name: v, Uncertain: true})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Range.Lo != out[j].Range.Lo {
			return out[i].Range.Lo < out[j].Range.Lo
		}
		return !out[i].Uncertain && out[j].Uncertain
	})
	return out
}

// TaskRefs returns the vendor task names the part's calls created (TaskField),
// in call order.
func TaskRefs(extra map[string]string) []string {
	var out []string
	for _, t := range CallTasks(extra) {
		if !t.Uncertain {
			out = append(out, t.Name)
		}
	}
	return out
}

// Pending is the reference formula for the numbers of a batch not yet settled:
// accepted minus every outcome counted. settleScript computes the same in Lua to
// decide a batch's finish (schema_test.go holds the two equal on real Redis).
func Pending(accepted, delivered, refused, failed, uncertain, suppressedLate int64) int64 {
	return accepted - delivered - refused - failed - uncertain - suppressedLate
}
