package db

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// CustomerStats are a customer's order statistics, which migration 0018's
// triggers keep in the transaction of every change to orders: orders that
// are not canceled, what they add up to per currency, and when the first
// and last were placed.
type CustomerStats struct {
	CustomerID   string     `db:"customer_id"`
	OrderCount   int        `db:"order_count"`
	FirstOrderAt *time.Time `db:"first_order_at"`
	LastOrderAt  *time.Time `db:"last_order_at"`
	// Spent is the amount spent per currency code, in minor units.
	Spent map[string]int64 `db:"-"`
}

// AmountSpent is what the customer spent in one currency.
type AmountSpent struct {
	CurrencyCode string `db:"currency_code"`
	Amount       int64  `db:"amount_spent"`
}

// StatsByCustomerIDs returns the statistics of each customer, in key order,
// in one statement. A customer without a row (none should lack one) has
// zero statistics.
func StatsByCustomerIDs(ctx context.Context, q sqlx.QueryerContext, ids []string) ([]*CustomerStats, error) {
	const query = `SELECT s.customer_id, s.order_count, s.first_order_at, s.last_order_at,
			coalesce(sp.currencies, '{}') AS currencies, coalesce(sp.amounts, '{}') AS amounts
		FROM customer_stats s
		LEFT JOIN LATERAL (
			SELECT array_agg(p.currency_code ORDER BY p.currency_code) AS currencies,
				array_agg(p.amount_spent ORDER BY p.currency_code) AS amounts
			FROM customer_spend p WHERE p.customer_id = s.customer_id AND p.order_count > 0
		) sp ON true
		WHERE s.customer_id = ANY($1)`
	rows, err := q.QueryxContext(ctx, query, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("stats by customer ids: %w", err)
	}
	defer rows.Close()
	byID := make(map[string]*CustomerStats, len(ids))
	for rows.Next() {
		var s CustomerStats
		var currencies pq.StringArray
		var amounts pq.Int64Array
		if err := rows.Scan(&s.CustomerID, &s.OrderCount, &s.FirstOrderAt, &s.LastOrderAt, &currencies, &amounts); err != nil {
			return nil, fmt.Errorf("stats by customer ids: %w", err)
		}
		s.Spent = make(map[string]int64, len(currencies))
		for i, c := range currencies {
			s.Spent[c] = amounts[i]
		}
		byID[s.CustomerID] = &s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stats by customer ids: %w", err)
	}
	out := make([]*CustomerStats, len(ids))
	for i, id := range ids {
		if s := byID[id]; s != nil {
			out[i] = s
		} else {
			out[i] = &CustomerStats{CustomerID: id, Spent: map[string]int64{}}
		}
	}
	return out, nil
}

// AmountsSpent returns what the customer spent, per currency, in currency
// code order.
func (s *CustomerStats) AmountsSpent() []*AmountSpent {
	out := make([]*AmountSpent, 0, len(s.Spent))
	for c, a := range s.Spent {
		out = append(out, &AmountSpent{CurrencyCode: c, Amount: a})
	}
	sortAmounts(out)
	return out
}

func sortAmounts(a []*AmountSpent) {
	slices.SortFunc(a, func(x, y *AmountSpent) int { return strings.Compare(x.CurrencyCode, y.CurrencyCode) })
}
