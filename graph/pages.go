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

func customerList(filter *db.CustomerFilter, limit, offset *int, order *string, withDeleted *bool, after *string) (*model.CustomerList, error) {
	o := stringOr(order, defaultOrder)
	page, err := db.NewCustomerPage(intOr(limit, db.DefaultLimit), intOr(offset, 0), o)
	if err != nil {
		return nil, err
	}
	if page.After, err = db.ParseKeyset("after", o, page, after); err != nil {
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
	return &model.CustomerList{Page: page, Filter: f, Order: o}, nil
}

func groupMemberList(groupID string, limit, offset *int, order *string) (*model.CustomerList, error) {
	page, err := db.NewCustomerPage(intOr(limit, db.DefaultLimit), intOr(offset, 0), stringOr(order, defaultOrder))
	if err != nil {
		return nil, err
	}
	return &model.CustomerList{Page: page, GroupID: groupID}, nil
}

func groupList(filter *db.CustomerGroupFilter, limit, offset *int, order *string) (*model.CustomerGroupList, error) {
	page, err := db.NewGroupPage(intOr(limit, db.DefaultLimit), intOr(offset, 0), stringOr(order, defaultOrder))
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

func orderList(filter *db.OrderFilter, limit, offset *int, order *string) (*model.OrderList, error) {
	page, err := db.NewOrderPage(intOr(limit, db.DefaultLimit), intOr(offset, 0), stringOr(order, defaultOrder))
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
func customerOrderList(customerID string, limit, offset *int) (*model.OrderList, error) {
	page, err := db.NewOrderPage(intOr(limit, db.DefaultLimit), intOr(offset, 0), defaultOrder)
	if err != nil {
		return nil, err
	}
	return &model.OrderList{Page: page, CustomerID: customerID}, nil
}

// customerPageInfo says where a customer page ends: a root list reads its
// end (one statement, the page's ids and one row more); a group's members
// take no cursor yet, and their count says whether more follow.
func (r *Resolver) customerPageInfo(ctx context.Context, l *model.CustomerList) (*model.PageInfo, error) {
	if l.GroupID != "" {
		n, err := load(ctx, loadersFrom(ctx).MemberCountByGroup, l.GroupID)
		if err != nil {
			return nil, err
		}
		return &model.PageInfo{HasNextPage: l.Page.Offset+l.Page.Limit < n}, nil
	}
	if l.Rules != nil {
		n, err := db.CountCustomersByRules(ctx, r.conn(ctx), *l.Rules)
		if err != nil {
			return nil, err
		}
		return &model.PageInfo{HasNextPage: l.Page.Offset+l.Page.Limit < n}, nil
	}
	end, more, err := db.CustomerPageEnd(ctx, r.conn(ctx), l.Filter, l.Page, l.Order)
	if err != nil {
		return nil, err
	}
	info := &model.PageInfo{HasNextPage: more}
	if end != nil {
		cursor := end.Cursor()
		info.EndCursor = &cursor
	}
	return info, nil
}
