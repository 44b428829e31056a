// Package graph is the GraphQL API: the gqlgen-generated executor, thin
// resolvers that map arguments onto the flows (auth, ordering, webhooks) and the db
// package's reads, the per-request dataloaders every relation goes through,
// and the error presenter.
package graph

//go:generate go run generate.go

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/jmoiron/sqlx"

	"customerservice/auth"
	"customerservice/bulk"
	"customerservice/db"
	"customerservice/lifecycle"
	"customerservice/live"
	"customerservice/ordering"
	"customerservice/webhooks"
)

// Resolver holds the dependencies of the resolvers.
type Resolver struct {
	DB       *sqlx.DB
	Auth     *auth.Service
	Ordering *ordering.Service
	Webhooks *webhooks.Service
	// Lifecycle runs merges, exports, erasures and account deletions.
	Lifecycle *lifecycle.Service
	// Bulk imports and exports customers.
	Bulk *bulk.Service
	// Hub serves the subscriptions; none are served when nil.
	Hub *live.Hub
	// present is the error presenter, for the errors that end a
	// subscription, which gqlgen sends as they are.
	present graphql.ErrorPresenterFunc
}

// conn is what a resolver's statements run on: the pool, or the request's
// shared transaction (db.BeginShared). db.InTx takes the pool and finds the
// transaction itself.
func (r *Resolver) conn(ctx context.Context) sqlx.ExtContext { return db.Conn(ctx, r.DB) }
