package graph_test

import (
	"encoding/json"
	"testing"
	"time"

	"customerservice/graph"
)

// FuzzHandler posts arbitrary bodies to the whole HTTP stack as an admin
// user: whatever comes, the answer is a JSON GraphQL response, never a 5xx
// or a panic, and no error leaks internals.
func FuzzHandler(f *testing.F) {
	a := seeded(f, 5, time.Now())
	for _, seed := range []string{
		`{"query": "{ customers { count items { email orders { items { id } } } } }"}`,
		`{"query": "query ($l: Int) { customers(limit: $l) { count } }", "variables": {"l": 101}}`,
		`{"query": "mutation { create_customer(input: {email: \"f@example.com\", metadata: {a: [1, {b: null}]}}) { id } }"}`,
		`{"query": "{ customers(filter: {q: \"%_\\\\\", created_at: {gt: \"2024-01-01T00:00:00Z\"}}) { count } }"}`,
		`{"query": "{ __schema { types { name } } }"}`,
		`{"query": "{ customers { ...F } } fragment F on CustomerList { count }"}`,
		`{"query": 12}`, `{}`, `{"query": "{", "variables": []}`, `[]`, `null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b := *a
		b.tb = t
		status, out, _ := b.raw("POST", "application/json", body)
		if status >= 500 {
			t.Fatalf("status %d for %q: %s", status, body, out)
		}
		var resp response
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("not JSON for %q: %s", body, out)
		}
		for _, e := range resp.Errors {
			if e.Extensions["code"] == "INTERNAL" || e.Extensions["code"] == nil {
				t.Errorf("for %q: %+v", body, e)
			}
			checkNoLeak(t, e)
		}
	})
}

// FuzzDocument sends arbitrary documents, seeded with the hostile shapes,
// to the production stack anonymously: whatever comes, the answer is a
// GraphQL response of at most MaxErrors+1 errors and 64 KiB, never INTERNAL.
// Its inputs are bounded by the body limit, so a slow input shows as the
// fuzzer's own timeout.
func FuzzDocument(f *testing.F) {
	a := newAPI(f, func(o *graph.Options) { o.Production = true })
	for _, shape := range hostileShapes {
		doc, _ := shape.doc(shape.sizes[0])
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		b := *a.as("")
		b.tb = t
		body, err := json.Marshal(map[string]any{"query": doc})
		if err != nil {
			return
		}
		status, out, _ := b.raw("POST", "application/json", body)
		if status >= 500 || len(out) > hostileAnswer {
			t.Fatalf("status %d, %d bytes for %q", status, len(out), doc)
		}
		var resp response
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("not JSON for %q: %s", doc, out)
		}
		if len(resp.Errors) > hostileErrors {
			t.Errorf("%d errors for %q", len(resp.Errors), doc)
		}
		for _, e := range resp.Errors {
			if e.Extensions["code"] == "INTERNAL" || e.Extensions["code"] == nil {
				t.Errorf("for %q: %+v", doc, e)
			}
			checkNoLeak(t, e)
		}
	})
}
