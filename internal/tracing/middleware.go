package tracing

import (
	"context"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Middleware runs each task under a span that continues the trace its headers
// carry (enqueue's), so a part's vendor calls join the list's trace. Tasks queued
// without one (controls, announcements, re-queued parts) start their own trace.
func Middleware(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		ctx = Extract(ctx, t.Headers())
		ctx, span := Start(ctx, "task "+t.Type(), trace.WithSpanKind(trace.SpanKindConsumer))
		if span.IsRecording() {
			id, _ := asynq.GetTaskID(ctx)
			queue, _ := asynq.GetQueueName(ctx)
			retried, _ := asynq.GetRetryCount(ctx)
			span.SetAttributes(
				attribute.String("messaging.system", "asynq"),
				attribute.String("messaging.destination.name", queue),
				attribute.String("messaging.message.id", id),
				attribute.String("dialq.task.type", t.Type()),
				attribute.Int("dialq.task.retried", retried),
			)
		}
		err := next.ProcessTask(ctx, t)
		End(span, err)
		return err
	})
}
