package db

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/acme/customerservice/errcode"
)

// CustomerGroup is a row of customer_group.
type CustomerGroup struct {
	ID        string     `db:"id"`
	Name      string     `db:"name"`
	Metadata  JSONObject `db:"metadata"`
	CreatedBy *string    `db:"created_by"`
	CreatedAt time.Time  `db:"created_at"`
	UpdatedAt time.Time  `db:"updated_at"`
	DeletedAt *time.Time `db:"deleted_at"`
}

const groupColumns = `g.id, g.name, g.metadata, g.created_by, g.created_at, g.updated_at, g.deleted_at`

// CustomerGroupFilter selects customer groups. Empty fields do not filter.
type CustomerGroupFilter struct {
	// Q is searched for, case-insensitively, in the name.
	Q    *string
	ID   []string
	Name []string
}

var groupSort = sortColumns{
	"created_at": "created_at",
	"updated_at": "updated_at",
	"name":       "name",
}

// NewGroupPage validates list arguments for a list of customer groups.
// Returns INVALID_DATA for a bound or order it does not accept.
func NewGroupPage(limit, offset int, order string) (Page, error) {
	return newPage(limit, offset, order, groupSort)
}

// Validate reports a filter the list cannot run with: INVALID_DATA.
func (f CustomerGroupFilter) Validate() error {
	_, err := f.conds()
	return err
}

func (f CustomerGroupFilter) conds() (conds, error) {
	var c conds
	c.add("g.deleted_at IS NULL")
	if f.Q != nil {
		q := strings.TrimSpace(*f.Q)
		if len(q) > maxSearchLength {
			return c, errcode.Invalid("filter.q", "q must be at most %d characters", maxSearchLength)
		}
		if q != "" {
			c.add("g.name ILIKE ?", likePattern(q))
		}
	}
	if f.ID != nil {
		c.add("g.id = ANY(?)", pq.Array(f.ID))
	}
	if f.Name != nil {
		names := make([]string, len(f.Name))
		for i, n := range f.Name {
			names[i] = strings.ToLower(strings.TrimSpace(n))
		}
		c.add("lower(g.name) = ANY(?)", pq.Array(names))
	}
	return c, nil
}

// ListGroups returns one page of the customer groups f selects.
// Returns INVALID_DATA for a bad filter.
func ListGroups(ctx context.Context, q sqlx.QueryerContext, f CustomerGroupFilter, p Page) ([]*CustomerGroup, error) {
	c, err := f.conds()
	if err != nil {
		return nil, err
	}
	query := fmt.Sprintf(`SELECT %s FROM customer_group g %s ORDER BY %s LIMIT ? OFFSET ?`,
		groupColumns, c.where(), p.Sort.orderBy("g"))
	out := []*CustomerGroup{}
	args := append(c.args, p.Limit, p.Offset)
	if err := sqlx.SelectContext(ctx, q, &out, sqlx.Rebind(sqlx.DOLLAR, query), args...); err != nil {
		return nil, fmt.Errorf("list customer groups: %w", err)
	}
	return out, nil
}

// CountGroups returns how many customer groups f selects.
// Returns INVALID_DATA for a bad filter.
func CountGroups(ctx context.Context, q sqlx.QueryerContext, f CustomerGroupFilter) (int, error) {
	c, err := f.conds()
	if err != nil {
		return 0, err
	}
	var n int
	query := `SELECT count(*) FROM customer_group g ` + c.where()
	if err := sqlx.GetContext(ctx, q, &n, sqlx.Rebind(sqlx.DOLLAR, query), c.args...); err != nil {
		return 0, fmt.Errorf("count customer groups: %w", err)
	}
	return n, nil
}

// GroupByID returns the customer group with the given id, unless it is
// deleted. Returns NOT_FOUND when there is none.
func GroupByID(ctx context.Context, q sqlx.QueryerContext, id string) (*CustomerGroup, error) {
	const query = `SELECT ` + groupColumns + ` FROM customer_group g WHERE g.id = $1 AND g.deleted_at IS NULL`
	var out CustomerGroup
	if err := sqlx.GetContext(ctx, q, &out, query, id); err != nil {
		return nil, notFound(err, "Customer group", id)
	}
	return &out, nil
}

// GroupsByCustomerIDs returns the living groups of each customer, by name,
// in key order.
func GroupsByCustomerIDs(ctx context.Context, q sqlx.QueryerContext, customerIDs []string) ([][]*CustomerGroup, error) {
	const query = `SELECT m.customer_id AS key, ` + groupColumns + `
		FROM customer_group_customer m
		JOIN customer_group g ON g.id = m.customer_group_id AND g.deleted_at IS NULL
		WHERE m.customer_id = ANY($1)
		ORDER BY g.name, g.id`
	var rows []*customerGroupRow
	if err := sqlx.SelectContext(ctx, q, &rows, query, pq.Array(customerIDs)); err != nil {
		return nil, fmt.Errorf("groups by customer ids: %w", err)
	}
	return byParent(customerIDs, rows, func(r *customerGroupRow) (string, *CustomerGroup) {
		return r.Key, &r.CustomerGroup
	}), nil
}

// customerGroupRow is a group fetched as one of the customer Key's groups.
type customerGroupRow struct {
	Key string `db:"key"`
	CustomerGroup
}
