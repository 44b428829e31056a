package db

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// InTx runs fn in a transaction and commits when it returns no error, so a
// mutation happens completely or not at all.
func InTx[T any](ctx context.Context, pool *sqlx.DB, fn func(tx *sqlx.Tx) (T, error)) (T, error) {
	var zero T
	tx, err := pool.BeginTxx(ctx, nil)
	if err != nil {
		return zero, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	v, err := fn(tx)
	if err != nil {
		return zero, err
	}
	if err := tx.Commit(); err != nil {
		return zero, fmt.Errorf("commit: %w", err)
	}
	return v, nil
}
