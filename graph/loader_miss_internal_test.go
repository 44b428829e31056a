package graph

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/graph-gophers/dataloader/v7"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace/noop"

	"customerservice/observe"
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

// A miss reaches the request's metrics: the walk of every relation path
// (TestEveryRelationPathIsPrefetched) reads zero there, which means
// something only if a miss would show.
func TestLoadCountsAMissInTheRequestsMetrics(t *testing.T) {
	t.Parallel()
	l := newLoader("items_by_order", nil, time.Millisecond, func(_ context.Context, keys []string) []*dataloader.Result[int] {
		out := make([]*dataloader.Result[int], len(keys))
		for i := range keys {
			out[i] = &dataloader.Result[int]{Data: 1}
		}
		return out
	})
	pool, err := sql.Open("postgres", "postgres://nowhere.invalid/x")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	reg := prometheus.NewRegistry()
	var log bytes.Buffer
	h := observe.Middleware(slog.New(slog.NewJSONHandler(&log, nil)), observe.NewMetrics(reg, pool), noop.NewTracerProvider())(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		l.prefetch(r.Context(), []string{"order_a"})
		for _, key := range []string{"order_a", "order_b", "order_c", "order_b"} {
			if _, err := load(r.Context(), l, key); err != nil {
				t.Error(err)
			}
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/graphql", io.NopCloser(strings.NewReader(""))))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got float64
	for _, f := range families {
		if f.GetName() == "customerservice_loader_misses_total" {
			for _, m := range f.GetMetric() {
				if m.GetLabel()[0].GetValue() == "items_by_order" {
					got = m.GetCounter().GetValue()
				}
			}
		}
	}
	// order_b and order_c missed; order_b's second Load finds the first's.
	if got != 2 {
		t.Errorf("customerservice_loader_misses_total{loader=\"items_by_order\"} = %v, want 2", got)
	}
	if !strings.Contains(log.String(), `"loader_misses":2`) {
		t.Errorf("the request's log line: %s", log.String())
	}
}
