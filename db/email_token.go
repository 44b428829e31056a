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

// The purposes of an email token.
const (
	// EmailVerify proves the identity's email.
	EmailVerify = "verify"
	// EmailChange proves a new email, and changes the identity's to it.
	EmailChange = "change"
)

// EmailToken is a row of email_token without its hash.
type EmailToken struct {
	IdentityID string    `db:"auth_identity_id"`
	Purpose    string    `db:"purpose"`
	Email      string    `db:"email"`
	ExpiresAt  time.Time `db:"expires_at"`
}

// CreateEmailToken stores the hash of an email token of purpose for a
// clean email. Run it in the transaction that queues the mail carrying the
// token.
func CreateEmailToken(ctx context.Context, q sqlx.ExecerContext, identityID, purpose, email, tokenHash string, expires time.Time) error {
	const query = `INSERT INTO email_token (token_hash, auth_identity_id, purpose, email, expires_at) VALUES ($1, $2, $3, $4, $5)`
	if _, err := q.ExecContext(ctx, query, tokenHash, identityID, purpose, email, expires); err != nil {
		return fmt.Errorf("create email token: %w", err)
	}
	return nil
}

// DropEmailTokens spends an identity's unused email tokens of purpose
// ("" for every purpose): a newer request replaces them, and a changed
// email makes them moot.
func DropEmailTokens(ctx context.Context, q sqlx.ExecerContext, identityID, purpose string) error {
	const query = `UPDATE email_token SET used_at = now()
		WHERE auth_identity_id = $1 AND used_at IS NULL AND ($2 = '' OR purpose = $2)`
	if _, err := q.ExecContext(ctx, query, identityID, purpose); err != nil {
		return fmt.Errorf("drop email tokens: %w", err)
	}
	return nil
}

// EmailMailWait returns how long an identity must wait before it may be
// mailed another email token, by the same rule as reset mails: none in the
// last interval, fewer than perWindow in the last window. Zero: now.
func EmailMailWait(ctx context.Context, q sqlx.QueryerContext, identityID string, interval time.Duration, perWindow int, window time.Duration) (time.Duration, error) {
	const query = `SELECT greatest(
			coalesce(extract(epoch FROM max(t.created_at) + make_interval(secs => $2) - now()), 0),
			CASE WHEN count(*) >= $3
			     THEN extract(epoch FROM (array_agg(t.created_at ORDER BY t.created_at DESC))[$3] + make_interval(secs => $4) - now())
			     ELSE 0 END, 0)
		FROM email_token t
		WHERE t.auth_identity_id = $1 AND t.created_at > now() - make_interval(secs => $4)`
	var secs float64
	if err := sqlx.GetContext(ctx, q, &secs, query, identityID, interval.Seconds(), perWindow, window.Seconds()); err != nil {
		return 0, fmt.Errorf("email mail wait: %w", err)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// UseEmailToken spends an email token and returns it. Returns
// UNAUTHORIZED for a token that is unknown, used or expired; of concurrent
// uses, one succeeds (the update locks the row, and the later ones find it
// spent).
func UseEmailToken(ctx context.Context, q sqlx.QueryerContext, tokenHash string) (*EmailToken, error) {
	const query = `UPDATE email_token t SET used_at = now()
		WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now()
		RETURNING t.auth_identity_id, t.purpose, t.email, t.expires_at`
	var out EmailToken
	if err := sqlx.GetContext(ctx, q, &out, query, tokenHash); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errcode.New(errcode.Unauthorized, "Invalid or expired email token")
		}
		return nil, fmt.Errorf("use email token: %w", err)
	}
	return &out, nil
}

// LockIdentity returns an identity locked until the transaction ends, so
// that its email changes and tokens are decided one at a time. Returns
// NOT_FOUND when there is none.
func LockIdentity(ctx context.Context, tx Tx, id string) (*Identity, error) {
	const query = `SELECT ` + identityColumns + ` FROM auth_identity i WHERE i.id = $1 FOR NO KEY UPDATE`
	var out Identity
	if err := sqlx.GetContext(ctx, tx, &out, query, id); err != nil {
		return nil, notFound(err, "Identity", id)
	}
	return &out, nil
}

// MarkEmailVerified records that an identity's email reaches its owner,
// unless it is verified already.
func MarkEmailVerified(ctx context.Context, q sqlx.ExecerContext, identityID string) error {
	const query = `UPDATE auth_identity SET email_verified_at = now(), updated_at = now() WHERE id = $1 AND email_verified_at IS NULL`
	if _, err := q.ExecContext(ctx, query, identityID); err != nil {
		return fmt.Errorf("mark email verified: %w", err)
	}
	return nil
}

// ChangeIdentityEmail gives an identity a new clean email, verified now.
// Returns DUPLICATE_ERROR when another identity has it: the unique
// constraint decides between concurrent changes and registrations.
func ChangeIdentityEmail(ctx context.Context, q sqlx.ExecerContext, identityID, email string) error {
	const query = `UPDATE auth_identity SET email = $2, email_verified_at = now(), updated_at = now() WHERE id = $1`
	if _, err := q.ExecContext(ctx, query, identityID, email); err != nil {
		if errcode.Of(translate(err, "Identity")) == errcode.DuplicateError {
			return errcode.New(errcode.DuplicateError, "Identity with email already exists")
		}
		return fmt.Errorf("change identity email: %w", err)
	}
	return nil
}

// IdentityEmailVerified reports whether an identity's email is verified:
// shown to reach its owner by a token mailed to it. Flows that act on
// everything an email owns (claiming guest orders) ask it first.
func IdentityEmailVerified(ctx context.Context, q sqlx.QueryerContext, identityID string) (bool, error) {
	const query = `SELECT i.email_verified_at IS NOT NULL FROM auth_identity i WHERE i.id = $1`
	var ok bool
	if err := sqlx.GetContext(ctx, q, &ok, query, identityID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return false, fmt.Errorf("identity email verified: %w", err)
	}
	return ok, nil
}

// EmailVerifiedAtOfCustomers returns, for each customer id, when the email
// of the identity it is registered with was verified: nil for a guest, a
// customer without an identity, or an email not verified.
func EmailVerifiedAtOfCustomers(ctx context.Context, q sqlx.QueryerContext, ids []string) ([]*time.Time, error) {
	const query = `SELECT i.customer_id, i.email_verified_at FROM auth_identity i
		WHERE i.customer_id = ANY($1) AND i.email_verified_at IS NOT NULL`
	var rows []struct {
		CustomerID string    `db:"customer_id"`
		At         time.Time `db:"email_verified_at"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, query, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("email verification of customers: %w", err)
	}
	at := make(map[string]time.Time, len(rows))
	for _, r := range rows {
		at[r.CustomerID] = r.At
	}
	out := make([]*time.Time, len(ids))
	for i, id := range ids {
		if t, ok := at[id]; ok {
			out[i] = &t
		}
	}
	return out, nil
}

// RegisteredEmailTaken reports whether a registered customer other than
// self ("" for none), not deleted, has a clean email: such customers are
// unique by email (customer_email_has_account_key), guests are not.
func RegisteredEmailTaken(ctx context.Context, q sqlx.QueryerContext, email, self string) (bool, error) {
	const query = `SELECT EXISTS (SELECT FROM customer c
		WHERE c.email = $1 AND c.has_account AND c.deleted_at IS NULL AND c.id <> $2)`
	var taken bool
	if err := sqlx.GetContext(ctx, q, &taken, query, email, self); err != nil {
		return false, fmt.Errorf("registered email taken: %w", err)
	}
	return taken, nil
}
