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
	// After, when set, starts the page after that row instead of at
	// Offset (see Keyset).
	After *Keyset
}

// Sort orders a list by one whitelisted column, then by id in the same
// direction so pages are stable.
type Sort struct {
	Column string // an SQL column of the listed table, never client text
	Desc   bool
	// Stats is true for a column of customer_stats (alias s), which the
	// list joins (see join).
	Stats bool
	// NullsLow sorts nulls as the lowest values: first ascending, last
	// descending (a customer who never ordered has the oldest last order).
	NullsLow bool
}

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

// sortColumns lists the API names a list may be ordered by and their columns.
type sortColumns map[string]string

// newPage validates the list arguments a client sent. An argument out of
// bounds is an INVALID_DATA error naming it, never silently clamped.
func newPage(limit, offset int, order string, columns sortColumns) (Page, error) {
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
	sort := Sort{Column: col, Desc: desc}
	if c, ok := strings.CutPrefix(col, "s."); ok {
		sort.Column, sort.Stats = c, true
		sort.NullsLow = c == "last_order_at"
	}
	return Page{Limit: limit, Offset: offset, Sort: sort}, nil
}

func (c sortColumns) String() string {
	names := make([]string, 0, len(c))
	for name := range c {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// orderBy returns the ORDER BY list for the sort, with columns qualified by
// alias.
func (s Sort) orderBy(alias string) string {
	dir := "ASC"
	if s.Desc {
		dir = "DESC"
	}
	table, nulls := alias, ""
	if s.Stats {
		table = "s"
	}
	if s.NullsLow {
		nulls = " NULLS FIRST"
		if s.Desc {
			nulls = " NULLS LAST"
		}
	}
	return fmt.Sprintf("%s.%s %s%s, %s.id %s", table, s.Column, dir, nulls, alias, dir)
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
