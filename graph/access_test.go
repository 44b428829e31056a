package graph_test

import (
	"testing"
)

// state is a fingerprint of everything a mutation could change.
func (a *api) state() string {
	a.tb.Helper()
	var s string
	err := a.pool.Get(&s, `SELECT concat_ws('|',
		(SELECT string_agg(concat_ws(',', id, email, first_name, phone, deleted_at, updated_at), ';' ORDER BY id) FROM customer),
		(SELECT string_agg(concat_ws(',', id, city, is_default_billing, is_default_shipping, deleted_at, updated_at), ';' ORDER BY id) FROM customer_address),
		(SELECT string_agg(concat_ws(',', id, name, deleted_at, updated_at), ';' ORDER BY id) FROM customer_group),
		(SELECT string_agg(concat_ws(',', customer_group_id, customer_id), ';' ORDER BY 1) FROM customer_group_customer),
		(SELECT string_agg(concat_ws(',', id, customer_id, status), ';' ORDER BY id) FROM orders))`)
	if err != nil {
		a.tb.Fatal(err)
	}
	return s
}

func TestAdminOperationsNeedAnAdminUser(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.createCustomer(map[string]any{"email": "target@example.com"})
	ad := a.createAddress(c.ID, map[string]any{"city": "X"})
	g := a.createGroup("Target")
	customerToken, _ := a.signUp("shopper@example.com", "shopper password")

	ops := []struct {
		query string
		vars  map[string]any
	}{
		{`query ($id: ID!) { customer(id: $id) { id } }`, map[string]any{"id": c.ID}},
		{`{ customers { count } }`, nil},
		{`query ($id: ID!) { customer_group(id: $id) { id } }`, map[string]any{"id": g.ID}},
		{`{ customer_groups { count } }`, nil},
		{`{ orders { count } }`, nil},
		{`mutation { create_customer(input: {email: "new@example.com"}) { id } }`, nil},
		{`mutation ($id: ID!) { update_customer(id: $id, input: {first_name: "X"}) { id } }`, map[string]any{"id": c.ID}},
		{`mutation ($id: ID!) { delete_customer(id: $id) { id } }`, map[string]any{"id": c.ID}},
		{`mutation ($id: ID!) { create_customer_address(customer_id: $id, input: {city: "Y"}) { id } }`, map[string]any{"id": c.ID}},
		{`mutation ($id: ID!) { update_customer_address(id: $id, input: {city: "Y"}) { id } }`, map[string]any{"id": ad.ID}},
		{`mutation ($id: ID!) { delete_customer_address(id: $id) { id } }`, map[string]any{"id": ad.ID}},
		{`mutation { create_customer_group(input: {name: "New"}) { id } }`, nil},
		{`mutation ($id: ID!) { update_customer_group(id: $id, input: {name: "Renamed"}) { id } }`, map[string]any{"id": g.ID}},
		{`mutation ($id: ID!) { delete_customer_group(id: $id) { id } }`, map[string]any{"id": g.ID}},
		{`mutation ($g: ID!, $c: ID!) { add_customers_to_group(group_id: $g, customer_ids: [$c]) { id } }`, map[string]any{"g": g.ID, "c": c.ID}},
		{`mutation ($g: ID!, $c: ID!) { remove_customers_from_group(group_id: $g, customer_ids: [$c]) { id } }`, map[string]any{"g": g.ID, "c": c.ID}},
		{`mutation ($c: ID!) { transfer_order(order_id: "order_01ARZ3NDEKTSV4RRFFQ69G5FAV", customer_id: $c) { order_id } }`, map[string]any{"c": c.ID}},
		{`query ($c: ID!) { customers(filter: {any_of: [{id: [$c]}, {order_count: {gte: 1}}]}, order: "-order_count") { count } }`, map[string]any{"c": c.ID}},
	}
	before := a.state()
	for _, op := range ops {
		wantError(t, a.as("").fail(op.query, op.vars), "UNAUTHORIZED", "unauthorized", "")
		wantError(t, a.as(customerToken).fail(op.query, op.vars), "NOT_ALLOWED", "not_allowed", "")
	}
	if after := a.state(); after != before {
		t.Errorf("refused operations changed data:\nbefore %s\nafter  %s", before, after)
	}
	// The storefront operations, in turn, are not an admin user's.
	for _, q := range []string{meQ, `mutation { update_me(input: {first_name: "X"}) { id } }`, `mutation { create_my_address(input: {city: "X"}) { id } }`,
		`{ my_addresses(filter: {city: ["X"]}) { count items { id } } }`} {
		wantError(t, a.fail(q, nil), "NOT_ALLOWED", "not_allowed", "")
		wantError(t, a.as("").fail(q, nil), "UNAUTHORIZED", "unauthorized", "")
	}
}

func TestCustomersCannotReachEachOther(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tokA, idA := a.signUp("alice@example.com", "alice password")
	_, idB := a.signUp("bob@example.com", "bob's password")
	bobAddress := a.createAddress(idB, map[string]any{"city": "Bobtown", "is_default_billing": true})
	a.createAddress(idA, map[string]any{"city": "Aliceville"})
	a.exec(`INSERT INTO orders (id, customer_id, email, currency_code, subtotal, total) VALUES ('order_01ARZ3NDEKTSV4RRFFQ69G5FAV', $1, 'bob@example.com', 'usd', 0, 0)`, idB)
	g := a.createGroup("Everyone")
	a.query(`mutation ($g: ID!, $ids: [ID!]!) { add_customers_to_group(group_id: $g, customer_ids: $ids) { id } }`, map[string]any{"g": g.ID, "ids": []string{idA, idB}}, &struct{}{})

	alice := a.as(tokA)
	before := a.state()
	tests := []struct {
		name  string
		query string
		vars  map[string]any
		code  string
		msg   string
	}{
		{"update Bob's address", `mutation ($id: ID!) { update_my_address(id: $id, input: {city: "Hacked"}) { id } }`, map[string]any{"id": bobAddress.ID},
			"NOT_FOUND", "Address with id: " + bobAddress.ID + " was not found"},
		{"update a missing address", `mutation ($id: ID!) { update_my_address(id: $id, input: {city: "Hacked"}) { id } }`, map[string]any{"id": "cuaddr_01ARZ3NDEKTSV4RRFFQ69G5FAV"},
			"NOT_FOUND", "Address with id: cuaddr_01ARZ3NDEKTSV4RRFFQ69G5FAV was not found"},
		{"make Bob's address default", `mutation ($id: ID!) { update_my_address(id: $id, input: {is_default_shipping: true}) { id } }`, map[string]any{"id": bobAddress.ID},
			"NOT_FOUND", ""},
		{"delete Bob's address", `mutation ($id: ID!) { delete_my_address(id: $id) { id } }`, map[string]any{"id": bobAddress.ID},
			"NOT_FOUND", "Address with id: " + bobAddress.ID + " was not found"},
		{"read Bob's order", `{ order(id: "order_01ARZ3NDEKTSV4RRFFQ69G5FAV") { id } }`, nil,
			"NOT_FOUND", "Order with id: order_01ARZ3NDEKTSV4RRFFQ69G5FAV was not found"},
		{"read a missing order", `{ order(id: "order_01ARZ3NDEKTSV4RRFFQ69G5FAW") { id } }`, nil,
			"NOT_FOUND", "Order with id: order_01ARZ3NDEKTSV4RRFFQ69G5FAW was not found"},
		{"read Bob", `query ($id: ID!) { customer(id: $id) { id } }`, map[string]any{"id": idB}, "NOT_ALLOWED", ""},
		{"update Bob", `mutation ($id: ID!) { update_customer(id: $id, input: {first_name: "X"}) { id } }`, map[string]any{"id": idB}, "NOT_ALLOWED", ""},
		{"list a group's members", `{ me { groups { customers { items { email } } } } }`, nil, "NOT_ALLOWED", ""},
		{"change the email", `mutation { update_me(input: {email: "bob@example.com"}) { id } }`, nil, "INVALID_DATA", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, alice.fail(tt.query, tt.vars), tt.code, "", tt.msg)
		})
	}
	if after := a.state(); after != before {
		t.Errorf("Alice changed data:\nbefore %s\nafter  %s", before, after)
	}
	// Bob's order, by an admin user, is found.
	a.query(`{ order(id: "order_01ARZ3NDEKTSV4RRFFQ69G5FAV") { id } }`, nil, &struct{}{})
}
