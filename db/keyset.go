package db

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"customerservice/errcode"
)

// Keyset is where a page starts in its list's order: after the row with
// this sort value and id (keyset pagination). A page after a keyset costs
// what the first page costs, where OFFSET n reads and drops n rows.
type Keyset struct {
	// Order is the API order the keyset was made for ("-created_at").
	Order string
	// Value is the row's sort value: a time.Time or a string.
	Value any
	ID    string
}

// keysetColumns are the sort columns a keyset can follow: never null, so
// that a row comparison orders them as ORDER BY does.
var keysetColumns = map[string]bool{"created_at": true, "updated_at": true, "email": true}

// cursor is a keyset as a client holds it.
type cursor struct {
	Order string `json:"o"`
	Value string `json:"v"`
	ID    string `json:"id"`
}

// Cursor returns the keyset as an opaque cursor.
func (k Keyset) Cursor() string {
	c := cursor{Order: k.Order, ID: k.ID}
	switch v := k.Value.(type) {
	case time.Time:
		c.Value = v.UTC().Format(time.RFC3339Nano)
	case string:
		c.Value = v
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseKeyset reads the cursor s (nil: none) of a list ordered by order,
// whose sort column is column. Returns INVALID_DATA, naming field, for a
// cursor this API did not give out, one made for another order, or an
// order a keyset cannot follow.
func ParseKeyset(field, order string, p Page, s *string) (*Keyset, error) {
	if s == nil {
		return nil, nil
	}
	if p.Sort.Stats || !keysetColumns[p.Sort.Column] {
		return nil, errcode.Invalid(field, "%s follows the orders created_at, updated_at and email (- in front for descending); page other orders with offset", field)
	}
	if p.Offset != 0 {
		return nil, errcode.Invalid(field, "%s and offset are two ways to say where a page starts; send one", field)
	}
	bad := errcode.Invalid(field, "%q is not a cursor this API gave out", *s)
	raw, err := base64.RawURLEncoding.DecodeString(*s)
	if err != nil {
		return nil, bad
	}
	var c cursor
	if err := json.Unmarshal(raw, &c); err != nil || c.ID == "" {
		return nil, bad
	}
	if c.Order != order {
		return nil, errcode.Invalid(field, "the cursor was made for order %q; send that order with it", c.Order)
	}
	k := &Keyset{Order: order, ID: c.ID, Value: c.Value}
	if p.Sort.Column != "email" {
		t, err := time.Parse(time.RFC3339Nano, c.Value)
		if err != nil {
			return nil, bad
		}
		k.Value = t
	}
	return k, nil
}

// keyset adds the condition that rows come after p.After in p's order.
func (p Page) keyset(c *conds, alias string) {
	if p.After == nil {
		return
	}
	op := ">"
	if p.Sort.Desc {
		op = "<"
	}
	c.add(fmt.Sprintf("(%s.%s, %s.id) %s (?, ?)", alias, p.Sort.Column, alias, op), p.After.Value, p.After.ID)
}

// CustomerPageEnd returns where the page p of the customers f selects
// ends, and whether more follow: a keyset for the next page's cursor (nil
// for an empty page, or an order a keyset cannot follow). It reads the
// page's ids and sort values, and one row more.
func CustomerPageEnd(ctx context.Context, q sqlx.QueryerContext, f CustomerFilter, p Page, order string) (*Keyset, bool, error) {
	c, stats, err := f.conds()
	if err != nil {
		return nil, false, err
	}
	p.keyset(&c, "c")
	join := p.Sort.join()
	if stats {
		join = statsJoin
	}
	table := "c"
	if p.Sort.Stats {
		table = "s"
	}
	query := fmt.Sprintf(`SELECT c.id, %s.%s FROM customer c%s %s ORDER BY %s LIMIT ? OFFSET ?`,
		table, p.Sort.Column, join, c.where(), p.Sort.orderBy("c"))
	rows, err := q.QueryxContext(ctx, sqlx.Rebind(sqlx.DOLLAR, query), append(c.args, p.Limit+1, p.Offset)...)
	if err != nil {
		return nil, false, fmt.Errorf("customer page end: %w", err)
	}
	defer rows.Close()
	var ends []Keyset
	for rows.Next() {
		var k Keyset
		if err := rows.Scan(&k.ID, &k.Value); err != nil {
			return nil, false, fmt.Errorf("customer page end: %w", err)
		}
		ends = append(ends, k)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("customer page end: %w", err)
	}
	more := len(ends) > p.Limit
	if len(ends) == 0 || p.Sort.Stats || !keysetColumns[p.Sort.Column] {
		return nil, more, nil
	}
	end := ends[min(len(ends), p.Limit)-1]
	end.Order = order
	if b, ok := end.Value.([]byte); ok {
		end.Value = string(b)
	}
	return &end, more, nil
}
