// Package results knows how every call ended: one result per number and attempt,
// collected from the vendor (FlashAI's getBatchPlanCallList, polled as asynq
// tasks, with the vendor's callback as a hint to poll sooner) or imported from a
// vendor's export (the other vendors have no result API), kept compactly in Redis
// beside the batch's ledger, counted per disposition, and exported.
//
// Dispositions (contract sheet §4 "Choice"): answered (an answer time, or a
// duration over zero), not_answered (a call record without an answer),
// not_called (no record when the vendor says the plan ended, or when the results
// window closes), pending (nothing known yet; never stored).
package results

import (
	"fmt"
	"time"

	"github.com/dialq/dialq/chunking"
)

// Disposition is how a number's call ended.
type Disposition uint8

// Dispositions. The numbers are stored: never renumber one.
const (
	Pending     Disposition = 0
	Answered    Disposition = 1
	NotAnswered Disposition = 2
	NotCalled   Disposition = 3
)

// Dispositions lists every disposition, in the order reports show them.
var Dispositions = []Disposition{Answered, NotAnswered, NotCalled, Pending}

var dispositionNames = map[Disposition]string{
	Pending: "pending", Answered: "answered", NotAnswered: "not_answered", NotCalled: "not_called",
}

func (d Disposition) String() string {
	if s, ok := dispositionNames[d]; ok {
		return s
	}
	return fmt.Sprintf("disposition(%d)", uint8(d))
}

// ParseDisposition reads a disposition's name.
func ParseDisposition(s string) (Disposition, error) {
	for d, name := range dispositionNames {
		if name == s {
			return d, nil
		}
	}
	return 0, fmt.Errorf("unknown disposition %q: want answered, not_answered, not_called or pending", s)
}

func (d Disposition) final() bool { return d == Answered || d == NotAnswered || d == NotCalled }

// Result is how one number's call of one attempt ended.
type Result struct {
	// Index is the number's record in its part.
	Index       int
	Disposition Disposition
	// CallStart, Answer and Hangup are zero when unknown; kept to the second.
	CallStart, Answer, Hangup time.Time
	DurationS                 int
	IntentTag, IntentNote     string
	// Detail is the vendor's raw note: the fields after the intent note.
	Detail string
}

// Slice is one vendor task's share of a part in one attempt: the unit results
// are polled, stored and sealed in.
type Slice struct {
	Part    int
	Attempt int
	Range   chunking.Range
}

// Counts are numbers per disposition.
type Counts struct {
	Answered    int64 `json:"answered"`
	NotAnswered int64 `json:"not_answered"`
	NotCalled   int64 `json:"not_called"`
}

// Final is the numbers with a final result.
func (c Counts) Final() int64 { return c.Answered + c.NotAnswered + c.NotCalled }

func (c *Counts) add(d Disposition, n int64) {
	switch d {
	case Answered:
		c.Answered += n
	case NotAnswered:
		c.NotAnswered += n
	case NotCalled:
		c.NotCalled += n
	}
}

// Of returns the count of d.
func (c Counts) Of(d Disposition) int64 {
	switch d {
	case Answered:
		return c.Answered
	case NotAnswered:
		return c.NotAnswered
	case NotCalled:
		return c.NotCalled
	}
	return 0
}

// CountsOf counts res per disposition.
func CountsOf(res []Result) Counts {
	var c Counts
	for _, r := range res {
		c.add(r.Disposition, 1)
	}
	return c
}
