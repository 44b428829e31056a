package graph_test

import (
	"strings"
	"testing"
)

type addressOut struct {
	ID                string         `json:"id"`
	CustomerID        string         `json:"customer_id"`
	AddressName       *string        `json:"address_name"`
	IsDefaultShipping bool           `json:"is_default_shipping"`
	IsDefaultBilling  bool           `json:"is_default_billing"`
	Company           *string        `json:"company"`
	FirstName         *string        `json:"first_name"`
	Address1          *string        `json:"address_1"`
	City              *string        `json:"city"`
	CountryCode       *string        `json:"country_code"`
	PostalCode        *string        `json:"postal_code"`
	Phone             *string        `json:"phone"`
	Metadata          map[string]any `json:"metadata"`
	Customer          struct {
		Email string `json:"email"`
	} `json:"customer"`
}

const addressFields = `id customer_id address_name is_default_shipping is_default_billing company first_name address_1 city country_code postal_code phone metadata customer { email }`

func (a *api) createAddress(customerID string, input map[string]any) addressOut {
	a.tb.Helper()
	var got struct {
		Address addressOut `json:"create_customer_address"`
	}
	a.query(`mutation ($id: ID!, $input: AddressInput!) { create_customer_address(customer_id: $id, input: $input) { `+addressFields+` } }`,
		map[string]any{"id": customerID, "input": input}, &got)
	return got.Address
}

func (a *api) updateAddress(id string, input map[string]any) addressOut {
	a.tb.Helper()
	var got struct {
		Address addressOut `json:"update_customer_address"`
	}
	a.query(`mutation ($id: ID!, $input: AddressInput!) { update_customer_address(id: $id, input: $input) { `+addressFields+` } }`,
		map[string]any{"id": id, "input": input}, &got)
	return got.Address
}

// book returns a customer's default billing address id, shipping address
// ids (default first) and the number of each default among its addresses.
func (a *api) book(customerID string) (billing string, shipping []string, billingDefaults, shippingDefaults int) {
	a.tb.Helper()
	var got struct {
		Customer struct {
			Addresses []addressOut `json:"addresses"`
			Billing   *addressOut  `json:"billing_address"`
			Shipping  []addressOut `json:"shipping_addresses"`
		} `json:"customer"`
	}
	a.query(`query ($id: ID!) { customer(id: $id) { addresses { id is_default_billing is_default_shipping } billing_address { id } shipping_addresses { id } } }`,
		map[string]any{"id": customerID}, &got)
	if got.Customer.Billing != nil {
		billing = got.Customer.Billing.ID
	}
	for _, s := range got.Customer.Shipping {
		shipping = append(shipping, s.ID)
	}
	for _, ad := range got.Customer.Addresses {
		if ad.IsDefaultBilling {
			billingDefaults++
		}
		if ad.IsDefaultShipping {
			shippingDefaults++
		}
	}
	return
}

func TestCreateAndUpdateAddress(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.createCustomer(map[string]any{"email": "home@example.com"})
	ad := a.createAddress(c.ID, map[string]any{
		"address_name": "Home", "company": "Acme", "first_name": "Ann", "address_1": "1 Long Road", "city": "Berlin",
		"country_code": " DE ", "postal_code": "10115", "phone": "+49 30 1234", "metadata": map[string]any{"door": "blue"},
	})
	if !strings.HasPrefix(ad.ID, "cuaddr_") || ad.CustomerID != c.ID || ad.Customer.Email != "home@example.com" {
		t.Errorf("address = %+v", ad)
	}
	if *ad.AddressName != "Home" || *ad.CountryCode != "de" || *ad.City != "Berlin" || ad.Metadata["door"] != "blue" || ad.IsDefaultBilling || ad.IsDefaultShipping {
		t.Errorf("address fields = %+v", ad)
	}
	u := a.updateAddress(ad.ID, map[string]any{"city": "Hamburg", "company": nil})
	if *u.City != "Hamburg" || u.Company != nil || *u.Address1 != "1 Long Road" || *u.PostalCode != "10115" {
		t.Errorf("after update = %+v; want city changed, company cleared, the rest kept", u)
	}

	tests := []struct {
		name, field string
		input       map[string]any
	}{
		{"unknown country", "input.country_code", map[string]any{"country_code": "xx"}},
		{"country name", "input.country_code", map[string]any{"country_code": "Germany"}},
		{"alpha-3 code", "input.country_code", map[string]any{"country_code": "deu"}},
		{"long postal code", "input.postal_code", map[string]any{"postal_code": strings.Repeat("1", 21)}},
		{"long city", "input.city", map[string]any{"city": strings.Repeat("c", 256)}},
		{"bad phone", "input.phone", map[string]any{"phone": "none"}},
		{"metadata not an object", "", map[string]any{"metadata": []any{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, q := range []struct {
				query string
				id    string
			}{
				{`mutation ($id: ID!, $input: AddressInput!) { create_customer_address(customer_id: $id, input: $input) { id } }`, c.ID},
				{`mutation ($id: ID!, $input: AddressInput!) { update_customer_address(id: $id, input: $input) { id } }`, ad.ID},
			} {
				err := a.fail(q.query, map[string]any{"id": q.id, "input": tt.input})
				wantError(t, err, "INVALID_DATA", "invalid_data", "")
				if tt.field != "" && err.Extensions["field"] != tt.field {
					t.Errorf("field = %v, want %s", err.Extensions["field"], tt.field)
				}
			}
		})
	}

	wantError(t, a.fail(`mutation { create_customer_address(customer_id: "cus_nope", input: {city: "X"}) { id } }`, nil),
		"NOT_FOUND", "not_found", "Customer with id: cus_nope was not found")
	wantError(t, a.fail(`mutation { update_customer_address(id: "cuaddr_nope", input: {city: "X"}) { id } }`, nil),
		"NOT_FOUND", "not_found", "Address with id: cuaddr_nope was not found")

	// Deleting the address; a second delete, or an update, finds nothing.
	var del struct {
		D struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Deleted bool   `json:"deleted"`
		} `json:"delete_customer_address"`
	}
	a.query(`mutation ($id: ID!) { delete_customer_address(id: $id) { id object deleted } }`, map[string]any{"id": ad.ID}, &del)
	if del.D.ID != ad.ID || del.D.Object != "customer_address" || !del.D.Deleted {
		t.Errorf("delete result = %+v", del.D)
	}
	if _, shipping, _, _ := a.book(c.ID); len(shipping) != 0 {
		t.Errorf("address book after delete = %v", shipping)
	}
	wantError(t, a.fail(`mutation ($id: ID!) { delete_customer_address(id: $id) { id } }`, map[string]any{"id": ad.ID}), "NOT_FOUND", "not_found", "")
	wantError(t, a.fail(`mutation ($id: ID!) { update_customer_address(id: $id, input: {city: "X"}) { id } }`, map[string]any{"id": ad.ID}), "NOT_FOUND", "not_found", "")

	// A deleted customer's address book is closed.
	other := a.createCustomer(map[string]any{"email": "gone@example.com"})
	kept := a.createAddress(other.ID, map[string]any{"city": "Paris"})
	a.query(`mutation ($id: ID!) { delete_customer(id: $id) { id } }`, map[string]any{"id": other.ID}, &struct{}{})
	wantError(t, a.fail(`mutation ($id: ID!) { create_customer_address(customer_id: $id, input: {city: "X"}) { id } }`, map[string]any{"id": other.ID}), "NOT_FOUND", "not_found", "")
	wantError(t, a.fail(`mutation ($id: ID!) { update_customer_address(id: $id, input: {city: "X"}) { id } }`, map[string]any{"id": kept.ID}), "NOT_FOUND", "not_found", "")
}

func TestDefaultAddressesStayUnique(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.createCustomer(map[string]any{"email": "defaults@example.com"})
	home := a.createAddress(c.ID, map[string]any{"address_1": "Home", "is_default_billing": true, "is_default_shipping": true})
	work := a.createAddress(c.ID, map[string]any{"address_1": "Work", "is_default_billing": true})

	billing, shipping, nb, ns := a.book(c.ID)
	if billing != work.ID || shipping[0] != home.ID || nb != 1 || ns != 1 {
		t.Errorf("after a new default billing: billing %s, shipping %v (%d, %d defaults); want work, home first", billing, shipping, nb, ns)
	}

	a.updateAddress(work.ID, map[string]any{"is_default_shipping": true})
	billing, shipping, nb, ns = a.book(c.ID)
	if billing != work.ID || shipping[0] != work.ID || shipping[1] != home.ID || nb != 1 || ns != 1 {
		t.Errorf("after moving shipping: billing %s, shipping %v (%d, %d defaults)", billing, shipping, nb, ns)
	}

	a.updateAddress(home.ID, map[string]any{"is_default_billing": true, "is_default_shipping": false})
	billing, _, nb, ns = a.book(c.ID)
	if billing != home.ID || nb != 1 || ns != 1 {
		t.Errorf("after moving billing back: billing %s (%d, %d defaults)", billing, nb, ns)
	}

	a.updateAddress(home.ID, map[string]any{"is_default_billing": false})
	billing, _, nb, _ = a.book(c.ID)
	if billing != "" || nb != 0 {
		t.Errorf("after clearing billing: billing %q, %d defaults", billing, nb)
	}

	// Concurrent creates of default addresses leave exactly one default.
	results := concurrently(10, func(int) response {
		return a.do(`mutation ($id: ID!) { create_customer_address(customer_id: $id, input: {is_default_billing: true, is_default_shipping: true}) { id } }`, map[string]any{"id": c.ID})
	})
	if ok, _ := outcomes(t, results, "", ""); ok != 10 {
		t.Errorf("%d of 10 concurrent creates succeeded", ok)
	}
	_, shipping, nb, ns = a.book(c.ID)
	if len(shipping) != 12 || nb != 1 || ns != 1 {
		t.Errorf("after 10 concurrent default creates: %d addresses, %d billing and %d shipping defaults; want 12, 1, 1", len(shipping), nb, ns)
	}
}
