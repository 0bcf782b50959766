// One batch's page: /batches/{id} and /api/batches/{id}.

package monitor

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/vendors/flashai"
	"github.com/dialq/dialq/vendors/registry"
)

// partRow is one part on the batch page.
type partRow struct {
	Part  int              `json:"part"`
	State ledger.PartState `json:"state"`
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
	if p.fa != nil && st.Vendor == registry.FlashAI {
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
func quietPart(s ledger.PartState) bool {
	return s == ledger.PartQueued || s == ledger.PartDone || s == ledger.PartCancelled
}

// partRows reads the parts most worth a look: uncertain, failed, running and any
// state but queued, done and cancelled first, then the rest, up to maxPartRows.
func (p *pages) partRows(ctx context.Context, st *ledger.Status, qname string) ([]partRow, int, error) {
	parts, err := p.br.Parts(ctx, st.Batch, st.Parts)
	if err != nil {
		return nil, 0, err
	}
	states := make([]ledger.PartState, len(parts))
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
			Inflight: len(ps.Inflight), Tasks: taskNames(ps.Extra), TaskURL: taskURL(qname, st.Batch, part)}
		if !ps.ResumeAt.IsZero() && !ps.State.Final() {
			at := ps.ResumeAt
			row.ResumeAt, row.WaitReason = &at, maskDigits(ps.WaitReason)
		}
		switch ps.State {
		case ledger.PartUncertain:
			row.Commands = []string{
				fmt.Sprintf("enqueue resolve %s -delivered %d", st.Batch, part),
				fmt.Sprintf("enqueue resolve %s -not-delivered %d", st.Batch, part),
			}
		case ledger.PartFailed:
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
	for _, t := range ledger.CallTasks(extra) {
		if t.Uncertain {
			// The task an uncertain call was making: what to ask the vendor about.
			t.Name += " (uncertain)"
		}
		out = append(out, t.Name)
	}
	return out
}

// taskURL is the dashboard's page of a part's task.
func taskURL(qname, id string, part int) string {
	return RootPath + "/queues/" + url.PathEscape(qname) + "/tasks/" + url.PathEscape(queue.PartTaskID(id, part))
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
