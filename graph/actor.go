package graph

// Who a request acts as, for the resolvers: the @auth directive and the
// actor helpers behind it.

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"customerservice/auth"
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
