package db

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"customerservice/errcode"
)

// The statements of an erasure (lifecycle.Service.Anonymize): a
// customer's personal data removed for good wherever the service keeps it,
// its orders and totals kept for accounting, and customer_erasure, whose
// trigger writes customer.anonymized, as the audit.

// AnonymizedEmail is the email an erased customer, and its orders, carry
// instead of theirs: unique to the customer, and telling nothing of the
// person (the .invalid domain can never receive mail, RFC 2606).
func AnonymizedEmail(customerID string) string {
	return "anonymized+" + strings.ToLower(customerID) + "@invalid"
}

// MergedInto returns id and every customer merged into it, directly or
// through earlier merges, that has not been erased yet.
func MergedInto(ctx context.Context, q sqlx.QueryerContext, id string) ([]string, error) {
	const query = `WITH RECURSIVE s(id) AS (
			SELECT $1::text
			UNION SELECT m.source_id FROM customer_merge m JOIN s ON m.target_id = s.id
		)
		SELECT s.id FROM s WHERE s.id = $1 OR NOT EXISTS (SELECT 1 FROM customer_erasure e WHERE e.customer_id = s.id)
		ORDER BY s.id`
	var ids []string
	if err := sqlx.SelectContext(ctx, q, &ids, query, id); err != nil {
		return nil, fmt.Errorf("merged into %s: %w", id, err)
	}
	return ids, nil
}

// IsErased reports whether a customer has been erased.
func IsErased(ctx context.Context, q sqlx.QueryerContext, id string) (bool, error) {
	var erased bool
	if err := sqlx.GetContext(ctx, q, &erased, `SELECT EXISTS (SELECT 1 FROM customer_erasure WHERE customer_id = $1)`, id); err != nil {
		return false, fmt.Errorf("is erased: %w", err)
	}
	return erased, nil
}

// ErasureCounts are what an erasure removed or blanked.
type ErasureCounts struct {
	Orders          int
	Addresses       int
	Events          int
	IdentityRemoved bool
}

// EraseCustomers removes the personal data of the customers with these
// ids (locked by the caller, in tx): their login identities (unless one is
// also an admin user's, which then only loses the customer) with their
// reset tokens; their addresses and memberships; their orders' email
// (placeholderFor's AnonymizedEmail) and address copies; their names,
// phone, company and metadata, their email replaced by AnonymizedEmail,
// and they are soft-deleted if they were not; the personal values in the
// event log's events about them, their identities and their orders
// (event_redact), and in those of their emails, past ones included
// (password reset requests, throttled logins); the login throttle's rows,
// queued reset requests and outbox messages of those emails.
//
// The changes write no events of their own (they would carry the values
// being erased); the caller records the erasure (RecordErasure), whose
// event says what was done.
func EraseCustomers(ctx context.Context, tx Tx, ids []string, placeholderFor string) (ErasureCounts, error) {
	var out ErasureCounts
	ctxErr := func(what string, err error) (ErasureCounts, error) {
		return ErasureCounts{}, fmt.Errorf("erase customers: %s: %w", what, err)
	}
	// Every email the customers had: now, in their identities, and before
	// a change the log recorded.
	const emailsQ = `SELECT DISTINCT e FROM (
			SELECT c.email AS e FROM customer c WHERE c.id = ANY($1)
			UNION SELECT i.email FROM auth_identity i WHERE i.customer_id = ANY($1)
			UNION SELECT v.changes -> 'email' ->> 'from' FROM event v WHERE v.customer_id = ANY($1) AND v.changes ? 'email'
			UNION SELECT v.changes -> 'email' ->> 'to' FROM event v WHERE v.customer_id = ANY($1) AND v.changes ? 'email'
		) x WHERE e IS NOT NULL`
	var emails []string
	if err := sqlx.SelectContext(ctx, tx, &emails, emailsQ, pq.Array(ids)); err != nil {
		return ctxErr("emails", err)
	}
	// Identities: those linked to the customers, and unlinked ones with
	// their emails (a deleted customer's, which delete_customer unlinked).
	const identitiesQ = `SELECT i.id, i.user_id IS NOT NULL AS admin FROM auth_identity i
		WHERE i.customer_id = ANY($1) OR (i.customer_id IS NULL AND i.email = ANY($2))`
	var identities []struct {
		ID    string `db:"id"`
		Admin bool   `db:"admin"`
	}
	if err := sqlx.SelectContext(ctx, tx, &identities, identitiesQ, pq.Array(ids), pq.Array(emails)); err != nil {
		return ctxErr("identities", err)
	}
	var identityIDs, removed, kept []string
	for _, i := range identities {
		identityIDs = append(identityIDs, i.ID)
		if i.Admin {
			kept = append(kept, i.ID)
		} else {
			removed = append(removed, i.ID)
		}
	}
	if err := DisableEvents(ctx, tx); err != nil {
		return ErasureCounts{}, err
	}
	const redact = `UPDATE event v SET data = event_redact(v.data), changes = event_redact(v.changes)
		WHERE v.customer_id = ANY($1) OR v.identity_id = ANY($2)
			OR v.order_id IN (SELECT o.id FROM orders o WHERE o.customer_id = ANY($1))
			OR (v.type IN ('auth.password_reset_requested', 'auth.login_throttled') AND v.data ->> 'email' = ANY($3))`
	res, err := tx.ExecContext(ctx, redact, pq.Array(ids), pq.Array(identityIDs), pq.Array(emails))
	if err != nil {
		return ctxErr("redact events", err)
	}
	n, _ := res.RowsAffected()
	out.Events = int(n)
	const orders = `UPDATE orders SET email = $2, shipping_address = NULL, billing_address = NULL, updated_at = now()
		WHERE customer_id = ANY($1)`
	if res, err = tx.ExecContext(ctx, orders, pq.Array(ids), AnonymizedEmail(placeholderFor)); err != nil {
		return ctxErr("orders", err)
	}
	n, _ = res.RowsAffected()
	out.Orders = int(n)
	if res, err = tx.ExecContext(ctx, `DELETE FROM customer_address WHERE customer_id = ANY($1)`, pq.Array(ids)); err != nil {
		return ctxErr("addresses", err)
	}
	n, _ = res.RowsAffected()
	out.Addresses = int(n)
	steps := []struct {
		what, query string
		arg         any
	}{
		{"memberships", `DELETE FROM customer_group_customer WHERE customer_id = ANY($1)`, pq.Array(ids)},
		{"reset tokens", `DELETE FROM password_reset_token WHERE auth_identity_id = ANY($1)`, pq.Array(identityIDs)},
		{"identities", `DELETE FROM auth_identity WHERE id = ANY($1)`, pq.Array(removed)},
		// An admin user's identity stays the user's; its customer tokens end.
		{"admin identities", `UPDATE auth_identity SET customer_id = NULL, token_generation = token_generation + 1, updated_at = now()
			WHERE id = ANY($1)`, pq.Array(kept)},
		{"reset requests", `DELETE FROM password_reset_request WHERE email = ANY($1)`, pq.Array(emails)},
		{"login attempts", `DELETE FROM login_attempt_pair WHERE email = ANY($1)`, pq.Array(emails)},
		{"login delays", `DELETE FROM login_attempt_account WHERE email = ANY($1)`, pq.Array(emails)},
		{"known addresses", `DELETE FROM login_known_address WHERE email = ANY($1)`, pq.Array(emails)},
		// Unsent messages are given up: their recipient is gone.
		{"outbox", `UPDATE notification SET recipient = 'erased@invalid', data = '{}',
			abandoned_at = CASE WHEN sent_at IS NULL THEN coalesce(abandoned_at, now()) ELSE abandoned_at END,
			last_error = CASE WHEN sent_at IS NULL AND abandoned_at IS NULL THEN 'recipient erased' ELSE last_error END
			WHERE recipient = ANY($1)`, pq.Array(emails)},
		{"customers", `UPDATE customer SET email = 'anonymized+' || lower(id) || '@invalid', first_name = NULL, last_name = NULL,
			phone = NULL, company_name = NULL, metadata = NULL, deleted_at = coalesce(deleted_at, now()), updated_at = now()
			WHERE id = ANY($1)`, pq.Array(ids)},
	}
	for _, s := range steps {
		if _, err := tx.ExecContext(ctx, s.query, s.arg); err != nil {
			return ctxErr(s.what, err)
		}
	}
	out.IdentityRemoved = len(removed) > 0
	if _, err := tx.ExecContext(ctx, `SELECT set_config('app.events', '', true)`); err != nil {
		return ctxErr("events on", err)
	}
	return out, nil
}

// Erasure is a row of customer_erasure: the audit of an erasure.
type Erasure struct {
	CustomerID string
	// Reason is admin, account_deletion or merged.
	Reason    string
	Counts    ErasureCounts
	Transfers int
	ErasedBy  *string
}

// RecordErasure records an erasure; its trigger writes customer.anonymized.
// Returns CONFLICT when the customer was erased already (by a concurrent
// erasure, say).
func RecordErasure(ctx context.Context, tx Tx, e Erasure) error {
	const query = `INSERT INTO customer_erasure (customer_id, reason, orders, addresses, transfers, events, identity_removed, erased_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	_, err := tx.ExecContext(ctx, query, e.CustomerID, e.Reason, e.Counts.Orders, e.Counts.Addresses, e.Transfers,
		e.Counts.Events, e.Counts.IdentityRemoved, e.ErasedBy)
	if err != nil {
		if errcode.Of(translate(err, "Erasure")) == errcode.DuplicateError {
			return errcode.New(errcode.Conflict, "Customer with id: %s is anonymized already", e.CustomerID)
		}
		return fmt.Errorf("record erasure: %w", err)
	}
	return nil
}
