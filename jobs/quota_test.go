package jobs_test

import (
	"testing"
	"time"

	"github.com/dialq/dialq/quota"
)

// Every vendor under a quota smaller than two calls and one call in flight: calls
// are cut to fit and the rest waits throttled; at the vendor, no second holds more
// than the quota and no two requests overlap; every number arrives once.
func TestQuotaCutToFitEveryVendor(t *testing.T) {
	for _, vendor := range []string{"nxcloud", "yccall", "speech", "flashai"} {
		t.Run(vendor, func(t *testing.T) {
			h := setup(t)
			env := map[string]string{"NXCLOUD_QUOTA": "150/1s", "YCCALL_QUOTA": "150/1s", "SPEECH_QUOTA": "150/1s",
				"FLASHAI_QUOTA": "150/1s", "NXCLOUD_INFLIGHT": "1", "YCCALL_INFLIGHT": "1", "SPEECH_INFLIGHT": "1", "FLASHAI_INFLIGHT": "1"}
			cfg, err := quota.FromEnv(func(k string) string { return env[k] }, nil)
			if err != nil {
				t.Fatal(err)
			}
			d := h.deps()
			d.Quota = quota.New(h.db.Client, cfg)
			h.startWorker(d)
			phones := numbers(500, 7000)
			partSize, callSize := 100, 0 // a part is one call, but for speech's appends
			if vendor == "speech" {
				partSize, callSize = 250, 100
			}
			sum := h.enqueue(vendor, lines(phones), partSize, callSize)
			st := h.waitSettled(sum.Batch, 60*time.Second)
			if !st.Finished || st.Delivered != 500 {
				t.Fatalf("status %+v; want 500 delivered", st)
			}
			h.ledgerOnce(vendor, asSent(vendor, phones))
			l := h.fake.Ledger(vendor)
			busiest := 0
			for i, a := range l.Accepts {
				n := 0
				for _, b := range l.Accepts[i:] {
					if b.At.Sub(a.At) < time.Second {
						n += b.N
					}
				}
				busiest = max(busiest, n)
			}
			if busiest > 150 {
				t.Errorf("%d numbers reached the vendor within a second; the quota is 150", busiest)
			}
			if l.MaxInflight != 1 {
				t.Errorf("%d requests at once at the vendor; want 1", l.MaxInflight)
			}
			if len(l.Accepts) <= 5 {
				t.Errorf("%d calls for 500 numbers in calls of 100 under 150/1s: none was cut", len(l.Accepts))
			}
			span := l.Accepts[len(l.Accepts)-1].At.Sub(l.Accepts[0].At)
			if span < 2*time.Second {
				t.Errorf("500 numbers at 150/s went out within %s", span)
			}
		})
	}
}
