package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"customerservice/errcode"
)

// Identity is a row of auth_identity: an email and password that log in,
// shared by at most one customer and one admin user.
type Identity struct {
	ID           string  `db:"id"`
	Email        string  `db:"email"`
	PasswordHash string  `db:"password_hash"`
	CustomerID   *string `db:"customer_id"`
	UserID       *string `db:"user_id"`
	// TokenGeneration is put in every token issued for the identity; a
	// password reset moves it on, which ends the tokens issued before.
	TokenGeneration int       `db:"token_generation"`
	CreatedAt       time.Time `db:"created_at"`
	// EmailVerifiedAt is when the email was last shown to reach the
	// identity's owner (a verification token, or the token that confirmed
	// an email change); nil while it is not.
	EmailVerifiedAt *time.Time `db:"email_verified_at"`
}

const identityColumns = `i.id, i.email, i.password_hash, i.customer_id, i.user_id, i.token_generation, i.created_at, i.email_verified_at`

// identityExists is Medusa's answer to registering a taken email,
// whichever actor the identity belongs to. A new value each time, so no
// caller can change the answer for the next.
func identityExists() error {
	return errcode.New(errcode.Unauthorized, "Identity with email already exists")
}

// CreateIdentity adds an identity; email must be clean (see CleanEmail).
// Returns UNAUTHORIZED (Medusa's message) when the email has one: the
// unique constraint decides between concurrent registrations.
func CreateIdentity(ctx context.Context, q sqlx.QueryerContext, email, passwordHash string) (*Identity, error) {
	const query = `INSERT INTO auth_identity AS i (id, email, password_hash) VALUES ($1, $2, $3) RETURNING ` + identityColumns
	var out Identity
	if err := sqlx.GetContext(ctx, q, &out, query, NewID(PrefixIdentity), email, passwordHash); err != nil {
		if errcode.Of(translate(err, "Identity")) == errcode.DuplicateError {
			return nil, identityExists()
		}
		return nil, fmt.Errorf("create identity: %w", err)
	}
	return &out, nil
}

// IdentityByEmail returns the identity of a clean email, or nil when there
// is none.
func IdentityByEmail(ctx context.Context, q sqlx.QueryerContext, email string) (*Identity, error) {
	const query = `SELECT ` + identityColumns + ` FROM auth_identity i WHERE i.email = $1`
	var out Identity
	if err := sqlx.GetContext(ctx, q, &out, query, email); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("identity by email: %w", err)
	}
	return &out, nil
}

// IdentityByID returns an identity. Returns NOT_FOUND when there is none.
func IdentityByID(ctx context.Context, q sqlx.QueryerContext, id string) (*Identity, error) {
	const query = `SELECT ` + identityColumns + ` FROM auth_identity i WHERE i.id = $1`
	var out Identity
	if err := sqlx.GetContext(ctx, q, &out, query, id); err != nil {
		return nil, notFound(err, "Identity", id)
	}
	return &out, nil
}

// LinkCustomer makes customerID the identity's customer. Returns
// NOT_ALLOWED when the identity has one already, as a concurrent request
// may have just linked.
func LinkCustomer(ctx context.Context, q sqlx.ExecerContext, identityID, customerID string) error {
	return link(ctx, q, "customer_id", identityID, customerID, "Request already authenticated as a customer")
}

// LinkUser makes userID the identity's admin user. Returns NOT_ALLOWED
// when the identity has one already.
func LinkUser(ctx context.Context, q sqlx.ExecerContext, identityID, userID string) error {
	return link(ctx, q, "user_id", identityID, userID, "The identity belongs to an admin user already")
}

func link(ctx context.Context, q sqlx.ExecerContext, column, identityID, actorID, taken string) error {
	query := `UPDATE auth_identity SET ` + column + ` = $2, updated_at = now() WHERE id = $1 AND ` + column + ` IS NULL`
	res, err := q.ExecContext(ctx, query, identityID, actorID)
	if err != nil {
		return fmt.Errorf("link identity: %w", translate(err, "Identity"))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("link identity: %w", err)
	} else if n == 0 {
		return errcode.New(errcode.NotAllowed, "%s", taken)
	}
	return nil
}

// TokenState is what decides whether an identity's tokens still stand:
// its token generation and the actors it is linked to now.
type TokenState struct {
	Generation int     `db:"token_generation"`
	CustomerID *string `db:"customer_id"`
	UserID     *string `db:"user_id"`
	// SessionStands is whether the session asked about is neither revoked
	// nor lapsed; true when none was asked about (a token from before
	// sessions).
	SessionStands bool `db:"session_stands"`
}

// IdentityTokenState returns the token state of an identity and of its
// session sessionID ("" for none), or nil when there is no such identity.
// It is read for every request that carries a token, by primary keys, in
// one statement.
func IdentityTokenState(ctx context.Context, q sqlx.QueryerContext, id, sessionID string) (*TokenState, error) {
	const query = `SELECT i.token_generation, i.customer_id, i.user_id,
		$2 = '' OR EXISTS (SELECT FROM auth_session s WHERE s.id = $2 AND s.auth_identity_id = i.id
			AND s.revoked_at IS NULL AND s.expires_at > now()) AS session_stands
		FROM auth_identity i WHERE i.id = $1`
	var out TokenState
	if err := sqlx.GetContext(ctx, q, &out, query, id, sessionID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("token state of %s: %w", id, err)
	}
	return &out, nil
}

// SetPassword replaces an identity's password hash and moves its token
// generation on, so every token issued with the old password stops working.
func SetPassword(ctx context.Context, q sqlx.ExecerContext, identityID, passwordHash string) error {
	const query = `UPDATE auth_identity SET password_hash = $2, token_generation = token_generation + 1, updated_at = now() WHERE id = $1`
	if _, err := q.ExecContext(ctx, query, identityID, passwordHash); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}

// CreateResetToken stores the hash of a password reset token.
func CreateResetToken(ctx context.Context, q sqlx.ExecerContext, identityID, tokenHash string, expires time.Time) error {
	const query = `INSERT INTO password_reset_token (token_hash, auth_identity_id, expires_at) VALUES ($1, $2, $3)`
	if _, err := q.ExecContext(ctx, query, tokenHash, identityID, expires); err != nil {
		return fmt.Errorf("create reset token: %w", err)
	}
	return nil
}

// UseResetToken spends a reset token, and with it every other unused
// reset token of its identity (a link mailed before a reset must not reset
// the password again), and returns the identity. Returns UNAUTHORIZED for
// a token that is unknown, used or expired. Of concurrent uses of one
// identity's tokens, one succeeds: each statement locks the identity's
// token rows in the same order, and the later ones find them spent.
func UseResetToken(ctx context.Context, q sqlx.QueryerContext, tokenHash string) (string, error) {
	const query = `WITH target AS (
		SELECT t.auth_identity_id FROM password_reset_token t
		WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now()
	)
	UPDATE password_reset_token p SET used_at = now()
	FROM target
	WHERE p.auth_identity_id = target.auth_identity_id AND p.used_at IS NULL
	RETURNING p.auth_identity_id, p.token_hash = $1 AS presented`
	var rows []struct {
		IdentityID string `db:"auth_identity_id"`
		Presented  bool   `db:"presented"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, query, tokenHash); err != nil {
		return "", fmt.Errorf("use reset token: %w", err)
	}
	for _, r := range rows {
		if r.Presented {
			return r.IdentityID, nil
		}
	}
	return "", errcode.New(errcode.Unauthorized, "Invalid or expired reset token")
}
