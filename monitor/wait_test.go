package monitor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/lifecycle/ledger"
)

// The batch page says why and until when each waiting part waits.
func TestBatchPageShowsWhyPartsWait(t *testing.T) {
	w := newWorld(t, HTTPConfig{})
	id := w.enqueue("nxcloud", listOf(phones(20, 0)), 10)
	at := time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC)
	why := "daily cap of 10 numbers reached for 2026-12-07 (Asia/Shanghai); the next day starts 2026-12-08T00:00:00+08:00"
	if err := w.store.Wait(context.Background(), id, 1, ledger.PartWaiting, at, why); err != nil {
		t.Fatal(err)
	}
	_, page := w.get("/batches/"+id, nil)
	for _, want := range []string{`<h2>Why it waits</h2>`, `data-wait="waiting"`, "daily cap of 10 numbers reached for 2026-12-07", "until 2026-12-07 16:00:00 UTC"} {
		if !strings.Contains(page, want) {
			t.Errorf("batch page lacks %q", want)
		}
	}
}
