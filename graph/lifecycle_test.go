package graph_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"customerservice/graph"
	"customerservice/lifecycle"
)

// The account lifecycle end to end, through the HTTP API: merges and their
// previews, the GDPR export and erasure, account deletion and its job.

const mergeFieldsQ = `fields { field source target kept kept_from conflict }`

const previewQ = `query ($s: ID!, $t: ID!, $o: CustomerMergeChoices, $g: MergeSide) {
	customer_merge_preview(source_id: $s, target_id: $t, overrides: $o, give_up_identity: $g) {
		source_id target_id has_account identity_conflict kept_identity ` + mergeFieldsQ + `
		orders { count ids } addresses { count ids } groups { count ids } transfers { count ids }
	}
}`

const mergeQ = `mutation ($s: ID!, $t: ID!, $o: CustomerMergeChoices, $g: MergeSide) {
	merge_customers(source_id: $s, target_id: $t, overrides: $o, give_up_identity: $g) {
		id source_id target_id identity_given_up kept_identity created_at ` + mergeFieldsQ + `
		orders { count ids } addresses { count ids } groups { count ids } transfers { count ids }
		customer { id email first_name last_name phone company_name has_account metadata deleted_at
			groups { id name } addresses { id is_default_billing is_default_shipping city }
			orders(limit: 50) { count items { id total customer_id } } }
	}
}`

type mergeField struct {
	Field    string  `json:"field"`
	Source   *string `json:"source"`
	Target   *string `json:"target"`
	Kept     *string `json:"kept"`
	KeptFrom string  `json:"kept_from"`
	Conflict bool    `json:"conflict"`
}

type mergeRows struct {
	Count int      `json:"count"`
	IDs   []string `json:"ids"`
}

type mergePreview struct {
	SourceID         string       `json:"source_id"`
	TargetID         string       `json:"target_id"`
	HasAccount       bool         `json:"has_account"`
	IdentityConflict bool         `json:"identity_conflict"`
	KeptIdentity     *string      `json:"kept_identity"`
	Fields           []mergeField `json:"fields"`
	Orders           mergeRows    `json:"orders"`
	Addresses        mergeRows    `json:"addresses"`
	Groups           mergeRows    `json:"groups"`
	Transfers        mergeRows    `json:"transfers"`
}

type mergedCustomer struct {
	ID          string         `json:"id"`
	Email       string         `json:"email"`
	FirstName   *string        `json:"first_name"`
	LastName    *string        `json:"last_name"`
	Phone       *string        `json:"phone"`
	CompanyName *string        `json:"company_name"`
	HasAccount  bool           `json:"has_account"`
	Metadata    map[string]any `json:"metadata"`
	Groups      []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"groups"`
	Addresses []struct {
		ID                string `json:"id"`
		IsDefaultBilling  bool   `json:"is_default_billing"`
		IsDefaultShipping bool   `json:"is_default_shipping"`
		City              string `json:"city"`
	} `json:"addresses"`
	Orders struct {
		Count int `json:"count"`
		Items []struct {
			ID         string `json:"id"`
			Total      int    `json:"total"`
			CustomerID string `json:"customer_id"`
		} `json:"items"`
	} `json:"orders"`
}

type mergeOut struct {
	mergePreview
	ID              string         `json:"id"`
	IdentityGivenUp *string        `json:"identity_given_up"`
	Customer        mergedCustomer `json:"customer"`
}

func mergeVars(source, target string, overrides map[string]any, giveUp string) map[string]any {
	v := map[string]any{"s": source, "t": target}
	if overrides != nil {
		v["o"] = overrides
	}
	if giveUp != "" {
		v["g"] = giveUp
	}
	return v
}

func (a *api) preview(source, target string, overrides map[string]any, giveUp string) mergePreview {
	a.tb.Helper()
	var got struct {
		P mergePreview `json:"customer_merge_preview"`
	}
	a.query(previewQ, mergeVars(source, target, overrides, giveUp), &got)
	return got.P
}

func (a *api) merge(source, target string, overrides map[string]any, giveUp string) mergeOut {
	a.tb.Helper()
	var got struct {
		M mergeOut `json:"merge_customers"`
	}
	a.query(mergeQ, mergeVars(source, target, overrides, giveUp), &got)
	return got.M
}

func field(fields []mergeField, name string) mergeField {
	for _, f := range fields {
		if f.Field == name {
			return f
		}
	}
	return mergeField{}
}

// withDeleted reads a customer whether or not it is deleted.
func (a *api) withDeleted(id string) customerOut {
	a.tb.Helper()
	var got struct {
		Customers struct{ Items []customerOut }
	}
	a.query(`query ($id: ID!) { customers(filter: {id: [$id]}, with_deleted: true) { items { `+customerFields+` } } }`, map[string]any{"id": id}, &got)
	if len(got.Customers.Items) != 1 {
		a.tb.Fatalf("customer %s: %+v", id, got.Customers.Items)
	}
	return got.Customers.Items[0]
}

// TestMergeCustomers previews and merges a guest, with its orders,
// addresses, groups and a pending transfer, into a registered customer,
// and checks the merged customer, the deleted source, the record's event
// and what the preview promised.
func TestMergeCustomers(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	targetToken, targetID := a.signUp("sam@example.com", "sam's password")
	a.as(targetToken).query(`mutation { update_me(input: {first_name: "Sam", last_name: "Smith", metadata: {tier: "gold"}}) { id } }`, nil, &struct{}{})
	home := a.createAddress(targetID, map[string]any{"address_1": "1 Home St", "city": "Springfield", "is_default_billing": true})

	// The guest: two guest orders, names, two addresses (one the default
	// of both kinds), two groups, one shared with the target.
	o1 := a.as("").placeOrder(orderInput("sam.guest@example.com", 1000))
	o2 := a.as("").placeOrder(orderInput("sam.guest@example.com", 250, 100))
	sourceID := o1.CustomerID
	a.query(`mutation ($id: ID!) { update_customer(id: $id, input: {first_name: "Samuel", phone: "+1 555 0199", company_name: "Acme"}) { id } }`,
		map[string]any{"id": sourceID}, &struct{}{})
	shop := a.createAddress(sourceID, map[string]any{"address_1": "2 Shop Rd", "city": "Shelbyville", "is_default_billing": true, "is_default_shipping": true})
	other := a.createAddress(sourceID, map[string]any{"address_1": "3 Other Ave", "city": "Ogdenville"})
	vip, news := a.createGroup("VIP"), a.createGroup("Newsletter")
	for _, g := range []string{vip.ID, news.ID} {
		a.query(`mutation ($g: ID!, $ids: [ID!]!) { add_customers_to_group(group_id: $g, customer_ids: $ids) { id } }`,
			map[string]any{"g": g, "ids": []string{sourceID}}, &struct{}{})
	}
	a.query(`mutation ($g: ID!, $ids: [ID!]!) { add_customers_to_group(group_id: $g, customer_ids: $ids) { id } }`,
		map[string]any{"g": vip.ID, "ids": []string{targetID}}, &struct{}{})
	// Someone else asked for one of the guest's orders: the merge ends it.
	askerToken, _ := a.signUp("asker@example.com", "asker's password")
	a.as(askerToken).query(`mutation ($id: ID!) { request_order_transfer(order_id: $id) { order_id } }`, map[string]any{"id": o2.ID}, &struct{}{})
	transferToken := a.transferToken(o2.ID)

	p := a.preview(sourceID, targetID, nil, "")
	if p.SourceID != sourceID || p.TargetID != targetID || !p.HasAccount || p.IdentityConflict || str(p.KeptIdentity) != "TARGET" {
		t.Errorf("preview: %+v", p)
	}
	if f := field(p.Fields, "email"); !f.Conflict || f.KeptFrom != "TARGET" || str(f.Kept) != "sam@example.com" || str(f.Source) != "sam.guest@example.com" {
		t.Errorf("email: %+v", f)
	}
	if f := field(p.Fields, "first_name"); !f.Conflict || f.KeptFrom != "TARGET" || str(f.Kept) != "Sam" {
		t.Errorf("first_name: %+v", f)
	}
	if f := field(p.Fields, "last_name"); f.Conflict || f.KeptFrom != "TARGET" || str(f.Kept) != "Smith" || f.Source != nil {
		t.Errorf("last_name: %+v", f)
	}
	if f := field(p.Fields, "phone"); f.Conflict || f.KeptFrom != "SOURCE" || str(f.Kept) != "+1 555 0199" {
		t.Errorf("phone, only the source's: %+v", f)
	}
	if f := field(p.Fields, "metadata"); f.Conflict || str(f.Kept) != `{"tier":"gold"}` {
		t.Errorf("metadata: %+v", f)
	}
	if p.Orders.Count != 2 || !slices.Contains(p.Orders.IDs, o1.ID) || !slices.Contains(p.Orders.IDs, o2.ID) {
		t.Errorf("orders: %+v", p.Orders)
	}
	if p.Addresses.Count != 2 || p.Groups.Count != 1 || p.Groups.IDs[0] != news.ID || p.Transfers.Count != 1 {
		t.Errorf("addresses %+v, groups %+v, transfers %+v", p.Addresses, p.Groups, p.Transfers)
	}
	// A choice changes the preview, and nothing else.
	p2 := a.preview(sourceID, targetID, map[string]any{"first_name": "SOURCE"}, "")
	if f := field(p2.Fields, "first_name"); f.KeptFrom != "SOURCE" || str(f.Kept) != "Samuel" {
		t.Errorf("first_name chosen: %+v", f)
	}
	if c := a.withDeleted(sourceID); c.DeletedAt != nil || str(c.FirstName) != "Samuel" {
		t.Errorf("a preview changed the source: %+v", c)
	}

	mark := a.lastEventID()
	m := a.merge(sourceID, targetID, map[string]any{"first_name": "SOURCE"}, "")
	if !strings.HasPrefix(m.ID, "cmerge_") || m.Customer.ID != targetID || str(m.Customer.FirstName) != "Samuel" ||
		str(m.Customer.LastName) != "Smith" || str(m.Customer.Phone) != "+1 555 0199" || str(m.Customer.CompanyName) != "Acme" ||
		m.Customer.Email != "sam@example.com" || !m.Customer.HasAccount || m.Customer.Metadata["tier"] != "gold" {
		t.Errorf("merged customer: %+v", m.Customer)
	}
	if m.Customer.Orders.Count != 2 || m.Orders.Count != 2 || m.Transfers.Count != 1 || m.Groups.Count != 1 || m.Addresses.Count != 2 {
		t.Errorf("merge: orders %+v (customer %d), transfers %+v, groups %+v, addresses %+v", m.Orders, m.Customer.Orders.Count, m.Transfers, m.Groups, m.Addresses)
	}
	var groups []string
	for _, g := range m.Customer.Groups {
		groups = append(groups, g.ID)
	}
	slices.Sort(groups)
	want := []string{vip.ID, news.ID}
	slices.Sort(want)
	if !slices.Equal(groups, want) {
		t.Errorf("groups %v, want %v once each", groups, want)
	}
	// The target's default billing address stands; the moved one stays
	// the default shipping address, which the target had not.
	defaults := map[string][2]bool{}
	for _, ad := range m.Customer.Addresses {
		defaults[ad.ID] = [2]bool{ad.IsDefaultBilling, ad.IsDefaultShipping}
	}
	if len(defaults) != 3 || defaults[home.ID] != [2]bool{true, false} || defaults[shop.ID] != [2]bool{false, true} || defaults[other.ID] != [2]bool{false, false} {
		t.Errorf("addresses after the merge: %v", defaults)
	}
	if c := a.withDeleted(sourceID); c.DeletedAt == nil || len(c.Addresses) != 0 || len(c.Groups) != 0 {
		t.Errorf("the source after the merge: %+v", c)
	}
	wantError(t, a.fail(`query ($id: ID!) { customer(id: $id) { id } }`, map[string]any{"id": sourceID}), "NOT_FOUND", "not_found", "")
	// The transfer the merge canceled no longer works.
	wantError(t, a.as(askerToken).fail(`mutation ($id: ID!, $t: String!) { accept_order_transfer(order_id: $id, token: $t) { id } }`,
		map[string]any{"id": o2.ID, "t": transferToken}), "NOT_ALLOWED", "not_allowed", "Invalid token.")
	// The target's token still works, and sees the orders.
	var mine struct {
		Me struct {
			Orders struct{ Count int }
		}
	}
	a.as(targetToken).query(`{ me { orders { count } } }`, nil, &mine)
	if mine.Me.Orders.Count != 2 {
		t.Errorf("the target's own view: %d orders", mine.Me.Orders.Count)
	}
	var merged *loggedEvent
	for _, e := range a.eventsSince(mark) {
		if e.Type == "customer.merged" {
			merged = &e
		}
	}
	if merged == nil || str(merged.CustomerID) != targetID || !strings.Contains(string(merged.Data["source_id"]), sourceID) ||
		!strings.Contains(string(merged.Data["merge_id"]), m.ID) || merged.ActorType != "USER" {
		t.Errorf("customer.merged: %+v", merged)
	}

	// Merging again, or into the deleted source, is refused.
	wantError(t, a.fail(mergeQ, mergeVars(sourceID, targetID, nil, "")), "NOT_ALLOWED", "not_allowed", "")
	wantError(t, a.fail(mergeQ, mergeVars(targetID, sourceID, nil, "")), "NOT_ALLOWED", "not_allowed", "")
}

// TestMergeRefusals: what Medusa's rules forbid, and the choice that lets
// two registered customers merge.
func TestMergeRefusals(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	aliceToken, alice := a.signUp("alice@example.com", "alice's password")
	bobToken, bob := a.signUp("bob@example.com", "bob's password")
	guest := a.createCustomer(map[string]any{"email": "guest@example.com"})

	e := a.fail(mergeQ, mergeVars(alice, alice, nil, ""))
	wantError(t, e, "INVALID_DATA", "invalid_data", "A customer cannot be merged with itself")
	if e.Extensions["field"] != "target_id" {
		t.Errorf("field: %v", e.Extensions)
	}
	e = a.fail(mergeQ, mergeVars("cus_01ARZ3NDEKTSV4RRFFQ69G5FAV", alice, nil, ""))
	wantError(t, e, "NOT_FOUND", "not_found", "")
	if e.Extensions["field"] != "source_id" {
		t.Errorf("field: %v", e.Extensions)
	}
	wantError(t, a.fail(previewQ, mergeVars(alice, "cus_01ARZ3NDEKTSV4RRFFQ69G5FAV", nil, "")), "NOT_FOUND", "not_found", "")
	wantError(t, a.fail(mergeQ, map[string]any{"s": alice, "t": bob, "o": map[string]any{"email": "BOTH"}}), "INVALID_DATA", "", "")
	wantError(t, a.fail(mergeQ, map[string]any{"s": alice, "t": bob, "o": map[string]any{"password": "SOURCE"}}), "INVALID_DATA", "", "")

	// Two registered customers with identities: the preview shows it, the
	// merge refuses it, and changes nothing.
	p := a.preview(alice, bob, nil, "")
	if !p.IdentityConflict || p.KeptIdentity != nil {
		t.Errorf("preview of a conflict: %+v", p)
	}
	wantError(t, a.fail(mergeQ, mergeVars(alice, bob, nil, "")), "NOT_ALLOWED", "not_allowed", "")
	if c := a.withDeleted(alice); c.DeletedAt != nil {
		t.Errorf("a refused merge deleted the source")
	}
	// A chosen email must be the one the merged customer logs in with.
	wantError(t, a.fail(mergeQ, map[string]any{"s": guest.ID, "t": alice, "o": map[string]any{"email": "SOURCE"}}), "INVALID_DATA", "invalid_data", "")
	// Giving up the side without an identity is not a choice.
	wantError(t, a.fail(mergeQ, mergeVars(guest.ID, alice, nil, "SOURCE")), "INVALID_DATA", "invalid_data", "")

	// A deleted target.
	gone := a.createCustomer(map[string]any{"email": "gone@example.com"})
	a.query(`mutation ($id: ID!) { delete_customer(id: $id) { id } }`, map[string]any{"id": gone.ID}, &struct{}{})
	e = a.fail(mergeQ, mergeVars(guest.ID, gone.ID, nil, ""))
	wantError(t, e, "NOT_ALLOWED", "not_allowed", "")
	if e.Extensions["field"] != "target_id" {
		t.Errorf("field: %v", e.Extensions)
	}

	// Alice gives up her identity: Bob keeps his, Alice's token ends, and
	// Alice can log in again to an identity without a customer.
	m := a.merge(alice, bob, nil, "SOURCE")
	if str(m.IdentityGivenUp) != "SOURCE" || str(m.KeptIdentity) != "TARGET" || m.Customer.Email != "bob@example.com" {
		t.Errorf("merge giving up the source's identity: %+v", m)
	}
	wantError(t, a.as(aliceToken).fail(`{ me { id } }`, nil), "UNAUTHORIZED", "", revoked)
	a.as(bobToken).query(`{ me { id } }`, nil, &struct{}{})
	aliceAgain := a.login("CUSTOMER", "alice@example.com", "alice's password")
	wantError(t, a.as(aliceAgain).fail(`{ me { id } }`, nil), "NOT_ALLOWED", "", "")

	// Carol and Dan: Dan gives up his identity, and Carol's logs in to the
	// merged customer, Dan's, with her email.
	carolToken, carol := a.signUp("carol@example.com", "carol's password")
	danToken, dan := a.signUp("dan@example.com", "dan's password")
	m = a.merge(carol, dan, nil, "TARGET")
	if str(m.KeptIdentity) != "SOURCE" || m.Customer.ID != dan || m.Customer.Email != "carol@example.com" || !m.Customer.HasAccount {
		t.Errorf("merge giving up the target's identity: %+v", m)
	}
	wantError(t, a.as(carolToken).fail(`{ me { id } }`, nil), "UNAUTHORIZED", "", revoked)
	wantError(t, a.as(danToken).fail(`{ me { id } }`, nil), "UNAUTHORIZED", "", revoked)
	var me struct{ Me struct{ ID string } }
	a.as(a.login("CUSTOMER", "carol@example.com", "carol's password")).query(`{ me { id } }`, nil, &me)
	if me.Me.ID != dan {
		t.Errorf("carol logs in to %s, want %s", me.Me.ID, dan)
	}

	// A customer whose account deletion is open is not merged.
	erinToken, erin := a.signUp("erin@example.com", "erin's password")
	a.as(erinToken).query(`mutation { request_account_deletion { id } }`, nil, &struct{}{})
	wantError(t, a.fail(mergeQ, mergeVars(guest.ID, erin, nil, "")), "CONFLICT", "conflict", "")
}

// TestLifecycleAccess is the authorization matrix of the lifecycle's
// operations: anonymous, a customer, another customer, an admin.
func TestLifecycleAccess(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	aliceToken, alice := a.signUp("alice@example.com", "alice's password")
	bobToken, bob := a.signUp("bob@example.com", "bob's password")
	a.as(bobToken).query(`mutation { update_me(input: {first_name: "Bobby"}) { id } }`, nil, &struct{}{})
	vars := map[string]any{"s": alice, "t": bob, "id": alice}
	admin := []string{
		`query ($s: ID!, $t: ID!) { customer_merge_preview(source_id: $s, target_id: $t) { source_id } }`,
		`mutation ($s: ID!, $t: ID!) { merge_customers(source_id: $s, target_id: $t) { id } }`,
		`query ($id: ID!) { export_customer_data(id: $id) }`,
		`mutation ($id: ID!) { anonymize_customer(id: $id) { customer_id } }`,
	}
	storefront := []string{
		`{ export_my_data }`,
		`{ my_account_deletion { id } }`,
		`mutation { request_account_deletion { id } }`,
		`mutation { cancel_account_deletion { id } }`,
	}
	for _, q := range admin {
		wantError(t, a.as("").fail(q, vars), "UNAUTHORIZED", "unauthorized", "")
		wantError(t, a.as(aliceToken).fail(q, vars), "NOT_ALLOWED", "not_allowed", "")
		wantError(t, a.as(bobToken).fail(q, vars), "NOT_ALLOWED", "not_allowed", "")
	}
	for _, q := range storefront {
		wantError(t, a.as("").fail(q, nil), "UNAUTHORIZED", "unauthorized", "")
		wantError(t, a.fail(q, nil), "NOT_ALLOWED", "not_allowed", "")
	}
	// A customer's export is its own: Alice's holds nothing of Bob's.
	var mine struct {
		Export map[string]any `json:"export_my_data"`
	}
	a.as(aliceToken).query(`{ export_my_data }`, nil, &mine)
	doc, _ := json.Marshal(mine.Export)
	if !strings.Contains(string(doc), "alice@example.com") || strings.Contains(string(doc), "bob@example.com") || strings.Contains(string(doc), "Bobby") {
		t.Errorf("alice's export: %s", doc)
	}
	// Bob cannot cancel or read Alice's deletion: each acts on its own.
	a.as(aliceToken).query(`mutation { request_account_deletion { id } }`, nil, &struct{}{})
	wantError(t, a.as(bobToken).fail(`mutation { cancel_account_deletion { id } }`, nil), "NOT_FOUND", "not_found", "No account deletion is pending")
	var bobs struct {
		D *struct{ ID string } `json:"my_account_deletion"`
	}
	a.as(bobToken).query(`{ my_account_deletion { id } }`, nil, &bobs)
	if bobs.D != nil {
		t.Errorf("bob sees a deletion: %+v", bobs.D)
	}
	// confirm_account_deletion needs no sign-in, only the token.
	wantError(t, a.as("").fail(`mutation { confirm_account_deletion(token: "nope") { id } }`, nil), "NOT_ALLOWED", "not_allowed", "Invalid token.")
}

// TestConcurrentMerges releases merges of one customer together: into
// different targets, and two customers into each other. One wins each
// time; the others are refused, and every order ends on the winner.
func TestConcurrentMerges(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	src := a.as("").placeOrder(orderInput("many@example.com", 100)).CustomerID
	for range 3 {
		a.as("").placeOrder(orderInput("many@example.com", 100))
	}
	const n = 6
	targets := make([]string, n)
	for i := range targets {
		targets[i] = a.createCustomer(map[string]any{"email": "target" + string(rune('a'+i)) + "@example.com"}).ID
	}
	results := concurrently(n, func(i int) response { return a.do(mergeQ, mergeVars(src, targets[i], nil, "")) })
	ok, refused := outcomes(t, results, "NOT_ALLOWED", "")
	if ok != 1 || refused != n-1 {
		t.Fatalf("%d merges succeeded and %d were refused, want 1 and %d", ok, refused, n-1)
	}
	winner := ""
	for i, r := range results {
		if len(r.Errors) == 0 {
			winner = targets[i]
		}
	}
	for _, id := range targets {
		var got struct {
			Customer struct{ Orders struct{ Count int } }
		}
		a.query(`query ($id: ID!) { customer(id: $id) { orders { count } } }`, map[string]any{"id": id}, &got)
		if want := map[bool]int{true: 4, false: 0}[id == winner]; got.Customer.Orders.Count != want {
			t.Errorf("%s has %d orders, want %d", id, got.Customer.Orders.Count, want)
		}
	}
	var list struct {
		Orders struct{ Count int }
	}
	a.query(`query ($id: ID!) { orders(filter: {customer_id: [$id]}) { count } }`, map[string]any{"id": src}, &list)
	if list.Orders.Count != 0 {
		t.Errorf("the deleted source keeps %d orders", list.Orders.Count)
	}

	// Two customers merged into each other at once: one way wins.
	x := a.createCustomer(map[string]any{"email": "x@example.com"}).ID
	y := a.createCustomer(map[string]any{"email": "y@example.com"}).ID
	for round := range 3 {
		if round > 0 {
			x = a.createCustomer(map[string]any{"email": "x" + string(rune('0'+round)) + "@example.com"}).ID
			y = a.createCustomer(map[string]any{"email": "y" + string(rune('0'+round)) + "@example.com"}).ID
		}
		pair := [][2]string{{x, y}, {y, x}}
		results = concurrently(2, func(i int) response { return a.do(mergeQ, mergeVars(pair[i][0], pair[i][1], nil, "")) })
		if ok, refused := outcomes(t, results, "NOT_ALLOWED", ""); ok != 1 || refused != 1 {
			t.Errorf("round %d: %d merges succeeded, %d refused", round, ok, refused)
		}
		living := 0
		for _, id := range []string{x, y} {
			if a.withDeleted(id).DeletedAt == nil {
				living++
			}
		}
		if living != 1 {
			t.Errorf("round %d: %d of the two customers live, want 1", round, living)
		}
	}
}

// TestMergeDuringCheckout releases a merge of a customer together with
// orders placed for it, by its token and as a guest: no order lands on the
// deleted source; each is on the target, refused, or (a guest's placed
// after the merge) on a new guest customer.
func TestMergeDuringCheckout(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for round := range 3 {
		suffix := string(rune('a' + round))
		// A registered source ordering with its token.
		srcToken, src := a.signUp("buyer"+suffix+"@example.com", "buyer's password")
		target := a.createCustomer(map[string]any{"email": "keeper" + suffix + "@example.com"}).ID
		// A guest source ordering as a guest.
		guest := a.as("").placeOrder(orderInput("walkin"+suffix+"@example.com", 100)).CustomerID
		guestTarget := a.createCustomer(map[string]any{"email": "keeper2" + suffix + "@example.com"}).ID
		const orders = 6
		results := concurrently(2*orders+2, func(i int) response {
			switch {
			case i == 0:
				return a.do(mergeQ, mergeVars(src, target, nil, ""))
			case i == 1:
				return a.do(mergeQ, mergeVars(guest, guestTarget, nil, ""))
			case i < orders+2:
				return a.as(srcToken).do(placeOrderQ, map[string]any{"input": orderInput("", 100)})
			default:
				return a.as("").do(`mutation ($input: PlaceOrderInput!) { place_order(input: $input) { id customer_id } }`,
					map[string]any{"input": orderInput("walkin"+suffix+"@example.com", 100)})
			}
		})
		if len(results[0].Errors)+len(results[1].Errors) != 0 {
			t.Fatalf("round %d: merges failed: %+v %+v", round, results[0].Errors, results[1].Errors)
		}
		for i, r := range results[2 : orders+2] {
			if len(r.Errors) > 0 {
				if c := r.Errors[0].Extensions["code"]; len(r.Errors) != 1 || (c != "UNAUTHORIZED" && c != "NOT_FOUND") {
					t.Errorf("round %d: order %d: %+v", round, i, r.Errors)
				}
			}
		}
		for i, r := range results[orders+2:] {
			if len(r.Errors) > 0 {
				t.Errorf("round %d: guest order %d: %+v", round, i, r.Errors)
			}
		}
		// The invariant, on every order: none belongs to a deleted customer.
		var all struct {
			Orders struct {
				Items []struct {
					ID       string
					Customer struct {
						ID        string
						DeletedAt *time.Time `json:"deleted_at"`
					}
				}
			}
		}
		a.query(`{ orders(limit: 100) { items { id customer { id deleted_at } } } }`, nil, &all)
		for _, o := range all.Orders.Items {
			if o.Customer.DeletedAt != nil || o.Customer.ID == src || o.Customer.ID == guest {
				t.Errorf("round %d: order %s is on customer %s, deleted at %v", round, o.ID, o.Customer.ID, o.Customer.DeletedAt)
			}
		}
	}
}

// TestExportCustomerData: the admin's export and the customer's own hold
// the profile, identity, addresses, groups, orders with items and events,
// and no secret.
func TestExportCustomerData(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	token, id := a.signUp("ada@example.com", "ada's password")
	shopper := a.as(token)
	shopper.query(`mutation { update_me(input: {first_name: "Ada", phone: "+44 20 7946 0000"}) { id } }`, nil, &struct{}{})
	shopper.query(`mutation { create_my_address(input: {address_1: "1 High St", city: "London", country_code: "gb"}) { id } }`, nil, &struct{}{})
	g := a.createGroup("Engineers")
	a.query(`mutation ($g: ID!, $ids: [ID!]!) { add_customers_to_group(group_id: $g, customer_ids: $ids) { id } }`,
		map[string]any{"g": g.ID, "ids": []string{id}}, &struct{}{})
	order := shopper.placeOrder(orderInput("", 1250, 300))
	resetToken := a.resetToken("ada@example.com")

	var admin struct {
		Export map[string]any `json:"export_customer_data"`
	}
	a.query(`query ($id: ID!) { export_customer_data(id: $id) }`, map[string]any{"id": id}, &admin)
	var own struct {
		Export map[string]any `json:"export_my_data"`
	}
	shopper.query(`{ export_my_data }`, nil, &own)
	doc, _ := json.Marshal(admin.Export)
	for _, secret := range []string{"argon2", "password_hash", "token_hash", "token_generation", resetToken, token[:20]} {
		if strings.Contains(string(doc), secret) {
			t.Errorf("the export holds %q", secret)
		}
	}
	var got struct {
		Format   string `json:"format"`
		Customer struct {
			ID        string `json:"id"`
			Email     string `json:"email"`
			FirstName string `json:"first_name"`
			Phone     string `json:"phone"`
		} `json:"customer"`
		Identity struct {
			Email string `json:"email"`
		} `json:"identity"`
		Addresses []struct {
			City string `json:"city"`
		} `json:"addresses"`
		Groups []struct {
			Name string `json:"name"`
		} `json:"groups"`
		Orders []struct {
			ID    string `json:"id"`
			Total int    `json:"total"`
			Items []struct {
				Title    string `json:"title"`
				Quantity int    `json:"quantity"`
			} `json:"items"`
		} `json:"orders"`
		Events []struct {
			Type string `json:"type"`
		} `json:"events"`
		Notifications []struct {
			Template string         `json:"template"`
			Data     map[string]any `json:"data"`
		} `json:"notifications"`
		Sessions []struct {
			ID        string `json:"id"`
			ActorType string `json:"actor_type"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal(doc, &got); err != nil {
		t.Fatal(err)
	}
	// The session sign-up started, without its refresh tokens.
	if len(got.Sessions) != 1 || !strings.HasPrefix(got.Sessions[0].ID, "sess_") || got.Sessions[0].ActorType != "customer" ||
		strings.Contains(string(doc), "refresh") {
		t.Errorf("the export's sessions: %+v", got.Sessions)
	}
	if got.Format == "" || got.Customer.ID != id || got.Customer.FirstName != "Ada" || got.Customer.Phone != "+44 20 7946 0000" ||
		got.Identity.Email != "ada@example.com" || len(got.Addresses) != 1 || got.Addresses[0].City != "London" ||
		len(got.Groups) != 1 || got.Groups[0].Name != "Engineers" || len(got.Orders) != 1 || got.Orders[0].ID != order.ID ||
		got.Orders[0].Total != 1850 || len(got.Orders[0].Items) != 2 || len(got.Notifications) != 2 {
		t.Errorf("export: %s", doc)
	}
	types := map[string]bool{}
	for _, e := range got.Events {
		types[e.Type] = true
	}
	for _, want := range []string{"auth.identity_registered", "customer.created", "customer.account_created", "customer.updated",
		"customer_address.created", "customer_group.customer_added", "order.placed", "auth.password_reset_requested"} {
		if !types[want] {
			t.Errorf("the export's events lack %s: %v", want, types)
		}
	}
	delete(admin.Export, "exported_at")
	delete(own.Export, "exported_at")
	a1, _ := json.Marshal(admin.Export)
	a2, _ := json.Marshal(own.Export)
	if string(a1) != string(a2) {
		t.Errorf("export_my_data differs from export_customer_data:\n%s\n%s", a1, a2)
	}
	wantError(t, a.fail(`{ export_customer_data(id: "cus_01ARZ3NDEKTSV4RRFFQ69G5FAV") }`, nil), "NOT_FOUND", "not_found", "")
}

// allEvents reads the whole event log through the API, page by page.
func (a *api) allEvents() []loggedEvent {
	a.tb.Helper()
	var out []loggedEvent
	var after *string
	for {
		var page struct {
			CustomerEvents struct {
				Items []loggedEvent
				Next  *string
			} `json:"customer_events"`
		}
		a.query(`query ($after: String) { customer_events(limit: 100, after: $after) { items { `+eventFields+` } next } }`,
			map[string]any{"after": after}, &page)
		out = append(out, page.CustomerEvents.Items...)
		if page.CustomerEvents.Next == nil {
			return out
		}
		after = page.CustomerEvents.Next
	}
}

// TestAnonymizeCustomer erases a customer with a login, an email change,
// addresses, orders (one taken over from its guest self), a pending
// transfer, a customer merged into it and a throttled login, and then
// looks for its personal data everywhere the API reaches: none is left,
// while its orders and totals stay.
func TestAnonymizeCustomer(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	guestOrder := a.as("").placeOrder(map[string]any{"email": "zoe@example.com", "currency_code": "eur",
		"items":            []map[string]any{{"title": "Lamp", "quantity": 1, "unit_price": 4900}},
		"shipping_address": map[string]any{"first_name": "Zoe", "last_name": "Quartermaine", "address_1": "9 Lantern Row", "city": "Utrecht", "country_code": "nl"}})
	token, id := a.signUp("zoe@example.com", "zoe's password")
	zoe := a.as(token)
	zoe.query(`mutation { update_me(input: {first_name: "Zoe", last_name: "Quartermaine", phone: "+31 20 555 0101", company_name: "Zoetrope BV", metadata: {shoe: "42"}}) { id } }`, nil, &struct{}{})
	zoe.query(`mutation { create_my_address(input: {address_1: "9 Lantern Row", city: "Utrecht", country_code: "nl", is_default_billing: true}) { id } }`, nil, &struct{}{})
	zoe.query(`mutation ($id: ID!) { request_order_transfer(order_id: $id) { order_id } }`, map[string]any{"id": guestOrder.ID}, &struct{}{})
	zoe.query(`mutation ($id: ID!, $t: String!) { accept_order_transfer(order_id: $id, token: $t) { id } }`,
		map[string]any{"id": guestOrder.ID, "t": a.transferToken(guestOrder.ID)}, &struct{}{})
	own := zoe.placeOrder(map[string]any{"currency_code": "eur", "items": []map[string]any{{"title": "Shade", "quantity": 2, "unit_price": 1500}},
		"billing_address": map[string]any{"first_name": "Zoe", "address_1": "9 Lantern Row", "city": "Utrecht"}})
	// Zoe asked for someone's guest order; that request is pending.
	other := a.as("").placeOrder(orderInput("zoe.other@example.com", 700))
	a.transferIntervalPasses()
	zoe.query(`mutation ($id: ID!) { request_order_transfer(order_id: $id) { order_id } }`, map[string]any{"id": other.ID}, &struct{}{})
	pendingToken := a.transferToken(other.ID)
	// An old email, changed since: the log holds it in a change.
	a.query(`mutation ($id: ID!) { update_customer(id: $id, input: {email: "zoe.q@example.com"}) { id } }`, map[string]any{"id": id}, &struct{}{})
	a.query(`mutation ($id: ID!) { update_customer(id: $id, input: {email: "zoe@example.com"}) { id } }`, map[string]any{"id": id}, &struct{}{})
	// A second record of Zoe, merged into her account.
	old := a.createCustomer(map[string]any{"email": "zq.old@example.com", "first_name": "Zoë"})
	a.merge(old.ID, id, nil, "")
	a.resetToken("zoe@example.com")
	for range 12 {
		a.as("").from("198.51.100.9:1", "").do(`mutation { login(actor_type: CUSTOMER, email: "zoe@example.com", password: "a guess") { token } }`, nil)
	}

	var erased struct {
		E struct {
			CustomerID      string   `json:"customer_id"`
			Orders          int      `json:"orders"`
			Addresses       int      `json:"addresses"`
			Transfers       int      `json:"transfers"`
			Events          int      `json:"events"`
			IdentityRemoved bool     `json:"identity_removed"`
			MergedCustomers []string `json:"merged_customers"`
		} `json:"anonymize_customer"`
	}
	mark := a.lastEventID()
	a.query(`mutation ($id: ID!) { anonymize_customer(id: $id) { customer_id orders addresses transfers events identity_removed merged_customers } }`,
		map[string]any{"id": id}, &erased)
	e := erased.E
	if e.CustomerID != id || e.Orders != 2 || e.Addresses != 1 || e.Transfers != 1 || e.Events == 0 || !e.IdentityRemoved ||
		len(e.MergedCustomers) != 1 || e.MergedCustomers[0] != old.ID {
		t.Errorf("erasure: %+v", e)
	}
	ev := a.eventsSince(mark)
	wantEvents(t, "anonymize_customer", ev, "order.transfer_canceled", "customer.anonymized", "customer.anonymized")
	for _, x := range ev {
		if x.Type == "customer.anonymized" && x.ActorType != "USER" {
			t.Errorf("audit event: %+v", x)
		}
	}

	// What stays: the orders, their items and totals.
	var orders struct {
		Orders struct {
			Items []struct {
				ID              string
				Email           string
				Total           int
				Items           []struct{ Title string }
				ShippingAddress *struct{ City string } `json:"shipping_address"`
				BillingAddress  *struct{ City string } `json:"billing_address"`
			}
		}
	}
	a.query(`query ($id: ID!) { orders(filter: {customer_id: [$id]}, order: "total") { items { id email total items { title } shipping_address { city } billing_address { city } } } }`,
		map[string]any{"id": id}, &orders)
	if o := orders.Orders.Items; len(o) != 2 || o[0].Total != 3000 || o[1].Total != 4900 || o[0].Items[0].Title != "Shade" ||
		o[0].Email != "anonymized+"+strings.ToLower(id)+"@invalid" || o[0].BillingAddress != nil || o[1].ShippingAddress != nil {
		t.Errorf("orders after the erasure: %+v", o)
	}
	if c := a.withDeleted(id); c.DeletedAt == nil || c.FirstName != nil || c.LastName != nil || c.Phone != nil || c.CompanyName != nil ||
		c.Metadata != nil || c.Email != "anonymized+"+strings.ToLower(id)+"@invalid" || len(c.Addresses) != 0 {
		t.Errorf("the customer after the erasure: %+v", c)
	}
	if c := a.withDeleted(old.ID); c.FirstName != nil || !strings.HasPrefix(c.Email, "anonymized+") {
		t.Errorf("the merged customer after the erasure: %+v", c)
	}
	// The login is gone, and its tokens with it; the pending transfer
	// with its token.
	wantError(t, zoe.fail(`{ me { id } }`, nil), "UNAUTHORIZED", "unauthorized", revoked)
	wantError(t, a.as("").fail(`mutation { login(actor_type: CUSTOMER, email: "zoe@example.com", password: "zoe's password") { token } }`, nil),
		"UNAUTHORIZED", "", "")
	wantError(t, a.as("").fail(`mutation ($id: ID!, $t: String!) { decline_order_transfer(order_id: $id, token: $t) }`,
		map[string]any{"id": other.ID, "t": pendingToken}), "NOT_ALLOWED", "not_allowed", "Invalid token.")
	// The email is free: Zoe can register again, as a new person.
	a.signUp("zoe@example.com", "a new password")

	// Nothing personal is left in the log, the exports or the lists.
	personal := []string{"zoe@example.com", "zoe.q@example.com", "zq.old@example.com", "Quartermaine", "Zoë", "+31 20 555 0101",
		"Zoetrope", "Lantern", "Utrecht", "198.51.100.9"}
	var log strings.Builder
	for _, x := range a.allEvents() {
		if str(x.CustomerID) == id || str(x.CustomerID) == old.ID || str(x.OrderID) == guestOrder.ID || str(x.OrderID) == own.ID ||
			x.Type == "auth.password_reset_requested" || x.Type == "auth.login_throttled" {
			b, _ := json.Marshal(x)
			log.Write(b)
		}
	}
	var export struct {
		Export map[string]any `json:"export_customer_data"`
	}
	a.query(`query ($id: ID!) { export_customer_data(id: $id) }`, map[string]any{"id": id}, &export)
	doc, _ := json.Marshal(export.Export)
	for _, p := range personal {
		if strings.Contains(log.String(), p) {
			t.Errorf("the event log still holds %q", p)
		}
		if strings.Contains(string(doc), p) {
			t.Errorf("the export still holds %q", p)
		}
	}
	if !strings.Contains(log.String(), "[redacted]") {
		t.Errorf("no redacted value in the log: %s", log.String())
	}
	var matches struct {
		Customers struct{ Count int }
	}
	a.query(`{ customers(filter: {q: "Quartermaine"}, with_deleted: true) { count } }`, nil, &matches)
	if matches.Customers.Count != 0 {
		t.Errorf("a search still finds the erased name")
	}

	// Once is enough.
	wantError(t, a.fail(`mutation ($id: ID!) { anonymize_customer(id: $id) { customer_id } }`, map[string]any{"id": id}), "CONFLICT", "conflict", "")
	wantError(t, a.fail(`mutation { anonymize_customer(id: "cus_01ARZ3NDEKTSV4RRFFQ69G5FAV") { customer_id } }`, nil), "NOT_FOUND", "not_found", "")
}

// deletionToken reads the newest account deletion token mailed.
func (a *api) deletionToken() string {
	a.tb.Helper()
	var tok string
	if err := a.pool.Get(&tok, `SELECT data->>'token' FROM notification WHERE template = 'account_deletion' ORDER BY created_at DESC, id DESC LIMIT 1`); err != nil {
		a.tb.Fatal(err)
	}
	return tok
}

type deletionOut struct {
	ID             string     `json:"id"`
	Status         string     `json:"status"`
	TokenExpiresAt time.Time  `json:"token_expires_at"`
	ConfirmedAt    *time.Time `json:"confirmed_at"`
	ScheduledFor   *time.Time `json:"scheduled_for"`
}

const deletionFields = `id status token_expires_at confirmed_at scheduled_for created_at`

func (a *api) deletion(query string, vars map[string]any) deletionOut {
	a.tb.Helper()
	var got map[string]deletionOut
	a.query(query, vars, &got)
	for _, d := range got {
		return d
	}
	a.tb.Fatal("no answer")
	return deletionOut{}
}

// TestAccountDeletion: a shopper asks, confirms with the mailed token,
// cancels in the grace period, asks again; wrong, reused, replaced and
// expired tokens are refused; and with no grace the background job carries
// the deletion out.
func TestAccountDeletion(t *testing.T) {
	t.Parallel()
	accounts := &lifecycle.Service{}
	a := newAPI(t, func(o *graph.Options) { accounts.DB = o.Auth.DB; o.Lifecycle = accounts })
	token, id := a.signUp("quinn@example.com", "quinn's password")
	quinn := a.as(token)
	requestQ := `mutation { request_account_deletion { ` + deletionFields + ` } }`
	confirmQ := `mutation ($t: String!) { confirm_account_deletion(token: $t) { ` + deletionFields + ` } }`
	cancelQ := `mutation { cancel_account_deletion { ` + deletionFields + ` } }`

	d := quinn.deletion(requestQ, nil)
	if d.Status != "REQUESTED" || d.ScheduledFor != nil || time.Until(d.TokenExpiresAt) < 23*time.Hour {
		t.Errorf("requested: %+v", d)
	}
	first := a.deletionToken()
	// A second request replaces the first, whose token is then refused.
	quinn.deletion(requestQ, nil)
	second := a.deletionToken()
	wantError(t, a.as("").fail(confirmQ, map[string]any{"t": first}), "NOT_ALLOWED", "not_allowed", "Invalid token.")
	d = a.as("").deletion(confirmQ, map[string]any{"t": second})
	if d.Status != "SCHEDULED" || d.ScheduledFor == nil || d.ScheduledFor.Sub(time.Now()) < lifecycle.DefaultDeletionGrace-time.Hour {
		t.Errorf("confirmed: %+v", d)
	}
	// Used once.
	wantError(t, a.as("").fail(confirmQ, map[string]any{"t": second}), "NOT_ALLOWED", "not_allowed", "Invalid token.")
	wantError(t, quinn.fail(requestQ, nil), "CONFLICT", "conflict", "")
	var mine struct {
		D *deletionOut `json:"my_account_deletion"`
	}
	quinn.query(`{ my_account_deletion { `+deletionFields+` } }`, nil, &mine)
	if mine.D == nil || mine.D.Status != "SCHEDULED" {
		t.Errorf("my_account_deletion: %+v", mine.D)
	}
	var mails int
	a.pool.Get(&mails, `SELECT count(*) FROM notification WHERE template = 'account_deletion_scheduled' AND recipient = 'quinn@example.com'`)
	if mails != 1 {
		t.Errorf("%d mails saying when the deletion happens", mails)
	}
	// The job leaves it alone during the grace period.
	if n, err := accounts.ProcessDueDeletions(context.Background()); err != nil || n != 0 {
		t.Errorf("the job during the grace: %d, %v", n, err)
	}
	if d := quinn.deletion(cancelQ, nil); d.Status != "CANCELED" {
		t.Errorf("canceled: %+v", d)
	}
	wantError(t, quinn.fail(cancelQ, nil), "NOT_FOUND", "not_found", "")
	quinn.query(`{ me { id } }`, nil, &struct{}{})

	// An expired token.
	quinn.deletion(requestQ, nil)
	expired := a.deletionToken()
	a.exec(`UPDATE account_deletion_request SET token_expires_at = now() - interval '1 second' WHERE customer_id = $1 AND status = 'requested'`, id)
	wantError(t, a.as("").fail(confirmQ, map[string]any{"t": expired}), "NOT_ALLOWED", "not_allowed", "Invalid token.")
	quinn.deletion(cancelQ, nil)
	// At most five requests an hour.
	for range 2 {
		quinn.deletion(requestQ, nil)
	}
	e := quinn.fail(requestQ, nil)
	wantError(t, e, "RATE_LIMITED", "", "")

	// With no grace, the job carries the deletion out as the system.
	a.exec(`UPDATE account_deletion_request SET created_at = created_at - interval '1 hour'`)
	accounts.Grace = -1
	quinn.deletion(requestQ, nil)
	d = a.as("").deletion(confirmQ, map[string]any{"t": a.deletionToken()})
	mark := a.lastEventID()
	if n, err := accounts.ProcessDueDeletions(context.Background()); err != nil || n != 1 {
		t.Fatalf("the job: %d, %v", n, err)
	}
	ev := a.eventsSince(mark)
	wantEvents(t, "the deletion carried out", ev, "customer.deletion_completed", "customer.anonymized")
	if ev[1].ActorType != "SYSTEM" || !strings.Contains(string(ev[1].Data["reason"]), "account_deletion") {
		t.Errorf("audit: %+v", ev[1])
	}
	wantError(t, quinn.fail(`{ me { id } }`, nil), "UNAUTHORIZED", "unauthorized", revoked)
	if c := a.withDeleted(id); c.DeletedAt == nil || !strings.HasPrefix(c.Email, "anonymized+") {
		t.Errorf("after the job: %+v", c)
	}
	if n, err := accounts.ProcessDueDeletions(context.Background()); err != nil || n != 0 {
		t.Errorf("the job again: %d, %v", n, err)
	}
}

const claimQ = `mutation ($p: Boolean, $a: Boolean) {
	claim_guest_orders(preview: $p, include_addresses: $a) {
		preview guest_customer_id address_ids canceled_transfer_ids
		orders { id total customer_id items { title } customer { id } }
	}
}`

type claimOut struct {
	Preview             bool     `json:"preview"`
	GuestCustomerID     *string  `json:"guest_customer_id"`
	AddressIDs          []string `json:"address_ids"`
	CanceledTransferIDs []string `json:"canceled_transfer_ids"`
	Orders              []struct {
		ID         string `json:"id"`
		Total      int    `json:"total"`
		CustomerID string `json:"customer_id"`
		Items      []struct{ Title string }
		Customer   struct{ ID string }
	} `json:"orders"`
}

func (a *api) claim(preview, addresses bool) claimOut {
	a.tb.Helper()
	var got struct {
		C claimOut `json:"claim_guest_orders"`
	}
	a.query(claimQ, map[string]any{"p": preview, "a": addresses}, &got)
	return got.C
}

// verifyEmailOf verifies an identity's email as its owner does, with the
// token registration mailed to it.
func (a *api) verifyEmailOf(email string) {
	a.tb.Helper()
	a.verifyEmail(a.mailedToken("email_verification", email))
}

// TestClaimGuestOrders: a registered customer with a verified email
// previews and claims its guest orders (and addresses), later guest orders
// too, and pending transfers of them end; without a verified email it is
// refused; concurrent claims move each order once.
func TestClaimGuestOrders(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	g1 := a.as("").placeOrder(orderInput("kim@example.com", 1000))
	g2 := a.as("").placeOrder(orderInput("KIM@Example.com", 200, 300))
	guest := g1.CustomerID
	a.createAddress(guest, map[string]any{"address_1": "4 Guest Way", "city": "Ogdenville", "is_default_shipping": true})
	a.as("").placeOrder(orderInput("someone.else@example.com", 50))
	askerToken, _ := a.signUp("asker@example.com", "asker's password")
	a.as(askerToken).query(`mutation ($id: ID!) { request_order_transfer(order_id: $id) { order_id } }`, map[string]any{"id": g2.ID}, &struct{}{})
	token, id := a.signUp("kim@example.com", "kim's password")
	kim := a.as(token)

	// Who may: a customer, with a verified email.
	wantError(t, a.as("").fail(claimQ, nil), "UNAUTHORIZED", "unauthorized", "")
	wantError(t, a.fail(claimQ, nil), "NOT_ALLOWED", "not_allowed", "")
	wantError(t, kim.fail(claimQ, map[string]any{"p": true}), "NOT_ALLOWED", "not_allowed", "")
	a.verifyEmailOf("kim@example.com")

	p := kim.claim(true, true)
	if !p.Preview || str(p.GuestCustomerID) != guest || len(p.Orders) != 2 || p.Orders[0].ID != g1.ID || p.Orders[1].CustomerID != guest ||
		len(p.AddressIDs) != 1 || len(p.CanceledTransferIDs) != 1 {
		t.Errorf("preview: %+v", p)
	}
	c := kim.claim(false, true)
	if c.Preview || str(c.GuestCustomerID) != guest || len(c.Orders) != 2 || c.Orders[1].Customer.ID != id || c.Orders[0].Items[0].Title != "Item 1" ||
		len(c.AddressIDs) != 1 || len(c.CanceledTransferIDs) != 1 {
		t.Errorf("claim: %+v", c)
	}
	var me struct {
		Me struct {
			Orders    struct{ Count int }
			Addresses []struct{ City string }
		}
	}
	kim.query(`{ me { orders { count } addresses { city } } }`, nil, &me)
	if me.Me.Orders.Count != 2 || len(me.Me.Addresses) != 1 || me.Me.Addresses[0].City != "Ogdenville" {
		t.Errorf("kim after the claim: %+v", me.Me)
	}
	if g := a.withDeleted(guest); g.DeletedAt == nil {
		t.Errorf("the emptied guest is not deleted")
	}
	wantError(t, a.as(askerToken).fail(`mutation ($id: ID!, $t: String!) { accept_order_transfer(order_id: $id, token: $t) { id } }`,
		map[string]any{"id": g2.ID, "t": a.transferToken(g2.ID)}), "NOT_ALLOWED", "not_allowed", "Invalid token.")
	// Nothing left: an empty answer.
	if c := kim.claim(false, false); c.GuestCustomerID != nil || len(c.Orders) != 0 {
		t.Errorf("a claim with nothing to claim: %+v", c)
	}
	// A later guest order makes a new guest, claimed the same way; without
	// include_addresses its address goes with the guest.
	g3 := a.as("").placeOrder(orderInput("kim@example.com", 75))
	a.createAddress(g3.CustomerID, map[string]any{"address_1": "5 Later St", "city": "Capital City"})
	if c := kim.claim(false, false); len(c.Orders) != 1 || c.Orders[0].ID != g3.ID || len(c.AddressIDs) != 0 {
		t.Errorf("the later claim: %+v", c)
	}
	kim.query(`{ me { orders { count } addresses { city } } }`, nil, &me)
	if me.Me.Orders.Count != 3 || len(me.Me.Addresses) != 1 {
		t.Errorf("kim after the later claim: %+v", me.Me)
	}

	// Concurrent claims, with guest checkouts for the email among them:
	// every order ends on kim or on a living guest, each once.
	for round := range 3 {
		kim.query(`{ me { orders { count } } }`, nil, &me)
		before := me.Me.Orders.Count
		for range 3 {
			a.as("").placeOrder(orderInput("kim@example.com", 10+round))
		}
		results := concurrently(6, func(i int) response {
			if i%2 == 0 {
				return kim.do(claimQ, map[string]any{"p": false, "a": true})
			}
			return a.as("").do(`mutation ($input: PlaceOrderInput!) { place_order(input: $input) { id } }`,
				map[string]any{"input": orderInput("kim@example.com", 10+round)})
		})
		claimed := map[string]bool{}
		for i, r := range results {
			if len(r.Errors) > 0 {
				t.Fatalf("round %d, request %d: %+v", round, i, r.Errors)
			}
			if i%2 == 0 {
				var got struct {
					C claimOut `json:"claim_guest_orders"`
				}
				json.Unmarshal(r.Data, &got)
				for _, o := range got.C.Orders {
					if claimed[o.ID] {
						t.Errorf("round %d: order %s claimed twice", round, o.ID)
					}
					claimed[o.ID] = true
				}
			}
		}
		var all struct {
			Orders struct {
				Items []struct {
					ID       string
					Email    string
					Customer struct {
						ID        string
						DeletedAt *time.Time `json:"deleted_at"`
					}
				}
			}
		}
		a.query(`{ orders(limit: 100, filter: {email: ["kim@example.com"]}) { items { id email customer { id deleted_at } } } }`, nil, &all)
		onKim := 0
		for _, o := range all.Orders.Items {
			if o.Customer.DeletedAt != nil {
				t.Errorf("round %d: order %s is on a deleted customer", round, o.ID)
			}
			if o.Customer.ID == id {
				onKim++
			}
		}
		kim.query(`{ me { orders { count } } }`, nil, &me)
		if me.Me.Orders.Count != onKim || onKim != before+len(claimed) || len(claimed) < 3 {
			t.Errorf("round %d: kim has %d orders, the list shows %d on kim, %d before and %d claimed", round, me.Me.Orders.Count, onKim, before, len(claimed))
		}
	}
}

// TestAnonymizeKeepsAnAdminsLogin: an identity shared by an admin user and
// a customer stays the admin's when the customer is erased; only the
// customer's tokens end.
func TestAnonymizeKeepsAnAdminsLogin(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	if _, err := a.auth.CreateUser(context.Background(), "staff@example.com", "staff password", nil, nil); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Account account `json:"create_customer_account"`
	}
	a.as(a.login("CUSTOMER", "staff@example.com", "staff password")).query(accountQ,
		map[string]any{"input": map[string]any{"email": "staff@example.com", "first_name": "Stef"}}, &got)
	customerToken := got.Account.Token.Token
	var erased struct {
		E struct {
			IdentityRemoved bool `json:"identity_removed"`
		} `json:"anonymize_customer"`
	}
	a.query(`mutation ($id: ID!) { anonymize_customer(id: $id) { identity_removed } }`, map[string]any{"id": got.Account.Customer.ID}, &erased)
	if erased.E.IdentityRemoved {
		t.Errorf("the admin's identity was removed")
	}
	wantError(t, a.as(customerToken).fail(`{ me { id } }`, nil), "UNAUTHORIZED", "unauthorized", revoked)
	staff := a.login("USER", "staff@example.com", "staff password")
	a.as(staff).query(`{ customers(limit: 1) { count } }`, nil, &struct{}{})
}

// TestLifecycleStatementsDoNotGrowWithRows: a merge, an export and an
// erasure send as many SQL statements for a customer with 30 orders,
// addresses and groups as for one with 1: each moves or reads its rows in
// set-based statements.
func TestLifecycleStatementsDoNotGrowWithRows(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var groups []string
	for i := range 30 {
		groups = append(groups, a.createGroup("G"+string(rune('A'+i))).ID)
	}
	customer := func(tag string, n int) string {
		id := a.as("").placeOrder(orderInput(tag+"@example.com", 100)).CustomerID
		for i := 1; i < n; i++ {
			a.as("").placeOrder(orderInput(tag+"@example.com", 100+i))
		}
		for i := range n {
			a.createAddress(id, map[string]any{"address_1": "1 Road", "city": "City", "is_default_billing": i == 0})
			a.query(`mutation ($g: ID!, $ids: [ID!]!) { add_customers_to_group(group_id: $g, customer_ids: $ids) { id } }`,
				map[string]any{"g": groups[i], "ids": []string{id}}, &struct{}{})
		}
		return id
	}
	statements := map[string][2]int64{}
	for i, n := range []int{1, 30} {
		src, dst := customer("src"+string(rune('a'+i)), n), customer("dst"+string(rune('a'+i)), n)
		s := statements["merge"]
		s[i] = a.query(`mutation ($s: ID!, $t: ID!) { merge_customers(source_id: $s, target_id: $t) { id orders { count } } }`,
			map[string]any{"s": src, "t": dst}, &struct{}{}).Statements
		statements["merge"] = s
		s = statements["export"]
		s[i] = a.query(`query ($id: ID!) { export_customer_data(id: $id) }`, map[string]any{"id": dst}, &struct{}{}).Statements
		statements["export"] = s
		s = statements["anonymize"]
		s[i] = a.query(`mutation ($id: ID!) { anonymize_customer(id: $id) { orders } }`, map[string]any{"id": dst}, &struct{}{}).Statements
		statements["anonymize"] = s
	}
	for what, s := range statements {
		if s[0] != s[1] {
			t.Errorf("%s: %d statements for 1 row of each kind, %d for 30", what, s[0], s[1])
		}
	}
	t.Logf("statements (1 row of each kind, 30): %v", statements)
}
