package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/redact"
)

// report prints every batch's account and returns what is wrong: a batch that did
// not finish, or whose account does not add up.
func (d *demo) report(ctx context.Context) ([]string, error) {
	var problems []string
	for _, b := range d.batches {
		st, err := d.store.Status(ctx, b.sum.Batch)
		if err != nil {
			return nil, err
		}
		b.st = st
		p, err := d.account(ctx, b)
		if err != nil {
			return nil, err
		}
		problems = append(problems, p...)
	}
	return problems, nil
}

// account prints one batch's account and returns what is wrong with it.
func (d *demo) account(ctx context.Context, b *tracked) ([]string, error) {
	st := b.st
	var problems []string
	w := d.out
	fmt.Fprintf(w, "\n%s  batch %s  %s\n", b.vendor, st.Batch, st.State)
	fmt.Fprintf(w, "  read                %5d\n", st.Read)
	fmt.Fprintf(w, "  rejected at input   %5d", st.Rejected)
	if st.Duplicates > 0 {
		fmt.Fprintf(w, "  (duplicates: %d)", st.Duplicates)
	}
	fmt.Fprintln(w)
	err := d.store.Rejects(ctx, st.Batch, func(r ledger.Reject) error {
		fmt.Fprintf(w, "      line %-3d %-14s %s\n", r.Line, redact.Phone(r.Raw), r.Reason)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var outcomes []ledger.Outcome
	for n := range st.Parts {
		err := d.store.Outcomes(ctx, st.Batch, n, func(o ledger.Outcome) error {
			outcomes = append(outcomes, o)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(outcomes, func(i, j int) bool { return outcomes[i].Line < outcomes[j].Line })
	fmt.Fprintf(w, "  delivered           %5d\n", st.Delivered)
	for _, o := range []struct {
		label string
		state ledger.NumberOutcome
		n     int64
	}{
		{"refused by vendor", ledger.OutcomeRefused, st.Refused},
		{"failed", ledger.OutcomeFailed, st.Failed},
		{"uncertain", ledger.OutcomeUncertain, st.Uncertain},
	} {
		fmt.Fprintf(w, "  %-19s %5d\n", o.label, o.n)
		for _, oc := range outcomes {
			if oc.State == o.state {
				fmt.Fprintf(w, "      line %-3d %-14s %s\n", oc.Line, redact.Phone(oc.Phone), oc.Reason)
			}
		}
	}
	fmt.Fprintf(w, "  pending             %5d\n", st.Pending)

	sum := st.Rejected + st.Delivered + st.Refused + st.Failed + st.Uncertain + st.Pending
	verdict := "adds up"
	if sum != st.Read || st.Pending < 0 {
		verdict = "DOES NOT ADD UP"
		problems = append(problems, fmt.Sprintf("%s: read %d != %d", b.vendor, st.Read, sum))
	}
	fmt.Fprintf(w, "  check   %d read = %d rejected + %d delivered + %d refused + %d failed + %d uncertain + %d pending: %s\n",
		st.Read, st.Rejected, st.Delivered, st.Refused, st.Failed, st.Uncertain, st.Pending, verdict)
	if !st.Finished {
		problems = append(problems, fmt.Sprintf("%s: batch %s is %s, not finished (parts %v)", b.vendor, st.Batch, st.State, st.PartStates))
	}
	if !b.sum.Existing {
		// The fake's ledger is this run's alone: it must hold exactly the delivered numbers.
		l := d.fake.Ledger(b.vendor)
		twice := 0
		for _, c := range l.Numbers {
			if c != 1 {
				twice++
			}
		}
		verdict := "each once"
		if int64(len(l.Numbers)) != st.Delivered || twice > 0 {
			verdict = fmt.Sprintf("MISMATCH: want %d, %d received more than once", st.Delivered, twice)
			problems = append(problems, fmt.Sprintf("%s: vendor holds %d numbers, %d delivered, %d more than once",
				b.vendor, len(l.Numbers), st.Delivered, twice))
		}
		fmt.Fprintf(w, "  vendor  the fake %s holds %d numbers in %d task(s), %s\n", b.vendor, len(l.Numbers), l.Tasks, verdict)
	}
	return problems, nil
}
