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

// IdempotentResponse is the answer kept for an idempotency key.
type IdempotentResponse struct {
	RequestHash string  `db:"request_hash"`
	Status      int     `db:"status"`
	ContentType *string `db:"content_type"`
	Response    []byte  `db:"response"`
}

// ClaimIdempotencyKey makes the request whose shared transaction is tx the
// one that acts for a key, and returns nil; or returns the answer kept for
// the key, when a request with it committed one within the TTL.
//
// The claim is a row inserted in tx: while tx is open, a concurrent claim
// of the same key waits on it (the primary key decides), then finds the
// answer it committed, or claims the key itself when it rolled back. A
// claim never outlives its transaction, so a request that dies leaves
// nothing behind that a retry must wait out.
func ClaimIdempotencyKey(ctx context.Context, tx Tx, scope, key, requestHash string) (*IdempotentResponse, error) {
	const expire = `DELETE FROM idempotency_key WHERE scope = $1 AND key = $2 AND created_at < now() - make_interval(secs => $3)`
	if _, err := tx.ExecContext(ctx, expire, scope, key, IdempotencyTTL.Seconds()); err != nil {
		return nil, fmt.Errorf("expire idempotency key: %w", err)
	}
	const claim = `INSERT INTO idempotency_key (scope, key, request_hash) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING RETURNING true`
	var claimed bool
	err := sqlx.GetContext(ctx, tx, &claimed, claim, scope, key, requestHash)
	if err == nil {
		return nil, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("claim idempotency key: %w", err)
	}
	const kept = `SELECT request_hash, status, content_type, response FROM idempotency_key
		WHERE scope = $1 AND key = $2 AND status IS NOT NULL`
	var out IdempotentResponse
	if err := sqlx.GetContext(ctx, tx, &out, kept, scope, key); err != nil {
		return nil, fmt.Errorf("idempotency key answer: %w", err)
	}
	return &out, nil
}

// CompleteIdempotencyKey keeps the answer of the request that claimed a
// key, in its shared transaction.
func CompleteIdempotencyKey(ctx context.Context, tx sqlx.ExecerContext, scope, key string, status int, contentType string, response []byte) error {
	const query = `UPDATE idempotency_key SET status = $3, content_type = $4, response = $5, completed_at = now()
		WHERE scope = $1 AND key = $2`
	if _, err := tx.ExecContext(ctx, query, scope, key, status, contentType, response); err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
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
