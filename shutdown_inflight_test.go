package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"customerservice/db/dbtest"
)

// TestShutdownFinishesRequestsInFlight stops the server while requests are
// really in flight: 30 create_customer_address mutations wait in
// PostgreSQL for a lock the test holds on their customer's row, the server
// is told to stop (as SIGTERM does), its listener closes, and only then is
// the lock let go. Every one of them must still be answered with its
// address, and every address stored: a server that closed at once, or
// closed the pool before its requests were done, would lose them.
func TestShutdownFinishesRequestsInFlight(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := testConfig(dbtest.URL(t), t.TempDir())
	// Generous, so that the load of the machine never makes a request
	// miss its deadline while it waits for the lock.
	cfg.requestTimeout, cfg.shutdownGrace, cfg.maxConns = time.Minute, time.Minute, 40
	a, err := newApp(ctx, cfg, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- serveUntilDone(ctx, ln, a.web, cfg, quietLogger()) }()
	c := &client{base: "http://" + ln.Addr().String(), token: adminToken(t, a), http: &http.Client{Timeout: 2 * time.Minute}}

	r, err := c.post(`mutation { create_customer(input: {email: "locked@example.com"}) { id } }`)
	if err != nil || len(r.Errors) > 0 {
		t.Fatalf("create customer: %v %+v", err, r.Errors)
	}
	var created struct{ ID string }
	json.Unmarshal(r.Data["create_customer"], &created)
	customerID := created.ID

	// Hold the customer's row: adding an address to it waits for the
	// lock (its foreign key check).
	lock, err := a.db.pool.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.Exec(`SELECT 1 FROM customer WHERE id = $1 FOR UPDATE`, customerID); err != nil {
		t.Fatal(err)
	}

	const n = 30
	answered := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := c.post(fmt.Sprintf(`mutation { create_customer_address(customer_id: %q, input: {city: "City %d"}) { id city } }`, customerID, i))
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			if len(r.Errors) > 0 || r.Data["create_customer_address"] == nil {
				t.Errorf("request %d: %+v", i, r.Errors)
				return
			}
			var address struct{ City string }
			json.Unmarshal(r.Data["create_customer_address"], &address)
			answered[i] = address.City
		})
	}
	// All n wait for the lock before the server is told to stop.
	waitFor(t, "the requests to wait for the lock", func() bool {
		var waiting int
		a.db.pool.Get(&waiting, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)
		return waiting == n
	})
	cancel() // as SIGTERM does
	// The listener closes once shutdown has begun; the requests are
	// still waiting.
	waitFor(t, "the listener to close", func() bool {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return true
		}
		conn.Close()
		return false
	})
	select {
	case err := <-served:
		t.Fatalf("the server stopped with %d requests in flight: %v", n, err)
	default:
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := <-served; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for i, city := range answered {
		if city != fmt.Sprintf("City %d", i) {
			t.Errorf("request %d answered %q", i, city)
		}
	}
	var stored int
	if err := a.db.pool.Get(&stored, `SELECT count(*) FROM customer_address WHERE customer_id = $1`, customerID); err != nil || stored != n {
		t.Errorf("%d of %d addresses stored (%v)", stored, n, err)
	}
}

// waitFor polls cond until it holds; the bound only keeps a broken server
// from hanging the test, it is not what the test measures.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 3000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}
