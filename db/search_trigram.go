package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// RefreshSearchTrigrams counts again, in a sample of the customers, how
// many have each trigram, which decides the part of a q search the
// trigram index is asked for (migration 0020), unless the counts are
// younger than maxAge (another server made them) and the customers have
// not doubled or halved since (migration 0022). It reports whether it
// counted. Counts that lag behind the customers make searches slower,
// never their answers wrong.
func RefreshSearchTrigrams(ctx context.Context, q sqlx.QueryerContext, maxAge time.Duration) (bool, error) {
	var counted bool
	if err := q.QueryRowxContext(ctx, `SELECT refresh_search_trigrams($1 * interval '1 microsecond')`, maxAge.Microseconds()).Scan(&counted); err != nil {
		return false, fmt.Errorf("refresh search trigrams: %w", err)
	}
	return counted, nil
}
