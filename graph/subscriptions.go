package graph

// The event log live: the Subscription fields map their arguments onto a
// live.Hub subscription and pipe its events to gqlgen, within the
// connection's limits.

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"customerservice/auth"
	"customerservice/db"
	"customerservice/errcode"
	"customerservice/live"
)

// maxTypes bounds the types a subscription filters on: each is compared
// with every event.
const maxTypes = 50

// subscribe starts a subscription to the events f selects for the
// connection of ctx, after the event whose id is after, when given.
func (r *Resolver) subscribe(ctx context.Context, f live.Filter, after *string) (<-chan *db.Event, error) {
	s := socketFrom(ctx)
	if r.Hub == nil || s == nil {
		return nil, errcode.New(errcode.Unavailable, "Subscriptions are not served here")
	}
	if len(f.Types) > maxTypes {
		return nil, errcode.Invalid("types", "at most %d types, got %d", maxTypes, len(f.Types))
	}
	if after != nil {
		seq, err := db.ParseEventID("after", *after)
		if err != nil {
			return nil, err
		}
		f.After = seq
	}
	if !s.subscribe() {
		return nil, errcode.Limited(time.Second, "Too many subscriptions: at most %d per connection", s.set.limits.PerConnection)
	}
	return r.Hub.Subscribe(ctx, f, func(err error) {
		s.unsubscribe()
		if err != nil && ctx.Err() == nil {
			// Sent as the subscription's error message, presented as
			// every error is.
			transport.AddSubscriptionError(ctx, r.present(ctx, err))
		}
	}), nil
}

func (r *Resolver) customerEventsLive(ctx context.Context, customerID *string, types []string, after *string) (<-chan *db.Event, error) {
	f := live.Filter{Types: types}
	if customerID != nil {
		f.CustomerID = *customerID
	}
	return r.subscribe(ctx, f, after)
}

func (r *Resolver) myEvents(ctx context.Context, types []string, after *string) (<-chan *db.Event, error) {
	a, err := auth.Require(ctx, auth.Customer)
	if err != nil {
		return nil, err
	}
	return r.subscribe(ctx, live.Filter{CustomerID: a.ID, Types: types}, after)
}
