package graph

// List arguments (limit, offset, order, filters) checked and turned into
// the pages the list resolvers read.

import (
	"context"

	"customerservice/db"
	"customerservice/graph/model"
)

// Argument defaults come from the schema; a client may still send an
// explicit null, which means the default too.

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func stringOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

const defaultOrder = "-created_at"

// startAfter returns a function that starts the page it is given after the
// cursor after (nil: none), so that
//
//	startAfter(after)(db.NewGroupPage(...))
//
// reads as one step.
func startAfter(after *string) func(db.Page, error) (db.Page, error) {
	return func(p db.Page, err error) (db.Page, error) {
		if err != nil {
			return p, err
		}
		return p.WithCursor("after", after)
	}
}

func customerList(filter *db.CustomerFilter, limit, offset *int, order *string, withDeleted *bool, after *string) (*model.CustomerList, error) {
	page, err := startAfter(after)(db.NewCustomerPage(intOr(limit, db.DefaultLimit), intOr(offset, 0), stringOr(order, defaultOrder)))
	if err != nil {
		return nil, err
	}
	var f db.CustomerFilter
	if filter != nil {
		f = *filter
	}
	f.WithDeleted = withDeleted != nil && *withDeleted
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &model.CustomerList{Page: page, Filter: f}, nil
}

func groupMemberList(groupID string, limit, offset *int, order *string, after *string) (*model.CustomerList, error) {
	page, err := startAfter(after)(db.NewMemberPage(intOr(limit, db.DefaultLimit), intOr(offset, 0), stringOr(order, defaultOrder)))
	if err != nil {
		return nil, err
	}
	return &model.CustomerList{Page: page, GroupID: groupID}, nil
}

func groupList(filter *db.CustomerGroupFilter, limit, offset *int, order *string, after *string) (*model.CustomerGroupList, error) {
	page, err := startAfter(after)(db.NewGroupPage(intOr(limit, db.DefaultLimit), intOr(offset, 0), stringOr(order, defaultOrder)))
	if err != nil {
		return nil, err
	}
	var f db.CustomerGroupFilter
	if filter != nil {
		f = *filter
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &model.CustomerGroupList{Page: page, Filter: f}, nil
}

func orderList(filter *db.OrderFilter, limit, offset *int, order *string, after *string) (*model.OrderList, error) {
	page, err := startAfter(after)(db.NewOrderPage(intOr(limit, db.DefaultLimit), intOr(offset, 0), stringOr(order, defaultOrder)))
	if err != nil {
		return nil, err
	}
	var f db.OrderFilter
	if filter != nil {
		f = *filter
	}
	return &model.OrderList{Page: page, Filter: f}, nil
}

// customerOrderList is a customer's orders, newest first.
func customerOrderList(customerID string, limit, offset *int, after *string) (*model.OrderList, error) {
	page, err := startAfter(after)(db.NewCustomerOrderPage(intOr(limit, db.DefaultLimit), intOr(offset, 0)))
	if err != nil {
		return nil, err
	}
	return &model.OrderList{Page: page, CustomerID: customerID}, nil
}

// pageInfo is a page's end as clients see it.
func pageInfo(end db.PageEnd, err error) (*model.PageInfo, error) {
	if err != nil {
		return nil, err
	}
	info := &model.PageInfo{HasNextPage: end.More}
	if end.Cursor != "" {
		info.EndCursor = &end.Cursor
	}
	return info, nil
}

// sliceEnd is where the page of a loaded Slice ends.
func sliceEnd[T any](s db.Slice[T], err error) (db.PageEnd, error) { return s.End, err }

// sliceRows is the rows of a loaded Slice.
func sliceRows[T any](s db.Slice[T], err error) ([]*T, error) { return s.Rows, err }

// customerPageInfo says where a customer page ends: a root list reads its
// end (one statement, the page's ids and sort values and one row more); a
// group's members come with theirs, from their batch; a preview of rules,
// paged by offset only, says from its count whether more follow.
func (r *Resolver) customerPageInfo(ctx context.Context, l *model.CustomerList) (*model.PageInfo, error) {
	if l.GroupID != "" {
		return pageInfo(sliceEnd(load(ctx, loadersFrom(ctx).MembersByGroup, pageKey{l.GroupID, l.Page})))
	}
	if l.Rules != nil {
		n, err := db.CountCustomersByRules(ctx, r.conn(ctx), *l.Rules)
		if err != nil {
			return nil, err
		}
		return &model.PageInfo{HasNextPage: l.Page.Offset+l.Page.Limit < n}, nil
	}
	return pageInfo(db.CustomerPageEnd(ctx, r.conn(ctx), l.Filter, l.Page))
}

// orderPageInfo says where an order page ends: a root list reads its end;
// a customer's orders come with theirs, from their batch.
func (r *Resolver) orderPageInfo(ctx context.Context, l *model.OrderList) (*model.PageInfo, error) {
	if l.CustomerID != "" {
		return pageInfo(sliceEnd(load(ctx, loadersFrom(ctx).OrdersByCustomer, pageKey{l.CustomerID, l.Page})))
	}
	return pageInfo(db.OrderPageEnd(ctx, r.conn(ctx), l.Filter, l.Page))
}
