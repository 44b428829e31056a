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

// TestMetadataNumbersAreExact: metadata numbers come back digit for digit,
// sent inline or in a variable: integers beyond 2^53 and decimals beyond a
// float64's 17 digits.
func TestMetadataNumbersAreExact(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const numbers = `{"big":9007199254740993,"dec":3.14159265358979323846264338327950288,"nested":{"list":[-12345678901234567.25,1e-30]}}`

	readBack := func(tb testing.TB, data json.RawMessage, field string) string {
		tb.Helper()
		var got map[string]struct {
			ID       string          `json:"id"`
			Metadata json.RawMessage `json:"metadata"`
		}
		if err := json.Unmarshal(data, &got); err != nil {
			tb.Fatal(err)
		}
		// Read again, through the database.
		resp := a.do(`query ($id: ID!) { customer(id: $id) { metadata } }`, map[string]any{"id": got[field].ID})
		var again struct {
			Customer struct {
				Metadata json.RawMessage `json:"metadata"`
			} `json:"customer"`
		}
		if err := json.Unmarshal(resp.Data, &again); err != nil {
			tb.Fatal(err)
		}
		if !bytes.Equal(got[field].Metadata, again.Customer.Metadata) {
			tb.Errorf("metadata written %s, read %s", got[field].Metadata, again.Customer.Metadata)
		}
		return string(again.Customer.Metadata)
	}

	// PostgreSQL keeps jsonb numbers as numeric, and writes 1e-30 out.
	const want = `{"big":9007199254740993,"dec":3.14159265358979323846264338327950288,"nested":{"list":[-12345678901234567.25,0.000000000000000000000000000001]}}`
	inline := a.do(`mutation { create_customer(input: {email: "inline@example.com", metadata: {big: 9007199254740993, dec: 3.14159265358979323846264338327950288, nested: {list: [-12345678901234567.25, 1e-30]}}}) { id metadata } }`, nil)
	if len(inline.Errors) != 0 {
		t.Fatalf("inline: %+v", inline.Errors)
	}
	if got := readBack(t, inline.Data, "create_customer"); got != want {
		t.Errorf("inline literal: metadata = %s, want %s", got, want)
	}

	var vars map[string]any
	dec := json.NewDecoder(bytes.NewReader([]byte(`{"m":` + numbers + `}`)))
	dec.UseNumber()
	if err := dec.Decode(&vars); err != nil {
		t.Fatal(err)
	}
	variable := a.do(`mutation ($m: JSON) { create_customer(input: {email: "variable@example.com", metadata: $m}) { id metadata } }`, vars)
	if len(variable.Errors) != 0 {
		t.Fatalf("variable: %+v", variable.Errors)
	}
	if got := readBack(t, variable.Data, "create_customer"); got != want {
		t.Errorf("variable: metadata = %s, want %s", got, want)
	}

	// Beyond int64 in a variable too.
	big := map[string]any{"m": map[string]any{"n": json.Number("12345678901234567890123")}}
	resp := a.do(`mutation ($m: JSON) { create_customer(input: {email: "huge@example.com", metadata: $m}) { id metadata } }`, big)
	if got := readBack(t, resp.Data, "create_customer"); got != `{"n":12345678901234567890123}` {
		t.Errorf("a variable beyond int64: metadata = %s", got)
	}

	// A group's and an address's metadata take the same path; an inline
	// literal's variables keep their values.
	g := a.do(`mutation ($d: Float) { create_customer_group(input: {name: "G", metadata: {d: $d, e: 0.1000000000000000055511151231257827}}) { metadata } }`, map[string]any{"d": 2.5})
	if string(g.Data) != `{"create_customer_group":{"metadata":{"d":2.5,"e":0.1000000000000000055511151231257827}}}` {
		t.Errorf("group metadata: %s %+v", g.Data, g.Errors)
	}

	// gqlparser cannot read an inline integer beyond int64 and refuses the
	// document; a client sends such numbers in variables.
	wantError(t, a.fail(`mutation { create_customer(input: {email: "x@example.com", metadata: {n: 12345678901234567890}}) { id } }`, nil), "INVALID_DATA", "invalid_data", "")

	wantInvalid(t, a.fail(`mutation ($m: JSON) { create_customer(input: {email: "x@example.com", metadata: $m}) { id } }`, map[string]any{"m": []any{1}}),
		"input.metadata", "input.metadata must be a JSON object")
}
