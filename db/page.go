package db

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"customerservice/errcode"
)

// Bounds of a list page, from the API contract.
const (
	MaxLimit     = 100
	DefaultLimit = 20
)

// Page selects a slice of an ordered list.
type Page struct {
	Limit  int
	Offset int
	Sort   Sort
	// List names the list the page belongs to ("customers",
	// "customer_group.customers") and Order the API order it follows
	// ("-created_at"): a cursor is made for one list and one order.
	List  string
	Order string
	// After, when set (an ID), starts the page after that row instead of
	// at Offset (see Keyset). A value, not a pointer, so that a Page is a
	// loader key that two fields sending the same cursor share.
	After Keyset
}

// Sort orders a list by one whitelisted column, then by id in the same
// direction so pages are stable.
type Sort struct {
	Column string // an SQL column of the listed table, never client text
	Desc   bool
	// Stats is true for a column of customer_stats (alias s), which the
	// list joins (see join).
	Stats bool
	// Kind is how the column's values travel in a cursor.
	Kind valueKind
	// Nulls is where the column's nulls sort, if it has any.
	Nulls nullOrder
	// Unindexed is true for a column no index orders, which every page
	// reads whole (see keyset).
	Unindexed bool
}

// valueKind is the type of a sort column's values.
type valueKind int

const (
	kindText valueKind = iota
	kindTime
	kindInt
)

// nullOrder is where a sort column's nulls come in its order.
type nullOrder int

const (
	notNull nullOrder = iota
	// nullsHigh is PostgreSQL's default: nulls sort as the highest
	// values, last ascending and first descending.
	nullsHigh
	// nullsLow sorts nulls as the lowest values: first ascending, last
	// descending (a customer who never ordered has the oldest last
	// order); the ORDER BY says NULLS FIRST or NULLS LAST.
	nullsLow
)

// statsJoin joins a customer's statistics (customer_stats, alias s) to
// customer c: every customer has its row (migration 0018), so the join
// drops none.
const statsJoin = ` JOIN customer_stats s ON s.customer_id = c.id`

// join returns the join the sort needs on customer c, or "".
func (s Sort) join() string {
	if s.Stats {
		return statsJoin
	}
	return ""
}

// sortColumn is a column a list may be ordered by: its SQL name (s.name
// for a column of customer_stats), its values' kind, where its nulls sort
// and whether no index orders it.
type sortColumn struct {
	column    string
	kind      valueKind
	nulls     nullOrder
	unindexed bool
}

// by is a sort column without nulls.
func by(column string, kind valueKind) sortColumn { return sortColumn{column: column, kind: kind} }

// sortColumns lists the API names a list may be ordered by and their columns.
type sortColumns map[string]sortColumn

// newPage validates the list arguments a client sent for the list named
// list. An argument out of bounds is an INVALID_DATA error naming it, never
// silently clamped.
func newPage(list string, limit, offset int, order string, columns sortColumns) (Page, error) {
	if limit < 1 || limit > MaxLimit {
		return Page{}, errcode.Invalid("limit", "limit must be between 1 and %d, got %d", MaxLimit, limit)
	}
	if offset < 0 {
		return Page{}, errcode.Invalid("offset", "offset must not be negative, got %d", offset)
	}
	name, desc := strings.CutPrefix(order, "-")
	col, ok := columns[name]
	if !ok {
		return Page{}, errcode.Invalid("order", "cannot order by %q; use one of %s, with - in front for descending order", order, columns)
	}
	sort := Sort{Column: col.column, Desc: desc, Kind: col.kind, Nulls: col.nulls, Unindexed: col.unindexed}
	if c, ok := strings.CutPrefix(col.column, "s."); ok {
		sort.Column, sort.Stats = c, true
	}
	return Page{Limit: limit, Offset: offset, Sort: sort, List: list, Order: order}, nil
}

func (c sortColumns) String() string {
	names := make([]string, 0, len(c))
	for name := range c {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// column returns the sort column qualified: by alias, or by s for a
// column of customer_stats.
func (s Sort) column(alias string) string {
	if s.Stats {
		return "s." + s.Column
	}
	return alias + "." + s.Column
}

// tieBreak returns the id column that breaks ties of the sort value in a
// keyset: s.customer_id for a column of customer_stats, which equals c.id
// through the join and, unlike it, sits in the statistics' indexes beside
// the column, so that the row comparison is an index condition.
func (s Sort) tieBreak(alias string) string {
	if s.Stats {
		return "s.customer_id"
	}
	return alias + ".id"
}

// orderBy returns the ORDER BY list for the sort, with columns qualified by
// alias.
func (s Sort) orderBy(alias string) string {
	return s.orderByColumns(s.column(alias), alias+".id")
}

// orderByColumns returns the ORDER BY list for the sort of column, then
// id.
func (s Sort) orderByColumns(column, id string) string {
	dir := "ASC"
	if s.Desc {
		dir = "DESC"
	}
	nulls := ""
	if s.Nulls == nullsLow {
		nulls = " NULLS FIRST"
		if s.Desc {
			nulls = " NULLS LAST"
		}
	}
	return fmt.Sprintf("%s %s%s, %s %s", column, dir, nulls, id, dir)
}

// TimeRange bounds a timestamp; nil bounds are open.
type TimeRange struct {
	Gt  *time.Time
	Gte *time.Time
	Lt  *time.Time
	Lte *time.Time
}

// conds is a WHERE clause under construction. Conditions use ? placeholders,
// numbered for PostgreSQL when the query is built.
type conds struct {
	parts []string
	args  []any
}

func (c *conds) add(cond string, args ...any) {
	c.parts = append(c.parts, cond)
	c.args = append(c.args, args...)
}

func (c *conds) timeRange(column string, r *TimeRange) {
	if r != nil {
		bounds(c, column, r.Gt, r.Gte, r.Lt, r.Lte)
	}
}

// bounds adds a range's bounds on column; a nil bound is open.
func bounds[T any](c *conds, column string, gt, gte, lt, lte *T) {
	for _, b := range []struct {
		op    string
		value *T
	}{{">", gt}, {">=", gte}, {"<", lt}, {"<=", lte}} {
		if b.value != nil {
			c.add(column+" "+b.op+" ?", *b.value)
		}
	}
}

// IntRange bounds an integer; nil bounds are open.
type IntRange struct {
	Gt  *int64
	Gte *int64
	Lt  *int64
	Lte *int64
}

func (c *conds) intRange(column string, r *IntRange) {
	if r != nil {
		bounds(c, column, r.Gt, r.Gte, r.Lt, r.Lte)
	}
}

// and returns the conditions as one, "(a AND b)", or "TRUE" for none.
func (c *conds) and() string {
	if len(c.parts) == 0 {
		return "TRUE"
	}
	return "(" + strings.Join(c.parts, " AND ") + ")"
}

// where returns the clause, "WHERE a AND b", or "" when there is no
// condition.
func (c *conds) where() string {
	if len(c.parts) == 0 {
		return ""
	}
	return "WHERE " + strings.Join(c.parts, " AND ")
}

// maxSearchLength bounds q, in characters: no one searches for a longer
// fragment, and the trigrams a search looks up grow with its characters. A
// character is at most four bytes in UTF-8, so this bounds the pattern's
// bytes too.
const maxSearchLength = 200

// searchFragment returns the fragment q searches for: trimmed and composed
// (NFC), as the text it is matched against is stored. Returns INVALID_DATA
// naming field when it is longer than maxSearchLength characters.
func searchFragment(field, q string) (string, error) {
	q = norm.NFC.String(strings.TrimSpace(q))
	if n := utf8.RuneCountInString(q); n > maxSearchLength {
		return "", errcode.Invalid(field, "q must be at most %d characters, got %d", maxSearchLength, n)
	}
	return q, nil
}

// likePattern turns a search fragment into an ILIKE pattern that matches it
// anywhere, with the pattern's own wildcards escaped.
func likePattern(fragment string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(fragment) + "%"
}
