package httpserver_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"

	"customerservice/db"
	"customerservice/db/dbtest"
	"customerservice/httpserver"
)

// acting is a handler that acts once per call: it inserts a row through
// the request's connection (the shared transaction of a keyed request)
// and answers with its number, or with the answer the request asks for.
type acting struct {
	pool *sqlx.DB
	mu   sync.Mutex
	n    int
}

func (a *acting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.n++
	n := a.n
	a.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Query  string
		Answer struct {
			Status int
			Code   string
			Raw    string
		}
	}
	json.Unmarshal(body, &req)
	if _, err := db.Conn(r.Context(), a.pool).ExecContext(r.Context(),
		`INSERT INTO customer_group (id, name) VALUES ($1, $2)`, db.NewID(db.PrefixGroup), fmt.Sprintf("act %d %s", n, req.Query)); err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	switch {
	case req.Answer.Raw != "":
		w.Write([]byte(req.Answer.Raw))
	case req.Answer.Status != 0:
		w.WriteHeader(req.Answer.Status)
		fmt.Fprintf(w, `{"data":{"act":%d}}`, n)
	case req.Answer.Code != "":
		fmt.Fprintf(w, `{"data":{"act":%d},"errors":[{"message":"x","extensions":{"code":"INVALID_DATA"}},{"message":"y","extensions":{"code":%q}}]}`, n, req.Answer.Code)
	default:
		fmt.Fprintf(w, `{"data":{"act":%d}}`, n)
	}
}

// kept counts the rows the handler's acts left.
func (a *acting) kept(tb testing.TB, query string) int {
	tb.Helper()
	var n int
	if err := a.pool.Get(&n, `SELECT count(*) FROM customer_group WHERE name LIKE '%' || $1`, " "+query); err != nil {
		tb.Fatal(err)
	}
	return n
}

func idempotencySurface(tb testing.TB) (*httpserver.Server, *acting) {
	tb.Helper()
	pool := dbtest.New(tb)
	h := &acting{pool: pool}
	s, _ := surface(tb, h, func(c *httpserver.Config) { c.DB = pool })
	return s, h
}

func keyed(body, key, authorization string) *http.Request {
	r := post(body, "Idempotency-Key", key)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	return r
}

// A keyed POST acts once: a retry gets the kept answer, marked replayed,
// with its status and content type; the same key with another body is a
// CONFLICT; a GET is never kept.
func TestIdempotencyKeyActsOnce(t *testing.T) {
	t.Parallel()
	s, h := idempotencySurface(t)
	first := serve(t, s, keyed(`{"query":"once"}`, "k1", ""))
	again := serve(t, s, keyed(`{"query":"once"}`, "k1", ""))
	if first.status != 200 || first.body != again.body || again.status != 200 {
		t.Errorf("first %d %s, retry %d %s", first.status, first.body, again.status, again.body)
	}
	if again.header.Get("Idempotent-Replayed") != "true" || first.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("Idempotent-Replayed: first %q, retry %q", first.header.Get("Idempotent-Replayed"), again.header.Get("Idempotent-Replayed"))
	}
	if ct := again.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("replayed Content-Type %q", ct)
	}
	if n := h.kept(t, "once"); n != 1 {
		t.Errorf("acted %d times, want once", n)
	}
	conflict := serve(t, s, keyed(`{"query":"other"}`, "k1", ""))
	if conflict.status != 409 || conflict.code != "CONFLICT" {
		t.Errorf("the key with another body: %d %s", conflict.status, conflict.body)
	}
	if n := h.kept(t, "other"); n != 0 {
		t.Errorf("the conflicting body acted %d times", n)
	}
	// A status the handler chose is kept with the answer.
	created := serve(t, s, keyed(`{"query":"teapot","answer":{"status":418}}`, "k2", ""))
	replayed := serve(t, s, keyed(`{"query":"teapot","answer":{"status":418}}`, "k2", ""))
	if created.status != 418 || replayed.status != 418 || replayed.body != created.body {
		t.Errorf("a 418 answer: %d, replayed %d %s", created.status, replayed.status, replayed.body)
	}
	// Without a key, or over GET, every request acts.
	serve(t, s, post(`{"query":"unkeyed"}`))
	serve(t, s, post(`{"query":"unkeyed"}`))
	get := func() {
		serve(t, s, func() *http.Request {
			r := post(`{"query":"get"}`, "Idempotency-Key", "k3")
			r.Method = http.MethodGet
			return r
		}())
	}
	get()
	get()
	if n, m := h.kept(t, "unkeyed"), h.kept(t, "get"); n != 2 || m != 2 {
		t.Errorf("unkeyed POSTs acted %d times, keyed GETs %d; want 2 each", n, m)
	}
}

// Keys are 1 to 255 printable ASCII characters: space and tilde are in,
// control characters, DEL and anything beyond ASCII are out.
func TestIdempotencyKeyBounds(t *testing.T) {
	t.Parallel()
	s, h := idempotencySurface(t)
	for i, tt := range []struct {
		key string
		ok  bool
	}{
		{strings.Repeat("k", 255), true},
		{strings.Repeat("k", 256), false},
		{"a key with spaces ~", true},
		{"!", true},
		{"tab\there", false},
		{"del\x7f", false},
		{"\x1f", false},
		{"café", false},
	} {
		body := fmt.Sprintf(`{"query":"bound%d"}`, i)
		got := serve(t, s, keyed(body, tt.key, ""))
		if tt.ok && got.status != 200 {
			t.Errorf("key %q: %d %s, want it accepted", tt.key, got.status, got.body)
		}
		if !tt.ok && (got.status != 400 || got.code != "INVALID_DATA" || !strings.Contains(got.body, "1 to 255 printable ASCII characters")) {
			t.Errorf("key %q: %d %s, want 400 INVALID_DATA", tt.key, got.status, got.body)
		}
		want := 0
		if tt.ok {
			want = 1
		}
		if n := h.kept(t, fmt.Sprintf("bound%d", i)); n != want {
			t.Errorf("key %q: acted %d times, want %d", tt.key, n, want)
		}
	}
}

// An answer that failed on the server's side is not kept and what the
// request did is rolled back, wherever the error is in the answer, so the
// retry acts; an error of the client's is kept like any answer.
func TestIdempotencyFailedOnOurSide(t *testing.T) {
	t.Parallel()
	s, h := idempotencySurface(t)
	for _, tt := range []struct {
		code   string
		status int
	}{
		{"INTERNAL", 500},
		{"TIMEOUT", 503},
		{"SERVICE_UNAVAILABLE", 503},
		{"CANCELLED", 503},
	} {
		body := fmt.Sprintf(`{"query":"%s","answer":{"code":%q}}`, tt.code, tt.code)
		for try := range 2 {
			got := serve(t, s, keyed(body, "key-"+tt.code, ""))
			if got.status != tt.status || got.code != tt.code || got.header.Get("Idempotent-Replayed") != "" {
				t.Errorf("%s, try %d: %d %s, want %d %s", tt.code, try, got.status, got.body, tt.status, tt.code)
			}
			if !strings.Contains(got.body, "nothing it did was kept") {
				t.Errorf("%s: %s", tt.code, got.body)
			}
		}
		if n := h.kept(t, tt.code); n != 0 {
			t.Errorf("%s: %d acts kept, want every one rolled back", tt.code, n)
		}
	}
	// A 5xx the handler wrote itself goes to the client as it is, and is
	// not kept either.
	body := `{"query":"fivehundred","answer":{"status":502}}`
	for range 2 {
		if got := serve(t, s, keyed(body, "key-502", "")); got.status != 502 || got.header.Get("Idempotent-Replayed") != "" {
			t.Errorf("a 502: %d %v", got.status, got.header)
		}
	}
	if n := h.kept(t, "fivehundred"); n != 0 {
		t.Errorf("a 502's act was kept %d times", n)
	}
	// The client's own mistakes are answers like others.
	body = `{"query":"clientfault","answer":{"code":"NOT_FOUND"}}`
	first := serve(t, s, keyed(body, "key-client", ""))
	again := serve(t, s, keyed(body, "key-client", ""))
	if first.status != 200 || again.header.Get("Idempotent-Replayed") != "true" || h.kept(t, "clientfault") != 1 {
		t.Errorf("a NOT_FOUND answer: %d, replayed %q, acts %d", first.status, again.header.Get("Idempotent-Replayed"), h.kept(t, "clientfault"))
	}
	// An answer that is not JSON has no error of ours in it.
	body = `{"query":"raw","answer":{"raw":"not json"}}`
	serve(t, s, keyed(body, "key-raw", ""))
	if got := serve(t, s, keyed(body, "key-raw", "")); got.body != "not json" || got.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("a raw answer: %q %v", got.body, got.header)
	}
}

// The store being unreachable is SERVICE_UNAVAILABLE, and nothing runs.
func TestIdempotencyWithoutTheStore(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	h := &acting{pool: pool}
	s, log := surface(t, h, func(c *httpserver.Config) { c.DB = pool })
	pool.Close()
	got := serve(t, s, keyed(`{"query":"down"}`, "k", ""))
	if got.status != 500 && got.status != 503 {
		t.Errorf("with the store closed: %d %s", got.status, got.body)
	}
	if h.n != 0 {
		t.Errorf("the handler ran %d times without its transaction", h.n)
	}
	if !strings.Contains(log.String(), "idempotency key") {
		t.Errorf("not logged: %s", log.String())
	}
}

// Keys are scoped to the caller's credentials. Callers with different
// tokens who pick the same key for the same body, all at once and each
// retrying, must each act exactly once and only ever see their own answer:
// a key scoped to the body alone would replay one caller's answer (its
// token, its order) to another.
func TestIdempotencyKeysAreScopedByCredentials(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	h := &callerEcho{pool: pool}
	s, _ := surface(t, h, func(c *httpserver.Config) { c.DB = pool })
	const callers, retries = 6, 3
	type result struct {
		caller string
		answer answer
	}
	results := make(chan result, callers*retries)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for c := range callers {
		caller := fmt.Sprintf("Bearer token-of-caller-%d", c)
		for range retries {
			ready.Add(1)
			done.Go(func() {
				r := keyed(`{"query":"mutation { place_order }"}`, "the-same-key", caller)
				ready.Done()
				<-start // all released together, so they contend for the key
				results <- result{caller, serve(t, s, r)}
			})
		}
	}
	ready.Wait()
	close(start)
	done.Wait()
	close(results)
	replayed := 0
	for r := range results {
		var body struct {
			Data struct{ Caller string }
		}
		json.Unmarshal([]byte(r.answer.body), &body)
		if r.answer.status != 200 || body.Data.Caller != r.caller {
			t.Errorf("%s was answered %d %s", r.caller, r.answer.status, r.answer.body)
		}
		if r.answer.header.Get("Idempotent-Replayed") == "true" {
			replayed++
		}
	}
	for c := range callers {
		caller := fmt.Sprintf("Bearer token-of-caller-%d", c)
		var n int
		if err := pool.Get(&n, `SELECT count(*) FROM customer_group WHERE name = $1`, caller); err != nil || n != 1 {
			t.Errorf("%s acted %d times (%v), want once", caller, n, err)
		}
	}
	if replayed != callers*(retries-1) {
		t.Errorf("%d answers replayed, want %d: each caller's retries", replayed, callers*(retries-1))
	}
}

// callerEcho acts once per call, recording who called, and answers with
// the caller's Authorization header.
type callerEcho struct{ pool *sqlx.DB }

func (e *callerEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	caller := r.Header.Get("Authorization")
	if _, err := db.Conn(r.Context(), e.pool).ExecContext(r.Context(),
		`INSERT INTO customer_group (id, name) VALUES ($1, $2)`, db.NewID(db.PrefixGroup), caller); err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"caller": caller}})
}
