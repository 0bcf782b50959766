package jobs_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/producer"
	"github.com/dialq/dialq/vendors/flashai"
)

// enqueueAgents enqueues list with examples/flashai-agent.json in parts of partSize.
func (h *harness) enqueueAgents(list string, partSize int) *producer.Summary {
	h.t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "examples", "flashai-agent.json"))
	if err != nil {
		h.t.Fatal(err)
	}
	c, err := producer.CampaignJSON("flashai", data)
	if err != nil {
		h.t.Fatal(err)
	}
	p, _ := producer.Profile("flashai", partSize, 0)
	sum, err := producer.Enqueue(context.Background(), h.db.Client, h.aopt, strings.NewReader(list), producer.Request{
		Vendor: "flashai", Region: "CN", Format: ingest.Auto, Campaign: c, Profile: p, Source: "test",
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return sum
}

// An agent campaign goes out with addAgentPlan under the same rules as addPlan:
// refused numbers recorded, a poisoned record isolated by bisection, each number
// once, one agent plan per part, controls by batch name.
func TestAgentCampaignDelivered(t *testing.T) {
	h := setup(t)
	phones := numbers(500, 310000)
	h.fake.Refuse("agent busy list", phones[10])
	h.fake.Poison(phones[321])
	h.startWorker(h.deps())
	sum := h.enqueueAgents(lines(phones), 250)
	st := h.waitSettled(sum.Batch, 30*time.Second)
	if st.Delivered != 498 || st.Refused != 1 || st.Failed != 1 || !st.Finished {
		t.Fatalf("status %+v; want 498 delivered, 1 refused, 1 failed", st)
	}
	var got []ledger.Outcome
	for part := range 2 {
		_ = h.store.Outcomes(context.Background(), sum.Batch, part, func(o ledger.Outcome) error {
			got = append(got, o)
			return nil
		})
	}
	if len(got) != 2 || got[0].Phone != phones[10] || got[0].State != ledger.OutcomeRefused ||
		got[1].Phone != phones[321] || got[1].Code != "1010" {
		t.Errorf("outcomes = %+v", got)
	}
	want := append(append([]string{}, phones[:10]...), phones[11:321]...)
	h.ledgerOnce("flashai", append(want, phones[322:]...))
	ctx := context.Background()
	m, _ := h.store.Manifest(ctx, sum.Batch)
	names, err := h.store.VendorTasks(ctx, m)
	if err != nil || len(names) < 2 {
		t.Fatalf("vendor tasks %v, %v", names, err)
	}
	d := h.deps()
	for _, n := range names {
		if !strings.HasPrefix(n, "spring_agents_") {
			t.Errorf("plan name %s lacks the campaign's prefix", n)
		}
		// An agent plan has no line: a robot plan would list one.
		ls, err := d.FlashAI.GetBatchSummaryGroupByLine(ctx, n)
		if err != nil || len(ls.Lines) != 0 {
			t.Errorf("plan %s lines %+v, %v; want an agent plan", n, ls, err)
		}
		if err := d.FlashAI.BatchPlanPause(ctx, n); err != nil {
			t.Errorf("pause %s: %v", n, err)
		}
	}
}

// A worker that died during an addAgentPlan left it in flight; the plan had gone
// through. The resend gets 101007, the plan is verified to hold the numbers, and
// the part counts as delivered once.
func TestAgentPlanDuplicateVerified(t *testing.T) {
	h := setup(t)
	phones := numbers(300, 320000)
	sum := h.enqueueAgents(lines(phones), 0)
	ctx := context.Background()
	m, _ := h.store.Manifest(ctx, sum.Batch)
	recs, _ := h.store.LoadPart(ctx, m, 0)
	if err := h.store.MarkInflight(ctx, m.ID, 0, chunking.Range{Lo: 0, Hi: len(recs)}); err != nil {
		t.Fatal(err)
	}
	d := h.deps()
	list, _ := chunking.EncodeMobileList(recs)
	if _, err := d.FlashAI.AddAgentPlan(ctx, &flashai.AddAgentPlanRequest{BatchName: "spring_agents_" + jobs.NameID(m.ID) + "_0",
		AgentGroupID: "G1", AgentID: "A1", AddType: "1", MobileList: list}); err != nil {
		t.Fatal(err)
	}
	h.startWorker(d)
	st := h.waitSettled(sum.Batch, 30*time.Second)
	if st.Delivered != 300 || st.Uncertain != 0 || !st.Finished {
		t.Fatalf("status %+v", st)
	}
	h.ledgerOnce("flashai", phones)
	if got := h.fake.Ledger("flashai").Tasks; got != 1 {
		t.Errorf("vendor plans = %d; want 1", got)
	}
}
