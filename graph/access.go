package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"customerservice/auth"
	"customerservice/db"
	"customerservice/graph/model"
)

// toActorType maps the schema's ActorType to auth's.
func toActorType(t model.ActorType) auth.ActorType {
	if t == model.ActorTypeUser {
		return auth.User
	}
	return auth.Customer
}

// authDirective implements @auth: the field runs only for a linked actor of
// the type it names.
func authDirective(ctx context.Context, _ any, next graphql.Resolver, actor model.ActorType) (any, error) {
	if _, err := auth.Require(ctx, toActorType(actor)); err != nil {
		return nil, err
	}
	return next(ctx)
}

// adminID returns the admin user acting, for created_by. @auth has let only
// admin users reach the fields that call it.
func adminID(ctx context.Context) *string {
	a, err := auth.Require(ctx, auth.User)
	if err != nil {
		return nil
	}
	return &a.ID
}

// me returns the customer acting; @auth has checked there is one.
func me(ctx context.Context) (string, error) {
	a, err := auth.Require(ctx, auth.Customer)
	return a.ID, err
}

// isAdmin reports whether an admin user is acting.
func isAdmin(ctx context.Context) bool {
	_, err := auth.Require(ctx, auth.User)
	return err == nil
}

// token is an auth token as the schema has it.
func token(t auth.Token, err error) (*model.AuthToken, error) {
	if err != nil {
		return nil, err
	}
	return &model.AuthToken{Token: t.Token, ExpiresAt: t.ExpiresAt}, nil
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
	return &model.CustomerAccount{Customer: c, Token: &model.AuthToken{Token: t.Token, ExpiresAt: t.ExpiresAt}}, nil
}

func (r *Resolver) updateMe(ctx context.Context, in model.UpdateMeInput) (*db.Customer, error) {
	id, err := me(ctx)
	if err != nil {
		return nil, err
	}
	return prefetchedOne(ctx, prefetchCustomers)(db.UpdateCustomer(ctx, r.conn(ctx), id, db.CustomerFields{
		FirstName:   change(in.FirstName),
		LastName:    change(in.LastName),
		Phone:       change(in.Phone),
		CompanyName: change(in.CompanyName),
		Metadata:    change(in.Metadata),
	}))
}
