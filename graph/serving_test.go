package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"customerservice/db"
	"customerservice/db/dbtest"
	"customerservice/graph"
	"customerservice/httpserver"
)

func TestQueryShapeLimits(t *testing.T) {
	t.Parallel()
	a := seeded(t, 3, time.Now())
	// 14 levels: customers items orders items customer ... id.
	deep := "{ customers { items { orders { items { customer { orders { items { customer { orders { items { customer { orders { items { id } } } } } } } } } } } } } }"
	viaFragments := `query { customers { items { ...A } } }
		fragment A on Customer { orders { items { customer { ...B } } } }
		fragment B on Customer { orders { items { customer { ...C } } } }
		fragment C on Customer { orders { items { customer { orders { items { id } } } } } }`
	var aliases strings.Builder
	aliases.WriteString("{")
	for i := range 16 {
		aliases.WriteString(" a" + string(rune('a'+i)) + ": customers(limit: 1) { count }")
	}
	aliases.WriteString(" }")
	tokens := "{ customers { count " + strings.Repeat("__typename ", 10_000) + "} }"
	complex := "{ customers(limit: 100) { items { orders(limit: 100) { items { id } } } } }"

	tests := []struct {
		name, query, code string
	}{
		{"deep", deep, "QUERY_TOO_DEEP"},
		{"deep through fragments", viaFragments, "QUERY_TOO_DEEP"},
		{"aliases", aliases.String(), "TOO_MANY_ALIASES"},
		{"token bomb", tokens, "QUERY_TOO_LARGE"},
		{"complex", complex, "QUERY_TOO_COMPLEX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := a.do(tt.query, nil)
			if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != tt.code {
				t.Fatalf("errors = %+v, want one %s", resp.Errors, tt.code)
			}
			if resp.Statements != 0 {
				t.Errorf("a refused query ran %d statements", resp.Statements)
			}
		})
	}
	// At the limits, queries run.
	var ok struct{}
	a.query("{ customers(limit: 1) { items { orders(limit: 1) { items { customer { orders(limit: 1) { items { customer { id } } } } } } } } }", nil, &ok)
	a.query(strings.Replace(aliases.String(), " ap: customers(limit: 1) { count }", "", 1), nil, &ok)
	a.query("{ customers(limit: 100) { count items { id email addresses { id } groups { id } orders { count } } } }", nil, &ok)
}

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

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	body := []byte(`{"query": "mutation { create_customer(input: {email: \"once@example.com\"}) { id email } }"}`)
	send := func(key string, body []byte) (int, string, http.Header) {
		req := httptest.NewRequest("POST", "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+a.token)
		req.Header.Set("Idempotency-Key", key)
		rec := httptest.NewRecorder()
		a.h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String(), rec.Header()
	}
	const n = 10
	var wg sync.WaitGroup
	bodies := make([]string, n)
	replayed := make([]bool, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, b, h := send("key-1", body)
			if status != 200 {
				t.Errorf("retry %d: %d %s", i, status, b)
			}
			bodies[i], replayed[i] = b, h.Get("Idempotent-Replayed") == "true"
		}()
	}
	wg.Wait()
	var customers int
	a.pool.Get(&customers, `SELECT count(*) FROM customer WHERE email = 'once@example.com'`)
	first := 0
	for i := range n {
		if bodies[i] != bodies[0] {
			t.Errorf("response %d differs: %s vs %s", i, bodies[i], bodies[0])
		}
		if !replayed[i] {
			first++
		}
	}
	if customers != 1 || first != 1 || strings.Contains(bodies[0], "errors") {
		t.Errorf("%d customers, %d first responses, body %s; want 1, 1 and no error", customers, first, bodies[0])
	}
	// The same key with another body is a conflict.
	status, b, _ := send("key-1", []byte(`{"query": "mutation { create_customer(input: {email: \"other@example.com\"}) { id } }"}`))
	if status != 409 || !strings.Contains(b, `"CONFLICT"`) {
		t.Errorf("same key, other body: %d %s", status, b)
	}
	// Another key acts (and meets the duplicate email).
	if _, b, _ := send("key-2", body); !strings.Contains(b, "DUPLICATE_ERROR") {
		t.Errorf("a new key should act again: %s", b)
	}
	if status, b, _ := send(strings.Repeat("k", 256), body); status != 400 {
		t.Errorf("an overlong key: %d %s", status, b)
	}
}

func TestIdempotencyKeyIsFreedWhenTheServerFails(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.createCustomer(map[string]any{"email": "retry@example.com"})
	shopper, _ := a.signUp("shopper@example.com", "shopper password")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := httpserver.New(httpserver.Config{DB: a.pool, GraphQL: graph.NewHandler(a.pool, graph.Options{Auth: a.auth, Logger: logger}),
		Logger: logger, RequestTimeout: time.Second})
	send := func(token, key, query string) (string, http.Header) {
		body, _ := json.Marshal(map[string]string{"query": query})
		req := httptest.NewRequest("POST", "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Body.String(), rec.Header()
	}
	lock := func(statement string) *sqlx.Tx {
		tx, err := a.pool.Beginx()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(statement); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	update := `mutation { update_customer(id: "` + c.ID + `", input: {first_name: "Again"}) { first_name } }`

	// The first try times out waiting for a lock: nothing was done, so the
	// retry with the same key acts instead of replaying the TIMEOUT.
	tx := lock(`SELECT id FROM customer WHERE id = '` + c.ID + `' FOR UPDATE`)
	if b, _ := send(a.token, "timed-out", update); !strings.Contains(b, `"TIMEOUT"`) {
		t.Fatalf("first try: %s", b)
	}
	tx.Rollback()
	if b, hdr := send(a.token, "timed-out", update); !strings.Contains(b, `"first_name":"Again"`) || hdr.Get("Idempotent-Replayed") != "" {
		t.Errorf("retry after a TIMEOUT: %s (replayed %q)", b, hdr.Get("Idempotent-Replayed"))
	}

	// An order placed whose customer's groups then time out: the order is
	// rolled back with the answer, which says so, and the retry places it,
	// once.
	order := `mutation { place_order(input: {currency_code: "usd", items: [{title: "A", quantity: 1, unit_price: 5}]}) { id customer { groups { id } } } }`
	tx = lock(`LOCK TABLE customer_group IN ACCESS EXCLUSIVE MODE`)
	b, _ := send(shopper, "placed", order)
	tx.Rollback()
	if !strings.Contains(b, `"TIMEOUT"`) || strings.Contains(b, `"data"`) || !strings.Contains(b, "nothing it did was kept") {
		t.Fatalf("first order: %s", b)
	}
	countOrders := func() int {
		var orders int
		if err := a.pool.Get(&orders, `SELECT count(*) FROM orders WHERE email = 'shopper@example.com'`); err != nil {
			t.Fatal(err)
		}
		return orders
	}
	if n := countOrders(); n != 0 {
		t.Errorf("%d orders kept after a failed answer, want 0", n)
	}
	again, hdr := send(shopper, "placed", order)
	if !strings.Contains(again, `"place_order":{"id":"order_`) || hdr.Get("Idempotent-Replayed") != "" {
		t.Errorf("retry of the order: %s (replayed %q)", again, hdr.Get("Idempotent-Replayed"))
	}
	if replay, hdr := send(shopper, "placed", order); replay != again || hdr.Get("Idempotent-Replayed") != "true" {
		t.Errorf("second retry: %s (replayed %q), want the first success", replay, hdr.Get("Idempotent-Replayed"))
	}
	if n := countOrders(); n != 1 {
		t.Errorf("%d orders placed, want 1", n)
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
