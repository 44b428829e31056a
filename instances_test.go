package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"customerservice/auth"
	"customerservice/db"
	"customerservice/db/dbtest"
	"customerservice/gqlws"
)

// instances is several server processes on one database, and a client
// that spreads its requests over them as a load balancer would.
type instances struct {
	t       *testing.T
	servers []*serverProcess
	client  *http.Client
}

func startInstances(t *testing.T, n int, env ...string) *instances {
	t.Helper()
	in := &instances{t: t, client: &http.Client{Timeout: 20 * time.Second}}
	for range n {
		in.servers = append(in.servers, startServer(t, env...))
	}
	t.Cleanup(func() {
		for _, s := range in.servers {
			s.cmd.Process.Signal(syscall.SIGTERM)
			s.cmd.Wait()
		}
	})
	return in
}

// adminOn opens a pool on the database at url, closed with the test, and
// creates an admin user there whose token the servers signing with secret
// accept.
func adminOn(t *testing.T, url, secret string) (*sqlx.DB, auth.Token) {
	t.Helper()
	ctx := context.Background()
	pool, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	svc, err := authService(config{tokenSecret: secret, tokenTTL: time.Hour}, pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, "ops@example.com", "ops password", nil, nil); err != nil {
		t.Fatal(err)
	}
	admin, err := svc.Login(ctx, auth.User, "ops@example.com", "ops password")
	if err != nil {
		t.Fatal(err)
	}
	return pool, admin
}

// gqlAnswer is a GraphQL answer with its errors' codes.
type gqlAnswer struct {
	body     string
	Data     map[string]json.RawMessage `json:"data"`
	Errors   []struct{ Extensions struct{ Code string } }
	replayed bool
}

func (a gqlAnswer) code() string {
	if len(a.Errors) == 0 {
		return ""
	}
	return a.Errors[0].Extensions.Code
}

// do sends a GraphQL request to server i (modulo their number).
func (in *instances) do(i int, token, key, query string, vars map[string]any) gqlAnswer {
	in.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest("POST", in.servers[i%len(in.servers)].url+"/graphql", strings.NewReader(string(body)))
	if err != nil {
		in.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Errorf("server %d: %v", i%len(in.servers), err)
		return gqlAnswer{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := gqlAnswer{body: string(b), replayed: resp.Header.Get("Idempotent-Replayed") == "true"}
	if err := json.Unmarshal(b, &a); err != nil {
		in.t.Errorf("server %d answered %d %s", i%len(in.servers), resp.StatusCode, b)
	}
	return a
}

// together runs f(0) ... f(n-1) at once, released together, and waits.
func together(n int, f func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-start
			f(i)
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// mails returns, for each recipient, how many mails with subject the
// servers' log senders wrote, and their bodies.
func (in *instances) mails(subject string) (count map[string]int, bodies map[string][]string) {
	count, bodies = map[string]int{}, map[string][]string{}
	line := regexp.MustCompile(`msg="email \(not sent[^"]*" to=(\S+) subject=("[^"]*"|\S+) body="((?:[^"\\]|\\.)*)"`)
	for _, s := range in.servers {
		for _, m := range line.FindAllStringSubmatch(s.log.String(), -1) {
			if strings.Trim(m[2], `"`) != subject {
				continue
			}
			count[m[1]]++
			bodies[m[1]] = append(bodies[m[1]], m[3])
		}
	}
	return count, bodies
}

// TestThreeInstancesKeepEveryGuarantee runs three server processes on one
// database, as behind a load balancer, and sends the races that a single
// server settles in its own memory, if it kept anything there, to all
// three at once: every guarantee is the database's, so each holds across
// them.
func TestThreeInstancesKeepEveryGuarantee(t *testing.T) {
	url := dbtest.URL(t)
	secret := "a token secret of at least thirty-two bytes"
	in := startInstances(t, 3, "DATABASE_URL="+url, "DATA_DIR="+t.TempDir(), "TOKEN_SECRET="+secret, "DEMO_CUSTOMERS=0")

	ctx := context.Background()
	pool, admin := adminOn(t, url, secret)
	const contenders = 30

	t.Run("email uniqueness", func(t *testing.T) {
		created := make([]string, contenders)
		together(contenders, func(i int) {
			email := "Same@Example.com"
			if i%2 == 1 {
				email = "same@EXAMPLE.com"
			}
			a := in.do(i, admin.Token, "", `mutation ($e: String!) { create_customer(input: {email: $e}) { id } }`, map[string]any{"e": email})
			switch a.code() {
			case "":
				created[i] = "created"
			case "DUPLICATE_ERROR":
			default:
				t.Errorf("create_customer %d: %s", i, a.body)
			}
		})
		if n := countOf(created, "created"); n != 1 {
			t.Errorf("%d customers created for one email in two letter cases, want 1", n)
		}
		registered := make([]string, contenders)
		together(contenders, func(i int) {
			a := in.do(i, "", "", `mutation { register(actor_type: CUSTOMER, email: "twice@example.com", password: "a long password") { token } }`, nil)
			if a.code() == "" {
				registered[i] = "registered"
			} else if a.code() != "UNAUTHORIZED" {
				t.Errorf("register %d: %s", i, a.body)
			}
		})
		if n := countOf(registered, "registered"); n != 1 {
			t.Errorf("%d identities registered for one email, want 1", n)
		}
	})

	t.Run("one default address", func(t *testing.T) {
		var c struct{ ID string }
		a := in.do(0, admin.Token, "", `mutation { create_customer(input: {email: "home@example.com"}) { id } }`, nil)
		json.Unmarshal(a.Data["create_customer"], &c)
		together(contenders, func(i int) {
			a := in.do(i, admin.Token, "", `mutation ($c: ID!, $a: String!) { create_customer_address(customer_id: $c, input: {address_1: $a, city: "Springfield", is_default_shipping: true, is_default_billing: true}) { id } }`,
				map[string]any{"c": c.ID, "a": fmt.Sprintf("%d Main St", i)})
			if a.code() != "" {
				t.Errorf("create_customer_address %d: %s", i, a.body)
			}
		})
		var shipping, billing, all int
		pool.Get(&all, `SELECT count(*) FROM customer_address WHERE customer_id = $1`, c.ID)
		pool.Get(&shipping, `SELECT count(*) FROM customer_address WHERE customer_id = $1 AND is_default_shipping`, c.ID)
		pool.Get(&billing, `SELECT count(*) FROM customer_address WHERE customer_id = $1 AND is_default_billing`, c.ID)
		if all != contenders || shipping != 1 || billing != 1 {
			t.Errorf("%d addresses, %d default shipping, %d default billing; want %d, 1, 1", all, shipping, billing, contenders)
		}
	})

	t.Run("idempotency keys", func(t *testing.T) {
		answers := make([]gqlAnswer, contenders)
		together(contenders, func(i int) {
			answers[i] = in.do(i, "", "one-order", `mutation { place_order(input: {email: "keyed@example.com", currency_code: "usd", items: [{title: "Tea", quantity: 1, unit_price: 350}]}) { id } }`, nil)
		})
		var orders int
		pool.Get(&orders, `SELECT count(*) FROM orders WHERE email = 'keyed@example.com'`)
		if orders != 1 {
			t.Errorf("%d orders for one Idempotency-Key sent to three servers at once, want 1", orders)
		}
		replayed := 0
		for i, a := range answers {
			if a.code() != "" || a.body != answers[0].body {
				t.Errorf("answer %d: %s, want the one answer %s", i, a.body, answers[0].body)
			}
			if a.replayed {
				replayed++
			}
		}
		if replayed != contenders-1 {
			t.Errorf("%d answers replayed, want %d", replayed, contenders-1)
		}
	})

	t.Run("login throttling", func(t *testing.T) {
		in.do(0, "", "", `mutation { register(actor_type: CUSTOMER, email: "guessed@example.com", password: "the right password") { token } }`, nil)
		limited := make([]string, contenders)
		together(contenders, func(i int) {
			a := in.do(i, "", "", `mutation { login(actor_type: CUSTOMER, email: "guessed@example.com", password: "a wrong guess") { token } }`, nil)
			limited[i] = a.code()
		})
		// One address and one account: 10 checks in 15 minutes, whichever
		// server they reach.
		if checked := countOf(limited, "UNAUTHORIZED"); checked != 10 || countOf(limited, "RATE_LIMITED") != contenders-10 {
			t.Errorf("answers %v: %d passwords checked, want 10 and the rest RATE_LIMITED", limited, checked)
		}
	})

	t.Run("single-use tokens and the outbox", func(t *testing.T) {
		const identities = 12
		for i := range identities {
			email := fmt.Sprintf("reset%d@example.com", i)
			in.do(i, "", "", `mutation ($e: String!) { register(actor_type: CUSTOMER, email: $e, password: "the first password") { token } }`, map[string]any{"e": email})
			in.do(i+1, "", "", `mutation ($e: String!) { request_password_reset(actor_type: CUSTOMER, email: $e) }`, map[string]any{"e": email})
		}
		// Each server's jobs queue the mails and its dispatcher sends
		// them; every mail must go out once, from one of the three.
		var count map[string]int
		var bodies map[string][]string
		deadline := time.Now().Add(30 * time.Second)
		for {
			count, bodies = in.mails("Reset your password")
			if len(count) >= identities || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(2 * time.Second) // time for a second sending, were there one
		count, bodies = in.mails("Reset your password")
		for i := range identities {
			email := fmt.Sprintf("reset%d@example.com", i)
			if count[email] != 1 {
				t.Errorf("%s got %d mails, want 1", email, count[email])
			}
		}
		token := regexp.MustCompile(`[A-Za-z0-9_-]{20,}`).FindString(strings.Join(bodies["reset0@example.com"], " "))
		if token == "" {
			t.Fatalf("no token in the mail: %v", bodies["reset0@example.com"])
		}
		used := make([]string, contenders)
		together(contenders, func(i int) {
			a := in.do(i, "", "", `mutation ($t: String!, $p: String!) { reset_password(token: $t, password: $p) }`,
				map[string]any{"t": token, "p": fmt.Sprintf("new password %d", i)})
			used[i] = a.code()
		})
		if n := countOf(used, ""); n != 1 {
			t.Errorf("a reset token used %d times on three servers (answers %v), want once", n, used)
		}
	})

	t.Run("event delivery", func(t *testing.T) {
		var c struct{ ID string }
		json.Unmarshal(in.do(0, admin.Token, "", `mutation { create_customer(input: {email: "watched@example.com"}) { id } }`, nil).Data["create_customer"], &c)
		dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		// Each subscription starts after the customer's creation: what
		// happens before its server registers it is replayed from the log,
		// and nothing twice.
		var created int64
		pool.Get(&created, `SELECT max(seq) FROM event WHERE customer_id = $1`, c.ID)
		var conns []*gqlws.Conn
		for i, s := range in.servers {
			conn, err := gqlws.Dial(dialCtx, s.url+"/graphql", "Bearer "+admin.Token, nil)
			if err != nil {
				t.Fatalf("server %d: %v", i, err)
			}
			defer conn.CloseNow()
			if err := conn.Subscribe(dialCtx, "s", `subscription ($c: ID!, $after: ID) { customer_events(customer_id: $c, types: ["customer.updated"], after: $after) { id changes } }`,
				map[string]any{"c": c.ID, "after": fmt.Sprintf("evt_%016d", created)}); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, conn)
		}
		const changes = 30
		together(changes, func(i int) {
			a := in.do(i, admin.Token, "", `mutation ($c: ID!, $n: String!) { update_customer(id: $c, input: {first_name: $n}) { id } }`,
				map[string]any{"c": c.ID, "n": fmt.Sprintf("Name %d", i)})
			if a.code() != "" {
				t.Errorf("update %d: %s", i, a.body)
			}
		})
		var seqs []int64
		pool.Select(&seqs, `SELECT seq FROM event WHERE customer_id = $1 AND type = 'customer.updated' ORDER BY seq`, c.ID)
		var logged []string
		for _, seq := range seqs {
			logged = append(logged, fmt.Sprintf("evt_%016d", seq))
		}
		for i, conn := range conns {
			var got []string
			readCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			for len(got) < len(logged) {
				m, err := conn.Read(readCtx)
				if err != nil {
					break
				}
				var r struct {
					Data struct {
						E struct{ ID string } `json:"customer_events"`
					}
				}
				json.Unmarshal(m.Payload, &r)
				got = append(got, r.Data.E.ID)
			}
			cancel()
			if strings.Join(got, ",") != strings.Join(logged, ",") {
				t.Errorf("server %d delivered %d events %v, want the log's %d in its order %v", i, len(got), got, len(logged), logged)
			}
		}
		if len(logged) != changes {
			t.Errorf("%d events logged for %d changes", len(logged), changes)
		}
	})
}

func countOf(answers []string, want string) int {
	n := 0
	for _, a := range answers {
		if a == want {
			n++
		}
	}
	return n
}
