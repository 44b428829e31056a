package ordering

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"customerservice/auth"
	"customerservice/db"
	"customerservice/errcode"
)

// TransferTTL is how long an order transfer token can be used.
const TransferTTL = 24 * time.Hour

// Transfer requests are throttled, so that nobody can flood a guest's
// mailbox or keep voiding the token a guest was just sent: an order takes a
// new request TransferInterval after its last one at the earliest, and a
// customer makes at most TransfersPerHour requests in an hour.
const (
	TransferInterval = 15 * time.Minute
	TransfersPerHour = 10
)

// TransferRequest is a transfer request as its asker sees it.
type TransferRequest struct {
	OrderID string
	// SentTo is the address the token went to, masked (maskEmail).
	SentTo    string
	ExpiresAt time.Time
}

// TransferOptions are what a transfer request may carry besides its
// order: a description for whoever reads the token's mail, and Medusa's
// update_order_email, which makes the order's email the new owner's on
// accept.
type TransferOptions struct {
	Description      *string
	UpdateOrderEmail bool
}

// RequestTransfer records a signed-in customer's request for a guest's
// order, replacing the order's pending one, and mails a single-use token,
// valid for TransferTTL, to the order's email from the outbox, in the same
// transaction. Returns NOT_FOUND for a deleted or unknown customer or
// order, NOT_ALLOWED for an order a registered customer owns,
// INVALID_DATA for a bad description, and RATE_LIMITED, with how long to
// wait, within TransferInterval of the order's last request (by anyone) or
// past TransfersPerHour of the customer's.
func (s *Service) RequestTransfer(ctx context.Context, customerID, orderID string, opt TransferOptions) (*TransferRequest, error) {
	return s.requestTransfer(ctx, customerID, orderID, "", opt)
}

// TransferOrder is Medusa's admin transfer: an admin user asks, for the
// registered customer customerID, to take over a guest's order, and the
// token goes to the order's email as for a customer's request, for the
// customer to accept (or whoever reads the mail to decline). It replaces
// the order's pending request and is not throttled: admins are trusted,
// and an admin's request is not counted against the customer's hour.
// Returns NOT_FOUND for an unknown or deleted customer or order,
// NOT_ALLOWED for a guest customer or an order a registered customer
// owns, and INVALID_DATA for a bad description.
func (s *Service) TransferOrder(ctx context.Context, adminID, orderID, customerID string, opt TransferOptions) (*TransferRequest, error) {
	return s.requestTransfer(ctx, customerID, orderID, adminID, opt)
}

func (s *Service) requestTransfer(ctx context.Context, customerID, orderID, adminID string, opt TransferOptions) (*TransferRequest, error) {
	description, err := db.CleanTransferDescription("description", opt.Description)
	if err != nil {
		return nil, err
	}
	token, hash, err := auth.NewSecretToken()
	if err != nil {
		return nil, err
	}
	expires := time.Now().Add(TransferTTL).Truncate(time.Second)
	return db.InTx(ctx, s.DB, func(tx db.Tx) (*TransferRequest, error) {
		// Both are locked before the counts are read, so that concurrent
		// requests by the asker, or for the order, are counted one after
		// the other.
		lock := db.LockRequester
		if adminID != "" {
			lock = db.LockRegisteredCustomer // the customer the admin names must be able to accept
		}
		if err := lock(ctx, tx, customerID); err != nil {
			return nil, err
		}
		o, err := db.TransferableOrder(ctx, tx, orderID)
		if err != nil {
			return nil, err
		}
		if adminID == "" {
			if err := checkTransferRate(ctx, tx, o.ID, customerID); err != nil {
				return nil, err
			}
		}
		err = db.CreateTransfer(ctx, tx, o, customerID, hash, expires, db.TransferOptions{
			Description: description, UpdateOrderEmail: opt.UpdateOrderEmail, RequestedBy: adminID,
		})
		if err != nil {
			return nil, err
		}
		data := db.JSONObject{
			"token": token, "order_id": o.ID, "display_id": o.DisplayID, "expires_at": expires.UTC().Format(time.RFC3339),
			"by_store": adminID != "",
		}
		if description != nil {
			data["description"] = *description
		}
		if err := db.EnqueueNotification(ctx, tx, o.Email, "order_transfer", data, expires); err != nil {
			return nil, err
		}
		return &TransferRequest{OrderID: o.ID, SentTo: maskEmail(o.Email), ExpiresAt: expires}, nil
	})
}

// CancelTransfer cancels the order's pending transfer request: with
// requester set, one that customer made (Medusa's store route); empty, any
// (an admin's). Returns NOT_FOUND when there is none to cancel.
func (s *Service) CancelTransfer(ctx context.Context, orderID, requester string) error {
	// In a transaction of its own, so that the event names who canceled.
	_, err := db.InTx(ctx, s.DB, func(tx db.Tx) (struct{}, error) {
		return struct{}{}, db.CancelTransfer(ctx, tx, orderID, requester)
	})
	return err
}

// checkTransferRate returns RATE_LIMITED, with how long to wait, when the
// order or the customer is over its limit; the order's wait comes first,
// since it holds for every asker.
func checkTransferRate(ctx context.Context, tx db.Tx, orderID, customerID string) error {
	w, err := db.TransferRequestWaits(ctx, tx, orderID, customerID, TransferInterval, TransfersPerHour)
	if err != nil {
		return err
	}
	if w.Order > 0 {
		return errcode.Limited(w.Order, "A transfer of this order was requested less than %d minutes ago; try again later", int(TransferInterval.Minutes()))
	}
	if w.Requester > 0 {
		return errcode.Limited(w.Requester, "At most %d transfer requests an hour; try again later", TransfersPerHour)
	}
	return nil
}

// AcceptTransfer moves the order to the signed-in customer who asked for
// it, when the token is that of the order's pending, unexpired request.
// Returns NOT_FOUND for a deleted or unknown customer and NOT_ALLOWED
// "Invalid token." for a token that is wrong, used, expired or another
// customer's.
func (s *Service) AcceptTransfer(ctx context.Context, customerID, orderID, token string) (*db.Order, error) {
	return db.InTx(ctx, s.DB, func(tx db.Tx) (*db.Order, error) {
		if err := db.LockCustomerForOrder(ctx, tx, customerID); err != nil {
			return nil, err
		}
		return db.AcceptTransfer(ctx, tx, orderID, customerID, auth.HashToken(token))
	})
}

// DeclineTransfer cancels the order's pending transfer request: whoever
// reads the order's email holds the token, signed in or not. Returns
// NOT_ALLOWED "Invalid token." for a token that is wrong, used or expired.
func (s *Service) DeclineTransfer(ctx context.Context, orderID, token string) error {
	return db.DeclineTransfer(ctx, s.conn(ctx), orderID, auth.HashToken(token))
}

// maskEmail shows an address as its first letter, the first letter of its
// domain and its top-level domain: "jane@example.com" is "j***@e***.com",
// and an internationalized domain shows in Unicode. The asker may not own
// the address, and learns only enough to tell which of its own addresses
// to look in.
func maskEmail(email string) string {
	email = db.DisplayEmail(email)
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return "***"
	}
	local, domain := email[:at], email[at+1:]
	tld := ""
	if dot := strings.LastIndexByte(domain, '.'); dot >= 0 {
		domain, tld = domain[:dot], domain[dot:]
	}
	return firstRune(local) + "***@" + firstRune(domain) + "***" + tld
}

func firstRune(s string) string {
	_, n := utf8.DecodeRuneInString(s)
	return s[:n]
}
