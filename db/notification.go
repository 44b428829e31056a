package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Notification is a message in the outbox.
type Notification struct {
	ID        string     `db:"id"`
	Channel   string     `db:"channel"`
	Recipient string     `db:"recipient"`
	Template  string     `db:"template"`
	Data      JSONObject `db:"data"`
	Attempts  int        `db:"attempts"`
	CreatedAt time.Time  `db:"created_at"`
}

const notificationColumns = `n.id, n.channel, n.recipient, n.template, n.data, n.attempts, n.created_at`

// EnqueueNotification puts an email in the outbox. Run it in the
// transaction that creates what the message carries, so the message exists
// exactly when that does. After expiresAt, when the token it carries is no
// use, it is given up if it has not gone out; a zero expiresAt never
// expires.
func EnqueueNotification(ctx context.Context, q sqlx.ExecerContext, recipient, template string, data JSONObject, expiresAt time.Time) error {
	const query = `INSERT INTO notification (id, recipient, template, data, expires_at) VALUES ($1, $2, $3, $4, $5)`
	var expires *time.Time
	if !expiresAt.IsZero() {
		expires = &expiresAt
	}
	if _, err := q.ExecContext(ctx, query, NewID(PrefixNotification), recipient, template, data, expires); err != nil {
		return fmt.Errorf("enqueue notification: %w", err)
	}
	return nil
}

// AbandonExpiredNotifications gives up the unsent messages whose token
// has expired, and forgets the token. It returns how many it gave up. A
// message leased to a dispatcher is left to it: it may be going out now.
func AbandonExpiredNotifications(ctx context.Context, q sqlx.ExecerContext) (int64, error) {
	const query = `UPDATE notification SET abandoned_at = now(), last_error = 'expired before it could be sent',
		data = data - 'token'
		WHERE sent_at IS NULL AND abandoned_at IS NULL AND expires_at <= now()
		AND next_attempt_at <= now()`
	res, err := q.ExecContext(ctx, query)
	if err != nil {
		return 0, fmt.Errorf("abandon expired notifications: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("abandon expired notifications: %w", err)
	}
	return n, nil
}

// ClaimNotification leases the oldest due message for lease and returns
// it, or nil when none is due: other dispatchers pass it by until the lease
// ends, when it is due again should this one never record what became of
// it. The claim commits at once, so no transaction stays open while the
// message is sent.
func ClaimNotification(ctx context.Context, q sqlx.QueryerContext, lease time.Duration) (*Notification, error) {
	const query = `UPDATE notification n SET next_attempt_at = now() + make_interval(secs => $1)
		WHERE n.id = (SELECT d.id FROM notification d
			WHERE d.sent_at IS NULL AND d.abandoned_at IS NULL AND d.next_attempt_at <= now()
			AND (d.expires_at IS NULL OR d.expires_at > now())
			ORDER BY d.next_attempt_at, d.id LIMIT 1
			FOR UPDATE SKIP LOCKED)
		RETURNING ` + notificationColumns
	var out Notification
	err := sqlx.GetContext(ctx, q, &out, query, lease.Seconds())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim notification: %w", err)
	}
	return &out, nil
}

// MarkNotificationSent records that a message went out, and forgets the
// token it carried.
func MarkNotificationSent(ctx context.Context, q sqlx.ExecerContext, id string) error {
	const query = `UPDATE notification SET sent_at = now(), attempts = attempts + 1, last_error = NULL,
		data = data - 'token' WHERE id = $1`
	if _, err := q.ExecContext(ctx, query, id); err != nil {
		return fmt.Errorf("mark notification sent: %w", err)
	}
	return nil
}

// MarkNotificationFailed records a failed attempt and when to try again.
func MarkNotificationFailed(ctx context.Context, q sqlx.ExecerContext, id, reason string, retryAt time.Time) error {
	const query = `UPDATE notification SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 WHERE id = $1`
	if _, err := q.ExecContext(ctx, query, id, reason, retryAt); err != nil {
		return fmt.Errorf("mark notification failed: %w", err)
	}
	return nil
}

// MarkNotificationAbandoned records that a message will never go out, and
// forgets the token it carried.
func MarkNotificationAbandoned(ctx context.Context, q sqlx.ExecerContext, id, reason string) error {
	const query = `UPDATE notification SET abandoned_at = now(), attempts = attempts + 1, last_error = $2,
		data = data - 'token' WHERE id = $1`
	if _, err := q.ExecContext(ctx, query, id, reason); err != nil {
		return fmt.Errorf("mark notification abandoned: %w", err)
	}
	return nil
}
