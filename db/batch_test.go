package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/acme/customerservice/db"
	"github.com/acme/customerservice/db/dbtest"
	"github.com/acme/customerservice/db/seed"
)

// The batch functions behind the dataloaders must answer exactly one entry
// per key, in key order, whatever order the rows come in, with an empty
// entry for a key that has no rows.
func TestBatchResultsFollowKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	if err := seed.Load(ctx, pool, 6, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	idOf := func(email string) string {
		var id string
		if err := pool.Get(&id, `SELECT id FROM customer WHERE email = $1`, email); err != nil {
			t.Fatal(err)
		}
		return id
	}
	c2, c5, c3 := idOf("customer2@example.com"), idOf("customer5@example.com"), idOf("customer3@example.com")
	keys := []string{c3, "cus_missing", c2, c5, c3}

	customers, err := db.CustomersByIDs(ctx, pool, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(customers) != 5 || customers[0].ID != c3 || customers[1] != nil || customers[2].ID != c2 || customers[3].ID != c5 || customers[4].ID != c3 {
		t.Errorf("CustomersByIDs does not follow the keys: %v", customers)
	}

	groups, err := db.GroupsByCustomerIDs(ctx, pool, keys)
	if err != nil {
		t.Fatal(err)
	}
	// customer i has 1 + i%3 groups.
	if want := []int{1, 0, 3, 3, 1}; !lengths(groups, want) {
		t.Errorf("GroupsByCustomerIDs lengths = %v, want %v", lensOf(groups), want)
	}

	addresses, err := db.AddressesByCustomerIDs(ctx, pool, keys)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{2, 0, 2, 2, 2}; !lengths(addresses, want) {
		t.Errorf("AddressesByCustomerIDs lengths = %v, want %v", lensOf(addresses), want)
	}
	for i, book := range addresses {
		for _, a := range book {
			if a.CustomerID != keys[i] {
				t.Errorf("key %d got an address of %s", i, a.CustomerID)
			}
		}
	}

	// (17i)%5 orders: customer 3 has 1, 2 has 4, 5 has none.
	orders, err := db.OrdersByCustomerIDs(ctx, pool, keys, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 0, 2, 0, 0}; !lengths(orders, want) {
		t.Errorf("OrdersByCustomerIDs(limit 2, offset 1) lengths = %v, want %v", lensOf(orders), want)
	}
	orders, err = db.OrdersByCustomerIDs(ctx, pool, keys, 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 0, 4, 0, 1}; !lengths(orders, want) {
		t.Errorf("OrdersByCustomerIDs(limit 5) lengths = %v, want %v", lensOf(orders), want)
	}
	counts, err := db.CountOrdersByCustomerIDs(ctx, pool, keys)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 0, 4, 0, 1}; !equalInts(counts, want) {
		t.Errorf("CountOrdersByCustomerIDs = %v, want %v", counts, want)
	}
	if _, err := db.CustomersByIDs(ctx, pool, nil); err != nil {
		t.Errorf("no keys: %v", err)
	}
}

func lensOf[T any](lists [][]T) []int {
	out := make([]int, len(lists))
	for i, l := range lists {
		out[i] = len(l)
		if l == nil {
			out[i] = -1 // nil is not an empty list to gqlgen's non-null lists
		}
	}
	return out
}

func lengths[T any](lists [][]T, want []int) bool { return equalInts(lensOf(lists), want) }

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
