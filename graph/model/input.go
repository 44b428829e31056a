package model

import (
	"context"
	"encoding/json"
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

// literal returns the value in the query document that the value a scalar
// is reading came from, or nil when it came from a variable or cannot be
// found.
func literal(ctx context.Context) *ast.Value {
	fc := graphql.GetFieldContext(ctx)
	path := inputPath(ctx)
	if fc == nil || fc.Field.Field == nil || len(path) == 0 {
		return nil
	}
	name, ok := path[0].(ast.PathName)
	if !ok {
		return nil
	}
	arg := fc.Field.Arguments.ForName(string(name))
	if arg == nil {
		return nil
	}
	v := arg.Value
	for _, p := range path[1:] {
		if v == nil || v.Kind == ast.Variable {
			return nil
		}
		switch p := p.(type) {
		case ast.PathName:
			if v.Kind != ast.ObjectValue {
				return nil
			}
			v = v.Children.ForName(string(p))
		case ast.PathIndex:
			switch {
			case v.Kind == ast.ListValue && int(p) < len(v.Children):
				v = v.Children[p].Value
			case v.Kind != ast.ListValue && p == 0:
				// GraphQL reads a single value given for a list as a list
				// of one.
			default:
				return nil
			}
		}
	}
	if v == nil || v.Kind == ast.Variable {
		return nil
	}
	return v
}

// withLiteralNumbers returns v, decoded by gqlparser from the literal lit,
// with lit's numbers as json.Number, digit for digit: gqlparser decodes an
// inline float to a float64, which keeps about 17 significant digits.
// Values of variables inside the literal stay as gqlgen decoded them
// (json.Number too). v itself is not modified.
func withLiteralNumbers(lit *ast.Value, v any) any {
	switch lit.Kind {
	case ast.IntValue, ast.FloatValue:
		// GraphQL's number syntax is a subset of JSON's.
		return json.Number(lit.Raw)
	case ast.ObjectValue:
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[k] = x
		}
		for _, c := range lit.Children {
			if x, ok := m[c.Name]; ok {
				out[c.Name] = withLiteralNumbers(c.Value, x)
			}
		}
		return out
	case ast.ListValue:
		l, ok := v.([]any)
		if !ok || len(l) != len(lit.Children) {
			return v
		}
		out := make([]any, len(l))
		for i, x := range l {
			out[i] = withLiteralNumbers(lit.Children[i].Value, x)
		}
		return out
	}
	return v
}
