package graph_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"customerservice/graph"
	"customerservice/httpserver"
)

// What the common GraphQL clients need of the HTTP surface, short of
// running them (the e2e tests do): CORS for their headers, a code on every
// error, the schema as SDL, no @defer that would answer null, and the
// operation of a document chosen by name.
func TestWhatClientsNeed(t *testing.T) {
	t.Parallel()
	a := seeded(t, 2, time.Now())
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	web := func(production bool) http.Handler {
		return httpserver.New(httpserver.Config{DB: a.pool, Logger: logger, CORSOrigins: []string{"*"}, Production: production,
			SchemaSDL: graph.SDL(), GraphQL: graph.NewHandler(a.pool, graph.Options{Auth: a.auth, Logger: logger, Production: production})})
	}
	dev, prod := web(false), web(true)
	serve := func(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	t.Run("CORS", func(t *testing.T) {
		req := httptest.NewRequest("OPTIONS", "/graphql", nil)
		req.Header.Set("Origin", "https://shop.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "apollographql-client-name, apollographql-client-version, traceparent, tracestate, idempotency-key, x-request-id, authorization, content-type")
		rec := serve(dev, req)
		allowed := strings.ToLower(rec.Header().Get("Access-Control-Allow-Headers"))
		for _, h := range strings.Split(req.Header.Get("Access-Control-Request-Headers"), ", ") {
			if !strings.Contains(allowed, h) {
				t.Errorf("preflight does not allow %s: %q", h, allowed)
			}
		}
		if !strings.Contains(rec.Header().Get("Access-Control-Expose-Headers"), "X-Request-Id") {
			t.Errorf("X-Request-Id not exposed: %v", rec.Header())
		}
	})

	t.Run("a code on every error", func(t *testing.T) {
		q := url.QueryEscape(`mutation { create_customer(input: {email: "get@example.com"}) { id } }`)
		req := httptest.NewRequest("GET", "/graphql?query="+q, nil)
		req.Header.Set("Authorization", "Bearer "+a.token)
		rec := serve(dev, req)
		var resp response
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Errors) == 0 {
			t.Fatalf("mutation by GET: %d %s", rec.Code, rec.Body)
		}
		if rec.Code < 400 || resp.Errors[0].Extensions["code"] != "NOT_ALLOWED" {
			t.Errorf("mutation by GET: %d %s", rec.Code, rec.Body)
		}
	})

	t.Run("schema as SDL", func(t *testing.T) {
		rec := serve(dev, httptest.NewRequest("GET", "/graphql/schema.graphql", nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "type Customer {") || strings.Contains(rec.Body.String(), "@defer") {
			t.Errorf("/graphql/schema.graphql: %d %.300s", rec.Code, rec.Body)
		}
		if rec := serve(prod, httptest.NewRequest("GET", "/graphql/schema.graphql", nil)); rec.Code != 404 {
			t.Errorf("/graphql/schema.graphql in production: %d", rec.Code)
		}
	})

	t.Run("no @defer", func(t *testing.T) {
		e := a.fail(`{ customers { count ... @defer { items { id } } } }`, nil)
		wantError(t, e, "INVALID_DATA", "invalid_data", `Unknown directive "@defer".`)
		var got struct {
			Schema struct{ Directives []struct{ Name string } } `json:"__schema"`
		}
		a.query(`{ __schema { directives { name } } }`, nil, &got)
		for _, d := range got.Schema.Directives {
			if d.Name == "defer" {
				t.Error("introspection lists @defer")
			}
		}
	})

	t.Run("operation by name", func(t *testing.T) {
		body := `{"operationName": "Second", "query": "query First { customers { count } } query Second { customer_groups { count } }"}`
		req := httptest.NewRequest("POST", "/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+a.token)
		rec := serve(dev, req)
		if !strings.Contains(rec.Body.String(), `"customer_groups":{"count":`) || strings.Contains(rec.Body.String(), `"customers"`) {
			t.Errorf("operationName Second: %s", rec.Body)
		}
	})
}
