// Package graph is the GraphQL API: the gqlgen-generated executor, thin
// resolvers that parse arguments and call the db and auth packages, the
// per-request dataloaders every relation goes through, and the error
// presenter.
package graph

//go:generate go run generate.go

import (
	"github.com/jmoiron/sqlx"

	"github.com/acme/customerservice/auth"
)

// Resolver holds the dependencies of the resolvers.
type Resolver struct {
	DB   *sqlx.DB
	Auth *auth.Service
}
