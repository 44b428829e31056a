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

// resolvers is the ResolverRoot the executor is given: Resolver, with the
// resolver of each type that lists repeat made once. Resolver's accessors
// (schema.resolvers.go, generated) make a resolver at every call, and the
// executor calls them for every resolver field of every object: three
// times for every customer of a page. The types a request meets once
// (the roots, the lists themselves) keep Resolver's accessors.
type resolvers struct {
	*Resolver
	address        addressResolver
	addressList    addressListResolver
	customer       customerResolver
	customerGroup  customerGroupResolver
	customerStats  customerStatsResolver
	importRowError importRowErrorResolver
	order          orderResolver
	orderList      orderListResolver
	webhook        webhookResolver
}

func newResolvers(r *Resolver) *resolvers {
	return &resolvers{Resolver: r,
		address: addressResolver{r}, addressList: addressListResolver{r}, customer: customerResolver{r},
		customerGroup: customerGroupResolver{r}, customerStats: customerStatsResolver{r},
		importRowError: importRowErrorResolver{r}, order: orderResolver{r}, orderList: orderListResolver{r},
		webhook: webhookResolver{r}}
}

func (r *resolvers) Address() AddressResolver               { return &r.address }
func (r *resolvers) AddressList() AddressListResolver       { return &r.addressList }
func (r *resolvers) Customer() CustomerResolver             { return &r.customer }
func (r *resolvers) CustomerGroup() CustomerGroupResolver   { return &r.customerGroup }
func (r *resolvers) CustomerStats() CustomerStatsResolver   { return &r.customerStats }
func (r *resolvers) ImportRowError() ImportRowErrorResolver { return &r.importRowError }
func (r *resolvers) Order() OrderResolver                   { return &r.order }
func (r *resolvers) OrderList() OrderListResolver           { return &r.orderList }
func (r *resolvers) Webhook() WebhookResolver               { return &r.webhook }
