package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Webhook is a row of webhook_endpoint: where the event log's events are
// delivered, and which of them. Its secrets are not here: only the
// dispatcher reads them, sealed, with the delivery it claims
// (ClaimDelivery).
type Webhook struct {
	ID          string
	URL         string
	Description *string
	// EventTypes are exact types, prefixes ending in .* or *.
	EventTypes []string
	// PreviousSecretExpiresAt is, after a rotation, when the previous
	// secret stops signing beside the new one; nil once it has.
	PreviousSecretExpiresAt *time.Time
	// FailingSince is when a delivery was last given up, while no delivery
	// has succeeded and no update was made since.
	FailingSince *time.Time
	CreatedBy    *string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	DeletedAt    *time.Time
}

// Failing reports whether a delivery to the endpoint was given up since
// one last succeeded.
func (w *Webhook) Failing() bool { return w.FailingSince != nil }

// webhookColumns shows a previous secret's expiry only while it is ahead.
const webhookColumns = `w.id, w.url, w.description, w.event_types,
	CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret_expires_at END,
	w.failing_since, w.created_by, w.created_at, w.updated_at, w.deleted_at`

func webhookTargets(w *Webhook) []any {
	return []any{&w.ID, &w.URL, &w.Description, pq.Array(&w.EventTypes), &w.PreviousSecretExpiresAt,
		&w.FailingSince, &w.CreatedBy, &w.CreatedAt, &w.UpdatedAt, &w.DeletedAt}
}

// getWebhook runs a statement that returns at most one endpoint; none is
// NOT_FOUND.
func getWebhook(ctx context.Context, q sqlx.QueryerContext, id, query string, args ...any) (*Webhook, error) {
	rows, err := selectRows(ctx, q, query, args, webhookTargets)
	switch {
	case err != nil:
		return nil, fmt.Errorf("webhook %s: %w", id, translate(err, "Webhook"))
	case len(rows) == 0:
		return nil, notFound(sql.ErrNoRows, "Webhook", id)
	}
	return rows[0], nil
}

// NewWebhook is an endpoint to create. The webhooks package has checked
// its URL and event types and sealed its secret, for which it chose the id.
type NewWebhook struct {
	ID           string
	URL          string
	Description  *string
	EventTypes   []string
	SecretSealed []byte
	CreatedBy    *string
}

// CreateWebhook inserts an endpoint. Returns INVALID_DATA for a bad
// description.
func CreateWebhook(ctx context.Context, q sqlx.QueryerContext, w NewWebhook) (*Webhook, error) {
	var a assignments
	a.text("description", "input.description", Change[*string]{Set: true, Value: w.Description}, maxText)
	if a.err != nil {
		return nil, a.err
	}
	a.set("id", w.ID)
	a.set("url", w.URL)
	a.set("event_types", pq.Array(w.EventTypes))
	a.set("secret_sealed", w.SecretSealed)
	a.set("created_by", w.CreatedBy)
	return getWebhook(ctx, q, w.ID, a.insert("webhook_endpoint", "w", webhookColumns), a.args...)
}

// WebhookChanges are the fields of an update the client sent: a nil URL
// or EventTypes stays as it is.
type WebhookChanges struct {
	URL         *string
	EventTypes  []string
	Description Change[*string]
}

// UpdateWebhook changes an endpoint and clears its failing mark: whoever
// updates it has looked at it, and the next delivery tells anew. Returns
// INVALID_DATA for a bad description and NOT_FOUND for an unknown or
// deleted id.
func UpdateWebhook(ctx context.Context, q sqlx.QueryerContext, id string, ch WebhookChanges) (*Webhook, error) {
	var a assignments
	a.text("description", "input.description", ch.Description, maxText)
	if a.err != nil {
		return nil, a.err
	}
	if ch.URL != nil {
		a.set("url", *ch.URL)
	}
	if ch.EventTypes != nil {
		a.set("event_types", pq.Array(ch.EventTypes))
	}
	a.set("failing_since", nil)
	query, args := a.update("webhook_endpoint", "w", "w.id = ? AND w.deleted_at IS NULL", webhookColumns, id)
	return getWebhook(ctx, q, id, query, args...)
}

// RotateWebhookSecret makes sealed the endpoint's secret; the secret it
// replaces goes on signing beside it for overlap. Returns NOT_FOUND for an
// unknown or deleted id.
func RotateWebhookSecret(ctx context.Context, q sqlx.QueryerContext, id string, sealed []byte, overlap time.Duration) (*Webhook, error) {
	const query = `UPDATE webhook_endpoint w SET previous_secret_sealed = w.secret_sealed,
		previous_secret_expires_at = now() + make_interval(secs => $3), secret_sealed = $2, updated_at = now()
		WHERE w.id = $1 AND w.deleted_at IS NULL
		RETURNING ` + webhookColumns
	return getWebhook(ctx, q, id, query, id, sealed, overlap.Seconds())
}

// DeleteWebhook deletes an endpoint: it gets no more deliveries, and those
// pending are not sent. Returns NOT_FOUND for an unknown or deleted id.
func DeleteWebhook(ctx context.Context, q sqlx.QueryerContext, id string) error {
	const query = `UPDATE webhook_endpoint w SET deleted_at = now(), updated_at = now()
		WHERE w.id = $1 AND w.deleted_at IS NULL RETURNING ` + webhookColumns
	_, err := getWebhook(ctx, q, id, query, id)
	return err
}

// WebhookByID returns a living endpoint. Returns NOT_FOUND for an unknown
// or deleted id.
func WebhookByID(ctx context.Context, q sqlx.QueryerContext, id string) (*Webhook, error) {
	query := `SELECT ` + webhookColumns + ` FROM webhook_endpoint w WHERE w.id = $1 AND w.deleted_at IS NULL`
	return getWebhook(ctx, q, id, query, id)
}

var webhookSort = sortColumns{"created_at": by("created_at", kindTime)}

// NewWebhookPage validates the arguments of a page of endpoints, newest
// first. Returns INVALID_DATA for a bound it does not accept.
func NewWebhookPage(limit, offset int) (Page, error) {
	return newPage(listOfWebhooks, limit, offset, "-created_at", webhookSort)
}

func webhookQuery(p Page) listQuery {
	var c conds
	c.add("w.deleted_at IS NULL")
	return listQuery{from: "webhook_endpoint w", alias: "w", where: c, page: p}
}

// ListWebhooks returns a page of the living endpoints.
func ListWebhooks(ctx context.Context, q sqlx.QueryerContext, p Page) ([]*Webhook, error) {
	return listPage(ctx, q, "webhooks", webhookQuery(p), nil, webhookColumns, webhookTargets)
}

// WebhookPageEnd returns where the page p of the living endpoints ends.
func WebhookPageEnd(ctx context.Context, q sqlx.QueryerContext, p Page) (PageEnd, error) {
	return pageEnd(ctx, q, "webhook", webhookQuery(p), nil)
}

// CountWebhooks returns how many endpoints are living.
func CountWebhooks(ctx context.Context, q sqlx.QueryerContext) (int, error) {
	const query = `SELECT count(*) FROM webhook_endpoint w WHERE w.deleted_at IS NULL`
	var n int
	if err := sqlx.GetContext(ctx, q, &n, query); err != nil {
		return 0, fmt.Errorf("count webhooks: %w", err)
	}
	return n, nil
}
