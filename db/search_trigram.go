package db

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// RefreshSearchTrigrams counts again, in a sample of the customers, how
// many have each trigram, which decides the part of a q search the
// trigram index is asked for (migration 0020). Counts that lag behind the
// customers make searches slower, never their answers wrong.
func RefreshSearchTrigrams(ctx context.Context, q sqlx.ExecerContext) error {
	if _, err := q.ExecContext(ctx, `SELECT refresh_search_trigrams()`); err != nil {
		return fmt.Errorf("refresh search trigrams: %w", err)
	}
	return nil
}
