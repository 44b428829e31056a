package db

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/acme/customerservice/errcode"
)

// byParent arranges rows fetched for many parents into one slice per key, in
// key order, as dataloaders need: a key without rows gets an empty slice.
// split returns a row's parent key and the value to list under it.
func byParent[R, T any](keys []string, rows []R, split func(R) (string, T)) [][]T {
	index := make(map[string][]int, len(keys))
	for i, k := range keys {
		index[k] = append(index[k], i)
	}
	out := make([][]T, len(keys))
	for i := range out {
		out[i] = []T{}
	}
	for _, r := range rows {
		k, v := split(r)
		for _, i := range index[k] {
			out[i] = append(out[i], v)
		}
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
