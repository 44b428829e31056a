package graph

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/graph-gophers/dataloader/v7"
)

// A Load that prefetching did not fill is logged at DEBUG with the loader
// and the GraphQL path that asked, so that an operator who sees
// customerservice_loader_misses_total rise can find the query shape; a
// prefetched key is not.
func TestLoadLogsAMissWithItsPath(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	batches := 0
	l := newLoader("groups_by_customer", logger, time.Millisecond, func(_ context.Context, keys []string) []*dataloader.Result[int] {
		batches++
		out := make([]*dataloader.Result[int], len(keys))
		for i := range keys {
			out[i] = &dataloader.Result[int]{Data: len(keys[i])}
		}
		return out
	})
	ctx := context.Background()
	l.prefetch(ctx, []string{"cus_a"})
	field := graphql.WithPathContext(ctx, graphql.NewPathWithField("groups"))
	field = graphql.WithPathContext(field, graphql.NewPathWithIndex(0))
	field = graphql.WithPathContext(field, graphql.NewPathWithField("customers"))

	if v, err := load(field, l, "cus_a"); err != nil || v != 5 {
		t.Fatalf("prefetched key: %v, %v", v, err)
	}
	if log.Len() != 0 {
		t.Errorf("a prefetched key was logged as a miss: %s", log.String())
	}
	if v, err := load(field, l, "cus_bb"); err != nil || v != 6 {
		t.Fatalf("missed key: %v, %v", v, err)
	}
	line := log.String()
	for _, want := range []string{"level=DEBUG", "loader=groups_by_customer", "path=groups[0].customers"} {
		if !strings.Contains(line, want) {
			t.Errorf("miss logged as %q, want %s in it", line, want)
		}
	}
	if batches != 2 {
		t.Errorf("%d batches, want the prefetch's and the miss's", batches)
	}
}
