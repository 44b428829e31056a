package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// The statements of a customer merge (lifecycle.Service.Merge): the
// customers locked, what moves from the source to the target, and the
// merge record (migration 0016), whose trigger writes customer.merged.

// LockCustomersForChange locks the customers with these ids, deleted ones
// included, in id order (so that two merges of the same pair, either way
// round, wait for each other instead of deadlocking), and returns them by
// id. A lock taken after waiting reads the row as the other transaction
// left it: a merge that waited for another finds its source deleted. It
// conflicts with the key-share lock a checkout takes on its customer
// (LockCustomerForOrder), so neither runs while the other is under way.
func LockCustomersForChange(ctx context.Context, tx Tx, ids []string) (map[string]*Customer, error) {
	query := `SELECT ` + customerColumns + ` FROM customer c WHERE c.id = ANY($1) ORDER BY c.id FOR UPDATE`
	var rows []*Customer
	if err := sqlx.SelectContext(ctx, tx, &rows, query, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("lock customers: %w", err)
	}
	out := make(map[string]*Customer, len(rows))
	for _, c := range rows {
		out[c.ID] = c
	}
	return out, nil
}

// CustomersWithDeleted returns the customers with these ids by id, deleted
// ones included, without locking them.
func CustomersWithDeleted(ctx context.Context, q sqlx.QueryerContext, ids []string) (map[string]*Customer, error) {
	query := `SELECT ` + customerColumns + ` FROM customer c WHERE c.id = ANY($1)`
	var rows []*Customer
	if err := sqlx.SelectContext(ctx, q, &rows, query, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("customers with deleted: %w", err)
	}
	out := make(map[string]*Customer, len(rows))
	for _, c := range rows {
		out[c.ID] = c
	}
	return out, nil
}

// LockCustomerForOrder takes a key-share lock on a living customer until
// the transaction ends, so that an order placed for it cannot land on a
// customer a concurrent merge or erasure has just deleted: those lock the
// customer for update, which waits for this lock, and this one, taken
// after such a change, finds the customer deleted. Orders of one customer
// do not wait for each other, nor for update_me. Returns NOT_FOUND for a
// deleted or unknown customer.
func LockCustomerForOrder(ctx context.Context, tx Tx, id string) error {
	const query = `SELECT c.id FROM customer c WHERE c.id = $1 AND c.deleted_at IS NULL FOR KEY SHARE`
	var got string
	if err := sqlx.GetContext(ctx, tx, &got, query, id); err != nil {
		return notFound(err, "Customer", id)
	}
	return nil
}

// IdentitiesByCustomerIDs returns the login identities linked to these
// customers, by customer id.
func IdentitiesByCustomerIDs(ctx context.Context, q sqlx.QueryerContext, customerIDs []string) (map[string]*Identity, error) {
	query := `SELECT ` + identityColumns + ` FROM auth_identity i WHERE i.customer_id = ANY($1)`
	var rows []*Identity
	if err := sqlx.SelectContext(ctx, q, &rows, query, pq.Array(customerIDs)); err != nil {
		return nil, fmt.Errorf("identities by customer ids: %w", err)
	}
	out := make(map[string]*Identity, len(rows))
	for _, i := range rows {
		out[*i.CustomerID] = i
	}
	return out, nil
}

// MergeMoves are the rows a merge moves from its source to its target.
type MergeMoves struct {
	OrderIDs   []string
	AddressIDs []string
	// GroupIDs are the living groups of the source the target is not in
	// yet: the memberships the target gains.
	GroupIDs []string
	// TransferIDs are the pending order transfers the merge cancels: those
	// the source asked for and those of the source's orders.
	TransferIDs []string
}

// MergeMovesOf returns what a merge of source into target would move, as
// the rows are now.
func MergeMovesOf(ctx context.Context, q sqlx.QueryerContext, source, target string) (MergeMoves, error) {
	const query = `SELECT
		coalesce((SELECT array_agg(o.id ORDER BY o.created_at, o.id) FROM orders o WHERE o.customer_id = $1), '{}') AS orders,
		coalesce((SELECT array_agg(a.id ORDER BY a.created_at, a.id) FROM customer_address a
			WHERE a.customer_id = $1 AND a.deleted_at IS NULL), '{}') AS addresses,
		coalesce((SELECT array_agg(m.customer_group_id ORDER BY m.customer_group_id) FROM customer_group_customer m
			JOIN customer_group g ON g.id = m.customer_group_id AND g.deleted_at IS NULL
			WHERE m.customer_id = $1 AND NOT EXISTS (SELECT 1 FROM customer_group_customer t
				WHERE t.customer_id = $2 AND t.customer_group_id = m.customer_group_id)), '{}') AS groups,
		coalesce((SELECT array_agg(t.id ORDER BY t.created_at, t.id) FROM order_transfer t
			WHERE t.status = 'pending' AND (t.customer_id = $1 OR t.from_customer_id = $1)), '{}') AS transfers`
	var row struct {
		Orders    pq.StringArray `db:"orders"`
		Addresses pq.StringArray `db:"addresses"`
		Groups    pq.StringArray `db:"groups"`
		Transfers pq.StringArray `db:"transfers"`
	}
	if err := sqlx.GetContext(ctx, q, &row, query, source, target); err != nil {
		return MergeMoves{}, fmt.Errorf("merge moves: %w", err)
	}
	return MergeMoves{OrderIDs: row.Orders, AddressIDs: row.Addresses, GroupIDs: row.Groups, TransferIDs: row.Transfers}, nil
}

// CancelTransfers cancels the pending order transfers that concern these
// customers: those they asked for and those of orders they own or owned
// when asked. It returns their ids.
func CancelTransfers(ctx context.Context, tx Tx, customerIDs []string) ([]string, error) {
	const query = `UPDATE order_transfer t SET status = 'canceled', decided_at = now()
		WHERE t.status = 'pending' AND (t.customer_id = ANY($1) OR t.from_customer_id = ANY($1)
			OR t.order_id IN (SELECT o.id FROM orders o WHERE o.customer_id = ANY($1)))
		RETURNING t.id`
	var ids []string
	if err := sqlx.SelectContext(ctx, tx, &ids, query, pq.Array(customerIDs)); err != nil {
		return nil, fmt.Errorf("cancel transfers: %w", err)
	}
	return ids, nil
}

// MoveOrders gives every order of from to to, and returns their ids.
func MoveOrders(ctx context.Context, tx Tx, from, to string) ([]string, error) {
	const query = `UPDATE orders SET customer_id = $2, updated_at = now() WHERE customer_id = $1 RETURNING id`
	var ids []string
	if err := sqlx.SelectContext(ctx, tx, &ids, query, from, to); err != nil {
		return nil, fmt.Errorf("move orders: %w", err)
	}
	return ids, nil
}

// MoveAddresses gives the living addresses of from to to, and returns
// their ids. The target's defaults stand: a moved address stays a default
// only where the target has none, so the target keeps at most one of each.
func MoveAddresses(ctx context.Context, tx Tx, from, to string) ([]string, error) {
	const query = `UPDATE customer_address a SET customer_id = $2, updated_at = now(),
		is_default_billing = a.is_default_billing AND NOT EXISTS (SELECT 1 FROM customer_address d
			WHERE d.customer_id = $2 AND d.is_default_billing AND d.deleted_at IS NULL),
		is_default_shipping = a.is_default_shipping AND NOT EXISTS (SELECT 1 FROM customer_address d
			WHERE d.customer_id = $2 AND d.is_default_shipping AND d.deleted_at IS NULL)
		WHERE a.customer_id = $1 AND a.deleted_at IS NULL RETURNING a.id`
	var ids []string
	if err := sqlx.SelectContext(ctx, tx, &ids, query, from, to); err != nil {
		return nil, fmt.Errorf("move addresses: %w", translate(err, "Address"))
	}
	return ids, nil
}

// CopyMemberships puts to in every living group from is in and to is not,
// and returns those groups' ids. from's memberships end when it is deleted.
// The groups are locked in id order, as AddCustomersToGroup locks them.
func CopyMemberships(ctx context.Context, tx Tx, from, to string, by *string) ([]string, error) {
	const query = `INSERT INTO customer_group_customer (customer_group_id, customer_id, created_by)
		SELECT g.id, $2, $3 FROM customer_group g
		WHERE g.deleted_at IS NULL AND g.id IN (SELECT m.customer_group_id FROM customer_group_customer m WHERE m.customer_id = $1)
		ORDER BY g.id
		ON CONFLICT DO NOTHING RETURNING customer_group_id`
	var ids []string
	if err := sqlx.SelectContext(ctx, tx, &ids, query, from, to, by); err != nil {
		return nil, fmt.Errorf("copy memberships: %w", err)
	}
	return ids, nil
}

// UnlinkIdentity ends an identity's link to its customer (the identity
// stays, and may create a new account).
func UnlinkIdentity(ctx context.Context, tx Tx, identityID string) error {
	const query = `UPDATE auth_identity SET customer_id = NULL, updated_at = now() WHERE id = $1`
	if _, err := tx.ExecContext(ctx, query, identityID); err != nil {
		return fmt.Errorf("unlink identity: %w", err)
	}
	return nil
}

// MergedFields are the values a merge leaves on its target, taken from
// either customer's row as they are (so already clean).
type MergedFields struct {
	Email       string
	FirstName   *string
	LastName    *string
	Phone       *string
	CompanyName *string
	Metadata    JSONObject
	HasAccount  bool
}

// SetMergedFields writes a merge's values on its target and returns it.
// Returns DUPLICATE_ERROR when another living customer with the same
// has_account has the email.
func SetMergedFields(ctx context.Context, tx Tx, id string, f MergedFields) (*Customer, error) {
	query := `UPDATE customer c SET email = $2, first_name = $3, last_name = $4, phone = $5, company_name = $6,
		metadata = $7, has_account = $8, updated_at = now()
		WHERE c.id = $1 RETURNING ` + customerColumns
	var out Customer
	err := sqlx.GetContext(ctx, tx, &out, query, id, f.Email, f.FirstName, f.LastName, f.Phone, f.CompanyName, f.Metadata, f.HasAccount)
	if err != nil {
		return nil, customerWriteError(err, &assignments{cols: []string{"email"}, args: []any{f.Email}})
	}
	return &out, nil
}

// Merge is a row of customer_merge.
type Merge struct {
	ID              string
	SourceID        string
	TargetID        string
	Kept            map[string]string
	IdentityGivenUp *string
	IdentityMoved   bool
	MergeMoves
	MergedBy  *string
	CreatedAt time.Time
}

// CreateMerge records a merge; its trigger writes customer.merged.
func CreateMerge(ctx context.Context, tx Tx, m *Merge) error {
	kept := make(JSONObject, len(m.Kept))
	for k, v := range m.Kept {
		kept[k] = v
	}
	const query = `INSERT INTO customer_merge (id, source_id, target_id, kept, identity_given_up, identity_moved,
		order_ids, address_ids, group_ids, transfer_ids, merged_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING created_at`
	m.ID = NewID(PrefixMerge)
	err := sqlx.GetContext(ctx, tx, &m.CreatedAt, query, m.ID, m.SourceID, m.TargetID, kept, m.IdentityGivenUp, m.IdentityMoved,
		pq.Array(nonNil(m.OrderIDs)), pq.Array(nonNil(m.AddressIDs)), pq.Array(nonNil(m.GroupIDs)), pq.Array(nonNil(m.TransferIDs)), m.MergedBy)
	if err != nil {
		return fmt.Errorf("create merge: %w", translate(err, "Merge"))
	}
	return nil
}

// nonNil is s, or an empty slice for nil: a NOT NULL array column takes
// '{}', not NULL.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
