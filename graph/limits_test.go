package graph_test

import (
	"strings"
	"testing"
	"time"
)

func TestQueryShapeLimits(t *testing.T) {
	t.Parallel()
	a := seeded(t, 3, time.Now())
	// 14 levels: customers items orders items customer ... id.
	deep := "{ customers { items { orders { items { customer { orders { items { customer { orders { items { customer { orders { items { id } } } } } } } } } } } } } }"
	viaFragments := `query { customers { items { ...A } } }
		fragment A on Customer { orders { items { customer { ...B } } } }
		fragment B on Customer { orders { items { customer { ...C } } } }
		fragment C on Customer { orders { items { customer { orders { items { id } } } } } }`
	var aliases strings.Builder
	aliases.WriteString("{")
	for i := range 16 {
		aliases.WriteString(" a" + string(rune('a'+i)) + ": customers(limit: 1) { count }")
	}
	aliases.WriteString(" }")
	tokens := "{ customers { count " + strings.Repeat("__typename ", 10_000) + "} }"
	complex := "{ customers(limit: 100) { items { orders(limit: 100) { items { id } } } } }"

	tests := []struct {
		name, query, code string
	}{
		{"deep", deep, "QUERY_TOO_DEEP"},
		{"deep through fragments", viaFragments, "QUERY_TOO_DEEP"},
		{"aliases", aliases.String(), "TOO_MANY_ALIASES"},
		{"token bomb", tokens, "QUERY_TOO_LARGE"},
		{"complex", complex, "QUERY_TOO_COMPLEX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := a.do(tt.query, nil)
			if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != tt.code {
				t.Fatalf("errors = %+v, want one %s", resp.Errors, tt.code)
			}
			if resp.Statements != 0 {
				t.Errorf("a refused query ran %d statements", resp.Statements)
			}
		})
	}
	// At the limits, queries run.
	var ok struct{}
	a.query("{ customers(limit: 1) { items { orders(limit: 1) { items { customer { orders(limit: 1) { items { customer { id } } } } } } } } }", nil, &ok)
	a.query(strings.Replace(aliases.String(), " ap: customers(limit: 1) { count }", "", 1), nil, &ok)
	a.query("{ customers(limit: 100) { count items { id email addresses { id } groups { id } orders { count } } } }", nil, &ok)
}
