package graph

// Who a request acts as, for the resolvers: the @auth directive and the
// actor helpers behind it.

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"customerservice/auth"
	"customerservice/db"
	"customerservice/graph/model"
	"customerservice/observe"
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

// eventActor is who a mutation acts as, for the event log: the admin user
// or customer of its token, or a guest (no token, or one without an
// account yet), in the request the log line and metrics know.
func eventActor(ctx context.Context) db.EventActor {
	a := db.EventActor{Type: db.ActorGuest}
	if actor, err := auth.ActorFrom(ctx); err == nil && actor.ID != "" {
		a.Type, a.ID = db.ActorCustomer, actor.ID
		if actor.Type == auth.User {
			a.Type = db.ActorUser
		}
	}
	if r := observe.RequestFrom(ctx); r != nil {
		a.RequestID = r.ID
	}
	return a
}
