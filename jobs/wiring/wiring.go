// Package wiring builds a worker the one way: the vendor clients, the ledger, the
// lifecycle, the rate limiter, the compliance gate, the metrics and the webhook
// sender around package jobs' handlers. cmd/worker and cmd/demo both call
// NewWorker, so the demo runs what production runs. It is a package of its own
// because it needs package monitor, whose tests use package jobs.
package wiring

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/compliance"
	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/lifecycle"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/monitor"
	"github.com/dialq/dialq/quota"
	"github.com/dialq/dialq/ratelimit"
	"github.com/dialq/dialq/webhook"
)

// Config is what NewWorker needs. cmd/worker fills it from its flags and
// environment; cmd/demo from the fake vendor's demo environment. Both build the
// worker through NewWorker, so the demo runs what production runs.
type Config struct {
	// Getenv reads the vendors' credentials (ClientsFromEnv) and the webhook
	// settings (webhook.ConfigFromEnv).
	Getenv envconf.Getenv
	Redis  redis.UniversalClient
	Asynq  asynq.RedisConnOpt
	// Vendors is WORKER_VENDORS: "configured" (or empty) or a comma list.
	Vendors string
	// Rates are the fleet-wide calls a second by vendor; zero or absent is unlimited.
	Rates map[string]float64
	// Confirm, when set, confirms each in-flight mark durable before its call.
	Confirm ledger.Confirmer
	// Clock is the ledger's clock; nil means time.Now.
	Clock func() time.Time
	// Quota holds the vendors' quotas; nil means none.
	Quota *quota.Limiter
	// RedisUnsafe, when set, is asked before each vendor call (jobs.Deps.RedisUnsafe:
	// redisconf.Guard.Err, a cached verdict on eviction and durability).
	RedisUnsafe func() error
	// Extend, when set, runs once the dependencies are built and before the
	// handlers are registered: it may set more of w.Deps (results collection)
	// and returns a function that registers more handlers, or nil.
	Extend func(w *Worker) (register func(*asynq.ServeMux), err error)
	// Registry receives the worker's metrics (calls, queues, Go runtime, build).
	Registry *prometheus.Registry
	Log      *logrus.Entry
	// Server sets concurrency, queues and intervals; nil Queues means jobs.Queues(deps, 6, 3).
	Server jobs.ServerOptions
}

// Worker is a wired worker: its dependencies, handlers and asynq server.
type Worker struct {
	Deps *jobs.Deps
	// Served lists the vendors the worker has a client for.
	Served    []string
	Queues    map[string]int
	Inspector *asynq.Inspector
	// Runnable holds the autoscaling gauges (dialq_parts_runnable, …), refreshed
	// from Start until its context ends.
	Runnable *monitor.Runnable
	// Client queues tasks (the lifecycle's, and Extend's).
	Client *asynq.Client
	// endGauges stops the gauges' refresh (Close).
	endGauges context.CancelFunc
	mux       *asynq.ServeMux
	srv       *asynq.Server
	stopping  atomic.Bool
}

// NewWorker builds the vendor clients, the ledger, the lifecycle, the rate
// limiter, the compliance gate, the metrics and the webhook sender, registers
// the handlers and builds the asynq server. Close releases what it opened.
func NewWorker(cfg Config) (*Worker, error) {
	if cfg.Vendors == "" {
		cfg.Vendors = "configured"
	}
	deps, served, err := jobs.ClientsFromEnv(cfg.Getenv, cfg.Redis, cfg.Vendors)
	if err != nil {
		return nil, err
	}
	if deps.Limiter, err = ratelimit.New(cfg.Redis, cfg.Rates); err != nil {
		return nil, err
	}
	whCfg, err := webhook.ConfigFromEnv(cfg.Getenv)
	if err != nil {
		return nil, err
	}
	w := &Worker{Deps: deps, Served: served}
	w.Inspector = asynq.NewInspector(cfg.Asynq)
	w.Runnable = monitor.NewRunnable(w.Inspector, cfg.Redis)
	cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		monitor.NewBuildInfo(), monitor.NewQueueCollector(w.Inspector), w.Runnable)
	metrics := monitor.NewMetrics(cfg.Registry)

	var opts []ledger.Option
	if cfg.Confirm != nil {
		opts = append(opts, ledger.WithConfirmer(cfg.Confirm))
	}
	if cfg.Clock != nil {
		opts = append(opts, ledger.WithClock(cfg.Clock))
	}
	deps.Quota = cfg.Quota
	deps.RedisUnsafe = cfg.RedisUnsafe
	deps.Metrics = metrics
	deps.Log = cfg.Log
	w.Client = asynq.NewClient(cfg.Asynq)
	deps.Lifecycle = lifecycle.New(cfg.Redis, w.Client, w.Inspector, cfg.Log, opts...)
	deps.Gate = compliance.NewGate(compliance.NewStore(cfg.Redis))
	var register func(*asynq.ServeMux)
	if cfg.Extend != nil {
		if register, err = cfg.Extend(w); err != nil {
			w.Close()
			return nil, err
		}
	}
	whCfg.Log, whCfg.Metrics = cfg.Log.WithField("component", "webhook"), metrics
	sender, err := webhook.New(whCfg)
	if err != nil {
		w.Close()
		return nil, err
	}
	if sender.Enabled() {
		deps.Webhook = sender
	} else {
		cfg.Log.Info("webhooks off: WEBHOOK_ALLOWED_HOSTS is empty; campaigns' webhooks are not posted")
	}
	if cfg.Server.Queues == nil {
		cfg.Server.Queues = jobs.Queues(deps, 6, 3)
	}
	w.Queues = cfg.Server.Queues
	deps.Stopping = w.stopping.Load
	w.mux = asynq.NewServeMux()
	jobs.Register(w.mux, deps)
	if register != nil {
		register(w.mux)
	}
	w.srv = jobs.NewServer(cfg.Asynq, deps, cfg.Server)
	return w, nil
}

// MonitorConfig completes an HTTP config with what the worker serves: the batch
// pages and, when the worker has a FlashAI client, FlashAI's call summaries.
func (w *Worker) MonitorConfig(c monitor.HTTPConfig) monitor.HTTPConfig {
	c.Batches = w.Deps.Lifecycle
	if w.Deps.FlashAI != nil {
		c.FlashAI = w.Deps.FlashAI // a nil *flashai.Client would be a non-nil interface
	}
	return c
}

// Start starts the asynq server (Start, not Run: Run traps signals itself, and
// the caller owns its context) and keeps the runnable gauges fresh until ctx ends
// or Close.
func (w *Worker) Start(ctx context.Context) error {
	if err := w.srv.Start(w.mux); err != nil {
		return fmt.Errorf("start asynq server: %w", err)
	}
	ctx, w.endGauges = context.WithCancel(ctx)
	go w.Runnable.Run(ctx, monitor.RunnableInterval)
	return nil
}

// Quiet stops the worker taking work: no new part and no new vendor call from
// here; calls in flight finish and are recorded, and their parts go back to the
// queue. Shutdown still ends the process's server.
func (w *Worker) Quiet() {
	w.stopping.Store(true)
	w.srv.Stop()
}

// Shutdown quiets the worker and waits, within the shutdown timeout, for the
// calls in flight.
func (w *Worker) Shutdown() {
	w.Quiet()
	w.srv.Shutdown()
}

// Close releases the worker's asynq client and inspector.
func (w *Worker) Close() {
	if w.endGauges != nil {
		w.endGauges()
	}
	w.Client.Close()
	w.Inspector.Close()
}
