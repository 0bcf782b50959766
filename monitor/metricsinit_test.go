package monitor

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Every counter is exported at 0 for each vendor before its first event, the
// cancelled state included.
func TestCountersPresentFromStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			key := mf.GetName()
			for _, l := range m.Label {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			have[key] = true
		}
	}
	for _, want := range []string{
		"dialq_numbers_total state=cancelled vendor=flashai",
		"dialq_numbers_total state=delivered vendor=nxcloud",
		"dialq_vendor_calls_total outcome=transient vendor=yccall",
		"dialq_problems_total kind=corrupt vendor=speech",
		"dialq_throttled_waits_total vendor=speech",
		"dialq_webhooks_total outcome=failed",
	} {
		if !have[want] {
			t.Errorf("no series %q at start", want)
		}
	}
}
