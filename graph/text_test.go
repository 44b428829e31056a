package graph_test

import (
	"strings"
	"testing"
)

// wantInvalid checks that an error is INVALID_DATA about field, with
// message.
func wantInvalid(tb testing.TB, got gqlError, field, message string) {
	tb.Helper()
	wantError(tb, got, "INVALID_DATA", "invalid_data", message)
	if got.Extensions["field"] != field {
		tb.Errorf("error field = %v, want %s (message %q)", got.Extensions["field"], field, got.Message)
	}
}

// TestLookalikeEmailsAreRefused: an address with an invisible character or
// letters of two scripts, which passes for an existing customer's, is
// refused wherever an email is written, and nothing is stored beside the
// real customer.
func TestLookalikeEmailsAreRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	john := a.createCustomer(map[string]any{"email": "john@example.com"})
	const mixedDomain = `the domain label "exаmple" of the email mixes Cyrillic and Latin letters; use letters of one script`
	lookalikes := map[string]string{
		"john@exa\u200bmple.com":  "email must not contain U+200B, an invisible format character",
		"jo\u200bhn@example.com":  "email must not contain U+200B, an invisible format character",
		"john@ex\u0430mple.com":   mixedDomain,
		"john@xn--exmple-4nf.com": mixedDomain,
		"j\u043ehn@example.com":   "the part of the email before the @ mixes Cyrillic and Latin letters; use letters of one script",
	}
	writes := []struct {
		name, query, field string
		as                 *api
		vars               func(email string) map[string]any
	}{
		{"create_customer", `mutation ($e: String!) { create_customer(input: {email: $e}) { id } }`, "input.email", a,
			func(e string) map[string]any { return map[string]any{"e": e} }},
		{"update_customer", `mutation ($id: ID!, $e: String!) { update_customer(id: $id, input: {email: $e}) { id } }`, "input.email", a,
			func(e string) map[string]any { return map[string]any{"id": john.ID, "e": e} }},
		{"register", registerQ, "email", a.as(""),
			func(e string) map[string]any {
				return map[string]any{"t": "CUSTOMER", "e": e, "p": "a password of some length"}
			}},
		{"place_order", `mutation ($i: PlaceOrderInput!) { place_order(input: $i) { id } }`, "input.email", a.as(""),
			func(e string) map[string]any { return map[string]any{"i": orderInput(e, 100)} }},
	}
	for email, message := range lookalikes {
		for _, w := range writes {
			t.Run(w.name+" "+email, func(t *testing.T) {
				api := *w.as
				api.tb = t
				wantInvalid(t, api.fail(w.query, w.vars(email)), w.field, message)
			})
		}
	}
	var customers, identities, orders int
	if err := a.pool.QueryRow(`SELECT (SELECT count(*) FROM customer), (SELECT count(*) FROM auth_identity), (SELECT count(*) FROM orders)`).Scan(&customers, &identities, &orders); err != nil {
		t.Fatal(err)
	}
	// The admin user's identity is the one identity.
	if customers != 1 || identities != 1 || orders != 0 {
		t.Errorf("stored %d customers, %d identities and %d orders; want only john and the admin", customers, identities, orders)
	}
}

// TestEmailDomainIsStoredInASCII: bücher.de and xn--bcher-kva.de are one
// domain, stored in the second form, and every lookup (filters, login)
// finds an address whichever form it is given in.
func TestEmailDomainIsStoredInASCII(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.createCustomer(map[string]any{"email": "Hans@Bücher.de"})
	if c.Email != "hans@xn--bcher-kva.de" {
		t.Errorf("email = %q, want hans@xn--bcher-kva.de", c.Email)
	}
	err := a.fail(`mutation ($e: String!) { create_customer(input: {email: $e}) { id } }`, map[string]any{"e": "hans@xn--bcher-kva.de"})
	wantError(t, err, "DUPLICATE_ERROR", "duplicate_error", "")
	for _, email := range []string{"HANS@BÜCHER.DE", "hans@bu\u0308cher.de", "hans@xn--bcher-kva.de"} {
		var got customerPage
		a.query(listCustomers, map[string]any{"filter": map[string]any{"email": []string{email}}}, &got)
		if ids := got.Customers.Items; len(ids) != 1 || ids[0].ID != c.ID {
			t.Errorf("filter email %q found %+v, want %s", email, ids, c.ID)
		}
	}

	// Registration stores the composed local part and the ASCII domain; a
	// login in any form of the address finds it.
	_, id := a.signUp("Jürgen@Bücher.de", "jürgen's password")
	var stored string
	if err := a.pool.Get(&stored, `SELECT email FROM customer WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if stored != "jürgen@xn--bcher-kva.de" {
		t.Errorf("stored %q, want jürgen@xn--bcher-kva.de", stored)
	}
	for _, email := range []string{"jürgen@bücher.de", "JU\u0308RGEN@xn--bcher-kva.de", " jürgen@BU\u0308CHER.de "} {
		if a.login("CUSTOMER", email, "jürgen's password") == "" {
			t.Errorf("login as %q failed", email)
		}
	}
}

// TestTextRefusesBidiAndInvisibleCharacters: names and address fields
// refuse characters that reorder or hide text, keep the joiners scripts and
// emoji need, and count characters composed.
func TestTextRefusesBidiAndInvisibleCharacters(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.createCustomer(map[string]any{"email": "names@example.com"})
	writes := []struct {
		as           *api
		query, field string
		vars         func(v string) map[string]any
	}{
		{a, `mutation ($v: String!) { create_customer(input: {email: "x@example.com", first_name: $v}) { id } }`, "input.first_name",
			func(v string) map[string]any { return map[string]any{"v": v} }},
		{a, `mutation ($id: ID!, $v: String!) { update_customer(id: $id, input: {last_name: $v}) { id } }`, "input.last_name",
			func(v string) map[string]any { return map[string]any{"id": c.ID, "v": v} }},
		{a, `mutation ($id: ID!, $v: String!) { update_customer(id: $id, input: {company_name: $v}) { id } }`, "input.company_name",
			func(v string) map[string]any { return map[string]any{"id": c.ID, "v": v} }},
		{a, `mutation ($v: String!) { create_customer_group(input: {name: $v}) { id } }`, "input.name",
			func(v string) map[string]any { return map[string]any{"v": v} }},
		{a, `mutation ($id: ID!, $v: String!) { create_customer_address(customer_id: $id, input: {city: $v}) { id } }`, "input.city",
			func(v string) map[string]any { return map[string]any{"id": c.ID, "v": v} }},
		{a.as(""), `mutation ($i: PlaceOrderInput!) { place_order(input: $i) { id } }`, "input.items.0.title",
			func(v string) map[string]any {
				return map[string]any{"i": map[string]any{"email": "o@example.com", "currency_code": "usd", "items": []any{map[string]any{"title": v, "quantity": 1, "unit_price": 1}}}}
			}},
	}
	refused := map[string]string{
		"Evil\u202egnp.exe": "must not contain bidirectional control characters such as U+202E, which reorder the text shown around them",
		"\u2066Isolated":    "must not contain bidirectional control characters such as U+2066, which reorder the text shown around them",
		"Arabic\u061cmark":  "must not contain bidirectional control characters such as U+061C, which reorder the text shown around them",
		"Jo\u200bhn":        "must not contain invisible format characters such as U+200B",
		"Jo\u2060hn":        "must not contain invisible format characters such as U+2060",
		"\ufeffJohn":        "must not contain invisible format characters such as U+FEFF",
		"Jo\u00adhn":        "must not contain invisible format characters such as U+00AD",
	}
	for _, w := range writes {
		for v, message := range refused {
			wantInvalid(t, w.as.fail(w.query, w.vars(v)), w.field, w.field+" "+message)
		}
		if resp := w.as.do(w.query, w.vars("Dev 👩\u200d💻 می\u200cخواهم")); len(resp.Errors) != 0 {
			t.Errorf("%s refused ZWJ and ZWNJ: %+v", w.field, resp.Errors)
		}
	}

	// Stored composed; the limit counts composed characters.
	u := struct {
		U customerOut `json:"update_customer"`
	}{}
	a.query(`mutation ($id: ID!, $v: String!) { update_customer(id: $id, input: {first_name: $v}) { `+customerFields+` } }`,
		map[string]any{"id": c.ID, "v": strings.Repeat("e\u0301", 255)}, &u)
	if *u.U.FirstName != strings.Repeat("é", 255) {
		t.Errorf("first_name = %q, want 255 composed é", *u.U.FirstName)
	}
	wantInvalid(t, a.fail(`mutation ($id: ID!, $v: String!) { update_customer(id: $id, input: {first_name: $v}) { id } }`,
		map[string]any{"id": c.ID, "v": strings.Repeat("e\u0301", 256)}), "input.first_name", "input.first_name must be at most 255 characters, got 256")
}

// TestSearchLimitCountsCharacters: q is bounded in characters, not bytes,
// and matches text composed as it is stored.
func TestSearchLimitCountsCharacters(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.createCustomer(map[string]any{"email": "jose@example.com", "first_name": "José"})
	a.createGroup("Über")
	lists := []string{
		`query ($q: String) { customers(filter: {q: $q}) { count items { id } } }`,
		`query ($q: String) { customer_groups(filter: {q: $q}) { count items { id } } }`,
	}
	for _, q := range lists {
		// 200 characters, 400 bytes.
		if resp := a.do(q, map[string]any{"q": strings.Repeat("ü", 200)}); len(resp.Errors) != 0 {
			t.Errorf("200 characters refused: %+v", resp.Errors)
		}
		wantInvalid(t, a.fail(q, map[string]any{"q": strings.Repeat("ü", 201)}), "filter.q", "q must be at most 200 characters, got 201")
		// Decomposed, 200 characters composed.
		if resp := a.do(q, map[string]any{"q": strings.Repeat("u\u0308", 200)}); len(resp.Errors) != 0 {
			t.Errorf("200 composed characters refused: %+v", resp.Errors)
		}
	}
	var got customerPage
	a.query(lists[0], map[string]any{"q": "Jose\u0301"}, &got)
	if len(got.Customers.Items) != 1 || got.Customers.Items[0].ID != c.ID {
		t.Errorf("a decomposed José found %+v, want %s", got.Customers.Items, c.ID)
	}
	var groups struct {
		Groups struct {
			Count int `json:"count"`
		} `json:"customer_groups"`
	}
	a.query(lists[1], map[string]any{"q": "U\u0308ber"}, &groups)
	if groups.Groups.Count != 1 {
		t.Errorf("a decomposed Über found %d groups, want 1", groups.Groups.Count)
	}
}
