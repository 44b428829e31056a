package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// IdempotencyTTL is how long a response is kept for retries.
const IdempotencyTTL = 24 * time.Hour

// IdempotentResponse is the state of an idempotency key.
type IdempotentResponse struct {
	RequestHash string  `db:"request_hash"`
	Status      *int    `db:"status"`
	ContentType *string `db:"content_type"`
	Response    []byte  `db:"response"`
}

// Done reports whether the first request finished and its response is kept.
func (r *IdempotentResponse) Done() bool { return r.Status != nil }

// ClaimIdempotencyKey makes this request the one that acts for a key,
// unless a request within the TTL already claimed it and either answered or
// claimed it less than abandonAfter ago. The primary key decides between
// concurrent claims.
func ClaimIdempotencyKey(ctx context.Context, q sqlx.ExtContext, scope, key, requestHash string, abandonAfter time.Duration) (bool, error) {
	const expire = `DELETE FROM idempotency_key WHERE scope = $1 AND key = $2
		AND (created_at < now() - make_interval(secs => $3) OR (status IS NULL AND created_at < now() - make_interval(secs => $4)))`
	if _, err := q.ExecContext(ctx, expire, scope, key, IdempotencyTTL.Seconds(), abandonAfter.Seconds()); err != nil {
		return false, fmt.Errorf("expire idempotency key: %w", err)
	}
	const claim = `INSERT INTO idempotency_key (scope, key, request_hash) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING RETURNING true`
	var claimed bool
	err := sqlx.GetContext(ctx, q, &claimed, claim, scope, key, requestHash)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim idempotency key: %w", err)
	}
	return true, nil
}

// IdempotencyKeyState returns what is kept for a key, or nil when nothing
// is.
func IdempotencyKeyState(ctx context.Context, q sqlx.QueryerContext, scope, key string) (*IdempotentResponse, error) {
	const query = `SELECT request_hash, status, content_type, response FROM idempotency_key WHERE scope = $1 AND key = $2`
	var out IdempotentResponse
	if err := sqlx.GetContext(ctx, q, &out, query, scope, key); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("idempotency key state: %w", err)
	}
	return &out, nil
}

// CompleteIdempotencyKey keeps the response of the request that claimed a
// key.
func CompleteIdempotencyKey(ctx context.Context, q sqlx.ExecerContext, scope, key string, status int, contentType string, response []byte) error {
	const query = `UPDATE idempotency_key SET status = $3, content_type = $4, response = $5, completed_at = now()
		WHERE scope = $1 AND key = $2`
	if _, err := q.ExecContext(ctx, query, scope, key, status, contentType, response); err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey forgets a claim whose request failed on the
// server's side, so that a retry may act.
func ReleaseIdempotencyKey(ctx context.Context, q sqlx.ExecerContext, scope, key string) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM idempotency_key WHERE scope = $1 AND key = $2 AND status IS NULL`, scope, key); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// PurgeIdempotencyKeys deletes the keys older than the TTL.
func PurgeIdempotencyKeys(ctx context.Context, q sqlx.ExecerContext) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM idempotency_key WHERE created_at < now() - make_interval(secs => $1)`, IdempotencyTTL.Seconds()); err != nil {
		return fmt.Errorf("purge idempotency keys: %w", err)
	}
	return nil
}
