package graph_test

// The HTTP surface around the GraphQL endpoint: transport guards, panics,
// deadlines, production mode, metrics, readiness, CORS and cancellation.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"customerservice/db"
	"customerservice/db/dbtest"
	"customerservice/graph"
	"customerservice/httpserver"
)

// raw posts a body as it is, with a content type, to the full HTTP stack.
func (a *api) raw(method, contentType string, body []byte) (int, []byte, int64) {
	a.tb.Helper()
	ctx, counter := db.WithCounter(context.Background())
	req := httptest.NewRequestWithContext(ctx, method, "/graphql", bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes(), counter.Count()
}

func TestTransportGuards(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	secret := "SECRET-BODY-CONTENT"
	huge := []byte(`{"query": "{ customers { count } }", "variables": {"x": "` + secret + strings.Repeat("x", 1<<20) + `"}}`)
	tests := []struct {
		name, method, contentType string
		body                      []byte
		status                    int
		code                      string
	}{
		{"body over 1 MiB", "POST", "application/json", huge, 413, "PAYLOAD_TOO_LARGE"},
		{"batched operations", "POST", "application/json", []byte(`[{"query": "{ customers { count } }"}, {"query": "{ orders { count } }"}]`), 400, "BATCH_NOT_SUPPORTED"},
		{"not JSON", "POST", "application/json", []byte(`query=` + secret), 400, "INVALID_DATA"},
		{"broken JSON", "POST", "application/json", []byte(`{"query": "` + secret), 400, "INVALID_DATA"},
		{"form post", "POST", "application/x-www-form-urlencoded", []byte(`query={customers{count}}`), 415, "INVALID_DATA"},
		{"PUT", "PUT", "application/json", []byte(`{"query": "{ customers { count } }"}`), 405, "INVALID_DATA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, statements := a.raw(tt.method, tt.contentType, tt.body)
			var resp response
			if err := json.Unmarshal(body, &resp); err != nil {
				t.Fatalf("not a GraphQL error response: %s", body)
			}
			if status != tt.status || len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != tt.code {
				t.Errorf("status %d, errors %+v; want %d %s", status, resp.Errors, tt.status, tt.code)
			}
			if bytes.Contains(body, []byte(secret)) {
				t.Errorf("the error echoes the body: %.200s", body)
			}
			if statements != 0 {
				t.Errorf("%d statements ran", statements)
			}
		})
	}

	// A mutation over GET is refused; a query over GET runs.
	get := func(q string) (int, string) {
		req := httptest.NewRequest("GET", "/graphql?query="+strings.ReplaceAll(q, " ", "+"), nil)
		req.Header.Set("Authorization", "Bearer "+a.token)
		rec := httptest.NewRecorder()
		a.h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	if status, body := get(`mutation { create_customer(input: {email: "get@example.com"}) { id } }`); status < 400 || strings.Contains(body, `"data":{`) {
		t.Errorf("mutation over GET: %d %s", status, body)
	}
	if status, body := get(`{ customers { count } }`); status != 200 || !strings.Contains(body, `"count":0`) {
		t.Errorf("query over GET: %d %s", status, body)
	}
}

func TestPanicIsInternalAndTheServerGoesOn(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	// A nil pool makes every resolver that reads the database panic.
	broken := graph.NewHandler(nil, graph.Options{Auth: a.auth, Logger: logger})
	b := *a
	b.h = httpserver.New(httpserver.Config{DB: a.pool, GraphQL: broken, Logger: logger, Registry: prometheus.NewRegistry()})
	err := b.fail(`{ customers { count } }`, nil)
	wantError(t, err, "INTERNAL", "unknown_error", "internal system error")
	if !strings.Contains(logs.String(), "panic in resolver") || !strings.Contains(logs.String(), "goroutine") {
		t.Errorf("the panic was not logged with its stack:\n%s", logs.String())
	}
	// The next request is served.
	b.login("USER", "admin@example.com", "admin password")
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestDeadlineCancelsRunningSQL(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.createCustomer(map[string]any{"email": "locked@example.com"})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := *a
	b.h = httpserver.New(httpserver.Config{DB: a.pool, GraphQL: graph.NewHandler(a.pool, graph.Options{Auth: a.auth, Logger: logger}),
		Logger: logger, RequestTimeout: 300 * time.Millisecond})

	// Another transaction holds the row, so the update waits for its lock.
	lock, err := a.pool.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.Exec(`SELECT id FROM customer WHERE id = $1 FOR UPDATE`, c.ID); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	e := b.fail(`mutation ($id: ID!) { update_customer(id: $id, input: {first_name: "Late"}) { id } }`, map[string]any{"id": c.ID})
	wantError(t, e, "TIMEOUT", "unexpected_state", "The request ran past its deadline and was stopped")
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the request took %v with a 300ms deadline", took)
	}
	// The statement no longer waits in the database.
	var waiting int
	if err := a.pool.Get(&waiting, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'UPDATE customer%'`); err != nil {
		t.Fatal(err)
	}
	if waiting != 0 {
		t.Errorf("%d updates still run after the deadline", waiting)
	}
	lock.Rollback()
	var name *string
	a.pool.Get(&name, `SELECT first_name FROM customer WHERE id = $1`, c.ID)
	if name != nil {
		t.Errorf("the timed-out update was applied: %q", *name)
	}
}

func TestProductionModeAndMetrics(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	prod := *a
	web := httpserver.New(httpserver.Config{DB: a.pool, Logger: logger, Registry: reg, Production: true,
		GraphQL: graph.NewHandler(a.pool, graph.Options{Auth: a.auth, Logger: logger, Production: true})})
	prod.h = web

	// No introspection, no suggestions, no Playground.
	if resp := prod.do(`{ __schema { types { name } } }`, nil); len(resp.Errors) == 0 {
		t.Error("introspection answered in production")
	}
	e := prod.fail(`{ customerz { id } }`, nil)
	if strings.Contains(e.Message, "Did you mean") {
		t.Errorf("a suggestion in production: %s", e.Message)
	}
	rec := httptest.NewRecorder()
	prod.h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("Playground in production: %d", rec.Code)
	}
	// The local default has all three.
	if resp := a.do(`{ __schema { types { name } } }`, nil); len(resp.Errors) != 0 {
		t.Errorf("introspection refused locally: %+v", resp.Errors)
	}
	if e := a.fail(`{ customerz { id } }`, nil); !strings.Contains(e.Message, "Did you mean") {
		t.Errorf("no suggestion locally: %s", e.Message)
	}

	// Metrics count requests, errors by code and statements; production
	// serves them on a listener of their own (METRICS_ADDR), not beside the
	// API.
	prod.do(`{ customers { count } }`, nil)
	prod.fail(`{ customer(id: "cus_missing") { id } }`, nil)
	rec = httptest.NewRecorder()
	prod.h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("/metrics on the public listener in production: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	web.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`customerservice_requests_total{operation="query customers",status="200"} 1`,
		`customerservice_errors_total{code="NOT_FOUND"} 1`,
		`customerservice_request_duration_seconds_count{operation="query customer"} 1`,
		`customerservice_sql_statements_per_request_count`,
		`go_sql_max_open_connections{db_name="customerservice"}`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Health and readiness.
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200} {
		rec := httptest.NewRecorder()
		prod.h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("%s = %d, want %d", path, rec.Code, want)
		}
	}
}

func TestReadyWhileEveryConnectionIsBusy(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	pool, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	probe, err := db.OpenProbe(url)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := newAPI(t)
	h := httpserver.New(httpserver.Config{DB: pool, Probe: probe, Logger: logger,
		GraphQL: graph.NewHandler(pool, graph.Options{Auth: a.auth, Logger: logger})})
	pool.SetMaxOpenConns(1)
	conn, err := pool.Conn(context.Background()) // the one connection, at work
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	conn.Close()
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "ready") {
		t.Errorf("/readyz with every request connection busy = %d %s, want 200 ready", rec.Code, rec.Body)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := httpserver.New(httpserver.Config{DB: a.pool, Logger: logger, CORSOrigins: []string{"https://shop.example"},
		GraphQL: graph.NewHandler(a.pool, graph.Options{Auth: a.auth, Logger: logger})})
	preflight := func(origin string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("OPTIONS", "/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := preflight("https://shop.example")
	if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "https://shop.example" ||
		!strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("allowed origin's preflight: %d %v", rec.Code, rec.Header())
	}
	if rec := preflight("https://evil.example"); rec.Header().Get("Access-Control-Allow-Origin") != "" || rec.Code == http.StatusNoContent {
		t.Errorf("another origin's preflight: %d %v", rec.Code, rec.Header())
	}
	req := httptest.NewRequest("POST", "/graphql", strings.NewReader(`{"query": "{ customers { count } }"}`))
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.token)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("the request itself: %d %v", rec.Code, rec.Header())
	}
}

// TestProductionSuggestsNothing sends the misspellings every validation
// rule answers with "Did you mean": production names nothing.
func TestProductionSuggestsNothing(t *testing.T) {
	t.Parallel()
	dev := newAPI(t)
	prod := newAPI(t, func(o *graph.Options) { o.Production = true })
	for name, query := range map[string]string{
		"field":       `{ customerz { id } }`,
		"argument":    `{ customers(limt: 1) { count } }`,
		"type":        `{ ...F } fragment F on Quer { __typename }`,
		"enum value":  `mutation { login(actor_type: CUSTOMR, email: "a@example.com", password: "password") { token } }`,
		"input field": `{ customers(filter: {emial: ["a@example.com"]}) { count } }`,
		"subfield":    `{ customers { count itemz { id } } }`,
	} {
		if e := dev.do(query, nil).Errors; len(e) == 0 || !strings.Contains(e[0].Message, "Did you mean") {
			t.Errorf("%s: no suggestion in development: %+v", name, e)
		}
		errs := prod.do(query, nil).Errors
		if len(errs) == 0 {
			t.Errorf("%s: no error in production", name)
		}
		for _, e := range errs {
			if strings.Contains(e.Message, "Did you mean") || e.Extensions["code"] != "INVALID_DATA" {
				t.Errorf("%s: in production: %s %v", name, e.Message, e.Extensions["code"])
			}
		}
	}
}

// TestClientDisconnectIsCancelled lets a client give up on a request that
// waits for a lock: the request is counted and logged as CANCELLED, at
// INFO, not as an INTERNAL error.
func TestClientDisconnectIsCancelled(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.createCustomer(map[string]any{"email": "waiting@example.com"})
	var log syncBuffer
	logger := slog.New(slog.NewJSONHandler(&log, nil))
	reg := prometheus.NewRegistry()
	web := httpserver.New(httpserver.Config{DB: a.pool, Logger: logger, Registry: reg,
		GraphQL: graph.NewHandler(a.pool, graph.Options{Auth: a.auth, Logger: logger})})
	srv := httptest.NewServer(web)
	defer srv.Close()

	lock, err := a.pool.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.Exec(`SELECT id FROM customer WHERE id = $1 FOR UPDATE`, c.ID); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	body := `{"query": "mutation { update_customer(id: \"` + c.ID + `\", input: {first_name: \"Gone\"}) { id } }"}`
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.token)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the request was answered while the row was locked")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(log.String(), `"msg":"request"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no request log line:\n%s", log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	line := log.String()
	if !strings.Contains(line, `"level":"INFO"`) || !strings.Contains(line, `"error_codes":["CANCELLED"]`) || strings.Contains(line, "INTERNAL") {
		t.Errorf("the log of a cancelled request:\n%s", line)
	}
	rec := httptest.NewRecorder()
	web.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `customerservice_errors_total{code="CANCELLED"} 1`) || strings.Contains(rec.Body.String(), `code="INTERNAL"`) {
		t.Errorf("metrics of a cancelled request:\n%s", rec.Body.String())
	}
}

// The POST and GET transports write the executor's data as it is: the
// answer must still be the JSON gqlgen's transports gave, with the status
// and media type the GraphQL over HTTP draft asks for.
func TestHTTPAnswers(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tricky := `<script>&"quoted" \ ünï` + "\u2028" + `cödé`
	created := a.createCustomer(map[string]any{"email": "post@example.com", "first_name": tricky, "metadata": map[string]any{"note": tricky}})
	post := func(accept, body string) (int, string, map[string]any) {
		t.Helper()
		req := httptest.NewRequest("POST", "/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		req.Header.Set("Authorization", "Bearer "+a.token)
		rec := httptest.NewRecorder()
		a.h.ServeHTTP(rec, req)
		var decoded map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &decoded); err != nil {
			t.Fatalf("not JSON: %v: %s", err, rec.Body.Bytes())
		}
		if sniff := rec.Header().Get("X-Content-Type-Options"); sniff != "nosniff" {
			t.Errorf("X-Content-Type-Options %q, want nosniff: the data's strings are not HTML-escaped", sniff)
		}
		return rec.Code, rec.Header().Get("Content-Type"), decoded
	}

	_, media, resp := post("", `{"query": "query($id: ID!) { customer(id: $id) { first_name metadata } }", "variables": {"id": "`+created.ID+`"}}`)
	customer := resp["data"].(map[string]any)["customer"].(map[string]any)
	if media != "application/json" || customer["first_name"] != tricky || customer["metadata"].(map[string]any)["note"] != tricky || resp["errors"] != nil {
		t.Errorf("a query: %s %v", media, resp)
	}

	// An error in a field: errors first, then data, as encoding/json put them.
	req := `{"query": "{ customer(id: \"cus_missing\") { id } }"}`
	_, _, resp = post("", req)
	if errs, _ := resp["errors"].([]any); len(errs) != 1 || !hasMember(resp, "data") {
		t.Errorf("a failing field: %v", resp)
	}

	// The same over GET, and what GET refuses.
	get := func(query string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest("GET", "/graphql?"+query, nil)
		req.Header.Set("Authorization", "Bearer "+a.token)
		rec := httptest.NewRecorder()
		a.h.ServeHTTP(rec, req)
		var decoded map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &decoded); err != nil {
			t.Fatalf("GET %s: not JSON: %v: %s", query, err, rec.Body.Bytes())
		}
		return rec.Code, decoded
	}
	status, resp := get("query=" + url.QueryEscape(`query($id: ID!) { customer(id: $id) { first_name } }`) +
		"&variables=" + url.QueryEscape(`{"id": "`+created.ID+`"}`))
	if status != 200 || resp["data"].(map[string]any)["customer"].(map[string]any)["first_name"] != tricky {
		t.Errorf("a query over GET: %d %v", status, resp)
	}
	for _, tt := range []struct {
		name, query string
		status      int
	}{
		{"variables not JSON", "query=" + url.QueryEscape(`{ customers { count } }`) + "&variables=%7B", 400},
		{"a mutation", "query=" + url.QueryEscape(`mutation { logout }`), 406},
	} {
		if status, resp := get(tt.query); status != tt.status || resp["errors"] == nil {
			t.Errorf("GET, %s: %d %v; want %d and an error", tt.name, status, resp, tt.status)
		}
	}

	for _, tt := range []struct {
		accept, media string
		status        int
	}{
		{"", "application/json", 422},
		{"application/json", "application/json", 422},
		{"*/*", "application/json", 422},
		{"application/graphql-response+json", "application/graphql-response+json", 400},
		{"application/graphql-response+json, application/json;q=0.9", "application/graphql-response+json", 400},
		{"text/html", "application/graphql-response+json", 400},
	} {
		status, media, resp := post(tt.accept, `{"query": "{ customers { nope } }"}`)
		if status != tt.status || media != tt.media || resp["errors"] == nil {
			t.Errorf("an invalid document, Accept %q: %d %s %v; want %d %s", tt.accept, status, media, resp, tt.status, tt.media)
		}
		if !hasMember(resp, "data") {
			t.Errorf("an invalid document: no data member: %v", resp)
		}
	}
}

func hasMember(object map[string]any, name string) bool {
	_, ok := object[name]
	return ok
}
