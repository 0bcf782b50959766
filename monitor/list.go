// The batch list: /batches/ and /api/batches.

package monitor

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/dialq/dialq/lifecycle/ledger"
)

// summary is a batch as the list shows it, and as /api/batches returns it: the
// `enqueue status -json` fields and what the pages add.
type summary struct {
	*ledger.Status
	Queue   string  `json:"queue,omitempty"`
	Account []count `json:"account"`
	// Rate is numbers settled a second; RateFrom says how it was measured.
	Rate     float64    `json:"rate_per_s"`
	RateFrom string     `json:"rate_from"`
	ETA      *time.Time `json:"estimated_finish,omitempty"`
	Active   bool       `json:"-"`
}

func (p *pages) summarize(st *ledger.Status) *summary {
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
		if errors.Is(err, ledger.ErrNotFound) {
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
