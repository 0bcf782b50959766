package jobs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/dialq/dialq/internal/tracing"
)

// provider records into rec as service would.
func provider(t *testing.T, service string, rec *tracetest.SpanRecorder) *sdktrace.TracerProvider {
	t.Helper()
	res, err := tracing.Resource(context.Background(), service)
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithResource(res))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return tp
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func service(s sdktrace.ReadOnlySpan) string {
	v, _ := s.Resource().Set().Value("service.name")
	return v.AsString()
}

// TestTraceFromListToVendorCall: one list through enqueue and a worker against the
// fake vendor gives one trace, enqueue -> its steps -> each part's task (continued
// from the task's headers, in the worker) -> the vendor call -> its HTTP exchange,
// and no span carries a phone number.
func TestTraceFromListToVendorCall(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	h := setup(t)
	phones := numbers(1500, 0)

	restore := tracing.Use(provider(t, tracing.ServiceEnqueue, rec))
	sum := h.enqueue("yccall", lines(phones), 1000, 0)
	restore()
	restore = tracing.Use(provider(t, tracing.ServiceWorker, rec))
	defer restore()
	srv := h.startWorker(h.deps())
	if st := h.waitSettled(sum.Batch, 30*time.Second); st.Delivered != 1500 {
		t.Fatalf("status %+v; want 1500 delivered", st)
	}
	srv.Shutdown() // the task spans end as their handlers return

	spans := rec.Ended()
	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = append(byName[s.Name()], s)
	}
	one := func(name string) sdktrace.ReadOnlySpan {
		t.Helper()
		if len(byName[name]) != 1 {
			t.Fatalf("%d spans %q; want 1 (spans: %v)", len(byName[name]), name, names(spans))
		}
		return byName[name][0]
	}
	root := one("enqueue")
	trace := root.SpanContext().TraceID()
	if root.Parent().IsValid() || service(root) != tracing.ServiceEnqueue {
		t.Errorf("enqueue span: parent %v, service %q; want a root of dialq-enqueue", root.Parent(), service(root))
	}
	if a := attrs(root); a["dialq.batch"].AsString() != sum.Batch || a["dialq.read"].AsInt64() != 1500 || a["dialq.parts"].AsInt64() != 2 {
		t.Errorf("enqueue attributes %v", a)
	}
	childOf := func(s, parent sdktrace.ReadOnlySpan) bool {
		return s.SpanContext().TraceID() == trace && s.Parent().SpanID() == parent.SpanContext().SpanID()
	}
	for _, name := range []string{"enqueue.validate", "enqueue.read", "enqueue.commit", "enqueue.queue"} {
		if s := one(name); !childOf(s, root) {
			t.Errorf("%s is not a child of enqueue", name)
		}
	}
	read, queue := one("enqueue.read"), one("enqueue.queue")
	if a := attrs(read); a["dialq.accepted"].AsInt64() != 1500 {
		t.Errorf("enqueue.read attributes %v", a)
	}
	if stages := byName["enqueue.stage"]; len(stages) != 2 || !childOf(stages[0], read) || !childOf(stages[1], read) {
		t.Errorf("enqueue.stage spans %d; want 2 under enqueue.read", len(stages))
	}

	tasks := byName["task dial:yccall:create"]
	if len(tasks) != 2 {
		t.Fatalf("%d part task spans; want 2 (spans: %v)", len(tasks), names(spans))
	}
	numbersCalled := int64(0)
	for _, task := range tasks {
		if !childOf(task, queue) || service(task) != tracing.ServiceWorker || !task.Parent().IsRemote() {
			t.Errorf("task span %v (service %q) does not continue enqueue.queue's trace from the task headers", task.Parent(), service(task))
		}
		var calls []sdktrace.ReadOnlySpan
		for _, c := range byName["vendor.call"] {
			if childOf(c, task) {
				calls = append(calls, c)
			}
		}
		if len(calls) != 1 {
			t.Fatalf("task has %d vendor.call spans; want 1", len(calls))
		}
		a := attrs(calls[0])
		if a["dialq.vendor"].AsString() != "yccall" || a["dialq.attempt"].AsInt64() != 1 || a["dialq.outcome"].AsString() != "ok" {
			t.Errorf("vendor.call attributes %v", a)
		}
		numbersCalled += a["dialq.numbers"].AsInt64()
		var https []sdktrace.ReadOnlySpan
		for _, hs := range byName["vendor.http"] {
			if childOf(hs, calls[0]) {
				https = append(https, hs)
			}
		}
		if len(https) == 0 {
			t.Fatal("vendor.call has no vendor.http span")
		}
		last := attrs(https[len(https)-1])
		if last["http.response.status_code"].AsInt64() != 200 || last["dialq.op"].AsString() == "" {
			t.Errorf("vendor.http attributes %v", last)
		}
	}
	if numbersCalled != 1500 {
		t.Errorf("vendor.call spans carry %d numbers; want 1500", numbersCalled)
	}

	// No phone number anywhere: attributes, events, status.
	for _, s := range spans {
		var texts []string
		for _, kv := range s.Attributes() {
			texts = append(texts, kv.Value.Emit())
		}
		for _, ev := range s.Events() {
			texts = append(texts, ev.Name)
			for _, kv := range ev.Attributes {
				texts = append(texts, kv.Value.Emit())
			}
		}
		texts = append(texts, s.Status().Description)
		all := strings.Join(texts, "\x00")
		for _, p := range phones {
			if strings.Contains(all, p) {
				t.Fatalf("span %s carries the phone number %s: %v", s.Name(), p, s.Attributes())
			}
		}
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name()
	}
	return out
}
