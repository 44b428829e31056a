//go:build tools

// Package tools records the code generators the module uses, so that go.mod
// pins their versions and `go generate ./...` runs the pinned ones.
package tools

import (
	_ "github.com/99designs/gqlgen"
	_ "github.com/Khan/genqlient"
)
