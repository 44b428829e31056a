package graph_test

import (
	"os"
	"strings"
	"testing"

	"customerservice/graph"
)

// TestStandardIntrospection runs the introspection query of graphql-js's
// getIntrospectionQuery with every option (GraphiQL's and the code
// generators' query, 15 levels deep through ofType): it passes in
// development, while data queries keep their depth limit, and production
// refuses it with its own code.
func TestStandardIntrospection(t *testing.T) {
	t.Parallel()
	query, err := os.ReadFile("testdata/introspection.graphql")
	if err != nil {
		t.Fatal(err)
	}
	dev := newAPI(t)
	var got struct {
		Schema struct {
			QueryType struct{ Name string } `json:"queryType"`
			Types     []struct {
				Name   string
				Fields []struct{ Name string }
			}
		} `json:"__schema"`
	}
	dev.as("").query(string(query), nil, &got)
	fields := map[string]bool{}
	for _, typ := range got.Schema.Types {
		if typ.Name == "Customer" {
			for _, f := range typ.Fields {
				fields[f.Name] = true
			}
		}
	}
	if got.Schema.QueryType.Name != "Query" || !fields["email"] || !fields["addresses"] || !fields["orders"] {
		t.Errorf("introspection: query type %q, Customer fields %v", got.Schema.QueryType.Name, fields)
	}

	// The depth limit still holds for data, and for introspection past its
	// own limit.
	deep := "{ customers { items { orders { items { customer { orders { items { customer { orders { items { customer { orders { id } } } } } } } } } } } } }"
	wantError(t, dev.fail(deep, nil), "QUERY_TOO_DEEP", "", "")
	tooDeep := `{ __type(name: "Customer") { fields { type ` + strings.Repeat("{ ofType ", 20) + "{ name }" + strings.Repeat(" }", 20) + " } } }"
	wantError(t, dev.fail(tooDeep, nil), "QUERY_TOO_DEEP", "", "")

	prod := newAPI(t, func(o *graph.Options) { o.Production = true })
	wantError(t, prod.as("").fail(string(query), nil), "INTROSPECTION_DISABLED", "not_allowed", "")
}
