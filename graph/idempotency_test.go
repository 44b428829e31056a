package graph_test

import (
	"bytes"
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

	"customerservice/graph"
	"customerservice/httpserver"
)

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
	// The answer says nothing was kept; on a loaded machine the deadline's
	// own TIMEOUT may come first, while the handler rolls back behind it.
	if !strings.Contains(b, `"TIMEOUT"`) || strings.Contains(b, `"data"`) ||
		!strings.Contains(b, "nothing it did was kept") && !strings.Contains(b, "ran past its deadline") {
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
	placedEvents := func() int {
		var n int
		a.pool.Get(&n, `SELECT count(*) FROM event WHERE type = 'order.placed'`)
		return n
	}
	if n := placedEvents(); n != 0 {
		t.Errorf("%d order.placed events kept after a failed answer, want 0", n)
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
	if n := placedEvents(); n != 1 {
		t.Errorf("%d order.placed events, want 1", n)
	}
}
