package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"customerservice/db/dbtest"
)

// serveForTest is the environment variable that makes the test binary,
// started again by a test, run the server instead of the tests: a real
// process the test can kill.
const serveForTest = "CUSTOMERSERVICE_SERVE_FOR_TEST"

// serverProcess is the server running as a process of its own.
type serverProcess struct {
	cmd *exec.Cmd
	url string
	log *syncBuffer
}

// startServer starts the test binary as the server, with env on top of
// the test's environment, and waits until it serves.
func startServer(t *testing.T, env ...string) *serverProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), append([]string{serveForTest + "=1", "ADDR=127.0.0.1:0"}, env...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProcess{cmd: cmd, log: &syncBuffer{}}
	serving := regexp.MustCompile(`graphql=(http://\S+)/graphql`)
	found := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			p.log.Write(append(lines.Bytes(), '\n'))
			if m := serving.FindSubmatch(lines.Bytes()); m != nil {
				select {
				case found <- string(m[1]):
				default:
				}
			}
		}
	}()
	select {
	case p.url = <-found:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the server did not start:\n%s", p.log)
	}
	return p
}

// syncBuffer is a buffer written from one goroutine and read from another.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// keyedRequest is a mutation sent with an Idempotency-Key, and what came of
// its first try.
type keyedRequest struct {
	key, token, body string
	// email is what the mutation writes once: a customer's or an order's.
	email string
	// answer is the acknowledged answer, when the first try got one.
	answer string
}

func (r *keyedRequest) send(c *http.Client, url string) (status int, body string, replayed bool, err error) {
	req, err := http.NewRequest("POST", url+"/graphql", strings.NewReader(r.body))
	if err != nil {
		return 0, "", false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", r.key)
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Idempotent-Replayed") == "true", err
}

// TestKillDuringKeyedWrites kills the server (SIGKILL) during a burst of
// keyed writes, starts it again and retries every request with its key:
// an acknowledged answer is replayed as it was, a request whose answer was
// lost either is replayed or acts now, and nothing is written twice.
func TestKillDuringKeyedWrites(t *testing.T) {
	url := dbtest.URL(t)
	secret := "a token secret of at least thirty-two bytes"
	env := []string{"DATABASE_URL=" + url, "DATA_DIR=" + t.TempDir(), "TOKEN_SECRET=" + secret, "DEMO_CUSTOMERS=0"}
	server := startServer(t, env...)
	defer func() { server.cmd.Process.Kill(); server.cmd.Wait() }()

	pool, admin := adminOn(t, url, secret)

	var (
		mu       sync.Mutex
		requests []*keyedRequest
		killed   atomic.Bool
		workers  sync.WaitGroup
	)
	c := &http.Client{Timeout: 10 * time.Second}
	for w := range 6 {
		workers.Go(func() {
			for i := 0; !killed.Load(); i++ {
				r := &keyedRequest{key: fmt.Sprintf("w%d-%d", w, i), email: fmt.Sprintf("crash-%d-%d@example.com", w, i)}
				var query string
				switch i % 3 {
				case 0:
					r.token = admin.Token
					query = `mutation { create_customer(input: {email: "` + r.email + `"}) { id email } }`
				case 1:
					query = `mutation { place_order(input: {email: "` + r.email + `", currency_code: "usd", items: [{title: "Tea", quantity: 2, unit_price: 350}]}) { id total customer { id } } }`
				default:
					query = `mutation { register(actor_type: CUSTOMER, email: "` + r.email + `", password: "a long password") { token } }`
				}
				b, _ := json.Marshal(map[string]string{"query": query})
				r.body = string(b)
				status, body, _, err := r.send(c, server.url)
				if err == nil && status == http.StatusOK && !strings.Contains(body, `"errors"`) {
					r.answer = body
				}
				mu.Lock()
				requests = append(requests, r)
				mu.Unlock()
				if err != nil {
					return // the server is gone
				}
			}
		})
	}
	time.Sleep(700 * time.Millisecond)
	if err := server.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed.Store(true)
	server.cmd.Wait()
	workers.Wait()

	server = startServer(t, env...)
	acked, lost := 0, 0
	for _, r := range requests {
		status, body, replayed, err := r.send(c, server.url)
		switch {
		case err != nil || status != http.StatusOK || strings.Contains(body, `"errors"`):
			t.Errorf("retry of %s: %d %s %v", r.key, status, body, err)
		case r.answer != "":
			acked++
			if !replayed || body != r.answer {
				t.Errorf("retry of acknowledged %s: replayed %v, %s; want %s", r.key, replayed, body, r.answer)
			}
		default:
			lost++
		}
	}
	duplicates, missing := countWrites(t, pool, requests)
	t.Logf("%d keyed writes acknowledged before the kill, %d whose answer was lost; after retries: %d written twice, %d missing",
		acked, lost, duplicates, missing)
	if duplicates != 0 || missing != 0 {
		t.Errorf("%d writes twice and %d missing, want none", duplicates, missing)
	}
	if acked == 0 {
		t.Error("no write was acknowledged before the kill")
	}
}

// countWrites returns how many requests' writes are stored more than once,
// and how many not at all.
func countWrites(t *testing.T, pool *sqlx.DB, requests []*keyedRequest) (duplicates, missing int) {
	t.Helper()
	for _, r := range requests {
		var n int
		query := `SELECT count(*) FROM customer WHERE email = $1 AND has_account = false AND deleted_at IS NULL`
		switch {
		case strings.Contains(r.body, "place_order"):
			query = `SELECT count(*) FROM orders WHERE email = $1`
		case strings.Contains(r.body, "register"):
			query = `SELECT count(*) FROM auth_identity WHERE email = $1`
		}
		if err := pool.Get(&n, query, r.email); err != nil {
			t.Fatal(err)
		}
		switch {
		case n > 1:
			duplicates++
		case n == 0:
			missing++
		}
	}
	return duplicates, missing
}

// TestMetricsListener starts the server with METRICS_ADDR: the metrics are
// served there, and not beside the API.
func TestMetricsListener(t *testing.T) {
	server := startServer(t, "DATABASE_URL="+dbtest.URL(t), "DATA_DIR="+t.TempDir(), "DEMO_CUSTOMERS=0",
		"METRICS_ADDR=127.0.0.1:0")
	defer func() { server.cmd.Process.Signal(syscall.SIGTERM); server.cmd.Wait() }()
	metricsURL := regexp.MustCompile(`msg=metrics url=(\S+)`).FindStringSubmatch(server.log.String())
	if metricsURL == nil {
		t.Fatalf("no metrics listener in the log:\n%s", server.log)
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := get(metricsURL[1]); status != http.StatusOK || !strings.Contains(body, "customerservice_sql_statements_per_request") {
		t.Errorf("%s: %d %.200s", metricsURL[1], status, body)
	}
	if status, _ := get(server.url + "/metrics"); status != http.StatusNotFound {
		t.Errorf("/metrics beside the API: %d, want 404", status)
	}
}
