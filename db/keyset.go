package db

// Keyset (cursor) pagination, for every list: the cursor a page ends with,
// the condition that starts the next page after it, and the statements of
// a page, alone or one per parent in a batch. Lists describe themselves as
// a listQuery and share all of this.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"customerservice/errcode"
)

// The lists that take cursors, as their cursors name them: a cursor of one
// is refused by another.
const (
	listOfCustomers      = "customers"
	listOfGroupMembers   = "customer_group.customers"
	listOfGroups         = "customer_groups"
	listOfOrders         = "orders"
	listOfCustomerOrders = "customer.orders"
	listOfWebhooks       = "webhooks"
	listOfMyAddresses    = "my_addresses"
)

// Keyset is where a page starts in its list's order: after the row with
// this sort value and id (keyset pagination). A page after a keyset costs
// what the first page costs, where OFFSET n reads and drops n rows.
type Keyset struct {
	// Value is the row's sort value in its cursor's form (RFC 3339 for a
	// time, decimal for an integer); Null when the row has none.
	Value string
	Null  bool
	ID    string
}

// cursor is a keyset as a client holds it, with the list and the order it
// was made for.
type cursor struct {
	List  string  `json:"l"`
	Order string  `json:"o"`
	Value *string `json:"v"`
	ID    string  `json:"id"`
}

// cursorOf returns the opaque cursor of the row with id and sort value v
// (as the driver scanned it) in p's list and order.
func (p Page) cursorOf(id string, v any) string {
	c := cursor{List: p.List, Order: p.Order, ID: id}
	var s string
	switch v := v.(type) {
	case nil:
	case time.Time:
		s = v.UTC().Format(time.RFC3339Nano)
		c.Value = &s
	case []byte:
		s = string(v)
		c.Value = &s
	default: // string, int64
		s = fmt.Sprint(v)
		c.Value = &s
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// WithCursor returns the page starting after the cursor s (nil: the page
// as it is). Returns INVALID_DATA, naming field, for a cursor this API did
// not give out, one made for another list or another order, and a cursor
// sent with an offset.
func (p Page) WithCursor(field string, s *string) (Page, error) {
	if s == nil {
		return p, nil
	}
	if p.Offset != 0 {
		return p, errcode.Invalid(field, "%s and offset are two ways to say where a page starts; send one", field)
	}
	bad := errcode.Invalid(field, "%q is not a cursor this API gave out", *s)
	raw, err := base64.RawURLEncoding.DecodeString(*s)
	if err != nil {
		return p, bad
	}
	var c cursor
	if err := json.Unmarshal(raw, &c); err != nil || c.ID == "" || c.List == "" {
		return p, bad
	}
	if c.List != p.List {
		return p, errcode.Invalid(field, "the cursor was made for the list %s, not %s", c.List, p.List)
	}
	if c.Order != p.Order {
		return p, errcode.Invalid(field, "the cursor was made for order %q; send that order with it", c.Order)
	}
	k := Keyset{ID: c.ID, Null: c.Value == nil}
	switch {
	case k.Null:
		if p.Sort.Nulls == notNull {
			return p, bad
		}
	case p.Sort.Kind == kindTime:
		t, err := time.Parse(time.RFC3339Nano, *c.Value)
		if err != nil {
			return p, bad
		}
		k.Value = t.UTC().Format(time.RFC3339Nano)
	case p.Sort.Kind == kindInt:
		if _, err := strconv.ParseInt(*c.Value, 10, 64); err != nil {
			return p, bad
		}
		k.Value = *c.Value
	default:
		k.Value = *c.Value
	}
	p.After = k
	return p, nil
}

// keyset returns the conditions that rows come after p.After in p's
// order, as the ORDER BY of orderBy sorts them, nulls included: none
// without a keyset, else one or two arms, each a condition an index on
// the sort column and id can start its scan at, whose rows follow each
// other in that order (every row of the first before any of the
// second). A single condition with OR would say the same, but PostgreSQL
// cannot start an index scan at an OR: a deep page of "-last_order_at"
// read 500,000 index entries to drop them (411 ms instead of 0.15).
//
// Where nulls come after the values, the rows after a value are the
// greater values, then every null; after a null, the nulls of greater id.
// Where nulls come first, after a null come the nulls of greater id, then
// every value; after a value, the greater values.
//
// A column no index orders (Unindexed) gets the one condition with OR:
// every page of it reads the rows the filter selects once and keeps a
// page of them; two arms would read them twice (a deep page by last_name
// at 1,000,000 customers: 1.35 s for two arms, where the first page takes
// 0.85 s).
func (p Page) keyset(alias string) []conds {
	k := p.After
	if k.ID == "" {
		return nil
	}
	col, id := p.Sort.column(alias), p.Sort.tieBreak(alias)
	op := ">"
	if p.Sort.Desc {
		op = "<"
	}
	var first, rest conds
	if k.Null {
		first.add(fmt.Sprintf("%s IS NULL AND %s %s ?", col, id, op), k.ID)
		rest.add(col + " IS NOT NULL")
	} else {
		first.add(fmt.Sprintf("(%s, %s) %s (?, ?)", col, id, op), k.Value, k.ID)
		rest.add(col + " IS NULL")
	}
	nullsAfter := p.Sort.Nulls != notNull && p.Sort.Desc == (p.Sort.Nulls == nullsLow)
	if nullsAfter == k.Null || p.Sort.Nulls == notNull {
		return []conds{first} // what would follow came before
	}
	if p.Sort.Unindexed {
		var one conds
		one.add("("+first.and()+" OR "+rest.and()+")", append(first.args, rest.args...)...)
		return []conds{one}
	}
	return []conds{first, rest}
}

// PageEnd is where a page ends: the cursor of its last row, for the next
// page's after ("" for an empty page), and whether rows follow it.
type PageEnd struct {
	Cursor string
	More   bool
}

// listQuery is a page of a list as SQL: the rows of from (a table with
// alias, and joins) that where selects, in the page's order, from its
// keyset or offset.
type listQuery struct {
	from  string
	alias string
	where conds
	page  Page
}

// sql returns the statement of the page's rows, limit rows long, and its
// arguments. Its select list is columns (none: "") and then each row's
// sort value and id, page_sort and page_tie, for the page's end.
func (l listQuery) sql(columns string, limit int) (string, []any) {
	sel := l.page.Sort.column(l.alias) + " AS page_sort, " + l.page.Sort.tieBreak(l.alias) + " AS page_tie"
	if columns != "" {
		sel = columns + ", " + sel
	}
	orderBy := l.page.Sort.orderBy(l.alias)
	arms := l.page.keyset(l.alias)
	if len(arms) < 2 {
		c := conds{parts: slices.Clone(l.where.parts), args: slices.Clone(l.where.args)}
		for _, a := range arms {
			c.add(a.and(), a.args...)
		}
		query := fmt.Sprintf(`SELECT %s FROM %s %s ORDER BY %s LIMIT ?`, sel, l.from, c.where(), orderBy)
		args := append(c.args, limit)
		// A first page is a statement of its own, not the one of deep
		// pages with OFFSET 0: after a few executions that read and drop
		// half a million rows, PostgreSQL's plan cache can settle the
		// statement on its generic plan, which costs a first page 100 times
		// its own (BENCHMARKS.md, "A plan-cache effect of offsets").
		if l.page.Offset > 0 {
			query += " OFFSET ?"
			args = append(args, l.page.Offset)
		}
		return sqlx.Rebind(sqlx.DOLLAR, query), args
	}
	// Each arm is an index scan of at most limit rows; the union, at most
	// twice that, is ordered as the list is (page_tie equals the id).
	var query string
	var args []any
	for i, a := range arms {
		c := conds{parts: slices.Clone(l.where.parts), args: slices.Clone(l.where.args)}
		c.add(a.and(), a.args...)
		if i > 0 {
			query += " UNION ALL "
		}
		query += fmt.Sprintf(`(SELECT %s FROM %s %s ORDER BY %s LIMIT ?)`, sel, l.from, c.where(), orderBy)
		args = append(append(args, c.args...), limit)
	}
	query += fmt.Sprintf(" ORDER BY %s LIMIT ?", l.page.Sort.orderByColumns("page_sort", "page_tie"))
	return sqlx.Rebind(sqlx.DOLLAR, query), append(args, limit)
}

// pageEnd reads where the page l ends: its rows' ids and sort values, and
// one row more, to say whether rows follow. err is that of building l, and
// what names the list in errors.
func pageEnd(ctx context.Context, q sqlx.QueryerContext, what string, l listQuery, err error) (PageEnd, error) {
	if err != nil {
		return PageEnd{}, err
	}
	rows, err := selectPage(ctx, q, l, "", func(*struct{}) []any { return nil }, l.page.Limit+1)
	if err != nil {
		return PageEnd{}, fmt.Errorf("%s page end: %w", what, err)
	}
	return endOf(l.page, rows), nil
}

// pageRow is a row of a page: its parent (in a batch), the row, and its
// sort value and id, for the page's end.
type pageRow[T any] struct {
	Key  string
	Row  T
	Sort any
	ID   string
}

// selectPage runs the statement of l's page with the select list columns,
// scanned through targets, limit rows long.
func selectPage[T any](ctx context.Context, q sqlx.QueryerContext, l listQuery, columns string, targets func(*T) []any, limit int) ([]*pageRow[T], error) {
	query, args := l.sql(columns, limit)
	return selectRows(ctx, q, query, args, func(r *pageRow[T]) []any {
		return append(targets(&r.Row), &r.Sort, &r.ID)
	})
}

// listPage returns the rows of l's page with the select list columns,
// scanned through targets; err is that of building l, and what names the
// list in errors.
func listPage[T any](ctx context.Context, q sqlx.QueryerContext, what string, l listQuery, err error, columns string, targets func(*T) []any) ([]*T, error) {
	if err != nil {
		return nil, err
	}
	rows, err := selectPage(ctx, q, l, columns, targets, l.page.Limit)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	out := make([]*T, len(rows))
	for i, r := range rows {
		out[i] = &r.Row
	}
	return out, nil
}

// endOf says where the page p ends from its rows, read one longer than
// the page.
func endOf[T any](p Page, rows []*pageRow[T]) PageEnd {
	end := PageEnd{More: len(rows) > p.Limit}
	if n := min(len(rows), p.Limit); n > 0 {
		end.Cursor = p.cursorOf(rows[n-1].ID, rows[n-1].Sort)
	}
	return end
}

// Slice is one parent's page of a batch: its rows and where it ends.
type Slice[T any] struct {
	Rows []*T
	End  PageEnd
}

// perParent reads the page of each parent in keys at once: the rows of the
// page for parent k.key, which where ties to it, each parent with its own
// keyset, limit and offset through LATERAL, and one row more for each, to
// say whether rows follow. columns is the select list of the rows
// (qualified by the alias) and targets their scan targets. The result has
// one Slice per key, in key order.
func perParent[T any](ctx context.Context, q sqlx.QueryerContext, l listQuery, keys []string, columns string, targets func(*T) []any) ([]Slice[T], error) {
	inner, args := l.sql(columns, l.page.Limit+1)
	query := fmt.Sprintf(`SELECT %s, %s.page_sort, %s.page_tie, k.key
		FROM (SELECT DISTINCT unnest($%d::text[])) AS k(key)
		CROSS JOIN LATERAL (%s) %s`, columns, l.alias, l.alias, len(args)+1, inner, l.alias)
	rows, err := selectRows(ctx, q, query, append(args, pq.Array(keys)), func(r *pageRow[T]) []any {
		return append(targets(&r.Row), &r.Sort, &r.ID, &r.Key)
	})
	if err != nil {
		return nil, err
	}
	lists := byParent(keys, rows, func(r *pageRow[T]) (string, *pageRow[T]) { return r.Key, r })
	out := make([]Slice[T], len(keys))
	for i, list := range lists {
		out[i].End = endOf(l.page, list)
		out[i].Rows = make([]*T, 0, min(len(list), l.page.Limit))
		for _, r := range list[:min(len(list), l.page.Limit)] {
			out[i].Rows = append(out[i].Rows, &r.Row)
		}
	}
	return out, nil
}
