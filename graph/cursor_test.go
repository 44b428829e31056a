package graph_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// listPage is a page of any list as a client reads it for paging.
type listPage struct {
	Items []struct {
		ID string `json:"id"`
	} `json:"items"`
	PageInfo struct {
		EndCursor   *string `json:"end_cursor"`
		HasNextPage bool    `json:"has_next_page"`
	} `json:"page_info"`
}

func (p listPage) ids() []string {
	out := make([]string, len(p.Items))
	for i, it := range p.Items {
		out[i] = it.ID
	}
	return out
}

// pagedList is a list to page through: a query whose list field is
// aliased "list" (at the root or under one object) and takes $limit,
// $after, $offset and, when orders is not empty, $order.
type pagedList struct {
	name   string
	api    *api
	query  string
	orders []string
	// count is how many rows the list holds.
	count int
}

const pageFields = `{ items { id } page_info { end_cursor has_next_page } }`

// findList decodes the field aliased "list" in data, at the root or one
// object down.
func findList(tb testing.TB, data json.RawMessage) listPage {
	tb.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		tb.Fatalf("decode %s: %v", data, err)
	}
	if raw, ok := fields["list"]; ok {
		var p listPage
		if err := json.Unmarshal(raw, &p); err != nil {
			tb.Fatalf("decode %s: %v", raw, err)
		}
		return p
	}
	for _, raw := range fields {
		return findList(tb, raw)
	}
	tb.Fatalf("no list in %s", data)
	return listPage{}
}

// page reads one page of l.
func (l pagedList) page(tb testing.TB, vars map[string]any) (listPage, response) {
	tb.Helper()
	resp := l.api.do(l.query, vars)
	if len(resp.Errors) > 0 {
		tb.Fatalf("%s %v: %+v", l.name, vars, resp.Errors)
	}
	return findList(tb, resp.Data), resp
}

// walk reads every row of l in order, limit at a time: by cursor when
// byCursor, else by offset. between runs after each page but the last.
func (l pagedList) walk(tb testing.TB, order string, limit int, byCursor bool, between func(page int, p listPage)) []string {
	tb.Helper()
	var ids []string
	var after *string
	for n, offset := 0, 0; ; n, offset = n+1, offset+limit {
		vars := map[string]any{"limit": limit}
		if order != "" {
			vars["order"] = order
		}
		if byCursor {
			vars["after"] = after
		} else {
			vars["offset"] = offset
		}
		p, _ := l.page(tb, vars)
		ids = append(ids, p.ids()...)
		info := p.PageInfo
		if len(p.Items) > 0 && info.EndCursor == nil {
			tb.Fatalf("%s %s: a page of %d without an end cursor", l.name, order, len(p.Items))
		}
		if len(p.Items) == 0 && info.EndCursor != nil {
			tb.Fatalf("%s %s: an empty page with an end cursor", l.name, order)
		}
		if !info.HasNextPage {
			return ids
		}
		if len(ids) > 2000 {
			tb.Fatalf("%s %s: the walk does not end", l.name, order)
		}
		if between != nil {
			between(n, p)
		}
		after = info.EndCursor
	}
}

// both returns the orders given, each ascending and descending.
func both(orders ...string) []string {
	var out []string
	for _, o := range orders {
		out = append(out, o, "-"+o)
	}
	return out
}

// cursorFixture seeds 40 customers and shapes their data for paging: ties
// of every sort value, nulls amid values, and enough rows in each list for
// several pages.
func cursorFixture(t *testing.T) (a *api, customer *api, groupID string) {
	t.Helper()
	a = seeded(t, 40, time.Now())
	// Ties: ten customers created and updated in the same microsecond,
	// eight of one first name; last names null in the middle of the
	// order, company names on a few only (the seed leaves them null).
	a.exec(`UPDATE customer SET created_at = '2026-01-01T00:00:00Z', updated_at = '2026-01-01T00:00:00Z'
		WHERE id IN (SELECT id FROM customer ORDER BY id LIMIT 10)`)
	a.exec(`UPDATE customer SET first_name = 'Same' WHERE id IN (SELECT id FROM customer ORDER BY id DESC LIMIT 8)`)
	a.exec(`UPDATE customer SET last_name = NULL WHERE email ~ '^customer(1[0-9]|3[0-3])@'`)
	a.exec(`UPDATE customer SET company_name = CASE WHEN email ~ '[13]@' THEN 'Acme' ELSE 'Zeta ' || length(email) END
		WHERE email ~ '[1357]@'`)
	// Groups created at the same time; orders of the same time and total.
	a.exec(`UPDATE customer_group SET created_at = '2026-01-01T00:00:00Z' WHERE id IN (SELECT id FROM customer_group ORDER BY id LIMIT 6)`)
	a.exec(`UPDATE orders SET created_at = '2026-01-01T00:00:00Z', updated_at = '2026-01-01T00:00:00Z', total = 1234
		WHERE id IN (SELECT id FROM orders ORDER BY id LIMIT 12)`)

	g := a.createGroup("Everyone")
	var ids []string
	a.pool.Select(&ids, `SELECT id FROM customer`)
	a.query(`mutation ($g: ID!, $ids: [ID!]!) { add_customers_to_group(group_id: $g, customer_ids: $ids) { id } }`,
		map[string]any{"g": g.ID, "ids": ids}, &struct{}{})

	for i := range 9 {
		a.createWebhook(map[string]any{"url": fmt.Sprintf("http://receiver%d.example/", i), "event_types": []string{"*"}})
	}
	a.exec(`UPDATE webhook_endpoint SET created_at = '2026-01-01T00:00:00Z' WHERE id IN (SELECT id FROM webhook_endpoint ORDER BY id LIMIT 3)`)

	// The signed-in customer: 11 orders (4 at one time) and 9 addresses
	// (5 at one time).
	customer = a.as(loginCustomer(t, a, "customer4@example.com"))
	me := a.customerID("customer4@example.com")
	a.exec(`INSERT INTO orders (id, customer_id, email, status, currency_code, subtotal, total, created_at, updated_at)
		SELECT 'order_' || lpad(n::text, 26, '0'), $1, 'customer4@example.com', 'COMPLETED', 'usd', 100, 100,
			CASE WHEN n <= 4 THEN timestamptz '2025-06-01' ELSE now() - n * interval '1 hour' END, now()
		FROM generate_series(1, 8) AS n`, me)
	a.exec(`INSERT INTO customer_address (id, customer_id, city, created_at, updated_at)
		SELECT 'cuaddr_' || lpad(n::text, 26, '0'), $1, 'City', 
			CASE WHEN n <= 5 THEN timestamptz '2025-06-01' ELSE now() - n * interval '1 hour' END, now()
		FROM generate_series(1, 7) AS n`, me)
	return a, customer, g.ID
}

// Walking every list by cursor gives every row once, in the order walking
// it by offset gives, for every order it takes, ascending and descending,
// with ties of the sort value broken by id and nulls where ORDER BY puts
// them; the last page says none follows.
func TestCursorPaginationEveryList(t *testing.T) {
	t.Parallel()
	a, customer, groupID := cursorFixture(t)
	customerOrders := both("created_at", "updated_at", "email", "first_name", "last_name", "company_name", "order_count", "last_order_at")
	count := func(query string, args ...any) int {
		var n int
		if err := a.pool.Get(&n, query, args...); err != nil {
			t.Fatal(err)
		}
		return n
	}
	me := a.customerID("customer4@example.com")
	lists := []pagedList{
		{name: "customers", api: a, orders: customerOrders,
			query: `query ($limit: Int, $order: String, $after: String, $offset: Int) {
				list: customers(limit: $limit, order: $order, after: $after, offset: $offset) ` + pageFields + ` }`,
			count: count(`SELECT count(*) FROM customer WHERE deleted_at IS NULL`)},
		{name: "a group's members", api: a, orders: customerOrders,
			query: `query ($limit: Int, $order: String, $after: String, $offset: Int) { customer_group(id: "` + groupID + `") {
				list: customers(limit: $limit, order: $order, after: $after, offset: $offset) ` + pageFields + ` } }`,
			count: count(`SELECT count(*) FROM customer_group_customer WHERE customer_group_id = $1`, groupID)},
		{name: "customer_groups", api: a, orders: both("created_at", "updated_at", "name"),
			query: `query ($limit: Int, $order: String, $after: String, $offset: Int) {
				list: customer_groups(limit: $limit, order: $order, after: $after, offset: $offset) ` + pageFields + ` }`,
			count: count(`SELECT count(*) FROM customer_group WHERE deleted_at IS NULL`)},
		{name: "orders", api: a, orders: both("created_at", "updated_at", "display_id", "email", "total"),
			query: `query ($limit: Int, $order: String, $after: String, $offset: Int) {
				list: orders(limit: $limit, order: $order, after: $after, offset: $offset) ` + pageFields + ` }`,
			count: count(`SELECT count(*) FROM orders`)},
		{name: "me.orders", api: customer, orders: []string{""},
			query: `query ($limit: Int, $after: String, $offset: Int) {
				me { list: orders(limit: $limit, after: $after, offset: $offset) ` + pageFields + ` } }`,
			count: count(`SELECT count(*) FROM orders WHERE customer_id = $1`, me)},
		{name: "a customer's orders", api: a, orders: []string{""},
			query: `query ($limit: Int, $after: String, $offset: Int) { customer(id: "` + me + `") {
				list: orders(limit: $limit, after: $after, offset: $offset) ` + pageFields + ` } }`,
			count: count(`SELECT count(*) FROM orders WHERE customer_id = $1`, me)},
		{name: "my_addresses", api: customer, orders: both("created_at", "updated_at"),
			query: `query ($limit: Int, $order: String, $after: String, $offset: Int) {
				list: my_addresses(limit: $limit, order: $order, after: $after, offset: $offset) ` + pageFields + ` }`,
			count: count(`SELECT count(*) FROM customer_address WHERE customer_id = $1 AND deleted_at IS NULL`, me)},
		{name: "webhooks", api: a, orders: []string{""},
			query: `query ($limit: Int, $after: String, $offset: Int) {
				list: webhooks(limit: $limit, after: $after, offset: $offset) ` + pageFields + ` }`,
			count: count(`SELECT count(*) FROM webhook_endpoint WHERE deleted_at IS NULL`)},
	}
	for _, l := range lists {
		if l.count < 8 {
			t.Fatalf("%s holds %d rows: too few to page", l.name, l.count)
		}
		for _, order := range l.orders {
			for _, limit := range []int{3, 7} {
				byCursor, byOffset := l.walk(t, order, limit, true, nil), l.walk(t, order, limit, false, nil)
				if !slices.Equal(byCursor, byOffset) {
					t.Errorf("%s %s by %d: by cursor %v\nby offset %v", l.name, order, limit, byCursor, byOffset)
				}
				seen := map[string]bool{}
				for _, id := range byCursor {
					seen[id] = true
				}
				if len(byCursor) != l.count || len(seen) != l.count {
					t.Errorf("%s %s by %d: %d rows walked, %d distinct, of %d", l.name, order, limit, len(byCursor), len(seen), l.count)
				}
			}
		}
	}
}

// A cursor is a position: rows deleted before it, the row it was made from
// included, and rows deleted after it neither repeat nor skip a row, where
// offsets shift.
func TestCursorSurvivesDeletes(t *testing.T) {
	t.Parallel()
	a, _, _ := cursorFixture(t)
	l := pagedList{name: "customers", api: a, query: `query ($limit: Int, $order: String, $after: String, $offset: Int) {
		list: customers(limit: $limit, order: $order, after: $after, offset: $offset) ` + pageFields + ` }`}
	for _, order := range []string{"last_name", "-last_name", "-created_at", "last_order_at"} {
		before := l.walk(t, order, 7, false, nil)
		var deleted []string
		got := l.walk(t, order, 7, true, func(n int, p listPage) {
			if n != 0 {
				return
			}
			// The first page's first and last rows (the cursor's), and
			// a row two pages on.
			ids := p.ids()
			later := before[len(ids)+10]
			deleted = []string{ids[0], ids[len(ids)-1], later}
			a.exec(`UPDATE customer SET deleted_at = now() WHERE id = ANY($1)`, deleted)
		})
		want := slices.DeleteFunc(slices.Clone(before), func(id string) bool { return id == deleted[2] })
		if !slices.Equal(got, want) {
			t.Errorf("%s: deletes between pages: got %v\nwant %v", order, got, want)
		}
		a.exec(`UPDATE customer SET deleted_at = NULL WHERE id = ANY($1)`, deleted)
	}
}

// A cursor is refused, as INVALID_DATA on after, when it is not one this
// API gave out, was made for another list or order, or comes with an
// offset; a page after a cursor costs as many statements as the first.
func TestCursorErrors(t *testing.T) {
	t.Parallel()
	a, _, groupID := cursorFixture(t)
	customers := `query ($order: String, $after: String, $offset: Int) {
		list: customers(limit: 7, order: $order, after: $after, offset: $offset) ` + pageFields + ` }`
	orders := `query ($order: String, $after: String) { list: orders(limit: 7, order: $order, after: $after) ` + pageFields + ` }`
	members := `query ($order: String, $after: String) { customer_group(id: "` + groupID + `") {
		list: customers(limit: 7, order: $order, after: $after) ` + pageFields + ` } }`

	var first listPage
	firstResp := a.query(customers, map[string]any{"order": "-created_at"}, &struct{}{})
	first = findList(t, firstResp.Data)
	next := a.query(customers, map[string]any{"order": "-created_at", "after": first.PageInfo.EndCursor}, &struct{}{})
	if firstResp.Statements != next.Statements {
		t.Errorf("the first page sent %d statements, the next %d", firstResp.Statements, next.Statements)
	}
	end := *first.PageInfo.EndCursor
	var c map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(end)
	json.Unmarshal(raw, &c)
	forged := func(changes map[string]any) string {
		m := map[string]any{}
		for k, v := range c {
			m[k] = v
		}
		for k, v := range changes {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	memberPage := findList(t, a.query(members, map[string]any{"order": "-created_at"}, &struct{}{}).Data)

	for _, tc := range []struct {
		query string
		vars  map[string]any
		want  string
	}{
		{customers, map[string]any{"after": "not a cursor"}, "is not a cursor this API gave out"},
		{customers, map[string]any{"after": base64.RawURLEncoding.EncodeToString([]byte("[1, 2]"))}, "is not a cursor this API gave out"},
		// The cursors of the first release, without their list.
		{customers, map[string]any{"after": "eyJvIjoiLWNyZWF0ZWRfYXQiLCJ2IjoieCIsImlkIjoiY3VzXzEifQ"}, "is not a cursor this API gave out"},
		{customers, map[string]any{"after": forged(map[string]any{"v": "yesterday"})}, "is not a cursor this API gave out"},
		{customers, map[string]any{"after": forged(map[string]any{"v": nil})}, "is not a cursor this API gave out"},
		{customers, map[string]any{"after": end, "order": "email"}, `the cursor was made for order "-created_at"`},
		{customers, map[string]any{"after": end, "order": "last_name"}, `the cursor was made for order "-created_at"`},
		{customers, map[string]any{"after": end, "offset": 7}, "send one"},
		{orders, map[string]any{"after": end}, "the cursor was made for the list customers, not orders"},
		{customers, map[string]any{"after": *memberPage.PageInfo.EndCursor}, "the cursor was made for the list customer_group.customers, not customers"},
		{members, map[string]any{"after": end}, "the cursor was made for the list customers, not customer_group.customers"},
	} {
		if _, ok := tc.vars["order"]; !ok {
			tc.vars["order"] = "-created_at"
		}
		e := a.fail(tc.query, tc.vars)
		wantError(t, e, "INVALID_DATA", "invalid_data", "")
		if !strings.Contains(e.Message, tc.want) || fmt.Sprint(e.Extensions["field"]) != "after" {
			t.Errorf("%v: %q (field %v), want %q", tc.vars, e.Message, e.Extensions["field"], tc.want)
		}
	}
}

// The members of many groups, each after the same cursor, come from one
// statement (keyset per group inside the batch), and are each group's
// members after that position, as a query of that group alone gives them.
func TestCursorInBatchedLists(t *testing.T) {
	t.Parallel()
	a, _, groupID := cursorFixture(t)
	for _, order := range []string{"-created_at", "last_name", "-last_order_at"} {
		one := `query ($order: String, $after: String, $g: ID!) { customer_group(id: $g) {
			list: customers(limit: 4, order: $order, after: $after) ` + pageFields + ` } }`
		first := findList(t, a.query(one, map[string]any{"order": order, "g": groupID}, &struct{}{}).Data)
		cursor := first.PageInfo.EndCursor

		var many struct {
			Groups struct {
				Items []struct {
					ID      string   `json:"id"`
					Members listPage `json:"customers"`
				} `json:"items"`
			} `json:"customer_groups"`
		}
		manyQ := `query ($order: String, $after: String, $n: Int) { customer_groups(limit: $n) { items { id
			customers(limit: 4, order: $order, after: $after) ` + pageFields + ` } } }`
		withTwo := a.query(manyQ, map[string]any{"order": order, "after": cursor, "n": 2}, &many)
		withAll := a.query(manyQ, map[string]any{"order": order, "after": cursor, "n": 30}, &many)
		if withTwo.Statements != withAll.Statements {
			t.Errorf("%s: %d statements for 2 groups' pages after a cursor, %d for all", order, withTwo.Statements, withAll.Statements)
		}
		nonEmpty := 0
		for _, g := range many.Groups.Items {
			alone := findList(t, a.query(one, map[string]any{"order": order, "after": cursor, "g": g.ID}, &struct{}{}).Data)
			if !slices.Equal(g.Members.ids(), alone.ids()) || g.Members.PageInfo.HasNextPage != alone.PageInfo.HasNextPage {
				t.Errorf("%s: group %s in a batch %v (more %v), alone %v (more %v)", order, g.ID,
					g.Members.ids(), g.Members.PageInfo.HasNextPage, alone.ids(), alone.PageInfo.HasNextPage)
			}
			if len(alone.Items) > 0 {
				nonEmpty++
			}
		}
		if nonEmpty < 3 {
			t.Errorf("%s: only %d groups have members after the cursor: the batch is not tested", order, nonEmpty)
		}
	}
}
