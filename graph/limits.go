package graph

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"customerservice/db"
	"customerservice/errcode"
)

// Limits bound the shape of the queries the server runs. A query past any
// of them is refused before it runs a statement.
type Limits struct {
	// Depth is how deeply fields may nest, counted through fragments.
	Depth int
	// IntrospectionDepth is how deeply fields may nest under __schema and
	// __type, which Depth does not count.
	IntrospectionDepth int
	// Aliases is how many aliased fields an operation may have.
	Aliases int
	// Tokens is how many lexical tokens the parser reads.
	Tokens int
	// Fields is how many fields a document may select once its fragments
	// are spread: what validation and execution walk.
	Fields int
	// Complexity is the budget of a query: each field costs 1, and a list
	// field costs its limit times what it selects.
	Complexity int
}

// DefaultLimits returns the limits of the local default and of production.
func DefaultLimits() Limits {
	return Limits{Depth: 12, IntrospectionDepth: 20, Aliases: 15, Tokens: 10_000, Fields: 2_000, Complexity: 5_000}
}

// queryLimits prices the operation a request runs against the complexity
// budget, once its variables are known. The document's shape was measured
// before validation (documentBudget), so the calculation, which walks every
// spread of every fragment, walks at most Limits.Fields fields.
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
	if err := ctx.Err(); err != nil {
		return deadlineError(err)
	}
	if c := complexity.Calculate(ctx, l.schema, opCtx.Operation, opCtx.Variables); c > l.limits.Complexity {
		return limitError(errcode.QueryTooComplex, "the query has complexity %d; the budget is %d (a list costs its limit times what it selects)", c, l.limits.Complexity)
	}
	return nil
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
	c.Query.Customers = func(child int, _ *db.CustomerFilter, limit, _ *int, _ *string, _ *bool, _ *string) int {
		return listCost(child, limit)
	}
	c.Query.CustomerGroups = func(child int, _ *db.CustomerGroupFilter, limit, _ *int, _, _ *string) int {
		return listCost(child, limit)
	}
	c.Query.Orders = func(child int, _ *db.OrderFilter, limit, _ *int, _, _ *string) int { return listCost(child, limit) }
	c.Customer.Orders = func(child int, limit, _ *int, _ *string) int { return listCost(child, limit) }
	c.CustomerGroup.Customers = func(child int, limit, _ *int, _, _ *string) int { return listCost(child, limit) }
	c.Query.Webhooks = func(child int, limit, _ *int, _ *string) int { return listCost(child, limit) }
	c.Webhook.Deliveries = func(child int, limit *int) int { return listCost(child, limit) }
	return c
}

// requestErrorCode returns the code of an error gqlgen raised for a
// malformed or oversized request.
func requestErrorCode(gqlErr *gqlerror.Error) errcode.Code {
	if limit, ok := gqlErr.Extensions[limitKey].(string); ok {
		return errcode.Code(limit)
	}
	switch reason, _ := gqlErr.Extensions["code"].(string); errcode.Code(reason) {
	case errcode.QueryTooDeep, errcode.TooManyAliases, errcode.QueryTooComplex, errcode.IntrospectionDisabled,
		errcode.PersistedQueryNotFound, errcode.PersistedQueryNotInList:
		return errcode.Code(reason)
	}
	if strings.HasPrefix(gqlErr.Message, "exceeded token limit") {
		return errcode.QueryTooLarge
	}
	return errcode.InvalidData
}
