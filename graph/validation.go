package graph

import (
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"customerservice/errcode"
)

// MaxErrors is how many errors an answer lists; past it, one more error
// with code TOO_MANY_ERRORS says the list was cut. A document built to fail
// everywhere would otherwise get an answer thousands of times its size.
const MaxErrors = 20

// validationRules returns gqlgen's validation rules as this server runs
// them: overlapping fields are checked in linear time (fieldsCanMerge),
// each validation reports at most MaxErrors errors, and in production no
// message suggests names ("Did you mean ..."), which would map the schema
// for whoever guesses.
func validationRules(schema *ast.Schema, production bool) func() *rules.Rules {
	return func() *rules.Rules {
		all := rules.NewDefaultRules()
		all.ReplaceRule(rules.OverlappingFieldsCanBeMergedRule.Name, fieldsCanMerge(schema))
		errs := 0
		capped := rules.NewRules()
		for name, rule := range all.GetInner() {
			capped.AddRule(name, func(observers *core.Events, addError core.AddErrFunc) {
				rule(observers, func(options ...core.ErrorOption) {
					errs++
					switch {
					case errs <= MaxErrors:
						if production {
							options = append(options, withoutSuggestion)
						}
						addError(options...)
					case errs == MaxErrors+1:
						addError(core.Message("More than %d errors; the rest are not reported.", MaxErrors), tooManyErrors)
					}
				})
			})
		}
		return capped
	}
}

// tooManyErrors marks the error that ends a cut list, for the presenter.
func tooManyErrors(err *gqlerror.Error) {
	if err.Extensions == nil {
		err.Extensions = map[string]any{}
	}
	err.Extensions[limitKey] = string(errcode.TooManyErrors)
}

// limitKey is the extension a limit's code travels in through gqlgen,
// which overwrites "code" on every validation error.
const limitKey = "limit"

// withoutSuggestion cuts what gqlparser appends to a message to suggest
// names: " Did you mean ...?".
func withoutSuggestion(err *gqlerror.Error) {
	if i := strings.Index(err.Message, " Did you mean "); i >= 0 {
		err.Message = err.Message[:i]
	}
}

// fieldsCanMerge is the specification's rule "Field Selection Merging":
// fields that answer under one response name must be the same field with
// the same arguments (when their parents may be the same object), and must
// have compatible types, down through their merged selections.
//
// gqlparser's rule compares the fields of a response name pairwise and
// reports each conflicting pair: 800 aliases of one name cost 160,000
// errors, 48 MB and seconds of CPU. This one follows Simon Adameit's
// algorithm (Sangria, graphql-java): fields are grouped by response name,
// each compared with the first of its group, and each group's selections
// merged and checked the same way, so its work grows with the number of
// fields once fragments are spread (which documentBudget bounds), and a
// group reports one conflict.
func fieldsCanMerge(schema *ast.Schema) core.RuleFunc {
	return func(observers *core.Events, addError core.AddErrFunc) {
		observers.OnOperation(func(walker *core.Walker, op *ast.OperationDefinition) {
			root := rootType(schema, op.Operation)
			if root == nil {
				return
			}
			m := merger{schema: schema, doc: walker.Document, addError: addError, visiting: map[string]bool{}}
			fields := m.collect(nil, root, op.SelectionSet)
			m.sameShape(fields, nil)
			m.sameForCommonParents(fields, nil)
		})
	}
}

func rootType(schema *ast.Schema, op ast.Operation) *ast.Definition {
	switch op {
	case ast.Query:
		return schema.Query
	case ast.Mutation:
		return schema.Mutation
	case ast.Subscription:
		return schema.Subscription
	}
	return nil
}

// selected is a field with the type it was selected on and its definition
// (nil for a field the type lacks, which another rule reports).
type selected struct {
	field  *ast.Field
	parent *ast.Definition
	def    *ast.FieldDefinition
}

// byName is fields grouped by response name, in the order names first
// appear.
type byName struct {
	names  []string
	groups map[string][]selected
}

func (b *byName) add(s selected) {
	if b.groups == nil {
		b.groups = map[string][]selected{}
	}
	name := s.field.Alias
	if name == "" {
		name = s.field.Name
	}
	if _, ok := b.groups[name]; !ok {
		b.names = append(b.names, name)
	}
	b.groups[name] = append(b.groups[name], s)
}

type merger struct {
	schema   *ast.Schema
	doc      *ast.QueryDocument
	addError core.AddErrFunc
	// visiting holds the fragments being spread, so a cycle (reported by
	// another rule) ends.
	visiting map[string]bool
}

// collect adds the fields set selects on parent to into, spreading
// fragments, and returns into.
func (m *merger) collect(into *byName, parent *ast.Definition, set ast.SelectionSet) *byName {
	if into == nil {
		into = &byName{}
	}
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			into.add(selected{field: sel, parent: parent, def: fieldDefinition(m.schema, parent, sel.Name)})
		case *ast.InlineFragment:
			on := parent
			if sel.TypeCondition != "" {
				on = m.schema.Types[sel.TypeCondition]
			}
			if on != nil {
				m.collect(into, on, sel.SelectionSet)
			}
		case *ast.FragmentSpread:
			def := m.doc.Fragments.ForName(sel.Name)
			if def == nil || m.visiting[sel.Name] {
				continue
			}
			if on := m.schema.Types[def.TypeCondition]; on != nil {
				m.visiting[sel.Name] = true
				m.collect(into, on, def.SelectionSet)
				delete(m.visiting, sel.Name)
			}
		}
	}
	return into
}

// fieldDefinition returns the definition of parent's field name, the
// introspection fields included.
func fieldDefinition(schema *ast.Schema, parent *ast.Definition, name string) *ast.FieldDefinition {
	if parent == nil {
		return nil
	}
	switch name {
	case "__typename":
		return &ast.FieldDefinition{Name: name, Type: ast.NonNullNamedType("String", nil)}
	case "__schema":
		if parent == schema.Query {
			return &ast.FieldDefinition{Name: name, Type: ast.NonNullNamedType("__Schema", nil)}
		}
	case "__type":
		if parent == schema.Query {
			return &ast.FieldDefinition{Name: name, Type: ast.NamedType("__Type", nil)}
		}
	}
	return parent.Fields.ForName(name)
}

// children collects the selections of every field of a group, merged.
func (m *merger) children(group []selected) *byName {
	var out *byName
	for _, s := range group {
		if s.def == nil || len(s.field.SelectionSet) == 0 {
			continue
		}
		if t := m.schema.Types[s.def.Type.Name()]; t != nil {
			out = m.collect(out, t, s.field.SelectionSet)
		}
	}
	return out
}

// sameShape checks that every field of a response name has the type of
// the first, whatever their parents; path names the enclosing response
// names.
func (m *merger) sameShape(fields *byName, path []string) {
	if fields == nil {
		return
	}
	for _, name := range fields.names {
		group := fields.groups[name]
		first := group[0]
		for _, s := range group[1:] {
			if first.def != nil && s.def != nil && typesConflict(m.schema, first.def.Type, s.def.Type) {
				m.conflict(path, name, first, s, "they return conflicting types %q and %q", first.def.Type.String(), s.def.Type.String())
				break
			}
		}
		m.sameShape(m.children(group), append(path, name))
	}
}

// sameForCommonParents checks that the fields of a response name whose
// parents may be the same object are the same field with the same
// arguments. Fields selected on different object types never meet in one
// answer, so each object type is its own set; a field selected on an
// abstract type joins every set.
func (m *merger) sameForCommonParents(fields *byName, path []string) {
	if fields == nil {
		return
	}
	for _, name := range fields.names {
		for _, set := range commonParents(fields.groups[name]) {
			first := set[0]
			for _, s := range set[1:] {
				if s.field.Name != first.field.Name {
					m.conflict(path, name, first, s, "%q and %q are different fields", first.field.Name, s.field.Name)
					break
				}
				if !sameArguments(first.field.Arguments, s.field.Arguments) {
					m.conflict(path, name, first, s, "they have differing arguments")
					break
				}
			}
			m.sameForCommonParents(m.children(set), append(path, name))
		}
	}
}

// commonParents splits a group of fields by the object type they were
// selected on.
func commonParents(group []selected) [][]selected {
	var abstract []selected
	var objects []*ast.Definition
	byObject := map[*ast.Definition][]selected{}
	for _, s := range group {
		if s.parent == nil || s.parent.Kind != ast.Object {
			abstract = append(abstract, s)
			continue
		}
		if _, ok := byObject[s.parent]; !ok {
			objects = append(objects, s.parent)
		}
		byObject[s.parent] = append(byObject[s.parent], s)
	}
	if len(objects) <= 1 {
		return [][]selected{group}
	}
	sets := make([][]selected, 0, len(objects))
	for _, o := range objects {
		sets = append(sets, append(byObject[o], abstract...))
	}
	return sets
}

// typesConflict reports whether two fields' types cannot answer under one
// name: lists and non-null must match level by level, and leaf types must
// be the same.
func typesConflict(schema *ast.Schema, a, b *ast.Type) bool {
	if a.NonNull != b.NonNull || (a.Elem == nil) != (b.Elem == nil) {
		return true
	}
	if a.Elem != nil {
		return typesConflict(schema, a.Elem, b.Elem)
	}
	if isLeaf(schema.Types[a.NamedType]) || isLeaf(schema.Types[b.NamedType]) {
		return a.NamedType != b.NamedType
	}
	return false
}

func isLeaf(d *ast.Definition) bool {
	return d != nil && (d.Kind == ast.Scalar || d.Kind == ast.Enum)
}

// sameArguments reports whether two argument lists name the same values,
// in any order.
func sameArguments(a, b ast.ArgumentList) bool {
	if len(a) != len(b) {
		return false
	}
	for _, arg := range a {
		other := b.ForName(arg.Name)
		if other == nil || arg.Value.String() != other.Value.String() {
			return false
		}
	}
	return true
}

// conflict reports two fields that cannot merge, in graphql-js's words.
func (m *merger) conflict(path []string, name string, a, b selected, reason string, args ...any) {
	var msg strings.Builder
	for i, p := range append(path, name) {
		if i == 0 {
			msg.WriteString("Fields " + quote(p) + " conflict because ")
		} else {
			msg.WriteString("subfields " + quote(p) + " conflict because ")
		}
	}
	m.addError(core.Message("%s", msg.String()), core.Message(reason, args...),
		core.Message(". Use different aliases on the fields to fetch both if this was intentional."),
		core.At(a.field.Position), core.At(b.field.Position))
}

func quote(s string) string { return `"` + s + `"` }
