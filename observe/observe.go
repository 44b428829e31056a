// Package observe is what the service tells its operators: a request id
// and a structured log line per request, and Prometheus metrics for
// requests, latency, errors, SQL statements and the connection pool.
package observe

import (
	"context"
	"crypto/rand"
	"database/sql"
	"log/slog"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"customerservice/db"
)

// Request is what one request's handlers learn about it, for its log line
// and metrics.
type Request struct {
	ID string

	mu        sync.Mutex
	operation string
	codes     []string
	// misses counts, by loader, the relations a loader fetched during
	// resolution because prefetching had not (see graph's load).
	misses map[string]int
}

// SetOperation names the GraphQL operation the request ran.
func (r *Request) SetOperation(op string) {
	r.mu.Lock()
	r.operation = op
	r.mu.Unlock()
}

// AddErrorCode records the code of an error the request answered with.
func (r *Request) AddErrorCode(code string) {
	r.mu.Lock()
	r.codes = append(r.codes, code)
	r.mu.Unlock()
}

// AddLoaderMiss records that loader had to fetch a key while fields were
// resolved: a statement per row that prefetching should have saved.
func (r *Request) AddLoaderMiss(loader string) {
	r.mu.Lock()
	if r.misses == nil {
		r.misses = map[string]int{}
	}
	r.misses[loader]++
	r.mu.Unlock()
}

func (r *Request) snapshot() (string, []string, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	op := r.operation
	if op == "" {
		op = "none"
	}
	return op, slices.Clone(r.codes), maps.Clone(r.misses)
}

type requestKey struct{}

// RequestFrom returns the request ctx belongs to, or nil outside one.
func RequestFrom(ctx context.Context) *Request {
	r, _ := ctx.Value(requestKey{}).(*Request)
	return r
}

// Metrics are the service's Prometheus collectors.
type Metrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	errors     *prometheus.CounterVec
	statements prometheus.Histogram
	misses     *prometheus.CounterVec
}

// NewMetrics registers the service's collectors, the pool's statistics and
// the process's (resident memory, CPU, goroutines) with reg.
func NewMetrics(reg prometheus.Registerer, pool *sql.DB) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "customerservice_requests_total",
			Help: "HTTP requests to /graphql, by operation and status code.",
		}, []string{"operation", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "customerservice_request_duration_seconds",
			Help:    "Time to answer a /graphql request, by operation.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "customerservice_errors_total",
			Help: "GraphQL errors answered, by code.",
		}, []string{"code"}),
		statements: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "customerservice_sql_statements_per_request",
			Help:    "SQL statements sent for one /graphql request.",
			Buckets: []float64{0, 1, 2, 4, 8, 16, 32, 64},
		}),
		misses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "customerservice_loader_misses_total",
			Help: "Relations a dataloader fetched while fields were resolved, one row at a time, because prefetching had not fetched them; by loader. Anything but 0 is a query shape prefetching misses.",
		}, []string{"loader"}),
	}
	reg.MustRegister(m.requests, m.duration, m.errors, m.statements, m.misses,
		collectors.NewDBStatsCollector(pool, "customerservice"),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector())
	return m
}

// requestIDPattern is what an incoming X-Request-Id must look like to be
// kept: a caller's id ties logs together, but must not inject into them.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// Middleware gives each request an id (X-Request-Id, kept from the caller
// when it looks like one) and a span (a child of the caller's traceparent,
// if any), counts its SQL statements, and after it logs one line and
// records the metrics. Metrics may be nil, and tracing a noop provider.
func Middleware(logger *slog.Logger, m *Metrics, tracing trace.TracerProvider) func(http.Handler) http.Handler {
	tracer := tracing.Tracer("customerservice/http")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			req := &Request{ID: r.Header.Get("X-Request-Id")}
			if !requestIDPattern.MatchString(req.ID) {
				req.ID = rand.Text()
			}
			w.Header().Set("X-Request-Id", req.ID)
			ctx := traceContext.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			ctx, span := tracer.Start(ctx, r.Method+" "+r.URL.Path, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String(string(semconv.HTTPRequestMethodKey), r.Method), semconv.URLPath(r.URL.Path),
					attribute.String("request_id", req.ID)))
			defer span.End()
			ctx, counter := db.WithCounter(context.WithValue(ctx, requestKey{}, req))
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(sw, r.WithContext(ctx))
			span.SetAttributes(semconv.HTTPResponseStatusCode(sw.status))
			if sw.status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(sw.status))
			}

			op, codes, misses := req.snapshot()
			elapsed := time.Since(start)
			if m != nil {
				m.requests.WithLabelValues(op, strconv.Itoa(sw.status)).Inc()
				m.duration.WithLabelValues(op).Observe(elapsed.Seconds())
				m.statements.Observe(float64(counter.Count()))
				for _, c := range codes {
					m.errors.WithLabelValues(c).Inc()
				}
				for loader, n := range misses {
					m.misses.WithLabelValues(loader).Add(float64(n))
				}
			}
			missed := 0
			for _, n := range misses {
				missed += n
			}
			// An error of ours is an ERROR; an outage or a deadline is
			// the database's or the load's, and says so at WARN.
			level := slog.LevelInfo
			switch {
			case sw.status == http.StatusServiceUnavailable:
				level = slog.LevelWarn
			case sw.status >= 500:
				level = slog.LevelError
			}
			attrs := []any{"request_id", req.ID, "method", r.Method, "path", r.URL.Path,
				"operation", op, "status", sw.status, "duration_ms", float64(elapsed.Microseconds()) / 1000,
				"sql_statements", counter.Count(), "loader_misses", missed, "error_codes", codes}
			if sc := span.SpanContext(); sc.HasTraceID() {
				attrs = append(attrs, "trace_id", sc.TraceID().String())
			}
			logger.Log(ctx, level, "request", attrs...)
		})
	}
}

// statusWriter remembers the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
