package db

import (
	"math/bits"
	"strings"
)

// Columns is a set of the columns of the row type T that a read fetches.
// Lists and batches read as many rows as a page holds, and a client rarely
// selects every field: fetching and decoding only the columns behind the
// selected fields costs a third as much for a batch of addresses of which
// the query asks the id. The zero value is every column.
type Columns[T any] struct {
	set uint64 // bit i: the table's column i; 0: all
}

// table describes the columns of the row type T: their names, which are
// also the names of the GraphQL fields they serve, and where a row keeps
// each, so that a read scans them without reflection.
type table[T any] struct {
	alias   string
	columns []column[T]
	keys    uint64 // what every read fetches: ids and what relations join on
}

type column[T any] struct {
	name   string
	target func(*T) any
}

func newTable[T any](alias string, keys []string, columns ...column[T]) *table[T] {
	t := &table[T]{alias: alias, columns: columns}
	if len(columns) > 64 {
		panic("db: a table of more than 64 columns")
	}
	t.keys = t.pick(keys).set
	return t
}

// pick returns the columns behind the named fields, with the keys. Names
// that are not columns, such as those of relations, add nothing.
func (t *table[T]) pick(names []string) Columns[T] {
	set := t.keys
	for _, name := range names {
		for i, c := range t.columns {
			if c.name == name {
				set |= 1 << i
			}
		}
	}
	return Columns[T]{set: set}
}

// all is every column, for writes that return the row.
func (t *table[T]) all() string { return t.list(Columns[T]{}) }

// list returns the SQL select list of cols, each column qualified by the
// table's alias, in the table's order.
func (t *table[T]) list(cols Columns[T]) string {
	var b strings.Builder
	for i := range t.selected(cols) {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.alias)
		b.WriteByte('.')
		b.WriteString(t.columns[i].name)
	}
	return b.String()
}

// targets returns the scan targets of cols in a row, in the order of list.
//
// The slice it returns is its own, overwritten by its next call, with room
// for a caller to append the targets of a few columns more: selectRows
// scans one row at a time, and a page of 100 customers with their
// addresses and groups made two slices a row.
func (t *table[T]) targets(cols Columns[T]) func(*T) []any {
	var idx []int
	for i := range t.selected(cols) {
		idx = append(idx, i)
	}
	buf := make([]any, len(idx), len(idx)+extraTargets)
	return func(row *T) []any {
		out := buf[:len(idx)]
		for j, i := range idx {
			out[j] = t.columns[i].target(row)
		}
		return out
	}
}

// extraTargets is the room targets leaves for columns after a table's: a
// page's sort value and id, and a batch's key.
const extraTargets = 3

// selected yields the positions of the columns in cols.
func (t *table[T]) selected(cols Columns[T]) func(yield func(int) bool) {
	set := cols.set
	if set == 0 {
		set = 1<<len(t.columns) - 1
	}
	return func(yield func(int) bool) {
		for s := set; s != 0; s &= s - 1 {
			if !yield(bits.TrailingZeros64(s)) {
				return
			}
		}
	}
}
