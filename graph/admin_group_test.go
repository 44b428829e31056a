package graph_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

type groupOut struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Metadata  map[string]any `json:"metadata"`
	Customers struct {
		Count int `json:"count"`
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	} `json:"customers"`
}

const groupFields = `id name metadata customers(limit: 100, order: "created_at") { count items { id } }`

func (a *api) createGroup(name string) groupOut {
	a.tb.Helper()
	var got struct {
		G groupOut `json:"create_customer_group"`
	}
	a.query(`mutation ($name: String!) { create_customer_group(input: {name: $name}) { `+groupFields+` } }`, map[string]any{"name": name}, &got)
	return got.G
}

func TestGroupLifecycle(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	vip := a.createGroup("  VIP ")
	if !strings.HasPrefix(vip.ID, "cusgroup_") || vip.Name != "VIP" || vip.Customers.Count != 0 {
		t.Errorf("created group = %+v", vip)
	}
	err := a.fail(`mutation { create_customer_group(input: {name: "vip"}) { id } }`, nil)
	wantError(t, err, "DUPLICATE_ERROR", "duplicate_error", "Customer group with name: vip already exists")
	if err.Extensions["field"] != "input.name" {
		t.Errorf("field = %v, want input.name", err.Extensions["field"])
	}
	for _, name := range []string{"", "   ", strings.Repeat("n", 256)} {
		err := a.fail(`mutation ($n: String!) { create_customer_group(input: {name: $n}) { id } }`, map[string]any{"n": name})
		wantError(t, err, "INVALID_DATA", "invalid_data", "")
	}

	const update = `mutation ($id: ID!, $input: CustomerGroupInput!) { update_customer_group(id: $id, input: $input) { ` + groupFields + ` } }`
	var got struct {
		G groupOut `json:"update_customer_group"`
	}
	a.query(update, map[string]any{"id": vip.ID, "input": map[string]any{"name": "Gold", "metadata": map[string]any{"discount": 10}}}, &got)
	if got.G.Name != "Gold" || got.G.Metadata["discount"] != float64(10) {
		t.Errorf("updated group = %+v", got.G)
	}
	a.query(update, map[string]any{"id": vip.ID, "input": map[string]any{"name": "Gold"}}, &got)
	if got.G.Metadata["discount"] != float64(10) {
		t.Errorf("metadata should stay when omitted: %+v", got.G.Metadata)
	}
	a.createGroup("Silver")
	wantError(t, a.fail(update, map[string]any{"id": vip.ID, "input": map[string]any{"name": "SILVER"}}), "DUPLICATE_ERROR", "duplicate_error", "Customer group with name: SILVER already exists")
	wantError(t, a.fail(update, map[string]any{"id": "cusgroup_nope", "input": map[string]any{"name": "X"}}), "NOT_FOUND", "not_found", "Customer group with id: cusgroup_nope was not found")

	const del = `mutation ($id: ID!) { delete_customer_group(id: $id) { id object deleted } }`
	var deleted struct {
		D struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Deleted bool   `json:"deleted"`
		} `json:"delete_customer_group"`
	}
	a.query(del, map[string]any{"id": vip.ID}, &deleted)
	if deleted.D.ID != vip.ID || deleted.D.Object != "customer_group" || !deleted.D.Deleted {
		t.Errorf("delete result = %+v", deleted.D)
	}
	wantError(t, a.fail(del, map[string]any{"id": vip.ID}), "NOT_FOUND", "not_found", "")
	wantError(t, a.fail(update, map[string]any{"id": vip.ID, "input": map[string]any{"name": "Again"}}), "NOT_FOUND", "not_found", "")
	// The name is free again.
	if again := a.createGroup("Gold"); again.ID == vip.ID {
		t.Error("a new group reuses the deleted one's id")
	}
}

func TestGroupMembership(t *testing.T) {
	t.Parallel()
	a := seeded(t, 1000, time.Now())
	var ids []string
	if err := a.pool.Select(&ids, `SELECT id FROM customer ORDER BY created_at`); err != nil {
		t.Fatal(err)
	}
	g := a.createGroup("Members")
	const add = `mutation ($g: ID!, $ids: [ID!]!) { add_customers_to_group(group_id: $g, customer_ids: $ids) { ` + groupFields + ` } }`
	const remove = `mutation ($g: ID!, $ids: [ID!]!) { remove_customers_from_group(group_id: $g, customer_ids: $ids) { ` + groupFields + ` } }`
	members := func() []string {
		var got struct {
			G groupOut `json:"customer_group"`
		}
		a.query(`query ($id: ID!) { customer_group(id: $id) { `+groupFields+` } }`, map[string]any{"id": g.ID}, &got)
		var out []string
		for _, c := range got.G.Customers.Items {
			out = append(out, c.ID)
		}
		if len(out) < 100 && got.G.Customers.Count != len(out) {
			t.Errorf("count %d, %d items", got.G.Customers.Count, len(out))
		}
		return out
	}

	var res struct {
		G groupOut `json:"add_customers_to_group"`
	}
	a.query(add, map[string]any{"g": g.ID, "ids": ids[:3]}, &res)
	if res.G.Customers.Count != 3 {
		t.Errorf("after adding 3: count %d", res.G.Customers.Count)
	}
	// Adding members again, with a repeat and a new one, is no error.
	a.query(add, map[string]any{"g": g.ID, "ids": []string{ids[0], ids[3], ids[3]}}, &res)
	if got := members(); !slices.Equal(got, ids[:4]) {
		t.Errorf("members = %v, want the first four", got)
	}
	// Removing a non-member is no error either.
	a.query(remove, map[string]any{"g": g.ID, "ids": []string{ids[1], ids[500]}}, &struct{}{})
	if got := members(); !slices.Equal(got, []string{ids[0], ids[2], ids[3]}) {
		t.Errorf("members after removal = %v", got)
	}

	// One bad id fails the whole call, naming it, and changes nothing.
	a.exec(`UPDATE customer SET deleted_at = now() WHERE id = $1`, ids[999])
	for _, q := range []string{add, remove} {
		err := a.fail(q, map[string]any{"g": g.ID, "ids": []string{ids[10], "cus_unknown", ids[0], ids[999]}})
		wantError(t, err, "NOT_FOUND", "not_found", fmt.Sprintf("Customers with ids: cus_unknown, %s were not found", ids[999]))
		if err.Extensions["field"] != "customer_ids" {
			t.Errorf("field = %v", err.Extensions["field"])
		}
		if got := members(); !slices.Equal(got, []string{ids[0], ids[2], ids[3]}) {
			t.Errorf("members after a failed call = %v", got)
		}
	}
	wantError(t, a.fail(add, map[string]any{"g": "cusgroup_nope", "ids": ids[:1]}), "NOT_FOUND", "not_found", "Customer group with id: cusgroup_nope was not found")
	tooMany := append(slices.Clone(ids[:999]), ids[0], ids[1])
	err := a.fail(add, map[string]any{"g": g.ID, "ids": tooMany})
	wantError(t, err, "INVALID_DATA", "invalid_data", "at most 1000 customers at a time, got 1001")

	// A thousand customers are added with as many statements as one.
	one := a.do(add, map[string]any{"g": g.ID, "ids": ids[4:5]}).Statements
	thousand := a.do(add, map[string]any{"g": g.ID, "ids": ids[:999]})
	if len(thousand.Errors) > 0 {
		t.Fatalf("adding 999: %+v", thousand.Errors)
	}
	if thousand.Statements != one {
		t.Errorf("adding 999 customers took %d statements, adding one %d", thousand.Statements, one)
	}
	t.Logf("add_customers_to_group: %d statements for 1 or 999 customers", one)
	var count int
	if err := a.pool.Get(&count, `SELECT count(*) FROM customer_group_customer WHERE customer_group_id = $1`, g.ID); err != nil || count != 999 {
		t.Errorf("memberships = %d (%v), want 999", count, err)
	}
	a.query(remove, map[string]any{"g": g.ID, "ids": ids[:999]}, &struct{}{})
	if got := members(); len(got) != 0 {
		t.Errorf("members after removing all = %d", len(got))
	}
}

func TestConcurrentMembershipChanges(t *testing.T) {
	t.Parallel()
	a := seeded(t, 200, time.Now())
	var ids []string
	if err := a.pool.Select(&ids, `SELECT id FROM customer ORDER BY created_at`); err != nil {
		t.Fatal(err)
	}
	g1, g2 := a.createGroup("One"), a.createGroup("Two")
	const add = `mutation ($g: ID!, $ids: [ID!]!) { add_customers_to_group(group_id: $g, customer_ids: $ids) { id } }`
	const remove = `mutation ($g: ID!, $ids: [ID!]!) { remove_customers_from_group(group_id: $g, customer_ids: $ids) { id } }`
	const del = `mutation ($id: ID!) { delete_customer(id: $id) { deleted } }`
	// Everyone starts in both groups, so every deletion touches both.
	for _, g := range []string{g1.ID, g2.ID} {
		a.query(add, map[string]any{"g": g, "ids": ids}, &struct{}{})
	}

	// Adds, removals and deletions of overlapping customers, on the same
	// groups at once. An add or removal that names a customer deleted first
	// is refused with NOT_FOUND; nothing may fail otherwise (a deadlock
	// would surface as INTERNAL or TIMEOUT).
	const n = 60
	results := concurrently(n, func(i int) response {
		g := []string{g1.ID, g2.ID}[i%2]
		switch i % 3 {
		case 0:
			return a.do(add, map[string]any{"g": g, "ids": ids[i : i+40]})
		case 1:
			return a.do(remove, map[string]any{"g": g, "ids": ids[i+20 : i+60]})
		default:
			return a.do(del, map[string]any{"id": ids[i]})
		}
	})
	outcomes(t, results, "NOT_FOUND", "")
	for i := 2; i < n; i += 3 {
		if len(results[i].Errors) != 0 {
			t.Errorf("delete_customer %d: %+v", i, results[i].Errors)
		}
	}
	var wrong int
	err := a.pool.Get(&wrong, `SELECT count(*) FROM customer_group g
		WHERE g.member_count <> (SELECT count(*) FROM customer_group_customer m WHERE m.customer_group_id = g.id)`)
	if err != nil || wrong != 0 {
		t.Errorf("%d groups with a wrong member count (%v)", wrong, err)
	}
}
