package jobs

import (
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/dialq/dialq/internal/tracing"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/vendors"
)

// endCallSpan describes one vendor call of a part on its span and ends it: counts
// and outcomes only, never the numbers themselves or the vendor's message (which
// can quote one).
func endCallSpan(span trace.Span, vendor string, p *partRun, numbers, attempt int, err error) {
	if span.IsRecording() {
		outcome := "ok"
		if err != nil {
			outcome = vendors.ClassOf(err).String()
		}
		attrs := []attribute.KeyValue{
			tracing.AttrVendor.String(vendor), tracing.AttrOp.String(queue.PartType(vendor)),
			tracing.AttrBatch.String(p.m.ID), tracing.AttrPart.Int(p.part),
			tracing.AttrNumbers.Int(numbers), tracing.AttrAttempt.Int(attempt), tracing.AttrOutcome.String(outcome),
		}
		var hs *vendors.HTTPStatusError
		if errors.As(err, &hs) {
			attrs = append(attrs, tracing.AttrStatus.Int(hs.StatusCode))
		}
		span.SetAttributes(attrs...)
	}
	tracing.End(span, err)
}
