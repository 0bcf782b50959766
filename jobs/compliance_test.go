package jobs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dialq/dialq/compliance"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/lifecycle"
	"github.com/dialq/dialq/lifecycle/ledger"
)

// nxcloudWith is the example NXCloud campaign with a compliance block.
func nxcloudWith(block string) string {
	return `{"country":"CN","task_name":"gate","strategy_name":"s","dispatch_type":0,"agent_group_no":"G1",` +
		`"predict_call_rate":1,"ratio_call_rate":1,"start_count":1,"compliance":` + block + `}`
}

// A number added to the do-not-call list after enqueue is not sent: the worker asks
// the gate right before the call. It is counted suppressed, and the account closes.
func TestOptOutAfterEnqueueNotSent(t *testing.T) {
	testredis.RequireReal(t) // suppression lists use BITFIELD, which miniredis lacks
	h := setup(t)
	phones := numbers(50, 370000)
	// The list must exist at enqueue (a campaign naming no list is refused): it
	// holds another number then.
	if _, err := compliance.NewStore(h.db.Client).Add(context.Background(), "dnc", []string{"+8613333333333"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	sum := h.enqueueCampaign("nxcloud", nxcloudWith(`{"suppress":["dnc"]}`), lines(phones))
	if _, err := compliance.NewStore(h.db.Client).Add(context.Background(), "dnc", []string{"+86" + phones[7]}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	h.startWorker(h.deps())
	st := h.waitSettled(sum.Batch, 30*time.Second)
	if st.Delivered != 49 || st.Suppressed != 1 || !st.Finished {
		t.Fatalf("status %+v; want 49 delivered, 1 suppressed", st)
	}
	if h.fake.Ledger("nxcloud").Numbers["86"+phones[7]] != 0 {
		t.Error("the opted-out number reached the vendor")
	}
	var code string
	_ = h.store.Outcomes(context.Background(), sum.Batch, 0, func(o ledger.Outcome) error { code = string(o.State) + " " + o.Code; return nil })
	if code != "suppressed suppressed:dnc" {
		t.Errorf("outcome %q; want suppressed with its list", code)
	}
}

// Two batches racing for one number under a contact cap of one: it is sent once,
// and the other batch counts it suppressed (contact_cap).
func TestContactCapAcrossRacingBatches(t *testing.T) {
	testredis.RequireReal(t) // the caps' Lua uses commands miniredis lacks
	h := setup(t)
	shared := numbers(1, 380000)[0]
	var ids []string
	for i := range 4 {
		list := append(numbers(20, 381000+100*i), shared)
		sum := h.enqueueCampaign("nxcloud", nxcloudWith(fmt.Sprintf(`{"contact_cap":{"max":1,"days":30}}`)), lines(list))
		ids = append(ids, sum.Batch)
	}
	h.startWorker(h.deps())
	h.startWorker(h.deps())
	sent, capped := 0, int64(0)
	for _, id := range ids {
		st := h.waitSettled(id, 30*time.Second)
		capped += st.Suppressed
		sent += int(st.Delivered)
	}
	if got := h.fake.Ledger("nxcloud").Numbers["86"+shared]; got != 1 {
		t.Errorf("the capped number reached the vendor %d times; want once", got)
	}
	if capped != 3 || sent != 81 {
		t.Errorf("suppressed %d, delivered %d; want 3 and 81", capped, sent)
	}
}

// Outside the calling window a part waits, without a worker slot, shown waiting
// with the time the window opens, and goes out then. The clock is injected: the
// window opens 3 s after the test starts.
func TestWindowHoldsThePartUntilItOpens(t *testing.T) {
	h := setup(t)
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	opens := time.Now().In(shanghai).Truncate(time.Minute).Add(24 * time.Hour) // a minute boundary tomorrow
	offset := opens.Add(-3 * time.Second).Sub(time.Now())
	h.ledgerOpts = []ledger.Option{ledger.WithClock(func() time.Time { return time.Now().Add(offset) })}
	h.store = lifecycle.New(h.db.Client, nil, nil, nil, h.ledgerOpts...)
	block := fmt.Sprintf(`{"window":{"timezone":"Asia/Shanghai","days":["mon","tue","wed","thu","fri","sat","sun"],"from":%q,"to":%q}}`,
		opens.Format("15:04"), opens.Add(2*time.Hour).Format("15:04"))
	phones := numbers(30, 390000)
	sum := h.enqueueCampaign("nxcloud", nxcloudWith(block), lines(phones))
	h.startWorker(h.deps())
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := h.store.Status(context.Background(), sum.Batch)
		if len(st.Waiting) == 1 && st.Waiting[0].State == ledger.PartWaiting {
			if at := st.Waiting[0].ResumeAt; at == nil || !at.Equal(opens.UTC()) {
				t.Errorf("waiting until %v; want %v", at, opens.UTC())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no part shown waiting: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(h.fake.Ledger("nxcloud").Numbers); n != 0 {
		t.Fatalf("%d numbers sent before the window opened", n)
	}
	st := h.waitSettled(sum.Batch, 20*time.Second)
	if st.Delivered != 30 {
		t.Fatalf("after the window opened: %+v", st)
	}
}
