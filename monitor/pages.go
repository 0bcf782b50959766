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
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dialq/dialq/batch"
	"github.com/dialq/dialq/tasks"
	"github.com/dialq/dialq/vendors/flashai"
)

// BatchesPath is where the batch pages live; APIPath serves the same as JSON.
const (
	BatchesPath = "/batches"
	APIPath     = "/api/batches"
)

// BatchReader is what the batch pages read. *batch.Store implements it.
type BatchReader interface {
	List(ctx context.Context, limit int) ([]string, error)
	Status(ctx context.Context, id string) (*batch.Status, error)
	Manifest(ctx context.Context, id string) (*batch.Manifest, error)
	Parts(ctx context.Context, id string, parts int) ([]batch.PartStatus, error)
	Progress(ctx context.Context, id string, n int) (*batch.PartProgress, error)
	Rejects(ctx context.Context, id string, fn func(batch.Reject) error) error
	Outcomes(ctx context.Context, id string, n int, fn func(batch.Outcome) error) error
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
			for _, c := range account(&batch.Status{}) {
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

// count is one term of an account, or parts in one state.
type count struct {
	Name string `json:"name"`
	N    int64  `json:"count"`
	// Pct is the share of the whole, 0-100.
	Pct float64 `json:"pct"`
}

// accountOrder is the order of the account's terms on the pages. A term shows when
// batch.Status has a field of that JSON name, so a state the batch lifecycle adds
// (suppressed, lost) appears without a change here when its name is listed, and
// without a template change in any case once it is.
var accountOrder = []string{batch.OutcomeDelivered, batch.OutcomeRefused, batch.OutcomeFailed, batch.OutcomeUncertain, "pending",
	batch.OutcomeSuppressed, "lost", "rejected"}

// account lists where a batch's numbers are: the one place that turns a Status into
// (state, count) terms for the progress bars, the funnel and the API.
func account(st *batch.Status) []count {
	b, err := json.Marshal(st)
	if err != nil {
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil
	}
	var out []count
	var total int64
	for _, name := range accountOrder {
		n, err := strconv.ParseInt(string(fields[name]), 10, 64)
		if err != nil {
			continue // absent from this Status
		}
		out = append(out, count{Name: name, N: n})
		total += max(n, 0)
	}
	for i := range out {
		if total > 0 && out[i].N > 0 {
			out[i].Pct = 100 * float64(out[i].N) / float64(total)
		}
	}
	return out
}

// partOrder is the order of part states on the pages; states not listed follow in
// alphabetical order.
var partOrder = batch.PartStates

// partCounts lists Status.PartStates as it is, so that new part states show.
func partCounts(st *batch.Status) []count {
	rank := func(s string) int {
		for i, o := range partOrder {
			if string(o) == s {
				return i
			}
		}
		return len(partOrder)
	}
	out := make([]count, 0, len(st.PartStates))
	for s, n := range st.PartStates {
		c := count{Name: string(s), N: int64(n)}
		if st.Parts > 0 {
			c.Pct = 100 * float64(n) / float64(st.Parts)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := rank(out[i].Name), rank(out[j].Name); ri != rj {
			return ri < rj
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// settled counts the numbers the workers are done with: what pending goes down by.
func settled(st *batch.Status) int64 { return st.Accepted - st.Pending }

// summary is a batch as the list shows it, and as /api/batches returns it: the
// `enqueue status -json` fields and what the pages add.
type summary struct {
	*batch.Status
	Queue   string  `json:"queue,omitempty"`
	Account []count `json:"account"`
	// Rate is numbers settled a second; RateFrom says how it was measured.
	Rate     float64    `json:"rate_per_s"`
	RateFrom string     `json:"rate_from"`
	ETA      *time.Time `json:"estimated_finish,omitempty"`
	Active   bool       `json:"-"`
}

func (p *pages) summarize(st *batch.Status) *summary {
	now := p.now()
	p.rates.observe(st.Batch, now, st.Delivered, settled(st))
	pub := *st
	pub.Source = maskDigits(st.Source) // a file name may be a number
	s := &summary{Status: &pub, Account: account(st), Active: !st.Finished && !st.Cancelled && st.Pending > 0}
	s.Rate, s.RateFrom = p.rates.rate(st, now)
	if s.Active && s.Rate > 0 {
		eta := now.Add(time.Duration(float64(st.Pending) / s.Rate * float64(time.Second))).UTC().Truncate(time.Second)
		s.ETA = &eta
	}
	return s
}

type listView struct {
	Batches         []*summary
	Vendor, State   string
	Vendors, States []string
	Limited         bool
	Now             time.Time
	RefreshMS       int64
	Errors          []string
}

func (p *pages) list(ctx context.Context, vendor, state string) (*listView, error) {
	ids, err := p.br.List(ctx, listLimit)
	if err != nil {
		return nil, err
	}
	v := &listView{Vendor: vendor, State: state, Limited: len(ids) == listLimit, Now: p.now().UTC(), RefreshMS: p.refresh.Milliseconds()}
	vendors, states := map[string]bool{}, map[string]bool{}
	for _, id := range ids {
		st, err := p.br.Status(ctx, id)
		if errors.Is(err, batch.ErrNotFound) {
			continue // expired since it was listed
		}
		if err != nil {
			return nil, err
		}
		vendors[st.Vendor], states[string(st.State)] = true, true
		if vendor != "" && st.Vendor != vendor || state != "" && string(st.State) != state {
			continue
		}
		v.Batches = append(v.Batches, p.summarize(st))
	}
	v.Vendors, v.States = sortedKeys(vendors), sortedKeys(states)
	return v, nil
}

func (p *pages) listPage(w http.ResponseWriter, r *http.Request) {
	v, err := p.list(r.Context(), r.URL.Query().Get("vendor"), r.URL.Query().Get("state"))
	if err != nil {
		p.fail(w, err)
		return
	}
	p.render(w, "batches.html", v)
}

func (p *pages) listAPI(w http.ResponseWriter, r *http.Request) {
	v, err := p.list(r.Context(), r.URL.Query().Get("vendor"), r.URL.Query().Get("state"))
	if err != nil {
		p.fail(w, err)
		return
	}
	writeJSON(w, struct {
		Batches []*summary `json:"batches"`
		// Limited says only the most recent batches were looked at.
		Limited bool `json:"limited"`
	}{Batches: orEmpty(v.Batches), Limited: v.Limited})
}

// reason is how many rejects or outcomes share a reason.
type reason struct {
	State  string `json:"state"`
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// partRow is one part on the batch page.
type partRow struct {
	Part  int             `json:"part"`
	State batch.PartState `json:"state"`
	// ResumeAt and WaitReason say when and why a throttled, paused or waiting part goes on.
	ResumeAt   *time.Time `json:"resume_at,omitempty"`
	WaitReason string     `json:"wait_reason,omitempty"`
	Tasks      []string   `json:"vendor_tasks,omitempty"`
	Throttles  int        `json:"throttles,omitempty"`
	LastError  string     `json:"last_error,omitempty"`
	Inflight   int        `json:"inflight_calls,omitempty"`
	// TaskURL is the part's task in the dashboard.
	TaskURL string `json:"task_url"`
	// Commands are what an operator runs to settle the part.
	Commands []string `json:"commands,omitempty"`
}

// detail is one batch as its page shows it and /api/batches/{id} returns it.
type detail struct {
	*summary
	Region  string  `json:"region,omitempty"`
	Funnel  []count `json:"funnel"`
	ByState []count `json:"parts_by_state"`
	// PartRows lists up to maxPartRows parts, unsettled ones first.
	PartRows     []partRow `json:"part_list"`
	PartsOmitted int       `json:"parts_omitted,omitempty"`
	Rejects      []reason  `json:"rejects_by_reason"`
	Outcomes     []reason  `json:"outcomes_by_reason"`
	// Sampled says the reasons were counted over the first maxReasonItems only.
	Sampled bool         `json:"reasons_sampled,omitempty"`
	Samples []rateSample `json:"rate_samples"`
	// VendorSide is what the vendor itself says (FlashAI only).
	VendorSide *vendorSummary `json:"vendor_summary,omitempty"`
	// Results are the calls' results (results.go); nil without any.
	Results   *resultsView `json:"results,omitempty"`
	Chart     *chart       `json:"-"`
	Now       time.Time    `json:"-"`
	RefreshMS int64        `json:"-"`

	// VendorLines is FlashAI's count per line (vendorlines.go); LinesSide the rest.
	VendorLines []flashai.LineStat `json:"vendor_lines,omitempty"`
	LinesSide   *vendorLines       `json:"-"`
}

func (p *pages) detail(ctx context.Context, id string) (*detail, error) {
	st, err := p.br.Status(ctx, id)
	if err != nil {
		return nil, err
	}
	m, err := p.br.Manifest(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &detail{summary: p.summarize(st), Region: m.Region, Now: p.now().UTC(), RefreshMS: p.refresh.Milliseconds()}
	d.Queue = m.Queue
	d.Funnel = funnel(st)
	d.ByState = partCounts(st)
	if d.PartRows, d.PartsOmitted, err = p.partRows(ctx, st, m.Queue); err != nil {
		return nil, err
	}
	if d.Rejects, d.Outcomes, d.Sampled, err = p.reasons(ctx, st); err != nil {
		return nil, err
	}
	d.Samples = p.rates.samples(id)
	d.Chart = newChart(d.Samples)
	if p.fa != nil && st.Vendor == "flashai" {
		d.VendorSide = p.vendorSummary(ctx, id, d.PartRows)
		if d.LinesSide = p.batchLines(ctx, id, d.PartRows); d.LinesSide != nil {
			d.VendorLines = d.LinesSide.Lines
		}
	}
	d.Results = p.callResults(ctx, st)
	return d, nil
}

// ActiveRows are the parts listed that may need a look; QuietRows the others
// (queued, done, cancelled), which the page folds away.
func (d *detail) ActiveRows() []partRow { return d.rows(false) }
func (d *detail) QuietRows() []partRow  { return d.rows(true) }

func (d *detail) rows(quiet bool) []partRow {
	var out []partRow
	for _, r := range d.PartRows {
		if quietPart(r.State) == quiet {
			out = append(out, r)
		}
	}
	return out
}

// quietPart reports whether a part in state s needs nobody: waiting its turn or over.
func quietPart(s batch.PartState) bool {
	return s == batch.PartQueued || s == batch.PartDone || s == batch.PartCancelled
}

// funnel is the account read as a funnel: read, accepted, handed to the vendor,
// delivered. Each step's Pct is its share of what was read.
func funnel(st *batch.Status) []count {
	steps := []count{
		{Name: "read", N: st.Read},
		{Name: "accepted", N: st.Accepted},
		{Name: "settled", N: settled(st)},
		{Name: "delivered", N: st.Delivered},
	}
	for i := range steps {
		if st.Read > 0 {
			steps[i].Pct = 100 * float64(steps[i].N) / float64(st.Read)
		}
	}
	return steps
}

// partRows reads the parts most worth a look: uncertain, failed, running and any
// state but queued, done and cancelled first, then the rest, up to maxPartRows.
func (p *pages) partRows(ctx context.Context, st *batch.Status, queue string) ([]partRow, int, error) {
	parts, err := p.br.Parts(ctx, st.Batch, st.Parts)
	if err != nil {
		return nil, 0, err
	}
	states := make([]batch.PartState, len(parts))
	for i, ps := range parts {
		states[i] = ps.State
	}
	order := make([]int, len(states))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return !quietPart(states[order[i]]) && quietPart(states[order[j]]) })
	n := min(len(order), maxPartRows)
	chosen := order[:n]
	sort.Ints(chosen)
	rows := make([]partRow, 0, n)
	for _, part := range chosen {
		ps, err := p.br.Progress(ctx, st.Batch, part)
		if err != nil {
			return nil, 0, err
		}
		row := partRow{Part: part, State: ps.State, Throttles: ps.Throttles, LastError: maskDigits(ps.LastError),
			Inflight: len(ps.Inflight), Tasks: taskNames(ps.Extra), TaskURL: taskURL(queue, st.Batch, part)}
		if !ps.ResumeAt.IsZero() && !ps.State.Final() {
			at := ps.ResumeAt
			row.ResumeAt, row.WaitReason = &at, maskDigits(ps.WaitReason)
		}
		switch ps.State {
		case batch.PartUncertain:
			row.Commands = []string{
				fmt.Sprintf("enqueue resolve %s -delivered %d", st.Batch, part),
				fmt.Sprintf("enqueue resolve %s -not-delivered %d", st.Batch, part),
			}
		case batch.PartFailed:
			row.Commands = []string{fmt.Sprintf("enqueue retry %s", st.Batch)}
		}
		rows = append(rows, row)
	}
	return rows, len(order) - n, nil
}

// taskNames lists the vendor-side names recorded for a part's calls ("task:lo-hi"
// fields, and "uncertain:lo-hi" for an uncertain call's), in call order.
func taskNames(extra map[string]string) []string {
	var out []string
	for _, t := range batch.CallTasks(extra) {
		if t.Uncertain {
			// The task an uncertain call was making: what to ask the vendor about.
			t.Name += " (uncertain)"
		}
		out = append(out, t.Name)
	}
	return out
}

// taskURL is the dashboard's page of a part's task.
func taskURL(queue, id string, part int) string {
	return RootPath + "/queues/" + url.PathEscape(queue) + "/tasks/" + url.PathEscape(tasks.PartTaskID(id, part))
}

// reasonCounts is a batch's reasons as counted when its counters were Key.
type reasonCounts struct {
	Key               string
	At                time.Time
	Rejects, Outcomes []reason
	Sampled           bool
}

// reasonCache keeps each batch's last count: counting is the page's one costly
// read (about 0.6 s for 200,000 outcomes), and the counts change only when the
// batch's rejected, refused, failed or uncertain counters do.
type reasonCache struct {
	mu sync.Mutex
	m  map[string]*reasonCounts
}

// reasonKeep is how long a count is kept after it was made; a sampled count (a big
// batch) is reused for sampledReuse even while the batch's counters move.
var (
	reasonKeep   = 30 * time.Minute
	sampledReuse = 30 * time.Second
)

func (c *reasonCache) get(id, key string, now time.Time) *reasonCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.m {
		if now.Sub(v.At) > reasonKeep {
			delete(c.m, k)
		}
	}
	v := c.m[id]
	if v == nil || v.Key != key && !(v.Sampled && now.Sub(v.At) < sampledReuse) {
		return nil
	}
	return v
}

func (c *reasonCache) put(id string, v *reasonCounts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[id] = v
}

// reasons counts rejects and not-delivered numbers by reason, or reuses the last
// count while it stands.
func (p *pages) reasons(ctx context.Context, st *batch.Status) (rejects, outcomes []reason, sampled bool, err error) {
	key := fmt.Sprintf("%d/%d/%d/%d", st.Rejected, st.Refused, st.Failed, st.Uncertain)
	now := p.now()
	if c := p.counts.get(st.Batch, key, now); c != nil {
		return c.Rejects, c.Outcomes, c.Sampled, nil
	}
	rejects, outcomes, sampled, err = p.countReasons(ctx, st)
	if err != nil {
		return nil, nil, false, err
	}
	p.counts.put(st.Batch, &reasonCounts{Key: key, At: now, Rejects: rejects, Outcomes: outcomes, Sampled: sampled})
	return rejects, outcomes, sampled, nil
}

// countReasons counts rejects and not-delivered numbers by reason, reading at most
// maxReasonItems of them. Reasons are vendor and parser text: masked.
func (p *pages) countReasons(ctx context.Context, st *batch.Status) (rejects, outcomes []reason, sampled bool, err error) {
	errEnough := errors.New("enough")
	seen := 0
	take := func() error {
		if seen >= maxReasonItems {
			sampled = true
			return errEnough
		}
		seen++
		return nil
	}
	rj := map[reason]int64{}
	if st.Rejected > 0 {
		err = p.br.Rejects(ctx, st.Batch, func(r batch.Reject) error {
			if err := take(); err != nil {
				return err
			}
			rj[reason{State: "rejected", Reason: reasonKey(maskDigits(r.Reason))}]++
			return nil
		})
		if err != nil && !errors.Is(err, errEnough) {
			return nil, nil, false, err
		}
	}
	oc := map[reason]int64{}
	if st.Refused+st.Failed+st.Uncertain > 0 && !sampled {
		for part := 0; part < st.Parts && !sampled; part++ {
			err = p.br.Outcomes(ctx, st.Batch, part, func(o batch.Outcome) error {
				if err := take(); err != nil {
					return err
				}
				oc[reason{State: o.State, Code: maskDigits(o.Code), Reason: reasonKey(maskDigits(o.Reason))}]++
				return nil
			})
			if err != nil && !errors.Is(err, errEnough) {
				return nil, nil, false, err
			}
		}
	}
	return sortReasons(rj), sortReasons(oc), sampled, nil
}

func sortReasons(m map[reason]int64) []reason {
	out := make([]reason, 0, len(m))
	for r, n := range m {
		r.Count = n
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.State != b.State {
			return a.State < b.State
		}
		return a.Reason < b.Reason
	})
	return out
}

func (p *pages) batchPage(w http.ResponseWriter, r *http.Request) {
	d, err := p.detail(r.Context(), r.PathValue("id"))
	if err != nil {
		p.fail(w, err)
		return
	}
	p.render(w, "batch.html", d)
}

func (p *pages) batchAPI(w http.ResponseWriter, r *http.Request) {
	d, err := p.detail(r.Context(), r.PathValue("id"))
	if err != nil {
		p.fail(w, err)
		return
	}
	d.PartRows, d.Rejects, d.Outcomes = orEmpty(d.PartRows), orEmpty(d.Rejects), orEmpty(d.Outcomes)
	d.Samples = orEmpty(d.Samples)
	writeJSON(w, d)
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
	if errors.Is(err, batch.ErrNotFound) {
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
