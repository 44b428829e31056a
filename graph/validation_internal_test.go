package graph

import (
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// mergeCases are documents for the rule "Field Selection Merging", valid
// and not, through aliases, arguments, fragments, inline fragments,
// introspection and nested selections.
var mergeCases = []string{
	`{ me { id } me { email } }`,
	`{ me { id } me { id: email } }`,
	`{ x: me { id } x: __typename }`,
	`{ customer(id: "1") { id } customer(id: "2") { id } }`,
	`{ customer(id: "1") { id } customer(id: "1") { email } }`,
	`query ($a: ID!, $b: ID!) { customer(id: $a) { id } customer(id: $b) { id } }`,
	`query ($a: ID!) { customer(id: $a) { id } customer(id: $a) { id } }`,
	`{ customers(limit: 1, offset: 2) { count } customers(offset: 2, limit: 1) { count } }`,
	`{ customers(limit: 1) { count } customers { count } }`,
	`{ ...A ...B } fragment A on Query { me { id } } fragment B on Query { me { id: email } }`,
	`{ ...A me { id } } fragment A on Query { me { id } }`,
	`{ ...A me { x: id } } fragment A on Query { me { x: email } }`,
	`{ ... on Query { me { id } } me { id } }`,
	`{ ... on Query { m: me { id } } m: customer(id: "1") { id } }`,
	`{ me { orders { items { id } } } me { orders(limit: 2) { items { id } } } }`,
	`{ me { orders { items { id } } } me { orders { items { id: customer_id } } } }`,
	`{ me { orders { count } } me { orders { items { id } } } }`,
	`{ me { a: email } me { a: phone } }`,
	`{ me { a: email } me { a: addresses { id } } }`,
	`{ me { a: addresses { id } } me { a: billing_address { id } } }`,
	`{ __schema { types { name } } __schema { types { kind } } }`,
	`{ __type(name: "Customer") { name } __type(name: "Order") { name } }`,
	`{ a: __typename a: __typename }`,
	`mutation { create_customer(input: {email: "a@example.com"}) { id } create_customer(input: {email: "b@example.com"}) { id } }`,
	`mutation { x: create_customer(input: {email: "a@example.com"}) { id } x: create_customer(input: {email: "a@example.com"}) { id } }`,
	`{ me { ...F } me { ...G } } fragment F on Customer { id email } fragment G on Customer { id: email }`,
	`{ me { ...F ...F } } fragment F on Customer { id }`,
	`{ ...A } fragment A on Query { ...B me { id } } fragment B on Query { me { id: phone } }`,
}

func validateWith(t *testing.T, schema *ast.Schema, doc string, rule core.RuleFunc) gqlerror.List {
	t.Helper()
	parsed, err := parser.ParseQuery(&ast.Source{Input: doc})
	if err != nil {
		t.Fatalf("parse %s: %v", doc, err)
	}
	return validator.ValidateWithRules(schema, parsed, rules.NewRules(core.Rule{Name: "merge", RuleFunc: rule}))
}

// TestFieldsCanMergeAgreesWithGqlparser checks the linear rule against
// gqlparser's pairwise one: a document is refused by both or by neither.
func TestFieldsCanMergeAgreesWithGqlparser(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	for _, doc := range mergeCases {
		ours := validateWith(t, schema, doc, fieldsCanMerge(schema))
		theirs := validateWith(t, schema, doc, rules.OverlappingFieldsCanBeMergedRule.RuleFunc)
		if (len(ours) == 0) != (len(theirs) == 0) {
			t.Errorf("%s\n\tours:  %v\n\tgqlparser's: %v", doc, ours, theirs)
		}
		if len(ours) > 0 && !strings.Contains(ours[0].Message, "conflict because") {
			t.Errorf("%s: message %q", doc, ours[0].Message)
		}
	}
}

// FuzzFieldsCanMerge compares the linear rule with gqlparser's on
// arbitrary documents.
func FuzzFieldsCanMerge(f *testing.F) {
	for _, doc := range mergeCases {
		f.Add(doc)
	}
	schema := NewExecutableSchema(Config{}).Schema()
	f.Fuzz(func(t *testing.T, doc string) {
		parsed, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: doc}, 200)
		if err != nil {
			return
		}
		// The rules assume a document the other rules accept.
		if errs := validator.ValidateWithRules(schema, parsed, withoutRule(rules.OverlappingFieldsCanBeMergedRule.Name)); len(errs) > 0 {
			return
		}
		ours := validator.ValidateWithRules(schema, parsed, rules.NewRules(core.Rule{Name: "merge", RuleFunc: fieldsCanMerge(schema)}))
		theirs := validator.ValidateWithRules(schema, parsed, rules.NewRules(rules.OverlappingFieldsCanBeMergedRule))
		if (len(ours) == 0) != (len(theirs) == 0) {
			t.Errorf("%s\n\tours:  %v\n\tgqlparser's: %v", doc, ours, theirs)
		}
	})
}

func withoutRule(name string) *rules.Rules {
	r := rules.NewDefaultRules()
	r.RemoveRule(name)
	return r
}
