package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"customerservice/errcode"
)

// ImportInput is one customer of an import file as read, before the rules
// of CreateCustomer and CreateAddress are applied (see CleanImport).
type ImportInput struct {
	Customer   CustomerFields
	HasAccount bool
	Addresses  []AddressFields
	// Groups are the names of the groups the customer is to be a member of.
	Groups []string
}

// ImportCustomer is a customer of an import file, cleaned and checked by
// the rules of create_customer and create_customer_address.
type ImportCustomer struct {
	Email       string
	HasAccount  bool
	FirstName   *string
	LastName    *string
	Phone       *string
	CompanyName *string
	Metadata    JSONObject
	Addresses   []ImportAddress
	// Groups are group names, cleaned, each once (in any letter case).
	Groups []string
}

// ImportAddress is an address of an ImportCustomer, cleaned.
type ImportAddress struct {
	AddressName, Company, FirstName, LastName, Address1, Address2 *string
	City, CountryCode, Province, PostalCode, Phone                *string
	IsDefaultShipping, IsDefaultBilling                           bool
	Metadata                                                      JSONObject
}

// Key is what makes the customer unique among the living: its email (stored
// lower-cased) and whether it has an account.
func (c *ImportCustomer) Key() CustomerKey {
	return CustomerKey{Email: c.Email, HasAccount: c.HasAccount}
}

// CustomerKey is a customer's unique key among the living.
type CustomerKey struct {
	Email      string
	HasAccount bool
}

// CleanImport applies the rules of CreateCustomer and CreateAddress to one
// customer of an import file. Errors are INVALID_DATA naming the field:
// "customer.email", "address.country_code", "groups"...
func CleanImport(in ImportInput) (ImportCustomer, error) {
	if !in.Customer.Email.Set || strings.TrimSpace(in.Customer.Email.Value) == "" {
		return ImportCustomer{}, errcode.Invalid("customer.email", "email is required")
	}
	// Metadata is checked as the JSON scalar checks it for create_customer.
	if in.Customer.Metadata.Set && in.Customer.Metadata.Value != nil {
		if _, err := CleanMetadata("metadata", in.Customer.Metadata.Value); err != nil {
			return ImportCustomer{}, err
		}
	}
	for _, f := range in.Addresses {
		if f.Metadata.Set && f.Metadata.Value != nil {
			if _, err := CleanMetadata("address.metadata", f.Metadata.Value); err != nil {
				return ImportCustomer{}, err
			}
		}
	}
	a, err := in.Customer.assign("customer")
	if err != nil {
		return ImportCustomer{}, err
	}
	out := ImportCustomer{HasAccount: in.HasAccount}
	for i, col := range a.cols {
		switch v := a.args[i].(type) {
		case string:
			out.Email = v
		case JSONObject:
			out.Metadata = v
		case *string:
			switch col {
			case "first_name":
				out.FirstName = v
			case "last_name":
				out.LastName = v
			case "phone":
				out.Phone = v
			case "company_name":
				out.CompanyName = v
			}
		}
	}
	var shipping, billing int
	for _, f := range in.Addresses {
		a, err := f.assign()
		if err != nil {
			if e, ok := err.(*errcode.Error); ok {
				e.Field = strings.Replace(e.Field, "input.", "address.", 1)
				e.Message = strings.ReplaceAll(e.Message, "input.", "address.")
			}
			return ImportCustomer{}, err
		}
		var addr ImportAddress
		targets := map[string]**string{"address_name": &addr.AddressName, "company": &addr.Company,
			"first_name": &addr.FirstName, "last_name": &addr.LastName, "address_1": &addr.Address1,
			"address_2": &addr.Address2, "city": &addr.City, "country_code": &addr.CountryCode,
			"province": &addr.Province, "postal_code": &addr.PostalCode, "phone": &addr.Phone}
		for i, col := range a.cols {
			switch v := a.args[i].(type) {
			case *string:
				*targets[col] = v
			case bool:
				if col == "is_default_shipping" {
					addr.IsDefaultShipping = v
				} else {
					addr.IsDefaultBilling = v
				}
			case JSONObject:
				addr.Metadata = v
			}
		}
		if addr.IsDefaultShipping {
			shipping++
		}
		if addr.IsDefaultBilling {
			billing++
		}
		out.Addresses = append(out.Addresses, addr)
	}
	if shipping > 1 {
		return ImportCustomer{}, errcode.Invalid("address.is_default_shipping", "a customer has at most one default shipping address, got %d", shipping)
	}
	if billing > 1 {
		return ImportCustomer{}, errcode.Invalid("address.is_default_billing", "a customer has at most one default billing address, got %d", billing)
	}
	seen := map[string]bool{}
	for _, g := range in.Groups {
		name, err := cleanText("groups", &g, maxText)
		if err != nil {
			return ImportCustomer{}, err
		}
		if name == nil || seen[strings.ToLower(*name)] {
			continue
		}
		seen[strings.ToLower(*name)] = true
		out.Groups = append(out.Groups, *name)
	}
	return out, nil
}

// ExistingCustomers returns the ids of the living customers with the given
// keys.
func ExistingCustomers(ctx context.Context, q sqlx.QueryerContext, keys []CustomerKey) (map[CustomerKey]string, error) {
	want := make(map[CustomerKey]bool, len(keys))
	emails := make([]string, 0, len(keys))
	for _, k := range keys {
		if !want[CustomerKey{Email: k.Email, HasAccount: !k.HasAccount}] {
			emails = append(emails, k.Email)
		}
		want[k] = true
	}
	// By email alone, which the unique index (email, has_account) serves
	// with one probe each; a join with the keys' unnest made the planner
	// scan the table, a third of an import's time at 400,000 customers.
	const query = `SELECT c.id, c.email, c.has_account FROM customer c WHERE c.email = ANY($1) AND c.deleted_at IS NULL`
	rows, err := q.QueryContext(ctx, query, pq.Array(emails))
	if err != nil {
		return nil, fmt.Errorf("existing customers: %w", err)
	}
	defer rows.Close()
	out := make(map[CustomerKey]string)
	for rows.Next() {
		var id string
		var k CustomerKey
		if err := rows.Scan(&id, &k.Email, &k.HasAccount); err != nil {
			return nil, fmt.Errorf("existing customers: %w", err)
		}
		if want[k] {
			out[k] = id
		}
	}
	return out, rows.Err()
}

// GroupIDsByNames returns the ids of the living groups with the given
// names, keyed by lower-cased name (group names are unique in any letter
// case).
func GroupIDsByNames(ctx context.Context, q sqlx.QueryerContext, names []string) (map[string]string, error) {
	lower := make([]string, len(names))
	for i, n := range names {
		lower[i] = strings.ToLower(n)
	}
	const query = `SELECT g.id, lower(g.name) FROM customer_group g WHERE lower(g.name) = ANY($1) AND g.deleted_at IS NULL`
	rows, err := q.QueryContext(ctx, query, pq.Array(lower))
	if err != nil {
		return nil, fmt.Errorf("groups by names: %w", err)
	}
	defer rows.Close()
	out := make(map[string]string)
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("groups by names: %w", err)
		}
		out[name] = id
	}
	return out, rows.Err()
}

// ImportConflict says what an import does with a customer whose key is
// taken.
type ImportConflict string

// What an import does with a customer that exists.
const (
	// ConflictSkip leaves the existing customer as it is.
	ConflictSkip ImportConflict = "SKIP"
	// ConflictUpdate writes the fields the file gives (not blank) over the
	// existing customer's and adds it to the file's groups; its address
	// book stays as it is.
	ConflictUpdate ImportConflict = "UPDATE"
	// ConflictError refuses the batch.
	ConflictError ImportConflict = "ERROR"
)

// ImportCounts counts what a batch did.
type ImportCounts struct {
	Created, Updated, Skipped int64
}

// ImportBatch writes a batch of an import: the customers (created, or for
// an existing key skipped or updated as onConflict says), the addresses of
// the created ones and the memberships of the groups, creating the groups
// that do not exist. The event log's triggers write an event per customer,
// address and membership, with tx's actor. Returns DUPLICATE_ERROR when
// onConflict is ERROR and a customer's key is taken (the transaction is
// then to be rolled back).
func ImportBatch(ctx context.Context, tx Tx, batch []ImportCustomer, onConflict ImportConflict, createdBy *string) (ImportCounts, error) {
	var counts ImportCounts
	n := len(batch)
	ids := make([]string, n)
	emails := make([]string, n)
	accounts := make([]bool, n)
	first, last, phone, company, metadata := make([]sql.NullString, n), make([]sql.NullString, n), make([]sql.NullString, n), make([]sql.NullString, n), make([]sql.NullString, n)
	for i := range batch {
		c := &batch[i]
		ids[i] = NewID(PrefixCustomer)
		emails[i], accounts[i] = c.Email, c.HasAccount
		first[i], last[i], phone[i], company[i] = nullString(c.FirstName), nullString(c.LastName), nullString(c.Phone), nullString(c.CompanyName)
		metadata[i] = jsonText(c.Metadata)
	}
	onKey := `DO NOTHING`
	if onConflict == ConflictUpdate {
		onKey = `DO UPDATE SET first_name = coalesce(EXCLUDED.first_name, c.first_name),
			last_name = coalesce(EXCLUDED.last_name, c.last_name), phone = coalesce(EXCLUDED.phone, c.phone),
			company_name = coalesce(EXCLUDED.company_name, c.company_name),
			metadata = coalesce(EXCLUDED.metadata, c.metadata), updated_at = now()`
	}
	query := `INSERT INTO customer AS c (id, email, has_account, first_name, last_name, phone, company_name, metadata, created_by)
		SELECT k.id, k.email, k.has_account, k.first_name, k.last_name, k.phone, k.company_name, k.metadata, $9
		FROM unnest($1::text[], $2::text[], $3::bool[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[])
			AS k(id, email, has_account, first_name, last_name, phone, company_name, metadata)
		ON CONFLICT (email, has_account) WHERE deleted_at IS NULL ` + onKey + `
		RETURNING c.id, c.email, c.has_account, (c.xmax = 0) AS inserted`
	rows, err := tx.QueryContext(ctx, query, pq.Array(ids), pq.Array(emails), pq.Array(accounts), pq.Array(first),
		pq.Array(last), pq.Array(phone), pq.Array(company), pq.Array(metadata), createdBy)
	if err != nil {
		return counts, fmt.Errorf("import customers: %w", translate(err, "Customer"))
	}
	type written struct {
		id       string
		inserted bool
	}
	byKey := make(map[CustomerKey]written, n)
	for rows.Next() {
		var w written
		var k CustomerKey
		if err := rows.Scan(&w.id, &k.Email, &k.HasAccount, &w.inserted); err != nil {
			rows.Close()
			return counts, fmt.Errorf("import customers: %w", err)
		}
		byKey[k] = w
	}
	if err := rows.Err(); err != nil {
		return counts, fmt.Errorf("import customers: %w", translate(err, "Customer"))
	}
	rows.Close()

	var addr addressColumnsBatch
	var memberCustomers, memberGroups []string
	groupNames := map[string]string{}
	for i := range batch {
		c := &batch[i]
		w, ok := byKey[c.Key()]
		switch {
		case !ok && onConflict == ConflictError:
			return counts, &errcode.Error{Code: errcode.DuplicateError, Field: "email",
				Message: fmt.Sprintf("Customer with email: %s already exists", c.Email)}
		case !ok:
			counts.Skipped++
			continue
		case w.inserted:
			counts.Created++
			for _, a := range c.Addresses {
				addr.add(w.id, a)
			}
		default:
			counts.Updated++
		}
		for _, g := range c.Groups {
			if _, ok := groupNames[strings.ToLower(g)]; !ok {
				groupNames[strings.ToLower(g)] = g // as first named
			}
			memberCustomers = append(memberCustomers, w.id)
			memberGroups = append(memberGroups, strings.ToLower(g))
		}
	}
	if err := addr.insert(ctx, tx); err != nil {
		return counts, err
	}
	if len(memberCustomers) > 0 {
		groups, err := ensureGroups(ctx, tx, groupNames, createdBy)
		if err != nil {
			return counts, err
		}
		for i, g := range memberGroups {
			memberGroups[i] = groups[g]
		}
		const insert = `INSERT INTO customer_group_customer (customer_group_id, customer_id, created_by)
			SELECT g, c, $3 FROM unnest($1::text[], $2::text[]) AS m(g, c)
			ORDER BY g, c
			ON CONFLICT DO NOTHING`
		if _, err := tx.ExecContext(ctx, insert, pq.Array(memberGroups), pq.Array(memberCustomers), createdBy); err != nil {
			return counts, fmt.Errorf("import memberships: %w", translate(err, "Customer group"))
		}
	}
	return counts, nil
}

// ensureGroups returns the ids of the named groups (keyed by lower-cased
// name), creating those that do not exist.
func ensureGroups(ctx context.Context, tx Tx, names map[string]string, createdBy *string) (map[string]string, error) {
	all := make([]string, 0, len(names))
	for _, n := range names {
		all = append(all, n)
	}
	ids, err := GroupIDsByNames(ctx, tx, all)
	if err != nil {
		return nil, err
	}
	var newIDs, newNames []string
	for lower, n := range names {
		if _, ok := ids[lower]; !ok {
			newIDs = append(newIDs, NewID(PrefixGroup))
			newNames = append(newNames, n)
		}
	}
	if len(newIDs) == 0 {
		return ids, nil
	}
	const insert = `INSERT INTO customer_group (id, name, created_by)
		SELECT id, name, $3 FROM unnest($1::text[], $2::text[]) AS g(id, name)
		ON CONFLICT DO NOTHING`
	if _, err := tx.ExecContext(ctx, insert, pq.Array(newIDs), pq.Array(newNames), createdBy); err != nil {
		return nil, fmt.Errorf("import groups: %w", translate(err, "Customer group"))
	}
	return GroupIDsByNames(ctx, tx, all)
}

// addressColumnsBatch holds addresses to insert, column by column.
type addressColumnsBatch struct {
	ids, customers                                                      []string
	name, company, first, last, a1, a2, city, country, province, postal []sql.NullString
	phone, metadata                                                     []sql.NullString
	shipping, billing                                                   []bool
}

func (b *addressColumnsBatch) add(customerID string, a ImportAddress) {
	b.ids = append(b.ids, NewID(PrefixAddress))
	b.customers = append(b.customers, customerID)
	b.name = append(b.name, nullString(a.AddressName))
	b.company = append(b.company, nullString(a.Company))
	b.first = append(b.first, nullString(a.FirstName))
	b.last = append(b.last, nullString(a.LastName))
	b.a1 = append(b.a1, nullString(a.Address1))
	b.a2 = append(b.a2, nullString(a.Address2))
	b.city = append(b.city, nullString(a.City))
	b.country = append(b.country, nullString(a.CountryCode))
	b.province = append(b.province, nullString(a.Province))
	b.postal = append(b.postal, nullString(a.PostalCode))
	b.phone = append(b.phone, nullString(a.Phone))
	b.metadata = append(b.metadata, jsonText(a.Metadata))
	b.shipping = append(b.shipping, a.IsDefaultShipping)
	b.billing = append(b.billing, a.IsDefaultBilling)
}

func (b *addressColumnsBatch) insert(ctx context.Context, tx Tx) error {
	if len(b.ids) == 0 {
		return nil
	}
	// clock_timestamp orders a customer's addresses as the file lists
	// them: the address book is read oldest first.
	const insert = `INSERT INTO customer_address (id, customer_id, address_name, company, first_name, last_name,
			address_1, address_2, city, country_code, province, postal_code, phone, metadata,
			is_default_shipping, is_default_billing, created_at, updated_at)
		SELECT a.*, clock_timestamp(), clock_timestamp() FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
			$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::jsonb[],
			$15::bool[], $16::bool[]) AS a`
	_, err := tx.ExecContext(ctx, insert, pq.Array(b.ids), pq.Array(b.customers), pq.Array(b.name), pq.Array(b.company),
		pq.Array(b.first), pq.Array(b.last), pq.Array(b.a1), pq.Array(b.a2), pq.Array(b.city), pq.Array(b.country),
		pq.Array(b.province), pq.Array(b.postal), pq.Array(b.phone), pq.Array(b.metadata), pq.Array(b.shipping), pq.Array(b.billing))
	if err != nil {
		return fmt.Errorf("import addresses: %w", translate(err, "Address"))
	}
	return nil
}

func nullString(s *string) sql.NullString {
	if s == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *s, Valid: true}
}

// jsonText is a metadata object as the text of a jsonb array element.
func jsonText(o JSONObject) sql.NullString {
	if o == nil {
		return sql.NullString{}
	}
	b, err := json.Marshal(o)
	if err != nil {
		// Only objects decoded from JSON reach here; they encode.
		return sql.NullString{}
	}
	return sql.NullString{String: string(b), Valid: true}
}
