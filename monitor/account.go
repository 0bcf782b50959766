package monitor

import (
	"encoding/json"
	"sort"
	"strconv"

	"github.com/dialq/dialq/lifecycle/ledger"
)

// count is one term of an account, or parts in one state.
type count struct {
	Name string `json:"name"`
	N    int64  `json:"count"`
	// Pct is the share of the whole, 0-100.
	Pct float64 `json:"pct"`
}

// accountOrder is the order of the account's terms on the pages. A term shows when
// ledger.Status has a field of that JSON name, so a state the batch lifecycle adds
// (suppressed, lost) appears without a change here when its name is listed, and
// without a template change in any case once it is.
var accountOrder = []string{string(ledger.OutcomeDelivered), string(ledger.OutcomeRefused), string(ledger.OutcomeFailed),
	string(ledger.OutcomeUncertain), "pending", string(ledger.OutcomeSuppressed), "lost", "rejected"}

// account lists where a batch's numbers are: the one place that turns a Status into
// (state, count) terms for the progress bars, the funnel and the API.
func account(st *ledger.Status) []count {
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
var partOrder = ledger.PartStates

// partCounts lists Status.PartStates as it is, so that new part states show.
func partCounts(st *ledger.Status) []count {
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
func settled(st *ledger.Status) int64 { return st.Accepted - st.Pending }

// funnel is the account read as a funnel: read, accepted, handed to the vendor,
// delivered. Each step's Pct is its share of what was read.
func funnel(st *ledger.Status) []count {
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
