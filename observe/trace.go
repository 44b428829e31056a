package observe

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// NewTracing returns the tracer provider of the service's spans (one for
// each HTTP request, GraphQL operation and SQL statement) and what flushes
// and stops it. With an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT), spans
// are exported there over OTLP/HTTP, configured by the other standard
// OTEL_* variables the exporter reads (headers, timeouts); without one, spans are not recorded, at no cost, and
// an incoming traceparent still gives the request's log line its trace id.
func NewTracing(ctx context.Context, endpoint string) (trace.TracerProvider, func(context.Context) error, error) {
	if endpoint == "" {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	// The standard endpoint is a base URL, to which the traces' path is
	// added, as the specification says.
	exporter, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimSuffix(endpoint, "/")+"/v1/traces"))
	if err != nil {
		return nil, nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	// resource.Default reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES,
	// which win over the service's own name.
	res, err := resource.Merge(resource.NewSchemaless(semconv.ServiceName("customerservice")), resource.Default())
	if err != nil {
		return nil, nil, fmt.Errorf("tracing resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	return tp, tp.Shutdown, nil
}

// traceContext reads and writes W3C trace context (traceparent,
// tracestate), which clients, proxies and meshes send.
var traceContext propagation.TraceContext
