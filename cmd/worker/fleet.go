package main

import (
	"context"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/internal/envconf"
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

// quieter is the part of *asynq.Server that stops fetching.
type quieter interface{ Stop() }

// quietOnTSTP makes SIGTSTP a "quiet" order, as asynq's Run and Sidekiq do: the
// worker fetches no new part and starts no new vendor call, calls in flight finish
// and their parts go back to the queue; SIGTERM then stops the process. The
// Kubernetes preStop hook sends it (deploy/kubernetes/worker-deployment.yaml).
func quietOnTSTP(ctx context.Context, srv quieter, stopping *atomic.Bool, log *logrus.Entry) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTSTP)
	go func() {
		defer signal.Stop(ch)
		select {
		case <-ctx.Done():
		case <-ch:
			stopping.Store(true)
			srv.Stop()
			log.Info("quiet (SIGTSTP): no new parts and no new calls; waiting for SIGTERM")
		}
	}()
}

// runRunnable keeps the autoscaling gauges (dialq_parts_runnable,
// dialq_oldest_runnable_seconds) fresh until ctx ends.
func runRunnable(ctx context.Context, r *monitor.Runnable) {
	go r.Run(ctx, monitor.RunnableInterval)
}
