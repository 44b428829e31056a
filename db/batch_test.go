package db_test

import (
	"context"
	"testing"
	"time"

	"customerservice/db"
	"customerservice/db/dbtest"
	"customerservice/db/seed"
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

	customers, err := db.CustomersByIDs(ctx, pool, keys, db.Columns[db.Customer]{})
	if err != nil {
		t.Fatal(err)
	}
	if len(customers) != 5 || customers[0].ID != c3 || customers[1] != nil || customers[2].ID != c2 || customers[3].ID != c5 || customers[4].ID != c3 {
		t.Errorf("CustomersByIDs does not follow the keys: %v", customers)
	}

	groups, err := db.GroupsByCustomerIDs(ctx, pool, keys, db.Columns[db.CustomerGroup]{})
	if err != nil {
		t.Fatal(err)
	}
	// customer i has 1 + i%3 groups.
	if want := []int{1, 0, 3, 3, 1}; !lengths(groups, want) {
		t.Errorf("GroupsByCustomerIDs lengths = %v, want %v", lensOf(groups), want)
	}

	addresses, err := db.AddressesByCustomerIDs(ctx, pool, keys, db.Columns[db.Address]{})
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
	page, _ := db.NewCustomerOrderPage(2, 1)
	orders, err := db.OrdersByCustomerIDs(ctx, pool, keys, page, db.Columns[db.Order]{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 0, 2, 0, 0}; !lengths(rowsOf(orders), want) {
		t.Errorf("OrdersByCustomerIDs(limit 2, offset 1) lengths = %v, want %v", lensOf(rowsOf(orders)), want)
	}
	if more := orders[2].End.More; !more {
		t.Errorf("customer 2's orders after 3 of 4: more = %v, want true", more)
	}
	page, _ = db.NewCustomerOrderPage(5, 0)
	orders, err = db.OrdersByCustomerIDs(ctx, pool, keys, page, db.Columns[db.Order]{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 0, 4, 0, 1}; !lengths(rowsOf(orders), want) {
		t.Errorf("OrdersByCustomerIDs(limit 5) lengths = %v, want %v", lensOf(rowsOf(orders)), want)
	}
	for i, o := range orders {
		if o.End.More || (len(o.Rows) > 0) != (o.End.Cursor != "") {
			t.Errorf("key %d: %d orders end %+v, want no more and a cursor for a page with rows", i, len(o.Rows), o.End)
		}
	}
	counts, err := db.CountOrdersByCustomerIDs(ctx, pool, keys)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 0, 4, 0, 1}; !equalInts(counts, want) {
		t.Errorf("CountOrdersByCustomerIDs = %v, want %v", counts, want)
	}
	if _, err := db.CustomersByIDs(ctx, pool, nil, db.Columns[db.Customer]{}); err != nil {
		t.Errorf("no keys: %v", err)
	}
}

func rowsOf[T any](slices []db.Slice[T]) [][]*T {
	out := make([][]*T, len(slices))
	for i, s := range slices {
		out[i] = s.Rows
	}
	return out
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

// A read with chosen columns fills the fields behind them and the keys, and
// leaves the others empty; the zero Columns reads every column.
func TestColumnsChooseWhatIsRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	if err := seed.Load(ctx, pool, 3, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	page, err := db.NewCustomerPage(10, 0, "email")
	if err != nil {
		t.Fatal(err)
	}
	light, err := db.ListCustomers(ctx, pool, db.CustomerFilter{}, page, db.CustomerColumns([]string{"email", "groups", "no_such_field"}))
	if err != nil {
		t.Fatal(err)
	}
	full, err := db.ListCustomers(ctx, pool, db.CustomerFilter{}, page, db.Columns[db.Customer]{})
	if err != nil {
		t.Fatal(err)
	}
	if len(light) != 3 || len(full) != 3 {
		t.Fatalf("got %d and %d customers, want 3", len(light), len(full))
	}
	for i, c := range light {
		f := full[i]
		if c.ID != f.ID || c.Email != f.Email {
			t.Errorf("light read %q %q, full read %q %q", c.ID, c.Email, f.ID, f.Email)
		}
		if c.FirstName != nil || !c.CreatedAt.IsZero() || c.Metadata != nil {
			t.Errorf("light read filled unselected fields: %+v", c)
		}
		if f.FirstName == nil || f.CreatedAt.IsZero() {
			t.Errorf("full read left fields empty: %+v", f)
		}
	}

	ids := []string{full[0].ID}
	books, err := db.AddressesByCustomerIDs(ctx, pool, ids, db.AddressColumns([]string{"city"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(books[0]) != 2 {
		t.Fatalf("got %d addresses, want 2", len(books[0]))
	}
	a := books[0][0]
	if a.ID == "" || a.CustomerID != ids[0] || a.City == nil || !a.IsDefaultBilling || !a.IsDefaultShipping {
		t.Errorf("address read with city lacks a key, a default or the city: %+v", a)
	}
	if a.Address1 != nil || !a.CreatedAt.IsZero() {
		t.Errorf("address read with city filled other fields: %+v", a)
	}
}
