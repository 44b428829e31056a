package db_test

import (
	"context"
	"testing"
	"time"

	"customerservice/db"
	"customerservice/db/dbtest"
)

// Every server refreshes the search counts at start and hourly: counts
// younger than the age asked for stand, so one count serves them all.
func TestSearchTrigramsAreCountedOnceForEveryServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	if _, err := pool.ExecContext(ctx, `INSERT INTO customer (id, email) VALUES ($1, 'counted4321@example.com')`, db.NewID(db.PrefixCustomer)); err != nil {
		t.Fatal(err)
	}
	for i, step := range []struct {
		maxAge time.Duration
		want   bool
	}{
		{0, true},               // asked to count: counts
		{time.Hour, false},      // counted a moment ago: stands
		{time.Nanosecond, true}, // older than asked: counts
	} {
		counted, err := db.RefreshSearchTrigrams(ctx, pool, step.maxAge)
		if err != nil {
			t.Fatal(err)
		}
		if counted != step.want {
			t.Errorf("step %d (max age %v): counted %t, want %t", i, step.maxAge, counted, step.want)
		}
	}
	var share float64
	if err := pool.QueryRowContext(ctx, `SELECT share FROM search_trigram WHERE trigram = '432'`).Scan(&share); err != nil || share != 1 {
		t.Errorf("trigram 432: share %v, %v; want 1 (the one customer has it)", share, err)
	}
}

// A new database is counted empty by its migrations; an import then must
// not leave its searches on those counts for the rest of the hour.
func TestSearchTrigramsAreCountedAgainWhenCustomersDouble(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	refresh := func() bool {
		t.Helper()
		counted, err := db.RefreshSearchTrigrams(ctx, pool, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return counted
	}
	// The migrations counted the empty table a moment ago.
	if refresh() {
		t.Error("counted again with nothing changed")
	}
	if _, err := pool.ExecContext(ctx, `INSERT INTO customer (id, email)
		SELECT 'cus_' || lpad(i::text, 26, '0'), 'grown' || i || '@example.com' FROM generate_series(1, 3000) AS i`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.ExecContext(ctx, `ANALYZE customer`); err != nil {
		t.Fatal(err)
	}
	if !refresh() {
		t.Error("3,000 customers more: the counts of none stood")
	}
	if refresh() {
		t.Error("counted again right after counting")
	}
	var share float64
	if err := pool.QueryRowContext(ctx, `SELECT share FROM search_trigram WHERE trigram = 'row'`).Scan(&share); err != nil || share != 1 {
		t.Errorf("trigram row: share %v, %v; want 1 (every customer has it)", share, err)
	}
}

// The sample is about 20,000 customers at any size; integer arithmetic
// once made it 0% above 2,000,000, and the counts empty.
func TestSearchSampleIsAbout20000Customers(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	for _, tt := range []struct {
		customers int64
		percent   float64
	}{{0, 100}, {15_000, 100}, {40_000, 50}, {1_500_000, 4.0 / 3}, {3_000_000, 2.0 / 3}, {100_000_000, 0.02}} {
		var percent float64
		if err := pool.QueryRowContext(context.Background(), `SELECT search_sample_percent($1)`, tt.customers).Scan(&percent); err != nil {
			t.Fatal(err)
		}
		if diff := percent - tt.percent; diff > 1e-9 || diff < -1e-9 {
			t.Errorf("%d customers: sample %v%%, want %v%%", tt.customers, percent, tt.percent)
		}
	}
}
