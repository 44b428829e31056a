package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"golang.org/x/text/unicode/norm"

	"customerservice/errcode"
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
	// Rules is the rule tree of a rule-based group (GroupRule's JSON), nil
	// for a static group.
	Rules JSONObject `db:"rules"`
	Kind  GroupKind  `db:"kind"`
}

var groupTable = newTable("g", []string{"id"},
	column[CustomerGroup]{"id", func(g *CustomerGroup) any { return &g.ID }},
	column[CustomerGroup]{"name", func(g *CustomerGroup) any { return &g.Name }},
	column[CustomerGroup]{"metadata", func(g *CustomerGroup) any { return &g.Metadata }},
	column[CustomerGroup]{"created_by", func(g *CustomerGroup) any { return &g.CreatedBy }},
	column[CustomerGroup]{"created_at", func(g *CustomerGroup) any { return &g.CreatedAt }},
	column[CustomerGroup]{"updated_at", func(g *CustomerGroup) any { return &g.UpdatedAt }},
	column[CustomerGroup]{"deleted_at", func(g *CustomerGroup) any { return &g.DeletedAt }},
	column[CustomerGroup]{"rules", func(g *CustomerGroup) any { return &g.Rules }},
	column[CustomerGroup]{"kind", func(g *CustomerGroup) any { return &g.Kind }},
)

var groupColumns = groupTable.all()

// GroupColumns returns the columns that serve the named fields of a
// customer group, with its id.
func GroupColumns(fields []string) Columns[CustomerGroup] { return groupTable.pick(fields) }

// CustomerGroupFilter selects customer groups. Empty fields do not filter.
type CustomerGroupFilter struct {
	// Q is searched for, case-insensitively, in the name.
	Q    *string
	ID   []string
	Name []string
	// CustomerID selects groups with any of these customers as members.
	CustomerID []string
	// CreatedBy selects groups created by any of these admin users.
	CreatedBy []string
	CreatedAt *TimeRange
	UpdatedAt *TimeRange
	// Kind selects static or rule-based groups.
	Kind *GroupKind
}

var groupSort = sortColumns{
	"created_at": by("created_at", kindTime),
	"updated_at": by("updated_at", kindTime),
	"name":       by("name", kindText),
}

// NewGroupPage validates list arguments for a list of customer groups.
// Returns INVALID_DATA for a bound or order it does not accept.
func NewGroupPage(limit, offset int, order string) (Page, error) {
	return newPage(listOfGroups, limit, offset, order, groupSort)
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
		q, err := searchFragment("filter.q", *f.Q)
		if err != nil {
			return c, err
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
			// Names are stored composed (cleanText).
			names[i] = strings.ToLower(norm.NFC.String(strings.TrimSpace(n)))
		}
		c.add("lower(g.name) = ANY(?)", pq.Array(names))
	}
	if f.CustomerID != nil {
		// customer_group_customer_customer_idx finds a customer's groups.
		c.add("g.id IN (SELECT m.customer_group_id FROM customer_group_customer m WHERE m.customer_id = ANY(?))", pq.Array(f.CustomerID))
	}
	if f.CreatedBy != nil {
		c.add("g.created_by = ANY(?)", pq.Array(f.CreatedBy))
	}
	c.timeRange("g.created_at", f.CreatedAt)
	c.timeRange("g.updated_at", f.UpdatedAt)
	if f.Kind != nil {
		c.add("g.kind = ?", string(*f.Kind))
	}
	return c, nil
}

// groupQuery is the page p of the customer groups f selects.
func groupQuery(f CustomerGroupFilter, p Page) (listQuery, error) {
	c, err := f.conds()
	return listQuery{from: "customer_group g", alias: "g", where: c, page: p}, err
}

// ListGroups returns one page of the customer groups f selects, with the
// columns cols. Returns INVALID_DATA for a bad filter.
func ListGroups(ctx context.Context, q sqlx.QueryerContext, f CustomerGroupFilter, p Page, cols Columns[CustomerGroup]) ([]*CustomerGroup, error) {
	l, err := groupQuery(f, p)
	return listPage(ctx, q, "customer groups", l, err, groupTable.list(cols), groupTable.targets(cols))
}

// GroupPageEnd returns where the page p of the customer groups f selects
// ends. Returns INVALID_DATA for a bad filter.
func GroupPageEnd(ctx context.Context, q sqlx.QueryerContext, f CustomerGroupFilter, p Page) (PageEnd, error) {
	l, err := groupQuery(f, p)
	return pageEnd(ctx, q, "customer group", l, err)
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
	query := `SELECT ` + groupColumns + ` FROM customer_group g WHERE g.id = $1 AND g.deleted_at IS NULL`
	var out CustomerGroup
	if err := sqlx.GetContext(ctx, q, &out, query, id); err != nil {
		return nil, notFound(err, "Customer group", id)
	}
	return &out, nil
}

// GroupsByCustomerIDs returns the living groups of each customer, with the
// columns cols, by name, in key order.
func GroupsByCustomerIDs(ctx context.Context, q sqlx.QueryerContext, customerIDs []string, cols Columns[CustomerGroup]) ([][]*CustomerGroup, error) {
	query := `SELECT ` + groupTable.list(cols) + `, m.customer_id AS key
		FROM customer_group_customer m
		JOIN customer_group g ON g.id = m.customer_group_id AND g.deleted_at IS NULL
		WHERE m.customer_id = ANY($1)
		ORDER BY g.name, g.id`
	targets := groupTable.targets(cols)
	rows, err := selectRows(ctx, q, query, []any{pq.Array(customerIDs)}, func(r *customerGroupRow) []any {
		return append(targets(&r.CustomerGroup), &r.Key)
	})
	if err != nil {
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

// GroupFields are the fields of a customer group a client writes.
type GroupFields struct {
	Name     string
	Metadata Change[JSONObject]
}

func (f GroupFields) assign() (*assignments, error) {
	name, err := cleanText("input.name", &f.Name, maxText)
	if err != nil {
		return nil, err
	}
	if name == nil {
		return nil, errcode.Invalid("input.name", "name is required")
	}
	a := &assignments{}
	a.set("name", *name)
	a.json("metadata", f.Metadata)
	return a, nil
}

// CreateGroup adds a customer group.
// Returns INVALID_DATA for bad fields and DUPLICATE_ERROR when a group of
// that name, in any letter case, exists.
func CreateGroup(ctx context.Context, q sqlx.QueryerContext, f GroupFields, createdBy *string) (*CustomerGroup, error) {
	a, err := f.assign()
	if err != nil {
		return nil, err
	}
	a.set("id", NewID(PrefixGroup))
	a.set("created_by", createdBy)
	var out CustomerGroup
	if err := sqlx.GetContext(ctx, q, &out, a.insert("customer_group", "g", groupColumns), a.args...); err != nil {
		return nil, groupWriteError(err, f.Name)
	}
	return &out, nil
}

// UpdateGroup renames a customer group and sets its metadata when Set.
// Returns INVALID_DATA, NOT_FOUND for an unknown or deleted id, and
// DUPLICATE_ERROR when the name is taken.
func UpdateGroup(ctx context.Context, q sqlx.QueryerContext, id string, f GroupFields) (*CustomerGroup, error) {
	a, err := f.assign()
	if err != nil {
		return nil, err
	}
	update, args := a.update("customer_group", "g", "g.id = ? AND g.deleted_at IS NULL", groupColumns, id)
	var out CustomerGroup
	if err := sqlx.GetContext(ctx, q, &out, update, args...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound(err, "Customer group", id)
		}
		return nil, groupWriteError(err, f.Name)
	}
	return &out, nil
}

func groupWriteError(err error, name string) error {
	err = translate(err, "Customer group")
	if errcode.Of(err) == errcode.DuplicateError {
		return &errcode.Error{Code: errcode.DuplicateError, Field: "input.name",
			Message: fmt.Sprintf("Customer group with name: %s already exists", strings.TrimSpace(name))}
	}
	return err
}

// DeleteGroup soft-deletes a customer group: it leaves lookups, lists and
// its customers' groups, and its name is free again. Its memberships stay,
// a record of who was in it.
// Returns NOT_FOUND for an unknown or already deleted id, and NOT_ALLOWED
// for a group that other groups' rules name.
func DeleteGroup(ctx context.Context, q sqlx.QueryerContext, id string) error {
	if err := groupNotNamed(ctx, q, id); err != nil {
		return err
	}
	const query = `UPDATE customer_group SET deleted_at = now(), updated_at = now()
		WHERE id = $1 AND deleted_at IS NULL RETURNING id`
	var deleted string
	if err := sqlx.GetContext(ctx, q, &deleted, query, id); err != nil {
		return notFound(err, "Customer group", id)
	}
	return nil
}

// MaxGroupBatch is the most customers one call adds to or removes from a
// group.
const MaxGroupBatch = 1000

// AddCustomersToGroup makes the customers members of the group; those who
// are already members stay as they are.
// Returns INVALID_DATA for too many ids, NOT_FOUND, naming them, when the
// group or any customer is unknown or deleted, in which case nothing changes,
// and NOT_ALLOWED for a rule-based group, whose members follow its rules.
func AddCustomersToGroup(ctx context.Context, tx Tx, groupID string, customerIDs []string, createdBy *string) error {
	ids, err := lockMembers(ctx, tx, groupID, customerIDs)
	if err != nil {
		return err
	}
	const insert = `INSERT INTO customer_group_customer (customer_group_id, customer_id, created_by)
		SELECT $1, unnest($2::text[]), $3
		ON CONFLICT DO NOTHING`
	if _, err := tx.ExecContext(ctx, insert, groupID, pq.Array(ids), createdBy); err != nil {
		return fmt.Errorf("add customers to group %s: %w", groupID, err)
	}
	return nil
}

// RemoveCustomersFromGroup ends the customers' membership of the group;
// removing a customer who is not a member does nothing. Returns what
// AddCustomersToGroup does.
func RemoveCustomersFromGroup(ctx context.Context, tx Tx, groupID string, customerIDs []string) error {
	ids, err := lockMembers(ctx, tx, groupID, customerIDs)
	if err != nil {
		return err
	}
	const remove = `DELETE FROM customer_group_customer WHERE customer_group_id = $1 AND customer_id = ANY($2)`
	if _, err := tx.ExecContext(ctx, remove, groupID, pq.Array(ids)); err != nil {
		return fmt.Errorf("remove customers from group %s: %w", groupID, err)
	}
	return nil
}

// lockMembers checks a membership change before it is made: the group and
// every customer exist and are not deleted. It locks their rows until the
// transaction ends, so none is deleted in between, and returns the ids
// without repeats.
//
// The customers are locked before the group, as DeleteCustomer does (its
// row, then its groups through the member-count trigger), and the group for
// the update the trigger makes, not merely shared: two changes that both
// held a share lock on the group would each wait for the other to update
// it, and PostgreSQL would abort one as a deadlock.
func lockMembers(ctx context.Context, tx Tx, groupID string, customerIDs []string) ([]string, error) {
	if len(customerIDs) > MaxGroupBatch {
		return nil, errcode.Invalid("customer_ids", "at most %d customers at a time, got %d", MaxGroupBatch, len(customerIDs))
	}
	ids := make([]string, 0, len(customerIDs))
	seen := make(map[string]bool, len(customerIDs))
	for _, id := range customerIDs {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	var found []string
	if len(ids) > 0 {
		const query = `SELECT id FROM customer WHERE id = ANY($1) AND deleted_at IS NULL ORDER BY id FOR SHARE`
		if err := sqlx.SelectContext(ctx, tx, &found, query, pq.Array(ids)); err != nil {
			return nil, fmt.Errorf("look up customers: %w", err)
		}
	}
	var kind GroupKind
	const lockGroup = `SELECT kind FROM customer_group WHERE id = $1 AND deleted_at IS NULL FOR NO KEY UPDATE`
	if err := sqlx.GetContext(ctx, tx, &kind, lockGroup, groupID); err != nil {
		return nil, notFound(err, "Customer group", groupID)
	}
	if kind == GroupRules {
		return nil, &errcode.Error{Code: errcode.NotAllowed, Field: "group_id",
			Message: "The members of a rule-based group follow its rules and cannot be added or removed by hand; set its rules to null to make it static"}
	}
	if len(found) < len(ids) {
		exists := make(map[string]bool, len(found))
		for _, id := range found {
			exists[id] = true
		}
		var missing []string
		for _, id := range ids {
			if !exists[id] {
				missing = append(missing, id)
			}
		}
		return nil, &errcode.Error{Code: errcode.NotFound, Field: "customer_ids",
			Message: fmt.Sprintf("Customers with ids: %s were not found", listIDs(missing))}
	}
	return ids, nil
}

// listIDs names ids for a message, the first ten of them.
func listIDs(ids []string) string {
	const shown = 10
	if len(ids) <= shown {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:shown], ", "), len(ids)-shown)
}
