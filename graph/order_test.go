package graph_test

import (
	"slices"
	"testing"
	"time"
)

type orderList struct {
	Orders struct {
		Items []struct {
			ID         string `json:"id"`
			DisplayID  int    `json:"display_id"`
			Email      string `json:"email"`
			Status     string `json:"status"`
			Total      int    `json:"total"`
			CustomerID string `json:"customer_id"`
		} `json:"items"`
		Count int `json:"count"`
	} `json:"orders"`
}

func (l orderList) displayIDs() []int {
	var out []int
	for _, o := range l.Orders.Items {
		out = append(out, o.DisplayID)
	}
	return out
}

const listOrders = `query ($filter: OrderFilter, $limit: Int, $offset: Int, $order: String) {
	orders(filter: $filter, limit: $limit, offset: $offset, order: $order) { items { id display_id email status total customer_id } count }
}`

func TestOrders(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Second)
	a := seeded(t, 6, now)
	// Orders of customers 1..6: (17i)%5 = 2, 4, 1, 3, 0, 2 orders, display
	// ids in load order: customer 1 has 1-2, customer 2 3-6, customer 3 7,
	// customer 4 8-10, customer 6 11-12.
	a.exec(`UPDATE orders SET status = 'CANCELED' WHERE display_id IN (4, 9)`)
	c2 := a.customerID("customer2@example.com")
	tests := []struct {
		name      string
		vars      map[string]any
		want      []int
		wantCount int
	}{
		// Order k of customer i was placed i + 1000k minutes ago.
		{"newest first", map[string]any{"limit": 4}, []int{1, 3, 7, 8}, 12},
		{"by display id", map[string]any{"limit": 3, "offset": 2, "order": "display_id"}, []int{3, 4, 5}, 12},
		{"by total, highest first", map[string]any{"limit": 1, "order": "-total"}, []int{1}, 12},
		{"customer", map[string]any{"filter": map[string]any{"customer_id": []string{c2}}, "order": "display_id"}, []int{3, 4, 5, 6}, 4},
		{"email, any case", map[string]any{"filter": map[string]any{"email": []string{"CUSTOMER3@example.com"}}}, []int{7}, 1},
		{"status", map[string]any{"filter": map[string]any{"status": []string{"CANCELED"}}, "order": "display_id"}, []int{4, 9}, 2},
		{"ids", map[string]any{"filter": map[string]any{"status": []string{"COMPLETED", "PENDING"}, "customer_id": []string{c2}}, "order": "display_id"}, []int{3, 5, 6}, 3},
		{"placed in a range", map[string]any{"filter": map[string]any{"created_at": map[string]any{
			"gt": now.Add(-1003 * time.Minute).Format(time.RFC3339), "lte": now.Add(-1001 * time.Minute).Format(time.RFC3339)}}, "order": "display_id"}, []int{1, 3}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got orderList
			a.query(listOrders, tt.vars, &got)
			if !slices.Equal(got.displayIDs(), tt.want) || got.Orders.Count != tt.wantCount {
				t.Errorf("display ids = %v (count %d), want %v (count %d)", got.displayIDs(), got.Orders.Count, tt.want, tt.wantCount)
			}
		})
	}

	var got orderList
	a.query(listOrders, map[string]any{"filter": map[string]any{"customer_id": []string{c2}}, "order": "display_id"}, &got)
	first := got.Orders.Items[0]
	var one struct {
		Order struct {
			ID              string `json:"id"`
			DisplayID       int    `json:"display_id"`
			Email           string `json:"email"`
			CustomerID      string `json:"customer_id"`
			ShippingAddress *struct {
				City string `json:"city"`
			} `json:"shipping_address"`
			Customer struct {
				ID    string `json:"id"`
				Email string `json:"email"`
			} `json:"customer"`
			Items []struct {
				Title string `json:"title"`
			} `json:"items"`
		} `json:"order"`
	}
	a.query(`query ($id: ID!) { order(id: $id) { id display_id email customer_id shipping_address { city } customer { id email } items { title } } }`,
		map[string]any{"id": first.ID}, &one)
	o := one.Order
	if o.DisplayID != 3 || o.Email != "customer2@example.com" || o.CustomerID != c2 || o.Customer.ID != c2 ||
		o.ShippingAddress != nil || len(o.Items) != 1 || o.Items[0].Title != "Item 1" {
		t.Errorf("order = %+v", o)
	}

	a.exec(`UPDATE orders SET shipping_address = '{"city": "Springfield", "country_code": "us"}' WHERE id = $1`, first.ID)
	a.query(`query ($id: ID!) { order(id: $id) { shipping_address { city } } }`, map[string]any{"id": first.ID}, &one)
	if o := one.Order; o.ShippingAddress == nil || o.ShippingAddress.City != "Springfield" {
		t.Errorf("shipping_address = %+v, want Springfield", o.ShippingAddress)
	}

	err := a.fail(`{ order(id: "order_missing") { id } }`, nil)
	wantError(t, err, "NOT_FOUND", "not_found", "Order with id: order_missing was not found")
}
