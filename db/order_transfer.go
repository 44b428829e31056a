package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"customerservice/errcode"
)

// LockRequester locks the customer asking for transfers until the
// transaction ends, so that its concurrent requests are counted one after
// the other. Returns NOT_FOUND for a deleted or unknown customer.
func LockRequester(ctx context.Context, tx Tx, customerID string) error {
	const query = `SELECT c.id FROM customer c WHERE c.id = $1 AND c.deleted_at IS NULL FOR NO KEY UPDATE`
	var id string
	if err := sqlx.GetContext(ctx, tx, &id, query, customerID); err != nil {
		return notFound(err, "Customer", customerID)
	}
	return nil
}

// TransferWaits are how long until an order may take a new transfer
// request from a customer; zero when it may now.
type TransferWaits struct {
	// Order is the wait for the order's last request to be interval old.
	Order time.Duration
	// Requester is the wait for the customer to have fewer than perHour
	// requests in the last hour.
	Requester time.Duration
}

// TransferRequestWaits returns how long until an order may take a new
// transfer request, interval after its last one, and until a customer may
// make one, with fewer than perHour of its requests in the last hour. Run
// it after LockRequester and TransferableOrder, in their transaction, so
// that the counts it reads cannot change before the request is recorded.
func TransferRequestWaits(ctx context.Context, q sqlx.QueryerContext, orderID, customerID string, interval time.Duration, perHour int) (TransferWaits, error) {
	// The requester's wait ends when the oldest of its last perHour
	// requests leaves the hour. Waits are counted from this statement's
	// start, not the transaction's (now()): the transaction may have begun
	// before a request it now sees was made, and would wait longer than
	// the interval.
	const query = `SELECT
		coalesce(extract(epoch FROM (SELECT max(t.created_at) FROM order_transfer t WHERE t.order_id = $1)
			+ make_interval(secs => $3) - statement_timestamp()), 0) AS order_wait,
		coalesce(extract(epoch FROM (SELECT t.created_at FROM order_transfer t
			WHERE t.customer_id = $2 AND t.requested_by IS NULL AND t.created_at > statement_timestamp() - interval '1 hour'
			ORDER BY t.created_at DESC OFFSET $4 - 1 LIMIT 1) + interval '1 hour' - statement_timestamp()), 0) AS requester_wait`
	var row struct {
		OrderWait     float64 `db:"order_wait"`
		RequesterWait float64 `db:"requester_wait"`
	}
	if err := sqlx.GetContext(ctx, q, &row, query, orderID, customerID, interval.Seconds(), perHour); err != nil {
		return TransferWaits{}, fmt.Errorf("transfer request waits: %w", err)
	}
	wait := func(s float64) time.Duration { return max(time.Duration(s*float64(time.Second)), 0) }
	return TransferWaits{Order: wait(row.OrderWait), Requester: wait(row.RequesterWait)}, nil
}

// invalidTransferToken is Medusa's answer to a wrong, used or expired
// transfer token.
func invalidTransferToken() error { return errcode.New(errcode.NotAllowed, "Invalid token.") }

// TransferableOrder locks an order that a customer may ask to take over,
// one that belongs to a guest, and returns it. Returns NOT_FOUND for an
// unknown order and NOT_ALLOWED when a registered customer owns it.
func TransferableOrder(ctx context.Context, tx Tx, orderID string) (*Order, error) {
	query := `SELECT ` + orderColumns + `, c.has_account FROM orders o
		JOIN customer c ON c.id = o.customer_id
		WHERE o.id = $1 FOR UPDATE OF o`
	var row struct {
		Order
		HasAccount bool `db:"has_account"`
	}
	if err := sqlx.GetContext(ctx, tx, &row, query, orderID); err != nil {
		return nil, notFound(err, "Order", orderID)
	}
	if row.HasAccount {
		// Which customer owns it is theirs to know, not the asker's.
		return nil, errcode.New(errcode.NotAllowed, "Order: %s already belongs to a registered customer", orderID)
	}
	return &row.Order, nil
}

// MaxTransferDescription bounds a transfer's description, in characters.
const MaxTransferDescription = 1000

// TransferOptions are what a transfer request may carry besides its order
// and customer.
type TransferOptions struct {
	// Description is shown to whoever reads the token's mail (Medusa's
	// description); nil for none.
	Description *string
	// UpdateOrderEmail makes the order's email the new owner's on accept.
	UpdateOrderEmail bool
	// RequestedBy is the admin user who asked on the customer's behalf;
	// empty when the customer asked.
	RequestedBy string
}

// CleanTransferDescription returns a description as it is stored: trimmed,
// composed, nil when blank. Returns INVALID_DATA naming field when it is
// too long or holds control or invisible format characters.
func CleanTransferDescription(field string, s *string) (*string, error) {
	return cleanText(field, s, MaxTransferDescription)
}

// CreateTransfer records a request to take over an order for customerID,
// with the hash of the token sent for it, replacing the order's pending
// request. Run it after TransferableOrder; opt.Description must be clean
// (CleanTransferDescription).
func CreateTransfer(ctx context.Context, tx Tx, o *Order, customerID, tokenHash string, expires time.Time, opt TransferOptions) error {
	const replace = `UPDATE order_transfer SET status = 'replaced', decided_at = now() WHERE order_id = $1 AND status = 'pending'`
	if _, err := tx.ExecContext(ctx, replace, o.ID); err != nil {
		return fmt.Errorf("replace transfer: %w", err)
	}
	const insert = `INSERT INTO order_transfer (id, order_id, customer_id, from_customer_id, token_hash, expires_at,
			description, update_order_email, requested_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, nullif($9, ''))`
	if _, err := tx.ExecContext(ctx, insert, NewID(PrefixTransfer), o.ID, customerID, o.CustomerID, tokenHash, expires,
		opt.Description, opt.UpdateOrderEmail, opt.RequestedBy); err != nil {
		return fmt.Errorf("create transfer: %w", translate(err, "Transfer"))
	}
	return nil
}

// LockRegisteredCustomer locks a living registered customer, the one an
// admin transfers an order to, until the transaction ends. Returns
// NOT_FOUND for an unknown or deleted customer and NOT_ALLOWED for a guest,
// who has no account to accept with.
func LockRegisteredCustomer(ctx context.Context, tx Tx, customerID string) error {
	const query = `SELECT c.has_account FROM customer c WHERE c.id = $1 AND c.deleted_at IS NULL FOR NO KEY UPDATE`
	var registered bool
	if err := sqlx.GetContext(ctx, tx, &registered, query, customerID); err != nil {
		return notFound(err, "Customer", customerID)
	}
	if !registered {
		return &errcode.Error{Code: errcode.NotAllowed, Field: "customer_id",
			Message: fmt.Sprintf("Customer: %s is a guest; an order can only be transferred to a registered customer", customerID)}
	}
	return nil
}

// CancelTransfer cancels the order's pending, unexpired transfer request.
// With requester set, only a request that customer made itself (not one an
// admin made for it) is found, as Medusa's store route allows; empty, any
// (an admin's cancellation). Returns NOT_FOUND when there is none, without
// telling whether another's is pending.
func CancelTransfer(ctx context.Context, q sqlx.ExecerContext, orderID, requester string) error {
	const query = `UPDATE order_transfer SET status = 'canceled', decided_at = now()
		WHERE order_id = $1 AND status = 'pending' AND expires_at > now()
			AND ($2 = '' OR (customer_id = $2 AND requested_by IS NULL))`
	res, err := q.ExecContext(ctx, query, orderID, requester)
	if err != nil {
		return fmt.Errorf("cancel transfer: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("cancel transfer: %w", err)
	} else if n == 0 {
		if requester != "" {
			return errcode.New(errcode.NotFound, "Order: %s has no pending transfer request of yours", orderID)
		}
		return errcode.New(errcode.NotFound, "Order: %s has no pending transfer request", orderID)
	}
	return nil
}

// AcceptTransfer moves an order to the customer who asked for it, when the
// token is that of its pending, unexpired request and that customer accepts.
// Of concurrent accepts, exactly one succeeds: the request row is spent by
// the first. Returns NOT_ALLOWED "Invalid token." otherwise.
func AcceptTransfer(ctx context.Context, tx Tx, orderID, customerID, tokenHash string) (*Order, error) {
	const spend = `UPDATE order_transfer SET status = 'accepted', decided_at = now()
		WHERE order_id = $1 AND token_hash = $2 AND customer_id = $3 AND status = 'pending' AND expires_at > now()
		RETURNING from_customer_id, update_order_email`
	var spent struct {
		From        string `db:"from_customer_id"`
		UpdateEmail bool   `db:"update_order_email"`
	}
	if err := sqlx.GetContext(ctx, tx, &spent, spend, orderID, tokenHash, customerID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, invalidTransferToken()
		}
		return nil, fmt.Errorf("accept transfer: %w", err)
	}
	// With update_order_email, the order's email becomes its new owner's
	// (Medusa's option), in the same statement.
	move := `UPDATE orders AS o SET customer_id = $2, updated_at = now(),
			email = CASE WHEN $4 THEN (SELECT c.email FROM customer c WHERE c.id = $2) ELSE o.email END
		WHERE o.id = $1 AND o.customer_id = $3 RETURNING ` + orderColumns
	var out Order
	if err := sqlx.GetContext(ctx, tx, &out, move, orderID, customerID, spent.From, spent.UpdateEmail); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			// The order changed hands since the request.
			return nil, invalidTransferToken()
		}
		return nil, fmt.Errorf("move order: %w", err)
	}
	return &out, nil
}

// DeclineTransfer cancels an order's pending request whose token this is.
// Returns NOT_ALLOWED "Invalid token." for a wrong, used or expired token.
func DeclineTransfer(ctx context.Context, q sqlx.ExecerContext, orderID, tokenHash string) error {
	const query = `UPDATE order_transfer SET status = 'declined', decided_at = now()
		WHERE order_id = $1 AND token_hash = $2 AND status = 'pending' AND expires_at > now()`
	res, err := q.ExecContext(ctx, query, orderID, tokenHash)
	if err != nil {
		return fmt.Errorf("decline transfer: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("decline transfer: %w", err)
	} else if n == 0 {
		return invalidTransferToken()
	}
	return nil
}
