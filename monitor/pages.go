package monitor

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/vendors/flashai"
)

// BatchesPath is where the batch pages live; APIPath serves the same as JSON.
const (
	BatchesPath = "/batches"
	APIPath     = "/api/batches"
)

// BatchReader is what the batch pages read: a ledger.Reader, or a wrapper of one
// (tests wrap it to inject faults).
type BatchReader interface {
	List(ctx context.Context, limit int) ([]string, error)
	Status(ctx context.Context, id string) (*ledger.Status, error)
	Manifest(ctx context.Context, id string) (*ledger.Manifest, error)
	Parts(ctx context.Context, id string, parts int) ([]ledger.PartStatus, error)
	Progress(ctx context.Context, id string, n int) (*ledger.PartProgress, error)
	Rejects(ctx context.Context, id string, fn func(ledger.Reject) error) error
	Outcomes(ctx context.Context, id string, n int, fn func(ledger.Outcome) error) error
}

// CallSummarizer is FlashAI's own count of a plan's numbers. *flashai.Client
// implements it.
type CallSummarizer interface {
	GetBatchPlanCallSummary(ctx context.Context, batchName string) (*flashai.CallSummary, error)
}

// Limits that keep one page view cheap on a huge batch. Variables so that tests can
// reach them with small batches.
var (
	// listLimit is how many recent batches /batches/ reads before filtering.
	listLimit = 100
	// maxPartRows is how many parts a batch page reads one by one (task names,
	// errors); unsettled parts come first.
	maxPartRows = 200
	// maxReasonItems is how many rejects and outcomes a batch page counts by reason
	// before it stops and says "sampled".
	maxReasonItems = 200_000
	// maxVendorPlans is how many FlashAI plans a batch page asks the vendor about.
	maxVendorPlans = 50
	// vendorTTL is how long a vendor summary is reused.
	vendorTTL = 30 * time.Second
	// vendorTimeout bounds the vendor calls of one page view.
	vendorTimeout = 5 * time.Second
	// refreshEvery is how often an open page reloads its content.
	refreshEvery = 5 * time.Second
)

//go:embed templates/*.html
var templateFS embed.FS

type pages struct {
	br      BatchReader
	fa      CallSummarizer
	results ResultsReader
	rates   *rateBook
	vendor  vendorCache[*vendorSummary]
	lines   vendorCache[*vendorLines]
	counts  *reasonCache
	tmpl    *template.Template
	now     func() time.Time
	refresh time.Duration
}

func newPages(br BatchReader, fa CallSummarizer) *pages {
	p := &pages{br: br, fa: fa, rates: newRateBook(), counts: &reasonCache{m: map[string]*reasonCounts{}}, now: time.Now, refresh: refreshEvery}
	p.tmpl = template.Must(template.New("").Funcs(template.FuncMap{
		"num":      formatCount,
		"pct":      func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
		"rate":     formatRate,
		"when":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
		"ago":      func(t time.Time) string { return formatAge(p.now().Sub(t)) },
		"stateCSS": func(v any) string { return stateClass(fmt.Sprint(v)) },
		"int64":    func(n int) int64 { return int64(n) },
		"short": func(t time.Time) string {
			if t.UTC().Format(time.DateOnly) == p.now().UTC().Format(time.DateOnly) {
				return t.UTC().Format("15:04:05") + " UTC"
			}
			return t.UTC().Format("2006-01-02 15:04") + " UTC"
		},
		"hhmmss":     func(t time.Time) string { return t.UTC().Format("15:04:05") },
		"maxReasons": func() int { return maxReasonItems },
		"hasCommands": func(rows []partRow) bool {
			for _, r := range rows {
				if len(r.Commands) > 0 {
					return true
				}
			}
			return false
		},
		"accountNames": func() []string {
			var out []string
			for _, c := range account(&ledger.Status{}) {
				out = append(out, c.Name)
			}
			return out
		},
	}).ParseFS(templateFS, "templates/*.html"))
	return p
}

func (p *pages) register(mux *http.ServeMux, wrap func(http.Handler) http.Handler) {
	mux.Handle("GET "+BatchesPath+"/{$}", wrap(http.HandlerFunc(p.listPage)))
	mux.Handle("GET "+BatchesPath+"/{id}", wrap(http.HandlerFunc(p.batchPage)))
	mux.Handle("GET "+APIPath, wrap(http.HandlerFunc(p.listAPI)))
	mux.Handle("GET "+APIPath+"/{id}", wrap(http.HandlerFunc(p.batchAPI)))
}

func (p *pages) render(w http.ResponseWriter, name string, data any) {
	var b strings.Builder
	if err := p.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, "page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(b.String()))
}

// fail answers 404 for an unknown batch and 500 otherwise. Store errors name keys
// and batch ids, never numbers; masked all the same.
func (p *pages) fail(w http.ResponseWriter, err error) {
	if errors.Is(err, ledger.ErrNotFound) {
		http.Error(w, "no such batch (it may have expired)", http.StatusNotFound)
		return
	}
	http.Error(w, maskDigits(err.Error()), http.StatusInternalServerError)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// formatCount writes n with thousands separators: 1,234,567.
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func formatRate(r float64) string {
	switch {
	case r <= 0 || math.IsNaN(r):
		return "–"
	case r < 10:
		return strconv.FormatFloat(r, 'f', 1, 64) + "/s"
	default:
		return formatCount(int64(math.Round(r))) + "/s"
	}
}

func formatAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm ago", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	}
}

// stateClass is a CSS class for a state name: known ones have colours, others grey.
func stateClass(s string) string {
	var b strings.Builder
	for _, c := range s {
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' {
			b.WriteRune(c)
		}
	}
	return "s-" + b.String()
}
