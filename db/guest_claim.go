package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// The statements of claim_guest_orders (lifecycle.Service.ClaimGuestOrders):
// a registered customer takes every order of the guest customer of its
// verified email.

// GuestCustomerOf returns the id of the living guest customer of a clean
// email, or "" when there is none.
func GuestCustomerOf(ctx context.Context, q sqlx.QueryerContext, email string) (string, error) {
	const query = `SELECT c.id FROM customer c WHERE c.email = $1 AND NOT c.has_account AND c.deleted_at IS NULL`
	var id string
	if err := sqlx.GetContext(ctx, q, &id, query, email); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		return "", fmt.Errorf("guest customer of: %w", err)
	}
	return id, nil
}

// OrdersOfCustomer returns every order of a customer, oldest first.
func OrdersOfCustomer(ctx context.Context, q sqlx.QueryerContext, customerID string) ([]*Order, error) {
	query := `SELECT ` + orderColumns + ` FROM orders o WHERE o.customer_id = $1 ORDER BY o.created_at, o.id`
	out, err := selectRows(ctx, q, query, []any{customerID}, orderTable.targets(Columns[Order]{}))
	if err != nil {
		return nil, fmt.Errorf("orders of customer: %w", err)
	}
	return out, nil
}

// OrdersByIDs returns the orders with these ids, oldest first.
func OrdersByIDs(ctx context.Context, q sqlx.QueryerContext, ids []string) ([]*Order, error) {
	query := `SELECT ` + orderColumns + ` FROM orders o WHERE o.id = ANY($1) ORDER BY o.created_at, o.id`
	out, err := selectRows(ctx, q, query, []any{pq.Array(ids)}, orderTable.targets(Columns[Order]{}))
	if err != nil {
		return nil, fmt.Errorf("orders by ids: %w", err)
	}
	return out, nil
}

// AddressIDsOf returns the ids of a customer's living addresses, oldest
// first.
func AddressIDsOf(ctx context.Context, q sqlx.QueryerContext, customerID string) ([]string, error) {
	const query = `SELECT a.id FROM customer_address a WHERE a.customer_id = $1 AND a.deleted_at IS NULL ORDER BY a.created_at, a.id`
	var ids []string
	if err := sqlx.SelectContext(ctx, q, &ids, query, customerID); err != nil {
		return nil, fmt.Errorf("address ids of: %w", err)
	}
	return ids, nil
}

// RecordCustomerEvent writes an event about a customer that no row change
// makes, through the triggers' function, with tx's actor and request.
func RecordCustomerEvent(ctx context.Context, tx Tx, typ, customerID string, data JSONObject) error {
	const query = `SELECT write_event($1, $2, NULL, NULL, NULL, NULL, NULL, $3)`
	if _, err := tx.ExecContext(ctx, query, typ, customerID, data); err != nil {
		return fmt.Errorf("record customer event: %w", err)
	}
	return nil
}
