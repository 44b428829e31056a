package graph_test

import (
	"bytes"
	"encoding/json"
	"testing"
)

const int32Range = "must be an integer from -2147483648 to 2147483647 (GraphQL's Int is 32-bit)"

// TestIntArgumentsAre32Bit: GraphQL's Int is a signed 32-bit integer; an
// Int argument outside it, inline or in a variable, top-level or in an
// input object, is INVALID_DATA naming the argument.
func TestIntArgumentsAre32Bit(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.createCustomer(map[string]any{"email": "ints@example.com"})

	a.createGroup("Members")
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		field, msg  string
	}{
		{"inline offset", `{ customers(offset: 3000000000) { count } }`, nil,
			"offset", "offset " + int32Range + ", got 3000000000"},
		{"negative limit", `{ customers(limit: -2147483649) { count } }`, nil,
			"limit", "limit " + int32Range + ", got -2147483649"},
		{"variable offset", `query ($o: Int) { customers(offset: $o) { count } }`, map[string]any{"o": 3000000000},
			"offset", "offset " + int32Range + ", got 3000000000"},
		{"string variable", `query ($o: Int) { customers(offset: $o) { count } }`, map[string]any{"o": "1"},
			"offset", `offset must be a number, not the string "1"`},
		{"nested field", `query ($id: ID!) { customer(id: $id) { orders(offset: 3000000000) { count } } }`, map[string]any{"id": c.ID},
			"offset", "offset " + int32Range + ", got 3000000000"},
		{"group members", `{ customer_groups { items { customers(limit: 4294967297) { count } } } }`, nil,
			"limit", "limit " + int32Range + ", got 4294967297"},
		{"input object", `mutation { place_order(input: {email: "o@example.com", currency_code: "usd", items: [{title: "A", quantity: 1, unit_price: 1}, {title: "B", quantity: 4294967297, unit_price: 1}]}) { id } }`, nil,
			"input.items.1.quantity", "input.items.1.quantity " + int32Range + ", got 4294967297"},
		{"input object variable", `mutation ($i: PlaceOrderInput!) { place_order(input: $i) { id } }`,
			map[string]any{"i": map[string]any{"email": "o@example.com", "currency_code": "usd", "items": []any{map[string]any{"title": "A", "quantity": 1, "unit_price": 2147483648}}}},
			"input.items.0.unit_price", "input.items.0.unit_price " + int32Range + ", got 2147483648"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := *a
			if bytes.Contains([]byte(tc.query), []byte("place_order")) {
				b = *a.as("") // a guest's order
			}
			b.tb = t
			wantInvalid(t, b.fail(tc.query, tc.vars), tc.field, tc.msg)
		})
	}

	// gqlparser's validation refuses these before any scalar reads them
	// (fractions and exponents in variables too, even 1e1); they are
	// INVALID_DATA all the same.
	for _, q := range []string{
		`{ customers(offset: 99999999999999999999) { count } }`,
		`{ customers(offset: 1.5) { count } }`,
		`{ customers(offset: "1") { count } }`,
	} {
		wantError(t, a.fail(q, nil), "INVALID_DATA", "invalid_data", "")
	}
	for _, v := range []any{1.5, json.Number("1e1"), json.Number("99999999999999999999")} {
		wantError(t, a.fail(`query ($o: Int) { customers(offset: $o) { count } }`, map[string]any{"o": v}), "INVALID_DATA", "invalid_data", "")
		order := map[string]any{"email": "o@example.com", "currency_code": "usd", "items": []any{map[string]any{"title": "A", "quantity": v, "unit_price": 1}}}
		wantError(t, a.as("").fail(`mutation ($i: PlaceOrderInput!) { place_order(input: $i) { id } }`, map[string]any{"i": order}), "INVALID_DATA", "invalid_data", "")
	}

	// The edges of the range are Ints; the page's own bounds apply then.
	var got customerPage
	a.query(listCustomers, map[string]any{"offset": 2147483647}, &got)
	if got.Customers.Offset != 2147483647 || got.Customers.Count != 1 {
		t.Errorf("offset 2147483647: %+v", got.Customers)
	}
	wantInvalid(t, a.fail(listCustomers, map[string]any{"offset": -2147483648}), "offset", "offset must not be negative, got -2147483648")
}

// TestIntOutputsAreWrittenAsBefore: outputs are not range-checked; an
// order's total, display id and the counts come out as they are.
func TestIntOutputsAreWrittenAsBefore(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.exec(`SELECT setval(pg_get_serial_sequence('orders', 'display_id'), 4999999999)`)
	o := a.as("").placeOrder(orderInput("big@example.com", 2147483647))
	if o.Total != 2147483647 || o.Items[0].UnitPrice != 2147483647 {
		t.Errorf("order = %+v", o)
	}
	resp := a.do(`query ($id: ID!) { order(id: $id) { display_id total } orders { count } }`, map[string]any{"id": o.ID})
	if len(resp.Errors) != 0 || string(resp.Data) != `{"order":{"display_id":5000000000,"total":2147483647},"orders":{"count":1}}` {
		t.Errorf("display_id beyond 32 bits: %s %+v", resp.Data, resp.Errors)
	}
}
