package db_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"customerservice/db"
	"customerservice/db/dbtest"
	"customerservice/db/seed"
)

// A page after a cursor starts its index scans at the cursor: the keyset
// is an index condition, never a filter that reads and drops the rows
// before it, for a column with nulls (last_order_at, whose nulls sort
// last descending and first ascending) as for one without. The planner is
// kept from sequential scans and sorts, which it prefers on a small table.
func TestKeysetIsAnIndexCondition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	if err := seed.Load(ctx, pool, 200, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		order string
		// where is how deep the cursor is: in the values, or in the
		// nulls.
		offset int
		index  string
		conds  []string
	}{
		{"-created_at", 100, "customer_created_at", []string{"Index Cond: (ROW(created_at, id) < ROW("}},
		{"-last_order_at", 100, "customer_stats_last_order_at_idx",
			[]string{"Index Cond: (ROW(last_order_at, customer_id) < ROW(", "Index Cond: (last_order_at IS NULL)"}},
		{"last_order_at", 20, "customer_stats_last_order_at_idx",
			[]string{"Index Cond: ((last_order_at IS NULL) AND (customer_id > ", "Index Cond: (last_order_at IS NOT NULL)"}},
		{"last_order_at", 100, "customer_stats_last_order_at_idx", []string{"Index Cond: (ROW(last_order_at, customer_id) > ROW("}},
	} {
		p, err := db.NewCustomerPage(20, tc.offset, tc.order)
		if err != nil {
			t.Fatal(err)
		}
		end, err := db.CustomerPageEnd(ctx, pool, db.CustomerFilter{}, p)
		if err != nil || end.Cursor == "" {
			t.Fatalf("%s: end %+v, %v", tc.order, end, err)
		}
		p, _ = db.NewCustomerPage(20, 0, tc.order)
		if p, err = p.WithCursor("after", &end.Cursor); err != nil {
			t.Fatal(err)
		}
		query, args, err := db.CustomerPageSQL(db.CustomerFilter{}, p)
		if err != nil {
			t.Fatal(err)
		}
		tx := pool.MustBegin()
		tx.MustExec(`SET LOCAL enable_seqscan = off`)
		tx.MustExec(`SET LOCAL enable_sort = off`)
		var lines []string
		if err := tx.Select(&lines, "EXPLAIN "+query, args...); err != nil {
			t.Fatalf("%s: %v\n%s", tc.order, err, query)
		}
		tx.Rollback()
		plan := strings.Join(lines, "\n")
		if !strings.Contains(plan, tc.index) {
			t.Errorf("%s: the plan does not use %s:\n%s", tc.order, tc.index, plan)
		}
		for _, c := range tc.conds {
			if !strings.Contains(plan, c) {
				t.Errorf("%s: the plan lacks %q:\n%s", tc.order, c, plan)
			}
		}
		for _, l := range lines {
			if strings.Contains(l, "Filter:") && (strings.Contains(l, "ROW(") || strings.Contains(l, "last_order_at")) {
				t.Errorf("%s: the keyset is a filter: %s\n%s", tc.order, l, plan)
			}
		}
	}
}
