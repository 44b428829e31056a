package httpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"customerservice/auth"
	"customerservice/db/dbtest"
	"customerservice/httpserver"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// logBuffer is a log written by the server's goroutines and read by the
// test.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// surface is the HTTP surface on a database of its own, in front of
// handler, with the changes to its Config that change makes.
func surface(tb testing.TB, handler http.Handler, change ...func(*httpserver.Config)) (*httpserver.Server, *logBuffer) {
	tb.Helper()
	log := &logBuffer{}
	cfg := httpserver.Config{
		DB:       dbtest.New(tb),
		GraphQL:  handler,
		Logger:   slog.New(slog.NewTextHandler(log, nil)),
		Registry: prometheus.NewRegistry(),
	}
	for _, c := range change {
		c(&cfg)
	}
	return httpserver.New(cfg), log
}

// answer is a response as a client reads it.
type answer struct {
	status int
	header http.Header
	body   string
	code   string // extensions.code of the first error
}

func serve(tb testing.TB, h http.Handler, r *http.Request) answer {
	tb.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	a := answer{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
	var body struct {
		Errors []struct {
			Extensions struct{ Code, Type string }
		}
	}
	if json.Unmarshal(rec.Body.Bytes(), &body) == nil && len(body.Errors) > 0 {
		a.code = body.Errors[0].Extensions.Code
	}
	return a
}

func post(body string, header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

// echo answers with the body it was given, and counts its calls.
type echo struct{ calls atomic.Int32 }

func (e *echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.calls.Add(1)
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"bytes": len(body), "method": r.Method}})
}

// The guard admits GET, and POST of one JSON object of at most 1 MiB; each
// refusal has its status and code, and none echoes the body.
func TestGuard(t *testing.T) {
	t.Parallel()
	next := &echo{}
	s, _ := surface(t, next)
	padded := func(size int) string {
		const head, tail = `{"query":"{ __typename }","x":"`, `"}`
		return head + strings.Repeat("a", size-len(head)-len(tail)) + tail
	}
	secret := "SECRET-IN-BODY"
	tests := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"GET", httptest.NewRequest(http.MethodGet, "/graphql?query={__typename}", nil), 200, ""},
		{"PUT", httptest.NewRequest(http.MethodPut, "/graphql", strings.NewReader(`{}`)), 405, "INVALID_DATA"},
		{"DELETE", httptest.NewRequest(http.MethodDelete, "/graphql", nil), 405, "INVALID_DATA"},
		{"text/plain", func() *http.Request { r := post(`{}`); r.Header.Set("Content-Type", "text/plain"); return r }(), 415, "INVALID_DATA"},
		{"no content type", func() *http.Request { r := post(`{}`); r.Header.Del("Content-Type"); return r }(), 415, "INVALID_DATA"},
		{"json with charset", func() *http.Request {
			r := post(`{"query":"{ x }"}`)
			r.Header.Set("Content-Type", "application/json; charset=utf-8")
			return r
		}(), 200, ""},
		{"exactly 1 MiB", post(padded(1 << 20)), 200, ""},
		{"1 MiB and a byte", post(padded(1<<20 + 1)), 413, "PAYLOAD_TOO_LARGE"},
		{"1 MiB and a byte, length unknown", func() *http.Request {
			r := post(padded(1<<20 + 1))
			r.ContentLength = -1
			return r
		}(), 413, "PAYLOAD_TOO_LARGE"},
		{"batch", post(` [{"query":"{ a }"},{"query":"{ b }"}]`), 400, "BATCH_NOT_SUPPORTED"},
		{"whitespace, then an object", post(" \t\r\n{\"query\":\"{ a }\"}"), 200, ""},
		{"a string", post(`"` + secret + `"`), 400, "INVALID_DATA"},
		{"empty", post(``), 400, "INVALID_DATA"},
		{"only spaces", post(`   `), 400, "INVALID_DATA"},
		{"broken JSON", post(`{"query": "` + secret), 400, "INVALID_DATA"},
		{"query a number", post(`{"query": 1}`), 400, "INVALID_DATA"},
		{"variables an array", post(`{"query":"{ a }","variables":["` + secret + `"]}`), 400, "INVALID_DATA"},
		{"variables a string", post(`{"query":"{ a }","variables":"` + secret + `"}`), 400, "INVALID_DATA"},
		{"variables null", post(`{"query":"{ a }","variables":null}`), 200, ""},
		{"variables an object", post(`{"query":"{ a }","variables":{"a":1}}`), 200, ""},
		{"extensions a number", post(`{"query":"{ a }","extensions":7}`), 400, "INVALID_DATA"},
		{"extensions an object", post(`{"query":"{ a }","extensions":{}}`), 200, ""},
	}
	for _, tt := range tests {
		got := serve(t, s, tt.req)
		if got.status != tt.status || got.code != tt.code {
			t.Errorf("%s: %d %s, want %d %s (%s)", tt.name, got.status, got.code, tt.status, tt.code, got.body)
		}
		if strings.Contains(got.body, secret) {
			t.Errorf("%s: the answer echoes the body: %s", tt.name, got.body)
		}
		if tt.status == 405 && got.header.Get("Allow") != "GET, POST" {
			t.Errorf("%s: Allow = %q", tt.name, got.header.Get("Allow"))
		}
	}
	// What passes reaches the handler whole.
	got := serve(t, s, post(padded(1<<20)))
	if !strings.Contains(got.body, `"bytes":1048576`) {
		t.Errorf("the handler read %s of a 1 MiB body", got.body)
	}
}

// A smaller MaxBody is the bound, at its byte.
func TestGuardMaxBody(t *testing.T) {
	t.Parallel()
	s, _ := surface(t, &echo{}, func(c *httpserver.Config) { c.MaxBody = 64 })
	body := `{"query":"` + strings.Repeat("a", 64-12) + `"}`
	if got := serve(t, s, post(body)); got.status != 200 {
		t.Errorf("64 bytes: %d %s", got.status, got.body)
	}
	got := serve(t, s, post(body+" "))
	if got.status != 413 || !strings.Contains(got.body, "larger than 64 bytes") {
		t.Errorf("65 bytes: %d %s", got.status, got.body)
	}
}

// stuck is a handler that waits until the test lets it go, whatever its
// context says: a statement on a frozen database.
type stuck struct {
	entered chan struct{}
	release chan struct{}
	ctxErr  chan error
}

func newStuck() *stuck {
	return &stuck{entered: make(chan struct{}, 1), release: make(chan struct{}), ctxErr: make(chan error, 1)}
}

func (s *stuck) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.entered <- struct{}{}
	<-s.release
	s.ctxErr <- r.Context().Err()
	w.Write([]byte(`{"data":{"late":true}}`))
}

// A handler stuck past the deadline does not hold the client: it is
// answered TIMEOUT while the handler still waits, and the handler's late
// answer is dropped. Its context ended at the deadline.
func TestDeadlineAnswersWhileTheHandlerIsStuck(t *testing.T) {
	t.Parallel()
	h := newStuck()
	s, log := surface(t, h, func(c *httpserver.Config) { c.RequestTimeout = 50 * time.Millisecond })
	got := serve(t, s, post(`{"query":"{ a }"}`))
	if got.status != http.StatusServiceUnavailable || got.code != "TIMEOUT" {
		t.Errorf("stuck handler: %d %s, want 503 TIMEOUT", got.status, got.body)
	}
	<-h.entered
	close(h.release)
	if err := <-h.ctxErr; err != context.DeadlineExceeded {
		t.Errorf("the handler's context: %v, want its deadline exceeded", err)
	}
	if !strings.Contains(log.String(), "answered at the deadline without the handler") {
		t.Errorf("not logged: %s", log.String())
	}
}

// A handler that answers in time is answered as it wrote, header, status
// and body; one that panics is INTERNAL, logged, and the server goes on.
func TestDeadlinePassesAnswersAndPanics(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("panic") != "" {
			panic("resolver exploded")
		}
		if _, ok := r.Context().Deadline(); !ok {
			t.Error("the handler's context has no deadline")
		}
		w.Header().Set("X-Handler", "yes")
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte(`{"data":{}}`))
	})
	s, log := surface(t, h)
	got := serve(t, s, post(`{}`))
	if got.status != http.StatusTeapot || got.header.Get("X-Handler") != "yes" || got.body != `{"data":{}}` {
		t.Errorf("answer in time: %d %v %s", got.status, got.header, got.body)
	}
	got = serve(t, s, httptest.NewRequest(http.MethodGet, "/graphql?panic=1", nil))
	if got.status != 500 || got.code != "INTERNAL" || strings.Contains(got.body, "exploded") {
		t.Errorf("panic: %d %s", got.status, got.body)
	}
	if l := log.String(); !strings.Contains(l, "resolver exploded") || !strings.Contains(l, "level=ERROR") {
		t.Errorf("the panic was not logged with its value: %s", l)
	}
	if got := serve(t, s, post(`{}`)); got.status != http.StatusTeapot {
		t.Errorf("after a panic: %d", got.status)
	}
}

// A panic with http.ErrAbortHandler is net/http's way to cut a response;
// it is not turned into an answer.
func TestAbortHandlerIsNotAnswered(t *testing.T) {
	t.Parallel()
	s, _ := surface(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler passed on", p)
		}
	}()
	serve(t, s, post(`{}`))
	t.Error("the abort was answered")
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	s, _ := surface(t, &echo{})
	get := func(path string) answer {
		return serve(t, s, httptest.NewRequest(http.MethodGet, path, nil))
	}
	if got := get("/healthz"); got.status != 200 || !strings.Contains(got.body, `"ok"`) {
		t.Errorf("/healthz: %d %s", got.status, got.body)
	}
	if got := get("/readyz"); got.status != 200 || !strings.Contains(got.body, `"ready"`) {
		t.Errorf("/readyz: %d %s", got.status, got.body)
	}
	s.Drain()
	if got := get("/readyz"); got.status != 503 || !strings.Contains(got.body, `"draining"`) {
		t.Errorf("/readyz while draining: %d %s", got.status, got.body)
	}
	if got := get("/healthz"); got.status != 200 {
		t.Errorf("/healthz while draining: %d", got.status)
	}

	// A probe pool that cannot reach the database is not ready; the
	// request pool is not what is pinged.
	pool := dbtest.New(t)
	probe := dbtest.New(t).DB
	probe.Close()
	down := httpserver.New(httpserver.Config{DB: pool, Probe: probe, GraphQL: &echo{}})
	if got := serve(t, down, httptest.NewRequest(http.MethodGet, "/readyz", nil)); got.status != 503 || !strings.Contains(got.body, "database unavailable") {
		t.Errorf("/readyz with the probe down: %d %s", got.status, got.body)
	}
	// A prober that gives up is answered 503, not left waiting.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/readyz", nil)
	if got := serve(t, down, r); got.status != 503 {
		t.Errorf("/readyz for a prober that left: %d", got.status)
	}
}

func TestPlaygroundAndMetricsRouting(t *testing.T) {
	t.Parallel()
	get := func(h http.Handler, path string) answer {
		return serve(t, h, httptest.NewRequest(http.MethodGet, path, nil))
	}
	local, _ := surface(t, &echo{}, func(c *httpserver.Config) { c.PublicMetrics = true })
	if got := get(local, "/"); got.status != 200 || !strings.Contains(got.body, "<html") {
		t.Errorf("the local Playground: %d", got.status)
	}
	serve(t, local, post(`[]`)) // a refusal, counted by its code
	got := get(local, "/metrics")
	if got.status != 200 || !strings.Contains(got.body, `customerservice_requests_total{operation="none",status="400"} 1`) ||
		!strings.Contains(got.body, `customerservice_errors_total{code="BATCH_NOT_SUPPORTED"} 1`) {
		t.Errorf("local /metrics: %d\n%s", got.status, got.body)
	}
	if got := get(local.Metrics(), "/metrics"); got.status != 200 {
		t.Errorf("Metrics(): %d", got.status)
	}

	prod, _ := surface(t, &echo{}, func(c *httpserver.Config) { c.Production = true })
	if got := get(prod, "/"); got.status != 404 {
		t.Errorf("a production Playground: %d", got.status)
	}
	if got := get(prod, "/metrics"); got.status != 404 {
		t.Errorf("production /metrics beside the API: %d", got.status)
	}
	if got := get(prod.Metrics(), "/metrics"); got.status != 200 || !strings.Contains(got.body, "go_sql_") {
		t.Errorf("production metrics on their own listener: %d", got.status)
	}
	none, _ := surface(t, &echo{}, func(c *httpserver.Config) { c.Registry = nil; c.PublicMetrics = true })
	if got := get(none, "/metrics"); got.status != 404 {
		t.Errorf("/metrics without a registry: %d", got.status)
	}
	if got := get(none.Metrics(), "/metrics"); got.status != 404 {
		t.Errorf("Metrics() without a registry: %d", got.status)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	preflight := func(origin string) *http.Request {
		r := httptest.NewRequest(http.MethodOptions, "/graphql", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		return r
	}
	withOrigin := func(origin string) *http.Request {
		r := post(`{"query":"{ a }"}`)
		r.Header.Set("Origin", origin)
		return r
	}
	listed, _ := surface(t, &echo{}, func(c *httpserver.Config) { c.CORSOrigins = []string{"https://shop.example"} })
	got := serve(t, listed, preflight("https://shop.example"))
	h := got.header
	if got.status != 204 || h.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
		h.Get("Access-Control-Allow-Methods") != "GET, POST" ||
		h.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type, Accept, Idempotency-Key, X-Request-Id, X-Consistency-Token, Apollographql-Client-Name, Apollographql-Client-Version, Traceparent, Tracestate" ||
		h.Get("Access-Control-Max-Age") != "600" || h.Get("Vary") != "Origin" || h.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight from a listed origin: %d %v", got.status, h)
	}
	got = serve(t, listed, withOrigin("https://shop.example"))
	if got.status != 200 || got.header.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
		got.header.Get("Access-Control-Expose-Headers") != "X-Request-Id, Idempotent-Replayed, X-Consistency-Token" {
		t.Errorf("a request from a listed origin: %d %v", got.status, got.header)
	}
	for _, r := range []*http.Request{preflight("https://evil.example"), withOrigin("https://evil.example")} {
		if got := serve(t, listed, r); got.header.Get("Access-Control-Allow-Origin") != "" || got.status == 204 {
			t.Errorf("%s from an unlisted origin: %d %v", r.Method, got.status, got.header)
		}
	}
	// An OPTIONS that is no preflight is not answered as one.
	r := httptest.NewRequest(http.MethodOptions, "/graphql", nil)
	r.Header.Set("Origin", "https://shop.example")
	if got := serve(t, listed, r); got.status != 405 {
		t.Errorf("OPTIONS without Access-Control-Request-Method: %d", got.status)
	}

	anyOrigin, _ := surface(t, &echo{}, func(c *httpserver.Config) { c.CORSOrigins = []string{"*"} })
	if got := serve(t, anyOrigin, preflight("https://anyone.example")); got.status != 204 || got.header.Get("Access-Control-Allow-Origin") != "https://anyone.example" {
		t.Errorf("'*': %d %v", got.status, got.header)
	}
	if got := serve(t, anyOrigin, post(`{}`)); got.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("no Origin, yet CORS headers: %v", got.header)
	}
	closed, _ := surface(t, &echo{})
	if got := serve(t, closed, preflight("https://shop.example")); got.status == 204 || got.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("no origins configured: %d %v", got.status, got.header)
	}
}

// The handler finds the client's address in its context, as the login
// throttle reads it: the peer, or behind a trusted proxy the address it
// forwarded.
func TestClientAddrReachesTheHandler(t *testing.T) {
	t.Parallel()
	var got netip.Addr
	h := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = auth.ClientAddrFrom(r.Context()) })
	trusted, _ := httpserver.ParseTrustedProxies("10.0.0.0/8")
	s, _ := surface(t, h, func(c *httpserver.Config) { c.TrustedProxies = trusted })
	r := post(`{}`, "X-Forwarded-For", "203.0.113.9")
	r.RemoteAddr = "10.0.0.1:5000"
	serve(t, s, r)
	if got.String() != "203.0.113.9" {
		t.Errorf("behind a trusted proxy: %v", got)
	}
	r = post(`{}`, "X-Forwarded-For", "203.0.113.9")
	r.RemoteAddr = "198.51.100.4:5000"
	serve(t, s, r)
	if got.String() != "198.51.100.4" {
		t.Errorf("an untrusted peer: %v", got)
	}
}

func TestParseTrustedProxies(t *testing.T) {
	t.Parallel()
	got, err := httpserver.ParseTrustedProxies(" 10.1.2.3/8 , ,::ffff:192.0.2.1, 2001:db8::1 ")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.1/32", "2001:db8::1/128"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("entry %d: %s, want %s", i, got[i], want[i])
		}
	}
	if got, err := httpserver.ParseTrustedProxies(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v, %v", got, err)
	}
}
