package monitor

import (
	"github.com/dialq/dialq/vendors/registry"
)

// Label values known at start, so that every counter is exported (at 0) before its
// first event: a rate() or an alert on a series that does not exist yet sees
// nothing, not zero.
var (
	callOutcomes  = []string{"ok", "transient", "throttled", "invalid-part", "permanent", "ambiguous", "auth"}
	numberStates  = []string{"delivered", "refused", "failed", "uncertain", "suppressed", "cancelled"}
	problemKinds  = []string{"corrupt", "lost_batch", "unmatched_refusal", "webhook_off"}
	webhookStates = []string{"sent", "refused", "failed"}
)

// initLabels creates every known label set at 0.
func (m *Metrics) initLabels() {
	for _, v := range registry.Names() {
		for _, o := range callOutcomes {
			m.calls.WithLabelValues(v, o)
		}
		m.callDuration.WithLabelValues(v)
		for _, s := range numberStates {
			m.numbers.WithLabelValues(v, s)
		}
		m.waits.WithLabelValues(v)
		m.waitSeconds.WithLabelValues(v)
		for _, k := range problemKinds {
			m.problems.WithLabelValues(v, k)
		}
	}
	for _, o := range webhookStates {
		m.webhooks.WithLabelValues(o)
	}
}
