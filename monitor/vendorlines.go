package monitor

import (
	"context"
	"time"

	"github.com/dialq/dialq/vendors/flashai"
)

// LineSummarizer is FlashAI's per-line count of a plan's numbers. *flashai.Client
// implements it; a CallSummarizer that does too gets the per-line table.
type LineSummarizer interface {
	GetBatchSummaryGroupByLine(ctx context.Context, batchName string) (*flashai.LineSummary, error)
}

// vendorLines is a batch's numbers per FlashAI line, summed over its plans.
type vendorLines struct {
	Lines []flashai.LineStat
	// Plans were asked, Known the parts name; Errors did not answer.
	Plans, Known, Errors int
	LastError            string
	FetchedAt            time.Time
}

func (v *vendorLines) fetched() time.Time { return v.FetchedAt }

// batchLines sums the per-line summaries of the plans named by rows (at most
// maxVendorPlans), within vendorTimeout; nil when the vendor client cannot tell.
func (p *pages) batchLines(ctx context.Context, id string, rows []partRow) *vendorLines {
	ls, ok := p.fa.(LineSummarizer)
	if !ok {
		return nil
	}
	var names []string
	for _, r := range rows {
		names = append(names, r.Tasks...)
	}
	now := p.now()
	if v := p.lines.get(id, now); v != nil && v.Known == len(names) {
		return v
	}
	v := &vendorLines{Known: len(names), FetchedAt: now}
	names = names[:min(len(names), maxVendorPlans)]
	v.Plans = len(names)
	ctx, cancel := context.WithTimeout(ctx, vendorTimeout)
	defer cancel()
	var err error
	v.Lines, v.Errors, err = flashai.BatchLines(ctx, ls, names)
	if err != nil {
		v.LastError = maskDigits(err.Error())
	}
	if len(names) > 0 {
		p.lines.put(id, v)
	}
	return v
}
