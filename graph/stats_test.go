package graph_test

// Issue 18: customer statistics, kept by the database.

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

type statsOut struct {
	OrderCount   int        `json:"order_count"`
	USD          int64      `json:"usd"`
	EUR          int64      `json:"eur"`
	FirstOrderAt *time.Time `json:"first_order_at"`
	LastOrderAt  *time.Time `json:"last_order_at"`
	AmountsSpent []struct {
		CurrencyCode string `json:"currency_code"`
		Amount       int64  `json:"amount"`
	} `json:"amounts_spent"`
}

const statsFields = `stats { order_count usd: amount_spent(currency_code: "USD") eur: amount_spent(currency_code: "eur")
	amounts_spent { currency_code amount } first_order_at last_order_at }`

func (a *api) stats(customerID string) statsOut {
	a.tb.Helper()
	var got struct {
		Customer struct{ Stats statsOut }
	}
	a.query(`query ($id: ID!) { customer(id: $id) { `+statsFields+` } }`, map[string]any{"id": customerID}, &got)
	return got.Customer.Stats
}

// statsDrift returns the customers whose statistics differ from what their
// orders add up to, and (customer, currency) pairs whose spend differs.
func (a *api) statsDrift() []string {
	a.tb.Helper()
	var drift []string
	if err := a.pool.Select(&drift, `
		SELECT c.id FROM customer c LEFT JOIN customer_stats s ON s.customer_id = c.id
		CROSS JOIN LATERAL (SELECT count(*)::integer AS n, min(o.created_at) AS first, max(o.created_at) AS last
			FROM orders o WHERE o.customer_id = c.id AND o.status <> 'CANCELED') o
		WHERE s.customer_id IS NULL OR (s.order_count, s.first_order_at, s.last_order_at) IS DISTINCT FROM (o.n, o.first, o.last)
		UNION ALL
		SELECT coalesce(o.customer_id, p.customer_id) || ' ' || coalesce(o.currency_code, p.currency_code)
		FROM (SELECT customer_id, currency_code, sum(total) AS amount, count(*) AS n FROM orders WHERE status <> 'CANCELED'
			GROUP BY customer_id, currency_code) o
		FULL JOIN customer_spend p ON p.customer_id = o.customer_id AND p.currency_code = o.currency_code
		WHERE (o.amount, o.n) IS DISTINCT FROM (p.amount_spent, p.order_count) AND coalesce(p.order_count, 0) + coalesce(o.n, 0) > 0`); err != nil {
		a.tb.Fatal(err)
	}
	return drift
}

func TestCustomerStats(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tok, buyerID := a.signUp("buyer@example.com", "buyer password")
	buyer := a.as(tok)
	// A new customer has statistics of zero.
	if s := a.stats(buyerID); s.OrderCount != 0 || s.USD != 0 || s.FirstOrderAt != nil || s.LastOrderAt != nil || len(s.AmountsSpent) != 0 {
		t.Errorf("a new customer's stats: %+v", s)
	}
	first := buyer.placeOrder(orderInput("", 1000, 250)) // 1000 + 2×250
	eur := orderInput("", 300)
	eur["currency_code"] = "EUR"
	buyer.placeOrder(eur)
	last := buyer.placeOrder(orderInput("", 700))
	guest := a.as("").placeOrder(orderInput("guest@example.com", 200))

	var mine struct {
		Me struct{ Stats statsOut }
	}
	buyer.query(`{ me { `+statsFields+` } }`, nil, &mine)
	s := mine.Me.Stats
	if s.OrderCount != 3 || s.USD != 2200 || s.EUR != 300 || len(s.AmountsSpent) != 2 || s.AmountsSpent[0].CurrencyCode != "eur" || s.AmountsSpent[1].Amount != 2200 {
		t.Errorf("buyer's stats: %+v", s)
	}
	var placed []time.Time
	a.pool.Select(&placed, `SELECT created_at FROM orders WHERE id = ANY($1) ORDER BY created_at`, fmt.Sprintf("{%s,%s}", first.ID, last.ID))
	if s.FirstOrderAt == nil || !s.FirstOrderAt.Equal(placed[0]) || s.LastOrderAt == nil || !s.LastOrderAt.Equal(placed[1]) {
		t.Errorf("first/last order: %v/%v, want %v", s.FirstOrderAt, s.LastOrderAt, placed)
	}
	if g := a.stats(guest.CustomerID); g.OrderCount != 1 || g.USD != 200 {
		t.Errorf("guest's stats: %+v", g)
	}

	// Sorting and filtering the list.
	quiet := a.createCustomer(map[string]any{"email": "quiet@example.com"})
	ids, _ := a.customerIDs(nil, "-order_count", false)
	if len(ids) != 3 || ids[0] != buyerID || ids[1] != guest.CustomerID || ids[2] != quiet.ID {
		t.Errorf("-order_count: %v", ids)
	}
	ids, _ = a.customerIDs(nil, "order_count", false)
	if ids[0] != quiet.ID || ids[2] != buyerID {
		t.Errorf("order_count: %v", ids)
	}
	ids, _ = a.customerIDs(nil, "-last_order_at", false)
	if len(ids) != 3 || ids[0] != guest.CustomerID || ids[1] != buyerID || ids[2] != quiet.ID {
		t.Errorf("-last_order_at (never ordered last): %v", ids)
	}
	for _, c := range []struct {
		filter map[string]any
		want   []string
	}{
		{map[string]any{"order_count": map[string]any{"gte": 2}}, []string{buyerID}},
		{map[string]any{"order_count": map[string]any{"gt": 0, "lt": 3}}, []string{guest.CustomerID}},
		{map[string]any{"order_count": map[string]any{"lte": 0}}, []string{quiet.ID}},
		{map[string]any{"amount_spent": map[string]any{"currency_code": "USD", "gte": 1000}}, []string{buyerID}},
		{map[string]any{"amount_spent": map[string]any{"currency_code": "usd", "gt": 0, "lte": 200}}, []string{guest.CustomerID}},
		{map[string]any{"amount_spent": map[string]any{"currency_code": "eur", "lt": 300}}, []string{guest.CustomerID, quiet.ID}},
		{map[string]any{"amount_spent": map[string]any{"currency_code": "jpy", "gte": 0}}, []string{buyerID, guest.CustomerID, quiet.ID}},
		{map[string]any{"last_order_at": map[string]any{"gte": placed[1].Format(time.RFC3339Nano)}}, []string{buyerID, guest.CustomerID}},
		{map[string]any{"any_of": []any{
			map[string]any{"order_count": map[string]any{"gte": 3}},
			map[string]any{"email": []string{"quiet@example.com"}},
		}}, []string{buyerID, quiet.ID}},
	} {
		ids, n := a.customerIDs(c.filter, "", false)
		sameIDs(t, fmt.Sprint(c.filter), ids, n, c.want...)
	}
	for _, bad := range []string{
		`{ customers(filter: {amount_spent: {currency_code: "xyz", gte: 1}}) { count } }`,
		`{ customers(filter: {amount_spent: {currency_code: "usd"}}) { count } }`,
		`{ customers(filter: {amount_spent: {gte: 1}}) { count } }`,
		`{ customers(order: "-amount_spent") { count } }`,
		`{ customers { items { stats { amount_spent } } } }`,
		`{ customers(limit: 1) { items { stats { amount_spent(currency_code: "dollars") } } } }`,
	} {
		wantError(t, a.fail(bad, nil), "INVALID_DATA", "invalid_data", "")
	}

	// Group members sort by it too.
	g := a.createGroup("Buyers")
	a.query(`mutation ($g: ID!, $ids: [ID!]!) { add_customers_to_group(group_id: $g, customer_ids: $ids) { id } }`,
		map[string]any{"g": g.ID, "ids": []string{quiet.ID, buyerID, guest.CustomerID}}, &struct{}{})
	var members struct {
		G struct {
			Customers struct{ Items []struct{ ID string } }
		} `json:"customer_group"`
	}
	a.query(`query ($g: ID!) { customer_group(id: $g) { customers(order: "-order_count") { items { id } } } }`, map[string]any{"g": g.ID}, &members)
	if it := members.G.Customers.Items; len(it) != 3 || it[0].ID != buyerID || it[2].ID != quiet.ID {
		t.Errorf("members by -order_count: %+v", it)
	}

	// A canceled order stops counting; the first order date moves on.
	a.exec(`UPDATE orders SET status = 'CANCELED' WHERE id = $1`, first.ID)
	if s := a.stats(buyerID); s.OrderCount != 2 || s.USD != 700 || s.FirstOrderAt == nil || !s.FirstOrderAt.After(placed[0]) {
		t.Errorf("after a cancellation: %+v", s)
	}
	if drift := a.statsDrift(); len(drift) != 0 {
		t.Errorf("stats differ from the orders for %v", drift)
	}

	// Who may read them: admins, and the customer itself through me.
	wantError(t, a.as("").fail(`{ me { stats { order_count } } }`, nil), "UNAUTHORIZED", "unauthorized", "")
	wantError(t, buyer.fail(`query ($id: ID!) { customer(id: $id) { stats { order_count } } }`, map[string]any{"id": guest.CustomerID}), "NOT_ALLOWED", "not_allowed", "")
}

// TestCustomerStatsStatementsDependOnDepthNotRows: a page's statistics are
// one statement, whatever its customers.
func TestCustomerStatsStatementsDependOnDepthNotRows(t *testing.T) {
	t.Parallel()
	a := seeded(t, 40, time.Now())
	statements := map[int]int64{}
	for _, n := range []int{40, 1, 40} {
		resp := a.do(fmt.Sprintf(`{ customers(limit: %d, order: "-order_count") { items { id %s orders(limit: 2) { items { customer { %s } } } } } }`, n, statsFields, statsFields), nil)
		if len(resp.Errors) > 0 {
			t.Fatalf("%+v", resp.Errors)
		}
		statements[n] = resp.Statements
	}
	if statements[1] != statements[40] {
		t.Errorf("statements for 1 and 40 customers' stats: %v", statements)
	}
	// The seeder's orders are counted (its COPY fires the triggers).
	if drift := a.statsDrift(); len(drift) != 0 {
		t.Errorf("seeded stats differ from the orders for %v", drift)
	}
	var counted int
	a.pool.Get(&counted, `SELECT sum(order_count) FROM customer_stats`)
	if counted == 0 {
		t.Error("the seeded orders are not counted")
	}
}

// TestCustomerStatsUnderConcurrency: 100 orders placed at once by one
// customer, while guest orders move to it and to another customer by
// transfers accepted at the same time, leave every customer's statistics
// exactly what its orders add up to.
func TestCustomerStatsUnderConcurrency(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	buyerTok, buyerID := a.signUp("buyer@example.com", "buyer password")
	otherTok, otherID := a.signUp("other@example.com", "other password")
	buyer, other := a.as(buyerTok), a.as(otherTok)
	const orders, transfers = 100, 10
	var guestOrders []placedOrder
	for i := range transfers {
		guestOrders = append(guestOrders, a.as("").placeOrder(orderInput("guest@example.com", 100+i)))
	}
	tokens := make([]string, transfers)
	for i, o := range guestOrders {
		to := buyerID
		if i%2 == 1 {
			to = otherID
		}
		a.query(transferQ, map[string]any{"id": o.ID, "c": to}, &struct{}{})
		tokens[i] = a.transferToken(o.ID)
	}
	results := concurrently(orders+transfers, func(i int) response {
		if i < orders {
			in := orderInput("", 1+i)
			if i%3 == 0 {
				in["currency_code"] = "eur"
			}
			return buyer.do(placeOrderQ, map[string]any{"input": in})
		}
		k := i - orders
		who := buyer
		if k%2 == 1 {
			who = other
		}
		return who.do(acceptQ, map[string]any{"id": guestOrders[k].ID, "t": tokens[k]})
	})
	for i, r := range results {
		if len(r.Errors) > 0 {
			t.Errorf("request %d: %+v", i, r.Errors)
		}
	}
	if drift := a.statsDrift(); len(drift) != 0 {
		t.Errorf("stats differ from the orders for %v", drift)
	}
	wantUSD, wantEUR := int64(0), int64(0)
	for i := range orders {
		if i%3 == 0 {
			wantEUR += int64(1 + i)
		} else {
			wantUSD += int64(1 + i)
		}
	}
	otherUSD := int64(0)
	for k := range transfers {
		if k%2 == 0 {
			wantUSD += int64(100 + k)
		} else {
			otherUSD += int64(100 + k)
		}
	}
	if s := a.stats(buyerID); s.OrderCount != orders+transfers/2 || s.USD != wantUSD || s.EUR != wantEUR {
		t.Errorf("buyer: %+v, want %d orders, %d usd, %d eur", s, orders+transfers/2, wantUSD, wantEUR)
	}
	if s := a.stats(otherID); s.OrderCount != transfers/2 || s.USD != otherUSD {
		t.Errorf("other: %+v", s)
	}
	if s := a.stats(guestOrders[0].CustomerID); s.OrderCount != 0 || s.USD != 0 || s.FirstOrderAt != nil || s.LastOrderAt != nil || len(s.AmountsSpent) != 0 {
		t.Errorf("the guest after every order left: %+v", s)
	}
	ids, _ := a.customerIDs(map[string]any{"order_count": map[string]any{"gte": 5}}, "-order_count", false)
	if !slices.Equal(ids, []string{buyerID, otherID}) {
		t.Errorf("order_count >= 5 by -order_count: %v", ids)
	}
}
