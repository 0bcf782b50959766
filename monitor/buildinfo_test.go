package monitor

import (
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dialq/dialq/internal/buildinfo"
)

func TestBuildInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewBuildInfo())
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(families) != 1 || families[0].GetName() != "dialq_build_info" {
		t.Fatalf("gathered %d families; want dialq_build_info alone", len(families))
	}
	ms := families[0].GetMetric()
	if len(ms) != 1 {
		t.Fatalf("dialq_build_info has %d series; want 1", len(ms))
	}
	got := map[string]string{}
	for _, l := range ms[0].GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	version, revision := buildinfo.Version()
	want := map[string]string{"version": version, "revision": revision, "go_version": runtime.Version()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dialq_build_info labels (-want +got):\n%s", diff)
	}
	if v := ms[0].GetGauge().GetValue(); v != 1 {
		t.Errorf("dialq_build_info = %v; want 1", v)
	}
}
