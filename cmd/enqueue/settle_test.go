package main

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/lifecycle"
	"github.com/dialq/dialq/lifecycle/ledger"
)

// parkUncertain records every number of part n (size records) as uncertain and
// settles the part, as a worker that lost a call does.
func (h *harness) parkUncertain(id string, n, size int) {
	h.t.Helper()
	ctx := context.Background()
	store := lifecycle.New(h.db.Client, nil, nil, nil)
	out := ledger.RangeResult{Range: chunking.Range{Lo: 0, Hi: size},
		Extra: map[string]string{"uncertain:0-" + itoa(size): "task demo-" + itoa(n)}}
	for i := range size {
		out.Outcomes = append(out.Outcomes, ledger.Outcome{Index: i, State: ledger.OutcomeUncertain, Code: "inflight", Reason: "lost"})
	}
	if _, err := store.RecordRange(ctx, id, n, out); err != nil {
		h.t.Fatal(err)
	}
	m, err := store.Manifest(ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := store.Settle(ctx, m, n, false); err != nil {
		h.t.Fatal(err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// Uncertain parts are listed with the vendor task to ask about; resolve settles
// a list of parts or all of them with -delivered/-not-delivered, flags before or
// after the batch; reconcile is refused where the vendor cannot be asked.
func TestResolveFormsAndReconcile(t *testing.T) {
	h := setup(t)
	s := h.enqueue("nxcloud", "-part-size", "2", listCSV)
	if s.Parts < 4 {
		t.Fatalf("parts %d; want at least 4", s.Parts)
	}
	for _, n := range []int{0, 1, 2} {
		h.parkUncertain(s.Batch, n, 2)
	}
	r := h.run("status", s.Batch)
	for _, want := range []string{"part 1", "uncertain, 2 numbers: ask the vendor about task demo-1", "enqueue resolve " + s.Batch + " -delivered|-not-delivered"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}
	st := h.status(s.Batch)
	if len(st.UncertainParts) != 3 || st.UncertainParts[2].Tasks[0] != "task demo-2" {
		t.Errorf("status -json uncertain parts %+v", st.UncertainParts)
	}
	wantCode(t, h.run("reconcile", s.Batch), exitUsage, "reconcile is not possible for nxcloud")
	wantCode(t, h.run("resolve", s.Batch, "-delivered"), exitUsage, "give -all or a list of parts")
	wantCode(t, h.run("resolve", s.Batch, "0"), exitUsage, "say -delivered or -not-delivered")
	wantCode(t, h.run("resolve", s.Batch, "-delivered", "-not-delivered", "0"), exitUsage, "say -delivered or -not-delivered")
	// A list naming a part that is not uncertain moves nothing.
	wantCode(t, h.run("resolve", s.Batch, "-delivered", "0", "3"), exitUsage, "part 3 is queued, not uncertain")
	if st := h.status(s.Batch); st.Uncertain != 6 {
		t.Fatalf("uncertain %d after a refused resolve; want 6", st.Uncertain)
	}
	r = h.run("resolve", s.Batch, "-delivered", "0")
	wantCode(t, r, exitOK, "")
	if !strings.Contains(r.stdout, "part 0: 2 uncertain numbers recorded as delivered") {
		t.Errorf("resolve: %s", r.stdout)
	}
	r = h.run("resolve", "-all", s.Batch, "-not-delivered")
	wantCode(t, r, exitOK, "")
	if !strings.Contains(r.stdout, "part 1: 2 numbers re-queued") || !strings.Contains(r.stdout, "part 2: 2 numbers re-queued") {
		t.Errorf("resolve -all: %s", r.stdout)
	}
	if st := h.status(s.Batch); st.Uncertain != 0 || st.Delivered != 2 {
		t.Errorf("after resolve: %+v", st)
	}
	wantCode(t, h.run("resolve", s.Batch, "-all", "-delivered"), exitUsage, "no uncertain part")
}

// A batch sent with -queue to a queue no worker serves is said to wait, at
// enqueue and in status.
func TestQueueNobodyServesWarns(t *testing.T) {
	h := setup(t)
	r := h.run("-vendor", "nxcloud", "-campaign", campaignFile("nxcloud"), "-queue", "nowhere", "-json", listCSV)
	wantCode(t, r, exitOK, "warning: no running worker serves queue nowhere")
	s := summaryOf(t, r)
	if r := h.run("status", s.Batch); !strings.Contains(r.stdout, "no running worker serves queue nowhere") {
		t.Errorf("status:\n%s", r.stdout)
	}
}
