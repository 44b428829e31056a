package graph_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// loggedEvent is an event as the API shows it.
type loggedEvent struct {
	ID         string                     `json:"id"`
	Type       string                     `json:"type"`
	ActorType  string                     `json:"actor_type"`
	ActorID    *string                    `json:"actor_id"`
	RequestID  *string                    `json:"request_id"`
	CustomerID *string                    `json:"customer_id"`
	GroupID    *string                    `json:"group_id"`
	AddressID  *string                    `json:"address_id"`
	OrderID    *string                    `json:"order_id"`
	Changes    map[string]json.RawMessage `json:"changes"`
	Data       map[string]json.RawMessage `json:"data"`
}

const eventFields = `id type actor_type actor_id request_id customer_id group_id address_id order_id changes data`

// eventsSince returns the events written after the event id since ("" for
// all), oldest first, through customer_events.
func (a *api) eventsSince(since string) []loggedEvent {
	a.tb.Helper()
	var got struct {
		CustomerEvents struct{ Items []loggedEvent } `json:"customer_events"`
	}
	a.query(`{ customer_events(limit: 100) { items { `+eventFields+` } } }`, nil, &got)
	var out []loggedEvent
	for _, e := range got.CustomerEvents.Items {
		if since != "" && e.ID <= since {
			break
		}
		out = append([]loggedEvent{e}, out...)
	}
	return out
}

// lastEventID is the newest event's id, or "".
func (a *api) lastEventID() string {
	a.tb.Helper()
	if events := a.eventsSince(""); len(events) > 0 {
		return events[len(events)-1].ID
	}
	return ""
}

// wantEvents checks that the events since mark have these types, in order.
func wantEvents(tb testing.TB, what string, events []loggedEvent, types ...string) {
	tb.Helper()
	var got []string
	for _, e := range events {
		got = append(got, e.Type)
	}
	if strings.Join(got, ",") != strings.Join(types, ",") {
		tb.Errorf("%s: events %v, want %v", what, got, types)
	}
}

// change returns the from and to of a field in an event's changes.
func change(tb testing.TB, e loggedEvent, field string) (from, to any) {
	tb.Helper()
	var c struct{ From, To any }
	if err := json.Unmarshal(e.Changes[field], &c); err != nil {
		tb.Fatalf("%s: no change of %s in %v", e.Type, field, e.Changes)
	}
	return c.From, c.To
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// TestEveryMutationWritesItsEvent runs every mutation of the schema and
// checks the events its transaction wrote: types, actor, request, the ids
// they concern and, for updates, what changed; and that the log shows no
// secret.
func TestEveryMutationWritesItsEvent(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	mark := a.lastEventID()
	step := func(what string, types ...string) []loggedEvent {
		t.Helper()
		events := a.eventsSince(mark)
		wantEvents(t, what, events, types...)
		if len(events) > 0 {
			mark = events[len(events)-1].ID
		}
		return events
	}

	// Admin mutations.
	c := a.createCustomer(map[string]any{"email": "story@example.com", "first_name": "Ann"})
	ev := step("create_customer", "customer.created")
	if e := ev[0]; e.ActorType != "USER" || str(e.ActorID) != a.adminID || str(e.CustomerID) != c.ID || str(e.RequestID) == "" ||
		!strings.Contains(string(e.Data["email"]), "story@example.com") {
		t.Errorf("create_customer's event: %+v", e)
	}
	a.query(`mutation ($id: ID!) { update_customer(id: $id, input: {first_name: "Anna", phone: "+1 555 0100"}) { id } }`, map[string]any{"id": c.ID}, &struct{}{})
	ev = step("update_customer", "customer.updated")
	if from, to := change(t, ev[0], "first_name"); from != "Ann" || to != "Anna" {
		t.Errorf("first_name changed from %v to %v", from, to)
	}
	if from, to := change(t, ev[0], "phone"); from != nil || to != "+1 555 0100" {
		t.Errorf("phone changed from %v to %v", from, to)
	}
	if len(ev[0].Changes) != 2 {
		t.Errorf("changes beyond the two fields: %v", ev[0].Changes)
	}
	a.query(`mutation ($id: ID!) { update_customer(id: $id, input: {first_name: "Anna"}) { id } }`, map[string]any{"id": c.ID}, &struct{}{})
	step("update_customer changing nothing")

	home := a.createAddress(c.ID, map[string]any{"address_1": "1 Main St", "city": "Springfield", "is_default_shipping": true})
	ev = step("create_customer_address", "customer_address.created")
	if str(ev[0].AddressID) != home.ID || str(ev[0].CustomerID) != c.ID {
		t.Errorf("address event: %+v", ev[0])
	}
	work := a.createAddress(c.ID, map[string]any{"address_1": "2 Work Rd", "city": "Springfield", "is_default_shipping": true})
	ev = step("a new default shipping address", "customer_address.default_changed", "customer_address.created")
	if from, to := change(t, ev[0], "is_default_shipping"); str(ev[0].AddressID) != home.ID || from != true || to != false {
		t.Errorf("the old default: %+v", ev[0])
	}
	a.updateAddress(work.ID, map[string]any{"city": "Shelbyville"})
	ev = step("update_customer_address", "customer_address.updated")
	if from, to := change(t, ev[0], "city"); from != "Springfield" || to != "Shelbyville" {
		t.Errorf("city changed from %v to %v", from, to)
	}
	a.query(`mutation ($id: ID!) { delete_customer_address(id: $id) { id } }`, map[string]any{"id": home.ID}, &struct{}{})
	step("delete_customer_address", "customer_address.deleted")

	g := a.createGroup("VIP")
	step("create_customer_group", "customer_group.created")
	a.query(`mutation ($id: ID!) { update_customer_group(id: $id, input: {name: "Very VIP"}) { id } }`, map[string]any{"id": g.ID}, &struct{}{})
	ev = step("update_customer_group", "customer_group.updated")
	if from, to := change(t, ev[0], "name"); from != "VIP" || to != "Very VIP" {
		t.Errorf("name changed from %v to %v", from, to)
	}
	other := a.createCustomer(map[string]any{"email": "other@example.com"})
	step("another customer", "customer.created")
	a.query(`mutation ($g: ID!, $ids: [ID!]!) { add_customers_to_group(group_id: $g, customer_ids: $ids) { id } }`,
		map[string]any{"g": g.ID, "ids": []string{c.ID, other.ID}}, &struct{}{})
	ev = step("add_customers_to_group", "customer_group.customer_added", "customer_group.customer_added")
	if str(ev[0].GroupID) != g.ID || str(ev[0].CustomerID) == str(ev[1].CustomerID) {
		t.Errorf("membership events: %+v", ev)
	}
	a.query(`mutation ($g: ID!, $ids: [ID!]!) { remove_customers_from_group(group_id: $g, customer_ids: $ids) { id } }`,
		map[string]any{"g": g.ID, "ids": []string{other.ID}}, &struct{}{})
	step("remove_customers_from_group", "customer_group.customer_removed")

	// Rolled back: a duplicate email, a membership change naming a missing
	// customer. Their transactions wrote nothing, events included.
	a.fail(`mutation { create_customer(input: {email: "STORY@example.com"}) { id } }`, nil)
	a.fail(`mutation ($g: ID!) { add_customers_to_group(group_id: $g, customer_ids: ["cus_01ARZ3NDEKTSV4RRFFQ69G5FAV", "`+other.ID+`"]) { id } }`,
		map[string]any{"g": g.ID})
	step("mutations that failed")

	// The storefront: register, create the account, manage it, order,
	// transfer, reset the password.
	shopperToken, shopperID := a.signUp("shopper@example.com", "shopper password")
	ev = step("register and create_customer_account", "auth.identity_registered", "customer.created", "customer.account_created")
	if ev[0].ActorType != "GUEST" || ev[2].ActorType != "GUEST" || str(ev[2].CustomerID) != shopperID {
		t.Errorf("sign-up events: %+v", ev)
	}
	shopper := a.as(shopperToken)
	shopper.query(`mutation { update_me(input: {last_name: "Shopper"}) { id } }`, nil, &struct{}{})
	ev = step("update_me", "customer.updated")
	if ev[0].ActorType != "CUSTOMER" || str(ev[0].ActorID) != shopperID {
		t.Errorf("update_me's actor: %+v", ev[0])
	}
	var mine struct {
		CreateMyAddress struct{ ID string } `json:"create_my_address"`
	}
	shopper.query(`mutation { create_my_address(input: {address_1: "3 Elm", city: "Ogdenville"}) { id } }`, nil, &mine)
	shopper.query(`mutation ($id: ID!) { update_my_address(id: $id, input: {city: "North Haverbrook"}) { id } }`, map[string]any{"id": mine.CreateMyAddress.ID}, &struct{}{})
	shopper.query(`mutation ($id: ID!) { delete_my_address(id: $id) { id } }`, map[string]any{"id": mine.CreateMyAddress.ID}, &struct{}{})
	step("the storefront's address book", "customer_address.created", "customer_address.updated", "customer_address.deleted")

	guestOrder := a.as("").placeOrder(orderInput("shopper@example.com", 700))
	ev = step("a guest order", "customer.created", "order.placed")
	if ev[1].ActorType != "GUEST" || str(ev[1].OrderID) != guestOrder.ID {
		t.Errorf("guest order events: %+v", ev)
	}
	shopper.placeOrder(orderInput("", 300))
	step("the shopper's order", "order.placed")
	var asked struct {
		R struct{ OrderID string } `json:"request_order_transfer"`
	}
	shopper.query(`mutation ($id: ID!) { request_order_transfer(order_id: $id) { order_id } }`, map[string]any{"id": guestOrder.ID}, &asked)
	ev = step("request_order_transfer", "order.transfer_requested")
	if str(ev[0].CustomerID) != shopperID || str(ev[0].OrderID) != guestOrder.ID {
		t.Errorf("transfer request event: %+v", ev[0])
	}
	shopper.query(`mutation ($id: ID!, $t: String!) { accept_order_transfer(order_id: $id, token: $t) { id } }`,
		map[string]any{"id": guestOrder.ID, "t": a.transferToken(guestOrder.ID)}, &struct{}{})
	ev = step("accept_order_transfer", "order.transfer_accepted", "order.updated")
	if _, to := change(t, ev[1], "customer_id"); to != shopperID {
		t.Errorf("the order moved to %v, want %s", to, shopperID)
	}
	second := a.as("").placeOrder(orderInput("guest2@example.com", 100))
	step("another guest order", "customer.created", "order.placed")
	shopper.query(`mutation ($id: ID!) { request_order_transfer(order_id: $id) { order_id } }`, map[string]any{"id": second.ID}, &asked)
	a.as("").query(`mutation ($id: ID!, $t: String!) { decline_order_transfer(order_id: $id, token: $t) }`,
		map[string]any{"id": second.ID, "t": a.transferToken(second.ID)}, &struct{}{})
	step("decline_order_transfer", "order.transfer_requested", "order.transfer_declined")

	token := a.resetToken("shopper@example.com") // request_password_reset, and the mail
	step("request_password_reset", "auth.password_reset_requested")
	a.resetPassword(token, "a new password")
	step("reset_password", "auth.password_reset_completed")
	a.login("CUSTOMER", "shopper@example.com", "a new password")
	step("login")
	guesser := a.as("").from("198.51.100.77:1", "")
	for range 12 {
		guesser.do(`mutation { login(actor_type: CUSTOMER, email: "shopper@example.com", password: "a guess") { token } }`, nil)
	}
	ev = step("guessing past the limit", "auth.login_throttled")
	if !strings.Contains(string(ev[0].Data["address"]), "198.51.100.77") {
		t.Errorf("throttled event: %+v", ev[0])
	}

	a.query(`mutation ($id: ID!) { delete_customer(id: $id) { id } }`, map[string]any{"id": c.ID}, &struct{}{})
	step("delete_customer", "customer.deleted", "customer_address.deleted", "customer_group.customer_removed")
	a.query(`mutation ($id: ID!) { delete_customer_group(id: $id) { id } }`, map[string]any{"id": g.ID}, &struct{}{})
	step("delete_customer_group", "customer_group.deleted")

	// An import writes what the mutations would, per customer, address and
	// membership, as the admin user; its new group too. UPDATE of an
	// existing customer writes customer.updated.
	srv := httptest.NewServer(a.h)
	defer srv.Close()
	_, resp := upload(t, srv.URL, a.token, "email,first_name,groups,address_1\nimported@example.com,Imp,Imported,1 Main St\nother@example.com,Other,,\n",
		`{create_groups: true, on_conflict: UPDATE}`)
	var started struct {
		ImportCustomers importJob `json:"import_customers"`
	}
	json.Unmarshal(resp.Data, &started)
	a.waitForJob(started.ImportCustomers.ID)
	ev = step("import_customers", "customer.created", "customer.updated", "customer_address.created", "customer_group.created",
		"customer_group.customer_added")
	for _, e := range ev {
		if e.ActorType != "USER" || str(e.ActorID) != a.adminID || str(e.RequestID) == "" {
			t.Errorf("import_customers' event: %+v", e)
		}
	}

	// No secret reaches the log: password hashes, reset and transfer
	// tokens.
	var log string
	a.pool.Get(&log, `SELECT coalesce(string_agg(coalesce(changes::text, '') || coalesce(data::text, ''), ' '), '') FROM event`)
	for _, secret := range []string{"argon2id", "token_hash", "password_hash", a.token[:20]} {
		if strings.Contains(log, secret) {
			t.Errorf("the event log holds %q", secret)
		}
	}
}

// TestTimelines pages a customer's timeline and the log by cursor, newest
// first, filters the log, and reads the timelines of a list of customers
// with as many statements as one customer's.
func TestTimelines(t *testing.T) {
	t.Parallel()
	a := seeded(t, 30, time.Now())
	var ids []string
	a.pool.Select(&ids, `SELECT id FROM customer ORDER BY created_at DESC`)
	for i, id := range ids {
		for n := range 1 + i%3 {
			a.query(`mutation ($id: ID!, $n: String!) { update_customer(id: $id, input: {company_name: $n}) { id } }`,
				map[string]any{"id": id, "n": fmt.Sprintf("Co %d", n)}, &struct{}{})
		}
	}
	var page struct {
		Customer struct {
			Timeline struct {
				Items []loggedEvent
				Next  *string
			}
		}
	}
	a.query(`query ($id: ID!) { customer(id: $id) { timeline(limit: 2) { items { id type changes } next } } }`, map[string]any{"id": ids[2]}, &page)
	first := page.Customer.Timeline
	if len(first.Items) != 2 || first.Next == nil || first.Items[0].ID <= first.Items[1].ID {
		t.Fatalf("first page: %+v", first)
	}
	a.query(`query ($id: ID!, $after: String) { customer(id: $id) { timeline(limit: 2, after: $after) { items { id type changes } next } } }`,
		map[string]any{"id": ids[2], "after": *first.Next}, &page)
	if second := page.Customer.Timeline; len(second.Items) != 1 || second.Next != nil || second.Items[0].ID >= first.Items[1].ID {
		t.Errorf("second page: %+v", second)
	}
	wantError(t, a.fail(`{ customer_events(after: "nope") { items { id } } }`, nil), "INVALID_DATA", "", "")
	wantError(t, a.fail(`{ customer_events(limit: 101) { items { id } } }`, nil), "INVALID_DATA", "", "")

	var filtered struct {
		CustomerEvents struct{ Items []loggedEvent } `json:"customer_events"`
	}
	a.query(`query ($c: ID!) { customer_events(filter: {customer_id: $c, types: ["customer.updated"], created_at: {gt: "2000-01-01T00:00:00Z"}}) { items { id type customer_id } } }`,
		map[string]any{"c": ids[5]}, &filtered)
	if len(filtered.CustomerEvents.Items) != 3 || str(filtered.CustomerEvents.Items[0].CustomerID) != ids[5] {
		t.Errorf("filtered: %+v", filtered.CustomerEvents.Items)
	}

	// A page of customers with their last five events each: the same
	// statements for 1 customer and for 30.
	statements := map[int]int64{}
	for _, n := range []int{1, 30} {
		resp := a.do(fmt.Sprintf(`{ customers(limit: %d) { items { id timeline(limit: 5) { items { id type changes } next } } } }`, n), nil)
		if len(resp.Errors) > 0 {
			t.Fatalf("%+v", resp.Errors)
		}
		statements[n] = resp.Statements
	}
	if statements[1] != statements[30] {
		t.Errorf("statements for 1 and 30 customers' timelines: %v", statements)
	}
	t.Logf("statements: %v", statements)
}

// TestSeededDataWritesNoEvents loads a dataset: it is not a change anyone
// made, and the log stays empty.
func TestSeededDataWritesNoEvents(t *testing.T) {
	t.Parallel()
	a := seeded(t, 5, time.Now())
	var n int
	a.pool.Get(&n, `SELECT count(*) FROM event WHERE type <> 'auth.identity_registered' AND type <> 'auth.user_linked'`)
	if n != 0 {
		t.Errorf("%d events for a seeded dataset", n)
	}
}
