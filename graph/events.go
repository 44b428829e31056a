package graph

// The event log for admins: a customer's timeline and the log across
// customers, newest first, a page at a time by cursor (the log only grows,
// so offsets would shift under a reader).

import (
	"context"

	"github.com/jmoiron/sqlx"

	"customerservice/db"
	"customerservice/graph/model"
)

// eventPageArgs checks a page of events' arguments.
func eventPageArgs(limit *int, after *string) (int, db.EventCursor, error) {
	n := intOr(limit, db.DefaultLimit)
	if _, err := db.NewEventPageLimit(n); err != nil {
		return 0, db.EventCursor{}, err
	}
	cursor, err := db.ParseEventCursor("after", after)
	return n, cursor, err
}

// eventPage makes a page of the events fetched for it: one more than the
// limit is asked for, so that a page knows whether there is a next.
func eventPage(events []*db.Event, limit int) *model.EventPage {
	page := &model.EventPage{Items: events}
	if len(events) > limit {
		page.Items = events[:limit]
		next := events[limit-1].Next()
		page.Next = &next
	}
	return page
}

func (r *Resolver) customerEvents(ctx context.Context, filter *db.EventFilter, limit *int, after *string) (*model.EventPage, error) {
	n, cursor, err := eventPageArgs(limit, after)
	if err != nil {
		return nil, err
	}
	var f db.EventFilter
	if filter != nil {
		f = *filter
	}
	events, err := db.ListEvents(ctx, r.conn(ctx), f, cursor, n+1)
	if err != nil {
		return nil, err
	}
	return eventPage(events, n), nil
}

func (r *Resolver) timeline(ctx context.Context, c *db.Customer, limit *int, after *string) (*model.EventPage, error) {
	n, cursor, err := eventPageArgs(limit, after)
	if err != nil {
		return nil, err
	}
	events, err := load(ctx, loadersFrom(ctx).TimelineByCustomer, timelineKey{ID: c.ID, From: cursor, Limit: n + 1})
	if err != nil {
		return nil, err
	}
	return eventPage(events, n), nil
}

// timelineKey is the key of a customer's page of events: the customer,
// where the page starts and how many it holds (one more than asked, to
// know whether a next page exists).
type timelineKey struct {
	ID    string
	From  db.EventCursor
	Limit int
}

// timelines adapts db.EventsByCustomerIDs: one statement per distinct page,
// as paged does for offsets.
func timelines(q sqlx.QueryerContext) func(ctx context.Context, keys []timelineKey) ([][]*db.Event, error) {
	return func(ctx context.Context, keys []timelineKey) ([][]*db.Event, error) {
		type page struct {
			from  db.EventCursor
			limit int
		}
		byPage := map[page][]int{}
		var pages []page
		for i, k := range keys {
			p := page{k.From, k.Limit}
			if _, ok := byPage[p]; !ok {
				pages = append(pages, p)
			}
			byPage[p] = append(byPage[p], i)
		}
		out := make([][]*db.Event, len(keys))
		for _, p := range pages {
			ids := make([]string, len(byPage[p]))
			for j, i := range byPage[p] {
				ids[j] = keys[i].ID
			}
			events, err := db.EventsByCustomerIDs(ctx, q, ids, p.from, p.limit)
			if err != nil {
				return nil, err
			}
			for j, i := range byPage[p] {
				out[i] = events[j]
			}
		}
		return out, nil
	}
}
