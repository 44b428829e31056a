package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"customerservice/db"
	"customerservice/db/dbtest"
	"customerservice/gqlws"
)

// TestEveryServerDeliversEveryEvent runs two servers on one database, with
// 100 subscriptions spread over both, and makes 1,000 changes concurrently
// through both: every subscription gets every event once, and each
// customer's events in the order of the log (the order of their commits,
// which lock the customer).
func TestEveryServerDeliversEveryEvent(t *testing.T) {
	const (
		customers   = 50
		changes     = 1000
		connections = 10 // 5 per server, 10 subscriptions each
		perConn     = 10
	)
	ctx := context.Background()
	url := dbtest.URL(t)
	var servers []*app
	var bases []string
	for range 2 {
		cfg := testConfig(url, t.TempDir())
		cfg.tokenSecret = "the secret both servers sign with!"
		cfg.maxConns = 20
		a, err := newApp(ctx, cfg, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		defer a.close()
		srv := httptest.NewServer(a.web)
		defer srv.Close()
		servers, bases = append(servers, a), append(bases, srv.URL)
	}
	token := adminToken(t, servers[0])
	clients := []*client{
		{base: bases[0], token: token, http: &http.Client{Timeout: 30 * time.Second}},
		{base: bases[1], token: token, http: &http.Client{Timeout: 30 * time.Second}},
	}
	ids := make([]string, customers)
	for i := range ids {
		r, err := clients[i%2].post(fmt.Sprintf(`mutation { create_customer(input: {email: "fan%d@example.com"}) { id } }`, i))
		if err != nil || len(r.Errors) > 0 {
			t.Fatalf("create customer: %v %+v", err, r.Errors)
		}
		var c struct{ ID string }
		json.Unmarshal(r.Data["create_customer"], &c)
		ids[i] = c.ID
	}
	start, err := db.LastEventSeq(ctx, servers[0].db.pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range servers {
		for a.hub.Newest() < start {
			time.Sleep(5 * time.Millisecond)
		}
	}

	// The subscribers: 10 connections, alternately to each server.
	type received struct {
		conn, sub int
		id        string
		customer  string
	}
	conns := make([]*gqlws.Conn, connections)
	for i := range conns {
		c, err := gqlws.Dial(ctx, bases[i%2]+"/graphql", "Bearer "+token, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		conns[i] = c
		for s := range perConn {
			if err := c.Subscribe(ctx, fmt.Sprint(s), `subscription { customer_events(types: ["customer.updated"]) { id customer_id } }`, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, a := range servers {
		deadline := time.Now().Add(10 * time.Second)
		for testutil.ToFloat64(a.hub.Metrics().Subscriptions) != connections/2*perConn {
			if time.Now().After(deadline) {
				t.Fatalf("subscriptions: %v", testutil.ToFloat64(a.hub.Metrics().Subscriptions))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// Read everything each subscription gets, until each has every change
	// (or the time runs out).
	got := make([][][]received, connections)
	var readers sync.WaitGroup
	readCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for i, c := range conns {
		got[i] = make([][]received, perConn)
		readers.Go(func() {
			total := 0
			for total < perConn*changes {
				m, err := c.Read(readCtx)
				if err != nil {
					t.Errorf("connection %d after %d events: %v", i, total, err)
					return
				}
				var r struct {
					Data struct {
						E struct {
							ID         string `json:"id"`
							CustomerID string `json:"customer_id"`
						} `json:"customer_events"`
					} `json:"data"`
				}
				if m.Type != "next" || json.Unmarshal(m.Payload, &r) != nil {
					t.Errorf("connection %d: %s %s %s", i, m.ID, m.Type, m.Payload)
					return
				}
				var s int
				fmt.Sscan(m.ID, &s)
				got[i][s] = append(got[i][s], received{i, s, r.Data.E.ID, r.Data.E.CustomerID})
				total++
			}
		})
	}

	// 1,000 changes, 20 at a time, alternately through each server.
	began := time.Now()
	var writers sync.WaitGroup
	work := make(chan int)
	for w := range 20 {
		writers.Go(func() {
			for n := range work {
				r, err := clients[(n+w)%2].post(fmt.Sprintf(`mutation { update_customer(id: %q, input: {first_name: "v%d"}) { id } }`, ids[n%customers], n))
				if err != nil || len(r.Errors) > 0 {
					t.Errorf("change %d: %v %+v", n, err, r.Errors)
				}
			}
		})
	}
	for n := range changes {
		work <- n
	}
	close(work)
	writers.Wait()
	wrote := time.Since(began)
	readers.Wait()
	t.Logf("1,000 changes made in %v; every subscription had them all after %v", wrote.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))

	// The log's order, per customer.
	events, err := db.EventsAfter(ctx, servers[0].db.pool, start, 2*changes)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, e := range events {
		if e.Type == "customer.updated" {
			want[*e.CustomerID] = append(want[*e.CustomerID], e.ID())
		}
	}
	if len(events) != changes {
		t.Fatalf("the log has %d events after the changes, want %d", len(events), changes)
	}
	var total, dups, missing, misordered int
	for i := range got {
		for s, evs := range got[i] {
			seen := map[string]bool{}
			byCustomer := map[string][]string{}
			for _, e := range evs {
				if seen[e.id] {
					dups++
				}
				seen[e.id] = true
				byCustomer[e.customer] = append(byCustomer[e.customer], e.id)
			}
			total += len(evs)
			for customer, ids := range want {
				for _, id := range ids {
					if !seen[id] {
						missing++
					}
				}
				if !slices.Equal(byCustomer[customer], ids) {
					misordered++
					if misordered == 1 {
						t.Errorf("connection %d subscription %d: customer %s's events came as %v, the log has %v", i, s, customer, byCustomer[customer], ids)
					}
				}
			}
		}
	}
	t.Logf("%d subscriptions on 2 servers: %d events received (%d expected), %d duplicates, %d missing, %d customer sequences out of the log's order",
		connections*perConn, total, connections*perConn*changes, dups, missing, misordered)
	if total != connections*perConn*changes || dups != 0 || missing != 0 || misordered != 0 {
		t.Errorf("not every event exactly once in order")
	}
	var delivered float64
	for _, a := range servers {
		delivered += testutil.ToFloat64(a.hub.Metrics().Delivered)
	}
	if delivered != connections*perConn*changes {
		t.Errorf("events delivered (metric) = %v, want %d", delivered, connections*perConn*changes)
	}
}
