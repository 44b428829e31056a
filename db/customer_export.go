package db

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// ExportFormat names the layout of CustomerExport's document, so that
// readers can tell versions apart.
const ExportFormat = "customerservice.customer-export/1"

// customerExportQ builds the whole document in one statement, each part
// with its columns named: what a secret column holds (password and token
// hashes, the token generation, refresh tokens, outbox tokens) is never
// selected. A session is listed with where and when it was used; its
// refresh tokens are not.
const customerExportQ = `WITH
	c AS (SELECT c.id, c.email, c.first_name, c.last_name, c.phone, c.company_name, c.has_account, c.metadata,
			c.created_by, c.created_at, c.updated_at, c.deleted_at FROM customer c WHERE c.id = $1),
	ident AS (SELECT i.id, i.email, i.user_id, i.created_at, i.updated_at FROM auth_identity i WHERE i.customer_id = $1),
	emails AS (SELECT c.email FROM c UNION SELECT ident.email FROM ident),
	ord AS (SELECT o.id FROM orders o WHERE o.customer_id = $1)
SELECT jsonb_build_object(
	'format', $2::text,
	'exported_at', now(),
	'customer', (SELECT to_jsonb(c) FROM c),
	'identity', (SELECT jsonb_build_object('id', ident.id, 'email', ident.email, 'provider', 'emailpass',
			'also_admin_user', ident.user_id IS NOT NULL, 'created_at', ident.created_at, 'updated_at', ident.updated_at)
		FROM ident),
	'sessions', coalesce((SELECT jsonb_agg(jsonb_build_object('id', se.id, 'actor_type', se.actor_type,
			'user_agent', se.user_agent, 'client_address', se.client_address, 'created_at', se.created_at,
			'last_used_at', se.last_used_at, 'expires_at', se.expires_at, 'revoked_at', se.revoked_at,
			'revoked_reason', se.revoked_reason) ORDER BY se.created_at, se.id)
		FROM auth_session se WHERE se.auth_identity_id IN (SELECT id FROM ident) AND se.actor_type = 'customer'), '[]'),
	'addresses', coalesce((SELECT jsonb_agg(jsonb_build_object('id', a.id, 'address_name', a.address_name,
			'is_default_shipping', a.is_default_shipping, 'is_default_billing', a.is_default_billing, 'company', a.company,
			'first_name', a.first_name, 'last_name', a.last_name, 'address_1', a.address_1, 'address_2', a.address_2,
			'city', a.city, 'country_code', a.country_code, 'province', a.province, 'postal_code', a.postal_code,
			'phone', a.phone, 'metadata', a.metadata, 'created_at', a.created_at, 'updated_at', a.updated_at,
			'deleted_at', a.deleted_at) ORDER BY a.created_at, a.id)
		FROM customer_address a WHERE a.customer_id = $1), '[]'),
	'groups', coalesce((SELECT jsonb_agg(jsonb_build_object('id', g.id, 'name', g.name, 'joined_at', m.created_at)
			ORDER BY m.created_at, g.id)
		FROM customer_group_customer m JOIN customer_group g ON g.id = m.customer_group_id
		WHERE m.customer_id = $1), '[]'),
	'orders', coalesce((SELECT jsonb_agg(jsonb_build_object('id', o.id, 'display_id', o.display_id, 'email', o.email,
			'status', o.status, 'currency_code', o.currency_code, 'subtotal', o.subtotal, 'total', o.total,
			'shipping_address', o.shipping_address, 'billing_address', o.billing_address,
			'created_at', o.created_at, 'updated_at', o.updated_at,
			'items', coalesce((SELECT jsonb_agg(jsonb_build_object('id', i.id, 'title', i.title, 'quantity', i.quantity,
					'unit_price', i.unit_price, 'total', i.total) ORDER BY i.created_at, i.id)
				FROM order_line_item i WHERE i.order_id = o.id), '[]')) ORDER BY o.created_at, o.id)
		FROM orders o WHERE o.customer_id = $1), '[]'),
	'order_transfers', coalesce((SELECT jsonb_agg(jsonb_build_object('id', t.id, 'order_id', t.order_id,
			'requested_by', t.customer_id, 'from_customer_id', t.from_customer_id, 'status', t.status,
			'expires_at', t.expires_at, 'decided_at', t.decided_at, 'created_at', t.created_at) ORDER BY t.created_at, t.id)
		FROM order_transfer t WHERE t.customer_id = $1 OR t.from_customer_id = $1 OR t.order_id IN (SELECT id FROM ord)), '[]'),
	'merges', coalesce((SELECT jsonb_agg(jsonb_build_object('id', m.id, 'source_id', m.source_id, 'target_id', m.target_id,
			'kept', m.kept, 'created_at', m.created_at) ORDER BY m.created_at, m.id)
		FROM customer_merge m WHERE m.source_id = $1 OR m.target_id = $1), '[]'),
	'account_deletion_requests', coalesce((SELECT jsonb_agg(jsonb_build_object('id', d.id, 'status', d.status,
			'token_expires_at', d.token_expires_at, 'confirmed_at', d.confirmed_at, 'scheduled_for', d.scheduled_for,
			'decided_at', d.decided_at, 'created_at', d.created_at) ORDER BY d.created_at, d.id)
		FROM account_deletion_request d WHERE d.customer_id = $1), '[]'),
	'notifications', coalesce((SELECT jsonb_agg(jsonb_build_object('id', n.id, 'channel', n.channel, 'recipient', n.recipient,
			'template', n.template, 'data', n.data - 'token', 'created_at', n.created_at, 'sent_at', n.sent_at,
			'abandoned_at', n.abandoned_at) ORDER BY n.created_at, n.id)
		FROM notification n WHERE n.recipient IN (SELECT email FROM emails)), '[]'),
	'events', coalesce((SELECT jsonb_agg(jsonb_build_object('id', 'evt_' || lpad(e.seq::text, 16, '0'), 'type', e.type,
			'created_at', e.created_at, 'actor_type', e.actor_type, 'actor_id', e.actor_id, 'request_id', e.request_id,
			'customer_id', e.customer_id, 'group_id', e.group_id, 'address_id', e.address_id, 'order_id', e.order_id,
			'changes', e.changes, 'data', e.data) ORDER BY e.seq)
		FROM event e WHERE e.customer_id = $1 OR e.identity_id IN (SELECT id FROM ident)
			OR e.order_id IN (SELECT id FROM ord)
			OR (e.type IN ('auth.password_reset_requested', 'auth.login_throttled') AND e.data ->> 'email' IN (SELECT email FROM emails))), '[]')
)
FROM c`

// CustomerExport returns everything the service holds about a customer,
// deleted or not, as one JSON object (README.md, "The account lifecycle").
// Returns NOT_FOUND for an unknown id.
func CustomerExport(ctx context.Context, q sqlx.QueryerContext, id string) (JSONObject, error) {
	var out JSONObject
	if err := sqlx.GetContext(ctx, q, &out, customerExportQ, id, ExportFormat); err != nil {
		return nil, notFound(err, "Customer", id)
	}
	if out == nil {
		return nil, fmt.Errorf("customer export of %s: no document", id)
	}
	return out, nil
}
