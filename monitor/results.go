package monitor

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/redact"
)

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

// ResultsData is a batch's call results as the results package counts them.
type ResultsData struct {
	Answered, NotAnswered, NotCalled, Pending, Redialled int64
	Complete                                             bool
	Tags                                                 map[string]int64
	TagsSampled                                          bool
	Attempts                                             map[int]int64
	OpenVendorBatches                                    int
	NextRedial                                           time.Time
	PollEvery                                            time.Duration
}

// ResultsReader reads a batch's call results for its page.
type ResultsReader interface {
	Results(ctx context.Context, st *ledger.Status) (*ResultsData, error)
}

// resultsView is the batch page's results section.
type resultsView struct {
	// Funnel is delivered (accepted by the vendor) → called → answered.
	Funnel       []count    `json:"funnel"`
	Dispositions []count    `json:"dispositions"`
	Tags         []count    `json:"intent_tags"`
	TagsSampled  bool       `json:"intent_tags_sampled,omitempty"`
	Attempts     []count    `json:"attempts"`
	Redialled    int64      `json:"redialled"`
	Complete     bool       `json:"complete"`
	Open         int        `json:"open_vendor_batches"`
	PollEvery    string     `json:"poll_every,omitempty"`
	NextRedial   *time.Time `json:"next_redial,omitempty"`
}

func (p *pages) callResults(ctx context.Context, st *ledger.Status) *resultsView {
	if p.results == nil || st.Delivered == 0 {
		return nil
	}
	r, err := p.results.Results(ctx, st)
	if err != nil || r == nil {
		return nil
	}
	share := func(n int64) float64 {
		if st.Delivered == 0 {
			return 0
		}
		return 100 * float64(n) / float64(st.Delivered)
	}
	v := &resultsView{Redialled: r.Redialled, Complete: r.Complete, Open: r.OpenVendorBatches, TagsSampled: r.TagsSampled}
	for _, c := range []count{{Name: "delivered", N: st.Delivered}, {Name: "called", N: r.Answered + r.NotAnswered}, {Name: "answered", N: r.Answered}} {
		c.Pct = share(c.N)
		v.Funnel = append(v.Funnel, c)
	}
	for _, c := range []count{{Name: "answered", N: r.Answered}, {Name: "not_answered", N: r.NotAnswered},
		{Name: "not_called", N: r.NotCalled}, {Name: "pending", N: r.Pending}} {
		c.Pct = share(c.N)
		v.Dispositions = append(v.Dispositions, c)
	}
	var total int64
	for _, n := range r.Tags {
		total += n
	}
	for tag, n := range r.Tags {
		v.Tags = append(v.Tags, count{Name: redact.Message(tag), N: n, Pct: 100 * float64(n) / float64(max(total, 1))})
	}
	sort.Slice(v.Tags, func(i, j int) bool {
		return v.Tags[i].N > v.Tags[j].N || (v.Tags[i].N == v.Tags[j].N && v.Tags[i].Name < v.Tags[j].Name)
	})
	for k, n := range r.Attempts {
		v.Attempts = append(v.Attempts, count{Name: "attempt " + strconv.Itoa(k), N: n, Pct: share(n)})
	}
	sort.Slice(v.Attempts, func(i, j int) bool { return v.Attempts[i].Name < v.Attempts[j].Name })
	if r.PollEvery > 0 && r.OpenVendorBatches > 0 {
		v.PollEvery = r.PollEvery.String()
	}
	if !r.NextRedial.IsZero() {
		t := r.NextRedial
		v.NextRedial = &t
	}
	return v
}
