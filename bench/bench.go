// Package bench drives a running server over HTTP with concurrent clients
// on named scenarios, and reports throughput, latency percentiles, errors,
// SQL statements per request and the server's resident memory (the last
// two read from the server's /metrics).
package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is one run.
type Config struct {
	// URL is the server's base URL, e.g. http://localhost:8080.
	URL         string
	Scenario    string
	Concurrency int
	// Duration bounds the run; Requests, when set, bounds it too.
	Duration time.Duration
	Requests int
	// AdminToken and CustomerToken authorize the scenarios' requests.
	AdminToken    string
	CustomerToken string
}

// Result is what a run measured.
type Result struct {
	Scenario             string  `json:"scenario"`
	Concurrency          int     `json:"concurrency"`
	Requests             int     `json:"requests"`
	Errors               int     `json:"errors"`
	Seconds              float64 `json:"seconds"`
	RequestsPerSecond    float64 `json:"requests_per_second"`
	P50Ms                float64 `json:"p50_ms"`
	P90Ms                float64 `json:"p90_ms"`
	P99Ms                float64 `json:"p99_ms"`
	StatementsPerRequest float64 `json:"sql_statements_per_request"`
	ServerRSSMB          float64 `json:"server_rss_mb"`
	FirstError           string  `json:"first_error,omitempty"`
}

// Scenarios lists the scenario names.
func Scenarios() []string {
	return []string{"headline-20", "headline-100", "customer", "search", "group-members", "me", "mixed", "stats-sort", "stats-filter", "place-order", "rule-group-members"}
}

// Headline is the list page of db/seed/DATASET.md: the query the headline
// scenarios send, and the one Baseline answers without GraphQL.
const Headline = `query ($limit: Int!) { customers(limit: $limit) { count items { id email addresses { id } groups { id } orders { count } } } }`

const customerQuery = `query ($id: ID!) { customer(id: $id) {
	id email first_name last_name phone has_account created_at
	groups { id name } addresses { id address_1 city country_code } billing_address { id city } shipping_addresses { id }
	orders(limit: 5) { count items { id display_id total status created_at items { id title quantity unit_price total } } }
} }`

const searchQuery = `query ($q: String!) { customers(filter: {q: $q}, limit: 20) { count items { id email first_name last_name } } }`

const membersQuery = `query ($id: ID!, $offset: Int!) { customer_group(id: $id) { name customers(limit: 20, offset: $offset) { count items { id email } } } }`

const meQuery = `{ me { id email first_name addresses { id city } billing_address { id } orders(limit: 5) { count items { id total items { title } } } } }`

const updateQuery = `mutation ($id: ID!, $name: String!) { update_customer(id: $id, input: {first_name: $name}) { id updated_at } }`

const placeOrderQuery = `mutation ($n: Int!) { place_order(input: {currency_code: "usd", items: [{title: "Bench item", quantity: 1, unit_price: $n}]}) { id total } }`

// statsSortQuery is issue 18's list by statistics: the customers with the
// most orders first, with their statistics.
const statsSortQuery = `query ($limit: Int!) { customers(limit: $limit, order: "-order_count") { count items { id email
	stats { order_count amount_spent(currency_code: "usd") last_order_at } } } }`

// statsFilterQuery filters by statistics and sorts by the last order.
const statsFilterQuery = `query ($n: Int!) { customers(limit: 20, order: "-last_order_at", filter: {order_count: {gte: $n}}) { count items { id email
	stats { order_count last_order_at } } } }`

// request is one GraphQL request of a scenario.
type request struct {
	query string
	vars  map[string]any
	token string
}

// Run drives the server and measures.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency}, Timeout: 30 * time.Second}
	d := &driver{cfg: cfg, client: client}
	next, err := d.scenario(ctx)
	if err != nil {
		return Result{}, err
	}
	// A few requests first, so caches and connections are warm.
	for i := range 10 {
		d.do(ctx, next(rand.New(rand.NewPCG(uint64(i), 0))))
	}
	statementsBefore, countBefore, _, _ := d.metrics(ctx)

	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var (
		sent     atomic.Int64
		errs     atomic.Int64
		mu       sync.Mutex
		lat      []time.Duration
		firstErr string
		wg       sync.WaitGroup
	)
	start := time.Now()
	for w := range cfg.Concurrency {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w)+100, 1))
			var mine []time.Duration
			for runCtx.Err() == nil {
				if cfg.Requests > 0 && sent.Add(1) > int64(cfg.Requests) {
					break
				}
				t0 := time.Now()
				err := d.do(runCtx, next(rng))
				if runCtx.Err() != nil && err != nil {
					break // cut off by the end of the run
				}
				mine = append(mine, time.Since(t0))
				if err != nil {
					if errs.Add(1) == 1 {
						mu.Lock()
						firstErr = err.Error()
						mu.Unlock()
					}
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	statementsAfter, countAfter, rss, _ := d.metrics(ctx)

	slices.Sort(lat)
	r := Result{
		Scenario: cfg.Scenario, Concurrency: cfg.Concurrency, Requests: len(lat), Errors: int(errs.Load()),
		Seconds: elapsed.Seconds(), RequestsPerSecond: float64(len(lat)) / elapsed.Seconds(),
		P50Ms: percentile(lat, 0.50), P90Ms: percentile(lat, 0.90), P99Ms: percentile(lat, 0.99),
		ServerRSSMB: rss / (1 << 20), FirstError: firstErr,
	}
	if n := countAfter - countBefore; n > 0 {
		r.StatementsPerRequest = (statementsAfter - statementsBefore) / n
	}
	return r, nil
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return float64(sorted[i].Microseconds()) / 1000
}

type driver struct {
	cfg    Config
	client *http.Client
}

// scenario prepares a scenario (looking up ids to ask for) and returns the
// function that makes its next request.
func (d *driver) scenario(ctx context.Context) (func(*rand.Rand) request, error) {
	admin, customer := d.cfg.AdminToken, d.cfg.CustomerToken
	switch d.cfg.Scenario {
	case "headline-20", "headline-100":
		limit := 20
		if d.cfg.Scenario == "headline-100" {
			limit = 100
		}
		return func(*rand.Rand) request { return request{Headline, map[string]any{"limit": limit}, admin} }, nil
	case "customer":
		ids, err := d.ids(ctx, `{ customers(limit: 100) { items { id } } }`, "customers")
		if err != nil {
			return nil, err
		}
		return func(r *rand.Rand) request {
			return request{customerQuery, map[string]any{"id": ids[r.IntN(len(ids))]}, admin}
		}, nil
	case "search":
		return func(r *rand.Rand) request {
			var q string
			switch r.IntN(3) {
			case 0:
				q = fmt.Sprintf("customer%d@", 1+r.IntN(10_000))
			case 1:
				q = fmt.Sprintf("Last%d", 1+r.IntN(10_000))
			default:
				q = fmt.Sprintf("555-%06d", 1+r.IntN(10_000))
			}
			return request{searchQuery, map[string]any{"q": q}, admin}
		}, nil
	case "group-members", "rule-group-members":
		kind := "STATIC"
		if d.cfg.Scenario == "rule-group-members" {
			kind = "RULES"
		}
		ids, err := d.ids(ctx, `{ customer_groups(limit: 20, filter: {kind: `+kind+`}) { items { id } } }`, "customer_groups")
		if err != nil {
			return nil, err
		}
		return func(r *rand.Rand) request {
			return request{membersQuery, map[string]any{"id": ids[r.IntN(len(ids))], "offset": 20 * r.IntN(50)}, admin}
		}, nil
	case "me":
		if customer == "" {
			return nil, errors.New("the me scenario needs a customer token")
		}
		return func(*rand.Rand) request { return request{meQuery, nil, customer} }, nil
	case "stats-sort":
		return func(*rand.Rand) request { return request{statsSortQuery, map[string]any{"limit": 20}, admin} }, nil
	case "stats-filter":
		return func(r *rand.Rand) request {
			return request{statsFilterQuery, map[string]any{"n": 3 + r.IntN(2)}, admin}
		}, nil
	case "place-order":
		if customer == "" {
			return nil, errors.New("the place-order scenario needs a customer token")
		}
		return func(r *rand.Rand) request {
			return request{placeOrderQuery, map[string]any{"n": 100 + r.IntN(10_000)}, customer}
		}, nil
	case "mixed":
		if customer == "" {
			return nil, errors.New("the mixed scenario needs a customer token")
		}
		ids, err := d.ids(ctx, `{ customers(limit: 100) { items { id } } }`, "customers")
		if err != nil {
			return nil, err
		}
		return func(r *rand.Rand) request {
			switch n := r.IntN(10); {
			case n < 8:
				return request{Headline, map[string]any{"limit": 20}, admin}
			case n == 8:
				return request{updateQuery, map[string]any{"id": ids[r.IntN(len(ids))], "name": fmt.Sprintf("Bench%d", r.IntN(1000))}, admin}
			default:
				return request{placeOrderQuery, map[string]any{"n": 100 + r.IntN(10_000)}, customer}
			}
		}, nil
	}
	return nil, fmt.Errorf("unknown scenario %q; use one of %s", d.cfg.Scenario, strings.Join(Scenarios(), ", "))
}

// ids runs a list query and returns the ids of its items.
func (d *driver) ids(ctx context.Context, query, field string) ([]string, error) {
	var out struct {
		Data map[string]struct {
			Items []struct{ ID string } `json:"items"`
		} `json:"data"`
	}
	if err := d.post(ctx, request{query, nil, d.cfg.AdminToken}, &out); err != nil {
		return nil, err
	}
	var ids []string
	for _, it := range out.Data[field].Items {
		ids = append(ids, it.ID)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("the server has no %s to ask for; seed it first", field)
	}
	return ids, nil
}

// do sends a request; an answer with errors is an error.
func (d *driver) do(ctx context.Context, req request) error {
	var out struct {
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := d.post(ctx, req, &out); err != nil {
		return err
	}
	if len(out.Errors) > 0 {
		return fmt.Errorf("%v: %s", out.Errors[0].Extensions["code"], out.Errors[0].Message)
	}
	return nil
}

func (d *driver) post(ctx context.Context, req request, out any) error {
	body, err := json.Marshal(map[string]any{"query": req.query, "variables": req.vars})
	if err != nil {
		return err
	}
	hreq, err := http.NewRequestWithContext(ctx, "POST", d.cfg.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	if req.token != "" {
		hreq.Header.Set("Authorization", "Bearer "+req.token)
	}
	resp, err := d.client.Do(hreq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// metrics reads the server's statement histogram and resident memory.
func (d *driver) metrics(ctx context.Context) (statementsSum, count, rssBytes float64, err error) {
	req, err := http.NewRequestWithContext(ctx, "GET", d.cfg.URL+"/metrics", nil)
	if err != nil {
		return 0, 0, 0, err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(value, 64)
		switch name {
		case "customerservice_sql_statements_per_request_sum":
			statementsSum = v
		case "customerservice_sql_statements_per_request_count":
			count = v
		case "process_resident_memory_bytes":
			rssBytes = v
		}
	}
	return statementsSum, count, rssBytes, sc.Err()
}

// Login returns a token for an email and password.
func Login(ctx context.Context, url, actorType, email, password string) (string, error) {
	d := &driver{cfg: Config{URL: url}, client: http.DefaultClient}
	var out struct {
		Data struct {
			Login struct{ Token string } `json:"login"`
		} `json:"data"`
		Errors []struct{ Message string } `json:"errors"`
	}
	q := `mutation ($t: ActorType!, $e: String!, $p: String!) { login(actor_type: $t, email: $e, password: $p) { token } }`
	if err := d.post(ctx, request{q, map[string]any{"t": actorType, "e": email, "p": password}, ""}, &out); err != nil {
		return "", err
	}
	if len(out.Errors) > 0 {
		return "", fmt.Errorf("login %s: %s", email, out.Errors[0].Message)
	}
	return out.Data.Login.Token, nil
}

// Print writes results as a table.
func Print(w io.Writer, results []Result) {
	fmt.Fprintf(w, "%-14s %4s %8s %7s %9s %8s %8s %8s %9s %8s\n", "scenario", "c", "requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "sql/req", "rss MB")
	for _, r := range results {
		fmt.Fprintf(w, "%-14s %4d %8d %7d %9.1f %8.2f %8.2f %8.2f %9.2f %8.1f\n", r.Scenario, r.Concurrency, r.Requests, r.Errors,
			r.RequestsPerSecond, r.P50Ms, r.P90Ms, r.P99Ms, r.StatementsPerRequest, r.ServerRSSMB)
		if r.FirstError != "" {
			fmt.Fprintf(w, "  first error: %s\n", r.FirstError)
		}
	}
}

// SignUp registers a customer with an account and returns its token, for
// a database whose dataset has no customer login.
func SignUp(ctx context.Context, url, email, password string) (string, error) {
	d := &driver{cfg: Config{URL: url}, client: http.DefaultClient}
	var reg struct {
		Data struct {
			Register struct{ Token string } `json:"register"`
		} `json:"data"`
		Errors []struct{ Message string } `json:"errors"`
	}
	q := `mutation ($e: String!, $p: String!) { register(actor_type: CUSTOMER, email: $e, password: $p) { token } }`
	if err := d.post(ctx, request{q, map[string]any{"e": email, "p": password}, ""}, &reg); err != nil {
		return "", err
	}
	if len(reg.Errors) > 0 {
		return "", fmt.Errorf("register %s: %s", email, reg.Errors[0].Message)
	}
	var acc struct {
		Data struct {
			Account struct {
				Token struct{ Token string } `json:"token"`
			} `json:"create_customer_account"`
		} `json:"data"`
		Errors []struct{ Message string } `json:"errors"`
	}
	q = `mutation ($e: String!) { create_customer_account(input: {email: $e}) { token { token } } }`
	if err := d.post(ctx, request{q, map[string]any{"e": email}, reg.Data.Register.Token}, &acc); err != nil {
		return "", err
	}
	if len(acc.Errors) > 0 {
		return "", fmt.Errorf("create the account of %s: %s", email, acc.Errors[0].Message)
	}
	return acc.Data.Account.Token.Token, nil
}
