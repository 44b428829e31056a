package model

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// inputPath returns where the value a scalar is reading stands in its
// field's arguments: [input items 0 metadata]. gqlgen records it in path
// contexts as it unmarshals arguments; those of enclosing fields belong to
// other field contexts and are left out.
func inputPath(ctx context.Context) ast.Path {
	fc := graphql.GetFieldContext(ctx)
	var path ast.Path
	for pc := graphql.GetPathContext(ctx); pc != nil && pc.ParentField == fc; pc = pc.Parent {
		switch {
		case pc.Index != nil:
			path = append(path, ast.PathIndex(*pc.Index))
		case pc.Field != nil:
			path = append(path, ast.PathName(*pc.Field))
		}
	}
	slices.Reverse(path)
	return path
}

// inputField names the value a scalar is reading as the db package names
// fields in errors ("input.items.0.quantity"), or "value" when gqlgen did
// not say.
func inputField(ctx context.Context) string {
	path := inputPath(ctx)
	if len(path) == 0 {
		return "value"
	}
	parts := make([]string, len(path))
	for i, p := range path {
		switch p := p.(type) {
		case ast.PathName:
			parts[i] = string(p)
		case ast.PathIndex:
			parts[i] = strconv.Itoa(int(p))
		}
	}
	return strings.Join(parts, ".")
}
