package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"customerservice/db"
	"customerservice/db/dbtest"
	"customerservice/db/seed"
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
	customers, err := db.ListCustomers(ctx, pool, db.CustomerFilter{}, page, db.Columns[db.Customer]{})
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
// customers of a headline page, with every column and with the columns the
// headline query selects.
func BenchmarkBatches(b *testing.B) {
	pool, ids := benchDB(b)
	ctx := context.Background()
	page, _ := db.NewCustomerPage(100, 0, "-created_at")
	orderPage, _ := db.NewCustomerOrderPage(5, 0)
	customers := db.CustomerColumns([]string{"id", "email"})
	addresses := db.AddressColumns([]string{"id"})
	groups := db.GroupColumns([]string{"id"})
	var all struct {
		customers db.Columns[db.Customer]
		addresses db.Columns[db.Address]
		groups    db.Columns[db.CustomerGroup]
		orders    db.Columns[db.Order]
	}
	cases := map[string]func() error{
		"ListCustomers/all": func() error {
			_, err := db.ListCustomers(ctx, pool, db.CustomerFilter{}, page, all.customers)
			return err
		},
		"ListCustomers/headline": func() error {
			_, err := db.ListCustomers(ctx, pool, db.CustomerFilter{}, page, customers)
			return err
		},
		"CountCustomers": func() error { _, err := db.CountCustomers(ctx, pool, db.CustomerFilter{}); return err },
		"GroupsByCustomerIDs/all": func() error {
			_, err := db.GroupsByCustomerIDs(ctx, pool, ids, all.groups)
			return err
		},
		"GroupsByCustomerIDs/headline": func() error {
			_, err := db.GroupsByCustomerIDs(ctx, pool, ids, groups)
			return err
		},
		"AddressesByCustomerIDs/all": func() error {
			_, err := db.AddressesByCustomerIDs(ctx, pool, ids, all.addresses)
			return err
		},
		"AddressesByCustomerIDs/headline": func() error {
			_, err := db.AddressesByCustomerIDs(ctx, pool, ids, addresses)
			return err
		},
		"OrdersByCustomerIDs/all": func() error {
			_, err := db.OrdersByCustomerIDs(ctx, pool, ids, orderPage, all.orders)
			return err
		},
		"CountOrdersByCustomerIDs": func() error { _, err := db.CountOrdersByCustomerIDs(ctx, pool, ids); return err },
		"SearchCustomers": func() error {
			q := "Last123"
			_, err := db.ListCustomers(ctx, pool, db.CustomerFilter{Q: &q}, page, customers)
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
