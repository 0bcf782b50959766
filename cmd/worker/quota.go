package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/quota"
)

// environ lists the process's variables, scanned for quotas on unknown vendors.
var environ = os.Environ

// EnvClockOffset shifts the worker's clock (ledger times, calling windows, quotas,
// daily caps) by a duration: for tests that need tomorrow now. Never set it in
// production.
const EnvClockOffset = "DIALQ_TEST_CLOCK_OFFSET"

// clockFromEnv is the worker's clock.
func clockFromEnv(getenv envconf.Getenv) (func() time.Time, error) {
	s := strings.TrimSpace(getenv(EnvClockOffset))
	if s == "" {
		return time.Now, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: want a duration such as -36h or 90s", EnvClockOffset, s)
	}
	return func() time.Time { return time.Now().Add(d) }, nil
}

// quotaConfig reads <VENDOR>_QUOTA, <VENDOR>_INFLIGHT and their settings before
// anything connects: a bad one stops the worker, naming the variable.
func quotaConfig(getenv envconf.Getenv) (*quota.Config, error) {
	return quota.FromEnv(getenv, environ())
}

// quotaLimiter is the worker's quota limiter, with its metrics; nil when no vendor
// has a quota. Takes are confirmed durable like the in-flight marks.
func quotaLimiter(cfg *quota.Config, rdb redis.UniversalClient, confirm quota.Confirmer, now func() time.Time,
	reg prometheus.Registerer, log *logrus.Entry) *quota.Limiter {
	if len(cfg.VendorNames()) == 0 {
		return nil
	}
	l := quota.New(rdb, cfg, quota.WithConfirmer(confirm), quota.WithClock(now))
	reg.MustRegister(quota.NewCollector(l))
	fields := logrus.Fields{"zone": cfg.Zone.String(), "lease": cfg.Lease.String()}
	for _, v := range cfg.VendorNames() {
		fields[v] = cfg.Vendors[v].String()
	}
	log.WithFields(fields).Info("vendor quotas")
	return l
}
