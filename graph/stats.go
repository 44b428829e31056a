package graph

// Issue 18's reads: customer statistics and the storefront's address list.

import (
	"context"

	"customerservice/db"
	"customerservice/graph/model"
)

// amountSpent is what a customer spent in one currency; INVALID_DATA
// naming currency_code for a code that is not ISO 4217's.
func amountSpent(s *db.CustomerStats, currencyCode string) (int, error) {
	code, err := db.CleanCurrencyCode("currency_code", currencyCode)
	if err != nil {
		return 0, err
	}
	return int(s.Spent[code]), nil
}

// myAddressList is a page of the signed-in customer's address book.
func myAddressList(ctx context.Context, filter *db.AddressFilter, limit, offset *int, order *string, after *string) (*model.AddressList, error) {
	customerID, err := me(ctx)
	if err != nil {
		return nil, err
	}
	page, err := startAfter(after)(db.NewAddressPage(intOr(limit, db.DefaultLimit), intOr(offset, 0), stringOr(order, "created_at")))
	if err != nil {
		return nil, err
	}
	var f db.AddressFilter
	if filter != nil {
		f = *filter
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &model.AddressList{Page: page, Filter: f, CustomerID: customerID}, nil
}
