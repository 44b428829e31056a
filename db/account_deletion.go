package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"customerservice/errcode"
)

// AccountDeletion is a row of account_deletion_request: a customer's
// request to delete its account (migration 0016).
type AccountDeletion struct {
	ID             string         `db:"id"`
	CustomerID     string         `db:"customer_id"`
	Status         DeletionStatus `db:"status"`
	TokenExpiresAt time.Time      `db:"token_expires_at"`
	ConfirmedAt    *time.Time     `db:"confirmed_at"`
	ScheduledFor   *time.Time     `db:"scheduled_for"`
	CreatedAt      time.Time      `db:"created_at"`
}

const accountDeletionColumns = `d.id, d.customer_id, d.status, d.token_expires_at, d.confirmed_at, d.scheduled_for, d.created_at`

// DeletionStatus is the state of an account deletion request.
type DeletionStatus string

// The states of an account deletion request.
const (
	DeletionRequested DeletionStatus = "requested"
	DeletionScheduled DeletionStatus = "scheduled"
	DeletionCanceled  DeletionStatus = "canceled"
	DeletionReplaced  DeletionStatus = "replaced"
	DeletionCompleted DeletionStatus = "completed"
)

// OpenAccountDeletion returns the customer's open request (requested or
// scheduled), or nil.
func OpenAccountDeletion(ctx context.Context, q sqlx.QueryerContext, customerID string) (*AccountDeletion, error) {
	query := `SELECT ` + accountDeletionColumns + ` FROM account_deletion_request d
		WHERE d.customer_id = $1 AND d.status IN ('requested', 'scheduled')`
	var out AccountDeletion
	if err := sqlx.GetContext(ctx, q, &out, query, customerID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("open account deletion: %w", err)
	}
	return &out, nil
}

// AccountDeletionsSince counts a customer's requests made after since.
func AccountDeletionsSince(ctx context.Context, q sqlx.QueryerContext, customerID string, since time.Time) (int, error) {
	var n int
	const query = `SELECT count(*) FROM account_deletion_request WHERE customer_id = $1 AND created_at > $2`
	if err := sqlx.GetContext(ctx, q, &n, query, customerID, since); err != nil {
		return 0, fmt.Errorf("account deletions since: %w", err)
	}
	return n, nil
}

// CreateAccountDeletion records a request with the hash of the token
// mailed for it, replacing the customer's unconfirmed one. Run it with the
// customer locked (LockCustomersForChange) after OpenAccountDeletion.
func CreateAccountDeletion(ctx context.Context, tx Tx, customerID, tokenHash string, expires time.Time) (*AccountDeletion, error) {
	const replace = `UPDATE account_deletion_request SET status = 'replaced', decided_at = now()
		WHERE customer_id = $1 AND status = 'requested'`
	if _, err := tx.ExecContext(ctx, replace, customerID); err != nil {
		return nil, fmt.Errorf("replace account deletion: %w", err)
	}
	query := `INSERT INTO account_deletion_request AS d (id, customer_id, token_hash, token_expires_at)
		VALUES ($1, $2, $3, $4) RETURNING ` + accountDeletionColumns
	var out AccountDeletion
	if err := sqlx.GetContext(ctx, tx, &out, query, NewID(PrefixDeletion), customerID, tokenHash, expires); err != nil {
		return nil, fmt.Errorf("create account deletion: %w", translate(err, "Account deletion"))
	}
	return &out, nil
}

// ConfirmAccountDeletion spends the token of a requested, unexpired
// request and schedules the deletion grace from now. Of concurrent uses,
// one succeeds. Returns NOT_ALLOWED "Invalid token." for a token that is
// unknown, used, replaced, canceled or expired, or whose customer is gone.
func ConfirmAccountDeletion(ctx context.Context, tx Tx, tokenHash string, grace time.Duration) (*AccountDeletion, error) {
	query := `UPDATE account_deletion_request d SET status = 'scheduled', confirmed_at = now(),
			scheduled_for = now() + make_interval(secs => $2)
		FROM customer c
		WHERE d.token_hash = $1 AND d.status = 'requested' AND d.token_expires_at > now()
			AND c.id = d.customer_id AND c.deleted_at IS NULL
		RETURNING ` + accountDeletionColumns
	var out AccountDeletion
	if err := sqlx.GetContext(ctx, tx, &out, query, tokenHash, grace.Seconds()); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errcode.New(errcode.NotAllowed, "Invalid token.")
		}
		return nil, fmt.Errorf("confirm account deletion: %w", err)
	}
	return &out, nil
}

// CancelAccountDeletion cancels the customer's open request, requested or
// scheduled, and returns it. Returns NOT_FOUND when there is none.
func CancelAccountDeletion(ctx context.Context, tx Tx, customerID string) (*AccountDeletion, error) {
	query := `UPDATE account_deletion_request d SET status = 'canceled', decided_at = now()
		WHERE d.customer_id = $1 AND d.status IN ('requested', 'scheduled') RETURNING ` + accountDeletionColumns
	var out AccountDeletion
	if err := sqlx.GetContext(ctx, tx, &out, query, customerID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errcode.New(errcode.NotFound, "No account deletion is pending")
		}
		return nil, fmt.Errorf("cancel account deletion: %w", err)
	}
	return &out, nil
}

// ClaimDueAccountDeletion locks the oldest scheduled request whose time
// has come, passing by those another server holds, and returns it, or nil
// when none is due.
func ClaimDueAccountDeletion(ctx context.Context, tx Tx) (*AccountDeletion, error) {
	query := `SELECT ` + accountDeletionColumns + ` FROM account_deletion_request d
		WHERE d.status = 'scheduled' AND d.scheduled_for <= now()
		ORDER BY d.scheduled_for, d.id LIMIT 1 FOR UPDATE SKIP LOCKED`
	var out AccountDeletion
	if err := sqlx.GetContext(ctx, tx, &out, query); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("claim account deletion: %w", err)
	}
	return &out, nil
}

// CloseAccountDeletions marks the open requests of these customers
// completed: their accounts are erased.
func CloseAccountDeletions(ctx context.Context, tx Tx, customerIDs []string) error {
	const query = `UPDATE account_deletion_request SET status = 'completed', decided_at = now()
		WHERE customer_id = ANY($1) AND status IN ('requested', 'scheduled')`
	if _, err := tx.ExecContext(ctx, query, pq.Array(customerIDs)); err != nil {
		return fmt.Errorf("close account deletions: %w", err)
	}
	return nil
}
