package graph

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"

	"customerservice/auth"
	"customerservice/db"
	"customerservice/errcode"
	"customerservice/graph/model"
)

// placeOrder is a guest checkout without a token: the order goes to the
// guest customer of its email, reused or created in the same transaction.
// With a customer's token the order is that customer's.
func (r *Resolver) placeOrder(ctx context.Context, in model.PlaceOrderInput) (*db.Order, error) {
	o := db.NewOrder{CurrencyCode: in.CurrencyCode}
	if v, ok := in.Email.ValueOK(); ok && v != nil {
		o.Email = *v
	}
	for _, it := range in.Items {
		o.Items = append(o.Items, db.NewLineItem{Title: it.Title, Quantity: it.Quantity, UnitPrice: int64(it.UnitPrice)})
	}
	o.ShippingAddress, _ = in.ShippingAddress.ValueOK()
	o.BillingAddress, _ = in.BillingAddress.ValueOK()

	var customer *db.Customer
	if auth.HasCredential(ctx) {
		// A token was sent: it must be a customer's.
		a, err := auth.Require(ctx, auth.Customer)
		if err != nil {
			return nil, err
		}
		if customer, err = db.CustomerByID(ctx, r.conn(ctx), a.ID); err != nil {
			return nil, err
		}
		if o.Email == "" {
			o.Email = customer.Email
		}
	} else if o.Email == "" {
		return nil, errcode.Invalid("input.email", "a guest order needs an email")
	} else if err := guestSelection(ctx); err != nil {
		return nil, err
	}
	return db.InTx(ctx, r.DB, func(tx db.Tx) (*db.Order, error) {
		if customer != nil {
			o.CustomerID = customer.ID
		} else {
			email, err := db.CleanEmail("input.email", o.Email)
			if err != nil {
				return nil, err
			}
			if o.CustomerID, err = db.GuestCustomer(ctx, tx, email); err != nil {
				return nil, err
			}
		}
		return db.CreateOrder(ctx, tx, o)
	})
}

// requestTransfer records a signed-in customer's request for a guest's
// order and mails a single-use token to the order's email, within the
// limits of db.CheckTransferRate. The answer shows the email masked: the
// asker may not own it, and learns only enough to tell which of its own
// addresses to look in.
func (r *Resolver) requestTransfer(ctx context.Context, orderID string) (*model.OrderTransferRequest, error) {
	customerID, err := me(ctx)
	if err != nil {
		return nil, err
	}
	token, hash, err := auth.NewSecretToken()
	if err != nil {
		return nil, err
	}
	expires := time.Now().Add(db.TransferTTL).Truncate(time.Second)
	return db.InTx(ctx, r.DB, func(tx db.Tx) (*model.OrderTransferRequest, error) {
		if err := db.LockRequester(ctx, tx, customerID); err != nil {
			return nil, err
		}
		o, err := db.TransferableOrder(ctx, tx, orderID)
		if err != nil {
			return nil, err
		}
		if err := db.CheckTransferRate(ctx, tx, o.ID, customerID); err != nil {
			return nil, err
		}
		if err := db.CreateTransfer(ctx, tx, o, customerID, hash, expires); err != nil {
			return nil, err
		}
		err = db.EnqueueNotification(ctx, tx, o.Email, "order_transfer", db.JSONObject{
			"token": token, "order_id": o.ID, "display_id": o.DisplayID, "expires_at": expires.UTC().Format(time.RFC3339),
		}, expires)
		if err != nil {
			return nil, err
		}
		return &model.OrderTransferRequest{OrderID: o.ID, SentTo: maskEmail(o.Email), ExpiresAt: expires}, nil
	})
}

// maskEmail shows an address as its first letter, the first letter of its
// domain and its top-level domain: "jane@example.com" is "j***@e***.com",
// and an internationalized domain shows in Unicode.
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

// guestSelection refuses, before anything is written, a guest checkout that
// selects more of the order's customer than its id, email and has_account:
// the guest customer of an email holds every guest order placed with it,
// with names, phone and addresses, and they belong to whoever owns the
// email, not to whoever types it.
func guestSelection(ctx context.Context) error {
	for _, f := range graphql.CollectFieldsCtx(ctx, []string{"Order"}) {
		if f.Name != "customer" {
			continue
		}
		for _, c := range children(ctx, f, "Customer") {
			switch c.Name {
			case "id", "email", "has_account", "__typename":
			default:
				return errcode.New(errcode.NotAllowed, "A guest order can show its customer's id, email and has_account; %s needs the customer's token", c.Name)
			}
		}
	}
	return nil
}

// acceptTransfer moves the order to the signed-in customer who asked for
// it, when the token is right.
func (r *Resolver) acceptTransfer(ctx context.Context, orderID, token string) (*db.Order, error) {
	customerID, err := me(ctx)
	if err != nil {
		return nil, err
	}
	return db.InTx(ctx, r.DB, func(tx db.Tx) (*db.Order, error) {
		if _, err := db.CustomerByID(ctx, tx, customerID); err != nil {
			return nil, err
		}
		return db.AcceptTransfer(ctx, tx, orderID, customerID, auth.HashToken(token))
	})
}

// declineTransfer cancels a transfer request: whoever reads the order's
// email holds the token, signed in or not.
func (r *Resolver) declineTransfer(ctx context.Context, orderID, token string) (bool, error) {
	if err := db.DeclineTransfer(ctx, r.conn(ctx), orderID, auth.HashToken(token)); err != nil {
		return false, err
	}
	return true, nil
}
