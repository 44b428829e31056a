package graph_test

import (
	"strings"
	"testing"
	"time"
)

func TestBadArguments(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tests := []struct {
		name      string
		query     string
		wantField string
	}{
		{"limit 0", `{ customers(limit: 0) { count } }`, "limit"},
		{"limit 101", `{ customers(limit: 101) { count } }`, "limit"},
		{"negative offset", `{ customers(offset: -1) { count } }`, "offset"},
		{"unknown order field", `{ customers(order: "password") { count } }`, "order"},
		{"order by nothing", `{ customers(order: "-") { count } }`, "order"},
		{"groups limit", `{ customer_groups(limit: 1000) { count } }`, "limit"},
		{"groups order", `{ customer_groups(order: "email") { count } }`, "order"},
		{"orders offset", `{ orders(offset: -5) { count } }`, "offset"},
		{"orders order", `{ orders(order: "first_name") { count } }`, "order"},
		{"long q", `{ customers(filter: {q: "` + strings.Repeat("x", 201) + `"}) { count } }`, "filter.q"},
		{"group q", `{ customer_groups(filter: {q: "` + strings.Repeat("x", 201) + `"}) { count } }`, "filter.q"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.fail(tt.query, nil)
			wantError(t, err, "INVALID_DATA", "invalid_data", "")
			if err.Extensions["field"] != tt.wantField {
				t.Errorf("field = %v, want %s (message %q)", err.Extensions["field"], tt.wantField, err.Message)
			}
		})
	}

	// Arguments of nested lists fail for each parent.
	seededAPI := seeded(t, 2, time.Now())
	resp := seededAPI.do(`{ customers(limit: 2) { items { email orders(limit: 101) { count } } } }`, nil)
	if len(resp.Errors) != 2 {
		t.Fatalf("nested limit: got %d errors, want one per customer: %+v", len(resp.Errors), resp.Errors)
	}
	for _, e := range resp.Errors {
		wantError(t, e, "INVALID_DATA", "invalid_data", "limit must be between 1 and 100, got 101")
	}
	resp = seededAPI.do(`{ customer_groups(limit: 3) { items { customers(order: "phone_number") { count } } } }`, nil)
	if len(resp.Errors) != 3 {
		t.Fatalf("members order: got %d errors, want one per group: %+v", len(resp.Errors), resp.Errors)
	}
	for _, e := range resp.Errors {
		wantError(t, e, "INVALID_DATA", "invalid_data", "")
		if e.Extensions["field"] != "order" {
			t.Errorf("field = %v, want order", e.Extensions["field"])
		}
	}
}

func TestRequestErrors(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tests := []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"syntax", `{ customers(`, nil},
		{"unknown field", `{ customers { items { password } } }`, nil},
		{"wrong argument type", `{ customers(limit: "ten") { count } }`, nil},
		{"missing required argument", `{ customer { id } }`, nil},
		{"variable of the wrong type", `query ($l: Int) { customers(limit: $l) { count } }`, map[string]any{"l": "x"}},
		{"bad time", `query ($f: CustomerFilter) { customers(filter: $f) { count } }`, map[string]any{"f": map[string]any{"created_at": map[string]any{"gt": "yesterday"}}}},
		{"bad time literal", `{ customers(filter: {updated_at: {lt: 12}}) { count } }`, nil},
		{"unknown enum value", `{ orders(filter: {status: [SHIPPED]}) { count } }`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.fail(tt.query, tt.vars)
			wantError(t, err, "INVALID_DATA", "invalid_data", "")
			if err.Message == "" {
				t.Error("empty message")
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	wantError(t, a.fail(`{ customer(id: "cus_01ARZ3NDEKTSV4RRFFQ69G5FAV") { id } }`, nil),
		"NOT_FOUND", "not_found", "Customer with id: cus_01ARZ3NDEKTSV4RRFFQ69G5FAV was not found")
	wantError(t, a.fail(`{ customer_group(id: "nope") { id } }`, nil),
		"NOT_FOUND", "not_found", "Customer group with id: nope was not found")
	wantError(t, a.fail(`{ order(id: "") { id } }`, nil),
		"NOT_FOUND", "not_found", "Order with id:  was not found")
}

func TestDatabaseFailureIsInternal(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.pool.Close()
	err := a.fail(`{ customers { count } }`, nil)
	wantError(t, err, "INTERNAL", "unknown_error", "internal system error")
	for _, leak := range []string{"sql", "database", "closed", "pq"} {
		if strings.Contains(strings.ToLower(err.Message), leak) {
			t.Errorf("message %q leaks %q", err.Message, leak)
		}
	}
}
