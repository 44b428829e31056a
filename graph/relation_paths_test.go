package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/vektah/gqlparser/v2/ast"

	"customerservice/db"
	"customerservice/graph"
)

// maxRelations is how many relations a walked path follows. With the
// scalars of the last object it makes a query at most 7 levels deep, within
// the depth limit of 12, and with lists of 3 within the complexity budget:
// the paths are walked under the limits a client has.
const maxRelations = 6

// TestEveryRelationPathIsPrefetched walks the schema from each root query
// field through every relation (a field whose type is an object) to
// maxRelations levels, and runs one query per path, with every list 2 long
// and then 3 long. Fields and list elements are resolved one after the
// other (graph/generate.go), so a relation that prefetch.go does not
// foresee is fetched by its loader one row at a time: a loader miss, and a
// statement more for every row. Each path must cause no miss, and as many
// statements for 3 rows as for 2. (Not 1: the one member a group's page
// then shows is the newest customer, the one the path started from, whose
// relations are loaded already, so a level that costs a statement for
// other rows costs none.) The paths come from the schema, not from
// a list: a relation added to the schema is walked without anyone thinking
// of it.
//
// It sends some 1,700 requests, so it does not run in parallel: alongside
// the login tests' bursts of password checks it would push them past their
// deadlines on a small machine.
func TestEveryRelationPathIsPrefetched(t *testing.T) {
	a := seeded(t, 60, time.Now())
	// Endpoints made first get deliveries of the changes that follow.
	var hooks []string
	for i := range 3 {
		hook, _ := a.createWebhook(map[string]any{"url": fmt.Sprintf("http://receiver%d.example/", i), "event_types": []string{"*"}})
		hooks = append(hooks, hook.ID)
	}
	fillEveryRelation(t, a)
	customerToken := loginCustomer(t, a, "customer4@example.com")

	var ids struct {
		Customers      struct{ Items []struct{ ID string } }
		CustomerGroups struct{ Items []struct{ ID string } } `json:"customer_groups"`
		Orders         struct{ Items []struct{ ID string } }
	}
	a.query(`{ customers(limit: 1) { items { id } } customer_groups(limit: 1) { items { id } } orders(limit: 1) { items { id } } }`, nil, &ids)
	idOf := map[string]string{
		"Customer":      ids.Customers.Items[0].ID,
		"CustomerGroup": ids.CustomerGroups.Items[0].ID,
		"Order":         ids.Orders.Items[0].ID,
		"Webhook":       hooks[0],
		"ImportJob":     importJobForWalk(t, a),
	}
	var two []string
	a.pool.Select(&two, `SELECT id FROM customer WHERE deleted_at IS NULL ORDER BY created_at, id LIMIT 2`)
	idOf["merge:source_id"], idOf["merge:target_id"] = two[0], two[1]

	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	walked := 0
	for _, root := range schema.Query.Fields {
		def := schema.Types[root.Type.Name()]
		if strings.HasPrefix(root.Name, "__") || def.Kind != ast.Object {
			continue
		}
		actor, caller := "USER", a
		if authActor(root) == "CUSTOMER" {
			actor, caller = "CUSTOMER", a.as(customerToken)
		}
		rootArgs, usesN := arguments(root, idOf)
		for _, p := range relationPaths(schema, def, actor, maxRelations) {
			walked++
			query := root.Name + rootArgs + " " + p.selection
			if usesN || p.usesN {
				query = "query ($n: Int!) { " + query + " }"
			} else {
				query = "{ " + query + " }"
			}
			two, missesTwo := caller.measured(query, 2)
			three, missesThree := caller.measured(query, 3)
			if missesTwo+missesThree != 0 {
				t.Errorf("%s: %v loader misses for lists of 2, %v for lists of 3: prefetch.go does not foresee this path",
					query, missesTwo, missesThree)
			}
			if two != three {
				t.Errorf("%s: %d statements for lists of 2, %d for lists of 3", query, two, three)
			}
		}
	}
	t.Logf("%d relation paths walked", walked)
	// Customer, groups, addresses, orders and their items alone make more.
	if walked < 100 {
		t.Errorf("walked %d paths: the walk no longer follows the schema's relations", walked)
	}
}

// importJobForWalk records an import job with a row error, for the walk
// to read.
func importJobForWalk(t *testing.T, a *api) string {
	t.Helper()
	job, err := db.CreateImportJob(context.Background(), a.pool, db.ImportJob{FileSha256: strings.Repeat("0", 64),
		Format: db.FormatCSV, OnConflict: db.ConflictSkip, BatchSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	job.Status, job.Errors = db.ImportFailed, db.RowErrors{{Line: 2, Column: "email", Code: "INVALID_DATA", Message: "bad"}}
	if err := db.FinishImportJob(context.Background(), a.pool, job); err != nil {
		t.Fatal(err)
	}
	return job.ID
}

// path is the selection that follows one path of relations from a field,
// ending in the scalars of its last object.
type path struct {
	selection string
	usesN     bool
}

// relationPaths returns the selections of every path of up to n relations
// from an object of type def that actor may select, each ending in every
// scalar field of the object it reaches.
func relationPaths(schema *ast.Schema, def *ast.Definition, actor string, n int) []path {
	paths := []path{{selection: "{ " + scalars(schema, def) + " }"}}
	if n == 0 {
		return paths
	}
	for _, f := range def.Fields {
		child := schema.Types[f.Type.Name()]
		if strings.HasPrefix(f.Name, "__") || child.Kind != ast.Object {
			continue
		}
		if a := authActor(f); a != "" && a != actor {
			continue // refused to this actor; not a path it can take
		}
		args, usesN := arguments(f, nil)
		for _, p := range relationPaths(schema, child, actor, n-1) {
			paths = append(paths, path{
				selection: "{ " + f.Name + args + " " + p.selection + " }",
				usesN:     usesN || p.usesN,
			})
		}
	}
	return paths
}

// scalars selects every scalar and enum field of def: what a client reads
// at the end of a path, count included.
func scalars(schema *ast.Schema, def *ast.Definition) string {
	var names []string
	for _, f := range def.Fields {
		if !strings.HasPrefix(f.Name, "__") && schema.Types[f.Type.Name()].Kind != ast.Object && !needsArgument(f) {
			names = append(names, f.Name)
		}
	}
	if len(names) == 0 {
		return "__typename"
	}
	return strings.Join(names, " ")
}

// needsArgument reports a field with a required argument (such as
// CustomerStats.amount_spent's currency_code): a scalar computed from what
// its object holds, with no relation of its own to walk.
func needsArgument(f *ast.FieldDefinition) bool {
	for _, arg := range f.Arguments {
		if arg.Type.NonNull && arg.DefaultValue == nil {
			return true
		}
	}
	return false
}

// arguments gives a field the arguments a path needs: a list is $n long,
// and an id is that of a row of the field's type (ids, for root fields).
func arguments(f *ast.FieldDefinition, ids map[string]string) (string, bool) {
	var args []string
	usesN := false
	for _, arg := range f.Arguments {
		switch arg.Name {
		case "limit":
			args = append(args, "limit: $n")
			usesN = true
		case "id":
			args = append(args, fmt.Sprintf("id: %q", ids[f.Type.Name()]))
		case "source_id", "target_id":
			// A merge preview: two customers (ids["merge:source_id"], ...).
			args = append(args, fmt.Sprintf("%s: %q", arg.Name, ids["merge:"+arg.Name]))
		case "rules":
			// A rules preview: rules every seeded customer matches.
			args = append(args, `rules: {condition: {field: EMAIL, op: CONTAINS, string: "@"}}`)
		}
	}
	if len(args) == 0 {
		return "", usesN
	}
	return "(" + strings.Join(args, ", ") + ")", usesN
}

// authActor is the actor a field's @auth directive requires, or "".
func authActor(f *ast.FieldDefinition) string {
	if d := f.Directives.ForName("auth"); d != nil {
		if arg := d.Arguments.ForName("actor"); arg != nil {
			return arg.Value.Raw
		}
	}
	return ""
}

// measured runs a query with its lists n long and returns the statements
// it sent and the loader misses it caused, as the metrics count them.
func (a *api) measured(query string, n int) (statements int64, misses float64) {
	a.tb.Helper()
	before := a.loaderMisses()
	var out struct{}
	resp := a.query(query, map[string]any{"n": n}, &out)
	return resp.Statements, a.loaderMisses() - before
}

// loaderMisses sums customerservice_loader_misses_total over its loaders.
func (a *api) loaderMisses() float64 {
	a.tb.Helper()
	families, err := a.reg.Gather()
	if err != nil {
		a.tb.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() == "customerservice_loader_misses_total" {
			for _, m := range f.GetMetric() {
				sum += counterValue(m)
			}
		}
	}
	return sum
}

func counterValue(m *dto.Metric) float64 { return m.GetCounter().GetValue() }

// fillEveryRelation gives every seeded customer an order with an item and
// every group a member, so that each level of a walked path has rows
// whether its lists are 1 or 3 long: an empty level runs no statement
// below it, and the counts of 1 and 3 would differ for that reason alone.
func fillEveryRelation(tb testing.TB, a *api) {
	tb.Helper()
	var bare []struct {
		ID    string `db:"id"`
		Email string `db:"email"`
	}
	if err := a.pool.Select(&bare, `SELECT id, email FROM customer c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id) ORDER BY created_at, id`); err != nil {
		tb.Fatal(err)
	}
	for _, c := range bare {
		order := db.NewID(db.PrefixOrder)
		a.exec(`INSERT INTO orders (id, customer_id, email, status, currency_code, subtotal, total) VALUES ($1, $2, $3, 'COMPLETED', 'usd', 500, 500)`, order, c.ID, c.Email)
		a.exec(`INSERT INTO order_line_item (id, order_id, title, quantity, unit_price) VALUES ($1, $2, 'Filler', 1, 500)`, db.NewID(db.PrefixLineItem), order)
	}
	a.exec(`INSERT INTO customer_group_customer (customer_group_id, customer_id)
		SELECT g.id, (SELECT id FROM customer ORDER BY created_at DESC LIMIT 1) FROM customer_group g
		WHERE NOT EXISTS (SELECT 1 FROM customer_group_customer m WHERE m.customer_group_id = g.id)`)
}

// loginCustomer gives the seeded registered customer with email a login
// and returns a token acting as it.
func loginCustomer(tb testing.TB, a *api, email string) string {
	tb.Helper()
	ctx := context.Background()
	hash, err := a.auth.Hasher.Hash(ctx, "customer password")
	if err != nil {
		tb.Fatal(err)
	}
	var customerID string
	if err := a.pool.GetContext(ctx, &customerID, `SELECT id FROM customer WHERE email = $1 AND has_account AND deleted_at IS NULL`, email); err != nil {
		tb.Fatalf("registered customer %s: %v", email, err)
	}
	if _, err := db.InTx(ctx, a.pool, func(tx db.Tx) (struct{}, error) {
		identity, err := db.CreateIdentity(ctx, tx, db.NormalizeEmail(email), hash)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, db.LinkCustomer(ctx, tx, identity.ID, customerID)
	}); err != nil {
		tb.Fatalf("link %s: %v", email, err)
	}
	return a.login("CUSTOMER", email, "customer password")
}
