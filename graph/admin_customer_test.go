package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"customerservice/db"
)

type customerOut struct {
	ID          string         `json:"id"`
	Email       string         `json:"email"`
	FirstName   *string        `json:"first_name"`
	LastName    *string        `json:"last_name"`
	Phone       *string        `json:"phone"`
	CompanyName *string        `json:"company_name"`
	HasAccount  bool           `json:"has_account"`
	Metadata    map[string]any `json:"metadata"`
	CreatedBy   *string        `json:"created_by"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
	DeletedAt   *time.Time     `json:"deleted_at"`
	Groups      []struct {
		Name string `json:"name"`
	} `json:"groups"`
	Addresses []struct {
		ID string `json:"id"`
	} `json:"addresses"`
}

const customerFields = `id email first_name last_name phone company_name has_account metadata created_by created_at updated_at deleted_at groups { name } addresses { id }`

func (a *api) createCustomer(input map[string]any) customerOut {
	a.tb.Helper()
	var got struct {
		CreateCustomer customerOut `json:"create_customer"`
	}
	a.query(`mutation ($input: CreateCustomerInput!) { create_customer(input: $input) { `+customerFields+` } }`, map[string]any{"input": input}, &got)
	return got.CreateCustomer
}

func TestCreateCustomer(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.createCustomer(map[string]any{
		"email": "  Jane.Doe@Example.COM ", "first_name": " Jane ", "last_name": "Doe", "phone": "+1 (555) 010-9999",
		"company_name": "Acme", "metadata": map[string]any{"source": "import", "tier": 2},
	})
	if !strings.HasPrefix(c.ID, "cus_") || len(c.ID) != len("cus_")+26 {
		t.Errorf("id = %q, want cus_ and a ULID", c.ID)
	}
	if c.Email != "jane.doe@example.com" || *c.FirstName != "Jane" || *c.LastName != "Doe" || *c.Phone != "+1 (555) 010-9999" || *c.CompanyName != "Acme" {
		t.Errorf("customer = %+v", c)
	}
	if c.HasAccount || c.DeletedAt != nil || len(c.Groups) != 0 || len(c.Addresses) != 0 {
		t.Errorf("a new admin-created customer is a guest with nothing else: %+v", c)
	}
	if c.CreatedBy == nil || *c.CreatedBy != a.adminID {
		t.Errorf("created_by = %v, want the admin user %s", c.CreatedBy, a.adminID)
	}
	if c.Metadata["source"] != "import" || c.Metadata["tier"] != float64(2) {
		t.Errorf("metadata = %v", c.Metadata)
	}
	if time.Since(c.CreatedAt) > time.Minute || !c.UpdatedAt.Equal(c.CreatedAt) {
		t.Errorf("created_at %v, updated_at %v", c.CreatedAt, c.UpdatedAt)
	}

	// Blank optional fields are stored as null.
	c = a.createCustomer(map[string]any{"email": "blank@example.com", "first_name": "   ", "last_name": nil})
	if c.FirstName != nil || c.LastName != nil || c.Metadata != nil {
		t.Errorf("blank fields: %+v", c)
	}
}

func TestCreateCustomerRejectsBadInput(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	big := map[string]any{"blob": strings.Repeat("x", 16<<10)}
	tests := []struct {
		name  string
		input map[string]any
		field string
	}{
		{"empty email", map[string]any{"email": ""}, "input.email"},
		{"blank email", map[string]any{"email": "   "}, "input.email"},
		{"no at", map[string]any{"email": "jane.example.com"}, "input.email"},
		{"no domain dot", map[string]any{"email": "jane@localhost"}, "input.email"},
		{"display name", map[string]any{"email": "Jane <jane@example.com>"}, "input.email"},
		{"two ats", map[string]any{"email": "jane@doe@example.com"}, "input.email"},
		{"space inside", map[string]any{"email": "ja ne@example.com"}, "input.email"},
		{"bad domain label", map[string]any{"email": "jane@-example.com"}, "input.email"},
		{"too long email", map[string]any{"email": strings.Repeat("a", 245) + "@example.com"}, "input.email"},
		{"long first name", map[string]any{"email": "a@example.com", "first_name": strings.Repeat("é", 256)}, "input.first_name"},
		{"long company", map[string]any{"email": "a@example.com", "company_name": strings.Repeat("c", 300)}, "input.company_name"},
		{"control character", map[string]any{"email": "a@example.com", "last_name": "Doe\x07"}, "input.last_name"},
		{"letters in phone", map[string]any{"email": "a@example.com", "phone": "call me"}, "input.phone"},
		{"phone without digits", map[string]any{"email": "a@example.com", "phone": "+()"}, "input.phone"},
		{"long phone", map[string]any{"email": "a@example.com", "phone": strings.Repeat("1", 51)}, "input.phone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.fail(`mutation ($input: CreateCustomerInput!) { create_customer(input: $input) { id } }`, map[string]any{"input": tt.input})
			wantError(t, err, "INVALID_DATA", "invalid_data", "")
			if err.Extensions["field"] != tt.field {
				t.Errorf("field = %v, want %s (%q)", err.Extensions["field"], tt.field, err.Message)
			}
		})
	}
	// PostgreSQL cannot store NUL characters: they are refused wherever they
	// come.
	for name, input := range map[string]any{
		"NUL in a name":     map[string]any{"email": "a@example.com", "first_name": "A\x00"},
		"NUL in metadata":   map[string]any{"email": "a@example.com", "metadata": map[string]any{"k": "v\x00"}},
		"NUL in a meta key": map[string]any{"email": "a@example.com", "metadata": map[string]any{"k\x00": "v"}},
	} {
		t.Run(name, func(t *testing.T) {
			err := a.fail(`mutation ($input: CreateCustomerInput!) { create_customer(input: $input) { id } }`, map[string]any{"input": input})
			wantError(t, err, "INVALID_DATA", "invalid_data", "")
		})
	}
	for _, q := range []string{`{ customer(id: "cus_\u0000") { id } }`, `{ customers(filter: {q: "\u0000"}) { count } }`, `{ customers(filter: {email: ["a\u0000@b.c"]}) { count } }`} {
		wantError(t, a.fail(q, nil), "INVALID_DATA", "invalid_data", "")
	}
	for name, metadata := range map[string]any{"array": []any{1, 2}, "string": "x", "number": 3, "over 16 KiB": big} {
		t.Run("metadata "+name, func(t *testing.T) {
			err := a.fail(`mutation ($input: CreateCustomerInput!) { create_customer(input: $input) { id } }`,
				map[string]any{"input": map[string]any{"email": "m@example.com", "metadata": metadata}})
			wantError(t, err, "INVALID_DATA", "invalid_data", "")
		})
	}
	var n int
	if err := a.pool.Get(&n, `SELECT count(*) FROM customer`); err != nil || n != 0 {
		t.Errorf("customers after bad input: %d (%v), want 0", n, err)
	}
}

func TestCustomerEmailIsUniquePerAccountKind(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	guest := a.createCustomer(map[string]any{"email": "sam@example.com"})
	err := a.fail(`mutation { create_customer(input: {email: "SAM@Example.com"}) { id } }`, nil)
	wantError(t, err, "DUPLICATE_ERROR", "duplicate_error", "Customer with email: sam@example.com already exists")
	if err.Extensions["field"] != "input.email" {
		t.Errorf("field = %v, want input.email", err.Extensions["field"])
	}

	// A registered customer with the same email coexists with the guest.
	registered, cerr := db.CreateCustomer(context.Background(), a.pool, db.NewCustomer{
		CustomerFields: db.CustomerFields{Email: db.To("Sam@example.com")}, HasAccount: true})
	if cerr != nil {
		t.Fatalf("registered customer with a guest's email: %v", cerr)
	}
	if registered.ID == guest.ID || !registered.HasAccount {
		t.Errorf("registered = %+v", registered)
	}
	_, cerr = db.CreateCustomer(context.Background(), a.pool, db.NewCustomer{
		CustomerFields: db.CustomerFields{Email: db.To("sam@EXAMPLE.com")}, HasAccount: true})
	if cerr == nil || !strings.Contains(cerr.Error(), "already exists") {
		t.Errorf("a second registered customer: %v, want a duplicate error", cerr)
	}
}

func TestConcurrentCreatesOfOneEmail(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const n = 50
	results := concurrently(n, func(i int) response {
		// Case variants of one address: Race@example.com, rAce@..., ...
		email := []rune("race@example.com")
		email[i%4] = []rune(strings.ToUpper(string(email[i%4])))[0]
		return a.do(`mutation ($e: String!) { create_customer(input: {email: $e}) { id } }`, map[string]any{"e": strings.Repeat(" ", i%3) + string(email)})
	})
	created, duplicates := outcomes(t, results, "DUPLICATE_ERROR", "")
	if created != 1 || duplicates != n-1 {
		t.Errorf("created %d, duplicates %d; want 1 and %d", created, duplicates, n-1)
	}
	var rows int
	if err := a.pool.Get(&rows, `SELECT count(*) FROM customer WHERE email = 'race@example.com'`); err != nil || rows != 1 {
		t.Errorf("rows = %d (%v), want 1", rows, err)
	}
}

func TestUpdateCustomer(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.createCustomer(map[string]any{"email": "old@example.com", "first_name": "Old", "phone": "123", "company_name": "Acme", "metadata": map[string]any{"a": 1}})
	a.createCustomer(map[string]any{"email": "taken@example.com"})
	const update = `mutation ($id: ID!, $input: UpdateCustomerInput!) { update_customer(id: $id, input: $input) { ` + customerFields + ` } }`
	var got struct {
		UpdateCustomer customerOut `json:"update_customer"`
	}
	time.Sleep(5 * time.Millisecond)
	a.query(update, map[string]any{"id": c.ID, "input": map[string]any{"email": "New@Example.com", "first_name": "New", "phone": nil}}, &got)
	u := got.UpdateCustomer
	if u.Email != "new@example.com" || *u.FirstName != "New" || u.Phone != nil || *u.CompanyName != "Acme" || u.Metadata["a"] != float64(1) {
		t.Errorf("updated = %+v; want new email and name, no phone, company and metadata kept", u)
	}
	if !u.UpdatedAt.After(c.UpdatedAt) || !u.CreatedAt.Equal(c.CreatedAt) {
		t.Errorf("updated_at %v should pass %v; created_at stays", u.UpdatedAt, c.UpdatedAt)
	}
	a.query(update, map[string]any{"id": c.ID, "input": map[string]any{"metadata": nil}}, &got)
	if got.UpdateCustomer.Metadata != nil || got.UpdateCustomer.Email != "new@example.com" {
		t.Errorf("clearing metadata: %+v", got.UpdateCustomer)
	}

	tests := []struct {
		name, code, field string
		id                string
		input             map[string]any
	}{
		{"taken email", "DUPLICATE_ERROR", "input.email", c.ID, map[string]any{"email": "TAKEN@example.com"}},
		{"null email", "INVALID_DATA", "input.email", c.ID, map[string]any{"email": nil}},
		{"bad email", "INVALID_DATA", "input.email", c.ID, map[string]any{"email": "nope"}},
		{"long name", "INVALID_DATA", "input.last_name", c.ID, map[string]any{"last_name": strings.Repeat("x", 256)}},
		{"unknown id", "NOT_FOUND", "id", "cus_01ARZ3NDEKTSV4RRFFQ69G5FAV", map[string]any{"first_name": "X"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.fail(update, map[string]any{"id": tt.id, "input": tt.input})
			if err.Extensions["code"] != tt.code || err.Extensions["field"] != tt.field {
				t.Errorf("error = %+v, want %s on %s", err, tt.code, tt.field)
			}
		})
	}
	var email string
	if err := a.pool.Get(&email, `SELECT email FROM customer WHERE id = $1`, c.ID); err != nil || email != "new@example.com" {
		t.Errorf("email after failed updates = %q (%v)", email, err)
	}
}

func TestDeleteCustomer(t *testing.T) {
	t.Parallel()
	a := seeded(t, 3, time.Now())
	id := a.customerID("customer2@example.com")
	const del = `mutation ($id: ID!) { delete_customer(id: $id) { id object deleted } }`
	var got struct {
		DeleteCustomer struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Deleted bool   `json:"deleted"`
		} `json:"delete_customer"`
	}
	a.query(del, map[string]any{"id": id}, &got)
	if got.DeleteCustomer.ID != id || got.DeleteCustomer.Object != "customer" || !got.DeleteCustomer.Deleted {
		t.Errorf("delete result = %+v", got.DeleteCustomer)
	}

	// Gone from lookups and lists, there with with_deleted.
	wantError(t, a.fail(`query ($id: ID!) { customer(id: $id) { id } }`, map[string]any{"id": id}), "NOT_FOUND", "not_found", "")
	var list struct {
		Customers struct {
			Items []customerOut `json:"items"`
		} `json:"customers"`
	}
	a.query(`{ customers(with_deleted: true, filter: {email: ["customer2@example.com"]}) { items { `+customerFields+` } } }`, nil, &list)
	if len(list.Customers.Items) != 1 {
		t.Fatalf("with_deleted: %d customers, want 1", len(list.Customers.Items))
	}
	c := list.Customers.Items[0]
	if c.DeletedAt == nil || len(c.Addresses) != 0 || len(c.Groups) != 0 {
		t.Errorf("deleted customer = %+v; want deleted_at set, addresses and groups gone", c)
	}

	// Its orders still point at it.
	var orders struct {
		Orders struct {
			Items []struct {
				Customer customerOut `json:"customer"`
			} `json:"items"`
		} `json:"orders"`
	}
	a.query(`query ($id: ID!) { orders(filter: {customer_id: [$id]}) { items { customer { id deleted_at } } } }`, map[string]any{"id": id}, &orders)
	if len(orders.Orders.Items) != 4 || orders.Orders.Items[0].Customer.ID != id || orders.Orders.Items[0].Customer.DeletedAt == nil {
		t.Errorf("orders of the deleted customer = %+v", orders.Orders.Items)
	}

	// The email is free again, and deleting twice is NOT_FOUND.
	again := a.createCustomer(map[string]any{"email": "customer2@example.com"})
	if again.ID == id {
		t.Error("the new customer reuses the deleted one's id")
	}
	wantError(t, a.fail(del, map[string]any{"id": id}), "NOT_FOUND", "not_found", fmt.Sprintf("Customer with id: %s was not found", id))
	wantError(t, a.fail(`mutation ($id: ID!, $input: UpdateCustomerInput!) { update_customer(id: $id, input: $input) { id } }`,
		map[string]any{"id": id, "input": map[string]any{"first_name": "Ghost"}}), "NOT_FOUND", "not_found", "")
}
