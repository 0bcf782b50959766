package flashai

import (
	"context"
	"sort"
	"sync"
	"time"
)

// LineReader reads one plan's per-line summary. *Client implements it.
type LineReader interface {
	GetBatchSummaryGroupByLine(ctx context.Context, batchName string) (*LineSummary, error)
}

// BatchLines asks about each of a dialq batch's plans (its vendor batch names),
// four at a time, and sums them per line. Plans that did not answer are counted
// in failed, with the last error; the sum is over the others.
func BatchLines(ctx context.Context, r LineReader, names []string) (lines []LineStat, failed int, lastErr error) {
	sums := make([]*LineSummary, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			sums[i], errs[i] = r.GetBatchSummaryGroupByLine(ctx, name)
		})
	}
	wg.Wait()
	var ok []*LineSummary
	for i := range names {
		if errs[i] != nil {
			failed++
			lastErr = errs[i]
			continue
		}
		ok = append(ok, sums[i])
	}
	return SumLines(ok), failed, lastErr
}

// lastCallLayouts are the forms a last call time is compared in; the seed does not
// give one. Times in none of them are compared as text.
var lastCallLayouts = []string{"2006-01-02 15:04:05", time.RFC3339, "20060102150405", "2006/01/02 15:04:05"}

func laterCall(a, b string) bool {
	for _, l := range lastCallLayouts {
		ta, errA := time.Parse(l, a)
		tb, errB := time.Parse(l, b)
		if errA == nil && errB == nil {
			return ta.After(tb)
		}
	}
	return a > b
}

// SumLines adds up plans' summaries per line, in line id order: numbers and ended
// calls summed, the latest last call kept.
func SumLines(sums []*LineSummary) []LineStat {
	by := map[string]*LineStat{}
	for _, s := range sums {
		for _, l := range s.Lines {
			t := by[l.LineID]
			if t == nil {
				t = &LineStat{LineID: l.LineID}
				by[l.LineID] = t
			}
			t.Numbers += l.Numbers
			t.Ended += l.Ended
			if l.LastCall != "" && (t.LastCall == "" || laterCall(l.LastCall, t.LastCall)) {
				t.LastCall = l.LastCall
			}
		}
	}
	out := make([]LineStat, 0, len(by))
	for _, t := range by {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LineID < out[j].LineID })
	return out
}
