package graph

// Sessions and verified email (issue 16): what the resolvers need beyond
// auth.Service's flows.

import (
	"context"
	"time"

	"customerservice/auth"
	"customerservice/db"
	"customerservice/graph/model"
)

// emailVerifiedAt is when a customer's login email was verified, from the
// request's loader, which prefetching fills for every customer a level
// selects.
func (r *Resolver) emailVerifiedAt(ctx context.Context, c *db.Customer) (*time.Time, error) {
	if !c.HasAccount {
		return nil, nil // a guest has no login
	}
	return load(ctx, loadersFrom(ctx).EmailVerifiedByCustomer, c.ID)
}

// sessionActorType is the actor type a session logged in as.
func sessionActorType(s *db.Session) model.ActorType {
	if s.ActorType == string(auth.User) {
		return model.ActorTypeUser
	}
	return model.ActorTypeCustomer
}
