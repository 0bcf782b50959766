package monitor

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/producer"
	"github.com/dialq/dialq/vendors/flashai"
)

// linesCalls counts per-line summaries asked through the pages.
var linesCalls struct {
	sync.Mutex
	n map[*countingSummarizer]int
}

func (c *countingSummarizer) GetBatchSummaryGroupByLine(ctx context.Context, name string) (*flashai.LineSummary, error) {
	linesCalls.Lock()
	if linesCalls.n == nil {
		linesCalls.n = map[*countingSummarizer]int{}
	}
	linesCalls.n[c]++
	linesCalls.Unlock()
	return c.CallSummarizer.(LineSummarizer).GetBatchSummaryGroupByLine(ctx, name)
}

func (c *countingSummarizer) lineCalls() int {
	linesCalls.Lock()
	defer linesCalls.Unlock()
	return linesCalls.n[c]
}

// TestFlashAIVendorLines: a batch dialled over two lines shows each line's numbers,
// summed over the batch's plans, on the page and in the API, asked once per TTL.
func TestFlashAIVendorLines(t *testing.T) {
	w := newWorld(t, HTTPConfig{})
	c, err := producer.CampaignJSON("flashai", []byte(`{"botence_id": "2873", "call_date": "20261123", "call_hours": [9],
		"clear": 0, "line_ids": ["101", "102"], "recall": 0, "batch_name_prefix": "lines"}`))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := producer.Profile("flashai", 15, 0)
	sum, err := producer.Enqueue(context.Background(), w.db.Client, w.aopt, strings.NewReader(listOf(phones(31, 0))),
		producer.Request{Vendor: "flashai", Region: "CN", Format: ingest.Auto, Campaign: c, Profile: p, Source: "t"})
	if err != nil {
		t.Fatal(err)
	}
	w.startWorker()
	w.waitFinished(sum.Batch, 30*time.Second)

	var got struct {
		Lines []flashai.LineStat `json:"vendor_lines"`
	}
	w.getJSON("/api/batches/"+sum.Batch, &got)
	// Parts of 15, 15 and 1 numbers, each spread round robin over 101 and 102.
	want := []flashai.LineStat{{LineID: "101", Numbers: 8 + 8 + 1}, {LineID: "102", Numbers: 7 + 7}}
	if len(got.Lines) != 2 || got.Lines[0] != want[0] || got.Lines[1] != want[1] {
		t.Errorf("vendor_lines = %+v; want %+v", got.Lines, want)
	}
	asked := w.summaries.lineCalls()
	if asked != 3 {
		t.Errorf("asked %d plans; want 3", asked)
	}
	_, page := w.get("/batches/"+sum.Batch, nil)
	for _, l := range want {
		if !strings.Contains(page, `<tr data-line="`+l.LineID+`"><td>`+l.LineID+`</td><td class="n">`+formatCount(int64(l.Numbers))+`</td>`) {
			t.Errorf("page lacks line %s with %d numbers", l.LineID, l.Numbers)
		}
	}
	if n := w.summaries.lineCalls(); n != asked {
		t.Errorf("vendor asked %d more times within its TTL", n-asked)
	}
	other := w.enqueue("yccall", listOf(phones(5, 900)), 10)
	w.waitSettled(other, 30*time.Second)
	code, body := w.get("/api/batches/"+other, nil)
	if code != 200 || strings.Contains(body, "vendor_lines") {
		t.Errorf("yccall batch: %d %s", code, body)
	}
}
