package monitor

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dialq/dialq/internal/buildinfo"
)

// NewBuildInfo returns the dialq_build_info gauge, always 1, whose labels say which
// build runs: version and revision (internal/buildinfo) and the Go version. A
// dashboard joins on it to tell the replicas of a rolling upgrade apart.
func NewBuildInfo() prometheus.Collector {
	version, revision := buildinfo.Version()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "dialq_build_info",
		Help: "The running build: version, VCS revision and Go version; always 1.",
		ConstLabels: prometheus.Labels{
			"version": version, "revision": revision, "go_version": runtime.Version(),
		},
	})
	g.Set(1)
	return g
}
