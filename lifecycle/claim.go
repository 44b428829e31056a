package lifecycle

import (
	"context"

	"customerservice/db"
	"customerservice/errcode"
)

// GuestClaim is what claim_guest_orders found, or moved.
type GuestClaim struct {
	// Preview is true when nothing moved.
	Preview bool
	// GuestID is the guest customer of the email, "" when there is none.
	GuestID string
	Orders  []*db.Order
	// AddressIDs are the guest's addresses: moved with includeAddresses,
	// deleted with the guest otherwise.
	AddressIDs []string
	// TransferIDs are the pending transfers of the orders, canceled.
	TransferIDs []string
}

// ClaimGuestOrders gives a signed-in registered customer every order of
// the guest customer of its login email, once that email is verified (the
// database function identity_email_verified decides): with preview, it
// only lists them. Otherwise, in one transaction, the orders move to the
// customer, the guest's addresses too when includeAddresses, pending
// transfers of those orders are canceled, the emptied guest customer is
// soft-deleted, and customer.guest_orders_claimed is written. Orders
// placed as a guest later make a new guest customer, claimed the same way.
// Both customers are locked first: of concurrent claims, one moves the
// orders and the others find the guest gone, and a guest checkout for the
// email either commits first (and its order moves) or waits and makes a new
// guest. Returns NOT_ALLOWED until the email is verified, and NOT_FOUND
// for a deleted customer.
func (s *Service) ClaimGuestOrders(ctx context.Context, customerID, identityID string, preview, includeAddresses bool) (*GuestClaim, error) {
	identity, err := db.IdentityByID(ctx, s.conn(ctx), identityID)
	if err != nil {
		return nil, err
	}
	if identity.CustomerID == nil || *identity.CustomerID != customerID {
		return nil, errcode.New(errcode.NotAllowed, "This token's identity does not log in to this customer")
	}
	verified, err := db.IdentityEmailVerified(ctx, s.conn(ctx), identityID)
	if err != nil {
		return nil, err
	}
	if !verified {
		return nil, errcode.New(errcode.NotAllowed, "Verify your email first: guest orders go to the account that proved it owns their email")
	}
	if preview {
		out := &GuestClaim{Preview: true, Orders: []*db.Order{}, AddressIDs: []string{}, TransferIDs: []string{}}
		q := s.conn(ctx)
		if out.GuestID, err = db.GuestCustomerOf(ctx, q, identity.Email); err != nil || out.GuestID == "" {
			return out, err
		}
		if out.Orders, err = db.OrdersOfCustomer(ctx, q, out.GuestID); err != nil {
			return nil, err
		}
		if out.AddressIDs, err = db.AddressIDsOf(ctx, q, out.GuestID); err != nil {
			return nil, err
		}
		moves, err := db.MergeMovesOf(ctx, q, out.GuestID, customerID)
		if err != nil {
			return nil, err
		}
		out.TransferIDs = nonNil(moves.TransferIDs)
		return out, nil
	}
	return db.InTx(ctx, s.DB, func(tx db.Tx) (*GuestClaim, error) {
		out := &GuestClaim{Orders: []*db.Order{}, AddressIDs: []string{}, TransferIDs: []string{}}
		guest, err := db.GuestCustomerOf(ctx, tx, identity.Email)
		if err != nil {
			return nil, err
		}
		ids := []string{customerID}
		if guest != "" {
			ids = append(ids, guest)
		}
		locked, err := db.LockCustomersForChange(ctx, tx, ids)
		if err != nil {
			return nil, err
		}
		if c := locked[customerID]; c == nil || c.DeletedAt != nil {
			return nil, &errcode.Error{Code: errcode.NotFound, Field: "id", Message: "Customer with id: " + customerID + " was not found"}
		}
		if guest == "" || locked[guest].DeletedAt != nil {
			// None, or a concurrent claim (or merge) took it first.
			return out, nil
		}
		out.GuestID = guest
		if out.TransferIDs, err = db.CancelTransfers(ctx, tx, []string{guest}); err != nil {
			return nil, err
		}
		moved, err := db.MoveOrders(ctx, tx, guest, customerID)
		if err != nil {
			return nil, err
		}
		if includeAddresses {
			if out.AddressIDs, err = db.MoveAddresses(ctx, tx, guest, customerID); err != nil {
				return nil, err
			}
		}
		if err := db.DeleteCustomer(ctx, tx, guest); err != nil {
			return nil, err
		}
		if out.Orders, err = db.OrdersByIDs(ctx, tx, moved); err != nil {
			return nil, err
		}
		out.AddressIDs, out.TransferIDs = nonNil(out.AddressIDs), nonNil(out.TransferIDs)
		return out, db.RecordCustomerEvent(ctx, tx, "customer.guest_orders_claimed", customerID, db.JSONObject{
			"guest_id": guest, "order_ids": nonNil(moved), "address_ids": out.AddressIDs, "transfer_ids": out.TransferIDs,
		})
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
