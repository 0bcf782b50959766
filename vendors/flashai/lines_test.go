package flashai_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dialq/dialq/vendors/flashai"
)

type lineReader map[string]*flashai.LineSummary

func (r lineReader) GetBatchSummaryGroupByLine(_ context.Context, name string) (*flashai.LineSummary, error) {
	if s, ok := r[name]; ok {
		return s, nil
	}
	return nil, errors.New("no result")
}

func TestBatchLines(t *testing.T) {
	r := lineReader{
		"p0": {Lines: []flashai.LineStat{{LineID: "102", Numbers: 5, Ended: 1, LastCall: "2026-11-23 10:00:00"},
			{LineID: "101", Numbers: 3}}},
		"p1": {Lines: []flashai.LineStat{{LineID: "102", Numbers: 2, Ended: 2, LastCall: "2026-11-23 09:59:59"}}},
		"p2": {Lines: []flashai.LineStat{{LineID: "101", Numbers: 1, Ended: 1, LastCall: "2026-11-24 08:00:00"}}},
	}
	lines, failed, err := flashai.BatchLines(context.Background(), r, []string{"p0", "p1", "p2", "gone"})
	want := []flashai.LineStat{{LineID: "101", Numbers: 4, Ended: 1, LastCall: "2026-11-24 08:00:00"},
		{LineID: "102", Numbers: 7, Ended: 3, LastCall: "2026-11-23 10:00:00"}}
	if diff := cmp.Diff(want, lines); diff != "" || failed != 1 || err == nil {
		t.Errorf("BatchLines = %d failed, %v (-want +got):\n%s", failed, err, diff)
	}
	if got := flashai.SumLines(nil); len(got) != 0 {
		t.Errorf("SumLines(nil) = %v", got)
	}
}
