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
