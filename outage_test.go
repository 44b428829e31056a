package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"customerservice/db/localpg"
)

// TestOutageAndRecovery stops PostgreSQL under a load of writes and starts
// it again: requests fail fast with SERVICE_UNAVAILABLE meanwhile, /readyz
// follows the database, the server recovers by itself, and every write that
// was acknowledged is there, once.
func TestOutageAndRecovery(t *testing.T) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "outage-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	cluster, err := localpg.Start(ctx, localpg.Options{Dir: dir, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cluster.Stop() }()
	if _, err := cluster.CreateDatabase(ctx, "outage"); err != nil {
		t.Fatal(err)
	}
	a, err := newApp(ctx, testConfig(cluster.URL("outage"), dir), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	ts := httptest.NewServer(a.web)
	defer ts.Close()
	c := &client{base: ts.URL, token: adminToken(t, a), http: &http.Client{Timeout: 10 * time.Second}}

	var (
		stop     atomic.Bool
		mu       sync.Mutex
		acked    []string
		codes    = map[string]int{}
		workers  sync.WaitGroup
		sequence atomic.Int64
	)
	for w := range 4 {
		workers.Go(func() {
			for !stop.Load() {
				email := fmt.Sprintf("load-%d-%d@example.com", w, sequence.Add(1))
				r, err := c.post(`mutation { create_customer(input: {email: "` + email + `"}) { id } }`)
				mu.Lock()
				switch {
				case err != nil:
					codes["transport: "+err.Error()]++
				case len(r.Errors) == 0:
					acked = append(acked, email)
				default:
					codes[fmt.Sprint(r.Errors[0].Extensions["code"])]++
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r, err := c.post(`{ customers { count } }`)
	if took := time.Since(start); err != nil || len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "SERVICE_UNAVAILABLE" || took > 3*time.Second {
		t.Errorf("during the outage: %+v, %v, after %v; want SERVICE_UNAVAILABLE fast", r, err, took)
	}
	if s := c.status("/readyz"); s != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage = %d, want 503", s)
	}
	if s := c.status("/healthz"); s != http.StatusOK {
		t.Errorf("/healthz during the outage = %d, want 200", s)
	}
	time.Sleep(300 * time.Millisecond)

	cluster, err = localpg.Start(ctx, localpg.Options{Dir: dir, Ephemeral: true, Port: cluster.Port()})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for c.status("/readyz") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("not ready 15s after PostgreSQL came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("ready again %v after the restart", time.Since(start))
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	workers.Wait()
	if r, err := c.post(`{ customers { count } }`); err != nil || len(r.Errors) != 0 {
		t.Errorf("after recovery: %+v, %v", r, err)
	}

	for code, n := range codes {
		if code != "SERVICE_UNAVAILABLE" {
			t.Errorf("%d requests failed with %s; only SERVICE_UNAVAILABLE is expected", n, code)
		}
	}
	var rows []struct {
		Email string
		N     int
	}
	if err := a.db.pool.Select(&rows, `SELECT email, count(*) AS n FROM customer GROUP BY email`); err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	for _, r := range rows {
		stored[r.Email] = r.N
		if r.N != 1 {
			t.Errorf("%s was written %d times", r.Email, r.N)
		}
	}
	for _, e := range acked {
		if stored[e] != 1 {
			t.Errorf("acknowledged %s is not stored", e)
		}
	}
	t.Logf("%d writes acknowledged and stored; failures by code: %v", len(acked), codes)
	if len(acked) == 0 {
		t.Error("no write went through")
	}
}
