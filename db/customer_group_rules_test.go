package db_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"customerservice/db"
	"customerservice/db/dbtest"
)

func str(s string) *string { return &s }

// TestRuleValuesAreParameters: whatever a value holds, the compiled SQL is
// the same text, holds none of it, and the value matches only itself.
func TestRuleValuesAreParameters(t *testing.T) {
	t.Parallel()
	hostile := []string{`x' OR '1'='1`, `'); DELETE FROM customer; --`, `$1`, `%`, `_`, `\'`, `$$ OR true $$`, `) OR (1=1`}
	rule := func(v string) *db.GroupRule {
		return &db.GroupRule{Any: []*db.GroupRule{
			{Condition: &db.RuleCondition{Field: "FIRST_NAME", Op: db.OpEq, String: str(v)}},
			{Condition: &db.RuleCondition{Field: "COMPANY_NAME", Op: db.OpContains, String: str(v)}},
			{Condition: &db.RuleCondition{Field: "METADATA", Op: db.OpStartsWith, Key: str(v), String: str(v)}},
			{Condition: &db.RuleCondition{Field: "ADDRESS_CITY", Op: db.OpIn, Strings: []string{v, "x"}}},
		}}
	}
	plain, err := db.CompileGroupRules("rules", rule("plain"))
	if err != nil {
		t.Fatal(err)
	}
	pool := dbtest.New(t)
	ctx := context.Background()
	if _, err := pool.Exec(`INSERT INTO customer (id, email, first_name, company_name)
		VALUES ('cus_01JAAAAAAAAAAAAAAAAAAAAAAA', 'a@example.com', $1, 'Acme'),
		       ('cus_01JBBBBBBBBBBBBBBBBBBBBBBB', 'b@example.com', 'Bob', $2)`, hostile[0], "50% off_"); err != nil {
		t.Fatal(err)
	}
	for _, h := range hostile {
		c, err := db.CompileGroupRules("rules", rule(h))
		if err != nil {
			t.Fatalf("%q: %v", h, err)
		}
		if c.Cond != plain.Cond {
			t.Errorf("%q changes the SQL:\n%s\nwant\n%s", h, c.Cond, plain.Cond)
		}
		got, err := db.ListCustomersByRules(ctx, pool, db.RuleCustomerFilter{Rules: c}, mustPage(t), db.CustomerColumns([]string{"email"}))
		if err != nil {
			t.Fatalf("%q: %v", h, err)
		}
		var emails []string
		for _, cu := range got {
			emails = append(emails, cu.Email)
		}
		var want []string
		if h == hostile[0] {
			want = []string{"a@example.com"}
		}
		if (h == "%" || h == "_") && strings.Contains("50% off_", h) {
			want = []string{"b@example.com"}
		}
		if !slices.Equal(emails, want) {
			t.Errorf("%q matched %v, want %v", h, emails, want)
		}
	}
	var n int
	if err := pool.Get(&n, `SELECT count(*) FROM customer`); err != nil || n != 2 {
		t.Errorf("customers left: %d, %v", n, err)
	}
}

func mustPage(t *testing.T) db.Page {
	t.Helper()
	p, err := db.NewCustomerPage(20, 0, "email")
	if err != nil {
		t.Fatal(err)
	}
	return p
}
