package graph_test

import (
	"testing"
)

func TestStorefrontAccount(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tok, id := a.signUp("mia@example.com", "mia's password")
	mia := a.as(tok)

	var upd struct {
		U customerOut `json:"update_me"`
	}
	mia.query(`mutation { update_me(input: {first_name: "Mia", phone: "+44 20 7946 0000", metadata: {newsletter: true}}) { `+customerFields+` } }`, nil, &upd)
	if *upd.U.FirstName != "Mia" || *upd.U.Phone != "+44 20 7946 0000" || upd.U.Metadata["newsletter"] != true || upd.U.Email != "mia@example.com" || upd.U.ID != id {
		t.Errorf("update_me = %+v", upd.U)
	}
	wantError(t, mia.fail(`mutation { update_me(input: {first_name: "x", phone: "call me"}) { id } }`, nil), "INVALID_DATA", "invalid_data", "")

	var created struct {
		A addressOut `json:"create_my_address"`
	}
	mia.query(`mutation { create_my_address(input: {address_1: "1 High St", city: "London", country_code: "GB", is_default_billing: true, is_default_shipping: true}) { `+addressFields+` } }`, nil, &created)
	home := created.A
	if home.CustomerID != id || *home.CountryCode != "gb" || !home.IsDefaultBilling {
		t.Errorf("create_my_address = %+v", home)
	}
	mia.query(`mutation { create_my_address(input: {address_1: "2 Low St", city: "Leeds", is_default_shipping: true}) { `+addressFields+` } }`, nil, &created)
	work := created.A
	billing, shipping, nb, ns := a.book(id)
	if billing != home.ID || shipping[0] != work.ID || nb != 1 || ns != 1 {
		t.Errorf("book: billing %s, shipping %v, defaults %d/%d", billing, shipping, nb, ns)
	}
	var updated struct {
		A addressOut `json:"update_my_address"`
	}
	mia.query(`mutation ($id: ID!) { update_my_address(id: $id, input: {is_default_billing: true, city: "York"}) { `+addressFields+` } }`, map[string]any{"id": work.ID}, &updated)
	if *updated.A.City != "York" || !updated.A.IsDefaultBilling {
		t.Errorf("update_my_address = %+v", updated.A)
	}
	if billing, _, nb, _ = a.book(id); billing != work.ID || nb != 1 {
		t.Errorf("billing after update = %s (%d defaults)", billing, nb)
	}
	var del struct {
		D struct {
			Object  string `json:"object"`
			Deleted bool   `json:"deleted"`
		} `json:"delete_my_address"`
	}
	mia.query(`mutation ($id: ID!) { delete_my_address(id: $id) { object deleted } }`, map[string]any{"id": home.ID}, &del)
	if del.D.Object != "customer_address" || !del.D.Deleted {
		t.Errorf("delete_my_address = %+v", del.D)
	}

	// me with every relation.
	var got struct {
		Me struct {
			Email             string `json:"email"`
			HasAccount        bool   `json:"has_account"`
			Addresses         []addressOut
			BillingAddress    *addressOut         `json:"billing_address"`
			ShippingAddresses []addressOut        `json:"shipping_addresses"`
			Groups            []struct{}          `json:"groups"`
			Orders            struct{ Count int } `json:"orders"`
		} `json:"me"`
	}
	mia.query(`{ me { email has_account addresses { id city customer { email } } billing_address { id } shipping_addresses { id } groups { name } orders { count items { id } } } }`, nil, &got)
	m := got.Me
	if m.Email != "mia@example.com" || !m.HasAccount || len(m.Addresses) != 1 || m.BillingAddress == nil || m.BillingAddress.ID != work.ID ||
		len(m.ShippingAddresses) != 1 || len(m.Groups) != 0 || m.Orders.Count != 0 {
		t.Errorf("me = %+v", m)
	}

	// A deleted account's token no longer reaches anything
	// (TestDeletedCustomersTokenReachesNothing).
	a.query(`mutation ($id: ID!) { delete_customer(id: $id) { id } }`, map[string]any{"id": id}, &struct{}{})
	wantError(t, mia.fail(meQ, nil), "UNAUTHORIZED", "unauthorized", revoked)
	wantError(t, mia.fail(`mutation { create_my_address(input: {city: "X"}) { id } }`, nil), "UNAUTHORIZED", "unauthorized", revoked)
}

func TestPasswordReset(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.signUp("reset@example.com", "old password")
	const request = `mutation ($e: String!) { request_password_reset(actor_type: CUSTOMER, email: $e) }`
	const reset = `mutation ($t: String!, $p: String!) { reset_password(token: $t, password: $p) }`
	for _, email := range []string{"nobody@example.com", "not an email", "RESET@example.com"} {
		var got struct {
			R bool `json:"request_password_reset"`
		}
		a.as("").query(request, map[string]any{"e": email}, &got)
		if !got.R {
			t.Errorf("request_password_reset(%q) = false", email)
		}
	}
	// The invalid email is not queued.
	if n := a.processResets(); n != 2 {
		t.Errorf("%d reset requests processed, want 2", n)
	}
	var tokens []string
	if err := a.pool.Select(&tokens, `SELECT data->>'token' FROM notification WHERE template = 'password_reset' ORDER BY created_at`); err != nil {
		t.Fatal(err)
	}
	if len(tokens) != 1 {
		t.Fatalf("outbox holds %d reset messages, want 1 (for the known email only)", len(tokens))
	}
	var stored int
	if err := a.pool.Get(&stored, `SELECT count(*) FROM password_reset_token WHERE token_hash = $1`, tokens[0]); err != nil || stored != 0 {
		t.Errorf("the token is stored in the clear (%d, %v)", stored, err)
	}

	wantError(t, a.as("").fail(reset, map[string]any{"t": tokens[0], "p": "short"}), "INVALID_DATA", "invalid_data", "")
	var ok struct {
		R bool `json:"reset_password"`
	}
	a.as("").query(reset, map[string]any{"t": tokens[0], "p": "new password"}, &ok)
	if !ok.R {
		t.Error("reset_password = false")
	}
	a.login("CUSTOMER", "reset@example.com", "new password")
	wantError(t, a.as("").fail(loginQ, map[string]any{"t": "CUSTOMER", "e": "reset@example.com", "p": "old password"}), "UNAUTHORIZED", "unauthorized", "Invalid email or password")
	// Single use.
	wantError(t, a.as("").fail(reset, map[string]any{"t": tokens[0], "p": "third password"}), "UNAUTHORIZED", "unauthorized", "Invalid or expired reset token")
	wantError(t, a.as("").fail(reset, map[string]any{"t": "made-up", "p": "third password"}), "UNAUTHORIZED", "unauthorized", "Invalid or expired reset token")

	// Expired.
	a.aMinutePasses()
	a.as("").query(request, map[string]any{"e": "reset@example.com"}, &struct{}{})
	a.processResets()
	var second string
	if err := a.pool.Get(&second, `SELECT data->>'token' FROM notification WHERE template = 'password_reset' ORDER BY created_at DESC LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	a.exec(`UPDATE password_reset_token SET expires_at = now() - interval '1 second'`)
	wantError(t, a.as("").fail(reset, map[string]any{"t": second, "p": "third password"}), "UNAUTHORIZED", "unauthorized", "Invalid or expired reset token")
}
