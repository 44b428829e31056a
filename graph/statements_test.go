package graph_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"customerservice/graph"
)

// headline asks for everything an admin list shows, several levels deep.
const headline = `query ($limit: Int!) {
	customers(limit: $limit) {
		count
		items {
			id email
			groups { id name }
			addresses { id city }
			billing_address { id }
			shipping_addresses { id }
			orders(limit: 5) {
				count
				items { id total items { id title } customer { id email } }
			}
		}
	}
}`

// TestStatementsDependOnDepthNotRows proves there is no N+1: 100 customers
// with all their relations cost as many SQL statements as one customer.
func TestStatementsDependOnDepthNotRows(t *testing.T) {
	t.Parallel()
	// 100 customers with five orders each cost more than the default
	// complexity budget allows; this test is about statements.
	a := seeded(t, 100, time.Now(), func(o *graph.Options) { o.Limits = graph.DefaultLimits(); o.Limits.Complexity = 1 << 20 })

	counts := map[int]int64{}
	for _, limit := range []int{1, 10, 100} {
		var got struct {
			Customers struct {
				Items []json.RawMessage `json:"items"`
			} `json:"customers"`
		}
		resp := a.query(headline, map[string]any{"limit": limit}, &got)
		if len(got.Customers.Items) != limit {
			t.Fatalf("limit %d: got %d customers", limit, len(got.Customers.Items))
		}
		counts[limit] = resp.Statements
		t.Logf("%3d customers: %d SQL statements", limit, resp.Statements)
	}
	// customers, count, groups, addresses (shared by the three address
	// fields), orders, order counts, items; the orders' customer is the
	// customer the orders were loaded for, already at hand. One more checks
	// that the admin's token still stands (its identity's token generation
	// and user, by primary key, once per request).
	const want = 8
	for limit, n := range counts {
		if n != want {
			t.Errorf("limit %d: %d statements, want %d", limit, n, want)
		}
	}
}

// Every path through the graph that yields a list batches the relations of
// its elements: the statements of a query are the same for 1 element as for
// 20. Fields and list elements are resolved one after the other (see
// graph/generate.go), so a relation the prefetch missed would cost a
// statement, and a loader's wait, per element; this catches it.
func TestEveryPathBatches(t *testing.T) {
	t.Parallel()
	a := seeded(t, 60, time.Now(), func(o *graph.Options) { o.Limits = graph.DefaultLimits(); o.Limits.Complexity = 1 << 20 })
	queries := map[string]string{
		"orders, their customers and their relations": `query ($n: Int!) { orders(limit: $n) { items {
			id items { id } customer { id addresses { id customer { id } } groups { id } billing_address { id } } } } }`,
		"groups, members, their orders and items": `query ($n: Int!) { customer_groups(limit: $n) { items {
			id customers(limit: 5) { items { id orders(limit: 2) { count items { id items { id } } } } } } } }`,
		"customers, addresses and back": `query ($n: Int!) { customers(limit: $n) { items {
			addresses { id customer { id groups { id } } } shipping_addresses { id customer { email } } } } }`,
		"customers, orders, customers, orders": `query ($n: Int!) { customers(limit: $n) { items {
			orders(limit: 2) { items { customer { orders(limit: 1) { count items { id } } } } } } } }`,
		"groups, members, groups, members": `query ($n: Int!) { customer_groups(limit: $n) { items {
			customers(limit: 3) { items { groups { customers(limit: 2) { count items { id } } } } } } } }`,
	}
	for name, q := range queries {
		var got struct{}
		one := a.query(q, map[string]any{"n": 1}, &got).Statements
		many := a.query(q, map[string]any{"n": 20}, &got).Statements
		if one != many {
			t.Errorf("%s: %d statements for 1, %d for 20", name, one, many)
		}
	}
}

// TestMemberPagesInOneStatement checks the paginated group relation:
// every group's page of members, and their counts, are one statement each.
func TestMemberPagesInOneStatement(t *testing.T) {
	t.Parallel()
	a := seeded(t, 60, time.Now())
	const q = `query ($limit: Int!) {
		customer_groups(limit: $limit) { items { customers(limit: 3) { count items { id groups { id } } } } }
	}`
	var got struct{}
	one := a.query(q, map[string]any{"limit": 1}, &got).Statements
	all := a.query(q, map[string]any{"limit": 20}, &got).Statements
	t.Logf("1 group: %d statements, 20 groups: %d statements", one, all)
	// groups, members, member counts, members' groups, and the check of
	// the admin's token.
	if one != 5 || all != 5 {
		t.Errorf("statements = %d for 1 group and %d for 20, want 5 for both", one, all)
	}
}

// BenchmarkHeadline times the headline list query of db/seed/DATASET.md on the
// 10,000-customer dataset through the whole HTTP stack, at the two page
// sizes the benchmark issue measures.
func BenchmarkHeadline(b *testing.B) {
	a := seeded(b, 10_000, time.Now())
	const q = `query ($limit: Int!) { customers(limit: $limit) { count items { id email addresses { id } groups { id } orders { count } } } }`
	for _, limit := range []int{20, 100} {
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) {
			c := *a
			c.tb = b
			for b.Loop() {
				if resp := c.do(q, map[string]any{"limit": limit}); len(resp.Errors) > 0 {
					b.Fatal(resp.Errors)
				}
			}
		})
	}
}

// Lists and loaders read only the columns behind the fields an operation
// selects, the union over the whole operation. A customer that a list reads
// for one place and a group's member page for another, through a fragment,
// must show every field either place selects, exactly as a query for that
// customer alone shows it.
func TestRowsCarryEveryFieldTheOperationSelects(t *testing.T) {
	t.Parallel()
	a := seeded(t, 30, time.Now())
	const q = `query {
		customers(limit: 10, order: "email") {
			items { id groups { id customers(limit: 30, order: "email") { items { ...person } } } addresses { id } }
		}
	}
	fragment person on Customer { id email first_name phone has_account addresses { id city address_1 is_default_billing } }`
	type person struct {
		ID         string
		Email      string
		FirstName  *string `json:"first_name"`
		Phone      *string
		HasAccount bool `json:"has_account"`
		Addresses  []struct {
			ID               string
			City             *string
			Address1         *string `json:"address_1"`
			IsDefaultBilling bool    `json:"is_default_billing"`
		}
	}
	var got struct {
		Customers struct {
			Items []struct {
				Groups []struct {
					Customers struct{ Items []person }
				}
			}
		}
	}
	a.query(q, nil, &got)
	seen := 0
	for _, c := range got.Customers.Items {
		for _, g := range c.Groups {
			for _, member := range g.Customers.Items {
				var alone struct{ Customer person }
				a.query(`query ($id: ID!) { customer(id: $id) {
					id email first_name phone has_account addresses { id city address_1 is_default_billing } } }`,
					map[string]any{"id": member.ID}, &alone)
				if !reflect.DeepEqual(member, alone.Customer) {
					m, _ := json.Marshal(member)
					c, _ := json.Marshal(alone.Customer)
					t.Errorf("member %s shows\n%s\nalone it shows\n%s", member.ID, m, c)
				}
				if member.FirstName == nil || len(member.Addresses) == 0 || member.Addresses[0].City == nil {
					t.Errorf("member %s lacks selected fields: %+v", member.ID, member)
				}
				seen++
			}
		}
	}
	if seen == 0 {
		t.Fatal("no group members to compare")
	}
}
