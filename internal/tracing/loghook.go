package tracing

import (
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/trace"
)

// LogHook adds trace_id and span_id to a log line whose entry carries a context
// with a valid span (logger.WithContext(ctx)), so that logs and traces join.
type LogHook struct{}

// Levels implements logrus.Hook: every level.
func (LogHook) Levels() []logrus.Level { return logrus.AllLevels }

// Fire implements logrus.Hook. logrus hands hooks its own copy of the fields.
func (LogHook) Fire(e *logrus.Entry) error {
	if e.Context == nil {
		return nil
	}
	sc := trace.SpanContextFromContext(e.Context)
	if !sc.IsValid() {
		return nil
	}
	e.Data["trace_id"] = sc.TraceID().String()
	e.Data["span_id"] = sc.SpanID().String()
	return nil
}
