package db

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// CustomersAfter returns up to limit of the customers f selects whose id
// comes after after ("" for the first), in id order, every column: the
// pages of an export, which walk the primary key (keyset pagination), so a
// page costs the same at the millionth customer as at the first.
// Returns INVALID_DATA for a bad filter.
func CustomersAfter(ctx context.Context, q sqlx.QueryerContext, f CustomerFilter, after string, limit int) ([]*Customer, error) {
	c, stats, err := f.conds()
	if err != nil {
		return nil, err
	}
	c.add("c.id > ?", after)
	join := ""
	if stats {
		join = statsJoin // a filter on the statistics
	}
	query := fmt.Sprintf(`SELECT %s FROM customer c%s %s ORDER BY c.id LIMIT ?`, customerColumns, join, c.where())
	out, err := selectRows(ctx, q, sqlx.Rebind(sqlx.DOLLAR, query), append(c.args, limit), customerTable.targets(Columns[Customer]{}))
	if err != nil {
		return nil, fmt.Errorf("customers after: %w", err)
	}
	return out, nil
}
