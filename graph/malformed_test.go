package graph_test

import (
	"strings"
	"testing"
)

// TestMalformedInputIsNeverInternal sends hostile values in every string
// argument of every admin mutation: each is accepted or refused with a
// client error, never INTERNAL.
func TestMalformedInputIsNeverInternal(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.createCustomer(map[string]any{"email": "target@example.com"})
	ad := a.createAddress(c.ID, map[string]any{"city": "X"})
	g := a.createGroup("Target")

	values := []any{
		"", " ", "'; DROP TABLE customer; --", `\`, "%_%", strings.Repeat("ü", 10_000), "😀👍🏽", "\u202e", "\x7f",
		"a@b.c", "cus_" + strings.Repeat("Z", 26), 0, -1, 1e300, true, nil, []any{"x"}, map[string]any{"$ne": 1},
	}
	mutations := []struct {
		query string
		vars  func(v any) map[string]any
	}{
		{`mutation ($v: String!) { create_customer(input: {email: $v}) { id } }`, func(v any) map[string]any { return map[string]any{"v": v} }},
		{`mutation ($i: CreateCustomerInput!) { create_customer(input: $i) { id } }`, func(v any) map[string]any {
			return map[string]any{"i": map[string]any{"email": "x@example.com", "first_name": v, "phone": v, "company_name": v, "metadata": map[string]any{"k": v}}}
		}},
		{`mutation ($id: ID!, $i: UpdateCustomerInput!) { update_customer(id: $id, input: $i) { id } }`, func(v any) map[string]any {
			return map[string]any{"id": c.ID, "i": map[string]any{"email": v, "last_name": v}}
		}},
		{`mutation ($id: ID!) { update_customer(id: $id, input: {}) { id } }`, func(v any) map[string]any { return map[string]any{"id": v} }},
		{`mutation ($id: ID!) { delete_customer(id: $id) { id } }`, func(v any) map[string]any { return map[string]any{"id": v} }},
		{`mutation ($id: ID!, $i: AddressInput!) { create_customer_address(customer_id: $id, input: $i) { id } }`, func(v any) map[string]any {
			return map[string]any{"id": c.ID, "i": map[string]any{"country_code": v, "postal_code": v, "address_1": v, "is_default_billing": v}}
		}},
		{`mutation ($id: ID!, $i: AddressInput!) { update_customer_address(id: $id, input: $i) { id } }`, func(v any) map[string]any {
			return map[string]any{"id": ad.ID, "i": map[string]any{"city": v, "metadata": v}}
		}},
		{`mutation ($id: ID!) { delete_customer_address(id: $id) { id } }`, func(v any) map[string]any { return map[string]any{"id": v} }},
		{`mutation ($n: String!) { create_customer_group(input: {name: $n}) { id } }`, func(v any) map[string]any { return map[string]any{"n": v} }},
		{`mutation ($id: ID!, $n: String!) { update_customer_group(id: $id, input: {name: $n}) { id } }`, func(v any) map[string]any {
			return map[string]any{"id": g.ID, "n": v}
		}},
		{`mutation ($g: ID!, $ids: [ID!]!) { add_customers_to_group(group_id: $g, customer_ids: $ids) { id } }`, func(v any) map[string]any {
			return map[string]any{"g": g.ID, "ids": []any{v}}
		}},
		{`mutation ($g: ID!, $ids: [ID!]!) { remove_customers_from_group(group_id: $g, customer_ids: $ids) { id } }`, func(v any) map[string]any {
			return map[string]any{"g": v, "ids": v}
		}},
		{`query ($f: CustomerFilter) { customers(filter: $f) { count items { id } } }`, func(v any) map[string]any {
			return map[string]any{"f": map[string]any{"q": v, "email": []any{v}, "company_name": v, "created_at": map[string]any{"gt": v}}}
		}},
	}
	for _, m := range mutations {
		for _, v := range values {
			resp := a.do(m.query, m.vars(v))
			for _, e := range resp.Errors {
				if e.Extensions["code"] == "INTERNAL" || e.Extensions["code"] == nil {
					t.Errorf("%s with %.40q: %+v", m.query, v, e)
				}
			}
		}
	}
}
