package observe_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace/noop"

	"customerservice/db/dbtest"
	"customerservice/observe"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// logged is one request through the middleware: its JSON log line and
// what the client got.
type logged struct {
	line map[string]any
	rec  *httptest.ResponseRecorder
}

func through(tb testing.TB, m *observe.Metrics, h http.Handler, r *http.Request) logged {
	tb.Helper()
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rec := httptest.NewRecorder()
	observe.Middleware(logger, m, noop.NewTracerProvider())(h).ServeHTTP(rec, r)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		tb.Fatalf("%d log lines for one request, want 1:\n%s", len(lines), buf.String())
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		tb.Fatal(err)
	}
	return logged{line, rec}
}

// A caller's X-Request-Id is kept when it looks like one, so logs of a
// request tie together across services; anything else (too long, spaces,
// a newline that would forge a log line) is replaced by an id of ours.
func TestRequestIDKeptOrReplaced(t *testing.T) {
	t.Parallel()
	var seen string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = observe.RequestFrom(r.Context()).ID })
	for _, tt := range []struct {
		id   string
		kept bool
	}{
		{"req-1.a_b:C", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"has space", false},
		{"line\nbreak", false},
		{"semi;colon", false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		if tt.id != "" {
			r.Header["X-Request-Id"] = []string{tt.id}
		}
		got := through(t, nil, h, r)
		id := got.rec.Header().Get("X-Request-Id")
		if tt.kept && id != tt.id {
			t.Errorf("%q replaced by %q", tt.id, id)
		}
		if !tt.kept && (id == tt.id || len(id) < 16) {
			t.Errorf("%q answered as %q, want a new id", tt.id, id)
		}
		if got.line["request_id"] != id || seen != id {
			t.Errorf("%q: logged %v, handler saw %q, answered %q", tt.id, got.line["request_id"], seen, id)
		}
	}
	a := through(t, nil, h, httptest.NewRequest(http.MethodGet, "/graphql", nil)).rec.Header().Get("X-Request-Id")
	b := through(t, nil, h, httptest.NewRequest(http.MethodGet, "/graphql", nil)).rec.Header().Get("X-Request-Id")
	if a == b {
		t.Errorf("two requests share the id %s", a)
	}
}

// The log line has the request's id, method, path, operation, status,
// duration, SQL statements, loader misses and error codes, at INFO for an
// answer, WARN for a 503 (the database or the load) and ERROR for another
// 5xx (ours). The metrics count the same, by operation, status and code.
func TestLogLineAndMetrics(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	reg := prometheus.NewRegistry()
	m := observe.NewMetrics(reg, pool.DB)
	handler := func(status int, op string, codes []string, statements, misses int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req := observe.RequestFrom(r.Context())
			if op != "" {
				req.SetOperation(op)
			}
			for _, c := range codes {
				req.AddErrorCode(c)
			}
			for range statements {
				var one int
				if err := pool.GetContext(r.Context(), &one, `SELECT 1`); err != nil {
					t.Error(err)
				}
			}
			for i := range misses {
				req.AddLoaderMiss([]string{"groups_by_customer", "orders_by_customer"}[i%2])
			}
			w.WriteHeader(status)
		})
	}
	for _, tt := range []struct {
		name       string
		h          http.Handler
		level      string
		status     float64
		op         string
		codes      []any
		statements float64
		misses     float64
	}{
		{"answer", handler(200, "query customers", nil, 2, 0), "INFO", 200, "query customers", nil, 2, 0},
		{"client errors", handler(200, "mutation login", []string{"RATE_LIMITED", "INVALID_DATA"}, 1, 0), "INFO", 200, "mutation login", []any{"RATE_LIMITED", "INVALID_DATA"}, 1, 0},
		{"misses", handler(200, "query customer", nil, 0, 3), "INFO", 200, "query customer", nil, 0, 3},
		{"refused before an operation", handler(413, "", []string{"PAYLOAD_TOO_LARGE"}, 0, 0), "INFO", 413, "none", []any{"PAYLOAD_TOO_LARGE"}, 0, 0},
		{"an outage", handler(503, "query customers", []string{"SERVICE_UNAVAILABLE"}, 0, 0), "WARN", 503, "query customers", []any{"SERVICE_UNAVAILABLE"}, 0, 0},
		{"a bug of ours", handler(500, "query customers", []string{"INTERNAL"}, 0, 0), "ERROR", 500, "query customers", []any{"INTERNAL"}, 0, 0},
		{"a 502", handler(502, "query customers", nil, 0, 0), "ERROR", 502, "query customers", nil, 0, 0},
		{"a 4xx", handler(499, "query customers", nil, 0, 0), "INFO", 499, "query customers", nil, 0, 0},
	} {
		got := through(t, m, tt.h, httptest.NewRequest(http.MethodPost, "/graphql", nil)).line
		want := map[string]any{"level": tt.level, "msg": "request", "method": "POST", "path": "/graphql", "operation": tt.op,
			"status": tt.status, "sql_statements": tt.statements, "loader_misses": tt.misses}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %v", tt.name, k, got[k], v)
			}
		}
		codes, _ := got["error_codes"].([]any)
		if len(codes) != len(tt.codes) || (len(codes) > 0 && codes[0] != tt.codes[0]) {
			t.Errorf("%s: error_codes = %v, want %v", tt.name, got["error_codes"], tt.codes)
		}
		if _, ok := got["duration_ms"].(float64); !ok {
			t.Errorf("%s: no duration_ms: %v", tt.name, got)
		}
	}
	counts := map[string]float64{
		`customerservice_requests_total{operation="query customers",status="200"}`: 1,
		`customerservice_requests_total{operation="query customers",status="503"}`: 1,
		`customerservice_requests_total{operation="none",status="413"}`:            1,
		`customerservice_errors_total{code="RATE_LIMITED"}`:                        1,
		`customerservice_errors_total{code="SERVICE_UNAVAILABLE"}`:                 1,
		`customerservice_errors_total{code="INTERNAL"}`:                            1,
		`customerservice_loader_misses_total{loader="groups_by_customer"}`:         2,
		`customerservice_loader_misses_total{loader="orders_by_customer"}`:         1,
	}
	for series, want := range counts {
		if got := seriesValue(t, reg, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if n := seriesOf(t, reg, "customerservice_request_duration_seconds"); n != 4 {
		t.Errorf("%d duration series, want one per operation (4)", n)
	}
	if got := seriesValue(t, reg, `customerservice_sql_statements_per_request_sum`); got != 3 {
		t.Errorf("statements recorded: %v, want 3", got)
	}
	if got := seriesValue(t, reg, `customerservice_sql_statements_per_request_count`); got != 8 {
		t.Errorf("requests with statements recorded: %v, want 8", got)
	}
	if n := seriesOf(t, reg, "go_sql_open_connections"); n != 1 {
		t.Errorf("the pool's statistics are missing (%d series)", n)
	}
}

// seriesValue reads one series of the registry in the text format.
func seriesValue(tb testing.TB, reg *prometheus.Registry, series string) float64 {
	tb.Helper()
	rec := httptest.NewRecorder()
	promhttpHandler(reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if i := strings.LastIndexByte(line, ' '); i > 0 && line[:i] == series {
			value := line[i+1:]
			var v float64
			if err := json.Unmarshal([]byte(value), &v); err != nil {
				tb.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	return 0
}

// The middleware keeps a handler's status when the handler writes none
// (200) and lets the writer be unwrapped, as http.ResponseController needs.
func TestStatusWriter(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush through the middleware: %v", err)
		}
		w.Write([]byte("ok"))
	})
	got := through(t, nil, h, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if got.line["status"] != float64(200) || got.rec.Body.String() != "ok" || !got.rec.Flushed {
		t.Errorf("status %v, body %q, flushed %v", got.line["status"], got.rec.Body.String(), got.rec.Flushed)
	}
	if observe.RequestFrom(httptest.NewRequest(http.MethodGet, "/", nil).Context()) != nil {
		t.Error("a request outside the middleware has a Request")
	}
}

func promhttpHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// seriesOf counts the series of a metric family.
func seriesOf(tb testing.TB, reg *prometheus.Registry, name string) int {
	tb.Helper()
	families, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return len(f.GetMetric())
		}
	}
	return 0
}
