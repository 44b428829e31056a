package graph_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"customerservice/ordering"
)

const placeOrderQ = `mutation ($input: PlaceOrderInput!) {
	place_order(input: $input) {
		id display_id email status currency_code subtotal total customer_id
		customer { id email has_account }
		items { title quantity unit_price total }
		shipping_address { first_name city country_code }
		billing_address { city }
	}
}`

type placedOrder struct {
	ID           string `json:"id"`
	DisplayID    int    `json:"display_id"`
	Email        string `json:"email"`
	Status       string `json:"status"`
	CurrencyCode string `json:"currency_code"`
	Subtotal     int    `json:"subtotal"`
	Total        int    `json:"total"`
	CustomerID   string `json:"customer_id"`
	Customer     struct {
		ID         string `json:"id"`
		Email      string `json:"email"`
		HasAccount bool   `json:"has_account"`
	} `json:"customer"`
	Items []struct {
		Title     string `json:"title"`
		Quantity  int    `json:"quantity"`
		UnitPrice int    `json:"unit_price"`
		Total     int    `json:"total"`
	} `json:"items"`
	ShippingAddress *struct {
		FirstName   string `json:"first_name"`
		City        string `json:"city"`
		CountryCode string `json:"country_code"`
	} `json:"shipping_address"`
}

func (a *api) placeOrder(input map[string]any) placedOrder {
	a.tb.Helper()
	var got struct {
		O placedOrder `json:"place_order"`
	}
	a.query(placeOrderQ, map[string]any{"input": input}, &got)
	return got.O
}

func orderInput(email string, prices ...int) map[string]any {
	items := []map[string]any{}
	for i, p := range prices {
		items = append(items, map[string]any{"title": fmt.Sprintf("Item %d", i+1), "quantity": i + 1, "unit_price": p})
	}
	in := map[string]any{"currency_code": "usd", "items": items}
	if email != "" {
		in["email"] = email
	}
	return in
}

// transferIntervalPasses makes every transfer request older by
// ordering.TransferInterval, as waiting would: an order takes one request in that
// time.
func (a *api) transferIntervalPasses() {
	a.tb.Helper()
	a.exec(`UPDATE order_transfer SET created_at = created_at - make_interval(secs => $1)`, ordering.TransferInterval.Seconds())
}

// transferToken reads the newest transfer token mailed for an order.
func (a *api) transferToken(orderID string) string {
	a.tb.Helper()
	var tok string
	if err := a.pool.Get(&tok, `SELECT data->>'token' FROM notification WHERE template = 'order_transfer' AND data->>'order_id' = $1 ORDER BY created_at DESC, id DESC LIMIT 1`, orderID); err != nil {
		a.tb.Fatalf("no transfer token for %s: %v", orderID, err)
	}
	return tok
}

const (
	requestQ = `mutation ($id: ID!) { request_order_transfer(order_id: $id) { order_id sent_to expires_at } }`
	acceptQ  = `mutation ($id: ID!, $t: String!) { accept_order_transfer(order_id: $id, token: $t) { id customer { id has_account } } }`
	declineQ = `mutation ($id: ID!, $t: String!) { decline_order_transfer(order_id: $id, token: $t) }`
)

func TestGuestCheckoutAndClaim(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	guest := a.as("")
	first := guest.placeOrder(orderInput("Pat@Example.com", 1250, 300))
	second := guest.placeOrder(orderInput("pat@example.com", 999))
	if first.Customer.ID != second.Customer.ID || first.Customer.HasAccount || first.Email != "pat@example.com" {
		t.Fatalf("guest orders: %+v / %+v; want one guest customer", first.Customer, second.Customer)
	}
	if first.Total != 1250+2*300 || first.Subtotal != first.Total || first.Status != "PENDING" || second.DisplayID != first.DisplayID+1 {
		t.Errorf("first order = %+v", first)
	}
	guestID := first.Customer.ID

	// The same person registers: a second, registered customer.
	tok, registeredID := a.signUp("pat@example.com", "pat's password")
	if registeredID == guestID {
		t.Fatal("registering took over the guest customer")
	}
	pat := a.as(tok)
	for _, o := range []placedOrder{first, second} {
		var req struct {
			R struct {
				OrderID string `json:"order_id"`
				SentTo  string `json:"sent_to"`
			} `json:"request_order_transfer"`
		}
		pat.query(requestQ, map[string]any{"id": o.ID}, &req)
		if req.R.OrderID != o.ID || req.R.SentTo != "p***@e***.com" {
			t.Errorf("request = %+v", req.R)
		}
	}
	for _, o := range []placedOrder{first, second} {
		var acc struct {
			A struct {
				Customer struct{ ID string } `json:"customer"`
			} `json:"accept_order_transfer"`
		}
		pat.query(acceptQ, map[string]any{"id": o.ID, "t": a.transferToken(o.ID)}, &acc)
		if acc.A.Customer.ID != registeredID {
			t.Errorf("accepted order belongs to %s, want %s", acc.A.Customer.ID, registeredID)
		}
	}
	var me struct {
		Me struct {
			Orders struct {
				Count int
				Items []struct{ ID string }
			} `json:"orders"`
		} `json:"me"`
	}
	pat.query(`{ me { orders { count items { id } } } }`, nil, &me)
	if me.Me.Orders.Count != 2 || me.Me.Orders.Items[0].ID != second.ID || me.Me.Orders.Items[1].ID != first.ID {
		t.Errorf("me.orders = %+v, want both, newest first", me.Me.Orders)
	}
	var g struct {
		Customer struct {
			Orders struct{ Count int } `json:"orders"`
		} `json:"customer"`
	}
	a.query(`query ($id: ID!) { customer(id: $id) { orders { count } } }`, map[string]any{"id": guestID}, &g)
	if g.Customer.Orders.Count != 0 {
		t.Errorf("the guest customer still has %d orders", g.Customer.Orders.Count)
	}
	// The customer reads its order; the history records the transfer.
	pat.query(`query ($id: ID!) { order(id: $id) { id } }`, map[string]any{"id": first.ID}, &struct{}{})
	var history string
	if err := a.pool.Get(&history, `SELECT concat_ws(',', status, customer_id, from_customer_id, decided_at IS NOT NULL) FROM order_transfer WHERE order_id = $1`, first.ID); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("accepted,%s,%s,t", registeredID, guestID); history != want {
		t.Errorf("history = %s, want %s", history, want)
	}
}

func TestPlaceOrder(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	guest := a.as("")
	in := orderInput("ship@example.com", 500)
	in["currency_code"] = "EUR"
	in["shipping_address"] = map[string]any{"first_name": " Lea ", "city": "Paris", "country_code": "FR"}
	o := guest.placeOrder(in)
	if o.CurrencyCode != "eur" || o.ShippingAddress == nil || o.ShippingAddress.FirstName != "Lea" || o.ShippingAddress.CountryCode != "fr" {
		t.Errorf("order = %+v", o)
	}
	if len(o.Items) != 1 || o.Items[0].Total != 500 {
		t.Errorf("items = %+v", o.Items)
	}

	// A guest order with a registered customer's email goes to the guest.
	tok, registeredID := a.signUp("member@example.com", "member password")
	o = guest.placeOrder(orderInput("member@example.com", 100))
	if o.Customer.ID == registeredID || o.Customer.HasAccount {
		t.Errorf("guest order with a member's email went to %+v", o.Customer)
	}
	// A signed-in order is the customer's, with its email by default.
	o = a.as(tok).placeOrder(orderInput("", 100, 200))
	if o.Customer.ID != registeredID || o.Email != "member@example.com" || o.Total != 100+2*200 {
		t.Errorf("signed-in order = %+v", o)
	}
	o = a.as(tok).placeOrder(orderInput("gift@example.com", 100))
	if o.Customer.ID != registeredID || o.Email != "gift@example.com" {
		t.Errorf("signed-in order with another email = %+v", o)
	}

	items := make([]int, 101)
	tests := []struct {
		name  string
		input map[string]any
		field string
	}{
		{"guest without email", orderInput("", 100), "input.email"},
		{"bad email", orderInput("nope", 100), "input.email"},
		{"no items", orderInput("x@example.com"), "input.items"},
		{"101 items", orderInput("x@example.com", items...), "input.items"},
		{"unknown currency", map[string]any{"email": "x@example.com", "currency_code": "usx", "items": []any{map[string]any{"title": "A", "quantity": 1, "unit_price": 1}}}, "input.currency_code"},
		{"zero quantity", map[string]any{"email": "x@example.com", "currency_code": "usd", "items": []any{map[string]any{"title": "A", "quantity": 0, "unit_price": 1}}}, "input.items.0.quantity"},
		{"10001 of one", map[string]any{"email": "x@example.com", "currency_code": "usd", "items": []any{map[string]any{"title": "A", "quantity": 10001, "unit_price": 1}}}, "input.items.0.quantity"},
		{"negative price", map[string]any{"email": "x@example.com", "currency_code": "usd", "items": []any{map[string]any{"title": "A", "quantity": 1, "unit_price": -1}}}, "input.items.0.unit_price"},
		{"blank title", map[string]any{"email": "x@example.com", "currency_code": "usd", "items": []any{map[string]any{"title": " ", "quantity": 1, "unit_price": 1}}}, "input.items.0.title"},
		{"total too large", map[string]any{"email": "x@example.com", "currency_code": "usd", "items": []any{map[string]any{"title": "A", "quantity": 10000, "unit_price": 2000000000}}}, "input.items"},
		{"bad country", map[string]any{"email": "x@example.com", "currency_code": "usd", "items": []any{map[string]any{"title": "A", "quantity": 1, "unit_price": 1}},
			"billing_address": map[string]any{"country_code": "zz"}}, "input.billing_address.country_code"},
	}
	var before int
	a.pool.Get(&before, `SELECT count(*) FROM orders`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := guest.fail(placeOrderQ, map[string]any{"input": tt.input})
			wantError(t, err, "INVALID_DATA", "invalid_data", "")
			if err.Extensions["field"] != tt.field {
				t.Errorf("field = %v, want %s (%s)", err.Extensions["field"], tt.field, err.Message)
			}
		})
	}
	var after int
	a.pool.Get(&after, `SELECT count(*) FROM orders`)
	if after != before {
		t.Errorf("bad orders were stored: %d -> %d", before, after)
	}
	// An admin token, or a bad one, is not a shopper's.
	wantError(t, a.fail(placeOrderQ, map[string]any{"input": orderInput("x@example.com", 1)}), "NOT_ALLOWED", "not_allowed", "")
	wantError(t, a.as("bad").fail(placeOrderQ, map[string]any{"input": orderInput("x@example.com", 1)}), "UNAUTHORIZED", "unauthorized", "")
}

func TestGuestCheckoutShowsNoMoreOfTheCustomerThanItsEmail(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	in := orderInput("victim@example.com", 100)
	in["shipping_address"] = map[string]any{"first_name": "Vic", "city": "Lyon", "country_code": "FR"}
	a.as("").placeOrder(in)

	// Anyone can type the victim's email at checkout: the guest customer's
	// history must not come back with the order.
	const q = `mutation ($input: PlaceOrderInput!) { place_order(input: $input) { id customer { id %s } } }`
	for _, query := range []string{
		fmt.Sprintf(q, "orders { items { id shipping_address { city } } }"),
		fmt.Sprintf(q, "addresses { id }"),
		fmt.Sprintf(q, "... on Customer { phone }"),
		fmt.Sprintf(q, "...c") + " fragment c on Customer { first_name }",
	} {
		err := a.as("").fail(query, map[string]any{"input": orderInput("victim@example.com", 1)})
		wantError(t, err, "NOT_ALLOWED", "not_allowed", "")
	}
	var orders int
	if err := a.pool.Get(&orders, `SELECT count(*) FROM orders WHERE email = 'victim@example.com'`); err != nil || orders != 1 {
		t.Errorf("%d orders for the email (%v); the refused checkouts must place none", orders, err)
	}

	// The customer's own token shows everything.
	tok, _ := a.signUp("shopper@example.com", "shopper password")
	var got struct {
		O struct {
			Customer struct {
				Orders struct{ Count int } `json:"orders"`
			} `json:"customer"`
		} `json:"place_order"`
	}
	a.as(tok).query(fmt.Sprintf(q, "orders { count }"), map[string]any{"input": orderInput("", 1)}, &got)
	if got.O.Customer.Orders.Count != 1 {
		t.Errorf("the signed-in customer sees %d orders, want 1", got.O.Customer.Orders.Count)
	}
}

func TestConcurrentGuestOrders(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const n = 100
	results := concurrently(n, func(i int) response {
		email := "rush@example.com"
		if i%2 == 1 {
			email = strings.ToUpper(email)
		}
		return a.as("").do(placeOrderQ, map[string]any{"input": orderInput(email, 100)})
	})
	if ok, _ := outcomes(t, results, "", ""); ok != n {
		t.Errorf("%d of %d orders placed", ok, n)
	}
	var guests, orders int
	a.pool.Get(&guests, `SELECT count(*) FROM customer WHERE email = 'rush@example.com'`)
	a.pool.Get(&orders, `SELECT count(*) FROM orders o JOIN customer c ON c.id = o.customer_id WHERE c.email = 'rush@example.com'`)
	if guests != 1 || orders != n {
		t.Errorf("%d guest customers and %d orders; want 1 and %d", guests, orders, n)
	}
}

func TestTransferRules(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	order := a.as("").placeOrder(orderInput("owner@example.com", 100))
	tokA, _ := a.signUp("a@example.com", "password a")
	tokB, _ := a.signUp("b@example.com", "password b")
	alice, bob := a.as(tokA), a.as(tokB)

	wantError(t, alice.fail(requestQ, map[string]any{"id": "order_01ARZ3NDEKTSV4RRFFQ69G5FAV"}), "NOT_FOUND", "not_found", "Order with id: order_01ARZ3NDEKTSV4RRFFQ69G5FAV was not found")
	wantError(t, a.as("").fail(requestQ, map[string]any{"id": order.ID}), "UNAUTHORIZED", "unauthorized", "")
	wantError(t, a.fail(requestQ, map[string]any{"id": order.ID}), "NOT_ALLOWED", "not_allowed", "")

	// One request at a time: another within the interval, by anyone, is
	// RATE_LIMITED and the pending token stands (TestTransferRequestsAreThrottled).
	alice.query(requestQ, map[string]any{"id": order.ID}, &struct{}{})
	old := a.transferToken(order.ID)
	retryAfter(t, alice.fail(requestQ, map[string]any{"id": order.ID}), ordering.TransferInterval)
	retryAfter(t, bob.fail(requestQ, map[string]any{"id": order.ID}), ordering.TransferInterval)
	if a.transferToken(order.ID) != old {
		t.Fatal("a refused request replaced the token")
	}
	// After it, a new request replaces the pending one: the first token is
	// dead.
	a.transferIntervalPasses()
	alice.query(requestQ, map[string]any{"id": order.ID}, &struct{}{})
	current := a.transferToken(order.ID)
	if old == current {
		t.Fatal("the second request reused the token")
	}
	for name, c := range map[string]struct {
		who   *api
		token string
	}{
		"replaced token": {alice, old}, "wrong token": {alice, "guess"}, "someone else's request": {bob, current},
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, c.who.fail(acceptQ, map[string]any{"id": order.ID, "t": c.token}), "NOT_ALLOWED", "not_allowed", "Invalid token.")
		})
	}

	// Declining ends the request; accepting it afterwards fails.
	var declined struct {
		D bool `json:"decline_order_transfer"`
	}
	a.as("").query(declineQ, map[string]any{"id": order.ID, "t": current}, &declined)
	if !declined.D {
		t.Error("decline = false")
	}
	wantError(t, alice.fail(acceptQ, map[string]any{"id": order.ID, "t": current}), "NOT_ALLOWED", "not_allowed", "Invalid token.")
	wantError(t, a.as("").fail(declineQ, map[string]any{"id": order.ID, "t": current}), "NOT_ALLOWED", "not_allowed", "Invalid token.")

	// Expired tokens are refused.
	a.transferIntervalPasses()
	alice.query(requestQ, map[string]any{"id": order.ID}, &struct{}{})
	expiring := a.transferToken(order.ID)
	a.exec(`UPDATE order_transfer SET expires_at = now() - interval '1 second' WHERE status = 'pending'`)
	wantError(t, alice.fail(acceptQ, map[string]any{"id": order.ID, "t": expiring}), "NOT_ALLOWED", "not_allowed", "Invalid token.")

	// A deleted customer's token asks for nothing.
	tokC, idC := a.signUp("c@example.com", "password c")
	a.query(`mutation ($id: ID!) { delete_customer(id: $id) { id } }`, map[string]any{"id": idC}, &struct{}{})
	wantError(t, a.as(tokC).fail(requestQ, map[string]any{"id": order.ID}), "UNAUTHORIZED", "unauthorized", revoked)

	// Once the order is a registered customer's, it cannot be asked for.
	a.transferIntervalPasses()
	alice.query(requestQ, map[string]any{"id": order.ID}, &struct{}{})
	alice.query(acceptQ, map[string]any{"id": order.ID, "t": a.transferToken(order.ID)}, &struct{}{})
	wantError(t, bob.fail(requestQ, map[string]any{"id": order.ID}), "NOT_ALLOWED", "not_allowed",
		fmt.Sprintf("Order: %s already belongs to a registered customer", order.ID))
}

// Transfer requests are throttled per order (one at a time: another within
// ordering.TransferInterval is RATE_LIMITED rather than replacing the token) and
// per asker (ordering.TransfersPerHour), and show the order's email masked. On
// the code before, 30 requests for one order sent 30 mails to the guest,
// each voiding the token before it, and showed every caller the address.
func TestTransferRequestsAreThrottled(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	order := a.as("").placeOrder(orderInput("jane.doe@mail.example.co.uk", 100))
	tok, _ := a.signUp("asker@example.com", "asker password")
	asker := a.as(tok)
	const n = 30
	results := concurrently(n, func(int) response { return asker.do(requestQ, map[string]any{"id": order.ID}) })
	ok, limited := outcomes(t, results, "RATE_LIMITED", "")
	var mails int
	if err := a.pool.Get(&mails, `SELECT count(*) FROM notification WHERE template = 'order_transfer' AND data->>'order_id' = $1`, order.ID); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d requests for one order: %d accepted, %d RATE_LIMITED, %d mails", n, ok, limited, mails)
	if ok != 1 || limited != n-1 || mails != 1 {
		t.Errorf("%d accepted, %d RATE_LIMITED, %d mails; want 1, %d, 1", ok, limited, mails, n-1)
	}
	for _, r := range results {
		if len(r.Errors) > 0 {
			retryAfter(t, r.Errors[0], ordering.TransferInterval)
			continue
		}
		var got struct {
			R struct {
				SentTo string `json:"sent_to"`
			} `json:"request_order_transfer"`
		}
		if err := json.Unmarshal(r.Data, &got); err != nil {
			t.Fatal(err)
		}
		if got.R.SentTo != "j***@m***.uk" {
			t.Errorf("sent_to = %q, want j***@m***.uk", got.R.SentTo)
		}
	}
	// The one token sent still works.
	asker.query(acceptQ, map[string]any{"id": order.ID, "t": a.transferToken(order.ID)}, &struct{}{})

	// Per asker: TransfersPerHour requests an hour, whatever the orders.
	var refused *gqlError
	for i := 1; i <= ordering.TransfersPerHour; i++ {
		o := a.as("").placeOrder(orderInput(fmt.Sprintf("ümit%d@bücher.de", i), 100))
		resp := asker.do(requestQ, map[string]any{"id": o.ID})
		if i < ordering.TransfersPerHour {
			if len(resp.Errors) > 0 {
				t.Fatalf("request %d refused: %+v", i+1, resp.Errors)
			}
			if want := fmt.Sprintf(`{"request_order_transfer":{"order_id":"%s","sent_to":"ü***@b***.de"`, o.ID); !strings.HasPrefix(string(resp.Data), want) {
				t.Errorf("answer %s, want it to start with %s", resp.Data, want)
			}
			continue
		}
		if len(resp.Errors) != 1 {
			t.Fatalf("request %d: %+v %s, want RATE_LIMITED", i+1, resp.Errors, resp.Data)
		}
		refused = &resp.Errors[0]
	}
	retryAfter(t, *refused, time.Hour)
	wantError(t, *refused, "RATE_LIMITED", "not_allowed", fmt.Sprintf("At most %d transfer requests an hour; try again later", ordering.TransfersPerHour))
}

func TestConcurrentAccepts(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	order := a.as("").placeOrder(orderInput("contested@example.com", 100))
	tok, id := a.signUp("claimer@example.com", "claimer password")
	claimer := a.as(tok)
	claimer.query(requestQ, map[string]any{"id": order.ID}, &struct{}{})
	token := a.transferToken(order.ID)
	const n = 50
	results := concurrently(n, func(int) response { return claimer.do(acceptQ, map[string]any{"id": order.ID, "t": token}) })
	ok, refused := outcomes(t, results, "NOT_ALLOWED", "Invalid token.")
	var owner string
	var accepted int
	a.pool.Get(&owner, `SELECT customer_id FROM orders WHERE id = $1`, order.ID)
	a.pool.Get(&accepted, `SELECT count(*) FROM order_transfer WHERE order_id = $1 AND status = 'accepted'`, order.ID)
	if ok != 1 || refused != n-1 || owner != id || accepted != 1 {
		t.Errorf("%d accepted, %d refused, owner %s, %d accepted rows; want 1, %d, %s, 1", ok, refused, owner, accepted, n-1, id)
	}
}
