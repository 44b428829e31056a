package seed_test

import (
	"context"
	"os"
	"testing"
	"time"

	"customerservice/db/dbtest"
	"customerservice/db/seed"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// The dataset follows the formulas of shared/bench/dataset.md, so that
// other servers loaded with it hold the same rows: customer i has 1+i%3
// groups, two addresses and (17i)%5 orders of one item each, and every
// fourth customer is registered.
func TestLoadFollowsTheFormulas(t *testing.T) {
	t.Parallel()
	const n = 13
	pool := dbtest.New(t)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	var progress [][2]int
	if err := seed.Load(context.Background(), pool, n, now, func(done, total int) { progress = append(progress, [2]int{done, total}) }); err != nil {
		t.Fatal(err)
	}
	var memberships, orders, registered int
	for i := 1; i <= n; i++ {
		memberships += 1 + i%3
		orders += (i * 17) % 5
		if i%4 == 0 {
			registered++
		}
	}
	for _, tt := range []struct {
		what, query string
		want        int
	}{
		{"customers", `SELECT count(*) FROM customer`, n},
		{"registered customers", `SELECT count(*) FROM customer WHERE has_account`, registered},
		{"groups", `SELECT count(*) FROM customer_group`, seed.Groups},
		{"memberships", `SELECT count(*) FROM customer_group_customer`, memberships},
		{"addresses", `SELECT count(*) FROM customer_address`, 2 * n},
		{"default billing and shipping addresses", `SELECT count(*) FROM customer_address WHERE is_default_billing AND is_default_shipping`, n},
		{"orders", `SELECT count(*) FROM orders`, orders},
		{"line items", `SELECT count(*) FROM order_line_item`, orders},
		{"customer 7's groups", `SELECT count(*) FROM customer_group_customer m JOIN customer c ON c.id = m.customer_id WHERE c.email = 'customer7@example.com'`, 1 + 7%3},
		{"customer 7's orders", `SELECT count(*) FROM orders o JOIN customer c ON c.id = o.customer_id WHERE c.email = 'customer7@example.com'`, (7 * 17) % 5},
		// The seeder's COPY fires migration 0018's triggers: statistics
		// for every customer, counting its orders.
		{"customers with statistics", `SELECT count(*) FROM customer_stats`, n},
		{"orders in the statistics", `SELECT sum(order_count) FROM customer_stats`, orders},
		{"customer 7's order count", `SELECT s.order_count FROM customer_stats s JOIN customer c ON c.id = s.customer_id WHERE c.email = 'customer7@example.com'`, (7 * 17) % 5},
		{"usd spent, as the orders add up", `SELECT (SELECT sum(amount_spent) FROM customer_spend WHERE currency_code = 'usd') - (SELECT sum(total) FROM orders)`, 0},
		{"last order dates, as the orders say", `SELECT count(*) FROM customer_stats s WHERE s.last_order_at IS DISTINCT FROM (SELECT max(created_at) FROM orders o WHERE o.customer_id = s.customer_id)`, 0},
		{"customer 13, made 13 minutes before now", `SELECT count(*) FROM customer WHERE email = 'customer13@example.com' AND created_at = $1`, 1},
	} {
		var got int
		args := []any{}
		if tt.what == "customer 13, made 13 minutes before now" {
			args = append(args, now.Add(-13*time.Minute))
		}
		if err := pool.Get(&got, tt.query, args...); err != nil {
			t.Fatalf("%s: %v", tt.what, err)
		}
		if got != tt.want {
			t.Errorf("%s: %d, want %d", tt.what, got, tt.want)
		}
	}
	// Customer 7's groups are 1 + (7*31 + k*7) % 20 for k = 1, 2.
	var names []string
	if err := pool.Select(&names, `SELECT g.name FROM customer_group g JOIN customer_group_customer m ON m.customer_group_id = g.id
		JOIN customer c ON c.id = m.customer_id WHERE c.email = 'customer7@example.com' ORDER BY g.name`); err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 || names[0] != "Group 05" || names[1] != "Group 12" {
		t.Errorf("customer 7's groups: %v, want Group 05 and Group 12", names)
	}
	if len(progress) != 1 || progress[0] != [2]int{n, n} {
		t.Errorf("progress reported %v, want one report of %d of %d", progress, n, n)
	}
	// A second load of the same customers fails: emails are unique.
	if err := seed.Load(context.Background(), pool, 1, now, nil); err == nil {
		t.Error("a second load succeeded")
	}
}
