package graph

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// marshalList stands in for gqlgen's graphql.MarshalSliceConcurrently, so
// it must keep its contract: every element marshaled in order with its
// index in the path, and a panic reported on its element and nulling the
// list.
func TestMarshalList(t *testing.T) {
	newCtx := func() context.Context {
		ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter,
			func(ctx context.Context, p any) error { return errors.New("internal system error") })
		return graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{}})
	}

	ctx := newCtx()
	var indexes []int
	got := marshalList(ctx, 3, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		indexes = append(indexes, *graphql.GetFieldContext(ctx).Index)
		return graphql.MarshalInt(i * 10)
	})
	var buf bytes.Buffer
	got.MarshalGQL(&buf)
	if buf.String() != "[0,10,20]" || len(indexes) != 3 || indexes[2] != 2 {
		t.Errorf("marshalList = %s with indexes %v, want [0,10,20] with 0, 1, 2", buf.String(), indexes)
	}
	if errs := graphql.GetErrors(ctx); len(errs) != 0 {
		t.Errorf("errors: %v", errs)
	}

	if got := marshalList(ctx, 0, 0, false, nil); got == nil || len(got) != 0 {
		t.Errorf("an empty list marshals as %v, want an empty array", got)
	}

	ctx = newCtx()
	got = marshalList(ctx, 3, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		if i == 1 {
			panic("boom")
		}
		return graphql.MarshalInt(i)
	})
	if got != nil {
		t.Errorf("a panicking element left the list %v, want nil", got)
	}
	errs := graphql.GetErrors(ctx)
	if len(errs) != 1 || errs[0].Message != "internal system error" || errs[0].Path.String() != "[1]" {
		t.Errorf("errors = %v, want one internal error at index 1", errs)
	}
}
