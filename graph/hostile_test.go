package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"customerservice/graph"
	"customerservice/httpserver"
)

// hostileShape builds a document meant to make the server work before it
// runs anything, at a size n: the shapes a review used to take the server
// down, and their relatives.
type hostileShape struct {
	name  string
	sizes []int
	// answerable is a shape development mode may answer with data, within
	// the budgets: introspection is on there, and bounded.
	answerable bool
	// doc returns the document and its variables.
	doc func(n int) (string, map[string]any)
}

func repeat(n int, f func(i int) string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(f(i))
		b.WriteByte(' ')
	}
	return b.String()
}

func noVars(doc string) (string, map[string]any) { return doc, nil }

var hostileShapes = []hostileShape{
	{"fragment fan-out", []int{12, 16, 20, 26, 40, 64}, false, func(n int) (string, map[string]any) {
		// Each fragment spreads the next twice: 2^n fields once expanded.
		return noVars("{ __typename ...F0 } " + repeat(n, func(i int) string {
			return fmt.Sprintf("fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
		}) + fmt.Sprintf("fragment F%d on Query { __typename }", n))
	}},
	{"same-name aliases", []int{100, 800, 1600, 10_000}, false, func(n int) (string, map[string]any) {
		return noVars("{ " + repeat(n, func(i int) string {
			if i%2 == 0 {
				return "x: me { id }"
			}
			return "x: __typename"
		}) + "}")
	}},
	{"same field, other arguments", []int{100, 400, 1200}, false, func(n int) (string, map[string]any) {
		return noVars("{ " + repeat(n, func(i int) string { return fmt.Sprintf(`customer(id: "%d") { id }`, i) }) + "}")
	}},
	{"fields spread from many fragments", []int{50, 200, 600}, false, func(n int) (string, map[string]any) {
		return noVars("{ " + repeat(n, func(i int) string { return fmt.Sprintf("...F%d", i) }) + "} " +
			repeat(n, func(i int) string { return fmt.Sprintf(`fragment F%d on Query { customer(id: "%d") { id } }`, i, i) }))
	}},
	{"one fragment spread many times", []int{1000, 3000}, false, func(n int) (string, map[string]any) {
		return noVars("{ " + repeat(n, func(int) string { return "...F" }) + "} fragment F on Query { me { id email } }")
	}},
	{"repeated directives", []int{100, 1000, 2000}, false, func(n int) (string, map[string]any) {
		return noVars("{ __typename " + repeat(n, func(int) string { return "@skip(if: false)" }) + "}")
	}},
	{"unknown directives", []int{100, 1000, 3000}, false, func(n int) (string, map[string]any) {
		return noVars("{ __typename " + repeat(n, func(i int) string { return fmt.Sprintf("@d%d", i) }) + "}")
	}},
	{"unused fragments", []int{100, 1000, 2000}, false, func(n int) (string, map[string]any) {
		return noVars("{ __typename } " + repeat(n, func(i int) string { return fmt.Sprintf("fragment F%d on Query { __typename }", i) }))
	}},
	{"unused variables", []int{100, 1000, 2000}, false, func(n int) (string, map[string]any) {
		return noVars("query (" + repeat(n, func(i int) string { return fmt.Sprintf("$v%d: Int", i) }) + ") { __typename }")
	}},
	{"variable values", []int{1000, 10_000, 50_000}, false, func(n int) (string, map[string]any) {
		metadata := map[string]any{}
		for i := range n {
			metadata[fmt.Sprintf("k%d", i)] = []any{i, "v", map[string]any{"x": nil}}
		}
		return `query ($f: CustomerFilter) { customers(filter: $f) { count } }`, map[string]any{"f": map[string]any{"q": "a", "metadata": metadata}}
	}},
	{"unknown fields", []int{100, 1000, 3000}, false, func(n int) (string, map[string]any) {
		return noVars("{ " + repeat(n, func(i int) string { return fmt.Sprintf("customerz%d", i) }) + "}")
	}},
	{"unknown arguments", []int{100, 1000, 2000}, false, func(n int) (string, map[string]any) {
		return noVars("{ customers(" + repeat(n, func(i int) string { return fmt.Sprintf("limt%d: 1", i) }) + ") { count } }")
	}},
	{"nesting", []int{100, 1000, 3000}, false, func(n int) (string, map[string]any) {
		return noVars("{ me " + strings.Repeat("{ orders { items { customer ", n) + "{ id" + strings.Repeat(" } } }", n) + " } }")
	}},
	{"nested lists", []int{2, 3, 4}, false, func(n int) (string, map[string]any) {
		return noVars("{ customers(limit: 100) { items { " + strings.Repeat("orders(limit: 100) { items { customer { ", n) +
			"id" + strings.Repeat(" } } }", n) + " } } }")
	}},
	{"introspection", []int{1, 2, 3}, true, func(n int) (string, map[string]any) {
		return noVars("{ __schema { types { " + strings.Repeat("fields { type { ", n) + "name" + strings.Repeat(" } }", n) + " } } }")
	}},
}

// cpuTime is the CPU this process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// hostileResult is what one hostile request cost the server.
type hostileResult struct {
	status int
	codes  []string
	size   int
	cpu    time.Duration
	wall   time.Duration
}

// sendHostile posts a document anonymously over real HTTP and measures
// the process's CPU and the answer. A run over the CPU budget is tried
// twice more and the best kept, so that a collector cycle of another
// test's garbage does not count.
func sendHostile(tb testing.TB, url, doc string, vars map[string]any) hostileResult {
	tb.Helper()
	body, err := json.Marshal(map[string]any{"query": doc, "variables": vars})
	if err != nil {
		tb.Fatal(err)
	}
	var best hostileResult
	for try := range 3 {
		cpu0, start := cpuTime(tb), time.Now()
		resp, err := http.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			tb.Fatal(err)
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			tb.Fatal(err)
		}
		r := hostileResult{status: resp.StatusCode, size: len(out), cpu: cpuTime(tb) - cpu0, wall: time.Since(start)}
		var decoded response
		if err := json.Unmarshal(out, &decoded); err != nil {
			tb.Fatalf("not a GraphQL response (%d): %.300s", resp.StatusCode, out)
		}
		for _, e := range decoded.Errors {
			r.codes = append(r.codes, fmt.Sprint(e.Extensions["code"]))
		}
		if try == 0 || r.cpu < best.cpu {
			best = r
		}
		if best.cpu <= hostileCPU {
			break
		}
	}
	return best
}

// limitCodes are the answers a hostile document may get: refusals for its
// shape or size, or plain invalid data.
var limitCodes = map[string]bool{
	"QUERY_TOO_DEEP": true, "TOO_MANY_ALIASES": true, "QUERY_TOO_LARGE": true, "QUERY_TOO_COMPLEX": true,
	"INVALID_DATA": true, "TOO_MANY_ERRORS": true, "INTROSPECTION_DISABLED": true, "PAYLOAD_TOO_LARGE": true,
}

// Budgets a hostile request must stay within, whatever its size.
const (
	hostileCPU    = 100 * time.Millisecond
	hostileAnswer = 64 << 10
	// hostileErrors is the longest error list: 20 errors and the one that
	// says more were cut.
	hostileErrors = 21
)

// TestHostileDocuments sends documents built to exhaust the server before
// execution, at growing sizes, in development and production mode: each is
// refused with a limit error, cheaply, with a short answer. It is not
// parallel, so the process's CPU is the requests'.
func TestHostileDocuments(t *testing.T) {
	a := seeded(t, 3, time.Now())
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	modes := map[string]bool{"development": false, "production": true}
	for _, mode := range []string{"development", "production"} {
		production := modes[mode]
		srv := httptest.NewServer(httpserver.New(httpserver.Config{DB: a.pool, Logger: logger, Production: production,
			GraphQL: graph.NewHandler(a.pool, graph.Options{Auth: a.auth, Logger: logger, Production: production})}))
		t.Cleanup(srv.Close)
		url := srv.URL + "/graphql"
		for _, shape := range hostileShapes {
			failed := false
			for _, n := range shape.sizes {
				if failed {
					t.Logf("%-11s %-36s n=%-6d skipped: a smaller size took ten times the budget", mode, shape.name, n)
					continue
				}
				doc, vars := shape.doc(n)
				r := sendHostile(t, url, doc, vars)
				t.Logf("%-11s %-36s n=%-6d %7d B doc  %4d %-24s %3d errors %8d B answer  cpu %8v  wall %8v",
					mode, shape.name, n, len(doc), r.status, first(r.codes), len(r.codes), r.size, r.cpu.Round(time.Microsecond), r.wall.Round(time.Microsecond))
				if answered := len(r.codes) == 0 && r.status == http.StatusOK; answered && !(shape.answerable && !production) {
					t.Errorf("%s %s n=%d: answered, want a limit error", mode, shape.name, n)
				} else if !answered && !limitCodes[r.codes[0]] {
					t.Errorf("%s %s n=%d: codes %v, want a limit error", mode, shape.name, n, r.codes)
				}
				if len(r.codes) == hostileErrors && r.codes[hostileErrors-1] != "TOO_MANY_ERRORS" {
					t.Errorf("%s %s n=%d: a cut list ends with %s, want TOO_MANY_ERRORS", mode, shape.name, n, r.codes[hostileErrors-1])
				}
				if len(r.codes) > hostileErrors {
					t.Errorf("%s %s n=%d: %d errors, want at most %d", mode, shape.name, n, len(r.codes), hostileErrors)
				}
				if r.size > hostileAnswer {
					t.Errorf("%s %s n=%d: a %d-byte answer, want at most %d", mode, shape.name, n, r.size, hostileAnswer)
				}
				if r.cpu > hostileCPU {
					t.Errorf("%s %s n=%d: %v of CPU, want at most %v", mode, shape.name, n, r.cpu, hostileCPU)
				}
				// A size ten times over the budget: the larger ones would only
				// take longer to say the same.
				failed = r.cpu > 10*hostileCPU
			}
		}
	}
}

// TestHostileDocumentsConcurrently sends the largest of every shape from
// eight clients at once: the server answers them all within the budget of
// each, and an honest query sent meanwhile is answered.
func TestHostileDocumentsConcurrently(t *testing.T) {
	a := seeded(t, 3, time.Now())
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(httpserver.New(httpserver.Config{DB: a.pool, Logger: logger, Production: true,
		GraphQL: graph.NewHandler(a.pool, graph.Options{Auth: a.auth, Logger: logger, Production: true})}))
	defer srv.Close()
	var bodies [][]byte
	for _, shape := range hostileShapes {
		doc, vars := shape.doc(shape.sizes[len(shape.sizes)-1])
		b, _ := json.Marshal(map[string]any{"query": doc, "variables": vars})
		bodies = append(bodies, b)
	}
	const clients = 8
	cpu0, start := cpuTime(t), time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range bodies {
				resp, err := http.Post(srv.URL+"/graphql", "application/json", bytes.NewReader(bodies[(i+c)%len(bodies)]))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	cpu, wall := cpuTime(t)-cpu0, time.Since(start)
	requests := clients * len(bodies)
	t.Logf("%d hostile requests from %d clients: %v of CPU (%v each), %v wall", requests, clients, cpu, cpu/time.Duration(requests), wall)
	if cpu > time.Duration(requests)*hostileCPU {
		t.Errorf("%v of CPU for %d requests, want at most %v each", cpu, requests, hostileCPU)
	}
	honest := a.as("").do(`{ __typename }`, nil)
	if len(honest.Errors) != 0 {
		t.Errorf("an honest query after the burst: %+v", honest.Errors)
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return s[0]
}
