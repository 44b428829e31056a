package db

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// statementSpan starts the span of a statement sent with ctx, a child of
// the span ctx holds (a request's, or a GraphQL operation's), and returns
// the context to send it with and what ends the span. The span carries the
// statement's text, whose values are placeholders ($1, ...): never a
// value a client sent. When ctx is not traced, it costs nothing.
func statementSpan(ctx context.Context, query string) (context.Context, func(error)) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, func(error) {}
	}
	ctx, span := parent.TracerProvider().Tracer("customerservice/db").Start(ctx, statementName(query),
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.DBSystemNamePostgreSQL, semconv.DBQueryText(query),
			attribute.Bool("db.shared_transaction", sharedFrom(ctx) != nil)))
	return ctx, func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, "statement failed")
		}
		span.End()
	}
}

// statementName names a statement's span by its first keyword (SELECT,
// INSERT, WITH, ...), as OpenTelemetry's conventions do when the target is
// not known.
func statementName(query string) string {
	word, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	if i := strings.IndexAny(word, "\n\t("); i >= 0 {
		word = word[:i]
	}
	return strings.ToUpper(word)
}
