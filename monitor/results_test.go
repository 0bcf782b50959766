package monitor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/lifecycle/ledger"
)

// stubResults answers every batch with fixed counts.
type stubResults struct{ next time.Time }

func (s stubResults) Results(_ context.Context, st *ledger.Status) (*ResultsData, error) {
	return &ResultsData{Answered: 20, NotAnswered: 10, NotCalled: 4, Pending: st.Delivered - 34, Redialled: 14,
		Tags: map[string]int64{"A": 20, "F": 10, "13800138000": 1}, Attempts: map[int]int64{1: 36, 2: 14},
		OpenVendorBatches: 2, NextRedial: s.next, PollEvery: time.Minute}, nil
}

func TestBatchPageResults(t *testing.T) {
	next := time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC)
	w := newWorld(t, HTTPConfig{Results: stubResults{next: next}})
	id := w.enqueue("yccall", listOf(phones(40, 300)), 10)
	w.startWorker()
	w.waitFinished(id, 30*time.Second)

	var got struct {
		Results *resultsView `json:"results"`
	}
	w.getJSON("/api/batches/"+id, &got)
	r := got.Results
	if r == nil || len(r.Funnel) != 3 || r.Funnel[0].N != 40 || r.Funnel[1].N != 30 || r.Funnel[2].N != 20 ||
		r.Redialled != 14 || r.NextRedial == nil || !r.NextRedial.Equal(next) || r.PollEvery != "1m0s" {
		t.Fatalf("results %+v", r)
	}
	code, page := w.get("/batches/"+id, nil)
	if code != 200 {
		t.Fatalf("page: %d", code)
	}
	for _, want := range []string{`data-result-step="called">30<`, `data-disposition="pending">6<`, `data-tag="A">20<`,
		`data-attempt="attempt 2">14<`, "Next redial due 2026-12-06 09:30:00 UTC", "2 vendor batches polled every 1m0s"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "13800138000") {
		t.Error("a tag holding a phone number reached the page unmasked")
	}
}
