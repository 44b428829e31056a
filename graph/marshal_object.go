package graph

import (
	"context"
	"io"
	"sync"

	"github.com/99designs/gqlgen/graphql"
)

// object is the answer of one object: its collected fields and their
// values, in order. The generator (plainObjects) has the executor build
// one in place of gqlgen's graphql.FieldSet, whose machinery serves
// deferred fields, which the schema does not have, and whose marshaling
// costs for every object a map of the aliases written and a heap copy of
// each field: a sixth of the allocations of a page of 100 customers.
type object struct {
	fields []graphql.CollectedField
	// Values and Invalids are read and written by the generated code,
	// under the names graphql.FieldSet gives them.
	Values   []graphql.Marshaler
	Invalids uint32
	// delayed are the fields resolved concurrently (the objects of
	// concurrentObjects in generate.go), by Dispatch; inlineDelayed holds
	// the two of a customer's orders (count, items).
	delayed       []delayedField
	inlineDelayed [2]delayedField
	// inline holds the values of an object of few fields, so that the
	// object and its values are one allocation.
	inline [8]graphql.Marshaler
}

func newObject(fields []graphql.CollectedField) *object {
	o := &object{fields: fields}
	if len(fields) <= len(o.inline) {
		o.Values = o.inline[:len(fields):len(fields)]
	} else {
		o.Values = make([]graphql.Marshaler, len(fields))
	}
	return o
}

type delayedField struct {
	i       int
	resolve func(context.Context) graphql.Marshaler
}

// Concurrently has Dispatch resolve field i with resolve.
func (o *object) Concurrently(i int, resolve func(context.Context) graphql.Marshaler) {
	if o.delayed == nil {
		o.delayed = o.inlineDelayed[:0]
	}
	o.delayed = append(o.delayed, delayedField{i, resolve})
}

// Dispatch resolves the delayed fields, each but the first on a goroutine
// of its own, as graphql.FieldSet does, and returns when all are. The
// generated resolve functions recover their own panics.
func (o *object) Dispatch(ctx context.Context) {
	switch len(o.delayed) {
	case 0:
		return
	case 1:
		o.Values[o.delayed[0].i] = o.delayed[0].resolve(ctx)
		return
	}
	var wg sync.WaitGroup
	for _, d := range o.delayed[1:] {
		wg.Go(func() { o.Values[d.i] = d.resolve(ctx) })
	}
	first := o.delayed[0]
	o.Values[first.i] = first.resolve(ctx)
	wg.Wait()
}

// MarshalGQL writes the object as gqlgen would: its fields in the order
// collected, each response name once. Names need no escaping: the
// GraphQL grammar limits them to letters, digits and underscores.
func (o *object) MarshalGQL(w io.Writer) {
	io.WriteString(w, "{")
	for i := range o.fields {
		alias := o.fields[i].Alias
		if written(o.fields[:i], alias) {
			continue
		}
		if i > 0 {
			io.WriteString(w, ",")
		}
		io.WriteString(w, `"`)
		io.WriteString(w, alias)
		io.WriteString(w, `":`)
		o.Values[i].MarshalGQL(w)
	}
	io.WriteString(w, "}")
}

// written reports whether one of fields answers to alias. CollectFields
// merges the selections of a response name unless they were made on two
// unrelated interfaces of the object; the answer has the first.
func written(fields []graphql.CollectedField, alias string) bool {
	for i := range fields {
		if fields[i].Alias == alias {
			return true
		}
	}
	return false
}
