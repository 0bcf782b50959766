package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/internal/tracing"
	"github.com/dialq/dialq/monitor"
)

// startTracing turns tracing on when OTEL_EXPORTER_OTLP_ENDPOINT is set and returns
// the flush to run on the way out (after SIGTERM too): spans still buffered are
// exported, bounded by 5 s so that a dead collector cannot hold the exit.
func startTracing(ctx context.Context, getenv envconf.Getenv, log *logrus.Entry) (flush func(), err error) {
	shutdown, on, err := tracing.Setup(ctx, tracing.ServiceWorker, getenv)
	if err != nil {
		return nil, err
	}
	if on {
		log.Info("tracing on: spans exported with OTLP/HTTP")
	}
	return func() {
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(fctx); err != nil {
			log.WithError(err).Warn("tracing: flushing spans failed")
		}
	}, nil
}

// quieter stops a worker taking work (wiring.Worker.Quiet).
type quieter interface{ Quiet() }

// quietOnTSTP makes SIGTSTP a "quiet" order, as asynq's Run and Sidekiq do: the
// worker fetches no new part and starts no new vendor call, calls in flight finish
// and their parts go back to the queue; SIGTERM then stops the process. The
// Kubernetes preStop hook sends it (deploy/kubernetes/worker-deployment.yaml).
func quietOnTSTP(ctx context.Context, w quieter, log *logrus.Entry) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTSTP)
	go func() {
		defer signal.Stop(ch)
		select {
		case <-ctx.Done():
		case <-ch:
			w.Quiet()
			log.Info("quiet (SIGTSTP): no new parts and no new calls; waiting for SIGTERM")
		}
	}()
}

// runRunnable keeps the autoscaling gauges (dialq_parts_runnable,
// dialq_oldest_runnable_seconds) fresh until ctx ends.
func runRunnable(ctx context.Context, r *monitor.Runnable) {
	go r.Run(ctx, monitor.RunnableInterval)
}

// serveGauges is the worker without its asynq server: /metrics with the queue and
// runnable gauges, the pages, /healthz and /readyz. It needs no vendor credentials.
// One replica of it keeps dialq_parts_runnable reported while the workers are
// scaled to zero, so that the autoscaler sees work arrive.
func serveGauges(ctx context.Context, conn *redisconf.Conn, cfg *config, log *logrus.Entry) error {
	if cfg.httpAddr == "" {
		return errors.New("WORKER_GAUGES_ONLY needs WORKER_HTTP_ADDR")
	}
	insp := asynq.NewInspector(conn.Asynq)
	defer insp.Close()
	runnable := monitor.NewRunnable(insp, conn.Client)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		monitor.NewBuildInfo(), monitor.NewQueueCollector(insp), runnable)
	h, err := monitor.NewHandler(monitor.HTTPConfig{
		RedisConnOpt: conn.Dashboard(), Registry: reg, User: cfg.monUser, Password: cfg.monPassword,
		Public: cfg.pagesPublic, Ready: monitor.RedisReady(conn.Client),
	})
	if err != nil {
		return fmt.Errorf("monitoring: %w", err)
	}
	defer h.Close()
	ln, err := net.Listen("tcp", cfg.httpAddr)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	runRunnable(ctx, runnable)
	log.WithField("addr", ln.Addr().String()).Info("gauges only: serving /metrics, /monitoring/, /healthz, /readyz; delivering nothing")
	<-ctx.Done()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutCtx)
}
