package graph_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

type cursorPage struct {
	Customers struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
		PageInfo struct {
			EndCursor   *string `json:"end_cursor"`
			HasNextPage bool    `json:"has_next_page"`
		} `json:"page_info"`
	} `json:"customers"`
}

const cursorQ = `query ($order: String, $after: String, $offset: Int) {
	customers(limit: 7, order: $order, after: $after, offset: $offset) { items { id } page_info { end_cursor has_next_page } } }`

// walk reads every customer in order, a page of 7 at a time: by cursor
// when byCursor, else by offset.
func (a *api) walk(order string, byCursor bool) []string {
	a.tb.Helper()
	var ids []string
	var after *string
	for offset := 0; ; offset += 7 {
		vars := map[string]any{"order": order}
		if byCursor {
			vars["after"] = after
		} else {
			vars["offset"] = offset
		}
		var page cursorPage
		a.query(cursorQ, vars, &page)
		for _, c := range page.Customers.Items {
			ids = append(ids, c.ID)
		}
		info := page.Customers.PageInfo
		if len(page.Customers.Items) > 0 && info.EndCursor == nil {
			a.tb.Fatalf("%s: a page of %d without an end cursor", order, len(page.Customers.Items))
		}
		if !info.HasNextPage {
			return ids
		}
		if len(ids) > 1000 {
			a.tb.Fatalf("%s: the walk does not end", order)
		}
		after = info.EndCursor
	}
}

// Walking a list by cursor gives every customer once, in the order
// walking it by offset gives, for every order a cursor follows, with ties
// of the sort value broken by id; the last page says none follows.
func TestCursorPagination(t *testing.T) {
	t.Parallel()
	a := seeded(t, 40, time.Now())
	// Ties: ten customers created in the same microsecond.
	a.exec(`UPDATE customer SET created_at = '2026-01-01T00:00:00Z', updated_at = '2026-01-01T00:00:00Z'
		WHERE id IN (SELECT id FROM customer ORDER BY id LIMIT 10)`)
	var total int
	a.pool.Get(&total, `SELECT count(*) FROM customer WHERE deleted_at IS NULL`)
	for _, order := range []string{"-created_at", "created_at", "-updated_at", "updated_at", "email", "-email"} {
		byCursor, byOffset := a.walk(order, true), a.walk(order, false)
		if !slices.Equal(byCursor, byOffset) {
			t.Errorf("%s: by cursor %v\nby offset %v", order, byCursor, byOffset)
		}
		seen := map[string]bool{}
		for _, id := range byCursor {
			seen[id] = true
		}
		if len(byCursor) != total || len(seen) != total {
			t.Errorf("%s: %d customers walked, %d distinct, of %d", order, len(byCursor), len(seen), total)
		}
	}

	// A page after a cursor costs as many statements as the first.
	var first cursorPage
	firstResp := a.query(cursorQ, map[string]any{"order": "-created_at"}, &first)
	next := a.query(cursorQ, map[string]any{"order": "-created_at", "after": first.Customers.PageInfo.EndCursor}, &struct{}{})
	if firstResp.Statements != next.Statements {
		t.Errorf("the first page sent %d statements, the next %d", firstResp.Statements, next.Statements)
	}

	// Bad cursors, a cursor of another order, a cursor with an offset, and
	// orders a cursor cannot follow.
	end := *first.Customers.PageInfo.EndCursor
	for _, c := range []struct {
		vars map[string]any
		want string
	}{
		{map[string]any{"after": "not a cursor"}, "is not a cursor this API gave out"},
		{map[string]any{"after": "eyJvIjoiLWNyZWF0ZWRfYXQiLCJ2IjoieCIsImlkIjoiY3VzXzEifQ"}, "is not a cursor this API gave out"},
		{map[string]any{"after": end, "order": "email"}, `the cursor was made for order "-created_at"`},
		{map[string]any{"after": end, "offset": 7}, "send one"},
		{map[string]any{"after": end, "order": "first_name"}, "page other orders with offset"},
	} {
		if _, ok := c.vars["order"]; !ok {
			c.vars["order"] = "-created_at"
		}
		e := a.fail(cursorQ, c.vars)
		wantError(t, e, "INVALID_DATA", "invalid_data", "")
		if !strings.Contains(e.Message, c.want) || fmt.Sprint(e.Extensions["field"]) != "after" {
			t.Errorf("%v: %q (field %v), want %q", c.vars, e.Message, e.Extensions["field"], c.want)
		}
	}

	// A group's members say whether more follow, from their count; they
	// take no cursor yet.
	g := a.createGroup("Paged")
	var ids []string
	a.pool.Select(&ids, `SELECT id FROM customer ORDER BY id LIMIT 9`)
	a.query(`mutation ($g: ID!, $ids: [ID!]!) { add_customers_to_group(group_id: $g, customer_ids: $ids) { id } }`,
		map[string]any{"g": g.ID, "ids": ids}, &struct{}{})
	for offset, want := range map[int]bool{0: true, 2: false, 5: false} {
		var got struct {
			G struct {
				Customers struct {
					PageInfo struct {
						EndCursor   *string `json:"end_cursor"`
						HasNextPage bool    `json:"has_next_page"`
					} `json:"page_info"`
				} `json:"customers"`
			} `json:"customer_group"`
		}
		a.query(`query ($g: ID!, $o: Int!) { customer_group(id: $g) { customers(limit: 7, offset: $o) { page_info { end_cursor has_next_page } } } }`,
			map[string]any{"g": g.ID, "o": offset}, &got)
		if info := got.G.Customers.PageInfo; info.HasNextPage != want || info.EndCursor != nil {
			t.Errorf("members from %d: %+v, want has_next_page %v and no cursor", offset, info, want)
		}
	}
}
