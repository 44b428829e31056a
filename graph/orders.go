package graph

// The storefront's order flows, mapped onto ordering.Service: arguments in,
// the selection a guest checkout would show, answers out.

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"customerservice/auth"
	"customerservice/db"
	"customerservice/graph/model"
	"customerservice/ordering"
)

// placeOrder is a guest checkout without a token; with one, it must be a
// customer's, and the order is that customer's.
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
	if auth.HasCredential(ctx) {
		customerID, err := me(ctx)
		if err != nil {
			return nil, err
		}
		return r.Ordering.PlaceOrder(ctx, customerID, o)
	}
	return r.Ordering.PlaceGuestOrder(ctx, o, selectedCustomerFields(ctx))
}

// selectedCustomerFields names the fields the operation selects of the
// placed order's customer, for ordering to judge before anything is
// written. __typename is the schema's, not the customer's.
func selectedCustomerFields(ctx context.Context) []string {
	var names []string
	for _, f := range graphql.CollectFieldsCtx(ctx, []string{"Order"}) {
		if f.Name != "customer" {
			continue
		}
		for _, c := range children(ctx, f, "Customer") {
			if c.Name != "__typename" {
				names = append(names, c.Name)
			}
		}
	}
	return names
}

func (r *Resolver) requestTransfer(ctx context.Context, orderID string, opt ordering.TransferOptions) (*model.OrderTransferRequest, error) {
	customerID, err := me(ctx)
	if err != nil {
		return nil, err
	}
	return transferRequest(r.Ordering.RequestTransfer(ctx, customerID, orderID, opt))
}

// transferOrder is an admin user's transfer of an order to a customer.
func (r *Resolver) transferOrder(ctx context.Context, orderID, customerID string, opt ordering.TransferOptions) (*model.OrderTransferRequest, error) {
	admin := adminID(ctx)
	if admin == nil {
		_, err := auth.Require(ctx, auth.User)
		return nil, err
	}
	return transferRequest(r.Ordering.TransferOrder(ctx, *admin, orderID, customerID, opt))
}

func transferRequest(req *ordering.TransferRequest, err error) (*model.OrderTransferRequest, error) {
	if err != nil {
		return nil, err
	}
	return &model.OrderTransferRequest{OrderID: req.OrderID, SentTo: req.SentTo, ExpiresAt: req.ExpiresAt}, nil
}

func transferOptions(description *string, updateOrderEmail *bool) ordering.TransferOptions {
	return ordering.TransferOptions{Description: description, UpdateOrderEmail: updateOrderEmail != nil && *updateOrderEmail}
}

// cancelTransfer cancels the order's pending transfer: an admin user's
// cancellation reaches any request, a customer's only its own. Without a
// token it is UNAUTHORIZED.
func (r *Resolver) cancelTransfer(ctx context.Context, orderID string) (bool, error) {
	requester := ""
	if !isAdmin(ctx) {
		id, err := me(ctx)
		if err != nil {
			return false, err
		}
		requester = id
	}
	return err0(r.Ordering.CancelTransfer(ctx, orderID, requester))
}

// err0 answers true when a mutation without an object to return succeeded.
func err0(err error) (bool, error) { return err == nil, err }

func (r *Resolver) acceptTransfer(ctx context.Context, orderID, token string) (*db.Order, error) {
	customerID, err := me(ctx)
	if err != nil {
		return nil, err
	}
	return r.Ordering.AcceptTransfer(ctx, customerID, orderID, token)
}
