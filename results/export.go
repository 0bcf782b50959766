package results

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/lifecycle/ledger"
)

// Row is one number and attempt, as exported.
type Row struct {
	Phone       string `json:"phone"`
	Vendor      string `json:"vendor"`
	Batch       string `json:"batch"`
	Attempt     int    `json:"attempt"`
	VendorTask  string `json:"vendor_task"`
	Disposition string `json:"disposition"`
	Answered    bool   `json:"answered"`
	CallStart   string `json:"call_start"`
	AnswerTime  string `json:"answer_time"`
	HangupTime  string `json:"hangup_time"`
	DurationS   int    `json:"duration_s"`
	IntentTag   string `json:"intent_tag"`
	IntentNote  string `json:"intent_note"`
	// Reason is why the vendor refused the number in this attempt (disposition
	// refused); empty otherwise.
	Reason string `json:"reason,omitempty"`
}

// Columns are the export's columns, in order.
var Columns = []string{"phone", "vendor", "batch", "attempt", "vendor_task", "disposition", "answered",
	"call_start", "answer_time", "hangup_time", "duration_s", "intent_tag", "intent_note", "reason"}

// Export hands fn one row per number the vendor took and attempt, part by part:
// a part's records and results are read, written and dropped, so memory stays
// bounded by one part whatever the batch's size. A number without a result is
// pending.
func Export(ctx context.Context, batches ledger.Reader, st *Store, id string, fn func(Row) error) error {
	m, err := batches.Manifest(ctx, id)
	if err != nil {
		return err
	}
	sum, err := st.Summary(ctx, id)
	if err != nil {
		return err
	}
	byPart := map[int][]Meta{}
	for _, mt := range sum.Slices {
		byPart[mt.Slice.Part] = append(byPart[mt.Slice.Part], mt)
	}
	for part := range m.Parts {
		if err := exportPart(ctx, batches, st, m, part, byPart[part], fn); err != nil {
			return err
		}
	}
	return nil
}

func exportPart(ctx context.Context, batches ledger.Reader, st *Store, m *ledger.Manifest, part int, metas []Meta, fn func(Row) error) error {
	ps, err := batches.Progress(ctx, m.ID, part)
	if err != nil {
		return err
	}
	delivered := 0
	for _, sm := range ps.Done {
		delivered += sm.Delivered
	}
	if delivered == 0 && len(metas) == 0 {
		return nil // nothing of this part reached the vendor
	}
	recs, err := batches.LoadPart(ctx, m, part)
	if err != nil {
		return err
	}
	notTaken := map[int]bool{}
	if err := batches.Outcomes(ctx, m.ID, part, func(o ledger.Outcome) error {
		notTaken[o.Index] = true
		return nil
	}); err != nil {
		return err
	}
	done := make([]chunking.Range, 0, len(ps.Done))
	for r := range ps.Done {
		done = append(done, r)
	}
	tasks := vendorTasks(ps.Extra)
	// Attempt 1: every number of a recorded call the vendor took.
	first := map[int]Result{}
	for _, mt := range metas {
		if mt.Slice.Attempt != 1 {
			continue
		}
		res, err := st.Get(ctx, m, mt.Slice)
		if err != nil {
			return err
		}
		for _, r := range res {
			first[r.Index] = r
		}
	}
	for i, rec := range recs {
		if notTaken[i] || !inAny(i, done) {
			continue
		}
		r, ok := first[i]
		if !ok {
			r = Result{Index: i, Disposition: Pending}
		}
		if err := fn(rowOf(m, rec.Phone, 1, taskOf(tasks, i), r)); err != nil {
			return err
		}
	}
	// Redials: every number each attempt sent.
	for k := 2; ; k++ {
		idx, name, ok, err := st.redialSent(ctx, m.ID, part, k)
		if err != nil || !ok {
			return err
		}
		got := map[int]Result{}
		for _, mt := range metas {
			if mt.Slice.Attempt != k {
				continue
			}
			res, err := st.Get(ctx, m, mt.Slice)
			if err != nil {
				return err
			}
			for _, r := range res {
				got[r.Index] = r
			}
		}
		refused, err := st.redialRefused(ctx, m.ID, part, k)
		if err != nil {
			return err
		}
		names := strings.Split(name, "\n") // speech: one task per chunk
		for j, i := range idx {
			r, ok := got[i]
			if !ok {
				r = Result{Index: i, Disposition: Pending}
			}
			row := rowOf(m, recs[i].Phone, k, names[min(j/speechChunk(m), len(names)-1)], r)
			if why, out := refused[i]; out {
				row.Disposition, row.Reason = "refused", why
			}
			if err := fn(row); err != nil {
				return err
			}
		}
	}
}

type taskRange struct {
	r    chunking.Range
	name string
}

func vendorTasks(extra map[string]string) []taskRange {
	var out []taskRange
	for k, v := range extra {
		rest, ok := strings.CutPrefix(k, "task:")
		if !ok {
			continue
		}
		lo, hi, ok := strings.Cut(rest, "-")
		l, e1 := strconv.Atoi(lo)
		h, e2 := strconv.Atoi(hi)
		if ok && e1 == nil && e2 == nil {
			out = append(out, taskRange{chunking.Range{Lo: l, Hi: h}, v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].r.Lo < out[j].r.Lo })
	return out
}

func taskOf(tasks []taskRange, i int) string {
	for _, t := range tasks {
		if i >= t.r.Lo && i < t.r.Hi {
			return t.name
		}
	}
	return ""
}

func inAny(i int, rs []chunking.Range) bool {
	for _, r := range rs {
		if i >= r.Lo && i < r.Hi {
			return true
		}
	}
	return false
}

func rowOf(m *ledger.Manifest, phone string, attempt int, task string, r Result) Row {
	return Row{Phone: phone, Vendor: m.Vendor, Batch: m.ID, Attempt: attempt, VendorTask: task,
		Disposition: r.Disposition.String(), Answered: r.Disposition == Answered,
		CallStart: stamp(r.CallStart), AnswerTime: stamp(r.Answer), HangupTime: stamp(r.Hangup),
		DurationS: r.DurationS, IntentTag: r.IntentTag, IntentNote: r.IntentNote}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Writer writes rows as CSV or JSON Lines.
type Writer struct {
	csv  *csv.Writer
	json *json.Encoder
	cell func(string) string
	n    int64
}

// NewWriter writes format ("csv" or "jsonl") to w; cell defuses a CSV cell that a
// spreadsheet would run as a formula (nil: none).
func NewWriter(w io.Writer, format string, cell func(string) string) (*Writer, error) {
	if cell == nil {
		cell = func(s string) string { return s }
	}
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(Columns); err != nil {
			return nil, err
		}
		return &Writer{csv: cw, cell: cell}, nil
	case "jsonl":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return &Writer{json: enc, cell: cell}, nil
	}
	return nil, fmt.Errorf("format %q: want csv or jsonl", format)
}

// Write writes one row.
func (w *Writer) Write(r Row) error {
	w.n++
	if w.json != nil {
		return w.json.Encode(r)
	}
	rec := []string{r.Phone, r.Vendor, r.Batch, strconv.Itoa(r.Attempt), r.VendorTask, r.Disposition,
		strconv.FormatBool(r.Answered), r.CallStart, r.AnswerTime, r.HangupTime, strconv.Itoa(r.DurationS), r.IntentTag, r.IntentNote, r.Reason}
	for i := range rec {
		rec[i] = w.cell(rec[i])
	}
	return w.csv.Write(rec)
}

// Rows is how many rows were written.
func (w *Writer) Rows() int64 { return w.n }

// Flush writes what is buffered and reports a write error.
func (w *Writer) Flush() error {
	if w.csv != nil {
		w.csv.Flush()
		return w.csv.Error()
	}
	return nil
}
