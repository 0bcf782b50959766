package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/dialq/dialq/lifecycle/ledger"
)

func TestDeliverEveryVendor(t *testing.T) {
	tests := []struct {
		vendor             string
		partSize, callSize int
		wantTasks          int
	}{
		{"nxcloud", 400, 0, 7},
		{"yccall", 1000, 0, 3},
		{"speech", 1500, 500, 2},
		{"flashai", 400, 0, 7},
	}
	for _, tt := range tests {
		t.Run(tt.vendor, func(t *testing.T) {
			h := setup(t)
			h.startWorker(h.deps())
			phones := numbers(2500, 0)
			sum := h.enqueue(tt.vendor, lines(phones), tt.partSize, tt.callSize)
			st := h.waitSettled(sum.Batch, 60*time.Second)
			if !st.Finished || st.Delivered != 2500 || st.Failed+st.Refused+st.Uncertain != 0 {
				t.Fatalf("status %+v; want 2500 delivered and finished", st)
			}
			h.ledgerOnce(tt.vendor, asSent(tt.vendor, phones))
			if got := h.fake.Ledger(tt.vendor).Tasks; got != tt.wantTasks {
				t.Errorf("vendor tasks = %d; want %d", got, tt.wantTasks)
			}
		})
	}
}

func TestRefusedNumbersAreRecorded(t *testing.T) {
	for _, vendor := range []string{"yccall", "flashai"} {
		t.Run(vendor, func(t *testing.T) {
			h := setup(t)
			phones := numbers(300, 1000)
			h.fake.Refuse("blacklisted", phones[5], phones[250])
			h.startWorker(h.deps())
			sum := h.enqueue(vendor, lines(phones), 0, 0)
			st := h.waitSettled(sum.Batch, 30*time.Second)
			if st.Delivered != 298 || st.Refused != 2 || !st.Finished {
				t.Fatalf("status %+v; want 298 delivered, 2 refused", st)
			}
			var got []ledger.Outcome
			if err := h.store.Outcomes(context.Background(), sum.Batch, 0, func(o ledger.Outcome) error {
				got = append(got, o)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].Phone != phones[5] || got[0].Line != 6 || got[0].State != ledger.OutcomeRefused || got[0].Reason == "" {
				t.Errorf("outcomes = %+v", got)
			}
			h.ledgerOnce(vendor, append(append([]string{}, phones[:5]...), append(phones[6:250], phones[251:]...)...))
		})
	}
}

func TestBisectionIsolatesABadRecord(t *testing.T) {
	for _, vendor := range []string{"nxcloud", "speech", "flashai", "yccall"} {
		t.Run(vendor, func(t *testing.T) {
			h := setup(t)
			phones := numbers(1000, 5000)
			bad := phones[617]
			h.fake.Poison(asSent(vendor, []string{bad})...)
			h.startWorker(h.deps())
			sum := h.enqueue(vendor, lines(phones), 0, 0)
			st := h.waitSettled(sum.Batch, 30*time.Second)
			if st.Delivered != 999 || st.Failed != 1 || !st.Finished {
				t.Fatalf("status %+v; want 999 delivered, 1 failed", st)
			}
			var failed []ledger.Outcome
			_ = h.store.Outcomes(context.Background(), sum.Batch, 0, func(o ledger.Outcome) error {
				failed = append(failed, o)
				return nil
			})
			wantCode := map[string]string{"nxcloud": "41000", "speech": "29002", "flashai": "1010", "yccall": "400"}[vendor]
			if len(failed) != 1 || failed[0].Phone != asSent(vendor, []string{bad})[0] || failed[0].Line != 618 || failed[0].Code != wantCode {
				t.Errorf("failed outcomes = %+v; want the poisoned number on line 618 with the vendor's code %s", failed, wantCode)
			}
			want := append(append([]string{}, phones[:617]...), phones[618:]...)
			h.ledgerOnce(vendor, asSent(vendor, want))
		})
	}
}
