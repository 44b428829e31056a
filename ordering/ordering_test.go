package ordering_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"customerservice/db"
	"customerservice/db/dbtest"
	"customerservice/errcode"
	"customerservice/ordering"
)

// flows is a Service on a database of its own.
type flows struct {
	tb   testing.TB
	ctx  context.Context
	pool *sqlx.DB
	svc  *ordering.Service
}

func newFlows(tb testing.TB) *flows {
	tb.Helper()
	pool := dbtest.New(tb)
	return &flows{tb: tb, ctx: context.Background(), pool: pool, svc: &ordering.Service{DB: pool}}
}

func newOrder(email string) db.NewOrder {
	return db.NewOrder{Email: email, CurrencyCode: "usd", Items: []db.NewLineItem{{Title: "Mug", Quantity: 1, UnitPrice: 1250}}}
}

// guestOrder places a guest checkout that shows its customer's id.
func (f *flows) guestOrder(email string) *db.Order {
	f.tb.Helper()
	o, err := f.svc.PlaceGuestOrder(f.ctx, newOrder(email), []string{"id"})
	if err != nil {
		f.tb.Fatalf("guest order for %s: %v", email, err)
	}
	return o
}

// registered creates a registered customer.
func (f *flows) registered(email string) string {
	f.tb.Helper()
	c, err := db.CreateCustomer(f.ctx, f.pool, db.NewCustomer{CustomerFields: db.CustomerFields{Email: db.To(email)}, HasAccount: true})
	if err != nil {
		f.tb.Fatal(err)
	}
	return c.ID
}

func (f *flows) exec(query string, args ...any) {
	f.tb.Helper()
	if _, err := f.pool.ExecContext(f.ctx, query, args...); err != nil {
		f.tb.Fatal(err)
	}
}

func (f *flows) count(query string, args ...any) int {
	f.tb.Helper()
	var n int
	if err := f.pool.GetContext(f.ctx, &n, query, args...); err != nil {
		f.tb.Fatal(err)
	}
	return n
}

// token reads the newest transfer token mailed for an order.
func (f *flows) token(orderID string) string {
	f.tb.Helper()
	var tok string
	err := f.pool.GetContext(f.ctx, &tok, `SELECT data->>'token' FROM notification
		WHERE template = 'order_transfer' AND data->>'order_id' = $1 ORDER BY created_at DESC, id DESC LIMIT 1`, orderID)
	if err != nil {
		f.tb.Fatalf("no transfer token for %s: %v", orderID, err)
	}
	return tok
}

// wantCode fails unless err is an *errcode.Error with the code and message.
func wantCode(tb testing.TB, err error, code errcode.Code, message string) *errcode.Error {
	tb.Helper()
	e, ok := errors.AsType[*errcode.Error](err)
	if !ok || e.Code != code || e.Message != message {
		tb.Fatalf("error = %v, want %s %q", err, code, message)
	}
	return e
}

// wantWait fails unless a RATE_LIMITED error asks for a wait in (min, max].
func wantWait(tb testing.TB, e *errcode.Error, min, max time.Duration) {
	tb.Helper()
	if e.RetryAfter <= min || e.RetryAfter > max {
		tb.Errorf("retry after %v, want more than %v and at most %v", e.RetryAfter, min, max)
	}
}

// README.md promises these numbers: an order takes a transfer request 15
// minutes after its last one, a customer makes 10 an hour, and a token
// lasts 24 hours. A change of policy changes this test and the README.
func TestTransferPolicyNumbers(t *testing.T) {
	t.Parallel()
	if ordering.TransferInterval != 15*time.Minute || ordering.TransfersPerHour != 10 || ordering.TransferTTL != 24*time.Hour {
		t.Errorf("interval %v, %d an hour, tokens last %v; README.md says 15m0s, 10 and 24h0m0s",
			ordering.TransferInterval, ordering.TransfersPerHour, ordering.TransferTTL)
	}
}

// An order takes a new request TransferInterval after its last one, from
// anyone, and not before; a refused request leaves the pending token as it
// was.
func TestTransferIntervalBoundary(t *testing.T) {
	t.Parallel()
	f := newFlows(t)
	order := f.guestOrder("guest@example.com")
	alice, bob := f.registered("alice@example.com"), f.registered("bob@example.com")
	if _, err := f.svc.RequestTransfer(f.ctx, alice, order.ID, ordering.TransferOptions{}); err != nil {
		t.Fatal(err)
	}
	tok := f.token(order.ID)
	message := fmt.Sprintf("A transfer of this order was requested less than %d minutes ago; try again later", 15)

	_, err := f.svc.RequestTransfer(f.ctx, bob, order.ID, ordering.TransferOptions{})
	wantWait(t, wantCode(t, err, errcode.RateLimited, message), ordering.TransferInterval-time.Minute, ordering.TransferInterval)

	// A minute short of the interval, the wait is what is left of it (a
	// minute leaves room for a slow machine between the statements).
	f.exec(`UPDATE order_transfer SET created_at = created_at - make_interval(secs => $1)`, (ordering.TransferInterval - time.Minute).Seconds())
	_, err = f.svc.RequestTransfer(f.ctx, bob, order.ID, ordering.TransferOptions{})
	wantWait(t, wantCode(t, err, errcode.RateLimited, message), 30*time.Second, time.Minute)
	if got := f.token(order.ID); got != tok {
		t.Error("a refused request replaced the pending token")
	}

	f.exec(`UPDATE order_transfer SET created_at = created_at - interval '1 minute'`)
	req, err := f.svc.RequestTransfer(f.ctx, bob, order.ID, ordering.TransferOptions{})
	if err != nil {
		t.Fatalf("a request the interval after the last: %v", err)
	}
	if req.OrderID != order.ID || req.SentTo != "g***@e***.com" {
		t.Errorf("request = %+v", req)
	}
	if n := f.count(`SELECT count(*) FROM order_transfer WHERE order_id = $1 AND status = 'pending'`, order.ID); n != 1 {
		t.Errorf("%d pending requests for the order, want 1", n)
	}
}

// A customer makes TransfersPerHour requests in an hour, of any orders:
// the next is refused until the oldest of them is an hour old, and other
// customers' requests do not count.
func TestTransfersPerHourBoundary(t *testing.T) {
	t.Parallel()
	f := newFlows(t)
	asker, other := f.registered("asker@example.com"), f.registered("other@example.com")
	var orders []*db.Order
	for i := range ordering.TransfersPerHour + 1 {
		orders = append(orders, f.guestOrder(fmt.Sprintf("guest%d@example.com", i)))
	}
	for _, o := range orders[:ordering.TransfersPerHour] {
		if _, err := f.svc.RequestTransfer(f.ctx, asker, o.ID, ordering.TransferOptions{}); err != nil {
			t.Fatalf("request %s: %v", o.ID, err)
		}
	}
	last := orders[ordering.TransfersPerHour]
	_, err := f.svc.RequestTransfer(f.ctx, asker, last.ID, ordering.TransferOptions{})
	e := wantCode(t, err, errcode.RateLimited, fmt.Sprintf("At most %d transfer requests an hour; try again later", 10))
	wantWait(t, e, time.Hour-time.Minute, time.Hour)
	if n := f.count(`SELECT count(*) FROM order_transfer WHERE order_id = $1`, last.ID); n != 0 {
		t.Errorf("the refused request left %d rows", n)
	}
	if _, err := f.svc.RequestTransfer(f.ctx, other, last.ID, ordering.TransferOptions{}); err != nil {
		t.Errorf("another customer was refused: %v", err)
	}

	// The asker's oldest request leaves the hour: one more may go. The
	// other customer's request is older than the interval too, so the
	// order takes it.
	f.exec(`UPDATE order_transfer SET created_at = created_at - interval '1 hour' WHERE order_id = $1`, orders[0].ID)
	f.exec(`UPDATE order_transfer SET created_at = created_at - make_interval(secs => $1) WHERE order_id = $2`, ordering.TransferInterval.Seconds(), last.ID)
	if _, err := f.svc.RequestTransfer(f.ctx, asker, last.ID, ordering.TransferOptions{}); err != nil {
		t.Errorf("a request once the oldest left the hour: %v", err)
	}
}

// A token lasts TransferTTL, is spent once, and moves the order to the
// customer who asked; an expired one is refused like a wrong one.
func TestTransferTokenLifetime(t *testing.T) {
	t.Parallel()
	f := newFlows(t)
	asker := f.registered("pat@example.com")
	first, second := f.guestOrder("pat@example.com"), f.guestOrder("pat@example.com")

	before := time.Now()
	req, err := f.svc.RequestTransfer(f.ctx, asker, first.ID, ordering.TransferOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi := before.Add(ordering.TransferTTL-time.Second), time.Now().Add(ordering.TransferTTL); req.ExpiresAt.Before(lo) || req.ExpiresAt.After(hi) {
		t.Errorf("expires at %v, want between %v and %v", req.ExpiresAt, lo, hi)
	}
	if n := f.count(`SELECT count(*) FROM order_transfer WHERE order_id = $1 AND expires_at = $2`, first.ID, req.ExpiresAt); n != 1 {
		t.Error("the stored token does not expire when the answer says")
	}
	o, err := f.svc.AcceptTransfer(f.ctx, asker, first.ID, f.token(first.ID))
	if err != nil {
		t.Fatal(err)
	}
	if o.CustomerID != asker {
		t.Errorf("accepted order belongs to %s, want %s", o.CustomerID, asker)
	}
	_, err = f.svc.AcceptTransfer(f.ctx, asker, first.ID, f.token(first.ID))
	wantCode(t, err, errcode.NotAllowed, "Invalid token.")

	if _, err := f.svc.RequestTransfer(f.ctx, asker, second.ID, ordering.TransferOptions{}); err != nil {
		t.Fatal(err)
	}
	f.exec(`UPDATE order_transfer SET expires_at = now() - interval '1 second' WHERE order_id = $1`, second.ID)
	_, err = f.svc.AcceptTransfer(f.ctx, asker, second.ID, f.token(second.ID))
	wantCode(t, err, errcode.NotAllowed, "Invalid token.")
	wantCode(t, f.svc.DeclineTransfer(f.ctx, second.ID, f.token(second.ID)), errcode.NotAllowed, "Invalid token.")
}

// A guest checkout shows its customer's id, email and has_account, no
// more; asking for more is refused before anything is written.
func TestGuestCheckoutShows(t *testing.T) {
	t.Parallel()
	f := newFlows(t)
	_, err := f.svc.PlaceGuestOrder(f.ctx, newOrder("sam@example.com"), []string{"id", "email", "first_name"})
	wantCode(t, err, errcode.NotAllowed, "A guest order can show its customer's id, email and has_account; first_name needs the customer's token")
	if n := f.count(`SELECT (SELECT count(*) FROM customer) + (SELECT count(*) FROM orders)`); n != 0 {
		t.Errorf("a refused checkout wrote %d rows", n)
	}
	_, err = f.svc.PlaceGuestOrder(f.ctx, newOrder(""), []string{"id"})
	wantCode(t, err, errcode.InvalidData, "a guest order needs an email")

	first, err := f.svc.PlaceGuestOrder(f.ctx, newOrder("Sam@Example.com"), []string{"id", "email", "has_account"})
	if err != nil {
		t.Fatal(err)
	}
	second := f.guestOrder("sam@example.com")
	if first.CustomerID != second.CustomerID {
		t.Errorf("two guest customers for one email: %s and %s", first.CustomerID, second.CustomerID)
	}
}

// A signed-in customer's order is its own, to its email unless the order
// names another; a deleted customer places none.
func TestCustomerCheckout(t *testing.T) {
	t.Parallel()
	f := newFlows(t)
	id := f.registered("kim@example.com")
	o, err := f.svc.PlaceOrder(f.ctx, id, newOrder(""))
	if err != nil {
		t.Fatal(err)
	}
	if o.CustomerID != id || o.Email != "kim@example.com" {
		t.Errorf("order of %s to %s, want %s to kim@example.com", o.CustomerID, o.Email, id)
	}
	if o, err = f.svc.PlaceOrder(f.ctx, id, newOrder("gift@example.com")); err != nil || o.Email != "gift@example.com" {
		t.Errorf("order to another email: %+v, %v", o, err)
	}
	f.exec(`UPDATE customer SET deleted_at = now() WHERE id = $1`, id)
	_, err = f.svc.PlaceOrder(f.ctx, id, newOrder(""))
	if errcode.Of(err) != errcode.NotFound {
		t.Errorf("order of a deleted customer: %v, want NOT_FOUND", err)
	}
}
