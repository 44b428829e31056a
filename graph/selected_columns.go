package graph

import (
	"github.com/vektah/gqlparser/v2/ast"

	"customerservice/db"
)

// columns are the columns that the lists and loaders of one operation read
// for each row type: those behind every field the operation selects on the
// type, wherever it selects it. The union over the whole operation lets
// every list and loader share rows: a customer a list primes into
// CustomerByID serves any other place of the operation that loads it.
type columns struct {
	customer db.Columns[db.Customer]
	address  db.Columns[db.Address]
	group    db.Columns[db.CustomerGroup]
	order    db.Columns[db.Order]
}

// columnsOf returns the columns op needs. op must be validated, so that
// fields know the type they are selected on and spreads their fragment.
// Fields under @skip or @include count as selected: reading a column more
// is harmless, and one less is not.
func columnsOf(op *ast.OperationDefinition) columns {
	fields := make(map[string][]string) // type name → field names
	walked := make(map[*ast.FragmentDefinition]bool)
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				if sel.ObjectDefinition != nil {
					fields[sel.ObjectDefinition.Name] = append(fields[sel.ObjectDefinition.Name], sel.Name)
				}
				walk(sel.SelectionSet)
			case *ast.InlineFragment:
				walk(sel.SelectionSet)
			case *ast.FragmentSpread:
				if d := sel.Definition; d != nil && !walked[d] {
					walked[d] = true
					walk(d.SelectionSet)
				}
			}
		}
	}
	if op == nil {
		return columns{} // every column
	}
	walk(op.SelectionSet)
	return columns{
		customer: db.CustomerColumns(fields["Customer"]),
		address:  db.AddressColumns(fields["Address"]),
		group:    db.GroupColumns(fields["CustomerGroup"]),
		order:    db.OrderColumns(fields["Order"]),
	}
}
