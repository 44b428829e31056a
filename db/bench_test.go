package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/acme/customerservice/db"
	"github.com/acme/customerservice/db/dbtest"
	"github.com/acme/customerservice/db/seed"
)

// benchDB is a database with the reference dataset for 10,000 customers
// and the ids of the first page of the headline list.
func benchDB(b *testing.B) (*sqlx.DB, []string) {
	b.Helper()
	ctx := context.Background()
	pool := dbtest.New(b)
	if err := seed.Load(ctx, pool, 10_000, time.Now(), nil); err != nil {
		b.Fatal(err)
	}
	page, err := db.NewCustomerPage(100, 0, "-created_at")
	if err != nil {
		b.Fatal(err)
	}
	customers, err := db.ListCustomers(ctx, pool, db.CustomerFilter{}, page)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, len(customers))
	for i, c := range customers {
		ids[i] = c.ID
	}
	return pool, ids
}

// BenchmarkBatches times each dataloader batch function for the 100
// customers of a headline page.
func BenchmarkBatches(b *testing.B) {
	pool, ids := benchDB(b)
	ctx := context.Background()
	page, _ := db.NewCustomerPage(100, 0, "-created_at")
	cases := map[string]func() error{
		"ListCustomers":            func() error { _, err := db.ListCustomers(ctx, pool, db.CustomerFilter{}, page); return err },
		"CountCustomers":           func() error { _, err := db.CountCustomers(ctx, pool, db.CustomerFilter{}); return err },
		"GroupsByCustomerIDs":      func() error { _, err := db.GroupsByCustomerIDs(ctx, pool, ids); return err },
		"AddressesByCustomerIDs":   func() error { _, err := db.AddressesByCustomerIDs(ctx, pool, ids); return err },
		"OrdersByCustomerIDs":      func() error { _, err := db.OrdersByCustomerIDs(ctx, pool, ids, 5, 0); return err },
		"CountOrdersByCustomerIDs": func() error { _, err := db.CountOrdersByCustomerIDs(ctx, pool, ids); return err },
		"SearchCustomers": func() error {
			q := "Last123"
			_, err := db.ListCustomers(ctx, pool, db.CustomerFilter{Q: &q}, page)
			return err
		},
	}
	for name, run := range cases {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if err := run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
