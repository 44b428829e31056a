package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"customerservice/db/dbtest"
	"customerservice/gqlws"
)

// startPgBouncer runs Debian's PgBouncer in transaction mode in front of
// the database at dbURL, with two server connections for the whole pool so
// that every client's transactions hop between them, and returns the URL
// of the same database through it.
func startPgBouncer(t *testing.T, dbURL string) string {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		bin = "/usr/sbin/pgbouncer"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CUSTOMERSERVICE_REQUIRE_PGBOUNCER") != "" {
			t.Fatal("pgbouncer is not installed (apt-get install pgbouncer; .ci/run does)")
		}
		t.Skip("pgbouncer is not installed (apt-get install pgbouncer; .ci/run does)")
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := u.User.Password()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	// A folder of its own that PgBouncer's user can read (t.TempDir's
	// parent is the test's only).
	dir, err := os.MkdirTemp("", "pgbouncer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	config := fmt.Sprintf(`[databases]
* = host=%s port=%s user=%s password=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = 2
max_client_conn = 500
ignore_startup_parameters = extra_float_digits
server_reset_query =
`, u.Hostname(), u.Port(), u.User.Username(), password, port)
	path := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, path)
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if os.Getuid() == 0 { // PgBouncer refuses to run as root
		account, err := user.Lookup("postgres")
		if err != nil {
			account, err = user.Lookup("nobody")
		}
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(account.Uid)
		gid, _ := strconv.Atoi(account.Gid)
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncer did not start:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	pooled := *u
	pooled.Host = fmt.Sprintf("127.0.0.1:%d", port)
	return pooled.String()
}

// TestBehindPgBouncer runs the server behind PgBouncer in transaction mode
// (DATABASE_POOLER=transaction, migrations and LISTEN over
// DATABASE_DIRECT_URL) with 20 connections of its own sharing PgBouncer's
// two, and sends it a mixed load from 10 clients at once: queries with
// parameters, writes, keyed writes in one transaction, logins, and a
// subscription fed by LISTEN. Every answer must be right. The same server
// without the setting, which keeps statements prepared on connections
// PgBouncer does not keep for it, fails.
func TestBehindPgBouncer(t *testing.T) {
	direct := dbtest.URL(t)
	pooled := startPgBouncer(t, direct)
	secret := "a token secret of at least thirty-two bytes"
	common := []string{"DATA_DIR=" + t.TempDir(), "TOKEN_SECRET=" + secret, "DEMO_CUSTOMERS=0", "DB_MAX_CONNS=20"}
	in := startInstances(t, 1, append(common, "DATABASE_URL="+pooled, "DATABASE_DIRECT_URL="+direct, "DATABASE_POOLER=transaction")...)

	ctx := context.Background()
	pool, admin := adminOn(t, direct, secret)

	// A subscription, whose events come through the direct connection's
	// LISTEN.
	var watched struct{ ID string }
	json.Unmarshal(in.do(0, admin.Token, "", `mutation { create_customer(input: {email: "watched@example.com", metadata: {tier: "gold"}}) { id } }`, nil).Data["create_customer"], &watched)
	conn, err := gqlws.Dial(ctx, in.servers[0].url+"/graphql", "Bearer "+admin.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if err := conn.Subscribe(ctx, "s", `subscription ($c: ID!) { customer_events(customer_id: $c, types: ["customer.updated"]) { id } }`,
		map[string]any{"c": watched.ID}); err != nil {
		t.Fatal(err)
	}

	load := func(in *instances) (failed []string) {
		var mu sync.Mutex
		fail := func(what string, a gqlAnswer) {
			mu.Lock()
			defer mu.Unlock()
			failed = append(failed, what+": "+a.body)
		}
		together(10, func(w int) {
			for i := range 8 {
				email := fmt.Sprintf("pooled-%d-%d@example.com", w, i)
				var c struct{ ID string }
				a := in.do(0, admin.Token, "", `mutation ($e: String!) { create_customer(input: {email: $e, first_name: "Pat", metadata: {n: 1}}) { id } }`, map[string]any{"e": email})
				if json.Unmarshal(a.Data["create_customer"], &c); a.code() != "" || c.ID == "" {
					fail("create_customer", a)
					continue
				}
				a = in.do(0, admin.Token, "", `query ($q: String!, $id: ID!) { customers(filter: {q: $q}, limit: 5) { count items { id email } } customer(id: $id) { id email metadata addresses { id } } }`,
					map[string]any{"q": email, "id": c.ID})
				if a.code() != "" || !strings.Contains(a.body, `"count":1`) || !strings.Contains(a.body, `"metadata":{"n":1}`) {
					fail("customers", a)
				}
				a = in.do(0, "", fmt.Sprintf("key-%d-%d", w, i), `mutation ($e: String!) { place_order(input: {email: $e, currency_code: "usd", shipping_address: {address_1: "1 Main St", city: "Springfield"}, items: [{title: "Tea", quantity: 2, unit_price: 350}]}) { id total } }`, map[string]any{"e": email})
				if a.code() != "" || !strings.Contains(a.body, `"total":700`) {
					fail("place_order", a)
				}
				a = in.do(0, admin.Token, "", `mutation ($c: ID!, $n: String!) { update_customer(id: $c, input: {last_name: $n}) { id } }`,
					map[string]any{"c": watched.ID, "n": fmt.Sprintf("Change %d-%d", w, i)})
				if a.code() != "" {
					fail("update_customer", a)
				}
			}
		})
		return failed
	}

	if failed := load(in); len(failed) > 0 {
		t.Errorf("%d requests failed behind PgBouncer in transaction mode, the first: %s", len(failed), failed[0])
	}
	var orders, customers int
	pool.Get(&orders, `SELECT count(*) FROM orders WHERE email LIKE 'pooled-%'`)
	pool.Get(&customers, `SELECT count(*) FROM customer WHERE email LIKE 'pooled-%' AND has_account`)
	if orders != 80 {
		t.Errorf("%d orders, want 80", orders)
	}
	for got := 0; got < 80; got++ {
		readCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := conn.Read(readCtx)
		cancel()
		if err != nil || m.Type != "next" {
			t.Fatalf("the subscription had %d events of 80, then %v %v", got, m, err)
		}
	}

	// Without DATABASE_POOLER=transaction: named statements prepared on one
	// server connection are asked for on the other.
	unaware := startInstances(t, 1, append(common, "DATABASE_URL="+pooled, "DATABASE_DIRECT_URL="+direct)...)
	failed := load(unaware)
	cause := regexp.MustCompile(`pq: [^\\"]*\\"[^\\]*\\" [a-z ]+`).FindString(unaware.servers[0].log.String())
	t.Logf("without DATABASE_POOLER=transaction, %d requests of 320 failed; the server logged %s", len(failed), cause)
	if len(failed) == 0 {
		t.Error("the server kept statements prepared behind a transaction pooler without failing: this test no longer shows what the setting is for")
	}
}
