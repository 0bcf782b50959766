package tracing

import (
	"context"
	"testing"

	"github.com/hibiken/asynq"
)

// BenchmarkOff is what tracing costs a part when it is off: the task middleware,
// one vendor.call span and one vendor.http span, each checking IsRecording before
// building attributes, as the worker does per part and per call.
func BenchmarkOff(b *testing.B) {
	h := Middleware(asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		ctx, call := Start(ctx, "vendor.call")
		_, http := Start(ctx, "vendor.http")
		if http.IsRecording() || call.IsRecording() {
			b.Fatal("recording with tracing off")
		}
		End(http, nil)
		End(call, nil)
		return nil
	}))
	task := asynq.NewTask("dial:test", nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = h.ProcessTask(ctx, task)
	}
}
