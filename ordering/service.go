// Package ordering runs the order flows a storefront drives: checkout, by
// a guest or a signed-in customer, and the transfer of a guest's order to
// the registered customer who owns its email. It owns their transactions
// and their policy: what a guest checkout may show of its customer, how
// long a transfer token lasts, how often transfers may be requested, how
// the order's email is shown to the asker. db holds their SQL; graph maps
// GraphQL onto them.
package ordering

import (
	"context"

	"github.com/jmoiron/sqlx"

	"customerservice/db"
)

// Service runs the order flows.
type Service struct {
	DB *sqlx.DB
}

// conn is what the flows' single statements run on: the pool, or the
// shared transaction of a request with an Idempotency-Key (db.BeginShared),
// so that what a keyed request does is kept with its answer or not at all.
// db.InTx takes the pool and finds the transaction itself.
func (s *Service) conn(ctx context.Context) sqlx.ExtContext { return db.Conn(ctx, s.DB) }
