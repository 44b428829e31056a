package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"customerservice/errcode"
)

// documentBudget measures a document before gqlgen validates it, and
// refuses one whose validation or execution could cost more than the
// limits allow. gqlgen's complexity calculation and parts of validation
// walk every fragment spread again, so a few kilobytes that spread
// fragments in fan-out, or repeat one response name, kept a core busy for
// seconds; measured here, with each fragment measured once, such a document
// costs about as much as it is long.
//
// Documents in the query cache passed this check when they were first
// seen, and are not measured again.
type documentBudget struct {
	limits Limits
	// validated is gqlgen's cache of validated documents.
	validated  graphql.Cache[*ast.QueryDocument]
	production bool
}

func (*documentBudget) ExtensionName() string { return "DocumentBudget" }

func (*documentBudget) Validate(graphql.ExecutableSchema) error { return nil }

func (b *documentBudget) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	if err := ctx.Err(); err != nil {
		return deadlineError(err)
	}
	if _, ok := b.validated.Get(ctx, params.Query); ok {
		return nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: params.Query}, b.limits.Tokens)
	if err != nil {
		// gqlgen parses the document again and reports the error.
		return nil
	}
	return b.check(doc)
}

// check measures every operation of doc, not only the one that would run:
// validation looks at all of them. A fragment is measured where operations
// spread it, in place: alone, it would not know whether it selects data or
// the schema (a fragment on __Type), and one no operation spreads is
// refused by validation at the cost of its length.
func (b *documentBudget) check(doc *ast.QueryDocument) *gqlerror.Error {
	m := measurer{doc: doc, fragments: make(map[string]*shape, len(doc.Fragments)), measuring: map[string]bool{}}
	var worst shape
	for _, op := range doc.Operations {
		worst = worst.or(m.selections(op.SelectionSet))
	}
	switch {
	case m.cycle != "":
		// Refused here, as validation would: measured with the cycle cut,
		// the document could look cheaper than it is to expand.
		return limitError("GRAPHQL_VALIDATION_FAILED", "Cannot spread fragment %q within itself.", m.cycle)
	case worst.depth > b.limits.Depth:
		return limitError(errcode.QueryTooDeep, "the query nests %d levels deep; the limit is %d", worst.depth, b.limits.Depth)
	case worst.introspectionDepth > b.limits.IntrospectionDepth:
		return limitError(errcode.QueryTooDeep, "the introspection nests %d levels deep; the limit is %d", worst.introspectionDepth, b.limits.IntrospectionDepth)
	case worst.aliases > b.limits.Aliases:
		return limitError(errcode.TooManyAliases, "the query has %s aliases; the limit is %d", count(worst.aliases), b.limits.Aliases)
	case worst.fields > b.limits.Fields:
		return limitError(errcode.QueryTooComplex, "the query selects %s fields once its fragments are spread; the limit is %d", count(worst.fields), b.limits.Fields)
	case b.production && worst.introspects:
		return limitError(errcode.IntrospectionDisabled, "introspection is turned off on this server")
	}
	return nil
}

// saturated is where counts stop growing: a fan-out of fragments can
// describe 2^64 fields in a kilobyte.
const saturated = 1 << 40

func count(n int) string {
	if n >= saturated {
		return fmt.Sprintf("more than %d", saturated)
	}
	return fmt.Sprint(n)
}

func add(a, b int) int { return min(a+b, saturated) }

// shape is what a selection set costs once its fragments are spread: how
// deep it nests, in data and in introspection, how many aliases and fields
// it has, and whether it introspects the schema.
type shape struct {
	depth, introspectionDepth, aliases, fields int
	introspects                                bool
}

// plus is s and t selected side by side.
func (s shape) plus(t shape) shape {
	return shape{depth: max(s.depth, t.depth), introspectionDepth: max(s.introspectionDepth, t.introspectionDepth),
		aliases: add(s.aliases, t.aliases), fields: add(s.fields, t.fields), introspects: s.introspects || t.introspects}
}

// or is the larger of s and t in each measure.
func (s shape) or(t shape) shape {
	return shape{depth: max(s.depth, t.depth), introspectionDepth: max(s.introspectionDepth, t.introspectionDepth),
		aliases: max(s.aliases, t.aliases), fields: max(s.fields, t.fields), introspects: s.introspects || t.introspects}
}

// measurer measures selection sets, each fragment once: spreading a
// fragment many times costs nothing more to measure.
type measurer struct {
	doc       *ast.QueryDocument
	fragments map[string]*shape
	// measuring holds the fragments being measured; cycle names one spread
	// inside itself.
	measuring map[string]bool
	cycle     string
}

func (m *measurer) selections(set ast.SelectionSet) shape {
	var out shape
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			s := m.selections(sel.SelectionSet)
			s.depth++
			if sel.Name == "__schema" || sel.Name == "__type" {
				// The schema is a fixed, small shape that the standard
				// introspection queries walk 15 levels deep (a type's
				// ofType, nine times): it has a depth limit of its own,
				// and the data limit keeps protecting data.
				s.introspectionDepth = max(s.introspectionDepth, s.depth)
				s.depth = 1
				s.introspects = true
			}
			s.fields = add(s.fields, 1)
			if sel.Alias != "" && sel.Alias != sel.Name {
				s.aliases = add(s.aliases, 1)
			}
			out = out.plus(s)
		case *ast.InlineFragment:
			out = out.plus(m.selections(sel.SelectionSet))
		case *ast.FragmentSpread:
			out = out.plus(*m.fragment(sel.Name))
		}
	}
	return out
}

// fragment measures the fragment of that name; an unknown one (refused by
// validation) measures nothing.
func (m *measurer) fragment(name string) *shape {
	if m.measuring[name] {
		m.cycle = name
		return new(shape)
	}
	if s, ok := m.fragments[name]; ok {
		return s
	}
	s := new(shape)
	if def := m.doc.Fragments.ForName(name); def != nil {
		m.measuring[name] = true
		*s = m.selections(def.SelectionSet)
		delete(m.measuring, name)
	}
	m.fragments[name] = s
	return s
}

func limitError(code errcode.Code, format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	err.Extensions = map[string]any{"code": string(code)}
	return err
}

// deadlineError is the answer to a request whose deadline passed before its
// document was checked.
func deadlineError(err error) *gqlerror.Error {
	return &gqlerror.Error{Err: err, Message: err.Error()}
}
