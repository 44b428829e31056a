package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// ResetRequest is a password reset asked for an email, waiting to be
// turned into a token and a mail when the email has an identity.
type ResetRequest struct {
	ID        string    `db:"id"`
	Email     string    `db:"email"`
	ActorType string    `db:"actor_type"`
	CreatedAt time.Time `db:"created_at"`
}

// CreateResetRequest records a reset request for a clean email. It is the
// whole of request_password_reset's work, the same statement whether or not
// the email has an identity, so the answer's timing tells nothing.
func CreateResetRequest(ctx context.Context, q sqlx.ExecerContext, email, actorType string) error {
	const query = `INSERT INTO password_reset_request (id, email, actor_type) VALUES ($1, $2, $3)`
	if _, err := q.ExecContext(ctx, query, NewID(PrefixResetRequest), email, actorType); err != nil {
		return fmt.Errorf("create reset request: %w", err)
	}
	return nil
}

// ClaimResetRequest takes the oldest reset request off the queue and
// returns it, or nil when there is none. Run it in the transaction that
// acts on the request: a request stays queued until that commits, and
// other workers pass it by meanwhile.
func ClaimResetRequest(ctx context.Context, tx Tx) (*ResetRequest, error) {
	const query = `DELETE FROM password_reset_request r
		WHERE r.id = (SELECT o.id FROM password_reset_request o ORDER BY o.id LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING r.id, r.email, r.actor_type, r.created_at`
	var out ResetRequest
	if err := sqlx.GetContext(ctx, tx, &out, query); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("claim reset request: %w", err)
	}
	return &out, nil
}

// DropResetRequests forgets the queued requests of a clean email, once its
// password has been reset: a token made from one after the reset would
// outlive it.
func DropResetRequests(ctx context.Context, q sqlx.ExecerContext, email string) error {
	const query = `DELETE FROM password_reset_request WHERE email = $1`
	if _, err := q.ExecContext(ctx, query, email); err != nil {
		return fmt.Errorf("drop reset requests: %w", err)
	}
	return nil
}

// LockIdentityByEmail returns the identity of a clean email, locked until
// the transaction ends so that its reset mails are counted one request at a
// time, or nil when there is none. The lock lets logins read the identity
// and other rows refer to it.
func LockIdentityByEmail(ctx context.Context, tx Tx, email string) (*Identity, error) {
	const query = `SELECT ` + identityColumns + ` FROM auth_identity i WHERE i.email = $1 FOR NO KEY UPDATE`
	var out Identity
	if err := sqlx.GetContext(ctx, tx, &out, query, email); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("lock identity by email: %w", err)
	}
	return &out, nil
}

// ResetMailAllowed reports whether an identity may be mailed another reset
// token: none in the last interval, and fewer than perWindow in the last
// window.
func ResetMailAllowed(ctx context.Context, q sqlx.QueryerContext, identityID string, interval time.Duration, perWindow int, window time.Duration) (bool, error) {
	const query = `SELECT count(*) < $3 AND coalesce(max(t.created_at) <= now() - make_interval(secs => $2), true)
		FROM password_reset_token t
		WHERE t.auth_identity_id = $1 AND t.created_at > now() - make_interval(secs => $4)`
	var ok bool
	if err := sqlx.GetContext(ctx, q, &ok, query, identityID, interval.Seconds(), perWindow, window.Seconds()); err != nil {
		return false, fmt.Errorf("reset mail allowed: %w", err)
	}
	return ok, nil
}
