package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"customerservice/db/dbtest"
)

// TestGracefulShutdown stops the server while 100 mutations are in flight:
// /readyz turns 503 first, and every mutation that was answered is stored.
func TestGracefulShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := testConfig(dbtest.URL(t), t.TempDir())
	// Long enough that /readyz is asked while draining on a loaded
	// machine; the listener closes after it.
	cfg.drainDelay = 2 * time.Second
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
	c := &client{base: "http://" + ln.Addr().String(), token: adminToken(t, a), http: &http.Client{Timeout: 20 * time.Second}}

	const n = 100
	var wg sync.WaitGroup
	acked := make([]string, n)
	started := make(chan struct{}, n)
	for i := range n {
		wg.Go(func() {
			email := fmt.Sprintf("inflight-%d@example.com", i)
			started <- struct{}{}
			r, err := c.post(`mutation { create_customer(input: {email: "` + email + `"}) { id } }`)
			if err == nil && len(r.Errors) == 0 && r.Data["create_customer"] != nil {
				acked[i] = email
			}
		})
	}
	for range n {
		<-started
	}
	cancel() // as SIGTERM does
	ready := 0
	for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if ready = c.status("/readyz"); ready == http.StatusServiceUnavailable {
			break
		}
	}
	if ready != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining = %d, want 503", ready)
	}
	wg.Wait()
	if err := <-served; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	count := 0
	for _, e := range acked {
		if e == "" {
			continue
		}
		count++
		var n int
		if err := a.db.pool.Get(&n, `SELECT count(*) FROM customer WHERE email = $1`, e); err != nil || n != 1 {
			t.Errorf("acknowledged %s: %d rows (%v)", e, n, err)
		}
	}
	t.Logf("%d of %d mutations acknowledged, all stored", count, n)
	if count == 0 {
		t.Error("no mutation was answered")
	}
}
