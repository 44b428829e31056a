package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/acme/customerservice/db"
	"github.com/acme/customerservice/db/dbtest"
	"github.com/acme/customerservice/db/seed"
	"github.com/acme/customerservice/graph"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// api is the GraphQL endpoint on a test database of its own.
type api struct {
	tb   testing.TB
	pool *sqlx.DB
	h    http.Handler
}

func newAPI(tb testing.TB) *api {
	tb.Helper()
	pool := dbtest.New(tb)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &api{tb: tb, pool: pool, h: graph.NewHandler(pool, graph.Options{Logger: logger})}
}

// seeded returns an api whose database holds the reference dataset for n
// customers, loaded with now as its reference time.
func seeded(tb testing.TB, n int, now time.Time) *api {
	tb.Helper()
	a := newAPI(tb)
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
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		a.tb.Fatal(err)
	}
	ctx, counter := db.WithCounter(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	var resp response
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		a.tb.Fatalf("response is not JSON: %v\n%s", err, rec.Body.String())
	}
	resp.Statements = counter.Count()
	return resp
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

// wantError checks the code, type and message a client sees.
func wantError(tb testing.TB, got gqlError, code, typ, message string) {
	tb.Helper()
	if got.Extensions["code"] != code || got.Extensions["type"] != typ {
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
