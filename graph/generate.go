//go:build ignore

// Command generate runs gqlgen on gqlgen.yml with one plugin of ours,
// sequentialFields, then has the executor marshal lists with marshalList
// (marshal_list.go). `go generate ./graph` runs it.
package main

import (
	"bytes"
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
	if err := sequentialLists(cfg.Exec.Filename); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
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
