// Package seed loads the reference dataset defined in DATASET.md:
// deterministic customers, groups, memberships, addresses and orders, so the
// same rows can be loaded here and into other customer servers and compared.
// The local default loads a small one as demo data.
package seed

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"customerservice/db"
)

// Groups is the number of customer groups of the dataset.
const Groups = 20

// Progress is told how many customers are loaded so far, of how many.
type Progress func(done, total int)

// batchSize is the number of customers loaded per transaction: large enough
// for COPY to run at full speed, small enough to report progress.
const batchSize = 10_000

// Load adds the dataset for customers 1..n to the database, with now as the
// reference time. It expects the tables to be empty of its rows: emails are
// unique, so a second load fails.
func Load(ctx context.Context, pool *sqlx.DB, n int, now time.Time, progress Progress) error {
	if progress == nil {
		progress = func(int, int) {}
	}
	groupIDs, err := loadGroups(ctx, pool, now)
	if err != nil {
		return err
	}
	for from := 1; from <= n; from += batchSize {
		to := min(from+batchSize-1, n)
		if err := loadCustomers(ctx, pool, from, to, now, groupIDs); err != nil {
			return err
		}
		progress(to, n)
	}
	if _, err := pool.ExecContext(ctx, `ANALYZE customer, customer_group, customer_group_customer, customer_address, orders, order_line_item, customer_stats, customer_spend`); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

func loadGroups(ctx context.Context, pool *sqlx.DB, now time.Time) ([]string, error) {
	ids := make([]string, Groups)
	names := make([]string, Groups)
	created := make([]time.Time, Groups)
	for g := range Groups {
		ids[g] = db.NewID(db.PrefixGroup)
		names[g] = fmt.Sprintf("Group %02d", g+1)
		// Later groups are newer, so creation order is group order.
		created[g] = now.Add(time.Duration(g-Groups) * time.Second)
	}
	_, err := db.InTx(ctx, pool, func(tx db.Tx) (struct{}, error) {
		if err := db.DisableEvents(ctx, tx); err != nil {
			return struct{}{}, err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO customer_group (id, name, created_at, updated_at)
			SELECT id, name, created_at, created_at FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS g(id, name, created_at)`,
			pq.Array(ids), pq.Array(names), pq.Array(created))
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("seed groups: %w", err)
	}
	return ids, nil
}

// loadCustomers loads customers from..to with everything that belongs to
// them, in one transaction of COPY statements.
func loadCustomers(ctx context.Context, pool *sqlx.DB, from, to int, now time.Time, groupIDs []string) error {
	tx, err := pool.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	// A dataset is not changes anyone made: the event log stays empty.
	if err := db.DisableEvents(ctx, db.Tx{Tx: tx}); err != nil {
		return err
	}

	var rows struct {
		customers, members, addresses, orders, items [][]any
	}
	for i := from; i <= to; i++ {
		id := db.NewID(db.PrefixCustomer)
		email := fmt.Sprintf("customer%d@example.com", i)
		first, last := fmt.Sprintf("First%d", i), fmt.Sprintf("Last%d", i)
		phone := fmt.Sprintf("+1-555-%06d", i)
		created := now.Add(-time.Duration(i) * time.Minute)
		rows.customers = append(rows.customers, []any{id, email, first, last, phone, i%4 == 0, created, created})
		for k := 1; k <= 1+i%3; k++ {
			g := 1 + (i*31+k*7)%Groups
			rows.members = append(rows.members, []any{groupIDs[g-1], id, created})
		}
		for a := 1; a <= 2; a++ {
			var address2 any
			if a == 2 {
				address2 = fmt.Sprintf("Apt %d", i%50)
			}
			rows.addresses = append(rows.addresses, []any{
				db.NewID(db.PrefixAddress), id, a == 1, a == 1, first, last,
				fmt.Sprintf("%d Main Street", 100+a), address2, fmt.Sprintf("City%d", i%100), "us",
				fmt.Sprintf("State%d", i%50), fmt.Sprintf("%05d", (i*7)%100000), phone,
				created.Add(time.Duration(a) * time.Second),
			})
		}
		for k := 1; k <= (i*17)%5; k++ {
			orderID := db.NewID(db.PrefixOrder)
			price := 1000 + (i*k*7919)%9000
			placed := now.Add(-time.Duration(i+k*1000) * time.Minute)
			rows.orders = append(rows.orders, []any{orderID, id, email, "COMPLETED", "usd", price, price, placed, placed})
			rows.items = append(rows.items, []any{db.NewID(db.PrefixLineItem), orderID, fmt.Sprintf("Item %d", k), 1, price, placed})
		}
	}
	copies := []struct {
		table   string
		columns []string
		rows    [][]any
	}{
		{"customer", []string{"id", "email", "first_name", "last_name", "phone", "has_account", "created_at", "updated_at"}, rows.customers},
		{"customer_group_customer", []string{"customer_group_id", "customer_id", "created_at"}, rows.members},
		{"customer_address", []string{"id", "customer_id", "is_default_billing", "is_default_shipping", "first_name", "last_name",
			"address_1", "address_2", "city", "country_code", "province", "postal_code", "phone", "created_at"}, rows.addresses},
		{"orders", []string{"id", "customer_id", "email", "status", "currency_code", "subtotal", "total", "created_at", "updated_at"}, rows.orders},
		{"order_line_item", []string{"id", "order_id", "title", "quantity", "unit_price", "created_at"}, rows.items},
	}
	for _, c := range copies {
		if err := copyRows(ctx, tx, c.table, c.columns, c.rows); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func copyRows(ctx context.Context, tx *sqlx.Tx, table string, columns []string, rows [][]any) error {
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn(table, columns...))
	if err != nil {
		return fmt.Errorf("seed %s: %w", table, err)
	}
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r...); err != nil {
			stmt.Close()
			return fmt.Errorf("seed %s: %w", table, err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		stmt.Close()
		return fmt.Errorf("seed %s: %w", table, err)
	}
	return stmt.Close()
}
