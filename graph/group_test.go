package graph_test

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

type groupList struct {
	CustomerGroups struct {
		Items []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"items"`
		Count int `json:"count"`
	} `json:"customer_groups"`
}

func (l groupList) names() []string {
	var out []string
	for _, g := range l.CustomerGroups.Items {
		out = append(out, g.Name)
	}
	return out
}

func TestCustomerGroups(t *testing.T) {
	t.Parallel()
	a := seeded(t, 10, time.Now())
	const q = `query ($filter: CustomerGroupFilter, $limit: Int, $offset: Int, $order: String) {
		customer_groups(filter: $filter, limit: $limit, offset: $offset, order: $order) { items { id name } count }
	}`
	tests := []struct {
		name      string
		vars      map[string]any
		want      []string
		wantCount int
	}{
		{"newest first", map[string]any{"limit": 3}, []string{"Group 20", "Group 19", "Group 18"}, 20},
		{"by name", map[string]any{"limit": 2, "offset": 1, "order": "name"}, []string{"Group 02", "Group 03"}, 20},
		{"q", map[string]any{"filter": map[string]any{"q": "oup 1"}, "order": "name"},
			[]string{"Group 10", "Group 11", "Group 12", "Group 13", "Group 14", "Group 15", "Group 16", "Group 17", "Group 18", "Group 19"}, 10},
		{"names, any case", map[string]any{"filter": map[string]any{"name": []string{"GROUP 07", "group 99"}}}, []string{"Group 07"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got groupList
			a.query(q, tt.vars, &got)
			if !slices.Equal(got.names(), tt.want) || got.CustomerGroups.Count != tt.wantCount {
				t.Errorf("names = %v (count %d), want %v (count %d)", got.names(), got.CustomerGroups.Count, tt.want, tt.wantCount)
			}
		})
	}

	var all groupList
	a.query(q, map[string]any{"filter": map[string]any{"name": []string{"Group 04"}}}, &all)
	id := all.CustomerGroups.Items[0].ID
	var got groupList
	a.query(q, map[string]any{"filter": map[string]any{"id": []string{id}}}, &got)
	if !slices.Equal(got.names(), []string{"Group 04"}) {
		t.Errorf("by id: %v, want Group 04", got.names())
	}

	a.exec(`UPDATE customer_group SET deleted_at = now() WHERE id = $1`, id)
	a.query(q, map[string]any{"limit": 100}, &got)
	if got.CustomerGroups.Count != 19 || slices.Contains(got.names(), "Group 04") {
		t.Errorf("a deleted group is listed: %v", got.names())
	}
	err := a.fail(`query ($id: ID!) { customer_group(id: $id) { id } }`, map[string]any{"id": id})
	wantError(t, err, "NOT_FOUND", "not_found", "Customer group with id: "+id+" was not found")
	// A deleted group is no longer among a customer's groups.
	var c customerDetail
	a.query(customerWithRelations, map[string]any{"id": a.customerID("customer2@example.com")}, &c)
	for _, g := range c.Customer.Groups {
		if g.Name == "Group 04" {
			t.Errorf("customer2 still lists the deleted Group 04")
		}
	}
}

func TestGroupMembers(t *testing.T) {
	t.Parallel()
	a := seeded(t, 40, time.Now())
	// Members of group g among 1..40, newest (smallest i) first.
	members := func(g int) []string {
		var out []int
		for i := 1; i <= 40; i++ {
			for k := 1; k <= 1+i%3; k++ {
				if 1+(i*31+k*7)%20 == g {
					out = append(out, i)
				}
			}
		}
		return emailsOf(out...)
	}
	var list groupList
	a.query(`{ customer_groups(limit: 100, order: "name") { items { id name } } }`, nil, &list)
	groupID := func(g int) string { return list.CustomerGroups.Items[g-1].ID }

	type page struct {
		CustomerGroup struct {
			Name      string `json:"name"`
			Customers struct {
				Items []struct {
					Email string `json:"email"`
				} `json:"items"`
				Count  int `json:"count"`
				Limit  int `json:"limit"`
				Offset int `json:"offset"`
			} `json:"customers"`
		} `json:"customer_group"`
	}
	const q = `query ($id: ID!, $limit: Int, $offset: Int, $order: String) {
		customer_group(id: $id) { name customers(limit: $limit, offset: $offset, order: $order) { items { email } count limit offset } }
	}`
	for _, g := range []int{1, 6, 13} {
		t.Run(fmt.Sprintf("Group %02d", g), func(t *testing.T) {
			want := members(g)
			var got page
			a.query(q, map[string]any{"id": groupID(g), "limit": 2, "offset": 1}, &got)
			var emails []string
			for _, c := range got.CustomerGroup.Customers.Items {
				emails = append(emails, c.Email)
			}
			if !slices.Equal(emails, want[1:3]) || got.CustomerGroup.Customers.Count != len(want) {
				t.Errorf("members = %v (count %d), want %v (count %d)", emails, got.CustomerGroup.Customers.Count, want[1:3], len(want))
			}
			if got.CustomerGroup.Customers.Limit != 2 || got.CustomerGroup.Customers.Offset != 1 {
				t.Errorf("limit, offset = %d, %d; want 2, 1", got.CustomerGroup.Customers.Limit, got.CustomerGroup.Customers.Offset)
			}
		})
	}

	// Deleted customers leave the member list and its count.
	first := members(6)[0]
	a.query(`mutation ($id: ID!) { delete_customer(id: $id) { id } }`, map[string]any{"id": a.customerID(first)}, &struct{}{})
	var got page
	a.query(q, map[string]any{"id": groupID(6), "limit": 100, "order": "email"}, &got)
	if got.CustomerGroup.Customers.Count != len(members(6))-1 {
		t.Errorf("count after deleting a member = %d, want %d", got.CustomerGroup.Customers.Count, len(members(6))-1)
	}
	for _, c := range got.CustomerGroup.Customers.Items {
		if c.Email == first {
			t.Errorf("deleted customer %s is still listed", first)
		}
	}

	// Every group's first page in one query, each with its own page.
	var all struct {
		CustomerGroups struct {
			Items []struct {
				Name      string `json:"name"`
				Customers struct {
					Count int `json:"count"`
					Items []struct {
						Email string `json:"email"`
					} `json:"items"`
				} `json:"customers"`
			} `json:"items"`
		} `json:"customer_groups"`
	}
	a.query(`{ customer_groups(limit: 20, order: "name") { items { name customers(limit: 3) { count items { email } } } } }`, nil, &all)
	for g, item := range all.CustomerGroups.Items {
		want := slices.DeleteFunc(members(g+1), func(e string) bool { return e == first })
		var emails []string
		for _, c := range item.Customers.Items {
			emails = append(emails, c.Email)
		}
		if !slices.Equal(emails, want[:min(3, len(want))]) || item.Customers.Count != len(want) {
			t.Errorf("%s: members %v (count %d), want %v (count %d)", item.Name, emails, item.Customers.Count, want[:min(3, len(want))], len(want))
		}
	}
}
