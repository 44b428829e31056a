package graph_test

// Issue 18, Medusa v2 parity: the rest of order transfers (cancel, an
// admin's transfer, description, update_order_email) and the filters
// Medusa accepts on customers, groups and the storefront's address list.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	cancelQ   = `mutation ($id: ID!) { cancel_order_transfer(order_id: $id) }`
	transferQ = `mutation ($id: ID!, $c: ID!, $d: String, $u: Boolean) {
		transfer_order(order_id: $id, customer_id: $c, description: $d, update_order_email: $u) { order_id sent_to expires_at } }`
)

// pendingTransfers is the number of an order's pending transfer requests.
func (a *api) pendingTransfers(orderID string) int {
	a.tb.Helper()
	var n int
	if err := a.pool.Get(&n, `SELECT count(*) FROM order_transfer WHERE order_id = $1 AND status = 'pending'`, orderID); err != nil {
		a.tb.Fatal(err)
	}
	return n
}

func TestCancelOrderTransfer(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	order := a.as("").placeOrder(orderInput("guest@example.com", 500))
	askerToken, _ := a.signUp("asker@example.com", "asker password")
	otherToken, _ := a.signUp("other@example.com", "other password")
	asker, other := a.as(askerToken), a.as(otherToken)
	vars := map[string]any{"id": order.ID}

	asker.query(requestQ, vars, &struct{}{})
	// Anonymous: UNAUTHORIZED; another customer: NOT_FOUND, as if there
	// were none, and the request stands.
	wantError(t, a.as("").fail(cancelQ, vars), "UNAUTHORIZED", "unauthorized", "")
	wantError(t, other.fail(cancelQ, vars), "NOT_FOUND", "not_found",
		fmt.Sprintf("Order: %s has no pending transfer request of yours", order.ID))
	if n := a.pendingTransfers(order.ID); n != 1 {
		t.Fatalf("pending requests after refused cancellations: %d", n)
	}
	// The requester cancels; its token is spent.
	var got struct {
		Cancel bool `json:"cancel_order_transfer"`
	}
	asker.query(cancelQ, vars, &got)
	if !got.Cancel || a.pendingTransfers(order.ID) != 0 {
		t.Fatalf("cancel answered %v, %d pending", got.Cancel, a.pendingTransfers(order.ID))
	}
	wantError(t, asker.fail(acceptQ, map[string]any{"id": order.ID, "t": a.transferToken(order.ID)}), "NOT_ALLOWED", "not_allowed", "Invalid token.")
	// Nothing left to cancel.
	wantError(t, asker.fail(cancelQ, vars), "NOT_FOUND", "not_found", "")
	wantError(t, a.fail(cancelQ, vars), "NOT_FOUND", "not_found", fmt.Sprintf("Order: %s has no pending transfer request", order.ID))
	wantError(t, a.fail(cancelQ, map[string]any{"id": "order_01ARZ3NDEKTSV4RRFFQ69G5FAV"}), "NOT_FOUND", "not_found", "")

	// An admin cancels a customer's request.
	a.transferIntervalPasses()
	asker.query(requestQ, vars, &struct{}{})
	a.query(cancelQ, vars, &got)
	if !got.Cancel || a.pendingTransfers(order.ID) != 0 {
		t.Fatalf("admin cancel answered %v, %d pending", got.Cancel, a.pendingTransfers(order.ID))
	}
	// A customer cannot cancel what an admin asked for on its behalf.
	askerID := a.customerID("asker@example.com")
	a.query(transferQ, map[string]any{"id": order.ID, "c": askerID}, &struct{}{})
	wantError(t, asker.fail(cancelQ, vars), "NOT_FOUND", "not_found", "")
	if n := a.pendingTransfers(order.ID); n != 1 {
		t.Errorf("the admin's request: %d pending", n)
	}
	// An expired request is not pending any more.
	a.exec(`UPDATE order_transfer SET expires_at = now() - interval '1 second' WHERE order_id = $1`, order.ID)
	wantError(t, a.fail(cancelQ, vars), "NOT_FOUND", "not_found", "")
	// Bad input.
	wantError(t, a.fail(`mutation { cancel_order_transfer(order_id: true) }`, nil), "INVALID_DATA", "invalid_data", "")
	wantError(t, a.fail(`mutation { cancel_order_transfer(order_id: "x", extra: 1) }`, nil), "INVALID_DATA", "invalid_data", "")
}

func TestAdminTransferOrder(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	order := a.as("").placeOrder(orderInput("Guest@Example.com", 500))
	buyerToken, buyerID := a.signUp("buyer@example.com", "buyer password")
	otherToken, _ := a.signUp("other@example.com", "other password")
	buyer := a.as(buyerToken)
	vars := map[string]any{"id": order.ID, "c": buyerID, "d": "  Merged at the customer's request  ", "u": true}

	// Only admin users.
	wantError(t, a.as("").fail(transferQ, vars), "UNAUTHORIZED", "unauthorized", "")
	wantError(t, buyer.fail(transferQ, vars), "NOT_ALLOWED", "not_allowed", "")
	wantError(t, a.as(otherToken).fail(transferQ, vars), "NOT_ALLOWED", "not_allowed", "")
	if n := a.pendingTransfers(order.ID); n != 0 {
		t.Fatalf("refused transfers left %d pending", n)
	}

	var got struct {
		T struct {
			OrderID   string    `json:"order_id"`
			SentTo    string    `json:"sent_to"`
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"transfer_order"`
	}
	a.query(transferQ, vars, &got)
	if got.T.OrderID != order.ID || got.T.SentTo != "g***@e***.com" || time.Until(got.T.ExpiresAt) < 23*time.Hour {
		t.Errorf("transfer_order answered %+v", got.T)
	}
	// The mail goes to the order's email, with the description.
	var mail struct {
		Recipient   string `db:"recipient"`
		Description string `db:"description"`
		ByStore     bool   `db:"by_store"`
	}
	if err := a.pool.Get(&mail, `SELECT recipient, data->>'description' AS description, (data->>'by_store')::boolean AS by_store
		FROM notification WHERE template = 'order_transfer' AND data->>'order_id' = $1`, order.ID); err != nil {
		t.Fatal(err)
	}
	if mail.Recipient != "guest@example.com" || mail.Description != "Merged at the customer's request" || !mail.ByStore {
		t.Errorf("mail: %+v", mail)
	}
	// Admin transfers are not throttled: a second one replaces the first.
	a.query(transferQ, vars, &got)
	if n := a.pendingTransfers(order.ID); n != 1 {
		t.Errorf("%d pending after a second transfer", n)
	}
	// The customer accepts; update_order_email moves the email to its own.
	var accepted struct {
		A struct {
			ID       string `json:"id"`
			Email    string `json:"email"`
			Customer struct{ ID string }
		} `json:"accept_order_transfer"`
	}
	buyer.query(`mutation ($id: ID!, $t: String!) { accept_order_transfer(order_id: $id, token: $t) { id email customer { id } } }`,
		map[string]any{"id": order.ID, "t": a.transferToken(order.ID)}, &accepted)
	if accepted.A.Customer.ID != buyerID || accepted.A.Email != "buyer@example.com" {
		t.Errorf("accepted: %+v", accepted.A)
	}

	// Refusals: a registered owner, a guest target, unknown rows, bad input.
	wantError(t, a.fail(transferQ, map[string]any{"id": order.ID, "c": buyerID}), "NOT_ALLOWED", "not_allowed", "")
	other := a.as("").placeOrder(orderInput("second@example.com", 100))
	wantError(t, a.fail(transferQ, map[string]any{"id": other.ID, "c": order.CustomerID}), "NOT_ALLOWED", "not_allowed",
		fmt.Sprintf("Customer: %s is a guest; an order can only be transferred to a registered customer", order.CustomerID))
	wantError(t, a.fail(transferQ, map[string]any{"id": other.ID, "c": "cus_01ARZ3NDEKTSV4RRFFQ69G5FAV"}), "NOT_FOUND", "not_found", "")
	wantError(t, a.fail(transferQ, map[string]any{"id": "order_01ARZ3NDEKTSV4RRFFQ69G5FAV", "c": buyerID}), "NOT_FOUND", "not_found", "")
	for _, d := range []string{strings.Repeat("x", 1001), "bad \u202e text", "bell \a"} {
		e := a.fail(transferQ, map[string]any{"id": other.ID, "c": buyerID, "d": d})
		wantError(t, e, "INVALID_DATA", "invalid_data", "")
		if e.Extensions["field"] != "description" {
			t.Errorf("description %q: field %v", d, e.Extensions["field"])
		}
	}
	wantError(t, a.fail(`mutation { transfer_order(order_id: "x", customer_id: "y", update_order_email: "yes") { order_id } }`, nil), "INVALID_DATA", "invalid_data", "")
	wantError(t, a.fail(`mutation { transfer_order(order_id: "x", customer_id: "y", internal_note: "n") { order_id } }`, nil), "INVALID_DATA", "invalid_data", "")
	if n := a.pendingTransfers(other.ID); n != 0 {
		t.Errorf("refused transfers left %d pending", n)
	}
}

// TestRequestTransferOptions: a customer's request carries a description
// and update_order_email; without the option the email stays.
func TestRequestTransferOptions(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	keep := a.as("").placeOrder(orderInput("guest@example.com", 100))
	move := a.as("").placeOrder(orderInput("guest@example.com", 200))
	tok, _ := a.signUp("me@example.com", "my password")
	me := a.as(tok)
	me.query(`mutation ($id: ID!) { request_order_transfer(order_id: $id, description: "it is mine") { order_id } }`, map[string]any{"id": keep.ID}, &struct{}{})
	me.query(`mutation ($id: ID!) { request_order_transfer(order_id: $id, update_order_email: true) { order_id } }`, map[string]any{"id": move.ID}, &struct{}{})
	wantError(t, me.fail(`mutation ($id: ID!) { request_order_transfer(order_id: $id, description: 5) { order_id } }`, map[string]any{"id": move.ID}),
		"INVALID_DATA", "invalid_data", "")
	for _, o := range []placedOrder{keep, move} {
		var got struct {
			A struct{ Email string } `json:"accept_order_transfer"`
		}
		me.query(`mutation ($id: ID!, $t: String!) { accept_order_transfer(order_id: $id, token: $t) { email } }`,
			map[string]any{"id": o.ID, "t": a.transferToken(o.ID)}, &got)
		want := "guest@example.com"
		if o.ID == move.ID {
			want = "me@example.com"
		}
		if got.A.Email != want {
			t.Errorf("order %d's email after accept: %s, want %s", o.DisplayID, got.A.Email, want)
		}
	}
	var description string
	a.pool.Get(&description, `SELECT data->>'description' FROM notification WHERE data->>'order_id' = $1`, keep.ID)
	if description != "it is mine" {
		t.Errorf("the mail's description: %q", description)
	}
}

// customerIDs runs a customers query with filter and order and returns the
// ids of the page and the count.
func (a *api) customerIDs(filter map[string]any, order string, withDeleted bool) ([]string, int) {
	a.tb.Helper()
	var got struct {
		Customers struct {
			Count int
			Items []struct{ ID string }
		}
	}
	vars := map[string]any{"f": filter, "d": withDeleted}
	if order != "" {
		vars["o"] = order
	}
	a.query(`query ($f: CustomerFilter, $o: String = "-created_at", $d: Boolean) { customers(filter: $f, order: $o, with_deleted: $d, limit: 100) { count items { id } } }`,
		vars, &got)
	var ids []string
	for _, c := range got.Customers.Items {
		ids = append(ids, c.ID)
	}
	return ids, got.Customers.Count
}

func sameIDs(tb testing.TB, what string, got []string, count int, want ...string) {
	tb.Helper()
	g, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(g, w) || count != len(want) {
		tb.Errorf("%s: %v (count %d), want %v", what, got, count, want)
	}
}

func TestCustomerFiltersOfMedusa(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ann := a.createCustomer(map[string]any{"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"})
	bob := a.createCustomer(map[string]any{"email": "bob@example.com", "first_name": "Bob", "last_name": "Lee"})
	cat := a.createCustomer(map[string]any{"email": "cat@example.com", "first_name": "Cat", "last_name": "Stone"})
	_, selfID := a.signUp("self@example.com", "self password") // created by no admin
	gone := a.createCustomer(map[string]any{"email": "gone@example.com", "first_name": "Ann"})
	a.query(`mutation ($id: ID!) { delete_customer(id: $id) { id } }`, map[string]any{"id": gone.ID}, &struct{}{})

	ids, n := a.customerIDs(map[string]any{"first_name": []string{"ann", "CAT"}}, "", false)
	sameIDs(t, "first_name in any case", ids, n, ann.ID, cat.ID)
	ids, n = a.customerIDs(map[string]any{"first_name": []string{"Ann"}}, "", true)
	sameIDs(t, "first_name with deleted", ids, n, ann.ID, gone.ID)
	ids, n = a.customerIDs(map[string]any{"last_name": []string{"lee"}}, "", false)
	sameIDs(t, "last_name", ids, n, ann.ID, bob.ID)
	ids, n = a.customerIDs(map[string]any{"created_by": []string{a.adminID}}, "", false)
	sameIDs(t, "created_by", ids, n, ann.ID, bob.ID, cat.ID)
	ids, n = a.customerIDs(map[string]any{"deleted_at": map[string]any{"gte": "2000-01-01T00:00:00Z"}}, "", true)
	sameIDs(t, "deleted_at", ids, n, gone.ID)
	ids, n = a.customerIDs(map[string]any{"deleted_at": map[string]any{"lt": "2000-01-01T00:00:00Z"}}, "", true)
	sameIDs(t, "deleted_at before any deletion", ids, n)
	e := a.fail(`{ customers(filter: {deleted_at: {gte: "2000-01-01T00:00:00Z"}}) { count } }`, nil)
	wantError(t, e, "INVALID_DATA", "invalid_data", "filter.deleted_at needs with_deleted: true, or it selects no customer")

	// any_of: an OR of whole filters, nested, with the other fields ANDed.
	ids, n = a.customerIDs(map[string]any{"any_of": []any{
		map[string]any{"first_name": []string{"Bob"}},
		map[string]any{"last_name": []string{"Stone"}, "email": []string{"cat@example.com"}},
		map[string]any{"email": []string{"self@example.com"}, "first_name": []string{"nobody"}},
	}}, "", false)
	sameIDs(t, "any_of", ids, n, bob.ID, cat.ID)
	ids, n = a.customerIDs(map[string]any{"last_name": []string{"Lee"}, "any_of": []any{
		map[string]any{"q": "ann"},
		map[string]any{"any_of": []any{map[string]any{"email": []string{"cat@example.com"}}, map[string]any{"id": []string{bob.ID}}}},
	}}, "", false)
	sameIDs(t, "any_of nested, ANDed with last_name", ids, n, ann.ID, bob.ID)
	ids, n = a.customerIDs(map[string]any{"any_of": []any{map[string]any{"has_account": true}, map[string]any{}}}, "", false)
	sameIDs(t, "any_of with an empty filter holds for all", ids, n, ann.ID, bob.ID, cat.ID, selfID)

	// Values are parameters, never SQL: text that would end a string or a
	// condition matches nothing.
	for _, v := range []string{"Ann') OR TRUE --", "x' OR '1'='1", `\'; DROP TABLE customer; --`} {
		ids, n = a.customerIDs(map[string]any{"any_of": []any{map[string]any{"first_name": []string{v}}, map[string]any{"q": v, "created_by": []string{v}}}}, "", false)
		sameIDs(t, "injection "+v, ids, n)
	}

	// Bounds and bad input: every refusal is INVALID_DATA naming the field.
	deep := map[string]any{"q": "x"}
	for range 4 {
		deep = map[string]any{"any_of": []any{deep}}
	}
	var wide []any
	for range 11 {
		wide = append(wide, map[string]any{"q": "x"})
	}
	var many []any // 10 × 3 = 30 objects, and the root: 31
	for range 10 {
		many = append(many, map[string]any{"any_of": []any{map[string]any{"q": "a"}, map[string]any{"q": "b"}}})
	}
	cases := []struct {
		name   string
		filter any
		field  string
	}{
		{"any_of 4 levels deep", deep, "filter.any_of[0].any_of[0].any_of[0].any_of"},
		{"any_of of 11", map[string]any{"any_of": wide}, "filter.any_of"},
		{"any_of empty", map[string]any{"any_of": []any{}}, "filter.any_of"},
		{"31 filter objects", map[string]any{"any_of": many}, ""},
		{"a bad q deep inside", map[string]any{"any_of": []any{map[string]any{"q": strings.Repeat("q", 201)}}}, "filter.any_of[0].q"},
	}
	for _, c := range cases {
		e := a.fail(`query ($f: CustomerFilter) { customers(filter: $f) { count } }`, map[string]any{"f": c.filter})
		wantError(t, e, "INVALID_DATA", "invalid_data", "")
		if c.field != "" && e.Extensions["field"] != c.field {
			t.Errorf("%s: field %v, want %s (%s)", c.name, e.Extensions["field"], c.field, e.Message)
		}
	}
	for _, q := range []string{
		`{ customers(filter: {first_name: 5}) { count } }`,
		`{ customers(filter: {any_of: [{nickname: "x"}]}) { count } }`,
		`{ customers(filter: {any_of: {q: "x"}, created_by: [1.5]}) { count } }`,
		`{ customers(filter: {deleted_at: {after: "2020-01-01T00:00:00Z"}}, with_deleted: true) { count } }`,
		`{ customers(filter: {deleted_at: {gt: "yesterday"}}, with_deleted: true) { count } }`,
		`{ customers(filter: {order_count: {gte: "5"}}) { count } }`,
		`{ customers(filter: {order_count: {gte: 3000000000}}) { count } }`,
	} {
		wantError(t, a.fail(q, nil), "INVALID_DATA", "invalid_data", "")
	}

	// Authorization: the list is for admin users.
	wantError(t, a.as("").fail(`{ customers(filter: {first_name: ["Ann"]}) { count } }`, nil), "UNAUTHORIZED", "unauthorized", "")
	selfToken := a.login("CUSTOMER", "self@example.com", "self password")
	wantError(t, a.as(selfToken).fail(`{ customers(filter: {first_name: ["Ann"]}) { count } }`, nil), "NOT_ALLOWED", "not_allowed", "")
}

func TestGroupFiltersOfMedusa(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	vip := a.createGroup("VIP")
	wholesale := a.createGroup("Wholesale")
	a.exec(`UPDATE customer_group SET created_by = NULL, created_at = '2020-01-01', updated_at = '2020-06-01' WHERE id = $1`, wholesale.ID)
	c := a.createCustomer(map[string]any{"email": "m@example.com"})
	a.query(`mutation ($g: ID!, $c: ID!) { add_customers_to_group(group_id: $g, customer_ids: [$c]) { id } }`, map[string]any{"g": vip.ID, "c": c.ID}, &struct{}{})

	groups := func(filter map[string]any) []string {
		t.Helper()
		var got struct {
			G struct {
				Count int
				Items []struct{ ID string }
			} `json:"customer_groups"`
		}
		a.query(`query ($f: CustomerGroupFilter) { customer_groups(filter: $f, limit: 100) { count items { id } } }`, map[string]any{"f": filter}, &got)
		var ids []string
		for _, g := range got.G.Items {
			ids = append(ids, g.ID)
		}
		if got.G.Count != len(ids) {
			t.Errorf("%v: count %d for %d items", filter, got.G.Count, len(ids))
		}
		return ids
	}
	for _, c := range []struct {
		filter map[string]any
		want   []string
	}{
		{map[string]any{"q": "sale"}, []string{wholesale.ID}},
		{map[string]any{"customer_id": []string{c.ID, "cus_01ARZ3NDEKTSV4RRFFQ69G5FAV"}}, []string{vip.ID}},
		{map[string]any{"created_by": []string{a.adminID}}, []string{vip.ID}},
		{map[string]any{"created_at": map[string]any{"lt": "2021-01-01T00:00:00Z"}}, []string{wholesale.ID}},
		{map[string]any{"updated_at": map[string]any{"gte": "2020-06-01T00:00:00Z", "lte": "2020-06-01T00:00:00Z"}}, []string{wholesale.ID}},
		{map[string]any{"updated_at": map[string]any{"gt": "2021-01-01T00:00:00Z"}, "q": "vi"}, []string{vip.ID}},
	} {
		if got := groups(c.filter); !slices.Equal(got, c.want) {
			t.Errorf("%v: %v, want %v", c.filter, got, c.want)
		}
	}
	wantError(t, a.fail(`{ customer_groups(filter: {customer_id: "x", size: 1}) { count } }`, nil), "INVALID_DATA", "invalid_data", "")
	wantError(t, a.fail(`{ customer_groups(filter: {created_at: {gt: 5}}) { count } }`, nil), "INVALID_DATA", "invalid_data", "")
	wantError(t, a.as("").fail(`{ customer_groups(filter: {q: "v"}) { count } }`, nil), "UNAUTHORIZED", "unauthorized", "")
	tok, _ := a.signUp("s@example.com", "shopper password")
	wantError(t, a.as(tok).fail(`{ customer_groups(filter: {q: "v"}) { count } }`, nil), "NOT_ALLOWED", "not_allowed", "")
}

func TestMyAddresses(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tok, id := a.signUp("home@example.com", "home password")
	otherTok, otherID := a.signUp("away@example.com", "away password")
	london := a.createAddress(id, map[string]any{"address_name": "Home", "address_1": "1 High St", "city": "London", "country_code": "GB", "postal_code": "SW1A 1AA"})
	paris := a.createAddress(id, map[string]any{"address_1": "2 Rue de Rivoli", "city": "Paris", "country_code": "fr", "postal_code": "75001", "company": "Acme"})
	leeds := a.createAddress(id, map[string]any{"address_1": "3 Park Row", "city": "Leeds", "country_code": "gb", "postal_code": "LS1 5HD"})
	a.createAddress(otherID, map[string]any{"address_1": "1 High St", "city": "London", "country_code": "gb"})
	me := a.as(tok)
	const q = `query ($f: AddressFilter, $o: String = "created_at", $l: Int) { my_addresses(filter: $f, order: $o, limit: $l) { count limit offset items { id city customer { email } } } }`
	list := func(filter map[string]any, order string) ([]string, int) {
		t.Helper()
		var got struct {
			L struct {
				Count int
				Items []struct {
					ID       string
					Customer struct{ Email string }
				}
			} `json:"my_addresses"`
		}
		vars := map[string]any{"f": filter, "l": 10}
		if order != "" {
			vars["o"] = order
		}
		me.query(q, vars, &got)
		var ids []string
		for _, it := range got.L.Items {
			ids = append(ids, it.ID)
			if it.Customer.Email != "home@example.com" {
				t.Errorf("an address of %s in home's list", it.Customer.Email)
			}
		}
		return ids, got.L.Count
	}
	for _, c := range []struct {
		filter map[string]any
		order  string
		want   []string
	}{
		{nil, "", []string{london.ID, paris.ID, leeds.ID}},
		{nil, "-created_at", []string{leeds.ID, paris.ID, london.ID}},
		{map[string]any{"q": "high"}, "", []string{london.ID}},
		{map[string]any{"q": "ACME"}, "", []string{paris.ID}},
		{map[string]any{"city": []string{"london", "LEEDS"}}, "", []string{london.ID, leeds.ID}},
		{map[string]any{"country_code": []string{"GB"}}, "", []string{london.ID, leeds.ID}},
		{map[string]any{"postal_code": []string{"sw1a 1aa", "75001"}}, "", []string{london.ID, paris.ID}},
		{map[string]any{"country_code": []string{"gb"}, "q": "park"}, "", []string{leeds.ID}},
		{map[string]any{"q": "%"}, "", nil},
	} {
		got, n := list(c.filter, c.order)
		if !slices.Equal(got, c.want) || n != len(c.want) {
			t.Errorf("%v %s: %v (count %d), want %v", c.filter, c.order, got, n, c.want)
		}
	}
	// The other customer sees its own only.
	var other struct {
		L struct{ Count int } `json:"my_addresses"`
	}
	a.as(otherTok).query(`{ my_addresses(filter: {city: ["Paris", "Leeds"]}) { count } }`, nil, &other)
	if other.L.Count != 0 {
		t.Errorf("another customer sees %d of home's addresses", other.L.Count)
	}
	// Authorization and bad input.
	wantError(t, a.as("").fail(`{ my_addresses { count } }`, nil), "UNAUTHORIZED", "unauthorized", "")
	wantError(t, a.fail(`{ my_addresses { count } }`, nil), "NOT_ALLOWED", "not_allowed", "")
	for _, bad := range []string{
		`{ my_addresses(filter: {city: 5}) { count } }`,
		`{ my_addresses(filter: {province: ["x"]}) { count } }`,
		`{ my_addresses(order: "city") { count } }`,
		`{ my_addresses(limit: 101) { count } }`,
		`{ my_addresses(filter: {q: "` + strings.Repeat("x", 201) + `"}) { count } }`,
	} {
		wantError(t, me.fail(bad, nil), "INVALID_DATA", "invalid_data", "")
	}
}

// TestCancelRacesAccept: a cancellation and an accept of the same request,
// released together, never both win: the order moves exactly when the
// accept succeeded.
func TestCancelRacesAccept(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tok, id := a.signUp("racer@example.com", "racer password")
	racer := a.as(tok)
	const rounds = 8
	for round := range rounds {
		o := a.as("").placeOrder(orderInput(fmt.Sprintf("guest%d@example.com", round), 100))
		canceller := racer // the requester cancels in even rounds, an admin in odd ones
		if round%2 == 1 {
			canceller = a
		}
		racer.query(requestQ, map[string]any{"id": o.ID}, &struct{}{})
		token := a.transferToken(o.ID)
		results := concurrently(2, func(i int) response {
			if i == 0 {
				return canceller.do(cancelQ, map[string]any{"id": o.ID})
			}
			return racer.do(acceptQ, map[string]any{"id": o.ID, "t": token})
		})
		cancelled, accepted := len(results[0].Errors) == 0, len(results[1].Errors) == 0
		if cancelled == accepted {
			t.Fatalf("round %d: cancel %+v, accept %+v: want exactly one to win", round, results[0].Errors, results[1].Errors)
		}
		var owner string
		a.pool.Get(&owner, `SELECT customer_id FROM orders WHERE id = $1`, o.ID)
		if (owner == id) != accepted {
			t.Errorf("round %d: accepted %v, the order belongs to %s", round, accepted, owner)
		}
		if !accepted {
			wantError(t, results[1].Errors[0], "NOT_ALLOWED", "not_allowed", "Invalid token.")
		} else {
			wantError(t, results[0].Errors[0], "NOT_FOUND", "not_found", "")
		}
	}
	if drift := a.statsDrift(); len(drift) != 0 {
		t.Errorf("stats differ from the orders for %v", drift)
	}
}
