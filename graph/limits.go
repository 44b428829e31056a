package graph

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/acme/customerservice/db"
	"github.com/acme/customerservice/errcode"
)

// Limits bound the shape of the queries the server runs. A query past any
// of them is refused before it runs a statement.
type Limits struct {
	// Depth is how deeply fields may nest, counted through fragments.
	Depth int
	// Aliases is how many aliased fields an operation may have.
	Aliases int
	// Tokens is how many lexical tokens the parser reads.
	Tokens int
	// Complexity is the budget of a query: each field costs 1, and a list
	// field costs its limit times what it selects.
	Complexity int
}

// DefaultLimits returns the limits of the local default and of production.
func DefaultLimits() Limits {
	return Limits{Depth: 12, Aliases: 15, Tokens: 10_000, Complexity: 5_000}
}

// queryLimits checks the operation a request runs against the limits, in
// order: its shape first, since the complexity of a query nested without
// bound is not worth computing.
type queryLimits struct {
	limits Limits
	schema graphql.ExecutableSchema
}

func (*queryLimits) ExtensionName() string { return "QueryLimits" }

func (l *queryLimits) Validate(schema graphql.ExecutableSchema) error {
	l.schema = schema
	return nil
}

func (l *queryLimits) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	m := measurer{fragments: map[string]shape{}, doc: opCtx.Doc}
	s := m.selections(opCtx.Operation.SelectionSet)
	switch {
	case s.depth > l.limits.Depth:
		return limitError(errcode.QueryTooDeep, "the query nests %d levels deep; the limit is %d", s.depth, l.limits.Depth)
	case s.aliases > l.limits.Aliases:
		return limitError(errcode.TooManyAliases, "the query has %d aliases; the limit is %d", s.aliases, l.limits.Aliases)
	}
	if c := complexity.Calculate(ctx, l.schema, opCtx.Operation, opCtx.Variables); c > l.limits.Complexity {
		return limitError(errcode.QueryTooComplex, "the query has complexity %d; the budget is %d (a list costs its limit times what it selects)", c, l.limits.Complexity)
	}
	return nil
}

func limitError(code errcode.Code, format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	err.Extensions = map[string]any{"code": string(code)}
	return err
}

// shape is the depth and the number of aliases of a selection set.
type shape struct{ depth, aliases int }

// measurer measures selection sets, each fragment once: spreading a
// fragment many times costs nothing to measure, so a query built to blow
// up when expanded cannot slow the check down.
type measurer struct {
	doc       *ast.QueryDocument
	fragments map[string]shape
}

func (m *measurer) selections(set ast.SelectionSet) shape {
	var out shape
	for _, sel := range set {
		var s shape
		switch sel := sel.(type) {
		case *ast.Field:
			s = m.selections(sel.SelectionSet)
			s.depth++
			if sel.Alias != "" && sel.Alias != sel.Name {
				s.aliases++
			}
		case *ast.InlineFragment:
			s = m.selections(sel.SelectionSet)
		case *ast.FragmentSpread:
			s = m.fragment(sel.Name)
		}
		out.depth = max(out.depth, s.depth)
		out.aliases += s.aliases
	}
	return out
}

func (m *measurer) fragment(name string) shape {
	if s, ok := m.fragments[name]; ok {
		return s
	}
	m.fragments[name] = shape{} // validation has refused cycles; this only guards
	def := m.doc.Fragments.ForName(name)
	if def == nil {
		return shape{}
	}
	s := m.selections(def.SelectionSet)
	m.fragments[name] = s
	return s
}

// listCost is the complexity of a list field: what it selects, times the
// number of items it may return. It saturates rather than overflow.
func listCost(child int, limit *int) int {
	n := intOr(limit, 20)
	const ceiling = 1 << 40
	if n <= 0 {
		return 1 + child
	}
	if child > ceiling/n {
		return ceiling
	}
	return 1 + child*n
}

// listComplexity prices the paginated list fields by their limit.
func listComplexity() ComplexityRoot {
	var c ComplexityRoot
	c.Query.Customers = func(child int, _ *db.CustomerFilter, limit, _ *int, _ *string, _ *bool) int {
		return listCost(child, limit)
	}
	c.Query.CustomerGroups = func(child int, _ *db.CustomerGroupFilter, limit, _ *int, _ *string) int {
		return listCost(child, limit)
	}
	c.Query.Orders = func(child int, _ *db.OrderFilter, limit, _ *int, _ *string) int { return listCost(child, limit) }
	c.Customer.Orders = func(child int, limit, _ *int) int { return listCost(child, limit) }
	c.CustomerGroup.Customers = func(child int, limit, _ *int, _ *string) int { return listCost(child, limit) }
	return c
}

// requestErrorCode returns the code of an error gqlgen raised for a
// malformed or oversized request.
func requestErrorCode(gqlErr *gqlerror.Error) errcode.Code {
	switch reason, _ := gqlErr.Extensions["code"].(string); {
	case reason == string(errcode.QueryTooDeep), reason == string(errcode.TooManyAliases), reason == string(errcode.QueryTooComplex):
		return errcode.Code(reason)
	case strings.HasPrefix(gqlErr.Message, "exceeded token limit"):
		return errcode.QueryTooLarge
	}
	return errcode.InvalidData
}
