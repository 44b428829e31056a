package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"customerservice/errcode"
)

// byParent arranges rows fetched for many parents into one slice per key, in
// key order, as dataloaders need: a key without rows gets an empty slice.
// split returns a row's parent key and the value to list under it. The
// slices share one array, counted first, rather than grow one by one.
func byParent[R, T any](keys []string, rows []R, split func(R) (string, T)) [][]T {
	first := make(map[string]int, len(keys))
	for i, k := range keys {
		if _, ok := first[k]; !ok {
			first[k] = i
		}
	}
	counts := make([]int, len(keys))
	for _, r := range rows {
		k, _ := split(r)
		if i, ok := first[k]; ok {
			counts[i]++
		}
	}
	all := make([]T, 0, len(rows))
	out := make([][]T, len(keys))
	start := 0
	for i, n := range counts {
		out[i] = all[start : start : start+n]
		start += n
	}
	for _, r := range rows {
		k, v := split(r)
		if i, ok := first[k]; ok {
			out[i] = append(out[i], v)
		}
	}
	// A key asked for twice gets the rows of its first place.
	for i, k := range keys {
		out[i] = out[first[k]]
	}
	return out
}

// notFound turns sql.ErrNoRows into the NOT_FOUND error clients see for an
// unknown id, in Medusa's words; other errors are wrapped for the logs.
func notFound(err error, entity, id string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return &errcode.Error{Code: errcode.NotFound, Field: "id",
			Message: fmt.Sprintf("%s with id: %s was not found", entity, id)}
	}
	return fmt.Errorf("%s %s: %w", entity, id, err)
}

// countsByKey returns the count of each key, in key order, from rows of
// (key, count); a key without a row counts zero.
func countsByKey(keys []string, rows []keyCount) []int {
	index := make(map[string]int, len(rows))
	for _, r := range rows {
		index[r.Key] = r.Count
	}
	out := make([]int, len(keys))
	for i, k := range keys {
		out[i] = index[k]
	}
	return out
}

type keyCount struct {
	Key   string `db:"key"`
	Count int    `db:"count"`
}

// selectRows runs a query and scans each row into a new T through the
// pointers fields returns, in the order of the query's columns; fields may
// return the same slice for every row. It is the hot path of every list
// and batch: explicit pointers, no reflection.
func selectRows[T any](ctx context.Context, q sqlx.QueryerContext, query string, args []any, fields func(*T) []any) ([]*T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*T{}
	// Rows are allocated in blocks, each twice the last up to 64 rows: a
	// row is an allocation of its own only in a result of one row.
	var block []T
	for rows.Next() {
		if len(block) == cap(block) {
			block = make([]T, 0, min(2*cap(block)+1, 64))
		}
		block = block[:len(block)+1]
		v := &block[len(block)-1]
		if err := rows.Scan(fields(v)...); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// fields lists a line item's scan targets in the order of lineItemColumns.
func (i *LineItem) fields() []any {
	return []any{&i.ID, &i.OrderID, &i.Title, &i.Quantity, &i.UnitPrice, &i.Total}
}
