package graph_test

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

type customerPage struct {
	Customers struct {
		Items []struct {
			ID         string  `json:"id"`
			Email      string  `json:"email"`
			HasAccount bool    `json:"has_account"`
			DeletedAt  *string `json:"deleted_at"`
		} `json:"items"`
		Count  int `json:"count"`
		Limit  int `json:"limit"`
		Offset int `json:"offset"`
	} `json:"customers"`
}

func (p customerPage) emails() []string {
	var out []string
	for _, c := range p.Customers.Items {
		out = append(out, c.Email)
	}
	return out
}

const listCustomers = `query ($filter: CustomerFilter, $limit: Int, $offset: Int, $order: String, $with_deleted: Boolean) {
	customers(filter: $filter, limit: $limit, offset: $offset, order: $order, with_deleted: $with_deleted) {
		items { id email has_account deleted_at } count limit offset
	}
}`

func emailsOf(is ...int) []string {
	var out []string
	for _, i := range is {
		out = append(out, fmt.Sprintf("customer%d@example.com", i))
	}
	return out
}

func TestCustomersPagesAndOrders(t *testing.T) {
	t.Parallel()
	a := seeded(t, 30, time.Now())
	tests := []struct {
		name      string
		vars      map[string]any
		want      []string
		wantCount int
	}{
		{"defaults: newest first, 20", map[string]any{}, emailsOf(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20), 30},
		{"second page", map[string]any{"limit": 5, "offset": 5}, emailsOf(6, 7, 8, 9, 10), 30},
		{"past the end", map[string]any{"limit": 5, "offset": 30}, nil, 30},
		{"oldest first", map[string]any{"limit": 3, "order": "created_at"}, emailsOf(30, 29, 28), 30},
		{"by email, bytewise", map[string]any{"limit": 4, "order": "email"}, emailsOf(10, 11, 12, 13), 30},
		{"by email descending", map[string]any{"limit": 2, "order": "-email"}, emailsOf(9, 8), 30},
		{"by last name", map[string]any{"limit": 2, "order": "last_name"}, emailsOf(1, 10), 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got customerPage
			a.query(listCustomers, tt.vars, &got)
			if !slices.Equal(got.emails(), tt.want) {
				t.Errorf("emails = %v, want %v", got.emails(), tt.want)
			}
			if got.Customers.Count != tt.wantCount {
				t.Errorf("count = %d, want %d", got.Customers.Count, tt.wantCount)
			}
		})
	}
	var got customerPage
	a.query(listCustomers, map[string]any{"limit": 7, "offset": 3}, &got)
	if got.Customers.Limit != 7 || got.Customers.Offset != 3 {
		t.Errorf("limit, offset = %d, %d; want 7, 3", got.Customers.Limit, got.Customers.Offset)
	}
}

func TestCustomersFilters(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Second)
	a := seeded(t, 30, now)
	a.exec(`UPDATE customer SET company_name = 'Acme Corp' WHERE email IN ('customer3@example.com', 'customer5@example.com')`)
	var group struct {
		CustomerGroups struct {
			Items []struct{ ID string } `json:"items"`
		} `json:"customer_groups"`
	}
	a.query(`{ customer_groups(filter: {name: ["group 06"]}) { items { id } } }`, nil, &group)
	if len(group.CustomerGroups.Items) != 1 {
		t.Fatalf("Group 06 not found by name")
	}
	group6 := group.CustomerGroups.Items[0].ID

	// Members of Group 06 among 1..30: customer i is in group 1+((31i+7k)%20)
	// for k = 1..1+i%3.
	var inGroup6 []int
	for i := 1; i <= 30; i++ {
		for k := 1; k <= 1+i%3; k++ {
			if 1+(i*31+k*7)%20 == 6 {
				inGroup6 = append(inGroup6, i)
			}
		}
	}

	tests := []struct {
		name   string
		filter map[string]any
		want   []string
	}{
		{"q in email, any case", map[string]any{"q": "CUSTOMER12@"}, emailsOf(12)},
		{"q in first name", map[string]any{"q": "first2"}, emailsOf(2, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29)},
		{"q in phone", map[string]any{"q": "555-000030"}, emailsOf(30)},
		{"q in company", map[string]any{"q": "acme"}, emailsOf(3, 5)},
		{"q wildcards are literal", map[string]any{"q": "%"}, nil},
		{"blank q does not filter", map[string]any{"q": "  "}, emailsOf(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20)},
		{"id", map[string]any{"id": []string{a.customerID("customer7@example.com"), "cus_unknown"}}, emailsOf(7)},
		{"email, any case", map[string]any{"email": []string{"Customer9@Example.COM", " customer4@example.com "}}, emailsOf(4, 9)},
		{"registered", map[string]any{"has_account": true}, emailsOf(4, 8, 12, 16, 20, 24, 28)},
		{"registered with q", map[string]any{"has_account": true, "q": "customer2"}, emailsOf(20, 24, 28)},
		{"group", map[string]any{"group_id": []string{group6}}, emailsOf(inGroup6...)},
		{"company name, any case", map[string]any{"company_name": "ACME CORP"}, emailsOf(3, 5)},
		{"created in a range", map[string]any{"created_at": map[string]any{
			"gte": now.Add(-5 * time.Minute).Format(time.RFC3339), "lt": now.Add(-2 * time.Minute).Format(time.RFC3339)}}, emailsOf(3, 4, 5)},
		{"created after", map[string]any{"created_at": map[string]any{"gt": now.Add(-3 * time.Minute).Format(time.RFC3339)}}, emailsOf(1, 2)},
		{"updated before", map[string]any{"updated_at": map[string]any{"lte": now.Add(-29 * time.Minute).Format(time.RFC3339)}}, emailsOf(29, 30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got customerPage
			a.query(listCustomers, map[string]any{"filter": tt.filter}, &got)
			if !slices.Equal(got.emails(), tt.want) {
				t.Errorf("emails = %v, want %v", got.emails(), tt.want)
			}
			if len(tt.want) < 20 && got.Customers.Count != len(tt.want) {
				t.Errorf("count = %d, want %d", got.Customers.Count, len(tt.want))
			}
		})
	}
}

func TestDeletedCustomers(t *testing.T) {
	t.Parallel()
	a := seeded(t, 5, time.Now())
	id := a.customerID("customer2@example.com")
	a.exec(`UPDATE customer SET deleted_at = now() WHERE id = $1`, id)

	var got customerPage
	a.query(listCustomers, nil, &got)
	if want := emailsOf(1, 3, 4, 5); !slices.Equal(got.emails(), want) || got.Customers.Count != 4 {
		t.Errorf("without deleted: emails = %v (count %d), want %v", got.emails(), got.Customers.Count, want)
	}
	a.query(listCustomers, map[string]any{"with_deleted": true}, &got)
	if want := emailsOf(1, 2, 3, 4, 5); !slices.Equal(got.emails(), want) || got.Customers.Count != 5 {
		t.Errorf("with deleted: emails = %v (count %d), want %v", got.emails(), got.Customers.Count, want)
	}
	if got.Customers.Items[1].DeletedAt == nil {
		t.Errorf("deleted customer has no deleted_at")
	}

	err := a.fail(`query ($id: ID!) { customer(id: $id) { id } }`, map[string]any{"id": id})
	wantError(t, err, "NOT_FOUND", "not_found", "Customer with id: "+id+" was not found")

	// The deleted customer's orders still point at it.
	var orders struct {
		Orders struct {
			Items []struct {
				Customer struct {
					Email     string  `json:"email"`
					DeletedAt *string `json:"deleted_at"`
				} `json:"customer"`
			} `json:"items"`
		} `json:"orders"`
	}
	a.query(`query ($id: ID!) { orders(filter: {customer_id: [$id]}) { items { customer { email deleted_at } } } }`, map[string]any{"id": id}, &orders)
	if len(orders.Orders.Items) == 0 {
		t.Fatal("customer2 has no orders")
	}
	for _, o := range orders.Orders.Items {
		if o.Customer.Email != "customer2@example.com" || o.Customer.DeletedAt == nil {
			t.Errorf("order.customer = %+v, want the deleted customer2", o.Customer)
		}
	}
}

type address struct {
	ID                string  `json:"id"`
	Address1          string  `json:"address_1"`
	Address2          *string `json:"address_2"`
	City              string  `json:"city"`
	CountryCode       string  `json:"country_code"`
	PostalCode        string  `json:"postal_code"`
	IsDefaultBilling  bool    `json:"is_default_billing"`
	IsDefaultShipping bool    `json:"is_default_shipping"`
	Customer          struct {
		Email string `json:"email"`
	} `json:"customer"`
}

type customerDetail struct {
	Customer struct {
		ID        string `json:"id"`
		Email     string `json:"email"`
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
		Phone     string `json:"phone"`
		Groups    []struct {
			Name string `json:"name"`
		} `json:"groups"`
		Addresses         []address `json:"addresses"`
		BillingAddress    *address  `json:"billing_address"`
		ShippingAddresses []address `json:"shipping_addresses"`
		Orders            struct {
			Count int `json:"count"`
			Items []struct {
				DisplayID    int    `json:"display_id"`
				Status       string `json:"status"`
				CurrencyCode string `json:"currency_code"`
				Total        int    `json:"total"`
				Subtotal     int    `json:"subtotal"`
				Items        []struct {
					Title     string `json:"title"`
					Quantity  int    `json:"quantity"`
					UnitPrice int    `json:"unit_price"`
					Total     int    `json:"total"`
				} `json:"items"`
			} `json:"items"`
		} `json:"orders"`
	} `json:"customer"`
}

const customerWithRelations = `query ($id: ID!, $limit: Int, $offset: Int) {
	customer(id: $id) {
		id email first_name last_name phone
		groups { name }
		addresses { id address_1 address_2 city country_code postal_code is_default_billing is_default_shipping customer { email } }
		billing_address { id city is_default_billing }
		shipping_addresses { id address_1 is_default_shipping }
		orders(limit: $limit, offset: $offset) {
			count
			items { display_id status currency_code total subtotal items { title quantity unit_price total } }
		}
	}
}`

func TestCustomerRelations(t *testing.T) {
	t.Parallel()
	a := seeded(t, 10, time.Now())
	id := a.customerID("customer2@example.com")
	var got customerDetail
	a.query(customerWithRelations, map[string]any{"id": id}, &got)
	c := got.Customer
	if c.Email != "customer2@example.com" || c.FirstName != "First2" || c.LastName != "Last2" || c.Phone != "+1-555-000002" {
		t.Errorf("customer = %+v", c)
	}
	// customer 2: k = 1..3 gives groups 1+((62+7k)%20) = 10, 17, 4; by name.
	var groups []string
	for _, g := range c.Groups {
		groups = append(groups, g.Name)
	}
	if want := []string{"Group 04", "Group 10", "Group 17"}; !slices.Equal(groups, want) {
		t.Errorf("groups = %v, want %v", groups, want)
	}
	if len(c.Addresses) != 2 || c.Addresses[0].Address1 != "101 Main Street" || c.Addresses[1].Address1 != "102 Main Street" {
		t.Fatalf("addresses = %+v, want 101 then 102 Main Street", c.Addresses)
	}
	first := c.Addresses[0]
	if first.City != "City2" || first.CountryCode != "us" || first.PostalCode != "00014" || first.Address2 != nil ||
		!first.IsDefaultBilling || !first.IsDefaultShipping || first.Customer.Email != "customer2@example.com" {
		t.Errorf("first address = %+v", first)
	}
	if c.Addresses[1].Address2 == nil || *c.Addresses[1].Address2 != "Apt 2" {
		t.Errorf("second address_2 = %v, want Apt 2", c.Addresses[1].Address2)
	}
	if c.BillingAddress == nil || c.BillingAddress.ID != first.ID {
		t.Errorf("billing_address = %+v, want %s", c.BillingAddress, first.ID)
	}
	if len(c.ShippingAddresses) != 2 || c.ShippingAddresses[0].ID != first.ID {
		t.Errorf("shipping_addresses = %+v, want the default %s first", c.ShippingAddresses, first.ID)
	}

	// customer 2 has (2*17)%5 = 4 orders; order k costs 1000+(2*k*7919)%9000.
	o := c.Orders
	if o.Count != 4 || len(o.Items) != 4 {
		t.Fatalf("orders: count %d, %d items; want 4, 4", o.Count, len(o.Items))
	}
	for k, order := range o.Items { // newest first: k = 1 first
		price := 1000 + (2*(k+1)*7919)%9000
		if order.Total != price || order.Subtotal != price || order.Status != "COMPLETED" || order.CurrencyCode != "usd" {
			t.Errorf("order %d = %+v, want total %d COMPLETED usd", k+1, order, price)
		}
		if len(order.Items) != 1 || order.Items[0].Title != fmt.Sprintf("Item %d", k+1) || order.Items[0].Total != price || order.Items[0].Quantity != 1 {
			t.Errorf("order %d items = %+v", k+1, order.Items)
		}
	}
	a.query(customerWithRelations, map[string]any{"id": id, "limit": 2, "offset": 1}, &got)
	if got.Customer.Orders.Count != 4 || len(got.Customer.Orders.Items) != 2 || got.Customer.Orders.Items[0].Items[0].Title != "Item 2" {
		t.Errorf("orders page 2 = %+v, want Item 2 and 3 of 4", got.Customer.Orders)
	}

	// A customer without orders or addresses.
	a.exec(`UPDATE customer_address SET deleted_at = now() WHERE customer_id = $1`, id)
	a.query(customerWithRelations, map[string]any{"id": a.customerID("customer5@example.com")}, &got)
	if got.Customer.Orders.Count != 0 || len(got.Customer.Orders.Items) != 0 {
		t.Errorf("customer5 orders = %+v, want none", got.Customer.Orders)
	}
	a.query(customerWithRelations, map[string]any{"id": id}, &got)
	if len(got.Customer.Addresses) != 0 || got.Customer.BillingAddress != nil || len(got.Customer.ShippingAddresses) != 0 {
		t.Errorf("after deleting the address book: %+v", got.Customer)
	}
}

func TestShippingAddressesDefaultFirst(t *testing.T) {
	t.Parallel()
	a := seeded(t, 1, time.Now())
	id := a.customerID("customer1@example.com")
	// Move both defaults to the second address.
	a.exec(`UPDATE customer_address SET is_default_shipping = false, is_default_billing = false WHERE customer_id = $1 AND address_1 = '101 Main Street'`, id)
	a.exec(`UPDATE customer_address SET is_default_shipping = true, is_default_billing = true WHERE customer_id = $1 AND address_1 = '102 Main Street'`, id)
	var got customerDetail
	a.query(customerWithRelations, map[string]any{"id": id}, &got)
	c := got.Customer
	if c.Addresses[0].Address1 != "101 Main Street" {
		t.Errorf("addresses should stay oldest first, got %+v", c.Addresses)
	}
	if c.ShippingAddresses[0].Address1 != "102 Main Street" || c.ShippingAddresses[1].Address1 != "101 Main Street" {
		t.Errorf("shipping_addresses = %+v, want the default 102 first", c.ShippingAddresses)
	}
	if c.BillingAddress == nil || c.BillingAddress.ID != c.Addresses[1].ID {
		t.Errorf("billing_address = %+v, want the second address", c.BillingAddress)
	}
}
