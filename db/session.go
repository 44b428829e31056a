package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Session is a row of auth_session: one login, whose access tokens carry
// its id and whose refresh tokens rotate within it. It holds no secret.
type Session struct {
	ID            string    `db:"id"`
	IdentityID    string    `db:"auth_identity_id"`
	ActorType     string    `db:"actor_type"`
	UserAgent     *string   `db:"user_agent"`
	ClientAddress *string   `db:"client_address"`
	CreatedAt     time.Time `db:"created_at"`
	LastUsedAt    time.Time `db:"last_used_at"`
	ExpiresAt     time.Time `db:"expires_at"`
	// Current is true for the session of the request that lists it.
	Current bool `db:"current"`
}

// Why a session was revoked, as auth_session.revoked_reason says it.
const (
	RevokedLogout           = "logout"
	RevokedLogoutEverywhere = "logout_everywhere"
	RevokedPasswordChanged  = "password_changed"
	RevokedPasswordReset    = "password_reset"
	RevokedRefreshReused    = "refresh_token_reused"
)

// maxUserAgent bounds the user agent a session keeps: enough to tell
// browsers apart, and no more of what a client may send.
const maxUserAgent = 512

// CreateSession starts a session of an identity, which lapses at expires
// unless refreshed, and stores the hash of its first refresh token.
func CreateSession(ctx context.Context, tx Tx, identityID, actorType, userAgent, clientAddr, refreshHash string, expires time.Time) (string, error) {
	if len(userAgent) > maxUserAgent {
		userAgent = userAgent[:maxUserAgent]
	}
	userAgent = strings.ReplaceAll(strings.ToValidUTF8(userAgent, ""), "\x00", "")
	id := NewID(PrefixSession)
	const query = `INSERT INTO auth_session (id, auth_identity_id, actor_type, user_agent, client_address, expires_at)
		VALUES ($1, $2, $3, nullif($4, ''), nullif($5, ''), $6)`
	if _, err := tx.ExecContext(ctx, query, id, identityID, actorType, userAgent, clientAddr, expires); err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	if err := addRefreshToken(ctx, tx, id, refreshHash); err != nil {
		return "", err
	}
	return id, nil
}

func addRefreshToken(ctx context.Context, tx Tx, sessionID, hash string) error {
	const query = `INSERT INTO refresh_token (token_hash, session_id) VALUES ($1, $2)`
	if _, err := tx.ExecContext(ctx, query, hash, sessionID); err != nil {
		return fmt.Errorf("add refresh token: %w", err)
	}
	return nil
}

// RefreshOutcome is what presenting a refresh token came to.
type RefreshOutcome int

// The outcomes of SpendRefreshToken.
const (
	// RefreshInvalid: unknown, or its session is revoked or lapsed.
	RefreshInvalid RefreshOutcome = iota
	// RefreshRotated: spent, and the next token of the session stored.
	RefreshRotated
	// RefreshReused: spent before; the session is now revoked.
	RefreshReused
)

// SpendRefreshToken spends a refresh token: when it is its session's
// unspent token and the session stands, it is marked used, nextHash is
// stored as the session's next token, the session's last use and expiry
// move on, and the session is returned. A token spent before revokes its
// session (reuse detection: one of the two presenters is not the owner).
// Of two concurrent uses of one token, the second waits for the first's
// row lock and then finds it spent, so it revokes the session too.
func SpendRefreshToken(ctx context.Context, tx Tx, hash, nextHash string, expires time.Time) (*Session, RefreshOutcome, error) {
	var row struct {
		SessionID string       `db:"session_id"`
		UsedAt    sql.NullTime `db:"used_at"`
	}
	// FOR UPDATE waits for a concurrent spender and then reads the row as
	// it committed it: spent.
	const lock = `SELECT t.session_id, t.used_at FROM refresh_token t WHERE t.token_hash = $1 FOR UPDATE`
	err := sqlx.GetContext(ctx, tx, &row, lock, hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, RefreshInvalid, nil
	}
	if err != nil {
		return nil, RefreshInvalid, fmt.Errorf("spend refresh token: %w", err)
	}
	if row.UsedAt.Valid {
		if _, err := RevokeSession(ctx, tx, row.SessionID, RevokedRefreshReused); err != nil {
			return nil, RefreshInvalid, err
		}
		return nil, RefreshReused, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE refresh_token SET used_at = now() WHERE token_hash = $1`, hash); err != nil {
		return nil, RefreshInvalid, fmt.Errorf("spend refresh token: %w", err)
	}
	var s Session
	const touch = `UPDATE auth_session s SET last_used_at = now(), expires_at = $2
		WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
		RETURNING ` + sessionColumns + `, true AS current`
	if err := sqlx.GetContext(ctx, tx, &s, touch, row.SessionID, expires); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, RefreshInvalid, nil
		}
		return nil, RefreshInvalid, fmt.Errorf("touch session: %w", err)
	}
	if err := addRefreshToken(ctx, tx, s.ID, nextHash); err != nil {
		return nil, RefreshInvalid, err
	}
	return &s, RefreshRotated, nil
}

const sessionColumns = `s.id, s.auth_identity_id, s.actor_type, s.user_agent, s.client_address, s.created_at, s.last_used_at, s.expires_at`

// RevokeSession revokes a session, if it stands, for reason, and reports
// whether it did.
func RevokeSession(ctx context.Context, q sqlx.ExecerContext, id, reason string) (bool, error) {
	const query = `UPDATE auth_session SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL`
	res, err := q.ExecContext(ctx, query, id, reason)
	if err != nil {
		return false, fmt.Errorf("revoke session: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// RevokeSessions revokes every standing session of an identity but keep
// ("" for none), for reason, and returns how many it revoked.
func RevokeSessions(ctx context.Context, q sqlx.ExecerContext, identityID, keep, reason string) (int64, error) {
	const query = `UPDATE auth_session SET revoked_at = now(), revoked_reason = $3
		WHERE auth_identity_id = $1 AND id <> $2 AND revoked_at IS NULL`
	res, err := q.ExecContext(ctx, query, identityID, keep, reason)
	if err != nil {
		return 0, fmt.Errorf("revoke sessions: %w", err)
	}
	return res.RowsAffected()
}

// ActiveSessions returns an identity's sessions that stand (not revoked,
// not lapsed), the 100 newest first, marking current the one with that id.
func ActiveSessions(ctx context.Context, q sqlx.QueryerContext, identityID, current string) ([]*Session, error) {
	const query = `SELECT ` + sessionColumns + `, s.id = $2 AS current FROM auth_session s
		WHERE s.auth_identity_id = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
		ORDER BY s.created_at DESC, s.id DESC LIMIT 100`
	out := []*Session{}
	if err := sqlx.SelectContext(ctx, q, &out, query, identityID, current); err != nil {
		return nil, fmt.Errorf("sessions of %s: %w", identityID, err)
	}
	return out, nil
}

// EndTokenGeneration moves an identity's token generation on, which ends
// every token issued before, those of no session included.
func EndTokenGeneration(ctx context.Context, q sqlx.ExecerContext, identityID string) error {
	const query = `UPDATE auth_identity SET token_generation = token_generation + 1, updated_at = now() WHERE id = $1`
	if _, err := q.ExecContext(ctx, query, identityID); err != nil {
		return fmt.Errorf("end token generation: %w", err)
	}
	return nil
}

// MarkPasswordChange tells the event triggers that the transaction's
// password change is one the owner made (change_password), not a reset.
func MarkPasswordChange(ctx context.Context, tx Tx) error {
	if _, err := tx.ExecContext(ctx, `SELECT set_config('app.password_change', 'on', true)`); err != nil {
		return fmt.Errorf("mark password change: %w", err)
	}
	return nil
}

// DropResetTokens spends an identity's unused password reset tokens: a
// link mailed before a password change must not undo it.
func DropResetTokens(ctx context.Context, q sqlx.ExecerContext, identityID string) error {
	const query = `UPDATE password_reset_token SET used_at = now() WHERE auth_identity_id = $1 AND used_at IS NULL`
	if _, err := q.ExecContext(ctx, query, identityID); err != nil {
		return fmt.Errorf("drop reset tokens: %w", err)
	}
	return nil
}

// PurgeSessions deletes what sessions and email tokens leave behind once
// it is of no use: sessions revoked or lapsed more than keep ago (with
// their refresh tokens), refresh tokens spent more than keep ago (a reuse
// that late is refused as unknown instead of ending the session), and
// email tokens used or expired more than keep ago. It returns how many
// rows it deleted.
func PurgeSessions(ctx context.Context, q sqlx.ExecerContext, keep time.Duration) (int64, error) {
	var total int64
	for _, query := range []string{
		`DELETE FROM auth_session WHERE coalesce(revoked_at, expires_at) < now() - make_interval(secs => $1)`,
		`DELETE FROM refresh_token WHERE used_at < now() - make_interval(secs => $1)`,
		`DELETE FROM email_token WHERE coalesce(used_at, expires_at) < now() - make_interval(secs => $1)`,
	} {
		res, err := q.ExecContext(ctx, query, keep.Seconds())
		if err != nil {
			return total, fmt.Errorf("purge sessions: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
