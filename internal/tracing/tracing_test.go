package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/sirupsen/logrus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"
)

func TestSetupOff(t *testing.T) {
	for _, env := range []map[string]string{
		{},
		{EnvEndpoint: "http://127.0.0.1:1", EnvSDKDisabled: "true"},
		{EnvEndpoint: "http://127.0.0.1:1", EnvTracesExporter: "none"},
	} {
		shutdown, on, err := Setup(context.Background(), ServiceWorker, func(k string) string { return env[k] })
		if err != nil || on || shutdown(context.Background()) != nil {
			t.Errorf("Setup(%v) = on %v, %v; want off", env, on, err)
		}
		ctx, span := Start(context.Background(), "x")
		if span.IsRecording() || Headers(ctx) != nil {
			t.Errorf("Setup(%v): spans record or headers are carried with tracing off", env)
		}
		span.End()
	}
	for _, env := range []map[string]string{
		{EnvEndpoint: "http://127.0.0.1:1", EnvProtocol: "grpc"},
		{EnvEndpoint: "http://127.0.0.1:1", EnvTracesExporter: "zipkin"},
	} {
		if _, _, err := Setup(context.Background(), ServiceWorker, func(k string) string { return env[k] }); err == nil {
			t.Errorf("Setup(%v) accepted what is not built in", env)
		}
	}
}

// TestSetupExportsOnShutdown: with an endpoint, spans reach an OTLP/HTTP receiver
// when shutdown flushes them (as the worker does after SIGTERM), with the
// service name.
func TestSetupExportsOnShutdown(t *testing.T) {
	var mu sync.Mutex
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		if r.URL.Path == "/v1/traces" {
			got = append(got, b...)
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	t.Setenv(EnvEndpoint, srv.URL)
	defer Use(noop.NewTracerProvider())
	shutdown, on, err := Setup(context.Background(), ServiceWorker, os.Getenv)
	if err != nil || !on {
		t.Fatalf("Setup = %v, %v; want on", on, err)
	}
	_, span := Start(context.Background(), "flush-me")
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"flush-me", ServiceWorker} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("the receiver did not get %q (%d bytes)", want, len(got))
		}
	}
}

// TestHeadersCarryTheTrace: a task built with Headers continues in Middleware.
func TestHeadersCarryTheTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	defer Use(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))()
	ctx, parent := Start(context.Background(), "enqueue.queue")
	task := asynq.NewTaskWithHeaders("dial:test", nil, Headers(ctx))
	parent.End()
	var inner context.Context
	h := Middleware(asynq.HandlerFunc(func(ctx context.Context, _ *asynq.Task) error { inner = ctx; return nil }))
	if err := h.ProcessTask(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	spans := rec.Ended()
	if len(spans) != 2 || spans[1].Name() != "task dial:test" ||
		spans[1].Parent().SpanID() != parent.SpanContext().SpanID() ||
		spans[1].SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Fatalf("spans %v; want the task span under enqueue.queue", spans)
	}

	// A log line under the task's context carries its ids, with sub-second time.
	var out bytes.Buffer
	log := logrus.New()
	log.SetOutput(&out)
	log.SetFormatter(&logrus.JSONFormatter{TimestampFormat: "2006-01-02T15:04:05.999999999Z07:00"})
	log.AddHook(LogHook{})
	log.WithContext(inner).Info("in the task")
	log.Info("outside")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var first, second map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if first["trace_id"] != spans[1].SpanContext().TraceID().String() || first["span_id"] != spans[1].SpanContext().SpanID().String() {
		t.Errorf("log line %v; want the task span's trace_id and span_id", first)
	}
	if _, ok := second["trace_id"]; ok {
		t.Errorf("a line logged outside any span carries a trace_id: %v", second)
	}
}
