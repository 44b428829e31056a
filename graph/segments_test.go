package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"customerservice/db"
)

const groupWithRules = `mutation ($input: CustomerGroupInput!) {
	create_customer_group(input: $input) { id name kind rules customers(limit: 100, order: "email") { count items { email } } }
}`

type ruleGroup struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Kind      string          `json:"kind"`
	Rules     json.RawMessage `json:"rules"`
	Customers struct {
		Count int `json:"count"`
		Items []struct {
			Email string `json:"email"`
		} `json:"items"`
	} `json:"customers"`
}

func (g ruleGroup) emails() []string {
	out := []string{}
	for _, c := range g.Customers.Items {
		out = append(out, c.Email)
	}
	return out
}

// cond is a rule of one condition.
func cond(field, op string, value map[string]any) map[string]any {
	c := map[string]any{"field": field, "op": op}
	for k, v := range value {
		c[k] = v
	}
	return map[string]any{"condition": c}
}

func (a *api) createRuleGroup(name string, rules map[string]any) ruleGroup {
	a.tb.Helper()
	var got struct {
		G ruleGroup `json:"create_customer_group"`
	}
	a.query(groupWithRules, map[string]any{"input": map[string]any{"name": name, "rules": rules}}, &got)
	return got.G
}

// members reads a group's members through the API, by email.
func (a *api) members(id string) []string {
	a.tb.Helper()
	var got struct {
		G ruleGroup `json:"customer_group"`
	}
	a.query(`query ($id: ID!) { customer_group(id: $id) { id kind customers(limit: 100, order: "email") { count items { email } } } }`,
		map[string]any{"id": id}, &got)
	if got.G.Customers.Count != len(got.G.Customers.Items) {
		a.tb.Errorf("member count %d, items %d", got.G.Customers.Count, len(got.G.Customers.Items))
	}
	return got.G.emails()
}

func (a *api) wantMembers(what, id string, want ...string) {
	a.tb.Helper()
	if want == nil {
		want = []string{}
	}
	if got := a.members(id); !slices.Equal(got, want) {
		a.tb.Errorf("%s: members %v, want %v", what, got, want)
	}
}

// preview returns the emails the rules match, and the count.
func (a *api) rulesPreview(rules map[string]any) ([]string, int) {
	a.tb.Helper()
	var got struct {
		P struct {
			Count int `json:"count"`
			Items []struct {
				Email string `json:"email"`
			} `json:"items"`
		} `json:"customer_group_rules_preview"`
	}
	a.query(`query ($r: CustomerGroupRule!) { customer_group_rules_preview(rules: $r, limit: 100, order: "email") { count items { email } } }`,
		map[string]any{"r": rules}, &got)
	out := []string{}
	for _, c := range got.P.Items {
		out = append(out, c.Email)
	}
	return out, got.P.Count
}

// ruleCustomers makes a small population whose fields tell the operators
// apart.
func ruleCustomers(a *api) map[string]string {
	ids := map[string]string{}
	for _, c := range []map[string]any{
		{"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee", "company_name": "Acme 100% Ltd", "metadata": map[string]any{"tier": "gold", "n": 3}},
		{"email": "bob@example.com", "first_name": "Bob", "phone": "+44 20 7946 0000"},
		{"email": "cy@shop.test", "first_name": "cy", "last_name": "O'Hara"},
		{"email": "dee@example.com"},
	} {
		ids[c["email"].(string)] = a.createCustomer(c).ID
	}
	a.createAddress(ids["ann@example.com"], map[string]any{"address_1": "1 High St", "city": "London", "country_code": "gb", "postal_code": "SW1A 1AA"})
	a.createAddress(ids["ann@example.com"], map[string]any{"address_1": "2 Rue", "city": "Paris", "country_code": "fr"})
	a.createAddress(ids["bob@example.com"], map[string]any{"address_1": "3 Main St", "city": "Springfield", "country_code": "us", "province": "IL"})
	a.createAddress(ids["cy@shop.test"], map[string]any{"address_1": "4 Quay", "city": "Dublin", "country_code": "ie"})
	return ids
}

func (a *api) order(email, currency string, unitPrice int) {
	a.tb.Helper()
	var got struct{}
	a.as("").query(`mutation ($i: PlaceOrderInput!) { place_order(input: $i) { id } }`, map[string]any{"i": map[string]any{
		"email": email, "currency_code": currency, "items": []any{map[string]any{"title": "Mug", "quantity": 1, "unit_price": unitPrice}},
	}}, &got)
}

func TestRuleOperators(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ids := ruleCustomers(a)
	a.order("ann@example.com", "usd", 1500)
	a.order("ann@example.com", "usd", 2500)
	a.order("bob@example.com", "eur", 900)
	// Bob's order was placed long ago.
	a.exec(`UPDATE orders SET created_at = now() - interval '200 days' WHERE email = 'bob@example.com'`)
	static := a.createRuleGroup("VIP", nil)
	a.query(`mutation ($g: ID!, $c: [ID!]!) { add_customers_to_group(group_id: $g, customer_ids: $c) { id } }`,
		map[string]any{"g": static.ID, "c": []string{ids["bob@example.com"], ids["dee@example.com"]}}, &struct{}{})
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)

	all := []string{"ann@example.com", "bob@example.com", "cy@shop.test", "dee@example.com"}
	tests := []struct {
		name  string
		rules map[string]any
		want  []string
	}{
		{"email eq, any case", cond("EMAIL", "EQ", map[string]any{"string": "ANN@example.com"}), []string{"ann@example.com"}},
		{"first_name neq holds for null", cond("FIRST_NAME", "NEQ", map[string]any{"string": "ann"}), []string{"bob@example.com", "cy@shop.test", "dee@example.com"}},
		{"first_name in", cond("FIRST_NAME", "IN", map[string]any{"strings": []string{"BOB", "CY"}}), []string{"bob@example.com", "cy@shop.test"}},
		{"first_name not_in", cond("FIRST_NAME", "NOT_IN", map[string]any{"strings": []string{"bob", "cy"}}), []string{"ann@example.com", "dee@example.com"}},
		{"email contains", cond("EMAIL", "CONTAINS", map[string]any{"string": "@EXAMPLE"}), []string{"ann@example.com", "bob@example.com", "dee@example.com"}},
		{"email starts_with", cond("EMAIL", "STARTS_WITH", map[string]any{"string": "c"}), []string{"cy@shop.test"}},
		{"contains takes % literally", cond("COMPANY_NAME", "CONTAINS", map[string]any{"string": "100%"}), []string{"ann@example.com"}},
		{"contains takes _ literally", cond("EMAIL", "CONTAINS", map[string]any{"string": "_"}), []string{}},
		{"quote in a value", cond("LAST_NAME", "EQ", map[string]any{"string": "o'hara"}), []string{"cy@shop.test"}},
		{"phone is_set", cond("PHONE", "IS_SET", nil), []string{"bob@example.com"}},
		{"last_name is_null", cond("LAST_NAME", "IS_NULL", nil), []string{"bob@example.com", "dee@example.com"}},
		{"metadata key", cond("METADATA", "EQ", map[string]any{"key": "tier", "string": "GOLD"}), []string{"ann@example.com"}},
		{"metadata number", cond("METADATA", "EQ", map[string]any{"key": "n", "string": "3"}), []string{"ann@example.com"}},
		{"metadata is_null", cond("METADATA", "IS_NULL", map[string]any{"key": "tier"}), []string{"bob@example.com", "cy@shop.test", "dee@example.com"}},
		{"has_account", cond("HAS_ACCOUNT", "EQ", map[string]any{"boolean": false}), all},
		{"has_account neq", cond("HAS_ACCOUNT", "NEQ", map[string]any{"boolean": false}), []string{}},
		{"created_at gt", cond("CREATED_AT", "GT", map[string]any{"time": past}), all},
		{"created_at gte future", cond("CREATED_AT", "GTE", map[string]any{"time": future}), []string{}},
		{"created_at lt", cond("CREATED_AT", "LT", map[string]any{"time": future}), all},
		{"created_at lte past", cond("CREATED_AT", "LTE", map[string]any{"time": past}), []string{}},
		{"created_at within_last", cond("CREATED_AT", "WITHIN_LAST", map[string]any{"days": 1}), all},
		{"created_at older_than", cond("CREATED_AT", "OLDER_THAN", map[string]any{"days": 1}), []string{}},
		{"any address country", cond("ADDRESS_COUNTRY_CODE", "EQ", map[string]any{"string": "FR"}), []string{"ann@example.com"}},
		{"any address country neq", cond("ADDRESS_COUNTRY_CODE", "NEQ", map[string]any{"string": "gb"}), []string{"ann@example.com", "bob@example.com", "cy@shop.test"}},
		{"no address in gb", map[string]any{"not": cond("ADDRESS_COUNTRY_CODE", "EQ", map[string]any{"string": "gb"})}, []string{"bob@example.com", "cy@shop.test", "dee@example.com"}},
		{"city in", cond("ADDRESS_CITY", "IN", map[string]any{"strings": []string{"dublin", "london"}}), []string{"ann@example.com", "cy@shop.test"}},
		{"province is_set", cond("ADDRESS_PROVINCE", "IS_SET", nil), []string{"bob@example.com"}},
		{"postal code starts_with", cond("ADDRESS_POSTAL_CODE", "STARTS_WITH", map[string]any{"string": "sw1"}), []string{"ann@example.com"}},
		{"order_count eq", cond("ORDER_COUNT", "EQ", map[string]any{"int": 2}), []string{"ann@example.com"}},
		{"order_count neq", cond("ORDER_COUNT", "NEQ", map[string]any{"int": 0}), []string{"ann@example.com", "bob@example.com"}},
		{"order_count in", cond("ORDER_COUNT", "IN", map[string]any{"ints": []int{0, 1}}), []string{"bob@example.com", "cy@shop.test", "dee@example.com"}},
		{"order_count not_in", cond("ORDER_COUNT", "NOT_IN", map[string]any{"ints": []int{0, 1}}), []string{"ann@example.com"}},
		{"order_count gt", cond("ORDER_COUNT", "GT", map[string]any{"int": 0}), []string{"ann@example.com", "bob@example.com"}},
		{"order_count gte", cond("ORDER_COUNT", "GTE", map[string]any{"int": 2}), []string{"ann@example.com"}},
		{"order_count lt", cond("ORDER_COUNT", "LT", map[string]any{"int": 1}), []string{"cy@shop.test", "dee@example.com"}},
		{"order_count lte", cond("ORDER_COUNT", "LTE", map[string]any{"int": 1}), []string{"bob@example.com", "cy@shop.test", "dee@example.com"}},
		{"amount_spent gte", cond("AMOUNT_SPENT", "GTE", map[string]any{"currency_code": "USD", "int": 4000}), []string{"ann@example.com"}},
		{"amount_spent lt holds at 0", cond("AMOUNT_SPENT", "LT", map[string]any{"currency_code": "usd", "int": 100}), []string{"bob@example.com", "cy@shop.test", "dee@example.com"}},
		{"amount_spent eq 0", cond("AMOUNT_SPENT", "EQ", map[string]any{"currency_code": "eur", "int": 0}), []string{"ann@example.com", "cy@shop.test", "dee@example.com"}},
		{"amount_spent neq 0", cond("AMOUNT_SPENT", "NEQ", map[string]any{"currency_code": "eur", "int": 0}), []string{"bob@example.com"}},
		{"last_order_at within_last", cond("LAST_ORDER_AT", "WITHIN_LAST", map[string]any{"days": 90}), []string{"ann@example.com"}},
		{"last_order_at older_than", cond("LAST_ORDER_AT", "OLDER_THAN", map[string]any{"days": 90}), []string{"bob@example.com"}},
		{"first_order_at is_null", cond("FIRST_ORDER_AT", "IS_NULL", nil), []string{"cy@shop.test", "dee@example.com"}},
		{"first_order_at lt", cond("FIRST_ORDER_AT", "LT", map[string]any{"time": past}), []string{"bob@example.com"}},
		{"member of", cond("GROUP", "EQ", map[string]any{"string": static.ID}), []string{"bob@example.com", "dee@example.com"}},
		{"not member of", cond("GROUP", "NEQ", map[string]any{"string": static.ID}), []string{"ann@example.com", "cy@shop.test"}},
		{"member of any", cond("GROUP", "IN", map[string]any{"strings": []string{static.ID}}), []string{"bob@example.com", "dee@example.com"}},
		{"member of none", cond("GROUP", "NOT_IN", map[string]any{"strings": []string{static.ID}}), []string{"ann@example.com", "cy@shop.test"}},
		{"all", map[string]any{"all": []any{
			cond("EMAIL", "CONTAINS", map[string]any{"string": "example"}),
			cond("ORDER_COUNT", "GTE", map[string]any{"int": 1}),
		}}, []string{"ann@example.com", "bob@example.com"}},
		{"any of all and not", map[string]any{"any": []any{
			map[string]any{"all": []any{
				cond("ADDRESS_COUNTRY_CODE", "EQ", map[string]any{"string": "gb"}),
				cond("ORDER_COUNT", "GTE", map[string]any{"int": 2}),
				cond("LAST_ORDER_AT", "WITHIN_LAST", map[string]any{"days": 90}),
			}},
			map[string]any{"not": map[string]any{"any": []any{
				cond("FIRST_NAME", "IS_SET", nil),
				cond("GROUP", "NEQ", map[string]any{"string": static.ID}),
			}}},
		}}, []string{"ann@example.com", "dee@example.com"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n := a.rulesPreview(tt.rules)
			if !slices.Equal(got, tt.want) || n != len(tt.want) {
				t.Errorf("preview: %v (count %d), want %v", got, n, tt.want)
			}
			// Saved, the group's members are the preview's.
			g := a.createRuleGroup(fmt.Sprintf("Rule %02d", i), tt.rules)
			if g.Kind != "RULES" || !slices.Equal(g.emails(), tt.want) {
				t.Errorf("saved: kind %s, members %v, want %v", g.Kind, g.emails(), tt.want)
			}
			var back map[string]any
			if err := json.Unmarshal(g.Rules, &back); err != nil || back == nil {
				t.Errorf("rules read back: %s (%v)", g.Rules, err)
			}
		})
	}
}

func TestRulesAreParameters(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	hostile := []string{
		`x' OR '1'='1`, `'); DROP TABLE customer; --`, `$1`, `%`, `_`, `\`, `') OR true --`, `"; SELECT pg_sleep(10); --`,
		`$$ OR true $$`, `E'\x00'`,
	}
	evil := a.createCustomer(map[string]any{"email": "evil@example.com", "first_name": hostile[0], "company_name": hostile[1]})
	a.createCustomer(map[string]any{"email": "plain@example.com", "first_name": "Plain"})
	for _, h := range hostile {
		for _, op := range []string{"EQ", "CONTAINS", "STARTS_WITH"} {
			rules := map[string]any{"any": []any{
				cond("FIRST_NAME", op, map[string]any{"string": h}),
				cond("COMPANY_NAME", op, map[string]any{"string": h}),
				cond("METADATA", op, map[string]any{"key": h, "string": h}),
			}}
			got, _ := a.rulesPreview(rules)
			var want []string
			for _, v := range []string{hostile[0], hostile[1]} {
				if op == "EQ" && v == h || op == "CONTAINS" && strings.Contains(v, h) || op == "STARTS_WITH" && strings.HasPrefix(v, h) {
					want = []string{"evil@example.com"}
				}
			}
			if want == nil {
				want = []string{}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s %q: %v, want %v", op, h, got, want)
			}
		}
	}
	// The table is still there, and the values are not in the stored SQL.
	g := a.createRuleGroup("Hostile", cond("FIRST_NAME", "EQ", map[string]any{"string": hostile[0]}))
	if !slices.Equal(g.emails(), []string{"evil@example.com"}) {
		t.Errorf("members %v", g.emails())
	}
	var sqlText string
	if err := a.pool.Get(&sqlText, `SELECT rule_sql FROM customer_group WHERE id = $1`, g.ID); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sqlText, "OR") || strings.Contains(sqlText, "'") {
		t.Errorf("the compiled rule holds input: %s", sqlText)
	}
	_ = evil
}

// TestRuleMembershipFollowsChanges: every write path re-evaluates the
// customers it changes in its own transaction, so the member list is right
// the moment the change answers.
func TestRuleMembershipFollowsChanges(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	srv := httptest.NewServer(a.h)
	defer srv.Close()
	ids := ruleCustomers(a)
	uk := a.createRuleGroup("UK", cond("ADDRESS_COUNTRY_CODE", "EQ", map[string]any{"string": "gb"}))
	loyal := a.createRuleGroup("Loyal", cond("ORDER_COUNT", "GTE", map[string]any{"int": 2}))
	named := a.createRuleGroup("Named Bob", cond("FIRST_NAME", "EQ", map[string]any{"string": "bob"}))
	vip := a.createRuleGroup("VIP", nil)
	inVIP := a.createRuleGroup("In VIP", cond("GROUP", "EQ", map[string]any{"string": vip.ID}))
	a.wantMembers("uk at first", uk.ID, "ann@example.com")
	a.wantMembers("loyal at first", loyal.ID)

	// An address moves country.
	var bobAddr struct {
		Customer struct{ Addresses []struct{ ID string } } `json:"customer"`
	}
	a.query(`query ($id: ID!) { customer(id: $id) { addresses { id } } }`, map[string]any{"id": ids["bob@example.com"]}, &bobAddr)
	a.updateAddress(bobAddr.Customer.Addresses[0].ID, map[string]any{"country_code": "GB"})
	a.wantMembers("bob moved to gb", uk.ID, "ann@example.com", "bob@example.com")
	a.query(`mutation ($id: ID!) { delete_customer_address(id: $id) { id } }`, map[string]any{"id": bobAddr.Customer.Addresses[0].ID}, &struct{}{})
	a.wantMembers("bob's gb address deleted", uk.ID, "ann@example.com")
	a.createAddress(ids["dee@example.com"], map[string]any{"address_1": "5 Lane", "country_code": "gb"})
	a.wantMembers("dee got a gb address", uk.ID, "ann@example.com", "dee@example.com")

	// Orders.
	a.order("cy@shop.test", "usd", 100)
	a.wantMembers("one order", loyal.ID)
	a.order("cy@shop.test", "usd", 100)
	a.wantMembers("second order", loyal.ID, "cy@shop.test")
	a.exec(`UPDATE orders SET status = 'CANCELED' WHERE email = 'cy@shop.test' AND total = 100 AND id = (SELECT min(id) FROM orders WHERE email = 'cy@shop.test')`)
	a.wantMembers("an order canceled", loyal.ID)

	// A customer update, and a deletion.
	a.query(`mutation ($id: ID!) { update_customer(id: $id, input: {first_name: "Bob"}) { id } }`, map[string]any{"id": ids["dee@example.com"]}, &struct{}{})
	a.wantMembers("dee renamed bob", named.ID, "bob@example.com", "dee@example.com")
	a.query(`mutation ($id: ID!) { delete_customer(id: $id) { id } }`, map[string]any{"id": ids["bob@example.com"]}, &struct{}{})
	a.wantMembers("bob deleted", named.ID, "dee@example.com")

	// A static membership the rules name.
	a.query(`mutation ($g: ID!, $c: [ID!]!) { add_customers_to_group(group_id: $g, customer_ids: $c) { id } }`,
		map[string]any{"g": vip.ID, "c": []string{ids["ann@example.com"]}}, &struct{}{})
	a.wantMembers("ann joined vip", inVIP.ID, "ann@example.com")
	a.query(`mutation ($g: ID!, $c: [ID!]!) { remove_customers_from_group(group_id: $g, customer_ids: $c) { id } }`,
		map[string]any{"g": vip.ID, "c": []string{ids["ann@example.com"]}}, &struct{}{})
	a.wantMembers("ann left vip", inVIP.ID)

	// An import: a new customer with a gb address, and one who names a
	// rule group in its groups column, which the rules overrule.
	file := importHeader + "eve@example.com,false,Eve,,1 Mews,gb\nfay@example.com,false,Fay,Named Bob,1 Rd,us\n"
	_, resp := upload(t, srv.URL, a.token, file, `{}`)
	var started struct {
		ImportCustomers importJob `json:"import_customers"`
	}
	json.Unmarshal(resp.Data, &started)
	if job := a.waitForJob(started.ImportCustomers.ID); job.Status != "SUCCEEDED" {
		t.Fatalf("import: %+v", job)
	}
	a.wantMembers("eve imported", uk.ID, "ann@example.com", "dee@example.com", "eve@example.com")
	a.wantMembers("fay named a rule group", named.ID, "dee@example.com")

	// A merge brings the source's orders (and statistics) to the target.
	a.order("ann@example.com", "usd", 100)
	a.merge(ids["ann@example.com"], ids["cy@shop.test"], nil, "")
	a.wantMembers("ann merged into cy", loyal.ID, "cy@shop.test")
	a.wantMembers("ann merged: her gb addresses moved", uk.ID, "cy@shop.test", "dee@example.com", "eve@example.com")

	// Customer.groups and the groups filter show rule members.
	var c struct {
		Customer struct{ Groups []struct{ Name string } } `json:"customer"`
	}
	a.query(`query ($id: ID!) { customer(id: $id) { groups { name } } }`, map[string]any{"id": ids["cy@shop.test"]}, &c)
	var names []string
	for _, g := range c.Customer.Groups {
		names = append(names, g.Name)
	}
	if !slices.Equal(names, []string{"Loyal", "UK"}) {
		t.Errorf("cy's groups: %v", names)
	}
	var list struct {
		Customers struct {
			Items []struct{ Email string }
		}
	}
	a.query(`query ($g: [ID!]) { customers(filter: {group_id: $g}, order: "email") { items { email } } }`, map[string]any{"g": []string{uk.ID}}, &list)
	if len(list.Customers.Items) != 3 || list.Customers.Items[0].Email != "cy@shop.test" {
		t.Errorf("customers in UK: %+v", list)
	}
}

func TestRuleGroupEdits(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ids := ruleCustomers(a)
	g := a.createRuleGroup("Hand picked", nil)
	if g.Kind != "STATIC" || string(g.Rules) != "null" {
		t.Errorf("static group: %s %s", g.Kind, g.Rules)
	}
	a.query(`mutation ($g: ID!, $c: [ID!]!) { add_customers_to_group(group_id: $g, customer_ids: $c) { id } }`,
		map[string]any{"g": g.ID, "c": []string{ids["bob@example.com"], ids["dee@example.com"]}}, &struct{}{})

	// Rules replace the hand-picked members with those they match.
	update := `mutation ($id: ID!, $input: CustomerGroupInput!) { update_customer_group(id: $id, input: $input) { id kind rules } }`
	var up struct {
		G ruleGroup `json:"update_customer_group"`
	}
	a.query(update, map[string]any{"id": g.ID, "input": map[string]any{"name": "Hand picked",
		"rules": cond("EMAIL", "CONTAINS", map[string]any{"string": "example"})}}, &up)
	if up.G.Kind != "RULES" {
		t.Errorf("kind after rules: %s", up.G.Kind)
	}
	a.wantMembers("rules set", g.ID, "ann@example.com", "bob@example.com", "dee@example.com")
	// A rename keeps the rules (omitted).
	a.query(update, map[string]any{"id": g.ID, "input": map[string]any{"name": "Examples"}}, &up)
	if up.G.Kind != "RULES" {
		t.Errorf("kind after a rename: %s", up.G.Kind)
	}
	// Other rules: members follow.
	a.query(update, map[string]any{"id": g.ID, "input": map[string]any{"name": "Examples",
		"rules": cond("EMAIL", "STARTS_WITH", map[string]any{"string": "d"})}}, &up)
	a.wantMembers("rules changed", g.ID, "dee@example.com")

	// No manual edits of a rule group.
	for _, m := range []string{"add_customers_to_group", "remove_customers_from_group"} {
		err := a.fail(`mutation ($g: ID!, $c: [ID!]!) { `+m+`(group_id: $g, customer_ids: $c) { id } }`,
			map[string]any{"g": g.ID, "c": []string{ids["ann@example.com"]}})
		wantError(t, err, "NOT_ALLOWED", "not_allowed", "The members of a rule-based group follow its rules and cannot be added or removed by hand; set its rules to null to make it static")
	}
	a.wantMembers("after refused edits", g.ID, "dee@example.com")

	// null makes it static, keeping the members; then they are editable.
	a.query(update, map[string]any{"id": g.ID, "input": map[string]any{"name": "Examples", "rules": nil}}, &up)
	if up.G.Kind != "STATIC" || string(up.G.Rules) != "null" {
		t.Errorf("after null: %s %s", up.G.Kind, up.G.Rules)
	}
	a.wantMembers("static again", g.ID, "dee@example.com")
	a.query(`mutation ($g: ID!, $c: [ID!]!) { add_customers_to_group(group_id: $g, customer_ids: $c) { id } }`,
		map[string]any{"g": g.ID, "c": []string{ids["ann@example.com"]}}, &struct{}{})
	a.wantMembers("static edit", g.ID, "ann@example.com", "dee@example.com")
	// A static group stays static: a change to a customer moves nothing.
	a.query(`mutation ($id: ID!) { update_customer(id: $id, input: {email: "zed@example.com"}) { id } }`, map[string]any{"id": ids["dee@example.com"]}, &struct{}{})
	a.wantMembers("static after a change", g.ID, "ann@example.com", "zed@example.com")

	// A group named by rules can neither get rules nor be deleted.
	ref := a.createRuleGroup("Refers", cond("GROUP", "EQ", map[string]any{"string": g.ID}))
	a.wantMembers("refers", ref.ID, "ann@example.com", "zed@example.com")
	err := a.fail(update, map[string]any{"id": g.ID, "input": map[string]any{"name": "Examples", "rules": cond("PHONE", "IS_SET", nil)}})
	wantError(t, err, "NOT_ALLOWED", "not_allowed", "The rules of the groups Refers name this group; change them first")
	err = a.fail(`mutation ($id: ID!) { delete_customer_group(id: $id) { id } }`, map[string]any{"id": g.ID})
	wantError(t, err, "NOT_ALLOWED", "not_allowed", "The rules of the groups Refers name this group; change them first")
	// Rules name static groups only, and never their own group.
	err = a.fail(update, map[string]any{"id": g.ID, "input": map[string]any{"name": "Examples", "rules": cond("GROUP", "EQ", map[string]any{"string": ref.ID})}})
	wantError(t, err, "INVALID_DATA", "invalid_data", "")
	if err.Extensions["field"] != "input.rules" {
		t.Errorf("field: %v", err.Extensions["field"])
	}
	err = a.fail(`query ($r: CustomerGroupRule!) { customer_group_rules_preview(rules: $r) { count } }`,
		map[string]any{"r": cond("GROUP", "IN", map[string]any{"strings": []string{"cusgroup_01JZZZZZZZZZZZZZZZZZZZZZZZ"}})})
	wantError(t, err, "INVALID_DATA", "invalid_data", "rules name only static groups that exist, other than the group itself: cusgroup_01JZZZZZZZZZZZZZZZZZZZZZZZ is not one")
}

func TestBadRules(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const q = `query ($r: CustomerGroupRule!) { customer_group_rules_preview(rules: $r) { count } }`
	deep := cond("EMAIL", "IS_SET", nil)
	for range 5 {
		deep = map[string]any{"not": deep}
	}
	many := []any{}
	for range 51 {
		many = append(many, cond("EMAIL", "IS_SET", nil))
	}
	tests := []struct {
		name       string
		rules      any
		field, msg string
	}{
		{"neither", map[string]any{}, "rules", "a rule has exactly one of all, any, not, condition; got none"},
		{"both", map[string]any{"all": []any{cond("EMAIL", "IS_SET", nil)}, "condition": map[string]any{"field": "EMAIL", "op": "IS_SET"}},
			"rules", "a rule has exactly one of all, any, not, condition; got all, condition"},
		{"nested both", map[string]any{"any": []any{cond("EMAIL", "IS_SET", nil), map[string]any{"not": cond("EMAIL", "IS_SET", nil), "any": []any{}}}},
			"rules.any[1]", "a rule has exactly one of all, any, not, condition; got any, not"},
		{"empty list", map[string]any{"all": []any{}}, "rules.all", "list at least one rule"},
		{"too deep", deep, "rules.not.not.not.not.not", "rules nest at most 5 levels deep"},
		{"too many", map[string]any{"any": many}, "rules.any[50]", "rules hold at most 50 conditions"},
		{"wrong op for the field", cond("ORDER_COUNT", "CONTAINS", map[string]any{"int": 1}),
			"rules.condition.op", "ORDER_COUNT is an integer and does not take CONTAINS; it takes EQ, NEQ, IN, NOT_IN, GT, GTE, LT, LTE"},
		{"wrong value for the field", cond("ORDER_COUNT", "GTE", map[string]any{"string": "3"}),
			"rules.condition.string", "ORDER_COUNT GTE takes int, not string"},
		{"value missing", cond("EMAIL", "EQ", nil), "rules.condition.string", "EMAIL EQ needs string"},
		{"two values", cond("EMAIL", "EQ", map[string]any{"string": "a", "strings": []string{"b"}}), "rules.condition.strings", "EMAIL EQ takes string, not strings"},
		{"value for is_set", cond("PHONE", "IS_SET", map[string]any{"boolean": true}), "rules.condition.boolean", "PHONE IS_SET takes no value"},
		{"time as int", cond("LAST_ORDER_AT", "GT", map[string]any{"int": 5}), "rules.condition.int", "LAST_ORDER_AT GT takes time, not int"},
		{"days out of range", cond("LAST_ORDER_AT", "WITHIN_LAST", map[string]any{"days": 0}), "rules.condition.days", "days must be between 1 and 36500, got 0"},
		{"metadata without key", cond("METADATA", "EQ", map[string]any{"string": "a"}), "rules.condition.key", "METADATA needs the key to read"},
		{"key elsewhere", cond("EMAIL", "EQ", map[string]any{"string": "a", "key": "k"}), "rules.condition.key", "only METADATA takes a key"},
		{"no currency", cond("AMOUNT_SPENT", "GT", map[string]any{"int": 1}), "rules.condition.currency_code", "AMOUNT_SPENT needs a currency_code"},
		{"bad currency", cond("AMOUNT_SPENT", "GT", map[string]any{"int": 1, "currency_code": "dollars"}), "rules.condition.currency_code", `"dollars" is not an ISO 4217 currency code`},
		{"blank value", cond("EMAIL", "CONTAINS", map[string]any{"string": "  "}), "rules.condition.string", "a value must not be blank"},
		{"empty in", cond("EMAIL", "IN", map[string]any{"strings": []string{}}), "rules.condition.strings", "list 1 to 100 values, got 0"},
		{"deep path", map[string]any{"all": []any{cond("EMAIL", "IS_SET", nil), map[string]any{"any": []any{cond("ORDER_COUNT", "GT", map[string]any{"boolean": true})}}}},
			"rules.all[1].any[0].condition.boolean", "ORDER_COUNT GT takes int, not boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.fail(q, map[string]any{"r": tt.rules})
			wantError(t, err, "INVALID_DATA", "invalid_data", tt.msg)
			if err.Extensions["field"] != tt.field {
				t.Errorf("field = %v, want %s", err.Extensions["field"], tt.field)
			}
		})
	}
	// Saving checks the same, naming the input's path; nothing is created.
	err := a.fail(groupWithRules, map[string]any{"input": map[string]any{"name": "Bad", "rules": cond("EMAIL", "GT", map[string]any{"int": 1})}})
	wantError(t, err, "INVALID_DATA", "invalid_data", "EMAIL is a string and does not take GT; it takes EQ, NEQ, IN, NOT_IN, CONTAINS, STARTS_WITH, IS_SET, IS_NULL")
	if err.Extensions["field"] != "input.rules.condition.op" {
		t.Errorf("field = %v", err.Extensions["field"])
	}
	// Unknown fields, operators and keys are the parser's: INVALID_DATA.
	for _, r := range []any{
		map[string]any{"condition": map[string]any{"field": "SHOE_SIZE", "op": "EQ", "int": 42}},
		map[string]any{"condition": map[string]any{"field": "EMAIL", "op": "LIKE", "string": "a"}},
		map[string]any{"condition": map[string]any{"field": "EMAIL", "op": "EQ", "value": "a"}},
		map[string]any{"either": []any{}},
		map[string]any{"condition": map[string]any{"field": "ORDER_COUNT", "op": "EQ", "int": "three"}},
		map[string]any{"condition": map[string]any{"field": "CREATED_AT", "op": "GT", "time": "yesterday"}},
	} {
		wantError(t, a.fail(q, map[string]any{"r": r}), "INVALID_DATA", "invalid_data", "")
	}
}

// TestRuleMembershipUnderConcurrentOrders: 100 orders at once, by 15
// guests, some on their first order (the guest customer is created in the
// order's transaction); the groups end exactly as the statistics say.
func TestRuleMembershipUnderConcurrentOrders(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	loyal := a.createRuleGroup("Loyal", map[string]any{"all": []any{
		cond("ORDER_COUNT", "GTE", map[string]any{"int": 7}),
		cond("AMOUNT_SPENT", "GTE", map[string]any{"currency_code": "usd", "int": 700}),
	}})
	casual := a.createRuleGroup("Casual", cond("ORDER_COUNT", "LT", map[string]any{"int": 7}))
	// Guest k places k orders (k = 1..13, 91 orders), and guest 14 nine.
	var emails []string
	for k := 1; k <= 13; k++ {
		for range k {
			emails = append(emails, fmt.Sprintf("g%02d@example.com", k))
		}
	}
	for range 9 {
		emails = append(emails, "g14@example.com")
	}
	results := concurrently(len(emails), func(i int) response {
		return a.as("").do(`mutation ($i: PlaceOrderInput!) { place_order(input: $i) { id } }`, map[string]any{"i": map[string]any{
			"email": emails[i], "currency_code": "usd", "items": []any{map[string]any{"title": "Mug", "quantity": 1, "unit_price": 100}},
		}})
	})
	if ok, _ := outcomes(t, results, "", ""); ok != 100 {
		t.Fatalf("%d of 100 orders placed", ok)
	}
	want := []string{}
	for k := 7; k <= 14; k++ {
		want = append(want, fmt.Sprintf("g%02d@example.com", k))
	}
	a.wantMembers("loyal", loyal.ID, want...)
	wantCasual := []string{}
	for k := 1; k < 7; k++ {
		wantCasual = append(wantCasual, fmt.Sprintf("g%02d@example.com", k))
	}
	a.wantMembers("casual", casual.ID, wantCasual...)
	var stats struct {
		Customers struct {
			Items []struct {
				Email string
				Stats struct {
					OrderCount  int `json:"order_count"`
					AmountSpent int `json:"amount_spent"`
				}
			}
		}
	}
	a.query(`{ customers(limit: 100, order: "email") { items { email stats { order_count amount_spent(currency_code: "usd") } } } }`, nil, &stats)
	for i, c := range stats.Customers.Items {
		k := i + 1
		if k == 14 {
			k = 9
		}
		if c.Stats.OrderCount != k || c.Stats.AmountSpent != 100*k {
			t.Errorf("%s: %d orders, %d spent; want %d", c.Email, c.Stats.OrderCount, c.Stats.AmountSpent, k)
		}
	}
}

// TestRelativeRulesRefresh: "within the last n days" changes with time
// alone; the refresh job evaluates such groups again.
func TestRelativeRulesRefresh(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.order("old@example.com", "usd", 100)
	a.order("new@example.com", "usd", 100)
	recent := a.createRuleGroup("Recent", cond("LAST_ORDER_AT", "WITHIN_LAST", map[string]any{"days": 90}))
	lapsed := a.createRuleGroup("Lapsed", cond("LAST_ORDER_AT", "OLDER_THAN", map[string]any{"days": 90}))
	fixed := a.createRuleGroup("Fixed", cond("ORDER_COUNT", "GTE", map[string]any{"int": 1}))
	a.wantMembers("recent", recent.ID, "new@example.com", "old@example.com")
	// Time passes for old's order: the statistics move without a write the
	// triggers see (as if 100 days went by).
	a.exec(`ALTER TABLE customer_stats DISABLE TRIGGER customer_group_rules_update`)
	a.exec(`UPDATE customer_stats SET last_order_at = now() - interval '100 days'
		WHERE customer_id = (SELECT id FROM customer WHERE email = 'old@example.com')`)
	a.exec(`ALTER TABLE customer_stats ENABLE TRIGGER customer_group_rules_update`)
	a.wantMembers("before the refresh", recent.ID, "new@example.com", "old@example.com")

	// Not due yet: refreshed at the save.
	if n, err := db.RefreshGroupRules(context.Background(), a.pool, time.Hour); err != nil || n != 0 {
		t.Fatalf("refresh within the hour: %d, %v", n, err)
	}
	n, err := db.RefreshGroupRules(context.Background(), a.pool, 0)
	if err != nil || n != 2 {
		t.Fatalf("refresh: %d groups, %v; want the 2 relative ones", n, err)
	}
	a.wantMembers("recent after the refresh", recent.ID, "new@example.com")
	a.wantMembers("lapsed after the refresh", lapsed.ID, "old@example.com")
	a.wantMembers("fixed", fixed.ID, "new@example.com", "old@example.com")
	// The system made the change: its events say so.
	var events struct {
		CustomerEvents struct{ Items []loggedEvent } `json:"customer_events"`
	}
	a.query(`query ($g: ID) { customer_events(filter: {group_id: $g}, limit: 1) { items { `+eventFields+` } } }`, map[string]any{"g": recent.ID}, &events)
	if e := events.CustomerEvents.Items; len(e) != 1 || e[0].Type != "customer_group.customer_removed" || e[0].ActorType != "SYSTEM" {
		t.Errorf("the refresh's event: %+v", e)
	}
}

// TestRuleGroupEvents: a rule group's members come and go with the events
// of manual ones (customer_group.customer_added and _removed), in the
// transaction and with the actor of the change that moved them.
func TestRuleGroupEvents(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.createCustomer(map[string]any{"email": "ev@example.com", "first_name": "Ev"})
	mark := a.lastEventID()
	g := a.createRuleGroup("Evs", cond("FIRST_NAME", "EQ", map[string]any{"string": "ev"}))
	ev := a.eventsSince(mark)
	wantEvents(t, "create with rules", ev, "customer_group.created", "customer_group.customer_added")
	if len(ev) == 2 && (str(ev[1].CustomerID) != c.ID || ev[1].ActorType != "USER" || !strings.Contains(string(ev[0].Data["rules"]), "FIRST_NAME")) {
		t.Errorf("events: %+v", ev)
	}
	mark = ev[len(ev)-1].ID
	a.query(`mutation ($id: ID!) { update_customer(id: $id, input: {first_name: "Eve"}) { id } }`, map[string]any{"id": c.ID}, &struct{}{})
	ev = a.eventsSince(mark)
	wantEvents(t, "renamed", ev, "customer.updated", "customer_group.customer_removed")
	mark = ev[len(ev)-1].ID
	a.query(`mutation ($id: ID!, $input: CustomerGroupInput!) { update_customer_group(id: $id, input: $input) { id } }`,
		map[string]any{"id": g.ID, "input": map[string]any{"name": "Evs", "rules": cond("FIRST_NAME", "STARTS_WITH", map[string]any{"string": "ev"})}}, &struct{}{})
	ev = a.eventsSince(mark)
	wantEvents(t, "rules changed", ev, "customer_group.updated", "customer_group.customer_added")
	if len(ev) == 2 {
		if from, to := change(t, ev[0], "rules"); from == nil || to == nil {
			t.Errorf("rules changed from %v to %v", from, to)
		}
		if _, leaked := ev[0].Changes["rule_sql"]; leaked {
			t.Errorf("the event shows the compiled rules: %v", ev[0].Changes)
		}
	}
}

func TestGroupKindFilter(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.createRuleGroup("Static", nil)
	a.createRuleGroup("Ruled", cond("EMAIL", "IS_SET", nil))
	const q = `query ($k: CustomerGroupKind) { customer_groups(filter: {kind: $k}, order: "name") { items { id name } count } }`
	for kind, want := range map[string][]string{"STATIC": {"Static"}, "RULES": {"Ruled"}} {
		var got groupList
		a.query(q, map[string]any{"k": kind}, &got)
		if !slices.Equal(got.names(), want) || got.CustomerGroups.Count != 1 {
			t.Errorf("%s: %v (%d)", kind, got.names(), got.CustomerGroups.Count)
		}
	}
}

// A preview pages by offset like any list: the first page is a statement
// without OFFSET (db.ListCustomersByRules), the others with it.
func TestRulePreviewPages(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ruleCustomers(a)
	rules := cond("EMAIL", "CONTAINS", map[string]any{"string": "@"})
	all, n := a.rulesPreview(rules)
	if n < 3 || len(all) != n {
		t.Fatalf("preview: %v (count %d), want every customer", all, n)
	}
	var paged []string
	for offset := 0; offset < n; offset += 2 {
		var got struct {
			P struct {
				Items []struct {
					Email string `json:"email"`
				} `json:"items"`
			} `json:"customer_group_rules_preview"`
		}
		a.query(`query ($r: CustomerGroupRule!, $o: Int!) { customer_group_rules_preview(rules: $r, limit: 2, offset: $o, order: "email") { items { email } } }`,
			map[string]any{"r": rules, "o": offset}, &got)
		for _, c := range got.P.Items {
			paged = append(paged, c.Email)
		}
	}
	if !slices.Equal(paged, all) {
		t.Errorf("pages of 2: %v, want %v", paged, all)
	}
}
