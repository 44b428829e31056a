package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Idempotency keys are scoped to the caller's credentials. Customers who
// send the same mutation with the same Idempotency-Key, all at once and
// each retrying, each get one address of their own, and every answer any
// of them sees is about their own address: one customer's stored answer is
// never replayed to another (which would show them someone else's address
// and leave them without one).
func TestIdempotencyKeysAreScopedToTheCaller(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const customers, retries = 5, 4
	tokens, ids := make([]string, customers), make([]string, customers)
	for c := range customers {
		tokens[c], ids[c] = a.signUp(fmt.Sprintf("shopper%d@example.com", c), "a long password")
	}
	body := []byte(`{"query": "mutation { create_my_address(input: {city: \"Springfield\"}) { id customer_id city } }"}`)
	type answer struct {
		caller  int
		status  int
		address struct {
			ID         string `json:"id"`
			CustomerID string `json:"customer_id"`
		}
		replayed bool
	}
	answers := make(chan answer, customers*retries)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for c := range customers {
		for range retries {
			ready.Add(1)
			done.Go(func() {
				req := httptest.NewRequest("POST", "/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tokens[c])
				req.Header.Set("Idempotency-Key", "checkout-1")
				ready.Done()
				<-start // released together, so the callers contend for the key
				rec := httptest.NewRecorder()
				a.h.ServeHTTP(rec, req)
				var resp struct {
					Data struct {
						Address json.RawMessage `json:"create_my_address"`
					}
				}
				json.Unmarshal(rec.Body.Bytes(), &resp)
				got := answer{caller: c, status: rec.Code, replayed: rec.Header().Get("Idempotent-Replayed") == "true"}
				json.Unmarshal(resp.Data.Address, &got.address)
				answers <- got
			})
		}
	}
	ready.Wait()
	close(start)
	done.Wait()
	close(answers)
	seen := make([]map[string]bool, customers)
	replayed := 0
	for got := range answers {
		if got.status != http.StatusOK || got.address.CustomerID != ids[got.caller] {
			t.Errorf("customer %d (%s) was answered %d with the address of %q", got.caller, ids[got.caller], got.status, got.address.CustomerID)
		}
		if seen[got.caller] == nil {
			seen[got.caller] = map[string]bool{}
		}
		seen[got.caller][got.address.ID] = true
		if got.replayed {
			replayed++
		}
	}
	for c := range customers {
		var n int
		if err := a.pool.Get(&n, `SELECT count(*) FROM customer_address WHERE customer_id = $1`, ids[c]); err != nil || n != 1 {
			t.Errorf("customer %d has %d addresses (%v), want 1", c, n, err)
		}
		if len(seen[c]) != 1 {
			t.Errorf("customer %d saw %d different addresses, want its one", c, len(seen[c]))
		}
	}
	if replayed != customers*(retries-1) {
		t.Errorf("%d answers replayed, want each customer's %d retries (%d)", replayed, retries-1, customers*(retries-1))
	}
}
