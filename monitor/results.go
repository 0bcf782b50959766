package monitor

import "github.com/prometheus/client_golang/prometheus"

// ResultsMetrics count call results as they are recorded (package results). A nil
// *ResultsMetrics records nothing.
type ResultsMetrics struct {
	results *prometheus.CounterVec
}

// NewResultsMetrics builds the results metrics and registers them with reg (nil:
// not registered).
func NewResultsMetrics(reg prometheus.Registerer) *ResultsMetrics {
	m := &ResultsMetrics{results: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dialq_call_results_total",
		Help: "Call results recorded, by disposition: answered, not_answered or not_called.",
	}, []string{"vendor", "disposition"})}
	if reg != nil {
		reg.MustRegister(m.results)
	}
	return m
}

// AddResults counts n results of disposition at vendor; n <= 0 is ignored.
func (m *ResultsMetrics) AddResults(vendor, disposition string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.results.WithLabelValues(vendor, disposition).Add(float64(n))
}
