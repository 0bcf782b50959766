package wiring_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/jobs/wiring"
	"github.com/dialq/dialq/monitor"
)

// TestNewWorkerWiresEverything: what the demo lacked when it wired the worker by
// hand (the rate limiter, the webhook sender) comes with NewWorker.
func TestNewWorkerWiresEverything(t *testing.T) {
	db := testredis.New(t)
	env, err := fakevendor.DemoEnv("http://127.0.0.1:1", filepath.Join(t.TempDir(), "speech.pem"))
	if err != nil {
		t.Fatal(err)
	}
	env["WEBHOOK_ALLOWED_HOSTS"], env["WEBHOOK_SECRET"] = "hooks.example.com", "whsec-test-0123456789abcdef"
	log := logrus.New()
	log.SetOutput(io.Discard)
	w, err := wiring.NewWorker(wiring.Config{
		Getenv: func(k string) string { return env[k] }, Redis: db.Client,
		Asynq:    asynq.RedisClientOpt{Addr: db.Opt.Addr, DB: db.Opt.DB, Password: db.Opt.Password},
		Rates:    map[string]float64{"yccall": 5},
		Registry: prometheus.NewRegistry(), Log: logrus.NewEntry(log),
		Server: jobs.ServerOptions{Concurrency: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	d := w.Deps
	switch {
	case len(w.Served) != 4:
		t.Errorf("served %v; want all four vendors of the demo environment", w.Served)
	case d.Lifecycle == nil || d.Gate == nil || d.Metrics == nil:
		t.Errorf("ledger, lifecycle, gate or metrics missing: %+v", d)
	case d.Limiter == nil:
		t.Error("no rate limiter")
	case d.Webhook == nil:
		t.Error("no webhook sender though WEBHOOK_ALLOWED_HOSTS is set")
	case d.Stopping == nil || d.Stopping():
		t.Error("Stopping not wired, or stopping before Shutdown")
	case len(w.Queues) == 0:
		t.Error("no queues")
	case w.Runnable == nil:
		t.Error("no runnable gauges for the autoscaler")
	}
	if mc := w.MonitorConfig(monitor.HTTPConfig{}); mc.Batches == nil || mc.FlashAI == nil {
		t.Errorf("MonitorConfig = %+v; want the batch pages and FlashAI's summaries", mc)
	}
}

// TestCommandsUseNewWorker keeps cmd/worker and cmd/demo on the one wiring: a
// command that registers handlers or builds deps itself would drift again.
func TestCommandsUseNewWorker(t *testing.T) {
	for _, file := range []string{"../../cmd/worker/main.go", "../../cmd/demo/main.go"} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		s := string(src)
		if !strings.Contains(s, "wiring.NewWorker(") {
			t.Errorf("%s does not build its worker with wiring.NewWorker", file)
		}
		for _, hand := range []string{"jobs.Register(", "jobs.NewServer(", "jobs.ClientsFromEnv(", "lifecycle.New("} {
			if strings.Contains(s, hand) {
				t.Errorf("%s calls %s itself: wire through wiring.NewWorker", file, hand)
			}
		}
	}
}
