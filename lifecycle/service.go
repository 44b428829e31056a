// Package lifecycle runs the flows that end or join customer accounts:
// merging two customers (admin), exporting everything the service holds
// about a customer and erasing its personal data (GDPR's rights of access
// and erasure), and the storefront's account deletion, confirmed by mail
// and carried out after a grace period by a background job. It owns their
// transactions and their policy (what a merge keeps and refuses, what an
// erasure reaches, how long the grace and the token last); db holds their
// SQL; graph maps GraphQL onto them.
package lifecycle

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"customerservice/db"
)

// DefaultDeletionGrace is how long a confirmed account deletion waits
// before it is carried out, when Service.Grace is zero: a week in which
// the customer can change their mind (cancel_account_deletion).
const DefaultDeletionGrace = 7 * 24 * time.Hour

// DeletionTokenTTL is how long the token mailed for an account deletion
// can confirm it.
const DeletionTokenTTL = 24 * time.Hour

// Deletion requests are throttled, so that nobody signed in to an account
// can flood its mailbox: at most DeletionRequestsPerHour in an hour.
const DeletionRequestsPerHour = 5

// Service runs the account lifecycle flows.
type Service struct {
	DB *sqlx.DB
	// Grace is how long a confirmed account deletion waits;
	// DefaultDeletionGrace when zero, and none when negative (the
	// deletion is due at once).
	Grace time.Duration
}

// grace is the grace period in force.
func (s *Service) grace() time.Duration {
	switch {
	case s.Grace == 0:
		return DefaultDeletionGrace
	case s.Grace < 0:
		return 0
	}
	return s.Grace
}

// conn is what the flows' single statements run on: the pool, or the
// shared transaction of a request with an Idempotency-Key.
func (s *Service) conn(ctx context.Context) sqlx.ExtContext { return db.Conn(ctx, s.DB) }
