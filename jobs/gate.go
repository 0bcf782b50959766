// The compliance gate right before a call: which records go out, and whether
// the calling window is open.

package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/compliance"
	"github.com/dialq/dialq/compliance/window"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/vendors"
)

// gateRun is what the compliance gate needs for a part.
type gateRun struct {
	cfg  campaign.Compliance
	conv *compliance.Converter
}

// gateCall is one call after the compliance gate: the records that go out, and the
// range indexes of those and of the ones kept out.
type gateCall struct {
	recs []chunking.Record
	// keep maps an index in recs to its index in the call's range; nil when every
	// record goes out.
	keep       []int
	suppressed map[int]string
}

// remap turns the refusals' indexes into the call's range.
func (c *gateCall) remap(res *sent) {
	if c.keep == nil {
		return
	}
	for i := range res.refused {
		if j := res.refused[i].idx; j >= 0 && j < len(c.keep) {
			res.refused[i].idx = c.keep[j]
		}
	}
}

// errWindowNeverOpens is a calling window that never opens for a part's numbers.
type errWindowNeverOpens struct{ error }

func (errWindowNeverOpens) Class() vendors.Class { return vendors.Permanent }
func (errWindowNeverOpens) VendorCode() string   { return "window" }

// gate asks the compliance gate about the call over r: which records go out, and
// whether the calling window is open. Without a gate every record goes out.
func (e *engine) gate(ctx context.Context, p *partRun, r chunking.Range, recs []chunking.Record) (gateCall, compliance.Decision, error) {
	if p.gate == nil {
		return gateCall{recs: recs}, compliance.Decision{}, nil
	}
	phones := make([]string, len(recs))
	for i, rec := range recs {
		n, err := p.gate.conv.E164(rec.Phone)
		if err != nil {
			return gateCall{}, compliance.Decision{}, fmt.Errorf("compliance: record %d: %w", r.Lo+i, err)
		}
		phones[i] = n
	}
	now := e.deps.Lifecycle.Now()
	dec, err := e.deps.Gate.BeforeCall(ctx, p.m.ID, p.gate.cfg, phones, now)
	if errors.Is(err, window.ErrNeverOpens) {
		return gateCall{}, dec, errWindowNeverOpens{err}
	}
	if err != nil {
		return gateCall{}, dec, err
	}
	if !dec.WindowOpensAt.IsZero() {
		return gateCall{}, dec, &deferred{state: ledger.PartWaiting, after: dec.WindowOpensAt.Sub(now), at: dec.WindowOpensAt,
			why: "outside the campaign's calling window; it opens " + dec.WindowOpensAt.UTC().Format(time.RFC3339)}
	}
	call := gateCall{recs: recs}
	for i := range recs {
		if dec.Send(i) {
			continue
		}
		if call.suppressed == nil {
			call.suppressed = map[int]string{}
		}
		call.suppressed[i] = dec.Verdicts[i]
	}
	if len(call.suppressed) > 0 {
		call.recs, call.keep = make([]chunking.Record, 0, len(recs)-len(call.suppressed)), []int{}
		for i, rec := range recs {
			if _, out := call.suppressed[i]; !out {
				call.recs = append(call.recs, rec)
				call.keep = append(call.keep, i)
			}
		}
	}
	return call, dec, nil
}
