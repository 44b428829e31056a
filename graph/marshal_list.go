package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// marshalList marshals the elements of a list one after the other. The
// generator (generate.go) has the executor call it in place of gqlgen's
// graphql.MarshalSliceConcurrently, which starts a goroutine for each
// element so that dataloaders can gather the keys of the elements'
// relations while they wait. Here the resolver that produced the list has
// prefetched those relations (prefetch.go) and the loaders' caches answer
// at once, so the goroutines only cost: their start, and the growth of
// their stacks, were 30% of the server's CPU on a page of 100 customers.
//
// Like the function it replaces, it gives each element a field context
// with its index, and a panic in an element is reported as an error of
// that element and nulls the list, unless the executor was generated
// without panic handlers; workerLimit has no use without goroutines. The
// elements' field contexts and indexes are allocated together, one
// allocation a list rather than two an element.
func marshalList(ctx context.Context, length int, _ int64, omitPanicHandler bool, marshalElement func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	ret := make(graphql.Array, length)
	elements := make([]element, length)
	for i := range length {
		e := &elements[i]
		e.index = i
		e.context.Index = &e.index
		elementCtx := graphql.WithFieldContext(ctx, &e.context)
		if omitPanicHandler {
			ret[i] = marshalElement(elementCtx, i)
			continue
		}
		if !marshalRecovering(elementCtx, i, ret, marshalElement) {
			return nil
		}
	}
	return ret
}

// element is the field context of a list's element, and the index it
// points to.
type element struct {
	context graphql.FieldContext
	index   int
}

// marshalRecovering marshals element i into ret and reports whether it did
// without a panic.
func marshalRecovering(ctx context.Context, i int, ret graphql.Array, marshalElement func(ctx context.Context, i int) graphql.Marshaler) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			graphql.AddError(ctx, graphql.Recover(ctx, r))
			ok = false
		}
	}()
	ret[i] = marshalElement(ctx, i)
	return true
}
