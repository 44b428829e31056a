package graph_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Every limit of README's Security model at its boundary: the query at the
// limit runs, the query one past it is refused with the limit's code and
// without a statement. A limit lowered or raised by one fails here.
func TestLimitsAtTheirBoundaries(t *testing.T) {
	t.Parallel()
	a := seeded(t, 3, time.Now())

	// nest returns a query n fields deep: customers, items, then orders,
	// items, customer as often as it takes, ending in a scalar.
	nest := func(n int) string {
		path := []string{"customers(limit: 1)", "items"}
		for len(path) < n-1 {
			path = append(path, []string{"orders(limit: 1)", "items", "customer"}[(len(path)-2)%3])
		}
		return "{ " + strings.Join(path, " { ") + " { id" + strings.Repeat(" }", len(path)) + " }"
	}
	// nestFragments is nest with every level but the first two in a
	// fragment of its own.
	nestFragments := func(n int) string {
		fields := []string{"orders(limit: 1)", "items", "customer"}
		var frags strings.Builder
		levels := n - 3
		for i := range levels {
			inner := fmt.Sprintf("...F%d", i+1)
			if i == levels-1 {
				inner = "id"
			}
			typ := []string{"Customer", "OrderList", "Order"}[i%3]
			fmt.Fprintf(&frags, "fragment F%d on %s { %s { %s } }\n", i, typ, fields[i%3], inner)
		}
		return "{ customers(limit: 1) { items { ...F0 } } }\n" + frags.String()
	}
	aliases := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, " a%d: customers(limit: 1) { count }", i)
		}
		return b.String() + " }"
	}
	// fields selects n fields: customers, items and n-2 ids.
	fields := func(n int) string {
		return "{ customers(limit: 1) { items { " + strings.Repeat("id ", n-2) + "} } }"
	}
	// complexity costs n: customers(limit: 100) of 48 ids is
	// 1 + 100*(1+48) = 4901, and customers(limit: L) { count } is 1 + L.
	complexity := func(n int) string {
		return "{ customers(limit: 100) { items { " + strings.Repeat("id ", 48) + "} } b: customers(limit: " + fmt.Sprint(n-4901-1) + ") { count } }"
	}
	// tokens has n tokens: { customers ( filter : { id : [ ] } ) {
	// count } } are 16, and each id one more.
	tokens := func(n int) string {
		return `{ customers(filter: {id: [` + strings.Repeat(`"x" `, n-16) + `]}) { count } }`
	}
	for _, tt := range []struct {
		name          string
		query         func(int) string
		limit         int
		code, message string
	}{
		{"depth", nest, 12, "QUERY_TOO_DEEP", "the query nests 13 levels deep; the limit is 12"},
		{"depth through fragments", nestFragments, 12, "QUERY_TOO_DEEP", "the query nests 13 levels deep; the limit is 12"},
		{"aliases", aliases, 15, "TOO_MANY_ALIASES", "the query has 16 aliases; the limit is 15"},
		{"fields once spread", fields, 2_000, "QUERY_TOO_COMPLEX", "the query selects 2001 fields once its fragments are spread; the limit is 2000"},
		{"complexity", complexity, 5_000, "QUERY_TOO_COMPLEX", "the query has complexity 5001; the budget is 5000 (a list costs its limit times what it selects)"},
		{"parser tokens", tokens, 10_000, "QUERY_TOO_LARGE", ""},
	} {
		var ok struct{}
		a.query(tt.query(tt.limit), nil, &ok)
		resp := a.do(tt.query(tt.limit+1), nil)
		if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != tt.code ||
			(tt.message != "" && resp.Errors[0].Message != tt.message) {
			t.Errorf("%s at %d: %+v, want one %s %q", tt.name, tt.limit+1, resp.Errors, tt.code, tt.message)
		}
		if resp.Statements != 0 {
			t.Errorf("%s at %d: %d statements ran", tt.name, tt.limit+1, resp.Statements)
		}
	}
}

// An answer lists 20 errors, then one TOO_MANY_ERRORS that says the list
// was cut: 20 errors are listed whole, 21 are 20 and the marker. So for
// the errors of validation and for those of execution.
func TestErrorsAtTheirBoundary(t *testing.T) {
	t.Parallel()
	a := seeded(t, 21, time.Now())
	unknown := func(n int) string {
		var b strings.Builder
		b.WriteString("{ customers { count")
		for i := range n {
			fmt.Fprintf(&b, " nope%d", i)
		}
		return b.String() + " } }"
	}
	// Each customer's orders(limit: 0) fails on its own.
	failing := func(n int) string {
		return fmt.Sprintf("{ customers(limit: %d) { items { orders(limit: 0) { count } } } }", n)
	}
	for name, query := range map[string]func(int) string{"validation": unknown, "execution": failing} {
		resp := a.do(query(20), nil)
		if len(resp.Errors) != 20 {
			t.Errorf("%s: 20 errors answered as %d", name, len(resp.Errors))
		}
		for _, e := range resp.Errors {
			if e.Extensions["code"] == "TOO_MANY_ERRORS" {
				t.Errorf("%s: 20 errors were cut: %+v", name, e)
			}
		}
		resp = a.do(query(21), nil)
		if len(resp.Errors) != 21 || resp.Errors[20].Extensions["code"] != "TOO_MANY_ERRORS" ||
			resp.Errors[20].Message != "More than 20 errors; the rest are not reported." {
			t.Errorf("%s: 21 errors answered as %d, the last %+v", name, len(resp.Errors), resp.Errors[len(resp.Errors)-1])
			continue
		}
		for _, e := range resp.Errors[:20] {
			if e.Extensions["code"] == "TOO_MANY_ERRORS" {
				t.Errorf("%s: a kept error is the marker", name)
			}
		}
	}
}

// Every list takes a limit of 1 to 100 and an offset of 0 or more; past
// either bound it is INVALID_DATA naming the argument.
func TestListArgumentsAtTheirBoundaries(t *testing.T) {
	t.Parallel()
	a := seeded(t, 3, time.Now())
	var ids struct {
		CustomerGroups struct{ Items []struct{ ID string } } `json:"customer_groups"`
	}
	a.query(`{ customer_groups(limit: 1) { items { id } } }`, nil, &ids)
	lists := map[string]string{
		"customers":           `query ($l: Int, $o: Int) { customers(limit: $l, offset: $o) { count } }`,
		"customer_groups":     `query ($l: Int, $o: Int) { customer_groups(limit: $l, offset: $o) { count } }`,
		"orders":              `query ($l: Int, $o: Int) { orders(limit: $l, offset: $o) { count } }`,
		"a customer's orders": `query ($l: Int, $o: Int) { customers(limit: 1) { items { orders(limit: $l, offset: $o) { count items { id } } } } }`,
		"a group's customers": `query ($l: Int, $o: Int) { customer_group(id: "` + ids.CustomerGroups.Items[0].ID + `") { customers(limit: $l, offset: $o) { count items { id } } } }`,
	}
	for name, q := range lists {
		for _, ok := range []map[string]any{{"l": 1, "o": 0}, {"l": 100, "o": 0}, {"l": 1, "o": 1_000_000}} {
			if resp := a.do(q, ok); len(resp.Errors) != 0 {
				t.Errorf("%s with %v: %+v", name, ok, resp.Errors)
			}
		}
		for _, bad := range []struct {
			vars  map[string]any
			field string
		}{
			{map[string]any{"l": 0, "o": 0}, "limit"},
			{map[string]any{"l": 101, "o": 0}, "limit"},
			{map[string]any{"l": 1, "o": -1}, "offset"},
		} {
			resp := a.do(q, bad.vars)
			if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "INVALID_DATA" || resp.Errors[0].Extensions["field"] != bad.field {
				t.Errorf("%s with %v: %+v, want INVALID_DATA on %s", name, bad.vars, resp.Errors, bad.field)
			}
		}
	}
}

// metadata is a JSON object of at most 16 KiB, encoded: 16,384 bytes are
// kept, 16,385 refused.
func TestMetadataAtItsBoundary(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const q = `mutation ($e: String!, $m: JSON) { create_customer(input: {email: $e, metadata: $m}) { id } }`
	// {"k":"..."} is 8 bytes around its value.
	at := map[string]any{"k": strings.Repeat("x", 16<<10-8)}
	var ok struct{}
	a.query(q, map[string]any{"e": "at@example.com", "m": at}, &ok)
	over := map[string]any{"k": strings.Repeat("x", 16<<10-7)}
	e := a.fail(q, map[string]any{"e": "over@example.com", "m": over})
	if e.Extensions["code"] != "INVALID_DATA" || e.Message != "input.metadata must be at most 16 KiB of JSON, got 16385 bytes" {
		t.Errorf("16,385 bytes: %+v", e)
	}
}
