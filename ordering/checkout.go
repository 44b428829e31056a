package ordering

import (
	"context"
	"slices"

	"customerservice/db"
	"customerservice/errcode"
)

// guestCustomerFields are the fields of its customer a guest checkout may
// show: the guest customer of an email holds every guest order placed with
// it, with names, phone and addresses, and they belong to whoever owns the
// email, not to whoever types it.
var guestCustomerFields = []string{"id", "email", "has_account"}

// PlaceOrder places a signed-in customer's order, to o.Email or, when o
// has none, to the customer's own. Returns NOT_FOUND for a deleted or
// unknown customer and INVALID_DATA for a bad order.
func (s *Service) PlaceOrder(ctx context.Context, customerID string, o db.NewOrder) (*db.Order, error) {
	customer, err := db.CustomerByID(ctx, s.conn(ctx), customerID)
	if err != nil {
		return nil, err
	}
	o.CustomerID = customer.ID
	if o.Email == "" {
		o.Email = customer.Email
	}
	return db.InTx(ctx, s.DB, func(tx db.Tx) (*db.Order, error) {
		// Locked, so that a merge or erasure of the customer under way
		// either ends first (and the order is refused) or waits and moves
		// the order with the rest.
		if err := db.LockCustomerForOrder(ctx, tx, customer.ID); err != nil {
			return nil, err
		}
		return db.CreateOrder(ctx, tx, o)
	})
}

// PlaceGuestOrder is a guest checkout: the order goes to the guest
// customer of o.Email, whatever its letter case, reused or created in the
// order's transaction, so a failed order leaves no guest behind. shown
// names the fields of that customer the caller will show with the order.
// Returns INVALID_DATA without an email or for a bad order, and NOT_ALLOWED,
// before anything is written, when shown has a field a guest checkout may
// not show.
func (s *Service) PlaceGuestOrder(ctx context.Context, o db.NewOrder, shown []string) (*db.Order, error) {
	if o.Email == "" {
		return nil, errcode.Invalid("input.email", "a guest order needs an email")
	}
	for _, f := range shown {
		if !slices.Contains(guestCustomerFields, f) {
			return nil, errcode.New(errcode.NotAllowed, "A guest order can show its customer's id, email and has_account; %s needs the customer's token", f)
		}
	}
	return db.InTx(ctx, s.DB, func(tx db.Tx) (*db.Order, error) {
		email, err := db.CleanEmail("input.email", o.Email)
		if err != nil {
			return nil, err
		}
		if o.CustomerID, err = db.GuestCustomer(ctx, tx, email); err != nil {
			return nil, err
		}
		return db.CreateOrder(ctx, tx, o)
	})
}
