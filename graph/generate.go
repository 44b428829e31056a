//go:build ignore

// Command generate runs gqlgen on gqlgen.yml with one plugin of ours,
// sequentialFields. `go generate ./graph` runs it.
package main

import (
	"fmt"
	"os"
	"slices"

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
}

// concurrentObjects are the types whose fields each may run a statement of
// their own: the root query fields, and the count and items of a page.
var concurrentObjects = []string{"Query", "CustomerList", "CustomerGroupList", "OrderList"}

// sequentialFields makes gqlgen resolve the fields of every other object on
// the goroutine that marshals the object. By default gqlgen starts a
// goroutine for each resolver field of each object, so that dataloaders can
// gather the keys of sibling objects while they wait. Here the resolvers
// that produce objects prefetch the relations the query selects on them
// (graph/prefetch.go), so a relation field finds its value in a loader's
// cache and the goroutines only cost: on the headline query of 100
// customers, about 200 goroutines and a quarter of the server's CPU.
type sequentialFields struct{}

func (sequentialFields) Name() string { return "sequentialfields" }

// GenerateCode runs before gqlgen renders its templates, which read
// DisableConcurrency: the flag gqlgen itself sets on the Mutation type,
// whose fields must run in order.
func (sequentialFields) GenerateCode(data *codegen.Data) error {
	for _, o := range data.Objects {
		if !slices.Contains(concurrentObjects, o.Name) {
			o.DisableConcurrency = true
		}
	}
	return nil
}
