package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"customerservice/db/dbtest"
)

// collector is an OTLP/HTTP trace receiver: what it is sent, it keeps.
type collector struct {
	mu    sync.Mutex
	spans []*tracev1.Span
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	var req collectortrace.ExportTraceServiceRequest
	if err != nil || r.URL.Path != "/v1/traces" || proto.Unmarshal(data, &req) != nil {
		http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	b, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Write(b)
}

func attr(s *tracev1.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// TestTracing sends a traced request to a server that exports to an OTLP
// receiver: the request's span continues the caller's traceparent, the
// GraphQL operation's is named by its operation name, and each SQL
// statement has a span with its text and none of the values sent.
func TestTracing(t *testing.T) {
	ctx := context.Background()
	col := &collector{}
	receiver := httptest.NewServer(col)
	defer receiver.Close()
	cfg := testConfig(dbtest.URL(t), t.TempDir())
	cfg.otlpEndpoint = receiver.URL
	a, err := newApp(ctx, cfg, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.web)
	token := adminToken(t, a)

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	body, _ := json.Marshal(map[string]any{"query": `query CountThem($e: [String!]) { customers(filter: {email: $e}) { count } }`,
		"variables": map[string]any{"e": []string{"secret-value@example.com"}}})
	req, _ := http.NewRequest("POST", srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Traceparent", "00-"+traceID+"-"+parentID+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(answer), `"count":0`) {
		t.Fatalf("answer: %s", answer)
	}
	srv.Close()
	a.close() // flushes the spans

	col.mu.Lock()
	defer col.mu.Unlock()
	var httpSpan, opSpan *tracev1.Span
	var sql []*tracev1.Span
	for _, s := range col.spans {
		if hex.EncodeToString(s.TraceId) != traceID {
			continue
		}
		switch {
		case s.Name == "POST /graphql":
			httpSpan = s
		case s.Name == "query CountThem":
			opSpan = s
		case attr(s, "db.system.name") == "postgresql":
			sql = append(sql, s)
		}
	}
	if httpSpan == nil || hex.EncodeToString(httpSpan.ParentSpanId) != parentID {
		t.Fatalf("no request span under the caller's traceparent among %d spans", len(col.spans))
	}
	if opSpan == nil || !bytes.Equal(opSpan.ParentSpanId, httpSpan.SpanId) {
		t.Fatalf("no operation span named query CountThem under the request's")
	}
	if len(sql) == 0 {
		t.Fatal("no SQL statement span")
	}
	for _, s := range sql {
		text := attr(s, "db.query.text")
		if !bytes.Equal(s.ParentSpanId, opSpan.SpanId) && !bytes.Equal(s.ParentSpanId, httpSpan.SpanId) {
			t.Errorf("SQL span %q is not under the request", s.Name)
		}
		if text == "" || strings.Contains(text, "secret-value") || strings.Contains(text, token) {
			t.Errorf("SQL span %q: statement %q", s.Name, text)
		}
	}
	t.Logf("%d spans: request, operation and %d statements", len(col.spans), len(sql))
}
