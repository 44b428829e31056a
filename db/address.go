package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
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

const addressColumns = `a.id, a.customer_id, a.address_name, a.is_default_shipping, a.is_default_billing,
	a.company, a.first_name, a.last_name, a.address_1, a.address_2, a.city, a.country_code,
	a.province, a.postal_code, a.phone, a.metadata, a.created_at, a.updated_at`

// AddressesByCustomerIDs returns the address book of each customer, oldest
// first, in key order.
func AddressesByCustomerIDs(ctx context.Context, q sqlx.QueryerContext, customerIDs []string) ([][]*Address, error) {
	const query = `SELECT ` + addressColumns + ` FROM customer_address a
		WHERE a.customer_id = ANY($1) AND a.deleted_at IS NULL
		ORDER BY a.customer_id, a.created_at, a.id`
	var rows []*Address
	if err := sqlx.SelectContext(ctx, q, &rows, query, pq.Array(customerIDs)); err != nil {
		return nil, fmt.Errorf("addresses by customer ids: %w", err)
	}
	return byParent(customerIDs, rows, func(a *Address) (string, *Address) { return a.CustomerID, a }), nil
}
