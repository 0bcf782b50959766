// Package tracing is dialq's OpenTelemetry setup: one tracer for the whole
// process, off (a no-op tracer, near-zero cost) unless an OTLP endpoint is
// configured with the SDK's standard variables, and the trace context carried from
// enqueue to the worker in asynq task headers.
//
// Spans carry ids, counts, vendor names and outcomes: never a phone number, a
// campaign's content, a URL query or a credential.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/dialq/dialq/internal/buildinfo"
	"github.com/dialq/dialq/internal/envconf"
)

// Service names, one per program.
const (
	ServiceEnqueue = "dialq-enqueue"
	ServiceWorker  = "dialq-worker"
)

// Scope is the instrumentation scope of every dialq span.
const Scope = "github.com/dialq/dialq"

// The variables Setup reads itself; the SDK and the OTLP exporter read the rest
// of the standard OTEL_* set (headers, timeout, sampler, resource attributes).
const (
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvSDKDisabled    = "OTEL_SDK_DISABLED"
	EnvTracesExporter = "OTEL_TRACES_EXPORTER"
)

type holder struct{ t trace.Tracer }

var current atomic.Pointer[holder]

func init() { current.Store(&holder{noop.NewTracerProvider().Tracer(Scope)}) }

// Use makes tp the provider of every dialq span (Setup calls it; tests call it with
// an in-memory exporter) and returns a function that restores the previous one.
func Use(tp trace.TracerProvider) (restore func()) {
	prev := current.Swap(&holder{tp.Tracer(Scope)})
	return func() { current.Store(prev) }
}

// Start starts a span named name under ctx's span. With tracing off it costs a
// context allocation; attributes are only built by callers when
// span.IsRecording().
func Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return current.Load().t.Start(ctx, name, opts...)
}

// End marks span failed when err is not nil and ends it. The error's text is not
// recorded: vendor answers and input errors can quote a phone number. Callers put
// the error's class in dialq.outcome instead.
func End(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.SetStatus(codes.Error, "")
	}
	span.End()
}

// propagator is W3C trace context: the headers are traceparent and tracestate.
var propagator = propagation.TraceContext{}

// Headers returns ctx's trace context as asynq task headers, or nil without one
// (tracing off: the task carries nothing extra). A span the sampler dropped is
// still carried, so that the worker's spans follow the same sampling decision.
func Headers(ctx context.Context) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	h := map[string]string{}
	propagator.Inject(ctx, propagation.MapCarrier(h))
	return h
}

// Extract returns ctx carrying the remote span context found in task headers.
func Extract(ctx context.Context, headers map[string]string) context.Context {
	if len(headers) == 0 {
		return ctx
	}
	return propagator.Extract(ctx, propagation.MapCarrier(headers))
}

// Setup turns tracing on for service when OTEL_EXPORTER_OTLP_ENDPOINT (or the
// traces-only endpoint) is set and neither OTEL_SDK_DISABLED=true nor
// OTEL_TRACES_EXPORTER=none says otherwise. Spans are batched and exported with
// OTLP over HTTP/protobuf; the exporter reads the other OTEL_EXPORTER_OTLP_*
// variables itself. shutdown flushes the spans still buffered: call it on exit,
// including after SIGTERM. With tracing off, shutdown does nothing.
func Setup(ctx context.Context, service string, getenv envconf.Getenv) (shutdown func(context.Context) error, on bool, err error) {
	off := func(context.Context) error { return nil }
	if getenv(EnvEndpoint) == "" && getenv(EnvTracesEndpoint) == "" {
		return off, false, nil
	}
	if strings.EqualFold(getenv(EnvSDKDisabled), "true") || strings.EqualFold(getenv(EnvTracesExporter), "none") {
		return off, false, nil
	}
	if e := getenv(EnvTracesExporter); e != "" && e != "otlp" {
		return nil, false, fmt.Errorf("%s=%q: only otlp (or none) is built in", EnvTracesExporter, e)
	}
	for _, name := range []string{EnvTracesProtocol, EnvProtocol} {
		if p := getenv(name); p != "" {
			if p != "http/protobuf" {
				return nil, false, fmt.Errorf("%s=%q: only http/protobuf is built in (point it at the collector's OTLP/HTTP port, 4318)", name, p)
			}
			break
		}
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("otlp exporter: %w", err)
	}
	res, err := Resource(ctx, service)
	if err != nil {
		return nil, false, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	Use(tp)
	otel.SetTracerProvider(tp)
	return tp.Shutdown, true, nil
}

// Resource describes this process: service.name (dialq-enqueue or dialq-worker),
// service.version, the SDK's defaults, and OTEL_RESOURCE_ATTRIBUTES /
// OTEL_SERVICE_NAME from the environment, which win.
func Resource(ctx context.Context, service string) (*resource.Resource, error) {
	version, _ := buildinfo.Version()
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", service), attribute.String("service.version", version)))
	if err == nil {
		res, err = resource.Merge(res, envResource(ctx))
	}
	if err != nil && !errors.Is(err, resource.ErrSchemaURLConflict) {
		return nil, fmt.Errorf("otel resource: %w", err)
	}
	return res, nil
}

func envResource(ctx context.Context) *resource.Resource {
	r, err := resource.New(ctx, resource.WithFromEnv())
	if err != nil {
		return resource.Empty()
	}
	return r
}

// Attribute keys of dialq spans (see README "Traces").
const (
	AttrVendor  = attribute.Key("dialq.vendor")
	AttrOp      = attribute.Key("dialq.op")
	AttrBatch   = attribute.Key("dialq.batch")
	AttrPart    = attribute.Key("dialq.part")
	AttrNumbers = attribute.Key("dialq.numbers")
	AttrAttempt = attribute.Key("dialq.attempt")
	AttrOutcome = attribute.Key("dialq.outcome")
	AttrStatus  = attribute.Key("http.response.status_code")
)

// HTTPAttributes describes one vendor HTTP exchange on span: no URL path or query
// (some vendors take credentials in the query), no body. resp is the vendor
// package's answer; only its status is read, through statusOf.
func HTTPAttributes(span trace.Span, vendor, op, method, host string, resp interface{ Status() int }, err error, class string) {
	attrs := []attribute.KeyValue{AttrVendor.String(vendor), AttrOp.String(op),
		attribute.String("http.request.method", method), attribute.String("server.address", host)}
	if err != nil {
		attrs = append(attrs, AttrOutcome.String(class))
	} else {
		attrs = append(attrs, AttrOutcome.String("answered"), AttrStatus.Int(resp.Status()))
	}
	span.SetAttributes(attrs...)
}
