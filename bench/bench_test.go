package bench

import (
	"os"
	"strings"
	"testing"
)

// TestHeadlineIsTheDatasetsQuery keeps the headline scenarios the query the
// dataset's definition names, since BENCHMARKS.md compares figures by it.
func TestHeadlineIsTheDatasetsQuery(t *testing.T) {
	doc, err := os.ReadFile("../db/seed/DATASET.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```graphql\n")
	query, _, closed := strings.Cut(rest, "```")
	if !ok || !closed {
		t.Fatal("DATASET.md has no graphql block")
	}
	if got, want := strings.Join(strings.Fields(Headline), " "), strings.Join(strings.Fields(query), " "); got != want {
		t.Errorf("Headline = %s\nDATASET.md's query = %s", got, want)
	}
}
