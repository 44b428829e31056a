// Package webhooks delivers the event log to the endpoints admins
// register, as the Standard Webhooks specification
// (https://www.standardwebhooks.com/) says: each delivery is a POST of the
// event as JSON with the headers webhook-id, webhook-timestamp and
// webhook-signature (HMAC-SHA256 under the endpoint's whsec_ secret).
//
// Deliveries are written by a trigger on the event log, in the event's
// transaction (migration 0014), so each event that matches an endpoint has
// exactly one delivery, whatever the number of servers. A Dispatcher sends
// them at least once: it claims one at a time with a lease, records the
// outcome at once, retries failures with exponential backoff and jitter
// for a day, then gives up and marks the endpoint failing. Service runs
// the admin flows: endpoints, their secrets and redeliveries. Guard keeps
// both from reaching addresses other than public ones in production.
package webhooks

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"customerservice/db"
	"customerservice/errcode"
)

// Service runs the admin flows of webhooks.
type Service struct {
	DB *sqlx.DB
	// Sealer seals the secrets it makes; without one, creating an endpoint
	// or rotating its secret fails.
	Sealer *Sealer
	// Guard decides which URLs endpoints may have; without one, creating
	// an endpoint or changing its URL fails.
	Guard *Guard
	// RequireHTTPS refuses endpoints whose URL is not https: production,
	// where deliveries carry customers' data.
	RequireHTTPS bool
}

// SecretOverlap is how long the previous secret goes on signing beside
// the new one after a rotation: a day to deploy the new secret to the
// receiver, which meanwhile accepts deliveries signed with either.
const SecretOverlap = 24 * time.Hour

// Input is an endpoint to create.
type Input struct {
	URL         string
	EventTypes  []string
	Description *string
}

// Changes are the fields of an endpoint an update sets: a nil URL or
// EventTypes stays as it is.
type Changes struct {
	URL         *string
	EventTypes  []string
	Description db.Change[*string]
}

// Create makes an endpoint and returns it with its signing secret, which
// is shown this once: only its sealed form is kept. createdBy is the admin
// user. Returns INVALID_DATA for a bad URL (in production, one that is not
// https or reaches an address other than a public one), event type or
// description.
func (s *Service) Create(ctx context.Context, in Input, createdBy *string) (*db.Webhook, string, error) {
	if err := s.ready(); err != nil {
		return nil, "", err
	}
	u, err := s.checkURL(ctx, "input.url", in.URL)
	if err != nil {
		return nil, "", err
	}
	types, err := CheckEventTypes("input.event_types", in.EventTypes)
	if err != nil {
		return nil, "", err
	}
	id := db.NewID(db.PrefixWebhook)
	secret, sealed, err := s.newSecret(id)
	if err != nil {
		return nil, "", err
	}
	w, err := db.InTx(ctx, s.DB, func(tx db.Tx) (*db.Webhook, error) {
		return db.CreateWebhook(ctx, tx, db.NewWebhook{ID: id, URL: u, Description: in.Description,
			EventTypes: types, SecretSealed: sealed, CreatedBy: createdBy})
	})
	if err != nil {
		return nil, "", err
	}
	return w, secret, nil
}

// Update changes an endpoint and clears its failing mark. Returns
// INVALID_DATA as Create does, and NOT_FOUND for an unknown or deleted id.
func (s *Service) Update(ctx context.Context, id string, ch Changes) (*db.Webhook, error) {
	var dbCh db.WebhookChanges
	if ch.URL != nil {
		u, err := s.checkURL(ctx, "input.url", *ch.URL)
		if err != nil {
			return nil, err
		}
		dbCh.URL = &u
	}
	if ch.EventTypes != nil {
		types, err := CheckEventTypes("input.event_types", ch.EventTypes)
		if err != nil {
			return nil, err
		}
		dbCh.EventTypes = types
	}
	dbCh.Description = ch.Description
	return db.InTx(ctx, s.DB, func(tx db.Tx) (*db.Webhook, error) {
		return db.UpdateWebhook(ctx, tx, id, dbCh)
	})
}

// Delete deletes an endpoint: it gets no more deliveries, and those
// pending are dropped. Returns NOT_FOUND for an unknown or deleted id.
func (s *Service) Delete(ctx context.Context, id string) error {
	_, err := db.InTx(ctx, s.DB, func(tx db.Tx) (struct{}, error) {
		return struct{}{}, db.DeleteWebhook(ctx, tx, id)
	})
	return err
}

// RotateSecret gives an endpoint a new signing secret and returns it, shown
// this once. The previous secret signs beside it for SecretOverlap, so
// deliveries carry two signatures meanwhile. Returns NOT_FOUND for an
// unknown or deleted id.
func (s *Service) RotateSecret(ctx context.Context, id string) (*db.Webhook, string, error) {
	if err := s.ready(); err != nil {
		return nil, "", err
	}
	secret, sealed, err := s.newSecret(id)
	if err != nil {
		return nil, "", err
	}
	w, err := db.InTx(ctx, s.DB, func(tx db.Tx) (*db.Webhook, error) {
		return db.RotateWebhookSecret(ctx, tx, id, sealed, SecretOverlap)
	})
	if err != nil {
		return nil, "", err
	}
	return w, secret, nil
}

// Redeliver sends a delivery again, whatever became of it: it is due at
// once, with a new retry window, and keeps its id (the webhook-id), as the
// specification has it for a message sent again. Returns NOT_FOUND for an
// unknown delivery or one of a deleted endpoint, and CONFLICT while a
// dispatcher is sending it.
func (s *Service) Redeliver(ctx context.Context, deliveryID string) (*db.WebhookDelivery, error) {
	return db.InTx(ctx, s.DB, func(tx db.Tx) (*db.WebhookDelivery, error) {
		if _, err := db.LockDelivery(ctx, tx, deliveryID); err != nil {
			return nil, err
		}
		d, err := db.RescheduleDelivery(ctx, tx, deliveryID)
		if err == nil && d == nil {
			return nil, errcode.New(errcode.Conflict, "Webhook delivery %s is being sent now; redeliver it once that attempt has ended", deliveryID)
		}
		return d, err
	})
}

// ready reports a service made without the means to seal secrets.
func (s *Service) ready() error {
	if s.Sealer == nil || s.Guard == nil {
		return errors.New("webhooks: the service has no Sealer or Guard")
	}
	return nil
}

// newSecret makes a secret for endpoint id, and seals it.
func (s *Service) newSecret(id string) (string, []byte, error) {
	secret, err := newSecret()
	if err != nil {
		return "", nil, err
	}
	sealed, err := s.Sealer.Seal(id, secret)
	if err != nil {
		return "", nil, err
	}
	return secret, sealed, nil
}

// maxURL bounds an endpoint's URL, in bytes, as the table does.
const maxURL = 2048

// checkURL returns the URL of an endpoint, trimmed, when deliveries may go
// to it: an absolute http or https URL (https only with RequireHTTPS), with
// a host and no credentials or fragment, whose host resolves to public
// addresses only unless the Guard allows any. Returns INVALID_DATA naming
// field otherwise.
func (s *Service) checkURL(ctx context.Context, field, raw string) (string, error) {
	if s.Guard == nil {
		return "", errors.New("webhooks: the service has no Guard")
	}
	raw = strings.TrimSpace(raw)
	if len(raw) > maxURL || !utf8.ValidString(raw) {
		return "", errcode.Invalid(field, "url must be at most %d bytes of UTF-8", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		return "", errcode.Invalid(field, "url must be an absolute http:// or https:// URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errcode.Invalid(field, "url must be http:// or https://, got %s://", u.Scheme)
	case s.RequireHTTPS && u.Scheme != "https":
		return "", errcode.Invalid(field, "url must be https:// in production: deliveries carry customers' data")
	case u.Hostname() == "":
		return "", errcode.Invalid(field, "url must name a host")
	case u.User != nil:
		return "", errcode.Invalid(field, "url must not hold credentials: anyone who lists webhooks would see them; check the webhook-signature header instead")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", errcode.Invalid(field, "url must not have a fragment")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", errcode.Invalid(field, "url's port must be 1 to 65535, got %s", port)
		}
	}
	if !s.Guard.AllowPrivate {
		if _, err := s.Guard.Resolve(ctx, u.Hostname()); err != nil {
			if ae, ok := errors.AsType[*AddressError](err); ok {
				return "", errcode.Invalid(field, "url is refused: %s", ae.Error())
			}
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			return "", errcode.Invalid(field, "url's host %s does not resolve", u.Hostname())
		}
	}
	return u.String(), nil
}

// eventTypes are the types the event log writes (migrations 0013, 0015), which
// endpoints may ask for.
var eventTypes = []string{
	"customer.created", "customer.updated", "customer.deleted", "customer.account_created",
	"customer_address.created", "customer_address.updated", "customer_address.default_changed", "customer_address.deleted",
	"customer_group.created", "customer_group.updated", "customer_group.deleted",
	"customer_group.customer_added", "customer_group.customer_removed",
	"auth.identity_registered", "auth.user_linked", "auth.customer_unlinked",
	"auth.password_reset_requested", "auth.password_reset_completed",
	// Sessions and verified email (migration 0015).
	"auth.session_started", "auth.session_revoked", "auth.password_changed",
	"auth.email_verification_requested", "auth.email_verified", "auth.email_change_requested", "auth.email_changed",
	"order.placed", "order.updated", "order.transfer_requested", "order.transfer_accepted",
	"order.transfer_declined", "order.transfer_replaced",
	// The account lifecycle (migration 0016).
	"order.transfer_canceled", "customer.merged", "customer.anonymized", "customer.deletion_requested",
	"customer.deletion_scheduled", "customer.deletion_canceled", "customer.deletion_replaced", "customer.deletion_completed",
	"customer.guest_orders_claimed",
}

// maxEventTypes bounds an endpoint's list, as the table does.
const maxEventTypes = 50

// CheckEventTypes returns an endpoint's event types, trimmed and without
// repeats, when each is a type the event log writes, a prefix of some followed by
// .* ("customer.*"), or * for all. Returns INVALID_DATA naming field
// otherwise.
func CheckEventTypes(field string, types []string) ([]string, error) {
	if len(types) == 0 || len(types) > maxEventTypes {
		return nil, errcode.Invalid(field, "event_types must list 1 to %d types, got %d", maxEventTypes, len(types))
	}
	out := make([]string, 0, len(types))
	for _, t := range types {
		t = strings.TrimSpace(t)
		if !knownEventType(t) {
			return nil, errcode.Invalid(field, "%q is not an event type: use a type the event log writes (Event.type lists them), "+
				"a prefix of some ending in .* (customer.*), or * for all", t)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func knownEventType(t string) bool {
	if t == "*" || slices.Contains(eventTypes, t) {
		return true
	}
	prefix, ok := strings.CutSuffix(t, "*")
	if !ok || !strings.HasSuffix(prefix, ".") {
		return false
	}
	for _, e := range eventTypes {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}
