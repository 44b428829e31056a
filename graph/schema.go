package graph

import (
	"bytes"
	"maps"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
)

// servedSchema is the schema of schema.graphqls as the server serves it:
// without the @defer directive that gqlparser declares in every schema.
// Incremental delivery needs an answer streamed in parts, which this
// server's answers (bounded, buffered, kept for Idempotency-Key retries)
// are not; a client that sent @defer got a non-null field as null and no
// error. Unknown to the schema, @defer is refused by validation, and
// introspection does not advertise it.
func servedSchema() *ast.Schema {
	s := *NewExecutableSchema(Config{}).Schema()
	s.Directives = maps.Clone(s.Directives)
	delete(s.Directives, "defer")
	return &s
}

// SDL returns the served schema in the schema definition language, with
// its descriptions and comments, for clients and code generators.
func SDL() []byte {
	var b bytes.Buffer
	formatter.NewFormatter(&b, formatter.WithComments()).FormatSchema(servedSchema())
	return b.Bytes()
}
