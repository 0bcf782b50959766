package monitor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/lifecycle/ledger"
)

// A part retrying after a failed call shows on the batch page and its JSON with
// the vendor's code and message and the time of its next attempt.
func TestRetryingPartOnPage(t *testing.T) {
	w := newWorld(t, HTTPConfig{})
	id := w.enqueue("nxcloud", listOf(phones(20, 0)), 10)
	at := time.Now().Add(3 * time.Minute).UTC().Truncate(time.Millisecond)
	why := "attempt 2 of 25 failed: 99: nxcloud system error"
	if err := w.store.Wait(context.Background(), id, 1, ledger.PartRetrying, at, why); err != nil {
		t.Fatal(err)
	}
	var got apiDetail
	w.getJSON("/api/batches/"+id, &got)
	found := false
	for _, r := range got.PartRows {
		if r.Part == 1 {
			found = r.State == ledger.PartRetrying && r.ResumeAt != nil && r.ResumeAt.Equal(at) && r.WaitReason == why
		}
	}
	if !found || got.PartStates[ledger.PartRetrying] != 1 {
		t.Errorf("api: parts %+v, states %v; want part 1 retrying at %v", got.PartRows, got.PartStates, at)
	}
	_, page := w.get("/batches/"+id, nil)
	if !strings.Contains(page, "retrying until "+at.Format("15:04:05")) || !strings.Contains(page, why) {
		t.Errorf("page lacks the retrying part's next attempt and reason")
	}
}
