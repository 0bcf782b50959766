package results

import (
	"context"

	"github.com/dialq/dialq/lifecycle/ledger"
)

// Status is a batch's results as `enqueue status -json` shows them.
type Status struct {
	Answered    int64 `json:"answered"`
	NotAnswered int64 `json:"not_answered"`
	NotCalled   int64 `json:"not_called"`
	// Pending are numbers delivered to the vendor without a final result.
	Pending int64 `json:"pending"`
	// Redialled counts numbers sent again by a recycle rule (each attempt counts).
	Redialled int64 `json:"redialled"`
	// Complete: the batch finished, every delivered number's latest attempt has a
	// final result and no redial is due.
	Complete bool `json:"complete"`
	// Bad counts vendor records that did not parse or matched no number.
	Bad int64 `json:"bad,omitempty"`
	// Refused counts numbers the vendor refused in a redial's call (their latest
	// attempt); RedialsUncertain redials whose outcome is not known (not resent).
	Refused          int64 `json:"refused,omitempty"`
	RedialsUncertain int   `json:"redials_uncertain,omitempty"`
}

// StatusOf reads batch bs's results.
func StatusOf(ctx context.Context, st *Store, bs *ledger.Status) (*Status, error) {
	sum, err := st.Summary(ctx, bs.Batch)
	if err != nil {
		return nil, err
	}
	// Each number once, at its latest attempt: a redialled number's earlier
	// result is superseded, and it is pending until its new call ends.
	l := sum.Latest()
	out := &Status{Answered: l.Answered, NotAnswered: l.NotAnswered, NotCalled: l.NotCalled, Bad: sum.Bad, Redialled: sum.Redialled,
		Refused: sum.Refused, RedialsUncertain: sum.RedialsUncertain}
	out.Pending = max(bs.Delivered-l.Final()-sum.Refused, 0)
	out.Complete = bs.Finished && out.Pending == 0 && sum.Due == 0
	return out, nil
}
