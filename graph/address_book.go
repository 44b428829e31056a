package graph

// A customer's address book, as Customer.billing_address and
// Customer.shipping_addresses show it.

import "customerservice/db"

// billingAddress picks the default billing address from an address book.
func billingAddress(book []*db.Address) *db.Address {
	for _, a := range book {
		if a.IsDefaultBilling {
			return a
		}
	}
	return nil
}

// shippingAddresses orders an address book default shipping address first,
// the rest oldest first, as they come.
func shippingAddresses(book []*db.Address) []*db.Address {
	out := make([]*db.Address, 0, len(book))
	for _, a := range book {
		if a.IsDefaultShipping {
			out = append(out, a)
		}
	}
	for _, a := range book {
		if !a.IsDefaultShipping {
			out = append(out, a)
		}
	}
	return out
}
