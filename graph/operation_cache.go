package graph

import (
	"context"
	"sync"
	"unsafe"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// operationCache holds what the executor works out once per operation for
// a selection that every element of a list repeats: the fields an object's
// selection collects, and the arguments of a field. The generator
// (cachedSelections in generate.go) gives each execution context one.
// gqlgen works both out again for every object: its own cache of collected
// fields hashes the object's type names into a fresh key each time, and
// arguments are parsed into fresh maps; on a page of 100 customers that
// was a tenth of the allocations.
//
// Both depend only on the document and the operation's variables, which
// an operation does not change. The fields of one object may run on
// several goroutines (the list types of concurrentObjects), hence the
// lock.
type operationCache struct {
	mu        sync.Mutex
	collected map[selectionKey][]graphql.CollectedField
	args      map[*ast.Field]map[string]any
}

// selectionKey names a selection set and the types an object satisfies by
// the addresses of their first elements, which the validated document and
// the generated executor hold for the whole operation.
type selectionKey struct {
	selection *ast.Selection
	length    int
	satisfies *string
}

// collectFields is graphql.CollectFields, remembered.
func (c *operationCache) collectFields(op *graphql.OperationContext, sel ast.SelectionSet, satisfies []string) []graphql.CollectedField {
	key := selectionKey{unsafe.SliceData(sel), len(sel), unsafe.SliceData(satisfies)}
	c.mu.Lock()
	fields, ok := c.collected[key]
	c.mu.Unlock()
	if ok {
		return fields
	}
	fields = graphql.CollectFields(op, sel, satisfies)
	c.mu.Lock()
	if c.collected == nil {
		c.collected = make(map[selectionKey][]graphql.CollectedField)
	}
	c.collected[key] = fields
	c.mu.Unlock()
	return fields
}

// fieldArgs returns the arguments of field as parse makes them from the
// document and variables, remembered. Arguments that fail to parse are
// not: each occurrence of the field reports its own error, with its own
// path. The map is shared by every occurrence; nothing writes to it (no
// field middleware is installed: handler.go).
func (c *operationCache) fieldArgs(ctx context.Context, field graphql.CollectedField, variables map[string]any,
	parse func(context.Context, map[string]any) (map[string]any, error),
) (map[string]any, error) {
	c.mu.Lock()
	args, ok := c.args[field.Field]
	c.mu.Unlock()
	if ok {
		return args, nil
	}
	args, err := parse(ctx, field.ArgumentMap(variables))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.args == nil {
		c.args = make(map[*ast.Field]map[string]any)
	}
	c.args[field.Field] = args
	c.mu.Unlock()
	return args, nil
}
