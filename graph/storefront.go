package graph

// The storefront's operations on the signed-in customer's own account:
// its tokens, its orders and its profile.

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"customerservice/auth"
	"customerservice/db"
	"customerservice/graph/model"
)

// token is an auth token as the schema has it.
func token(t auth.Token, err error) (*model.AuthToken, error) {
	if err != nil {
		return nil, err
	}
	out := &model.AuthToken{Token: t.Token, ExpiresAt: t.ExpiresAt}
	if t.RefreshToken != "" {
		out.RefreshToken, out.RefreshTokenExpiresAt = &t.RefreshToken, &t.RefreshExpiresAt
	}
	if t.SessionID != "" {
		out.SessionID = &t.SessionID
	}
	return out, nil
}

// orderFor returns an order to an admin user, or to the customer it
// belongs to; another customer learns no more than that it was not found.
func (r *Resolver) orderFor(ctx context.Context, id string) (*db.Order, error) {
	admin := isAdmin(ctx)
	var customerID string
	if !admin {
		a, err := auth.Require(ctx, auth.Customer)
		if err != nil {
			return nil, err
		}
		customerID = a.ID
	}
	o, err := db.OrderByID(ctx, r.conn(ctx), id)
	if err != nil {
		return nil, err
	}
	if !admin && o.CustomerID != customerID {
		return nil, db.OrderNotFound(id)
	}
	return o, nil
}

func (r *Resolver) createCustomerAccount(ctx context.Context, in model.CustomerAccountInput) (*model.CustomerAccount, error) {
	c, t, err := r.Auth.CreateCustomerAccount(ctx, db.CustomerFields{
		Email:       db.To(in.Email),
		FirstName:   change(in.FirstName),
		LastName:    change(in.LastName),
		Phone:       change(in.Phone),
		CompanyName: change(in.CompanyName),
		Metadata:    change(in.Metadata),
	})
	if err != nil {
		return nil, err
	}
	for _, f := range graphql.CollectFieldsCtx(ctx, []string{"CustomerAccount"}) {
		if sub := children(ctx, f, "Customer"); f.Name == "customer" && needsCustomerPrefetch(sub) {
			prefetchCustomerFields(ctx, []*db.Customer{c}, sub)
		}
	}
	tok, _ := token(t, nil)
	return &model.CustomerAccount{Customer: c, Token: tok}, nil
}

func (r *Resolver) updateMe(ctx context.Context, in model.UpdateMeInput) (*db.Customer, error) {
	id, err := me(ctx)
	if err != nil {
		return nil, err
	}
	return prefetchedOne(ctx, prefetchCustomers)(db.InTx(ctx, r.DB, func(tx db.Tx) (*db.Customer, error) {
		return db.UpdateCustomer(ctx, tx, id, db.CustomerFields{
			FirstName:   change(in.FirstName),
			LastName:    change(in.LastName),
			Phone:       change(in.Phone),
			CompanyName: change(in.CompanyName),
			Metadata:    change(in.Metadata),
		})
	}))
}
