package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"customerservice/auth"
	"customerservice/db"
	"customerservice/db/dbtest"
	"customerservice/gqlws"
	"customerservice/graph"
	"customerservice/httpserver"
	"customerservice/live"
)

// liveAPI is the API with subscriptions, served by a real HTTP server
// whose hub listens to its test database.
type liveAPI struct {
	*api
	url      string
	hub      *live.Hub
	registry *prometheus.Registry
	// stop stops the hub, as a server shutting down does.
	stop func()
}

// newLive starts the API with a hub; hubOptions and options adjust them.
func newLive(tb testing.TB, hubOptions func(*live.Options), options ...func(*graph.Options)) *liveAPI {
	tb.Helper()
	dsn := dbtest.URL(tb)
	pool, err := db.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { pool.Close() })
	logger := slog.New(slog.DiscardHandler)
	hasher, err := auth.NewHasher()
	if err != nil {
		tb.Fatal(err)
	}
	tokens, err := auth.NewTokens([]byte("a test secret of at least 32 bytes!!"), time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	svc := &auth.Service{DB: pool, Hasher: hasher, Tokens: tokens}
	registry := prometheus.NewRegistry()
	hopts := live.Options{DB: pool, DSN: dsn, Logger: logger, Registry: registry}
	if hubOptions != nil {
		hubOptions(&hopts)
	}
	hub := live.NewHub(hopts)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); hub.Run(ctx) }()
	stop := func() { cancel(); <-stopped }
	tb.Cleanup(stop)
	select {
	case <-hub.Listening():
	case <-time.After(10 * time.Second):
		tb.Fatal("the hub does not listen")
	}
	opts := graph.Options{Auth: svc, Logger: logger, Hub: hub}
	for _, o := range options {
		o(&opts)
	}
	web := httpserver.New(httpserver.Config{DB: pool, GraphQL: graph.NewHandler(pool, opts), Logger: logger, Registry: registry})
	srv := httptest.NewServer(web)
	tb.Cleanup(srv.Close)
	a := &api{tb: tb, pool: pool, auth: svc, h: web}
	user, err := svc.CreateUser(context.Background(), "admin@example.com", "admin password", nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	a.adminID = user.ID
	a.token = a.login("USER", "admin@example.com", "admin password")
	l := &liveAPI{api: a, url: srv.URL + "/graphql", hub: hub, registry: registry, stop: stop}
	// The admin's events are out before a test subscribes.
	l.settle(tb)
	return l
}

// settle waits until the hub has delivered every event committed so far:
// a subscription made then starts after them.
func (l *liveAPI) settle(tb testing.TB) {
	tb.Helper()
	last, err := db.LastEventSeq(context.Background(), l.pool)
	if err != nil {
		tb.Fatal(err)
	}
	waitFor(tb, "the hub to deliver the log", func() bool { return l.hub.Newest() >= last })
}

// subscribed waits until n subscriptions run.
func (l *liveAPI) subscribed(tb testing.TB, n int) {
	tb.Helper()
	waitFor(tb, fmt.Sprint(n, " subscriptions"), func() bool { return testutil.ToFloat64(l.hub.Metrics().Subscriptions) == float64(n) })
}

func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dial connects with token, which must be accepted.
func (l *liveAPI) dial(tb testing.TB, token string) *gqlws.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := gqlws.Dial(ctx, l.url, "Bearer "+token, nil)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	tb.Cleanup(func() { c.CloseNow() })
	return c
}

// refused dials with the payload and returns the close code and reason the
// server refused the connection with.
func (l *liveAPI) refused(tb testing.TB, payload map[string]any) (int, string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := gqlws.Dial(ctx, l.url, "", &gqlws.Options{Payload: payload})
	if err == nil {
		c.CloseNow()
		tb.Fatalf("connection_init %v was accepted", payload)
	}
	return gqlws.CloseStatus(err), gqlws.CloseReason(err)
}

// liveEvent is an event as a subscriber reads it.
type liveEvent struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	CustomerID *string        `json:"customer_id"`
	Changes    map[string]any `json:"changes"`
}

const liveFields = `{ id type customer_id changes }`

func subscribe(tb testing.TB, c *gqlws.Conn, id, query string, vars map[string]any) {
	tb.Helper()
	if err := c.Subscribe(context.Background(), id, query, vars); err != nil {
		tb.Fatalf("subscribe: %v", err)
	}
}

// read returns the next message, waiting at most 10 seconds.
func read(tb testing.TB, c *gqlws.Conn) gqlws.Message {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := c.Read(ctx)
	if err != nil {
		tb.Fatalf("read: %v", err)
	}
	return m
}

// nextEvent reads the next message, which must be an event of subscription
// id under field.
func nextEvent(tb testing.TB, c *gqlws.Conn, id, field string) liveEvent {
	tb.Helper()
	m := read(tb, c)
	if m.Type != "next" || m.ID != id {
		tb.Fatalf("got %s %s %s, want the next event of %s", m.Type, m.ID, m.Payload, id)
	}
	var r struct {
		Data   map[string]liveEvent `json:"data"`
		Errors []gqlError           `json:"errors"`
	}
	if err := json.Unmarshal(m.Payload, &r); err != nil || len(r.Errors) > 0 {
		tb.Fatalf("event %s: %v %+v", m.Payload, err, r.Errors)
	}
	return r.Data[field]
}

// refusal reads the answer to a subscription refused before it runs: a
// next message with errors, then complete, or an error message. It returns
// the first error.
func refusal(tb testing.TB, c *gqlws.Conn, id string) gqlError {
	tb.Helper()
	m := read(tb, c)
	var errs []gqlError
	switch m.Type {
	case "next":
		var r struct{ Errors []gqlError }
		json.Unmarshal(m.Payload, &r)
		errs = r.Errors
		if done := read(tb, c); done.Type != "complete" || done.ID != id {
			tb.Fatalf("after the refusal: %s %s, want complete", done.Type, done.ID)
		}
	case "error":
		json.Unmarshal(m.Payload, &errs)
	}
	if m.ID != id || len(errs) == 0 {
		tb.Fatalf("got %s %s %s, want the refusal of %s", m.Type, m.ID, m.Payload, id)
	}
	for _, e := range errs {
		checkNoLeak(tb, e)
	}
	return errs[0]
}

func (l *liveAPI) rename(tb testing.TB, id, name string) {
	tb.Helper()
	l.mutate(`mutation ($id: ID!, $n: String) { update_customer(id: $id, input: {first_name: $n}) { id } }`,
		map[string]any{"id": id, "n": name})
}

// mutate runs a mutation that must succeed.
func (l *liveAPI) mutate(query string, vars map[string]any) {
	l.tb.Helper()
	if resp := l.do(query, vars); len(resp.Errors) > 0 {
		l.tb.Fatalf("%s: %+v", query, resp.Errors)
	}
}

func TestSubscriptionAuthentication(t *testing.T) {
	t.Parallel()
	l := newLive(t, nil)
	customerToken, _ := l.signUp("shopper@example.com", "shopper password")

	for name, payload := range map[string]map[string]any{
		"no payload":      nil,
		"no token":        {"Authorization": ""},
		"not bearer":      {"Authorization": "Basic " + l.token},
		"a bad token":     {"Authorization": "Bearer not.a.token"},
		"a token of past": {"Authorization": "Bearer " + expiredToken(t, l.auth)},
	} {
		code, reason := l.refused(t, payload)
		if code != 4403 || !strings.HasPrefix(reason, "Forbidden") {
			t.Errorf("%s: closed with %d %q, want 4403 Forbidden", name, code, reason)
		}
	}
	// The lower-case key works too (graphql-ws clients pass headers as
	// they are named).
	ctx := context.Background()
	c, err := gqlws.Dial(ctx, l.url, "", &gqlws.Options{Payload: map[string]any{"authorization": "Bearer " + customerToken}})
	if err != nil {
		t.Fatalf("lower-case authorization: %v", err)
	}
	c.CloseNow()
}

func TestSubscriptionOriginCheck(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, c := range []struct {
		allowed []string
		origin  string
		want    int
	}{
		{[]string{"https://shop.example"}, "https://shop.example", http.StatusTeapot},
		{[]string{"https://shop.example"}, "https://evil.example", http.StatusForbidden},
		{[]string{"*"}, "https://evil.example", http.StatusTeapot},
		{nil, "http://example.com", http.StatusTeapot}, // the server's own (httptest's Host)
		{nil, "https://evil.example", http.StatusForbidden},
		{nil, "", http.StatusTeapot}, // not a browser
	} {
		web := httpserver.New(httpserver.Config{DB: pool, GraphQL: handler, CORSOrigins: c.allowed, Logger: slog.New(slog.DiscardHandler)})
		req := httptest.NewRequest(http.MethodGet, "/graphql", nil)
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Connection", "Upgrade")
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		rec := httptest.NewRecorder()
		web.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("allowed %v, origin %q: status %d, want %d", c.allowed, c.origin, rec.Code, c.want)
		}
	}
}

// expiredToken returns a well-signed token that expired.
func expiredToken(tb testing.TB, svc *auth.Service) string {
	tb.Helper()
	tokens, err := auth.NewTokens([]byte("a test secret of at least 32 bytes!!"), -time.Minute)
	if err != nil {
		tb.Fatal(err)
	}
	tok, _, err := tokens.Issue(auth.Actor{Type: auth.User, ID: "user_x", IdentityID: "authid_x"})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func TestSubscriptionAuthorization(t *testing.T) {
	t.Parallel()
	l := newLive(t, nil)
	aliceToken, alice := l.signUp("alice@example.com", "alice password")
	_, bob := l.signUp("bob@example.com", "bob password")
	c := l.dial(t, aliceToken)

	// A customer may not subscribe to the admins' log.
	subscribe(t, c, "1", `subscription { customer_events `+liveFields+` }`, nil)
	if e := refusal(t, c, "1"); e.Extensions["code"] != "NOT_ALLOWED" {
		t.Errorf("customer_events as a customer: %+v, want NOT_ALLOWED", e)
	}
	// Nor run a query or a mutation over the socket: they go by HTTP.
	subscribe(t, c, "2", `{ me { id } }`, nil)
	if e := refusal(t, c, "2"); e.Extensions["code"] != "INVALID_DATA" || !strings.Contains(e.Message, "HTTP POST") {
		t.Errorf("a query over the socket: %+v, want INVALID_DATA", e)
	}
	// And a subscription sent by HTTP is refused, not left hanging.
	if e := l.fail(`subscription { customer_events { id } }`, nil); e.Extensions["code"] != "INVALID_DATA" || !strings.Contains(e.Message, "WebSocket") {
		t.Errorf("a subscription by POST: %+v, want INVALID_DATA", e)
	}

	// my_events shows Alice her own events, not Bob's.
	l.settle(t)
	subscribe(t, c, "3", `subscription { my_events `+liveFields+` }`, nil)
	l.subscribed(t, 1)
	l.rename(t, bob, "Bobby")
	l.rename(t, alice, "Ally")
	e := nextEvent(t, c, "3", "my_events")
	if e.Type != "customer.updated" || e.CustomerID == nil || *e.CustomerID != alice {
		t.Errorf("Alice got %+v, want her own customer.updated", e)
	}
	// An admin sees both, and filters by customer and type.
	l.settle(t)
	admin := l.dial(t, l.token)
	subscribe(t, admin, "all", `subscription { customer_events `+liveFields+` }`, nil)
	subscribe(t, admin, "bob", `subscription ($id: ID) { customer_events(customer_id: $id, types: ["customer.updated"]) `+liveFields+` }`,
		map[string]any{"id": bob})
	l.subscribed(t, 3)
	l.rename(t, alice, "Alice")
	l.rename(t, bob, "Bob")
	got := map[string][]string{}
	for range 3 {
		m := read(t, admin)
		var r struct{ Data map[string]liveEvent }
		json.Unmarshal(m.Payload, &r)
		got[m.ID] = append(got[m.ID], *r.Data["customer_events"].CustomerID)
	}
	if fmt.Sprint(got["all"]) != fmt.Sprint([]string{alice, bob}) || fmt.Sprint(got["bob"]) != fmt.Sprint([]string{bob}) {
		t.Errorf("admin got %v, want all: [alice bob], bob: [bob]", got)
	}
}

func TestSubscriptionEndsWhenTheTokenIsRevoked(t *testing.T) {
	t.Parallel()
	l := newLive(t, nil)
	token, id := l.signUp("leaving@example.com", "leaving password")
	c := l.dial(t, token)
	l.settle(t)
	subscribe(t, c, "1", `subscription { my_events `+liveFields+` }`, nil)
	l.subscribed(t, 1)
	l.mutate(`mutation ($id: ID!) { delete_customer(id: $id) { id } }`, map[string]any{"id": id})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := c.Read(ctx)
		if err != nil {
			if code := gqlws.CloseStatus(err); code != 4403 {
				t.Fatalf("closed with %d (%v), want 4403", code, err)
			}
			break
		}
		if m.Type != "next" {
			t.Logf("before the close: %s %s", m.Type, m.Payload)
		}
	}
	// And the token opens no new connection.
	if code, _ := l.refused(t, map[string]any{"Authorization": "Bearer " + token}); code != 4403 {
		t.Errorf("the revoked token connects again: closed with %d, want 4403", code)
	}
}

func TestSubscriptionLimits(t *testing.T) {
	t.Parallel()
	l := newLive(t, nil, func(o *graph.Options) {
		o.Sockets = graph.DefaultSocketLimits()
		o.Sockets.PerConnection = 3
		o.Sockets.PerActor = 2
	})
	c := l.dial(t, l.token)
	for i := range 3 {
		subscribe(t, c, fmt.Sprint(i), `subscription { customer_events { id } }`, nil)
	}
	// Subscriptions start concurrently: the 4th is the one sent once three
	// run.
	l.subscribed(t, 3)
	subscribe(t, c, "4th", `subscription { customer_events { id } }`, nil)
	if e := refusal(t, c, "4th"); e.Extensions["code"] != "RATE_LIMITED" || !strings.Contains(e.Message, "at most 3") {
		t.Errorf("a 4th subscription: %+v, want RATE_LIMITED", e)
	}
	// One ended makes room for another.
	if err := c.Complete(context.Background(), "0"); err != nil {
		t.Fatal(err)
	}
	if m := read(t, c); m.Type != "complete" || m.ID != "0" {
		t.Fatalf("after complete: %s %s", m.Type, m.ID)
	}
	l.subscribed(t, 2)
	subscribe(t, c, "again", `subscription { customer_events { id } }`, nil)
	l.subscribed(t, 3)
	// The document budget holds for subscriptions too.
	aliases := ""
	for i := range 16 {
		aliases += fmt.Sprintf(" a%d: id", i)
	}
	subscribe(t, c, "wide", `subscription { customer_events {`+aliases+` } }`, nil)
	if e := refusal(t, c, "wide"); e.Extensions["code"] != "TOO_MANY_ALIASES" {
		t.Errorf("16 aliases: %+v, want TOO_MANY_ALIASES", e)
	}
	subscribe(t, c, "bad", `subscription { customer_events(after: "42") { id } }`, nil)
	if e := refusal(t, c, "bad"); e.Extensions["code"] != "INVALID_DATA" || e.Extensions["field"] != "after" {
		t.Errorf("after: \"42\": %+v, want INVALID_DATA on after", e)
	}

	l.dial(t, l.token)
	if code, reason := l.refused(t, map[string]any{"Authorization": "Bearer " + l.token}); code != 4429 || !strings.Contains(reason, "at most 2") {
		t.Errorf("a 3rd connection: closed with %d %q, want 4429", code, reason)
	}
	if got := testutil.ToFloat64(l.hub.Metrics().Connections); got != 2 {
		t.Errorf("connections gauge = %v, want 2", got)
	}
}

func TestSubscriptionsInProduction(t *testing.T) {
	t.Parallel()
	const doc = `subscription { customer_events { id type } }`
	const create = `mutation { create_customer(input: {email: "prod@example.com"}) { id } }`
	l := newLive(t, nil, func(o *graph.Options) {
		o.Production = true
		o.TrustedDocuments = map[string]string{"events": doc, "create": create, "login": apiLoginQ}
	})
	c := l.dial(t, l.token)
	subscribe(t, c, "own", `subscription { customer_events { id } }`, nil)
	if e := refusal(t, c, "own"); e.Extensions["code"] != "PERSISTED_QUERY_NOT_IN_LIST" {
		t.Errorf("a document outside the manifest: %+v, want PERSISTED_QUERY_NOT_IN_LIST", e)
	}
	subscribe(t, c, "text", doc, nil)
	l.subscribed(t, 1)
	l.mutate(create, nil)
	for {
		m := read(t, c)
		if m.ID == "text" {
			if m.Type != "next" {
				t.Fatalf("the manifest's document: %s %s", m.Type, m.Payload)
			}
			break
		}
	}
}

func TestSubscriptionResumesAfterAnEvent(t *testing.T) {
	t.Parallel()
	l := newLive(t, nil)
	token, id := l.signUp("resume@example.com", "resume password")
	const q = `subscription ($after: ID) { my_events(after: $after) ` + liveFields + ` }`
	c := l.dial(t, token)
	l.settle(t)
	subscribe(t, c, "1", q, nil)
	l.subscribed(t, 1)
	l.rename(t, id, "one")
	l.rename(t, id, "two")
	nextEvent(t, c, "1", "my_events")
	last := nextEvent(t, c, "1", "my_events")
	c.CloseNow()

	// Missed while away.
	l.rename(t, id, "three")
	l.rename(t, id, "four")
	c = l.dial(t, token)
	subscribe(t, c, "2", q, map[string]any{"after": last.ID})
	// Live ones may come while the replay runs: none is lost or doubled at
	// the seam.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, n := range []string{"five", "six", "seven"} {
			l.rename(t, id, n)
		}
	}()
	var names []string
	prev := last.ID
	for range 5 {
		e := nextEvent(t, c, "2", "my_events")
		if e.ID <= prev {
			t.Errorf("event %s after %s: out of order or doubled", e.ID, prev)
		}
		prev = e.ID
		names = append(names, fmt.Sprint(e.Changes["first_name"].(map[string]any)["to"]))
	}
	<-done
	if got := strings.Join(names, " "); got != "three four five six seven" {
		t.Errorf("resumed with %q, want three four five six seven", got)
	}
}

func TestSlowSubscriberIsDropped(t *testing.T) {
	t.Parallel()
	l := newLive(t, func(o *live.Options) { o.SendBuffer = 4 }, func(o *graph.Options) {
		o.Sockets = graph.DefaultSocketLimits()
		o.Sockets.WriteTimeout = time.Minute
	})
	_, id := l.signUp("big@example.com", "big password")
	// A client that reads slowly, on a network that holds little: small
	// socket buffers both ends, and no reads while the events come.
	srv := httptest.NewUnstartedServer(l.h)
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	defer srv.Close()
	dialer := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	ctx := context.Background()
	c, err := gqlws.Dial(ctx, srv.URL+"/graphql", "Bearer "+l.token, &gqlws.Options{HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	l.settle(t)
	subscribe(t, c, "slow", `subscription ($id: ID) { customer_events(customer_id: $id) { id changes } }`, map[string]any{"id": id})
	subscribe(t, c, "other", `subscription { customer_events(types: ["customer_group.created"]) { id } }`, nil)
	l.subscribed(t, 2)
	// Each event carries 15 KiB of metadata, twice (from and to).
	const total = 80
	big := strings.Repeat("x", 15<<10)
	for i := range total {
		l.mutate(`mutation ($id: ID!, $m: JSON) { update_customer(id: $id, input: {metadata: $m}) { id } }`,
			map[string]any{"id": id, "m": map[string]any{"blob": fmt.Sprint(i, big)}})
	}
	// Now read: what was sent, then the subscription's end.
	var events int
	var end gqlws.Message
	for end.Type == "" {
		m := read(t, c)
		switch {
		case m.ID == "slow" && m.Type == "next":
			events++
		case m.ID == "slow":
			end = m
		}
	}
	var errs []gqlError
	json.Unmarshal(end.Payload, &errs)
	if end.Type != "error" || len(errs) != 1 || errs[0].Extensions["code"] != "RATE_LIMITED" || !strings.Contains(errs[0].Message, "fell more than 4 events behind") {
		t.Fatalf("the slow subscription ended with %s %s, want an error RATE_LIMITED", end.Type, end.Payload)
	}
	if events >= total {
		t.Errorf("%d events came before the drop; the buffer holds 4", events)
	}
	t.Logf("%d of %d events came before the subscription was dropped", events, total)
	// The connection and its other subscription go on.
	l.mutate(`mutation { create_customer_group(input: {name: "after"}) { id } }`, nil)
	if m := read(t, c); m.ID != "other" || m.Type != "next" {
		t.Errorf("after the drop: %s %s %s, want the other subscription's event", m.ID, m.Type, m.Payload)
	}
}

// TestListenerCatchesUpAfterReconnecting cuts the hub's listening
// connection: what is committed until it is back comes all the same.
func TestListenerCatchesUpAfterReconnecting(t *testing.T) {
	t.Parallel()
	l := newLive(t, nil)
	c := l.dial(t, l.token)
	subscribe(t, c, "1", `subscription { customer_events(types: ["customer.created"]) `+liveFields+` }`, nil)
	l.subscribed(t, 1)
	var want []string
	for i := range 6 {
		if i == 2 {
			var n int
			if err := l.pool.Get(&n, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE application_name = 'customerservice-events' AND datname = current_database()`); err != nil || n != 1 {
				t.Fatalf("terminate the listener: %d, %v", n, err)
			}
		}
		var got struct {
			C struct{ ID string } `json:"create_customer"`
		}
		l.query(fmt.Sprintf(`mutation { create_customer(input: {email: "c%d@example.com"}) { id } }`, i), nil, &got)
		want = append(want, got.C.ID)
	}
	for _, id := range want {
		if e := nextEvent(t, c, "1", "customer_events"); e.Type != "customer.created" || e.CustomerID == nil || *e.CustomerID != id {
			t.Errorf("got %+v, want the creation of %s", e, id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if m, err := c.Read(ctx); err == nil {
		t.Errorf("an extra message: %s %s", m.Type, m.Payload)
	}
}

// apiLoginQ is the text api.login sends, for a manifest that must let it
// run.
const apiLoginQ = `mutation ($t: ActorType!, $e: String!, $p: String!) { login(actor_type: $t, email: $e, password: $p) { token } }`

// smallBuffers is a listener whose connections have a small send buffer,
// as a slow network would leave them.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestSocketsCloseWhenTheServerStops: an HTTP server's shutdown leaves
// hijacked connections be, so the hub's end closes them, with 1001, which
// tells a client to connect again (to another server).
func TestSocketsCloseWhenTheServerStops(t *testing.T) {
	t.Parallel()
	l := newLive(t, nil)
	c := l.dial(t, l.token)
	subscribe(t, c, "1", `subscription { customer_events { id } }`, nil)
	l.subscribed(t, 1)
	l.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, err := c.Read(ctx)
		if err != nil {
			if code := gqlws.CloseStatus(err); code != 1001 {
				t.Fatalf("closed with %d (%v), want 1001", code, err)
			}
			break
		}
	}
	// The close reaches the client before the server's goroutines have
	// released the subscription, under load visibly so.
	waitFor(t, "the subscription to be released", func() bool { return testutil.ToFloat64(l.hub.Metrics().Subscriptions) == 0 })
	waitFor(t, "the connection to be released", func() bool { return testutil.ToFloat64(l.hub.Metrics().Connections) == 0 })
	// And a new connection is refused.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if c, err := gqlws.Dial(ctx2, l.url, "Bearer "+l.token, nil); err == nil {
		c.CloseNow()
		t.Error("a connection was accepted after the stop")
	}
}

// TestSubscriptionTakesABurst: a bulk change writes its events at once (a
// group's members added in one call); a subscriber that reads as they come
// gets them all, though they arrive faster than any socket sends.
func TestSubscriptionTakesABurst(t *testing.T) {
	t.Parallel()
	l := newLive(t, nil)
	const n = 300
	ids := make([]string, n)
	for i := range ids {
		var got struct {
			C struct{ ID string } `json:"create_customer"`
		}
		l.query(fmt.Sprintf(`mutation { create_customer(input: {email: "burst%d@example.com"}) { id } }`, i), nil, &got)
		ids[i] = got.C.ID
	}
	var group struct {
		G struct{ ID string } `json:"create_customer_group"`
	}
	l.query(`mutation { create_customer_group(input: {name: "Burst"}) { id } }`, nil, &group)
	l.settle(t)
	c := l.dial(t, l.token)
	subscribe(t, c, "1", `subscription { customer_events(types: ["customer_group.customer_added"]) { id customer_id } }`, nil)
	l.subscribed(t, 1)
	l.mutate(`mutation ($g: ID!, $ids: [ID!]!) { add_customers_to_group(group_id: $g, customer_ids: $ids) { id } }`,
		map[string]any{"g": group.G.ID, "ids": ids})
	seen := map[string]bool{}
	for range n {
		e := nextEvent(t, c, "1", "customer_events")
		seen[*e.CustomerID] = true
	}
	if len(seen) != n {
		t.Errorf("%d customers' events of %d", len(seen), n)
	}
}

// TestBrokenHandshakes: an upgrade that is no WebSocket handshake is
// refused with a code, as the endpoint's other refusals; another Upgrade
// (h2c) is an ordinary request.
func TestBrokenHandshakes(t *testing.T) {
	t.Parallel()
	l := newLive(t, nil)
	for _, c := range []struct {
		name    string
		headers map[string]string
		status  int
	}{
		{"no Connection: Upgrade", map[string]string{"Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, http.StatusBadRequest},
		{"an old version", map[string]string{"Upgrade": "websocket", "Connection": "keep-alive, Upgrade", "Sec-WebSocket-Version": "8", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, http.StatusUpgradeRequired},
		{"no key", map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}, http.StatusBadRequest},
	} {
		req := httptest.NewRequest(http.MethodGet, "/graphql", nil)
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		l.h.ServeHTTP(rec, req)
		var body struct{ Errors []gqlError }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != c.status || len(body.Errors) != 1 ||
			body.Errors[0].Extensions["code"] != "INVALID_DATA" {
			t.Errorf("%s: %d %s, want %d with INVALID_DATA", c.name, rec.Code, rec.Body, c.status)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/graphql?query=%7B__typename%7D", nil)
	req.Header.Set("Upgrade", "h2c")
	req.Header.Set("Connection", "Upgrade")
	rec := httptest.NewRecorder()
	l.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"__typename":"Query"`) {
		t.Errorf("a GET with Upgrade: h2c: %d %s, want the query's answer", rec.Code, rec.Body)
	}
}
