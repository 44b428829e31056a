package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// WebhookDelivery is a row of webhook_delivery: one event for one
// endpoint, written by the event log's trigger in the event's transaction
// (migration 0014), then sent, retried and given up by the webhooks
// package's dispatcher.
type WebhookDelivery struct {
	// ID is the webhook-id header receivers see, the same on every attempt.
	ID        string
	WebhookID string
	EventSeq  int64
	EventType string
	Status    DeliveryStatus
	Attempts  int
	// DueAt is when a pending delivery is tried next, or its lease ends
	// while a dispatcher sends it (ClaimedUntil).
	DueAt         time.Time
	ClaimedUntil  *time.Time
	LastAttemptAt *time.Time
	LastError     *string
	LastErrorCode *DeliveryErrorCode
	// ResponseCode is the HTTP status of the last answer, if one came.
	ResponseCode *int
	DeliveredAt  *time.Time
	GivenUpAt    *time.Time
	CreatedAt    time.Time
}

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// The statuses of a delivery.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliverySucceeded DeliveryStatus = "succeeded"
	// DeliveryFailed is given up: tried until the retry window ended.
	DeliveryFailed DeliveryStatus = "failed"
)

// DeliveryErrorCode classifies why an attempt failed.
type DeliveryErrorCode string

// The reasons an attempt fails.
const (
	// DeliveryHTTPStatus: the receiver answered, with a status other than 2xx.
	DeliveryHTTPStatus DeliveryErrorCode = "HTTP_STATUS"
	// DeliveryTimeout: no whole answer within the attempt's time.
	DeliveryTimeout DeliveryErrorCode = "TIMEOUT"
	// DeliveryConnectionFailed: the host did not resolve, or refused or
	// dropped the connection, or TLS failed.
	DeliveryConnectionFailed DeliveryErrorCode = "CONNECTION_FAILED"
	// DeliveryAddressNotAllowed: the host resolved to an address webhooks
	// may not reach (loopback, private, link-local, ...), so no connection
	// was made.
	DeliveryAddressNotAllowed DeliveryErrorCode = "ADDRESS_NOT_ALLOWED"
	// DeliveryInternal: the server could not make the request (its event
	// is gone, or its secret cannot be unsealed).
	DeliveryInternal DeliveryErrorCode = "INTERNAL"
)

// EventID is the id of the delivery's event in the API.
func (d *WebhookDelivery) EventID() string { return (&Event{Seq: d.EventSeq}).ID() }

// NextAttemptAt is when a pending delivery is tried next; nil once it
// succeeded or was given up.
func (d *WebhookDelivery) NextAttemptAt() *time.Time {
	if d.Status != DeliveryPending {
		return nil
	}
	return &d.DueAt
}

const deliveryColumns = `d.id, d.endpoint_id, d.event_seq, d.event_type, d.status, d.attempts, d.next_attempt_at,
	d.claimed_until, d.last_attempt_at, d.last_error, d.last_error_code, d.response_code, d.delivered_at,
	d.given_up_at, d.created_at`

func deliveryTargets(d *WebhookDelivery) []any {
	return []any{&d.ID, &d.WebhookID, &d.EventSeq, &d.EventType, &d.Status, &d.Attempts, &d.DueAt,
		&d.ClaimedUntil, &d.LastAttemptAt, &d.LastError, &d.LastErrorCode, &d.ResponseCode, &d.DeliveredAt,
		&d.GivenUpAt, &d.CreatedAt}
}

// DeliveriesByWebhookIDs returns each endpoint's newest deliveries, up to
// limit, in key order.
func DeliveriesByWebhookIDs(ctx context.Context, q sqlx.QueryerContext, ids []string, limit int) ([][]*WebhookDelivery, error) {
	query := `SELECT k.key, ` + deliveryColumns + `
		FROM (SELECT DISTINCT unnest($1::text[])) AS k(key)
		CROSS JOIN LATERAL (
			SELECT ` + deliveryColumns + ` FROM webhook_delivery d
			WHERE d.endpoint_id = k.key
			ORDER BY d.created_at DESC, d.id DESC LIMIT $2
		) d`
	type keyed struct {
		Key string
		WebhookDelivery
	}
	rows, err := selectRows(ctx, q, query, []any{pq.Array(ids), limit}, func(r *keyed) []any {
		return append([]any{&r.Key}, deliveryTargets(&r.WebhookDelivery)...)
	})
	if err != nil {
		return nil, fmt.Errorf("deliveries by webhook ids: %w", err)
	}
	return byParent(ids, rows, func(r *keyed) (string, *WebhookDelivery) { return r.Key, &r.WebhookDelivery }), nil
}

// LockDelivery returns a delivery of a living endpoint and locks it until
// tx ends, so that no dispatcher claims it meanwhile. Returns NOT_FOUND
// when there is none.
func LockDelivery(ctx context.Context, tx Tx, id string) (*WebhookDelivery, error) {
	query := `SELECT ` + deliveryColumns + ` FROM webhook_delivery d
		JOIN webhook_endpoint w ON w.id = d.endpoint_id AND w.deleted_at IS NULL
		WHERE d.id = $1 FOR UPDATE OF d`
	rows, err := selectRows(ctx, tx, query, []any{id}, deliveryTargets)
	switch {
	case err != nil:
		return nil, fmt.Errorf("lock delivery %s: %w", id, err)
	case len(rows) == 0:
		return nil, notFound(sql.ErrNoRows, "Webhook delivery", id)
	}
	return rows[0], nil
}

// RescheduleDelivery makes a delivery locked by LockDelivery pending and
// due now, with a new retry window, whatever became of it before. It
// returns nil, and changes nothing, while a dispatcher's lease on the
// delivery runs: that attempt's outcome is still to be recorded.
func RescheduleDelivery(ctx context.Context, tx Tx, id string) (*WebhookDelivery, error) {
	query := `UPDATE webhook_delivery d SET status = 'pending', scheduled_at = now(), next_attempt_at = now(),
		claimed_until = NULL, given_up_at = NULL
		WHERE d.id = $1 AND (d.claimed_until IS NULL OR d.claimed_until <= now())
		RETURNING ` + deliveryColumns
	rows, err := selectRows(ctx, tx, query, []any{id}, deliveryTargets)
	switch {
	case err != nil:
		return nil, fmt.Errorf("reschedule delivery %s: %w", id, err)
	case len(rows) == 0:
		return nil, nil
	}
	return rows[0], nil
}

// ClaimedDelivery is a delivery a dispatcher has leased, with what sending
// it takes: the endpoint's URL and its sealed secrets.
type ClaimedDelivery struct {
	WebhookDelivery
	URL          string
	SecretSealed []byte
	// PreviousSecretSealed signs beside the secret after a rotation, until
	// it expires; nil then.
	PreviousSecretSealed []byte
	// ScheduledAt is when the current series of attempts began.
	ScheduledAt time.Time
}

// ClaimDelivery leases the longest-due pending delivery of a living
// endpoint for lease and counts the attempt, or returns nil when none is
// due: other dispatchers pass it by until the lease ends, when it is due
// again should this one never record the outcome. The claim commits at
// once, so no transaction stays open while the delivery is sent. The
// returned Attempts identifies the claim to the Mark functions.
func ClaimDelivery(ctx context.Context, q sqlx.QueryerContext, lease time.Duration) (*ClaimedDelivery, error) {
	query := `UPDATE webhook_delivery d SET attempts = d.attempts + 1, last_attempt_at = now(),
			next_attempt_at = now() + make_interval(secs => $1), claimed_until = now() + make_interval(secs => $1)
		FROM webhook_endpoint w
		WHERE d.id = (SELECT x.id FROM webhook_delivery x
				JOIN webhook_endpoint y ON y.id = x.endpoint_id AND y.deleted_at IS NULL
				WHERE x.status = 'pending' AND x.next_attempt_at <= now()
				ORDER BY x.next_attempt_at, x.id LIMIT 1
				FOR UPDATE OF x SKIP LOCKED)
			AND w.id = d.endpoint_id
		RETURNING ` + deliveryColumns + `, w.url, w.secret_sealed,
			CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret_sealed END, d.scheduled_at`
	rows, err := selectRows(ctx, q, query, []any{lease.Seconds()}, func(c *ClaimedDelivery) []any {
		return append(deliveryTargets(&c.WebhookDelivery), &c.URL, &c.SecretSealed, &c.PreviousSecretSealed, &c.ScheduledAt)
	})
	if err != nil {
		return nil, fmt.Errorf("claim delivery: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return rows[0], nil
}

// ErrClaimLost is returned by the Mark functions when the delivery is no
// longer the claim's: its lease ended and another dispatcher took it, or a
// redelivery rescheduled it. What the claim found out is not recorded.
var ErrClaimLost = errors.New("the delivery's claim was lost")

// MarkDeliverySucceeded records that the receiver took the delivery the
// claim numbered attempt, and clears its endpoint's failing mark.
func MarkDeliverySucceeded(ctx context.Context, q sqlx.QueryerContext, id string, attempt, responseCode int) error {
	const query = `WITH d AS (
			UPDATE webhook_delivery SET status = 'succeeded', delivered_at = now(), claimed_until = NULL,
				response_code = $3, last_error = NULL, last_error_code = NULL
			WHERE id = $1 AND attempts = $2 AND status = 'pending' AND claimed_until IS NOT NULL
			RETURNING endpoint_id),
		w AS (UPDATE webhook_endpoint SET failing_since = NULL
			WHERE id = (SELECT endpoint_id FROM d) AND failing_since IS NOT NULL)
		SELECT count(*) FROM d`
	var n int
	if err := sqlx.GetContext(ctx, q, &n, query, id, attempt, responseCode); err != nil {
		return fmt.Errorf("mark delivery %s succeeded: %w", id, err)
	}
	if n == 0 {
		return ErrClaimLost
	}
	return nil
}

// DeliveryFailure is what went wrong with an attempt.
type DeliveryFailure struct {
	Code    DeliveryErrorCode
	Message string
	// ResponseCode is the receiver's HTTP status, when it answered.
	ResponseCode *int
}

// MarkDeliveryFailed records a failed attempt of the claim numbered
// attempt. The delivery is tried again in retryIn, unless that falls past
// window after its series of attempts began: then it is given up, and its
// endpoint marked failing. It reports whether it gave up.
func MarkDeliveryFailed(ctx context.Context, q sqlx.QueryerContext, id string, attempt int, f DeliveryFailure, retryIn, window time.Duration) (bool, error) {
	const query = `WITH d AS (
			UPDATE webhook_delivery SET claimed_until = NULL, last_error = $3, last_error_code = $4, response_code = $5,
				status = CASE WHEN now() + make_interval(secs => $6) > scheduled_at + make_interval(secs => $7)
					THEN 'failed' ELSE 'pending' END,
				given_up_at = CASE WHEN now() + make_interval(secs => $6) > scheduled_at + make_interval(secs => $7)
					THEN now() END,
				next_attempt_at = now() + make_interval(secs => $6)
			WHERE id = $1 AND attempts = $2 AND status = 'pending' AND claimed_until IS NOT NULL
			RETURNING endpoint_id, status),
		w AS (UPDATE webhook_endpoint SET failing_since = now()
			WHERE id = (SELECT endpoint_id FROM d WHERE status = 'failed'))
		SELECT status FROM d`
	var status DeliveryStatus
	err := sqlx.GetContext(ctx, q, &status, query, id, attempt, f.Message, f.Code, f.ResponseCode, retryIn.Seconds(), window.Seconds())
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, ErrClaimLost
	case err != nil:
		return false, fmt.Errorf("mark delivery %s failed: %w", id, err)
	}
	return status == DeliveryFailed, nil
}

// PurgeWebhookDeliveries deletes the deliveries whose last attempt ended
// them (succeeded, or given up) more than retention ago, then the endpoints
// deleted more than retention ago, with all their deliveries. It returns
// how many deliveries it deleted.
func PurgeWebhookDeliveries(ctx context.Context, q sqlx.ExecerContext, retention time.Duration) (int64, error) {
	const deliveries = `DELETE FROM webhook_delivery d
		WHERE (d.status <> 'pending' AND d.last_attempt_at < now() - make_interval(secs => $1))
			OR d.endpoint_id IN (SELECT w.id FROM webhook_endpoint w WHERE w.deleted_at < now() - make_interval(secs => $1))`
	res, err := q.ExecContext(ctx, deliveries, retention.Seconds())
	if err != nil {
		return 0, fmt.Errorf("purge webhook deliveries: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge webhook deliveries: %w", err)
	}
	// No transaction writes a delivery for an endpoint deleted that long
	// ago: the event log's trigger passes deleted endpoints by.
	const endpoints = `DELETE FROM webhook_endpoint w WHERE w.deleted_at < now() - make_interval(secs => $1)
		AND NOT EXISTS (SELECT 1 FROM webhook_delivery d WHERE d.endpoint_id = w.id)`
	if _, err := q.ExecContext(ctx, endpoints, retention.Seconds()); err != nil {
		return n, fmt.Errorf("purge webhooks: %w", err)
	}
	return n, nil
}
