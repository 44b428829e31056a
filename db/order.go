package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"customerservice/errcode"
)

// OrderStatus is the state of an order.
type OrderStatus string

// The order states.
const (
	OrderPending   OrderStatus = "PENDING"
	OrderCompleted OrderStatus = "COMPLETED"
	OrderCanceled  OrderStatus = "CANCELED"
)

// Order is a row of orders. Its totals are computed from its items when it
// is placed and stored, so lists need not add them up.
type Order struct {
	ID              string        `db:"id"`
	DisplayID       int64         `db:"display_id"`
	CustomerID      string        `db:"customer_id"`
	Email           string        `db:"email"`
	Status          OrderStatus   `db:"status"`
	CurrencyCode    string        `db:"currency_code"`
	ShippingAddress *OrderAddress `db:"shipping_address"`
	BillingAddress  *OrderAddress `db:"billing_address"`
	Subtotal        int64         `db:"subtotal"`
	Total           int64         `db:"total"`
	CreatedAt       time.Time     `db:"created_at"`
	UpdatedAt       time.Time     `db:"updated_at"`
}

// OrderAddress is an address copied onto an order, stored as jsonb so that
// later edits of the address book leave placed orders as they were.
type OrderAddress struct {
	FirstName   *string `json:"first_name,omitempty"`
	LastName    *string `json:"last_name,omitempty"`
	Company     *string `json:"company,omitempty"`
	Address1    *string `json:"address_1,omitempty"`
	Address2    *string `json:"address_2,omitempty"`
	City        *string `json:"city,omitempty"`
	CountryCode *string `json:"country_code,omitempty"`
	Province    *string `json:"province,omitempty"`
	PostalCode  *string `json:"postal_code,omitempty"`
	Phone       *string `json:"phone,omitempty"`
}

// Scan implements sql.Scanner.
func (a *OrderAddress) Scan(src any) error {
	b, ok := src.([]byte)
	if !ok {
		return fmt.Errorf("db: cannot scan %T into OrderAddress", src)
	}
	return json.Unmarshal(b, a)
}

// Value implements driver.Valuer.
func (a *OrderAddress) Value() (driver.Value, error) {
	if a == nil {
		return nil, nil
	}
	b, err := json.Marshal(a) // text, as JSONObject.Value says why
	return string(b), err
}

// LineItem is a row of order_line_item.
type LineItem struct {
	ID        string `db:"id"`
	OrderID   string `db:"order_id"`
	Title     string `db:"title"`
	Quantity  int    `db:"quantity"`
	UnitPrice int64  `db:"unit_price"`
	Total     int64  `db:"total"`
}

const lineItemColumns = `i.id, i.order_id, i.title, i.quantity, i.unit_price, i.total`

// orderTable: every read fetches the customer, which Order.customer loads.
var orderTable = newTable("o", []string{"id", "customer_id"},
	column[Order]{"id", func(o *Order) any { return &o.ID }},
	column[Order]{"display_id", func(o *Order) any { return &o.DisplayID }},
	column[Order]{"customer_id", func(o *Order) any { return &o.CustomerID }},
	column[Order]{"email", func(o *Order) any { return &o.Email }},
	column[Order]{"status", func(o *Order) any { return &o.Status }},
	column[Order]{"currency_code", func(o *Order) any { return &o.CurrencyCode }},
	column[Order]{"shipping_address", func(o *Order) any { return &o.ShippingAddress }},
	column[Order]{"billing_address", func(o *Order) any { return &o.BillingAddress }},
	column[Order]{"subtotal", func(o *Order) any { return &o.Subtotal }},
	column[Order]{"total", func(o *Order) any { return &o.Total }},
	column[Order]{"created_at", func(o *Order) any { return &o.CreatedAt }},
	column[Order]{"updated_at", func(o *Order) any { return &o.UpdatedAt }},
)

var orderColumns = orderTable.all()

// OrderColumns returns the columns that serve the named fields of an order,
// with its id and its customer's.
func OrderColumns(fields []string) Columns[Order] { return orderTable.pick(fields) }

// OrderFilter selects orders. Empty fields do not filter.
type OrderFilter struct {
	ID         []string
	CustomerID []string
	Email      []string
	Status     []OrderStatus
	CreatedAt  *TimeRange
}

var orderSort = sortColumns{
	"created_at": by("created_at", kindTime),
	"updated_at": by("updated_at", kindTime),
	"display_id": by("display_id", kindInt),
	"email":      by("email", kindText),
	"total":      by("total", kindInt),
}

// NewOrderPage validates list arguments for the list of orders.
// Returns INVALID_DATA for a bound or order it does not accept.
func NewOrderPage(limit, offset int, order string) (Page, error) {
	return newPage(listOfOrders, limit, offset, order, orderSort)
}

// NewCustomerOrderPage validates list arguments for a customer's orders,
// newest first. Returns INVALID_DATA for a bound it does not accept.
func NewCustomerOrderPage(limit, offset int) (Page, error) {
	return newPage(listOfCustomerOrders, limit, offset, "-created_at", orderSort)
}

func (f OrderFilter) conds() conds {
	var c conds
	if f.ID != nil {
		c.add("o.id = ANY(?)", pq.Array(f.ID))
	}
	if f.CustomerID != nil {
		c.add("o.customer_id = ANY(?)", pq.Array(f.CustomerID))
	}
	if f.Email != nil {
		emails := make([]string, len(f.Email))
		for i, e := range f.Email {
			emails[i] = NormalizeEmail(e)
		}
		c.add("o.email = ANY(?)", pq.Array(emails))
	}
	if f.Status != nil {
		statuses := make([]string, len(f.Status))
		for i, s := range f.Status {
			statuses[i] = string(s)
		}
		c.add("o.status = ANY(?)", pq.Array(statuses))
	}
	c.timeRange("o.created_at", f.CreatedAt)
	return c
}

// ListOrders returns one page of the orders f selects, with the columns
// cols.
func ListOrders(ctx context.Context, q sqlx.QueryerContext, f OrderFilter, p Page, cols Columns[Order]) ([]*Order, error) {
	return listPage(ctx, q, "orders", orderQuery(f, p), nil, orderTable.list(cols), orderTable.targets(cols))
}

func orderQuery(f OrderFilter, p Page) listQuery {
	return listQuery{from: "orders o", alias: "o", where: f.conds(), page: p}
}

// OrderPageEnd returns where the page p of the orders f selects ends.
func OrderPageEnd(ctx context.Context, q sqlx.QueryerContext, f OrderFilter, p Page) (PageEnd, error) {
	return pageEnd(ctx, q, "order", orderQuery(f, p), nil)
}

// CountOrders returns how many orders f selects.
func CountOrders(ctx context.Context, q sqlx.QueryerContext, f OrderFilter) (int, error) {
	c := f.conds()
	var n int
	query := `SELECT count(*) FROM orders o ` + c.where()
	if err := sqlx.GetContext(ctx, q, &n, sqlx.Rebind(sqlx.DOLLAR, query), c.args...); err != nil {
		return 0, fmt.Errorf("count orders: %w", err)
	}
	return n, nil
}

// OrderByID returns the order with the given id.
// Returns NOT_FOUND when there is none.
func OrderByID(ctx context.Context, q sqlx.QueryerContext, id string) (*Order, error) {
	query := `SELECT ` + orderColumns + ` FROM orders o WHERE o.id = $1`
	var out Order
	if err := sqlx.GetContext(ctx, q, &out, query, id); err != nil {
		return nil, notFound(err, "Order", id)
	}
	return &out, nil
}

// OrderNotFound is the error for an order that is not there, or not the
// caller's to see: the two must look the same.
func OrderNotFound(id string) error {
	return notFound(sql.ErrNoRows, "Order", id)
}

// OrdersByCustomerIDs returns one page of each customer's orders, with the
// columns cols, newest first, and where it ends, in key order.
func OrdersByCustomerIDs(ctx context.Context, q sqlx.QueryerContext, customerIDs []string, p Page, cols Columns[Order]) ([]Slice[Order], error) {
	// Each customer's page is an index scan of orders_customer_idx.
	var c conds
	c.add("o.customer_id = k.key")
	l := listQuery{from: "orders o", alias: "o", where: c, page: p}
	out, err := perParent(ctx, q, l, customerIDs, orderTable.list(cols), orderTable.targets(cols))
	if err != nil {
		return nil, fmt.Errorf("orders by customer ids: %w", err)
	}
	return out, nil
}

// CountOrdersByCustomerIDs returns the number of orders of each customer,
// in key order.
func CountOrdersByCustomerIDs(ctx context.Context, q sqlx.QueryerContext, customerIDs []string) ([]int, error) {
	const query = `SELECT o.customer_id AS key, count(*) AS count FROM orders o
		WHERE o.customer_id = ANY($1) GROUP BY o.customer_id`
	var rows []keyCount
	if err := sqlx.SelectContext(ctx, q, &rows, query, pq.Array(customerIDs)); err != nil {
		return nil, fmt.Errorf("count orders by customer ids: %w", err)
	}
	return countsByKey(customerIDs, rows), nil
}

// LineItemsByOrderIDs returns the items of each order in the order they
// were added, in key order.
func LineItemsByOrderIDs(ctx context.Context, q sqlx.QueryerContext, orderIDs []string) ([][]*LineItem, error) {
	const query = `SELECT ` + lineItemColumns + `
		FROM order_line_item i WHERE i.order_id = ANY($1)
		ORDER BY i.order_id, i.created_at, i.id`
	rows, err := selectRows(ctx, q, query, []any{pq.Array(orderIDs)}, (*LineItem).fields)
	if err != nil {
		return nil, fmt.Errorf("line items by order ids: %w", err)
	}
	return byParent(orderIDs, rows, func(i *LineItem) (string, *LineItem) { return i.OrderID, i }), nil
}

// Order limits.
const (
	MaxOrderItems = 100
	MaxQuantity   = 10_000
	// maxTotal keeps every amount a GraphQL Int (32 bits).
	maxTotal = 1<<31 - 1
)

// NewOrder is an order to place.
type NewOrder struct {
	CustomerID      string
	Email           string
	CurrencyCode    string
	Items           []NewLineItem
	ShippingAddress *OrderAddress
	BillingAddress  *OrderAddress
}

// NewLineItem is a line of an order to place.
type NewLineItem struct {
	Title     string
	Quantity  int
	UnitPrice int64
}

// validate cleans the order and computes its total, or returns
// INVALID_DATA naming the field at fault.
func (o *NewOrder) validate() (int64, error) {
	email, err := CleanEmail("input.email", o.Email)
	if err != nil {
		return 0, err
	}
	o.Email = email
	code := strings.ToLower(strings.TrimSpace(o.CurrencyCode))
	if !currencies[code] {
		return 0, errcode.Invalid("input.currency_code", "%q is not an ISO 4217 currency code, such as \"usd\" or \"eur\"", o.CurrencyCode)
	}
	o.CurrencyCode = code
	if len(o.Items) == 0 || len(o.Items) > MaxOrderItems {
		return 0, errcode.Invalid("input.items", "an order has 1 to %d items, got %d", MaxOrderItems, len(o.Items))
	}
	var total int64
	for i := range o.Items {
		it := &o.Items[i]
		field := fmt.Sprintf("input.items.%d", i)
		title, err := cleanText(field+".title", &it.Title, maxText)
		if err != nil {
			return 0, err
		}
		if title == nil {
			return 0, errcode.Invalid(field+".title", "an item needs a title")
		}
		it.Title = *title
		if it.Quantity < 1 || it.Quantity > MaxQuantity {
			return 0, errcode.Invalid(field+".quantity", "quantity must be between 1 and %d, got %d", MaxQuantity, it.Quantity)
		}
		if it.UnitPrice < 0 || it.UnitPrice > maxTotal {
			return 0, errcode.Invalid(field+".unit_price", "unit_price must be between 0 and %d minor units, got %d", maxTotal, it.UnitPrice)
		}
		total += int64(it.Quantity) * it.UnitPrice
		if total > maxTotal {
			return 0, errcode.Invalid("input.items", "the order total must be at most %d minor units", maxTotal)
		}
	}
	for field, a := range map[string]*OrderAddress{"input.shipping_address": o.ShippingAddress, "input.billing_address": o.BillingAddress} {
		if err := a.clean(field); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// clean trims and checks an order address in place.
func (a *OrderAddress) clean(field string) error {
	if a == nil {
		return nil
	}
	for name, p := range map[string]**string{
		"first_name": &a.FirstName, "last_name": &a.LastName, "company": &a.Company, "address_1": &a.Address1,
		"address_2": &a.Address2, "city": &a.City, "province": &a.Province,
	} {
		v, err := cleanText(field+"."+name, *p, maxText)
		if err != nil {
			return err
		}
		*p = v
	}
	var err error
	if a.PostalCode, err = cleanText(field+".postal_code", a.PostalCode, maxPostalCode); err != nil {
		return err
	}
	if a.Phone, err = cleanPhone(field+".phone", a.Phone); err != nil {
		return err
	}
	a.CountryCode, err = cleanCountry(field+".country_code", a.CountryCode)
	return err
}

// CreateOrder places an order with its items, its totals computed here
// from the items. Returns INVALID_DATA for a bad order and NOT_FOUND when
// its customer does not exist.
func CreateOrder(ctx context.Context, tx Tx, o NewOrder) (*Order, error) {
	total, err := o.validate()
	if err != nil {
		return nil, err
	}
	insert := `INSERT INTO orders AS o (id, customer_id, email, currency_code, shipping_address, billing_address, subtotal, total)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING ` + orderColumns
	var out Order
	err = sqlx.GetContext(ctx, tx, &out, insert, NewID(PrefixOrder), o.CustomerID, o.Email, o.CurrencyCode,
		o.ShippingAddress, o.BillingAddress, total)
	if err != nil {
		return nil, fmt.Errorf("create order: %w", translate(err, "Order"))
	}
	ids := make([]string, len(o.Items))
	titles := make([]string, len(o.Items))
	quantities := make([]int64, len(o.Items))
	prices := make([]int64, len(o.Items))
	for i, it := range o.Items {
		ids[i], titles[i], quantities[i], prices[i] = NewID(PrefixLineItem), it.Title, int64(it.Quantity), it.UnitPrice
	}
	// One statement for all items; created_at keeps their order.
	const items = `INSERT INTO order_line_item (id, order_id, title, quantity, unit_price, created_at)
		SELECT i.id, $1, i.title, i.quantity, i.unit_price, now() + i.n * interval '1 microsecond'
		FROM unnest($2::text[], $3::text[], $4::int[], $5::bigint[]) WITH ORDINALITY AS i(id, title, quantity, unit_price, n)`
	if _, err := tx.ExecContext(ctx, items, out.ID, pq.Array(ids), pq.Array(titles), pq.Array(quantities), pq.Array(prices)); err != nil {
		return nil, fmt.Errorf("create order items: %w", translate(err, "Order item"))
	}
	return &out, nil
}

// GuestCustomer returns the id of the living guest customer with a clean
// email, creating it when there is none. Concurrent calls for one email
// end with one guest: the unique index decides, and the losers read the
// winner's row.
func GuestCustomer(ctx context.Context, q sqlx.QueryerContext, email string) (string, error) {
	const insert = `INSERT INTO customer (id, email, has_account) VALUES ($1, $2, false)
		ON CONFLICT (email, has_account) WHERE deleted_at IS NULL DO NOTHING RETURNING id`
	// The guest found is locked as LockCustomerForOrder locks, so that a
	// merge or erasure of it under way ends first and is seen deleted.
	const find = `SELECT id FROM customer WHERE email = $1 AND has_account = false AND deleted_at IS NULL FOR KEY SHARE`
	// The row that blocked the insert can be deleted before it is read;
	// then the insert is tried again.
	for range 3 {
		var id string
		err := sqlx.GetContext(ctx, q, &id, insert, NewID(PrefixCustomer), email)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return "", fmt.Errorf("create guest customer: %w", translate(err, "Customer"))
		}
		err = sqlx.GetContext(ctx, q, &id, find, email)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return "", fmt.Errorf("find guest customer: %w", err)
		}
	}
	return "", fmt.Errorf("guest customer %s: the row kept changing", email)
}
