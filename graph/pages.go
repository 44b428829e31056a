package graph

// List arguments (limit, offset, order, filters) checked and turned into
// the pages the list resolvers read.

import (
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

func customerList(filter *db.CustomerFilter, limit, offset *int, order *string, withDeleted *bool) (*model.CustomerList, error) {
	page, err := db.NewCustomerPage(intOr(limit, db.DefaultLimit), intOr(offset, 0), stringOr(order, defaultOrder))
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
