package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"customerservice/errcode"
)

// Address is a row of customer_address: an entry of a customer's address
// book.
type Address struct {
	ID                string     `db:"id"`
	CustomerID        string     `db:"customer_id"`
	AddressName       *string    `db:"address_name"`
	IsDefaultShipping bool       `db:"is_default_shipping"`
	IsDefaultBilling  bool       `db:"is_default_billing"`
	Company           *string    `db:"company"`
	FirstName         *string    `db:"first_name"`
	LastName          *string    `db:"last_name"`
	Address1          *string    `db:"address_1"`
	Address2          *string    `db:"address_2"`
	City              *string    `db:"city"`
	CountryCode       *string    `db:"country_code"`
	Province          *string    `db:"province"`
	PostalCode        *string    `db:"postal_code"`
	Phone             *string    `db:"phone"`
	Metadata          JSONObject `db:"metadata"`
	CreatedAt         time.Time  `db:"created_at"`
	UpdatedAt         time.Time  `db:"updated_at"`
}

// addressTable: every read fetches the defaults, which the billing and
// shipping fields pick addresses by.
var addressTable = newTable("a", []string{"id", "customer_id", "is_default_shipping", "is_default_billing"},
	column[Address]{"id", func(a *Address) any { return &a.ID }},
	column[Address]{"customer_id", func(a *Address) any { return &a.CustomerID }},
	column[Address]{"address_name", func(a *Address) any { return &a.AddressName }},
	column[Address]{"is_default_shipping", func(a *Address) any { return &a.IsDefaultShipping }},
	column[Address]{"is_default_billing", func(a *Address) any { return &a.IsDefaultBilling }},
	column[Address]{"company", func(a *Address) any { return &a.Company }},
	column[Address]{"first_name", func(a *Address) any { return &a.FirstName }},
	column[Address]{"last_name", func(a *Address) any { return &a.LastName }},
	column[Address]{"address_1", func(a *Address) any { return &a.Address1 }},
	column[Address]{"address_2", func(a *Address) any { return &a.Address2 }},
	column[Address]{"city", func(a *Address) any { return &a.City }},
	column[Address]{"country_code", func(a *Address) any { return &a.CountryCode }},
	column[Address]{"province", func(a *Address) any { return &a.Province }},
	column[Address]{"postal_code", func(a *Address) any { return &a.PostalCode }},
	column[Address]{"phone", func(a *Address) any { return &a.Phone }},
	column[Address]{"metadata", func(a *Address) any { return &a.Metadata }},
	column[Address]{"created_at", func(a *Address) any { return &a.CreatedAt }},
	column[Address]{"updated_at", func(a *Address) any { return &a.UpdatedAt }},
)

var addressColumns = addressTable.all()

// AddressColumns returns the columns that serve the named fields of an
// address, with its id, its customer's and its defaults.
func AddressColumns(fields []string) Columns[Address] { return addressTable.pick(fields) }

// AddressesByCustomerIDs returns the address book of each customer, with
// the columns cols, oldest first, in key order.
func AddressesByCustomerIDs(ctx context.Context, q sqlx.QueryerContext, customerIDs []string, cols Columns[Address]) ([][]*Address, error) {
	query := `SELECT ` + addressTable.list(cols) + ` FROM customer_address a
		WHERE a.customer_id = ANY($1) AND a.deleted_at IS NULL
		ORDER BY a.customer_id, a.created_at, a.id`
	rows, err := selectRows(ctx, q, query, []any{pq.Array(customerIDs)}, addressTable.targets(cols))
	if err != nil {
		return nil, fmt.Errorf("addresses by customer ids: %w", err)
	}
	return byParent(customerIDs, rows, func(a *Address) (string, *Address) { return a.CustomerID, a }), nil
}

// AddressFields are the fields of an address a client writes. For a new
// address, fields that are not Set stay empty (and not default).
type AddressFields struct {
	AddressName       Change[*string]
	IsDefaultShipping Change[*bool]
	IsDefaultBilling  Change[*bool]
	Company           Change[*string]
	FirstName         Change[*string]
	LastName          Change[*string]
	Address1          Change[*string]
	Address2          Change[*string]
	City              Change[*string]
	CountryCode       Change[*string]
	Province          Change[*string]
	PostalCode        Change[*string]
	Phone             Change[*string]
	Metadata          Change[JSONObject]
}

// maxPostalCode bounds postal codes; the longest in use have 10 characters.
const maxPostalCode = 20

func (f AddressFields) assign() (*assignments, error) {
	a := &assignments{}
	a.text("address_name", "input.address_name", f.AddressName, maxText)
	a.text("company", "input.company", f.Company, maxText)
	a.text("first_name", "input.first_name", f.FirstName, maxText)
	a.text("last_name", "input.last_name", f.LastName, maxText)
	a.text("address_1", "input.address_1", f.Address1, maxText)
	a.text("address_2", "input.address_2", f.Address2, maxText)
	a.text("city", "input.city", f.City, maxText)
	a.country("country_code", "input.country_code", f.CountryCode)
	a.text("province", "input.province", f.Province, maxText)
	a.text("postal_code", "input.postal_code", f.PostalCode, maxPostalCode)
	a.phone("phone", "input.phone", f.Phone)
	a.json("metadata", f.Metadata)
	if f.IsDefaultShipping.Set {
		a.set("is_default_shipping", isTrue(f.IsDefaultShipping.Value))
	}
	if f.IsDefaultBilling.Set {
		a.set("is_default_billing", isTrue(f.IsDefaultBilling.Value))
	}
	return a, a.err
}

func isTrue(b *bool) bool { return b != nil && *b }

// CreateAddress adds an address to a customer's address book. Making it a
// default clears that default on the customer's other addresses, in the
// same transaction. Returns INVALID_DATA for bad fields and NOT_FOUND for
// an unknown or deleted customer.
func CreateAddress(ctx context.Context, tx Tx, customerID string, f AddressFields) (*Address, error) {
	a, err := f.assign()
	if err != nil {
		return nil, err
	}
	var locked string
	const lock = `SELECT id FROM customer WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`
	if err := sqlx.GetContext(ctx, tx, &locked, lock, customerID); err != nil {
		err = notFound(err, "Customer", customerID)
		if e, ok := errors.AsType[*errcode.Error](err); ok {
			e.Field = "customer_id"
		}
		return nil, err
	}
	id := NewID(PrefixAddress)
	if err := clearDefaults(ctx, tx, customerID, id, f); err != nil {
		return nil, err
	}
	a.set("id", id)
	a.set("customer_id", customerID)
	var out Address
	if err := sqlx.GetContext(ctx, tx, &out, a.insert("customer_address", "a", addressColumns), a.args...); err != nil {
		return nil, fmt.Errorf("create address: %w", translate(err, "Address"))
	}
	return &out, nil
}

// UpdateAddress changes the Set fields of an address. With owner set, only
// an address of that customer is found, so a customer cannot reach another
// customer's addresses. Making it a default clears that default on the
// customer's other addresses, in the same transaction. Returns INVALID_DATA
// for bad fields and NOT_FOUND for an unknown, deleted or foreign address.
func UpdateAddress(ctx context.Context, tx Tx, id, owner string, f AddressFields) (*Address, error) {
	a, err := f.assign()
	if err != nil {
		return nil, err
	}
	customerID, err := lockAddress(ctx, tx, id, owner)
	if err != nil {
		return nil, err
	}
	if err := clearDefaults(ctx, tx, customerID, id, f); err != nil {
		return nil, err
	}
	update, args := a.update("customer_address", "a", "a.id = ?", addressColumns, id)
	var out Address
	if err := sqlx.GetContext(ctx, tx, &out, update, args...); err != nil {
		return nil, fmt.Errorf("update address: %w", translate(err, "Address"))
	}
	return &out, nil
}

// DeleteAddress soft-deletes an address. With owner set, only an address
// of that customer is found. Returns NOT_FOUND for an unknown, deleted or
// foreign address.
func DeleteAddress(ctx context.Context, tx Tx, id, owner string) error {
	if _, err := lockAddress(ctx, tx, id, owner); err != nil {
		return err
	}
	const query = `UPDATE customer_address SET deleted_at = now(), updated_at = now() WHERE id = $1`
	if _, err := tx.ExecContext(ctx, query, id); err != nil {
		return fmt.Errorf("delete address: %w", err)
	}
	return nil
}

// lockAddress finds a living address of a living customer (of owner, when
// set) and locks the customer, which serializes changes of its defaults.
func lockAddress(ctx context.Context, tx Tx, id, owner string) (customerID string, err error) {
	const query = `SELECT c.id FROM customer_address a
		JOIN customer c ON c.id = a.customer_id AND c.deleted_at IS NULL
		WHERE a.id = $1 AND a.deleted_at IS NULL AND ($2 = '' OR a.customer_id = $2)
		FOR UPDATE OF c`
	if err := sqlx.GetContext(ctx, tx, &customerID, query, id, owner); err != nil {
		return "", notFound(err, "Address", id)
	}
	return customerID, nil
}

// clearDefaults takes the defaults that f sets away from the customer's
// other addresses, so that one address at most is each default.
func clearDefaults(ctx context.Context, tx Tx, customerID, except string, f AddressFields) error {
	billing := f.IsDefaultBilling.Set && isTrue(f.IsDefaultBilling.Value)
	shipping := f.IsDefaultShipping.Set && isTrue(f.IsDefaultShipping.Value)
	if !billing && !shipping {
		return nil
	}
	const query = `UPDATE customer_address SET
			is_default_billing = is_default_billing AND NOT $3,
			is_default_shipping = is_default_shipping AND NOT $4,
			updated_at = now()
		WHERE customer_id = $1 AND id <> $2 AND deleted_at IS NULL
			AND ((is_default_billing AND $3) OR (is_default_shipping AND $4))`
	if _, err := tx.ExecContext(ctx, query, customerID, except, billing, shipping); err != nil {
		return fmt.Errorf("clear default addresses: %w", err)
	}
	return nil
}

// AddressFilter selects addresses of one address book (Medusa's store
// address list filters). Empty fields do not filter. None needs an index of
// its own: the list reads one customer's living addresses, which
// customer_address_customer_idx finds in the list's order, and the filters
// only pick among those rows.
type AddressFilter struct {
	// Q is searched for, case-insensitively, in the name, company, names,
	// address lines, city, province, postal code and phone.
	Q           *string
	City        []string
	CountryCode []string
	PostalCode  []string
}

var addressSort = sortColumns{
	"created_at": by("created_at", kindTime),
	"updated_at": by("updated_at", kindTime),
}

// NewAddressPage validates list arguments for a list of addresses.
// Returns INVALID_DATA for a bound or order it does not accept.
func NewAddressPage(limit, offset int, order string) (Page, error) {
	return newPage(listOfMyAddresses, limit, offset, order, addressSort)
}

// Validate reports a filter the list cannot run with: INVALID_DATA.
func (f AddressFilter) Validate() error {
	_, err := f.conds("")
	return err
}

const addressSearchText = `(coalesce(a.address_name, '') || ' ' || coalesce(a.company, '') || ' ' ||
	coalesce(a.first_name, '') || ' ' || coalesce(a.last_name, '') || ' ' || coalesce(a.address_1, '') || ' ' ||
	coalesce(a.address_2, '') || ' ' || coalesce(a.city, '') || ' ' || coalesce(a.province, '') || ' ' ||
	coalesce(a.postal_code, '') || ' ' || coalesce(a.phone, ''))`

func (f AddressFilter) conds(customerID string) (conds, error) {
	var c conds
	c.add("a.customer_id = ?", customerID)
	c.add("a.deleted_at IS NULL")
	if f.Q != nil {
		q, err := searchFragment("filter.q", *f.Q)
		if err != nil {
			return c, err
		}
		if q != "" {
			c.add(addressSearchText+" ILIKE ?", likePattern(q))
		}
	}
	if f.City != nil {
		c.add("lower(a.city) = ANY(?)", pq.Array(lowerNames(f.City)))
	}
	if f.CountryCode != nil {
		// Stored lower case.
		c.add("a.country_code = ANY(?)", pq.Array(lowerNames(f.CountryCode)))
	}
	if f.PostalCode != nil {
		c.add("lower(a.postal_code) = ANY(?)", pq.Array(lowerNames(f.PostalCode)))
	}
	return c, nil
}

// addressQuery is the page p of the living addresses of a customer that f
// selects.
func addressQuery(customerID string, f AddressFilter, p Page) (listQuery, error) {
	c, err := f.conds(customerID)
	return listQuery{from: "customer_address a", alias: "a", where: c, page: p}, err
}

// ListAddresses returns one page of the living addresses of a customer that
// f selects, with the columns cols. Returns INVALID_DATA for a bad filter.
func ListAddresses(ctx context.Context, q sqlx.QueryerContext, customerID string, f AddressFilter, p Page, cols Columns[Address]) ([]*Address, error) {
	l, err := addressQuery(customerID, f, p)
	return listPage(ctx, q, "addresses", l, err, addressTable.list(cols), addressTable.targets(cols))
}

// AddressPageEnd returns where the page p of a customer's living addresses
// that f selects ends. Returns INVALID_DATA for a bad filter.
func AddressPageEnd(ctx context.Context, q sqlx.QueryerContext, customerID string, f AddressFilter, p Page) (PageEnd, error) {
	l, err := addressQuery(customerID, f, p)
	return pageEnd(ctx, q, "address", l, err)
}

// CountAddresses returns how many living addresses of a customer f
// selects. Returns INVALID_DATA for a bad filter.
func CountAddresses(ctx context.Context, q sqlx.QueryerContext, customerID string, f AddressFilter) (int, error) {
	c, err := f.conds(customerID)
	if err != nil {
		return 0, err
	}
	var n int
	if err := sqlx.GetContext(ctx, q, &n, sqlx.Rebind(sqlx.DOLLAR, `SELECT count(*) FROM customer_address a `+c.where()), c.args...); err != nil {
		return 0, fmt.Errorf("count addresses: %w", err)
	}
	return n, nil
}
