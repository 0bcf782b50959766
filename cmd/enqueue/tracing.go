package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/tracing"
)

// startTracing turns tracing on (service dialq-enqueue) when
// OTEL_EXPORTER_OTLP_ENDPOINT is set, and returns the flush to run before exit:
// an enqueue is short, so its spans are only exported if they are flushed.
func startTracing(ctx context.Context, getenv envconf.Getenv) (flush func(), err error) {
	shutdown, _, err := tracing.Setup(ctx, tracing.ServiceEnqueue, getenv)
	if err != nil {
		return nil, usageErr("tracing: %v", err)
	}
	return func() {
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(fctx); err != nil {
			fmt.Fprintln(os.Stderr, "enqueue: tracing: flushing spans:", err)
		}
	}, nil
}
