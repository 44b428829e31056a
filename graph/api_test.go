package graph_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"customerservice/auth"
	"customerservice/bulk"
	"customerservice/db"
	"customerservice/db/dbtest"
	"customerservice/db/seed"
	"customerservice/graph"
	"customerservice/httpserver"
	"customerservice/webhooks"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// api is the GraphQL endpoint on a test database of its own, called as an
// admin user unless told otherwise.
type api struct {
	tb    testing.TB
	pool  *sqlx.DB
	h     http.Handler
	auth  *auth.Service
	token string // sent as the bearer token; "" sends none
	// remoteAddr is the TCP peer the requests come from (httptest's
	// 192.0.2.1:1234 when empty); forwardedFor, when not empty, is sent as
	// X-Forwarded-For.
	remoteAddr, forwardedFor string
	// userAgent, when not empty, is sent as User-Agent.
	userAgent string
	// adminID is the admin user the default token acts as.
	adminID string
	// reg holds the metrics the requests record.
	reg *prometheus.Registry
	// sent records the mutations the requests called.
	sent *mutationsSent
}

// mutationsSent is the set of mutation fields a test's requests called,
// whichever helper sent them.
type mutationsSent struct {
	mu    sync.Mutex
	names map[string]bool
}

// record adds the mutation fields of query's operations.
func (m *mutationsSent) record(query string) {
	if m == nil {
		return // an api made elsewhere (newLive), which records nothing
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		return // a test of bad documents
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, op := range doc.Operations {
		if op.Operation != ast.Mutation {
			continue
		}
		for _, sel := range op.SelectionSet {
			if f, ok := sel.(*ast.Field); ok {
				m.names[f.Name] = true
			}
		}
	}
}

func newAPI(tb testing.TB, options ...func(*graph.Options)) *api {
	tb.Helper()
	pool := dbtest.New(tb)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	hasher, err := auth.NewHasher()
	if err != nil {
		tb.Fatal(err)
	}
	tokens, err := auth.NewTokens([]byte("a test secret of at least 32 bytes!!"), time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	svc := &auth.Service{DB: pool, Hasher: hasher, Tokens: tokens}
	sealer, err := webhooks.NewSealer([]byte("a test secret of at least 32 bytes!!"))
	if err != nil {
		tb.Fatal(err)
	}
	// As a local server runs them: endpoints on any address, over http too.
	hooks := &webhooks.Service{DB: pool, Sealer: sealer, Guard: &webhooks.Guard{AllowPrivate: true}}
	links, err := bulk.NewLinks([]byte("a test secret of at least 32 bytes!!"), 0)
	if err != nil {
		tb.Fatal(err)
	}
	imports := &bulk.Service{DB: pool, Links: links, Logger: logger}
	tb.Cleanup(imports.Close) // before the database goes
	opts := graph.Options{Auth: svc, Logger: logger, Webhooks: hooks, Bulk: imports}
	for _, o := range options {
		o(&opts)
	}
	reg := prometheus.NewRegistry()
	web := httpserver.New(httpserver.Config{DB: pool, GraphQL: graph.NewHandler(pool, opts), Logger: logger, Registry: reg,
		MaxUpload: cmp.Or(opts.MaxUpload, graph.DefaultMaxUpload), Exports: opts.Bulk.ExportHandler()})
	a := &api{tb: tb, pool: pool, auth: svc, h: web, reg: reg, sent: &mutationsSent{names: map[string]bool{}}}
	user, err := svc.CreateUser(context.Background(), "admin@example.com", "admin password", nil, nil)
	if err != nil {
		tb.Fatalf("create admin user: %v", err)
	}
	a.adminID = user.ID
	a.token = a.login("USER", "admin@example.com", "admin password")
	return a
}

// as returns the api called with another bearer token ("" for none).
func (a *api) as(token string) *api {
	b := *a
	b.token = token
	return &b
}

// from returns the api called from another TCP peer, with an
// X-Forwarded-For header when forwardedFor is not empty.
func (a *api) from(remoteAddr, forwardedFor string) *api {
	b := *a
	b.remoteAddr, b.forwardedFor = remoteAddr, forwardedFor
	return &b
}

// login logs in and returns the token.
func (a *api) login(actorType, email, password string) string {
	a.tb.Helper()
	var got struct {
		Login struct{ Token string } `json:"login"`
	}
	a.as("").query(`mutation ($t: ActorType!, $e: String!, $p: String!) { login(actor_type: $t, email: $e, password: $p) { token } }`,
		map[string]any{"t": actorType, "e": email, "p": password}, &got)
	return got.Login.Token
}

// seeded returns an api whose database holds the reference dataset for n
// customers, loaded with now as its reference time.
func seeded(tb testing.TB, n int, now time.Time, options ...func(*graph.Options)) *api {
	tb.Helper()
	a := newAPI(tb, options...)
	if err := seed.Load(context.Background(), a.pool, n, now, nil); err != nil {
		tb.Fatalf("seed: %v", err)
	}
	return a
}

// gqlError is an error as a client sees it.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

type response struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
	// Statements is the number of SQL statements the request sent.
	Statements int64 `json:"-"`
}

// do posts a query with variables, as a client would, and counts the SQL
// statements it causes.
func (a *api) do(query string, vars map[string]any) response {
	a.tb.Helper()
	authorization := ""
	if a.token != "" {
		authorization = "Bearer " + a.token
	}
	return a.post(query, vars, authorization)
}

// doWithHeader posts a query with the Authorization header given.
func (a *api) doWithHeader(query, authorization string) response {
	a.tb.Helper()
	return a.post(query, nil, authorization)
}

func (a *api) post(query string, vars map[string]any, authorization string) response {
	a.tb.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		a.tb.Fatal(err)
	}
	a.sent.record(query)
	ctx, counter := db.WithCounter(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	if a.userAgent != "" {
		req.Header.Set("User-Agent", a.userAgent)
	}
	if a.remoteAddr != "" {
		req.RemoteAddr = a.remoteAddr
	}
	if a.forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", a.forwardedFor)
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	var resp response
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		a.tb.Fatalf("response is not JSON: %v\n%s", err, rec.Body.String())
	}
	resp.Statements = counter.Count()
	for _, e := range resp.Errors {
		checkNoLeak(a.tb, e)
	}
	return resp
}

// leaks are what no error a client sees may contain: SQL, driver text,
// constraint and table names, stack traces.
//
// customer_address is a table and, inside create_customer_address, a field
// name that suggestions may show, so its constraints are caught by their
// suffixes instead.
var leaks = []string{"pq:", "SQLSTATE", "sql:", "violates", "constraint", "duplicate key", `relation "`,
	"goroutine ", ".go:", "_fkey", "_pkey", "_idx", "auth_identity", "order_line_item", "customer_group_customer",
	"idempotency_key", "password_hash", "login_attempt", "login_known_address", "password_reset_request", "syntax error at"}

// checkNoLeak fails the test when an error tells more than a client should
// know. Every error of the test suite passes through it.
func checkNoLeak(tb testing.TB, e gqlError) {
	tb.Helper()
	text := e.Message + fmt.Sprint(e.Extensions)
	for _, l := range leaks {
		if strings.Contains(text, l) {
			tb.Errorf("an error leaks %q: %+v", l, e)
		}
	}
}

// query runs a query that must succeed and decodes its data into out.
func (a *api) query(query string, vars map[string]any, out any) response {
	a.tb.Helper()
	resp := a.do(query, vars)
	if len(resp.Errors) > 0 {
		a.tb.Fatalf("query failed: %+v", resp.Errors)
	}
	if err := json.Unmarshal(resp.Data, out); err != nil {
		a.tb.Fatalf("decode data: %v\n%s", err, resp.Data)
	}
	return resp
}

// fail runs a query that must fail with one error and returns it.
func (a *api) fail(query string, vars map[string]any) gqlError {
	a.tb.Helper()
	resp := a.do(query, vars)
	if len(resp.Errors) != 1 {
		a.tb.Fatalf("got %d errors, want 1: %+v (data %s)", len(resp.Errors), resp.Errors, resp.Data)
	}
	return resp.Errors[0]
}

// concurrently sends n requests at once and returns their responses in
// order.
func concurrently(n int, request func(i int) response) []response {
	results := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = request(i) })
	}
	wg.Wait()
	return results
}

// inWaves sends n requests, width at a time, and returns their responses
// in order.
func inWaves(n, width int, request func(i int) response) []response {
	results := make([]response, 0, n)
	for from := 0; from < n; from += width {
		wave := concurrently(min(width, n-from), func(i int) response { return request(from + i) })
		results = append(results, wave...)
	}
	return results
}

// outcomes counts the responses without errors and those refused with code
// and, unless it is empty, message; any other answer fails the test.
func outcomes(tb testing.TB, results []response, code, message string) (ok, refused int) {
	tb.Helper()
	for _, r := range results {
		switch {
		case len(r.Errors) == 0:
			ok++
		case len(r.Errors) == 1 && r.Errors[0].Extensions["code"] == code && (message == "" || r.Errors[0].Message == message):
			refused++
		default:
			tb.Errorf("unexpected result: %+v", r.Errors)
		}
	}
	return ok, refused
}

// wantError checks the code, type and message a client sees.
func wantError(tb testing.TB, got gqlError, code, typ, message string) {
	tb.Helper()
	if got.Extensions["code"] != code || (typ != "" && got.Extensions["type"] != typ) {
		tb.Errorf("error code/type = %v/%v, want %s/%s (message %q)", got.Extensions["code"], got.Extensions["type"], code, typ, got.Message)
	}
	if message != "" && got.Message != message {
		tb.Errorf("error message = %q, want %q", got.Message, message)
	}
}

// exec runs SQL that sets up a case the API cannot create yet.
func (a *api) exec(query string, args ...any) {
	a.tb.Helper()
	if _, err := a.pool.Exec(query, args...); err != nil {
		a.tb.Fatalf("exec %q: %v", query, err)
	}
}

// id returns the id of the seeded customer with the given email.
func (a *api) customerID(email string) string {
	a.tb.Helper()
	var id string
	if err := a.pool.Get(&id, `SELECT id FROM customer WHERE email = $1`, email); err != nil {
		a.tb.Fatalf("customer %s: %v", email, err)
	}
	return id
}
