package monitor

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the worker's own counters: what it asked of each vendor and what came
// of the numbers it delivered. A nil *Metrics records nothing, so code under test
// can pass nil.
type Metrics struct {
	calls        *prometheus.CounterVec
	callDuration *prometheus.HistogramVec
	numbers      *prometheus.CounterVec
	waits        *prometheus.CounterVec
	waitSeconds  *prometheus.CounterVec
	problems     *prometheus.CounterVec
	webhooks     *prometheus.CounterVec
}

// NewMetrics builds the metrics and registers them with reg (nil: not registered).
// It panics if they are already registered there, like MustRegister: that is a
// wiring mistake to catch at start-up.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialq_vendor_calls_total",
			Help: "Vendor API calls by outcome (the error class, or ok).",
		}, []string{"vendor", "outcome"}),
		callDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dialq_vendor_call_duration_seconds",
			Help: "Duration of vendor API calls, failures included.",
			// Vendor calls time out at 15 s by default; the top buckets show it.
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30},
		}, []string{"vendor"}),
		numbers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialq_numbers_total",
			Help: "Phone numbers by final state: delivered, refused, failed, uncertain, suppressed, or cancelled (failed with code cancelled in the batch account).",
		}, []string{"vendor", "state"}),
		waits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialq_throttled_waits_total",
			Help: "Times a call waited for the vendor's rate limit.",
		}, []string{"vendor"}),
		waitSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialq_throttled_wait_seconds_total",
			Help: "Time spent waiting for the vendor's rate limit.",
		}, []string{"vendor"}),
		problems: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialq_problems_total",
			Help: "Events an operator must look at: corrupt records, lost batches, refusals matching no record, webhooks refused or failed.",
		}, []string{"vendor", "kind"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialq_webhooks_total",
			Help: "Batch webhooks by outcome: sent, refused (address not allowed) or failed.",
		}, []string{"outcome"}),
	}
	m.initLabels()
	if reg != nil {
		reg.MustRegister(m.calls, m.callDuration, m.numbers, m.waits, m.waitSeconds, m.problems, m.webhooks)
	}
	return m
}

// ObserveCall records one vendor call that took d and ended with outcome.
func (m *Metrics) ObserveCall(vendor, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(vendor, outcome).Inc()
	m.callDuration.WithLabelValues(vendor).Observe(d.Seconds())
}

// AddNumbers counts n numbers that reached state (delivered, refused, failed or
// uncertain) at vendor. n <= 0 is ignored: a counter cannot go down.
func (m *Metrics) AddNumbers(vendor, state string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.numbers.WithLabelValues(vendor, state).Add(float64(n))
}

// ThrottledWait records one wait of d for vendor's rate limit.
func (m *Metrics) ThrottledWait(vendor string, d time.Duration) {
	if m == nil {
		return
	}
	m.waits.WithLabelValues(vendor).Inc()
	if d > 0 {
		m.waitSeconds.WithLabelValues(vendor).Add(d.Seconds())
	}
}

// Problem counts one event of kind that an operator must look at.
func (m *Metrics) Problem(vendor, kind string) {
	if m == nil {
		return
	}
	m.problems.WithLabelValues(vendor, kind).Inc()
}

// CountWebhook counts one webhook delivery by outcome (webhook.Metrics).
func (m *Metrics) CountWebhook(outcome string) {
	if m == nil {
		return
	}
	m.webhooks.WithLabelValues(outcome).Inc()
}
