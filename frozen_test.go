package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"customerservice/db/localpg"
)

// processTree returns pid and its descendants, from /proc.
func processTree(tb testing.TB, pid int) []int {
	tb.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		tb.Fatal(err)
	}
	children := map[int][]int{}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command may hold spaces and parentheses: fields start after
		// the last ")". The parent is the second of them.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 2 {
			continue
		}
		if parent, err := strconv.Atoi(fields[1]); err == nil {
			children[parent] = append(children[parent], child)
		}
	}
	tree := []int{pid}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree
}

// signalAll sends sig to every process of pids.
func signalAll(tb testing.TB, pids []int, sig syscall.Signal) {
	tb.Helper()
	for _, pid := range pids {
		if err := syscall.Kill(pid, sig); err != nil {
			tb.Errorf("signal %v to %d: %v", sig, pid, err)
		}
	}
}

// TestFrozenDatabase stops every PostgreSQL process (SIGSTOP) while
// requests come: each is answered by its deadline with TIMEOUT or
// SERVICE_UNAVAILABLE, /readyz fails within about a second, and once
// PostgreSQL resumes (SIGCONT) the server serves again by itself.
func TestFrozenDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	cluster, err := localpg.Start(ctx, localpg.Options{Dir: dir, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Stop()
	if _, err := cluster.CreateDatabase(ctx, "frozen"); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(cluster.URL("frozen"), dir)
	cfg.requestTimeout = 2 * time.Second
	a, err := newApp(ctx, cfg, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	ts := httptest.NewServer(a.web)
	defer ts.Close()
	c := &client{base: ts.URL, token: adminToken(t, a), http: &http.Client{Timeout: 20 * time.Second}}
	if r, err := c.post(`{ customers { count } }`); err != nil || len(r.Errors) != 0 {
		t.Fatalf("before the freeze: %+v %v", r, err)
	}

	postgres := processTree(t, cluster.PID())
	signalAll(t, postgres, syscall.SIGSTOP)
	frozen := true
	thaw := func() {
		if frozen {
			signalAll(t, postgres, syscall.SIGCONT)
			frozen = false
		}
	}
	defer thaw()
	start := time.Now()

	// Twenty requests in flight on the frozen database.
	type outcome struct {
		code string
		took time.Duration
		err  error
	}
	outcomes := make([]outcome, 20)
	var wg sync.WaitGroup
	for i := range outcomes {
		wg.Go(func() {
			query := `{ customers(limit: 5) { count items { id email } } }`
			if i%2 == 1 {
				query = fmt.Sprintf(`mutation { create_customer(input: {email: "frozen-%d@example.com"}) { id } }`, i)
			}
			began := time.Now()
			r, err := c.post(query)
			o := outcome{took: time.Since(began), err: err}
			if err == nil && len(r.Errors) > 0 {
				o.code = fmt.Sprint(r.Errors[0].Extensions["code"])
			}
			outcomes[i] = o
		})
	}
	readyStart := time.Now()
	readyStatus := c.status("/readyz")
	readyTook := time.Since(readyStart)
	wg.Wait()
	latest := time.Duration(0)
	for i, o := range outcomes {
		latest = max(latest, o.took)
		if o.err != nil || (o.code != "TIMEOUT" && o.code != "SERVICE_UNAVAILABLE") {
			t.Errorf("request %d on the frozen database: %q after %v (%v); want TIMEOUT or SERVICE_UNAVAILABLE", i, o.code, o.took, o.err)
		}
		if o.took > cfg.requestTimeout+500*time.Millisecond {
			t.Errorf("request %d answered after %v; the deadline is %v", i, o.took, cfg.requestTimeout)
		}
	}
	t.Logf("20 requests on the frozen database answered within %v (deadline %v); /readyz %d after %v",
		latest.Round(time.Millisecond), cfg.requestTimeout, readyStatus, readyTook.Round(time.Millisecond))
	if readyStatus != http.StatusServiceUnavailable || readyTook > 1500*time.Millisecond {
		t.Errorf("/readyz on the frozen database: %d after %v; want 503 within about a second", readyStatus, readyTook)
	}

	time.Sleep(max(0, 5*time.Second-time.Since(start)))
	thaw()
	deadline := time.Now().Add(15 * time.Second)
	for c.status("/readyz") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("not ready 15 s after PostgreSQL resumed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, q := range []string{`{ customers { count } }`, `mutation { create_customer(input: {email: "thawed@example.com"}) { id } }`} {
		if r, err := c.post(q); err != nil || len(r.Errors) != 0 {
			t.Errorf("after PostgreSQL resumed, %s: %+v %v", q, r.Errors, err)
		}
	}
}
