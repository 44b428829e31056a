package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"golang.org/x/text/unicode/norm"

	"customerservice/errcode"
)

// Customer is a row of the customer table: a registered customer
// (HasAccount) or a guest.
type Customer struct {
	ID          string     `db:"id"`
	Email       string     `db:"email"`
	FirstName   *string    `db:"first_name"`
	LastName    *string    `db:"last_name"`
	Phone       *string    `db:"phone"`
	CompanyName *string    `db:"company_name"`
	HasAccount  bool       `db:"has_account"`
	Metadata    JSONObject `db:"metadata"`
	CreatedBy   *string    `db:"created_by"`
	CreatedAt   time.Time  `db:"created_at"`
	UpdatedAt   time.Time  `db:"updated_at"`
	DeletedAt   *time.Time `db:"deleted_at"`
}

var customerTable = newTable("c", []string{"id"},
	column[Customer]{"id", func(c *Customer) any { return &c.ID }},
	column[Customer]{"email", func(c *Customer) any { return &c.Email }},
	column[Customer]{"first_name", func(c *Customer) any { return &c.FirstName }},
	column[Customer]{"last_name", func(c *Customer) any { return &c.LastName }},
	column[Customer]{"phone", func(c *Customer) any { return &c.Phone }},
	column[Customer]{"company_name", func(c *Customer) any { return &c.CompanyName }},
	column[Customer]{"has_account", func(c *Customer) any { return &c.HasAccount }},
	column[Customer]{"metadata", func(c *Customer) any { return &c.Metadata }},
	column[Customer]{"created_by", func(c *Customer) any { return &c.CreatedBy }},
	column[Customer]{"created_at", func(c *Customer) any { return &c.CreatedAt }},
	column[Customer]{"updated_at", func(c *Customer) any { return &c.UpdatedAt }},
	column[Customer]{"deleted_at", func(c *Customer) any { return &c.DeletedAt }},
)

var customerColumns = customerTable.all()

// CustomerColumns returns the columns that serve the named fields of a
// customer, with its id.
func CustomerColumns(fields []string) Columns[Customer] { return customerTable.pick(fields) }

// searchWindow is how many characters of a longer q the trigram index is
// asked for: search_pattern's six.
const searchWindow = 6

// customerSearchText is the text the q filter searches. It must stay the
// expression of the trigram index customer_search_idx, or searches scan the
// table.
const customerSearchText = `(c.email || ' ' || coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '') || ' ' ||
	coalesce(c.phone, '') || ' ' || coalesce(c.company_name, ''))`

// CustomerFilter selects customers. Empty fields do not filter; the
// fields that are set must all hold.
type CustomerFilter struct {
	// Q is searched for, case-insensitively, in email, names, phone and
	// company name.
	Q           *string
	ID          []string
	Email       []string
	HasAccount  *bool
	GroupID     []string
	CompanyName *string
	CreatedAt   *TimeRange
	UpdatedAt   *TimeRange
	// FirstName and LastName match any of their names, in any case.
	FirstName []string
	LastName  []string
	// CreatedBy matches customers created by any of these admin users.
	CreatedBy []string
	// DeletedAt bounds the deletion time; it needs WithDeleted.
	DeletedAt *TimeRange
	// AnyOf holds when one of its filters does (Medusa's $or), each
	// checked as a whole filter; bounded by MaxAnyOf and MaxAnyOfDepth.
	AnyOf []*CustomerFilter
	// Statistics (customer_stats, customer_spend).
	OrderCount  *IntRange
	LastOrderAt *TimeRange
	AmountSpent *AmountRange
	// WithDeleted includes soft-deleted customers.
	WithDeleted bool
}

// AmountRange bounds what a customer spent in one currency, in minor
// units; a customer who never spent in it spent 0.
type AmountRange struct {
	CurrencyCode string
	Gt           *int64
	Gte          *int64
	Lt           *int64
	Lte          *int64
}

// Bounds of any_of: filters in one any_of, nested any_of levels, and filter
// objects in a whole filter. Each branch is a condition of the statement;
// these keep it small however the filter is written.
const (
	MaxAnyOf         = 10
	MaxAnyOfDepth    = 3
	MaxFilterObjects = 30
)

var customerSort = sortColumns{
	"created_at": by("created_at", kindTime),
	"updated_at": by("updated_at", kindTime),
	"email":      by("email", kindText),
	// No index orders the names (customer_first_name_idx and its like are
	// on lower(name), for filters).
	"first_name":    {column: "first_name", kind: kindText, nulls: nullsHigh, unindexed: true},
	"last_name":     {column: "last_name", kind: kindText, nulls: nullsHigh, unindexed: true},
	"company_name":  {column: "company_name", kind: kindText, nulls: nullsHigh, unindexed: true},
	"order_count":   by("s.order_count", kindInt),
	"last_order_at": {column: "s.last_order_at", kind: kindTime, nulls: nullsLow},
}

// NewCustomerPage validates list arguments for the list of customers.
// Returns INVALID_DATA for a bound or order it does not accept.
func NewCustomerPage(limit, offset int, order string) (Page, error) {
	return newPage(listOfCustomers, limit, offset, order, customerSort)
}

// NewMemberPage validates list arguments for a group's members.
// Returns INVALID_DATA for a bound or order it does not accept.
func NewMemberPage(limit, offset int, order string) (Page, error) {
	return newPage(listOfGroupMembers, limit, offset, order, customerSort)
}

// Validate reports a filter the list cannot run with: INVALID_DATA.
func (f CustomerFilter) Validate() error {
	_, _, err := f.conds()
	return err
}

// conds returns the filter's conditions and whether they read the
// customer's statistics (customer_stats s, joined).
func (f CustomerFilter) conds() (conds, bool, error) {
	var c conds
	if !f.WithDeleted {
		c.add("c.deleted_at IS NULL")
		if f.DeletedAt != nil {
			return c, false, errcode.Invalid("filter.deleted_at", "filter.deleted_at needs with_deleted: true, or it selects no customer")
		}
	}
	objects := 0
	stats, err := f.add(&c, "filter", 1, &objects)
	return c, stats, err
}

// add adds the conditions of f, whose fields are named under prefix and
// which sits at depth in any_of, to c. objects counts the filter objects
// so far. It returns whether they read customer_stats.
func (f *CustomerFilter) add(c *conds, prefix string, depth int, objects *int) (stats bool, err error) {
	*objects++
	if *objects > MaxFilterObjects {
		return false, errcode.Invalid(prefix, "a filter holds at most %d filter objects, any_of included", MaxFilterObjects)
	}
	if f.Q != nil {
		q, err := searchFragment(prefix+".q", *f.Q)
		if err != nil {
			return false, err
		}
		switch {
		case utf8.RuneCountInString(q) > searchWindow:
			// The index is asked for q's most selective six characters
			// (search_pattern, migration 0020), and the rows it finds are
			// checked against all of q by an expression the index does not
			// serve, so that the planner cannot ask it for all of q's
			// trigrams again.
			c.add("("+customerSearchText+" ILIKE (SELECT search_pattern(?)) AND ("+customerSearchText+" || '') ILIKE ?)", q, likePattern(q))
		case q != "":
			c.add(customerSearchText+" ILIKE ?", likePattern(q))
		}
	}
	if f.ID != nil {
		c.add("c.id = ANY(?)", pq.Array(f.ID))
	}
	if f.Email != nil {
		emails := make([]string, len(f.Email))
		for i, e := range f.Email {
			emails[i] = NormalizeEmail(e)
		}
		c.add("c.email = ANY(?)", pq.Array(emails))
	}
	if f.HasAccount != nil {
		c.add("c.has_account = ?", *f.HasAccount)
	}
	if f.GroupID != nil {
		c.add(`EXISTS (SELECT 1 FROM customer_group_customer m
			JOIN customer_group g ON g.id = m.customer_group_id AND g.deleted_at IS NULL
			WHERE m.customer_id = c.id AND m.customer_group_id = ANY(?))`, pq.Array(f.GroupID))
	}
	if f.CompanyName != nil {
		// Names are stored composed (cleanText).
		c.add("lower(c.company_name) = lower(?)", norm.NFC.String(*f.CompanyName))
	}
	if f.FirstName != nil {
		c.add("lower(c.first_name) = ANY(?)", pq.Array(lowerNames(f.FirstName)))
	}
	if f.LastName != nil {
		c.add("lower(c.last_name) = ANY(?)", pq.Array(lowerNames(f.LastName)))
	}
	if f.CreatedBy != nil {
		c.add("c.created_by = ANY(?)", pq.Array(f.CreatedBy))
	}
	c.timeRange("c.created_at", f.CreatedAt)
	c.timeRange("c.updated_at", f.UpdatedAt)
	c.timeRange("c.deleted_at", f.DeletedAt)
	if f.OrderCount != nil {
		stats = true
		c.intRange("s.order_count", f.OrderCount)
	}
	if f.LastOrderAt != nil {
		stats = true
		c.timeRange("s.last_order_at", f.LastOrderAt)
	}
	if f.AmountSpent != nil {
		if err := addAmountSpent(c, prefix+".amount_spent", f.AmountSpent); err != nil {
			return false, err
		}
	}
	if f.AnyOf != nil {
		field := prefix + ".any_of"
		if depth > MaxAnyOfDepth {
			return false, errcode.Invalid(field, "any_of nests at most %d levels deep", MaxAnyOfDepth)
		}
		if len(f.AnyOf) == 0 || len(f.AnyOf) > MaxAnyOf {
			return false, errcode.Invalid(field, "any_of takes 1 to %d filters, got %d", MaxAnyOf, len(f.AnyOf))
		}
		var branches []string
		var args []any
		for i, sub := range f.AnyOf {
			if sub == nil {
				return false, errcode.Invalid(field, "any_of takes filters, not null")
			}
			var b conds
			s, err := sub.add(&b, fmt.Sprintf("%s[%d]", field, i), depth+1, objects)
			if err != nil {
				return false, err
			}
			stats = stats || s
			branches = append(branches, b.and())
			args = append(args, b.args...)
		}
		c.add("("+strings.Join(branches, " OR ")+")", args...)
	}
	return stats, nil
}

// addAmountSpent adds the condition of an amount spent in one currency. A
// range without 0 is looked up in customer_spend_amount_idx (customers who
// spent that much); one with 0 also holds for customers who never spent in
// the currency, and reads each candidate's spend by primary key.
func addAmountSpent(c *conds, field string, r *AmountRange) error {
	cur := strings.ToLower(strings.TrimSpace(r.CurrencyCode))
	if !currencies[cur] {
		return errcode.Invalid(field+".currency_code", "%q is not an ISO 4217 currency code, such as \"usd\" or \"eur\"", r.CurrencyCode)
	}
	bounds := &IntRange{Gt: r.Gt, Gte: r.Gte, Lt: r.Lt, Lte: r.Lte}
	var b conds
	b.intRange("sp.amount_spent", bounds)
	if len(b.parts) == 0 {
		return errcode.Invalid(field, "amount_spent needs a bound: gt, gte, lt or lte")
	}
	zero := (r.Gt == nil || *r.Gt < 0) && (r.Gte == nil || *r.Gte <= 0) &&
		(r.Lt == nil || *r.Lt > 0) && (r.Lte == nil || *r.Lte >= 0)
	if !zero {
		c.add(`c.id IN (SELECT sp.customer_id FROM customer_spend sp WHERE sp.currency_code = ? AND `+
			strings.Join(b.parts, " AND ")+`)`, append([]any{cur}, b.args...)...)
		return nil
	}
	var z conds
	z.intRange("coalesce((SELECT sp.amount_spent FROM customer_spend sp WHERE sp.customer_id = c.id AND sp.currency_code = ?), 0)", bounds)
	for i, part := range z.parts {
		c.add(part, cur, z.args[i])
	}
	return nil
}

func lowerNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		// Names are stored trimmed and composed (cleanText).
		out[i] = strings.ToLower(norm.NFC.String(strings.TrimSpace(n)))
	}
	return out
}

// customerQuery is the page p of the customers f selects.
func customerQuery(f CustomerFilter, p Page) (listQuery, error) {
	c, stats, err := f.conds()
	if err != nil {
		return listQuery{}, err
	}
	join := p.Sort.join()
	if stats {
		join = statsJoin
	}
	return listQuery{from: "customer c" + join, alias: "c", where: c, page: p}, nil
}

// ListCustomers returns one page of the customers f selects, with the
// columns cols. Returns INVALID_DATA for a bad filter.
func ListCustomers(ctx context.Context, q sqlx.QueryerContext, f CustomerFilter, p Page, cols Columns[Customer]) ([]*Customer, error) {
	l, err := customerQuery(f, p)
	return listPage(ctx, q, "customers", l, err, customerTable.list(cols), customerTable.targets(cols))
}

// CustomerPageEnd returns where the page p of the customers f selects
// ends. Returns INVALID_DATA for a bad filter.
func CustomerPageEnd(ctx context.Context, q sqlx.QueryerContext, f CustomerFilter, p Page) (PageEnd, error) {
	l, err := customerQuery(f, p)
	return pageEnd(ctx, q, "customer", l, err)
}

// CountCustomers returns how many customers f selects.
// Returns INVALID_DATA for a bad filter.
func CountCustomers(ctx context.Context, q sqlx.QueryerContext, f CustomerFilter) (int, error) {
	c, stats, err := f.conds()
	if err != nil {
		return 0, err
	}
	if len(c.parts) == 1 && !f.WithDeleted {
		// Only "not deleted": the count the triggers keep.
		var n int
		if err := sqlx.GetContext(ctx, q, &n, `SELECT coalesce(sum(n), 0) FROM customer_count`); err != nil {
			return 0, fmt.Errorf("count customers: %w", err)
		}
		return n, nil
	}
	query := `SELECT count(*) FROM customer c ` + c.where()
	if stats {
		query = `SELECT count(*) FROM customer c` + statsJoin + ` ` + c.where()
	}
	var n int
	if err := sqlx.GetContext(ctx, q, &n, sqlx.Rebind(sqlx.DOLLAR, query), c.args...); err != nil {
		return 0, fmt.Errorf("count customers: %w", err)
	}
	return n, nil
}

// CustomerByID returns the customer with the given id, unless it is deleted.
// Returns NOT_FOUND when there is none.
func CustomerByID(ctx context.Context, q sqlx.QueryerContext, id string) (*Customer, error) {
	query := `SELECT ` + customerColumns + ` FROM customer c WHERE c.id = $1 AND c.deleted_at IS NULL`
	var out Customer
	if err := sqlx.GetContext(ctx, q, &out, query, id); err != nil {
		return nil, notFound(err, "Customer", id)
	}
	return &out, nil
}

// CustomersByIDs returns the customers with the given ids, with the columns
// cols, in key order, deleted ones included: an order or address keeps
// pointing at the customer it belonged to. A missing id has a nil entry.
func CustomersByIDs(ctx context.Context, q sqlx.QueryerContext, ids []string, cols Columns[Customer]) ([]*Customer, error) {
	query := `SELECT ` + customerTable.list(cols) + ` FROM customer c WHERE c.id = ANY($1)`
	rows, err := selectRows(ctx, q, query, []any{pq.Array(ids)}, customerTable.targets(cols))
	if err != nil {
		return nil, fmt.Errorf("customers by ids: %w", err)
	}
	byID := make(map[string]*Customer, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
	}
	out := make([]*Customer, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out, nil
}

// CustomersByGroupIDs returns one page of each group's living members, with
// the columns cols, and where it ends, in key order.
func CustomersByGroupIDs(ctx context.Context, q sqlx.QueryerContext, groupIDs []string, p Page, cols Columns[Customer]) ([]Slice[Customer], error) {
	// Each group's page walks customers in the sort's index order and
	// keeps members, a primary-key probe each: a group of 100,000 members
	// is not sorted whole for a page of 20.
	var c conds
	c.add("c.deleted_at IS NULL")
	c.add("EXISTS (SELECT 1 FROM customer_group_customer m WHERE m.customer_group_id = k.key AND m.customer_id = c.id)")
	l := listQuery{from: "customer c" + p.Sort.join(), alias: "c", where: c, page: p}
	out, err := perParent(ctx, q, l, groupIDs, customerTable.list(cols), customerTable.targets(cols))
	if err != nil {
		return nil, fmt.Errorf("customers by group ids: %w", err)
	}
	return out, nil
}

// CountCustomersByGroupIDs returns the number of members of each group, in
// key order, as the triggers keep it.
func CountCustomersByGroupIDs(ctx context.Context, q sqlx.QueryerContext, groupIDs []string) ([]int, error) {
	const query = `SELECT g.id AS key, g.member_count AS count FROM customer_group g WHERE g.id = ANY($1)`
	var rows []keyCount
	if err := sqlx.SelectContext(ctx, q, &rows, query, pq.Array(groupIDs)); err != nil {
		return nil, fmt.Errorf("count customers by group ids: %w", err)
	}
	return countsByKey(groupIDs, rows), nil
}

// CustomerFields are the fields of a customer a client writes. For a new
// customer, fields that are not Set stay empty; Email must be Set.
type CustomerFields struct {
	Email       Change[string]
	FirstName   Change[*string]
	LastName    Change[*string]
	Phone       Change[*string]
	CompanyName Change[*string]
	Metadata    Change[JSONObject]
}

// assign validates the fields; field names in errors are under prefix
// ("input").
func (f CustomerFields) assign(prefix string) (*assignments, error) {
	a := &assignments{}
	if f.Email.Set {
		email, err := CleanEmail(prefix+".email", f.Email.Value)
		if err != nil {
			return nil, err
		}
		a.set("email", email)
	}
	a.text("first_name", prefix+".first_name", f.FirstName, maxText)
	a.text("last_name", prefix+".last_name", f.LastName, maxText)
	a.phone("phone", prefix+".phone", f.Phone)
	a.text("company_name", prefix+".company_name", f.CompanyName, maxText)
	a.json("metadata", f.Metadata)
	return a, a.err
}

// NewCustomer is a customer to create.
type NewCustomer struct {
	CustomerFields
	// HasAccount is true for a registered customer, false for a guest.
	HasAccount bool
	// CreatedBy is the admin user who creates it, if one does.
	CreatedBy *string
}

// CreateCustomer adds a customer. The unique index decides between
// concurrent creates of one email, so exactly one of them succeeds.
// Returns INVALID_DATA for bad fields and DUPLICATE_ERROR when a customer
// with the email and HasAccount exists.
func CreateCustomer(ctx context.Context, q sqlx.QueryerContext, c NewCustomer) (*Customer, error) {
	if !c.Email.Set {
		return nil, errcode.Invalid("input.email", "email is required")
	}
	a, err := c.assign("input")
	if err != nil {
		return nil, err
	}
	a.set("id", NewID(PrefixCustomer))
	a.set("has_account", c.HasAccount)
	a.set("created_by", c.CreatedBy)
	var out Customer
	if err := sqlx.GetContext(ctx, q, &out, a.insert("customer", "c", customerColumns), a.args...); err != nil {
		return nil, customerWriteError(err, a)
	}
	return &out, nil
}

// UpdateCustomer changes the Set fields of a customer that is not deleted.
// Returns INVALID_DATA for bad fields, NOT_FOUND for an unknown or deleted
// id and DUPLICATE_ERROR when the new email is taken.
func UpdateCustomer(ctx context.Context, q sqlx.QueryerContext, id string, f CustomerFields) (*Customer, error) {
	if f.Email.Set && f.Email.Value == "" {
		return nil, errcode.Invalid("input.email", "email is required")
	}
	a, err := f.assign("input")
	if err != nil {
		return nil, err
	}
	update, args := a.update("customer", "c", "c.id = ? AND c.deleted_at IS NULL", customerColumns, id)
	var out Customer
	if err := sqlx.GetContext(ctx, q, &out, update, args...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound(err, "Customer", id)
		}
		return nil, customerWriteError(err, a)
	}
	return &out, nil
}

// customerWriteError explains a failed write of a customer: a taken email
// in Medusa's words.
func customerWriteError(err error, a *assignments) error {
	err = translate(err, "Customer")
	if errcode.Of(err) == errcode.DuplicateError {
		for i, c := range a.cols {
			if c == "email" {
				return &errcode.Error{Code: errcode.DuplicateError, Field: "input.email",
					Message: fmt.Sprintf("Customer with email: %s already exists", a.args[i])}
			}
		}
	}
	return err
}

// DeleteCustomer soft-deletes a customer: the row stays, with deleted_at,
// so its orders keep pointing at it, but it leaves lookups and lists and its
// email is free again. Its addresses are deleted with it, it leaves its
// groups and its login identity is unlinked (the identity stays, and may
// create a new account). Returns NOT_FOUND for an unknown or already
// deleted id.
func DeleteCustomer(ctx context.Context, tx Tx, id string) error {
	const query = `UPDATE customer SET deleted_at = now(), updated_at = now()
		WHERE id = $1 AND deleted_at IS NULL RETURNING id`
	var deleted string
	if err := sqlx.GetContext(ctx, tx, &deleted, query, id); err != nil {
		return notFound(err, "Customer", id)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE customer_address SET deleted_at = now(), updated_at = now()
		WHERE customer_id = $1 AND deleted_at IS NULL`, id); err != nil {
		return fmt.Errorf("delete addresses of %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM customer_group_customer WHERE customer_id = $1`, id); err != nil {
		return fmt.Errorf("remove %s from its groups: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE auth_identity SET customer_id = NULL, updated_at = now() WHERE customer_id = $1`, id); err != nil {
		return fmt.Errorf("unlink the identity of %s: %w", id, err)
	}
	return nil
}
