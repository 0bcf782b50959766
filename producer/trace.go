package producer

import (
	"context"
	"fmt"
	"io"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/internal/tracing"
	"github.com/dialq/dialq/lifecycle/ledger"
)

// Enqueue reads in to the end and, unless DryRun or a Strict failure, commits the
// batch and queues its parts. An input that breaks off (an *ingest.InputError)
// leaves nothing behind; a Redis failure after the commit is finished by running
// the same request again.
//
// It runs under the span "enqueue" (children enqueue.validate, enqueue.read with
// one enqueue.stage per part, enqueue.commit, enqueue.queue); the part tasks carry
// the trace on to the worker. Spans hold counts and ids, never a row.
func Enqueue(ctx context.Context, rdb redis.UniversalClient, aopt asynq.RedisConnOpt, in io.Reader, req Request) (*Summary, error) {
	ctx, span := tracing.Start(ctx, "enqueue", trace.WithAttributes(tracing.AttrVendor.String(req.Vendor)))
	sum, err := enqueue(ctx, rdb, aopt, in, req)
	if sum != nil && span.IsRecording() {
		span.SetAttributes(tracing.AttrBatch.String(sum.Batch), attribute.Int64("dialq.read", sum.Read),
			attribute.Int64("dialq.accepted", sum.Accepted), attribute.Int64("dialq.rejected", sum.Rejected),
			attribute.Int("dialq.parts", sum.Parts), attribute.Int("dialq.enqueued", sum.Enqueued),
			attribute.Bool("dialq.dry_run", sum.DryRun), attribute.Bool("dialq.existing", sum.Existing))
	}
	tracing.End(span, err)
	return sum, err
}

// validateRequest checks what can be checked before reading a row.
func validateRequest(ctx context.Context, req Request) error {
	_, span := tracing.Start(ctx, "enqueue.validate")
	err := func() error {
		if req.Profile.Vendor != req.Vendor {
			return &ConfigError{fmt.Errorf("profile is for %q, request for %q", req.Profile.Vendor, req.Vendor)}
		}
		if _, err := ingest.NewNormaliser(req.Vendor, req.Region); err != nil {
			return &ConfigError{err}
		}
		return nil
	}()
	tracing.End(span, err)
	return err
}

func endRead(span trace.Span, c ingest.Counts, gate *gateFilter, err error) {
	if span.IsRecording() {
		var suppressed int64
		if gate != nil {
			suppressed = gate.suppressed
		}
		span.SetAttributes(attribute.Int64("dialq.read", c.Read), attribute.Int64("dialq.accepted", c.Accepted),
			attribute.Int64("dialq.rejected", c.Rejected), attribute.Int64("dialq.duplicates", c.Duplicates),
			attribute.Int64("dialq.suppressed", suppressed))
	}
	tracing.End(span, err)
}

func endStage(span trace.Span, part, records int, err error) {
	if span.IsRecording() {
		span.SetAttributes(tracing.AttrPart.Int(part), tracing.AttrNumbers.Int(records))
	}
	tracing.End(span, err)
}

func endQueue(span trace.Span, m *ledger.Manifest, enqueued, already int, err error) {
	if span.IsRecording() {
		span.SetAttributes(tracing.AttrBatch.String(m.ID), attribute.Int("dialq.parts", m.Parts),
			attribute.Int("dialq.enqueued", enqueued), attribute.Int("dialq.already_queued", already))
	}
	tracing.End(span, err)
}
