package results

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/compliance"
	"github.com/dialq/dialq/internal/csvcell"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/vendors/registry"
)

// ImportColumns name the columns of a vendor's export, as its header spells them.
type ImportColumns struct {
	Phone, Disposition, Duration, AnsweredAt, IntentTag string
	// Attempt, optional, names the attempt a row is for (1 the first send, k a
	// redial's); without it, or empty, a row is for the number's latest attempt.
	Attempt string
}

// DefaultImportColumns are the names used when none are given.
var DefaultImportColumns = ImportColumns{Phone: "phone", Disposition: "disposition", Duration: "duration_s",
	AnsweredAt: "answered_at", IntentTag: "intent_tag", Attempt: "attempt"}

// RowError is a row of an import refused, with its line (the header is line 1).
type RowError struct {
	Line   int64
	Reason string
}

// ImportError lists every row refused; nothing was stored.
type ImportError struct{ Rows []RowError }

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d rows refused, nothing imported", len(e.Rows))
	for i, r := range e.Rows {
		if i == 20 {
			fmt.Fprintf(&b, "\n… and %d more", len(e.Rows)-i)
			break
		}
		fmt.Fprintf(&b, "\nline %d: %s", r.Line, r.Reason)
	}
	return b.String()
}

// Imported is what an import stored.
type Imported struct {
	Rows int `json:"rows"`
	Counts
	// Redials counts the redials the import scheduled (ScheduleRedials), Late the
	// numbers with a redialled disposition whose part's next attempt had already
	// gone out (or found nothing to send): they are stored, not redialled.
	Redials int `json:"redials_scheduled"`
	Late    int `json:"late"`
	// touched counts what was stored per part and attempt.
	touched map[[2]int]Counts
}

type importRow struct {
	line    int64
	res     Result
	attempt int
}

// Import reads a vendor's export of call results (CSV with a header) for batch id
// and stores one result per row, for the number's latest attempt sent (a redial's
// when the number was redialled), by the same rules as polled results:
// answered when it says so, and then only with an answer time or a duration over
// zero being consistent with it. It stores nothing unless every row is good: a
// number not in the batch, or not delivered, a duplicate, a disposition or time
// that does not parse, is refused with its line (ImportError). FlashAI batches
// are polled, not imported.
func Import(ctx context.Context, batches ledger.Reader, st *Store, id string, in io.Reader, cols ImportColumns) (*Imported, error) {
	m, err := batches.Manifest(ctx, id)
	if err != nil {
		return nil, err
	}
	if m.Vendor == registry.FlashAI {
		return nil, errors.New("FlashAI results are polled from the vendor, not imported")
	}
	conv, err := compliance.NewConverter(m.Vendor, m.Region)
	if err != nil {
		return nil, err
	}
	rows, bad, err := readImport(in, cols, m.Region)
	if err != nil {
		return nil, err
	}
	matched := map[uint64]bool{}
	perPart := map[[2]int][]Result{}
	sizes := map[int]int{}
	for part := range m.Parts {
		ps, err := batches.Progress(ctx, id, part)
		if err != nil {
			return nil, err
		}
		recs, err := batches.LoadPart(ctx, m, part)
		if err != nil {
			return nil, err
		}
		notTaken := map[int]string{}
		if err := batches.Outcomes(ctx, id, part, func(o ledger.Outcome) error {
			notTaken[o.Index] = string(o.State)
			return nil
		}); err != nil {
			return nil, err
		}
		done := make([]chunking.Range, 0, len(ps.Done))
		for r := range ps.Done {
			done = append(done, r)
		}
		sentIn, refusedAt, err := st.latestAttempts(ctx, id, part)
		if err != nil {
			return nil, err
		}
		for i, rec := range recs {
			key, err := conv.Key(rec.Phone)
			if err != nil {
				continue
			}
			row, ok := rows[key]
			if !ok {
				continue
			}
			matched[key] = true
			if why, out := notTaken[i]; out || !inAny(i, done) {
				if !out {
					why = "pending"
				}
				bad = append(bad, RowError{row.line, "number was not delivered to the vendor (" + why + ")"})
				continue
			}
			latest := 1
			if n := len(sentIn[i]); n > 0 {
				latest = sentIn[i][n-1]
			}
			k := row.attempt
			if why := attemptProblem(k, latest, sentIn[i], refusedAt[i]); why != "" {
				bad = append(bad, RowError{row.line, why})
				continue
			}
			if k == 0 {
				k = latest
			}
			res := row.res
			res.Index = i
			at := [2]int{part, k}
			perPart[at] = append(perPart[at], res)
			sizes[part] = len(recs)
		}
	}
	for key, row := range rows {
		if !matched[key] {
			bad = append(bad, RowError{row.line, "number is not in batch " + id})
		}
	}
	if len(bad) > 0 {
		sort.Slice(bad, func(i, j int) bool { return bad[i].Line < bad[j].Line })
		return nil, &ImportError{Rows: bad}
	}
	out := &Imported{Rows: len(rows), touched: map[[2]int]Counts{}}
	for at, res := range perPart {
		part := at[0]
		out.touched[at] = CountsOf(res)
		sl := Slice{Part: part, Attempt: at[1], Range: chunking.Range{Lo: 0, Hi: sizes[part]}}
		// A later import adds to an earlier one: its rows win for their numbers.
		prev, err := st.Get(ctx, m, sl)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			return nil, err
		}
		merged := map[int]Result{}
		for _, r := range prev {
			merged[r.Index] = r
		}
		for _, r := range res {
			merged[r.Index] = r
		}
		all := make([]Result, 0, len(merged))
		for _, r := range merged {
			all = append(all, r)
		}
		sort.Slice(all, func(i, j int) bool { return all[i].Index < all[j].Index })
		if _, _, err := st.Put(ctx, m, sl, all, true, len(all), true); err != nil {
			return nil, err
		}
		out.Counts.Answered += CountsOf(res).Answered
		out.Counts.NotAnswered += CountsOf(res).NotAnswered
		out.Counts.NotCalled += CountsOf(res).NotCalled
	}
	return out, nil
}

// readImport reads every row, keyed by number (E.164 as a number); rows that do
// not parse come back as errors.
func readImport(in io.Reader, cols ImportColumns, region string) (map[uint64]importRow, []RowError, error) {
	r := csv.NewReader(in)
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err == io.EOF {
		return nil, nil, errors.New("the file is empty: want a header with the columns " + cols.Phone + " and " + cols.Disposition)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("line 1: %w", err)
	}
	idx := map[string]int{}
	for i, h := range head {
		idx[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	col := func(name string, required bool) (int, error) {
		if i, ok := idx[name]; ok && name != "" {
			return i, nil
		}
		if required {
			return -1, fmt.Errorf("line 1: no column %q (map it with a flag)", name)
		}
		return -1, nil
	}
	var c [6]int
	for i, x := range []struct {
		name     string
		required bool
	}{{cols.Phone, true}, {cols.Disposition, true}, {cols.Duration, false}, {cols.AnsweredAt, false}, {cols.IntentTag, false},
		{cols.Attempt, false}} {
		if c[i], err = col(x.name, x.required); err != nil {
			return nil, nil, err
		}
	}
	rows := map[uint64]importRow{}
	var bad []RowError
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				bad = append(bad, RowError{int64(pe.Line), pe.Err.Error()})
				continue
			}
			return nil, nil, err
		}
		get := func(i int) string {
			if i < 0 || i >= len(rec) {
				return ""
			}
			return strings.TrimSpace(rec[i])
		}
		res, key, why := parseImportRow(csvcell.Unquote(get(c[0])), get(c[1]), get(c[2]), get(c[3]), get(c[4]), region)
		if why != "" {
			bad = append(bad, RowError{int64(line), why})
			continue
		}
		if prev, dup := rows[key]; dup {
			bad = append(bad, RowError{int64(line), fmt.Sprintf("number repeated (first on line %d)", prev.line)})
			continue
		}
		k := 0
		if a := get(c[5]); a != "" {
			if k, err = strconv.Atoi(a); err != nil || k < 1 {
				bad = append(bad, RowError{int64(line), fmt.Sprintf("attempt %q: want 1 or more", a)})
				continue
			}
		}
		rows[key] = importRow{line: int64(line), res: res, attempt: k}
	}
	return rows, bad, nil
}

func parseImportRow(phone, disp, dur, answeredAt, tag, region string) (Result, uint64, string) {
	num, err := phonenumbers.Parse(phone, region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return Result{}, 0, "phone: not a valid number"
	}
	key, err := compliance.ParseE164(phonenumbers.Format(num, phonenumbers.E164))
	if err != nil {
		return Result{}, 0, "phone: not a valid number"
	}
	d, err := ParseDisposition(disp)
	if err != nil || d == Pending {
		return Result{}, 0, fmt.Sprintf("disposition %q: want answered, not_answered or not_called", disp)
	}
	res := Result{Disposition: d, IntentTag: tag}
	if dur != "" {
		n, err := strconv.Atoi(dur)
		if err != nil || n < 0 {
			return Result{}, 0, fmt.Sprintf("duration_s %q: want whole seconds", dur)
		}
		res.DurationS = n
	}
	if answeredAt != "" {
		t, err := parseStamp(answeredAt)
		if err != nil {
			return Result{}, 0, fmt.Sprintf("answered_at %q: want RFC 3339 or yyyy-MM-dd HH:mm:ss (UTC)", answeredAt)
		}
		res.Answer = t
	}
	// The same rule as polled results: an answer time or a duration means answered.
	if d != Answered && (res.DurationS > 0 || !res.Answer.IsZero()) {
		return Result{}, 0, fmt.Sprintf("disposition %s, but the row has a duration or an answer time", d)
	}
	return res, key, ""
}

func parseStamp(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Parse("2006-01-02 15:04:05", s)
}
