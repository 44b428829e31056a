//go:build ignore

// Command generate runs gqlgen on gqlgen.yml with one plugin of ours,
// sequentialFields, then has the executor marshal lists with marshalList
// (marshal_list.go), read plain scalar fields directly (directFields),
// answer objects resolved in place with object (plainObjects,
// marshal_object.go), work out an object's fields and a field's arguments
// once an operation (cachedSelections, operation_cache.go) and skip the
// deferred fragments no query can have (lazyDeferredGroups).
// `go generate ./graph` runs it.
package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
)

func main() {
	cfg, err := config.LoadConfigFromDefaultLocations()
	if err != nil {
		fmt.Fprintln(os.Stderr, "load gqlgen config:", err)
		os.Exit(2)
	}
	if err := api.Generate(cfg, api.AddPlugin(sequentialFields{})); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	if err := sequentialLists(cfg.Exec.Filename); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	if err := rewriteExecutor(cfg.Exec.Filename); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(5)
	}
}

// sequentialLists makes the executor in file marshal every list with
// marshalList, which has the signature and the error handling of gqlgen's
// graphql.MarshalSliceConcurrently but no goroutine per element: the
// elements' relations are prefetched, so the goroutines would only cost
// (about 500 on the headline query of 100 customers, and 30% of the
// server's CPU). gqlgen has no option for this, so the generator replaces
// the call; it fails, rather than leave the executor as it is, if an
// upgrade of gqlgen changes the call.
func sequentialLists(file string) error {
	const call, replacement = "graphql.MarshalSliceConcurrently(", "marshalList("
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if !bytes.Contains(src, []byte(call)) {
		return fmt.Errorf("%s: gqlgen no longer calls %s; see sequentialLists in graph/generate.go", file, call)
	}
	return os.WriteFile(file, bytes.ReplaceAll(src, []byte(call), []byte(replacement)), 0o644)
}

// concurrentObjects are the types whose fields each may run a statement of
// their own: the root query fields, and the count and items of a page.
var concurrentObjects = []string{"Query", "CustomerList", "CustomerGroupList", "OrderList", "WebhookList"}

// sequentialFields makes gqlgen resolve the fields of every other object on
// the goroutine that marshals the object. By default gqlgen starts a
// goroutine for each resolver field of each object, so that dataloaders can
// gather the keys of sibling objects while they wait. Here the resolvers
// that produce objects prefetch the relations the query selects on them
// (graph/prefetch.go), so a relation field finds its value in a loader's
// cache and the goroutines only cost: on the headline query of 100
// customers, about 200 goroutines and a sixth of the server's CPU.
type sequentialFields struct{}

func (sequentialFields) Name() string { return "sequentialfields" }

// GenerateCode runs before gqlgen renders its templates, which read
// DisableConcurrency: the flag gqlgen itself sets on the Mutation type,
// whose fields must run in order.
func (sequentialFields) GenerateCode(data *codegen.Data) error {
	found := 0
	for _, o := range data.Objects {
		if slices.Contains(concurrentObjects, o.Name) {
			found++
		} else {
			o.DisableConcurrency = true
		}
	}
	if found != len(concurrentObjects) {
		return fmt.Errorf("sequentialfields: the schema lacks one of %v", concurrentObjects)
	}
	return nil
}

// rewriteExecutor applies directFields, plainObjects, cachedSelections and
// lazyDeferredGroups to the executor in file. It fails, rather than leave
// the executor as it is, if one of them finds nothing of the shape it
// rewrites: gqlgen changed, and the rewrite must follow.
func rewriteExecutor(file string) error {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
	if err != nil {
		return err
	}
	if directFields(f) == 0 {
		return fmt.Errorf("%s: no plain scalar field in the shape directFields rewrites; see graph/generate.go", file)
	}
	if plainObjects(f) == 0 {
		return fmt.Errorf("%s: no object in the shape plainObjects rewrites; see graph/generate.go", file)
	}
	if fields, args := cachedSelections(f); fields == 0 || args == 0 {
		return fmt.Errorf("%s: no object or field argument in the shape cachedSelections rewrites; see graph/generate.go", file)
	}
	if lazyDeferredGroups(f) == 0 {
		return fmt.Errorf("%s: no deferred group in the shape lazyDeferredGroups rewrites; see graph/generate.go", file)
	}
	var out bytes.Buffer
	if err := format.Node(&out, fset, f); err != nil {
		return err
	}
	return os.WriteFile(file, out.Bytes(), 0o644)
}

// directFields makes the executor marshal each plain scalar field (a
// struct field of the object, of a scalar or enum type, with no resolver
// and no directive) straight from the object, and returns how many it
// rewrote. gqlgen sends every field through graphql.ResolveField, which
// allocates a field context, a context, an error value and closures, and
// runs the field middleware: nine allocations a field, a fifth of the
// headline page's. For such a field
// none of it can matter: the value is read, not resolved, so it cannot fail
// or panic; no middleware is installed around fields (graph/handler.go);
// and a marshaler that could report a null in a non-null field is left
// alone (directField). The field's result is the marshaler ResolveField
// would return.
func directFields(f *ast.File) int {
	scalarContexts := map[string]bool{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || !strings.HasPrefix(fn.Name.Name, "fieldContext_") {
			continue
		}
		if call := onlyReturnedCall(fn.Body); call != nil && isSelector(call.Fun, "graphql", "NewScalarFieldContext") {
			scalarContexts[fn.Name.Name] = true
		}
	}
	rewritten := 0
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil {
			continue
		}
		if direct := directField(fn, scalarContexts); direct != nil {
			fn.Body.List = []ast.Stmt{&ast.ReturnStmt{Return: fn.Body.Lbrace + 1, Results: []ast.Expr{direct}}}
			fn.Body.Rbrace = fn.Body.Lbrace + 2
			rewritten++
		}
	}
	return rewritten
}

// plainObjects has the executor answer every object but the roots with an
// object (marshal_object.go) in place of a graphql.FieldSet, and drops the
// object's deferred field set, which nothing fills: the schema has no
// @defer (schema.go), so no field is deferred. It returns how many objects
// it rewrote. Such a function begins
//
//	fields := graphql.CollectFields(ec.OperationContext, sel, tImplementors)
//	out := graphql.NewFieldSet(fields)
//	deferredFieldSet := graphql.NewFieldSet(nil)
//	deferLabelToView := make(map[string]*graphql.FieldSetView)
//
// then, for a field resolved concurrently (the objects of
// concurrentObjects), has its branch for a deferred field
//
//	if field.IsDeferred() { ...; continue }
//
// and its function of the field set the result goes to; after the loop
// over the fields, it dispatches the concurrent fields, then counts and
// processes the deferred views (of which there are none).
func plainObjects(f *ast.File) int {
	rewritten := 0
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || fn.Body == nil || len(fn.Body.List) < 5 {
			continue
		}
		body := fn.Body.List
		newSet, ok := definition(body[1], "out")
		if !ok || !isCallOf(newSet, "graphql", "NewFieldSet") || !isDefinitionOf(body[2], "deferredFieldSet") || !isDefinitionOf(body[3], "deferLabelToView") {
			continue
		}
		kept := []ast.Stmt{body[0], body[1]}
		for _, stmt := range body[4:] {
			switch {
			case mentions(stmt, "deferLabelToView") && !mentions(stmt, "deferredFieldSet", "out") ||
				isCallStmt(stmt, "ec", "ProcessDeferredGroup"):
				// The count and the processing of the deferred views.
			case isCallStmt(stmt, "out", "Dispatch") && !mentionsCall(fn.Body, "out", "Concurrently"):
				// Nothing is delayed: every field is resolved in place.
			default:
				kept = append(kept, stmt)
			}
		}
		if slices.ContainsFunc(kept, func(stmt ast.Stmt) bool {
			return mentionsOutside(stmt, isDeferredBranch, "deferredFieldSet", "deferLabelToView")
		}) {
			// A deferred field in a shape this rewrite does not know.
			continue
		}
		fn.Body.List = kept
		dropDeferredBranches(f, fn.Body)
		retypeFieldSets(fn.Body)
		newSet.Fun = ast.NewIdent("newObject")
		rewritten++
	}
	return rewritten
}

// dropDeferredBranches removes from body, a function of file f, every
// statement if field.IsDeferred() { ... }, and the comments in it.
func dropDeferredBranches(f *ast.File, body *ast.BlockStmt) {
	var dropped []ast.Node
	ast.Inspect(body, func(n ast.Node) bool {
		var list *[]ast.Stmt
		switch n := n.(type) {
		case *ast.BlockStmt:
			list = &n.List
		case *ast.CaseClause:
			list = &n.Body
		default:
			return true
		}
		*list = slices.DeleteFunc(*list, func(stmt ast.Stmt) bool {
			if isDeferredBranch(stmt) {
				dropped = append(dropped, stmt)
				return true
			}
			return false
		})
		return true
	})
	f.Comments = slices.DeleteFunc(f.Comments, func(c *ast.CommentGroup) bool {
		return slices.ContainsFunc(dropped, func(n ast.Node) bool { return n.Pos() <= c.Pos() && c.End() <= n.End() })
	})
}

// retypeFieldSets makes the parameters of type *graphql.FieldSet of the
// functions in body, which a concurrent field's result goes to, *object.
func retypeFieldSets(body *ast.BlockStmt) {
	ast.Inspect(body, func(n ast.Node) bool {
		if lit, ok := n.(*ast.FuncLit); ok {
			for _, param := range lit.Type.Params.List {
				if star, ok := param.Type.(*ast.StarExpr); ok && isSelector(star.X, "graphql", "FieldSet") {
					star.X = ast.NewIdent("object")
				}
			}
		}
		return true
	})
}

// rootObjects are the root operation types: their fields run once an
// operation, and nothing is gained by remembering what they work out.
var rootObjects = []string{"Query", "Mutation", "Subscription"}

// cachedSelections gives the execution context an operationCache
// (operation_cache.go) and has the functions of every object but the roots
// ask it for the fields the object's selection collects and for the
// arguments of each field:
//
//	fields := graphql.CollectFields(ec.OperationContext, sel, tImplementors)
//	fc.Args, err = ec.field_T_f_args(ctx, field.ArgumentMap(ec.Variables))
//
// become
//
//	fields := ec.cache.collectFields(ec.OperationContext, sel, tImplementors)
//	fc.Args, err = ec.cache.fieldArgs(ctx, field, ec.Variables, ec.field_T_f_args)
//
// It returns how many calls of each it rewrote.
func cachedSelections(f *ast.File) (fields, args int) {
	cacheField := false
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				ts, ok := spec.(*ast.TypeSpec)
				if !ok || ts.Name.Name != "executionContext" {
					continue
				}
				if st, ok := ts.Type.(*ast.StructType); ok {
					st.Fields.List = append(st.Fields.List, &ast.Field{
						Names: []*ast.Ident{ast.NewIdent("cache")},
						Type:  ast.NewIdent("operationCache"),
					})
					cacheField = true
				}
			}
		case *ast.FuncDecl:
			if d.Recv == nil || d.Body == nil {
				continue
			}
			object, isObject := strings.CutPrefix(d.Name.Name, "_")
			fieldOf, isFieldContext := strings.CutPrefix(d.Name.Name, "fieldContext_")
			if isFieldContext {
				object, _, _ = strings.Cut(fieldOf, "_")
			}
			if !isObject && !isFieldContext || slices.Contains(rootObjects, object) {
				continue
			}
			ast.Inspect(d.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				switch {
				case isObject && isCallOf(call, "graphql", "CollectFields") && len(call.Args) == 3:
					call.Fun = cacheMethod("collectFields")
					fields++
				case isFieldContext && isCallOf(call, "ec", "") && len(call.Args) == 2 &&
					strings.HasSuffix(call.Fun.(*ast.SelectorExpr).Sel.Name, "_args") && isArgumentMap(call.Args[1]):
					call.Args = []ast.Expr{call.Args[0], ast.NewIdent("field"), &ast.SelectorExpr{X: ast.NewIdent("ec"), Sel: ast.NewIdent("Variables")}, call.Fun}
					call.Fun = cacheMethod("fieldArgs")
					args++
				}
				return true
			})
		}
	}
	if !cacheField {
		return 0, 0
	}
	return fields, args
}

func cacheMethod(name string) ast.Expr {
	return &ast.SelectorExpr{X: &ast.SelectorExpr{X: ast.NewIdent("ec"), Sel: ast.NewIdent("cache")}, Sel: ast.NewIdent(name)}
}

// isArgumentMap reports whether e is field.ArgumentMap(ec.Variables).
func isArgumentMap(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	return ok && isCallOf(call, "field", "ArgumentMap") && len(call.Args) == 1 && isSelector(call.Args[0], "ec", "Variables")
}

// definition returns the right side of stmt when stmt is name := call(...).
func definition(stmt ast.Stmt, name string) (*ast.CallExpr, bool) {
	as, ok := stmt.(*ast.AssignStmt)
	if !ok || as.Tok != token.DEFINE || len(as.Lhs) != 1 || len(as.Rhs) != 1 || !isIdent(as.Lhs[0], name) {
		return nil, false
	}
	call, ok := as.Rhs[0].(*ast.CallExpr)
	return call, ok
}

func isDefinitionOf(stmt ast.Stmt, name string) bool {
	_, ok := definition(stmt, name)
	return ok
}

func isCallOf(call *ast.CallExpr, x, sel string) bool {
	return call != nil && isSelector(call.Fun, x, sel)
}

// isCallStmt reports whether stmt is a call of x.sel standing alone.
func isCallStmt(stmt ast.Stmt, x, sel string) bool {
	es, ok := stmt.(*ast.ExprStmt)
	if !ok {
		return false
	}
	call, ok := es.X.(*ast.CallExpr)
	return ok && isCallOf(call, x, sel)
}

// mentions reports whether node uses one of names as an identifier.
func mentions(node ast.Node, names ...string) bool {
	return mentionsOutside(node, func(ast.Node) bool { return false }, names...)
}

// mentionsOutside is mentions, but for the nodes in node that skip
// reports, which it does not look into.
func mentionsOutside(node ast.Node, skip func(ast.Node) bool, names ...string) bool {
	found := false
	ast.Inspect(node, func(n ast.Node) bool {
		if skip(n) {
			return false
		}
		if id, ok := n.(*ast.Ident); ok && slices.Contains(names, id.Name) {
			found = true
		}
		return !found
	})
	return found
}

// isDeferredBranch reports whether n is if field.IsDeferred() { ... }.
func isDeferredBranch(n ast.Node) bool {
	is, ok := n.(*ast.IfStmt)
	if !ok {
		return false
	}
	call, ok := is.Cond.(*ast.CallExpr)
	return ok && isCallOf(call, "field", "IsDeferred")
}

// mentionsCall reports whether node calls x.sel.
func mentionsCall(node ast.Node, x, sel string) bool {
	found := false
	ast.Inspect(node, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok && isCallOf(call, x, sel) {
			found = true
		}
		return !found
	})
	return found
}

// lazyDeferredGroups puts each object's call of ProcessDeferredGroup
// behind a check that the object has deferred fragments, and returns how
// many it rewrote. The call returns at once when there are none, which is
// always (the schema has no @defer: graph/schema.go), but its argument is
// built first, with the object's path: a walk up the field contexts and a
// slice for every object of the answer, a tenth of the headline's
// allocations.
func lazyDeferredGroups(f *ast.File) int {
	rewritten := 0
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		for i, stmt := range fn.Body.List {
			es, ok := stmt.(*ast.ExprStmt)
			if !ok {
				continue
			}
			call, ok := es.X.(*ast.CallExpr)
			if !ok || !isSelector(call.Fun, "ec", "ProcessDeferredGroup") || len(call.Args) != 1 {
				continue
			}
			group, ok := call.Args[0].(*ast.CompositeLit)
			if !ok {
				continue
			}
			var defers ast.Expr
			for _, e := range group.Elts {
				if kv, ok := e.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "Defers") {
					defers = kv.Value
				}
			}
			if defers == nil {
				continue
			}
			fn.Body.List[i] = &ast.IfStmt{
				If: es.Pos(),
				Cond: &ast.BinaryExpr{
					X:  &ast.CallExpr{Fun: ast.NewIdent("len"), Args: []ast.Expr{defers}},
					Op: token.GTR,
					Y:  &ast.BasicLit{Kind: token.INT, Value: "0"},
				},
				Body: &ast.BlockStmt{List: []ast.Stmt{es}},
			}
			rewritten++
		}
	}
	return rewritten
}

// directField returns the direct marshaling of the field fn resolves, or
// nil when fn is not a plain scalar field:
//
//	return graphql.ResolveField(ctx, ec.OperationContext, field,
//		func(...) (...) { return ec.fieldContext_T_f(ctx, field) }, // a scalar's
//		func(ctx context.Context) (any, error) { return obj.F, nil },
//		nil, // no directive
//		func(ctx context.Context, selections ast.SelectionSet, v T) graphql.Marshaler {
//			return ec.marshalXT(ctx, selections, v)
//		}, true, nonNull)
//
// becomes return ec.marshalXT(ctx, field.Selections, obj.F).
func directField(fn *ast.FuncDecl, scalarContexts map[string]bool) ast.Expr {
	call := onlyReturnedCall(fn.Body)
	if call == nil || !isSelector(call.Fun, "graphql", "ResolveField") || len(call.Args) != 9 {
		return nil
	}
	fieldContext := onlyReturnedCall(funcLitBody(call.Args[3]))
	if fieldContext == nil || !isSelector(fieldContext.Fun, "ec", "") || !scalarContexts[fieldContext.Fun.(*ast.SelectorExpr).Sel.Name] {
		return nil
	}
	resolve := funcLitBody(call.Args[4])
	if resolve == nil || len(resolve.List) != 1 {
		return nil
	}
	ret, ok := resolve.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 2 || !isIdent(ret.Results[1], "nil") || !isSelector(ret.Results[0], "obj", "") {
		return nil
	}
	if !isIdent(call.Args[5], "nil") {
		return nil
	}
	lit, ok := call.Args[6].(*ast.FuncLit)
	if !ok || len(lit.Type.Params.List) != 3 {
		return nil
	}
	marshal := onlyReturnedCall(lit.Body)
	if marshal == nil || !isSelector(marshal.Fun, "ec", "") || len(marshal.Args) != 3 ||
		!isIdent(marshal.Args[1], "selections") || !isIdent(marshal.Args[2], "v") {
		return nil
	}
	name := marshal.Fun.(*ast.SelectorExpr).Sel.Name
	// A non-null field's marshaler reports a null value, with the field's
	// path, which the direct call would not have: only values that cannot
	// be null (not pointers, slices, maps or interfaces) take it.
	if strings.HasPrefix(name, "marshalN") && !neverNull(lit.Type.Params.List[2].Type) {
		return nil
	}
	return &ast.CallExpr{Fun: marshal.Fun, Args: []ast.Expr{
		ast.NewIdent("ctx"),
		&ast.SelectorExpr{X: ast.NewIdent("field"), Sel: ast.NewIdent("Selections")},
		ret.Results[0],
	}}
}

// neverNull reports whether a value of type t cannot be nil: Go's basic
// types and time.Time.
func neverNull(t ast.Expr) bool {
	switch t := t.(type) {
	case *ast.Ident:
		switch t.Name {
		case "string", "bool", "int", "int32", "int64", "float64":
			return true
		}
	case *ast.SelectorExpr:
		return isSelector(t, "time", "Time")
	}
	return false
}

// onlyReturnedCall returns the call of a body that is one return of one
// call, or nil.
func onlyReturnedCall(body *ast.BlockStmt) *ast.CallExpr {
	if body == nil || len(body.List) != 1 {
		return nil
	}
	ret, ok := body.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 1 {
		return nil
	}
	call, _ := ret.Results[0].(*ast.CallExpr)
	return call
}

func funcLitBody(e ast.Expr) *ast.BlockStmt {
	if lit, ok := e.(*ast.FuncLit); ok {
		return lit.Body
	}
	return nil
}

// isSelector reports whether e is x.sel, or x.anything when sel is empty.
func isSelector(e ast.Expr, x, sel string) bool {
	s, ok := e.(*ast.SelectorExpr)
	return ok && isIdent(s.X, x) && (sel == "" || s.Sel.Name == sel)
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}
