package graph_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"customerservice/graph"
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
	ev = step("register and create_customer_account", "auth.identity_registered", "auth.email_verification_requested",
		"auth.session_started", "customer.created", "customer.account_created")
	if ev[0].ActorType != "GUEST" || ev[4].ActorType != "GUEST" || str(ev[4].CustomerID) != shopperID {
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

	// Issue 18: a request with a description, canceled by its customer;
	// an admin's transfer, canceled by the admin; an admin's transfer that
	// moves the order's email on accept.
	a.transferIntervalPasses()
	shopper.query(`mutation ($id: ID!) { request_order_transfer(order_id: $id, description: "my order") { order_id } }`, map[string]any{"id": second.ID}, &asked)
	ev = step("request_order_transfer with a description", "order.transfer_requested")
	if string(ev[0].Data["description"]) != `"my order"` || string(ev[0].Data["requested_by"]) != "null" {
		t.Errorf("transfer request event: %+v", ev[0])
	}
	shopper.query(`mutation ($id: ID!) { cancel_order_transfer(order_id: $id) }`, map[string]any{"id": second.ID}, &struct{}{})
	ev = step("cancel_order_transfer by its customer", "order.transfer_canceled")
	if ev[0].ActorType != "CUSTOMER" || str(ev[0].ActorID) != shopperID || str(ev[0].OrderID) != second.ID {
		t.Errorf("cancel event: %+v", ev[0])
	}
	a.query(`mutation ($id: ID!, $c: ID!) { transfer_order(order_id: $id, customer_id: $c, description: "from the store") { order_id } }`,
		map[string]any{"id": second.ID, "c": shopperID}, &struct{}{})
	ev = step("transfer_order", "order.transfer_requested")
	if ev[0].ActorType != "USER" || str(ev[0].CustomerID) != shopperID || string(ev[0].Data["requested_by"]) != `"`+a.adminID+`"` {
		t.Errorf("admin transfer event: %+v", ev[0])
	}
	a.query(`mutation ($id: ID!) { cancel_order_transfer(order_id: $id) }`, map[string]any{"id": second.ID}, &struct{}{})
	ev = step("cancel_order_transfer by an admin", "order.transfer_canceled")
	if ev[0].ActorType != "USER" || str(ev[0].ActorID) != a.adminID {
		t.Errorf("admin cancel event: %+v", ev[0])
	}
	a.query(`mutation ($id: ID!, $c: ID!) { transfer_order(order_id: $id, customer_id: $c, update_order_email: true) { order_id } }`,
		map[string]any{"id": second.ID, "c": shopperID}, &struct{}{})
	shopper.query(`mutation ($id: ID!, $t: String!) { accept_order_transfer(order_id: $id, token: $t) { id } }`,
		map[string]any{"id": second.ID, "t": a.transferToken(second.ID)}, &struct{}{})
	ev = step("an admin's transfer with update_order_email, accepted", "order.transfer_requested", "order.transfer_accepted", "order.updated")
	if from, to := change(t, ev[2], "email"); from != "guest2@example.com" || to != "shopper@example.com" {
		t.Errorf("the order's email changed from %v to %v", from, to)
	}

	// The account lifecycle: the guest orders of a customer's verified
	// email claimed. (Not the shopper's: its email is verified and changed
	// below, with the events of sessions.) Sign-up and verification are
	// checked elsewhere in this test.
	claimerToken, claimerID := a.signUp("claimer@example.com", "claimer password")
	claimable := a.as("").placeOrder(orderInput("claimer@example.com", 450))
	a.verifyEmailOf("claimer@example.com")
	mark = a.lastEventID()
	a.as(claimerToken).query(`mutation { claim_guest_orders { orders { id } } }`, nil, &struct{}{})
	ev = step("claim_guest_orders", "order.updated", "customer.deleted", "customer.guest_orders_claimed")
	if from, to := change(t, ev[0], "customer_id"); from != claimable.CustomerID || to != claimerID || str(ev[0].OrderID) != claimable.ID {
		t.Errorf("the claimed order moved from %v to %v", from, to)
	}
	if e := ev[2]; str(e.CustomerID) != claimerID || e.ActorType != "CUSTOMER" || !strings.Contains(string(e.Data["order_ids"]), claimable.ID) {
		t.Errorf("customer.guest_orders_claimed: %+v", e)
	}

	// The account lifecycle: a deletion requested, confirmed and canceled.
	shopper.query(`mutation { request_account_deletion { id } }`, nil, &struct{}{})
	ev = step("request_account_deletion", "customer.deletion_requested")
	if ev[0].ActorType != "CUSTOMER" || str(ev[0].CustomerID) != shopperID {
		t.Errorf("deletion request event: %+v", ev[0])
	}
	deletionToken := a.deletionToken()
	a.as("").query(`mutation ($t: String!) { confirm_account_deletion(token: $t) { id } }`, map[string]any{"t": deletionToken}, &struct{}{})
	ev = step("confirm_account_deletion", "customer.deletion_scheduled")
	if from, to := change(t, ev[0], "status"); from != "requested" || to != "scheduled" || ev[0].Data["scheduled_for"] == nil {
		t.Errorf("deletion scheduled event: %+v", ev[0])
	}
	shopper.query(`mutation { cancel_account_deletion { id } }`, nil, &struct{}{})
	step("cancel_account_deletion", "customer.deletion_canceled")

	// A merge (admin): the source's address and membership move, the
	// source is deleted, the target takes its first name.
	mergeSrc := a.createCustomer(map[string]any{"email": "merge.src@example.com", "first_name": "Merle"})
	mergeDst := a.createCustomer(map[string]any{"email": "merge.dst@example.com"})
	a.createAddress(mergeSrc.ID, map[string]any{"address_1": "5 Merge Ln", "city": "Springfield"})
	a.query(`mutation ($g: ID!, $ids: [ID!]!) { add_customers_to_group(group_id: $g, customer_ids: $ids) { id } }`,
		map[string]any{"g": g.ID, "ids": []string{mergeSrc.ID}}, &struct{}{})
	step("the customers to merge", "customer.created", "customer.created", "customer_address.created", "customer_group.customer_added")
	m := a.merge(mergeSrc.ID, mergeDst.ID, nil, "")
	ev = step("merge_customers", "customer_address.updated", "customer_group.customer_added", "customer.deleted",
		"customer_group.customer_removed", "customer.updated", "customer.merged")
	if from, to := change(t, ev[0], "customer_id"); from != mergeSrc.ID || to != mergeDst.ID {
		t.Errorf("the address moved from %v to %v", from, to)
	}
	if e := ev[5]; str(e.CustomerID) != mergeDst.ID || !strings.Contains(string(e.Data["source_id"]), mergeSrc.ID) ||
		!strings.Contains(string(e.Data["merge_id"]), m.ID) || e.ActorType != "USER" || str(e.ActorID) != a.adminID {
		t.Errorf("customer.merged: %+v", e)
	}
	// An erasure (admin): its audit events, one per customer erased, hold
	// counts and no personal data.
	a.query(`mutation ($id: ID!) { anonymize_customer(id: $id) { customer_id } }`, map[string]any{"id": mergeDst.ID}, &struct{}{})
	ev = step("anonymize_customer", "customer.anonymized", "customer.anonymized")
	for _, e := range ev {
		if b, _ := json.Marshal(e); strings.Contains(string(b), "merge.") || strings.Contains(string(b), "Merle") || e.ActorType != "USER" {
			t.Errorf("customer.anonymized: %s", b)
		}
	}

	token := a.resetToken("shopper@example.com") // request_password_reset, and the mail
	step("request_password_reset", "auth.password_reset_requested")
	a.resetPassword(token, "a new password")
	ev = step("reset_password", "auth.password_reset_completed", "auth.session_revoked")
	if !strings.Contains(string(ev[1].Data["reason"]), "password_reset") || str(ev[1].CustomerID) != shopperID {
		t.Errorf("reset_password's revocation: %+v", ev[1])
	}
	a.login("CUSTOMER", "shopper@example.com", "a new password")
	ev = step("login", "auth.session_started")
	if str(ev[0].CustomerID) != shopperID || ev[0].ActorType != "GUEST" {
		t.Errorf("login's event: %+v", ev[0])
	}

	// Sessions and verified email (issue 16).
	s := a.as("").loginSession("CUSTOMER", "shopper@example.com", "a new password")
	step("another login", "auth.session_started")
	next := a.as("").refresh(s.RefreshToken)
	step("refresh_token")
	shopper = a.as(next.Token)
	var changed struct {
		C struct{ Token string } `json:"change_password"`
	}
	shopper.query(`mutation { change_password(current_password: "a new password", new_password: "another password") { token } }`, nil, &changed)
	ev = step("change_password", "auth.password_changed", "auth.session_revoked")
	if ev[0].ActorType != "CUSTOMER" || str(ev[0].ActorID) != shopperID || !strings.Contains(string(ev[1].Data["reason"]), "password_changed") {
		t.Errorf("change_password's events: %+v", ev)
	}
	shopper = a.as(changed.C.Token)
	a.ageEmailTokens() // past the mail throttle's minute
	shopper.query(`mutation { request_email_verification }`, nil, &struct{}{})
	step("request_email_verification", "auth.email_verification_requested")
	shopper.verifyEmail(a.mailedToken("email_verification", "shopper@example.com"))
	ev = step("verify_email", "auth.email_verified")
	if str(ev[0].CustomerID) != shopperID || ev[0].ActorType != "CUSTOMER" {
		t.Errorf("verify_email's event: %+v", ev[0])
	}
	a.ageEmailTokens()
	shopper.query(`mutation { request_email_change(new_email: "Shopper.New@example.com") { new_email } }`, nil, &struct{}{})
	ev = step("request_email_change", "auth.email_change_requested")
	if !strings.Contains(string(ev[0].Data["new_email"]), "shopper.new@example.com") || str(ev[0].CustomerID) != shopperID {
		t.Errorf("request_email_change's event: %+v", ev[0])
	}
	a.as("").verifyEmail(a.mailedToken("email_change", "shopper.new@example.com"))
	ev = step("verify_email with a change token", "auth.email_changed", "customer.updated")
	if from, to := change(t, ev[0], "email"); from != "shopper@example.com" || to != "shopper.new@example.com" {
		t.Errorf("email_changed: %v -> %v", from, to)
	}
	if _, to := change(t, ev[1], "email"); to != "shopper.new@example.com" {
		t.Errorf("the customer's email changed to %v", to)
	}
	shopper.query(`mutation { logout }`, nil, &struct{}{})
	ev = step("logout", "auth.session_revoked")
	if !strings.Contains(string(ev[0].Data["reason"]), `"logout"`) || ev[0].ActorType != "CUSTOMER" {
		t.Errorf("logout's event: %+v", ev[0])
	}
	again := a.as("").loginSession("CUSTOMER", "shopper.new@example.com", "another password")
	step("a login with the new email", "auth.session_started")
	a.as(again.Token).query(`mutation { logout_everywhere }`, nil, &struct{}{})
	ev = step("logout_everywhere", "auth.session_revoked")
	if !strings.Contains(string(ev[0].Data["reason"]), "logout_everywhere") {
		t.Errorf("logout_everywhere's event: %+v", ev[0])
	}
	secrets := []string{s.RefreshToken, next.RefreshToken, again.RefreshToken}
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
	// existing customer writes customer.updated: first, as the row triggers
	// of a statement fire before its statement trigger, which writes the
	// creations of the whole batch.
	srv := httptest.NewServer(a.h)
	defer srv.Close()
	_, resp := upload(t, srv.URL, a.token, "email,first_name,groups,address_1\nimported@example.com,Imp,Imported,1 Main St\nother@example.com,Other,,\n",
		`{create_groups: true, on_conflict: UPDATE}`)
	var started struct {
		ImportCustomers importJob `json:"import_customers"`
	}
	json.Unmarshal(resp.Data, &started)
	a.waitForJob(started.ImportCustomers.ID)
	a.sent.names["import_customers"] = true // sent as a multipart upload, not through a.post
	ev = step("import_customers", "customer.updated", "customer.created", "customer_address.created", "customer_group.created",
		"customer_group.customer_added")
	for _, e := range ev {
		if e.ActorType != "USER" || str(e.ActorID) != a.adminID || str(e.RequestID) == "" {
			t.Errorf("import_customers' event: %+v", e)
		}
	}

	// Every mutation of the schema was run above, but those that change
	// nothing of a customer's story.
	noEvent := map[string]string{
		"login":                 "writes auth.login_throttled only when refused, which is run above",
		"create_webhook":        "configures deliveries; the log is of customers, groups, orders and accounts",
		"update_webhook":        "configures deliveries",
		"delete_webhook":        "configures deliveries",
		"rotate_webhook_secret": "configures deliveries",
		"redeliver":             "sends an event again; it is no new change",
		"export_customers":      "reads; it changes nothing",
	}
	for _, f := range graph.NewExecutableSchema(graph.Config{}).Schema().Mutation.Fields {
		if !a.sent.names[f.Name] && noEvent[f.Name] == "" {
			t.Errorf("mutation %s is not run by this test: run it and check its events, or say in noEvent why it writes none", f.Name)
		}
	}

	// No secret reaches the log: password hashes, reset, transfer,
	// refresh and email tokens.
	var mailed []string
	a.pool.Select(&mailed, `SELECT token_hash FROM email_token UNION ALL SELECT token_hash FROM refresh_token
		UNION ALL SELECT data->>'token' FROM notification WHERE data ? 'token'`)
	secrets = append(secrets, mailed...)
	var log string
	a.pool.Get(&log, `SELECT coalesce(string_agg(coalesce(changes::text, '') || coalesce(data::text, ''), ' '), '') FROM event`)
	for _, secret := range append(secrets, "argon2id", "token_hash", "password_hash", a.token[:20], deletionToken) {
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
	a.pool.Get(&n, `SELECT count(*) FROM event WHERE type NOT IN ('auth.identity_registered', 'auth.user_linked', 'auth.session_started')`)
	if n != 0 {
		t.Errorf("%d events for a seeded dataset", n)
	}
}
