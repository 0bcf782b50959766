// Recording a call's outcome, exactly once, number by number.

package jobs

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/lifecycle/ledger"
)

func (e *engine) recordSent(ctx context.Context, p *partRun, r chunking.Range, res *sent) error {
	if len(res.unmatched) > 0 {
		// The vendor refused numbers we cannot find in the call: which of the call's
		// numbers it took is not known, so none is counted as delivered.
		e.deps.Metrics.Problem(e.caller.vendor(), "unmatched_refusal")
		p.log.WithFields(logrus.Fields{"range": fmt.Sprintf("%d-%d", r.Lo, r.Hi), "unmatched": maskAll(res.unmatched)}).
			Error("vendor refused numbers that match no record of the call: the call's numbers are parked as uncertain")
		return e.recordAll(ctx, p, r, ledger.OutcomeUncertain, "unmatched-refusal",
			fmt.Sprintf("the vendor refused %d numbers that match none of this call's records: %s", len(res.unmatched), res.refusedReason()))
	}
	out := ledger.RangeResult{Range: r, Extra: res.extra}
	if res.taskRef != "" {
		if out.Extra == nil {
			out.Extra = map[string]string{}
		}
		out.Extra[ledger.TaskField(r)] = res.taskRef
	}
	seen := map[int]bool{}
	for _, rf := range res.refused {
		if rf.idx < 0 || rf.idx >= r.Len() || seen[rf.idx] {
			continue
		}
		seen[rf.idx] = true
		rec := p.recs[r.Lo+rf.idx]
		out.Outcomes = append(out.Outcomes, ledger.Outcome{Index: r.Lo + rf.idx, Line: rec.Line, Phone: rec.Phone,
			State: ledger.OutcomeRefused, Code: rf.code, Reason: rf.reason})
	}
	for idx, verdict := range res.suppressed {
		rec := p.recs[r.Lo+idx]
		out.Outcomes = append(out.Outcomes, ledger.Outcome{Index: r.Lo + idx, Line: rec.Line, Phone: rec.Phone,
			State: ledger.OutcomeSuppressed, Code: verdict, Reason: "stopped by the compliance gate right before the call"})
	}
	out.Delivered = r.Len() - len(out.Outcomes)
	if res.reconciled {
		p.log.WithField("range", fmt.Sprintf("%d-%d", r.Lo, r.Hi)).Info("vendor shows an earlier attempt went through: counted as delivered")
	}
	if err := e.record(ctx, p, out); err != nil {
		return err
	}
	for k, v := range out.Extra {
		p.extra[k] = v
	}
	return nil
}

func (s *sent) refusedReason() string {
	for _, rf := range s.refused {
		if rf.reason != "" {
			return rf.reason
		}
	}
	return "no reason given"
}

// recordAll records every record of r with one outcome.
func (e *engine) recordAll(ctx context.Context, p *partRun, r chunking.Range, state ledger.NumberOutcome, code, reason string) error {
	out := ledger.RangeResult{Range: r}
	for i := r.Lo; i < r.Hi; i++ {
		out.Outcomes = append(out.Outcomes, ledger.Outcome{Index: i, Line: p.recs[i].Line, Phone: p.recs[i].Phone,
			State: state, Code: code, Reason: reason})
	}
	if state == ledger.OutcomeUncertain {
		out.Extra = e.uncertainName(p, r)
	}
	return e.record(ctx, p, out)
}

func (e *engine) record(ctx context.Context, p *partRun, out ledger.RangeResult) error {
	// Recording must not be lost to a shutdown that starts after the call returned.
	ctx = context.WithoutCancel(ctx)
	added, err := e.deps.Lifecycle.RecordRange(ctx, p.m.ID, p.part, out)
	if err != nil || !added {
		return err
	}
	counts := map[ledger.NumberOutcome]int{ledger.OutcomeDelivered: out.Delivered}
	for _, o := range out.Outcomes {
		counts[o.State]++
	}
	for state, n := range counts {
		e.deps.Metrics.AddNumbers(e.caller.vendor(), string(state), n)
	}
	return nil
}
