package graph_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"customerservice/graph"
	"customerservice/httpserver"
)

func sha(query string) string {
	sum := sha256.Sum256([]byte(query))
	return hex.EncodeToString(sum[:])
}

// persistedRequest posts or gets a document by hash, with or without its
// text, as Apollo's persisted query link does.
func persistedRequest(t *testing.T, h http.Handler, token, method, query, hash string, withText bool) response {
	t.Helper()
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	var req *http.Request
	if method == "GET" {
		e, _ := json.Marshal(ext)
		v := url.Values{"extensions": {string(e)}}
		if withText {
			v.Set("query", query)
		}
		req = httptest.NewRequest("GET", "/graphql?"+v.Encode(), nil)
	} else {
		params := map[string]any{"extensions": ext}
		if withText {
			params["query"] = query
		}
		b, _ := json.Marshal(params)
		req = httptest.NewRequest("POST", "/graphql", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var resp response
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("%s %s: %d %s", method, hash, rec.Code, rec.Body)
	}
	return resp
}

// TestAutomaticPersistedQueries runs Apollo's protocol: a hash the server
// does not know is PERSISTED_QUERY_NOT_FOUND, the document sent with it is
// kept once it validates, and then the hash alone runs it, by POST and by
// GET; a hash that is not the document's is refused.
func TestAutomaticPersistedQueries(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	query := `query Count { customers { count } }`
	hash := sha(query)
	resp := persistedRequest(t, a.h, a.token, "POST", query, hash, false)
	if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "PERSISTED_QUERY_NOT_FOUND" || resp.Errors[0].Message != "PersistedQueryNotFound" {
		t.Fatalf("unknown hash: %+v", resp.Errors)
	}
	if resp := persistedRequest(t, a.h, a.token, "POST", query, hash, true); len(resp.Errors) != 0 {
		t.Fatalf("hash with its document: %+v", resp.Errors)
	}
	for _, method := range []string{"POST", "GET"} {
		if resp := persistedRequest(t, a.h, a.token, method, "", hash, false); len(resp.Errors) != 0 || !strings.Contains(string(resp.Data), `"count":0`) {
			t.Errorf("%s by hash: %+v %s", method, resp.Errors, resp.Data)
		}
	}
	// A document that does not validate is not kept.
	bad := `{ customerz { id } }`
	persistedRequest(t, a.h, a.token, "POST", bad, sha(bad), true)
	if resp := persistedRequest(t, a.h, a.token, "POST", "", sha(bad), false); len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "PERSISTED_QUERY_NOT_FOUND" {
		t.Errorf("an invalid document was kept: %+v", resp.Errors)
	}
	if resp := persistedRequest(t, a.h, a.token, "POST", query, sha("something else"), true); len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "INVALID_DATA" {
		t.Errorf("a hash of another document: %+v", resp.Errors)
	}
}

// TestTrustedDocuments runs a server with a manifest, in Apollo's format and
// in Relay's: the manifest's operations run by id (Apollo's extension or
// Relay's doc_id) or by their exact text; any other document is refused
// before it is parsed, with its own code, in production too.
func TestTrustedDocuments(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	count := `query Count { customers { count } }`
	apollo := `{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id": "` + sha(count) + `", "name": "Count", "type": "query", "body": "` + count + `"}]}`
	relay := `{"c0ffee": "` + count + `"}`
	for name, manifest := range map[string]string{"apollo": apollo, "relay": relay} {
		docs, err := graph.ParseManifest([]byte(manifest))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		h := httpserver.New(httpserver.Config{DB: a.pool, Logger: logger, Production: true,
			GraphQL: graph.NewHandler(a.pool, graph.Options{Auth: a.auth, Logger: logger, Production: true, TrustedDocuments: docs})})
		b := *a
		b.h = h
		id := sha(count)
		if name == "relay" {
			id = "c0ffee"
		}
		if resp := persistedRequest(t, h, a.token, "POST", "", id, false); len(resp.Errors) != 0 {
			t.Errorf("%s: by id: %+v", name, resp.Errors)
		}
		if resp := b.do(count, nil); len(resp.Errors) != 0 {
			t.Errorf("%s: by its text: %+v", name, resp.Errors)
		}
		for _, other := range []string{`{ customers { count } }`, `{ __typename }`, `{ ...F } fragment F on Query { ...F }`} {
			wantError(t, b.fail(other, nil), "PERSISTED_QUERY_NOT_IN_LIST", "not_allowed", "")
		}
		if resp := persistedRequest(t, h, a.token, "POST", count, sha(count+" "), true); len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "PERSISTED_QUERY_NOT_IN_LIST" {
			t.Errorf("%s: a new document by hash: %+v", name, resp.Errors)
		}
	}
	// Relay's doc_id, as Relay's network layer sends it.
	docs, _ := graph.ParseManifest([]byte(relay))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := httpserver.New(httpserver.Config{DB: a.pool, Logger: logger,
		GraphQL: graph.NewHandler(a.pool, graph.Options{Auth: a.auth, Logger: logger, TrustedDocuments: docs})})
	req := httptest.NewRequest("POST", "/graphql", strings.NewReader(`{"doc_id": "c0ffee", "variables": {}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), `"count":0`) {
		t.Errorf("Relay's doc_id: %s", rec.Body)
	}

	for _, bad := range []string{`[]`, `{"format": "apollo-persisted-query-manifest", "version": 2, "operations": []}`, `{"x": 1}`, `{"": "query { a }"}`} {
		if _, err := graph.ParseManifest([]byte(bad)); err == nil {
			t.Errorf("manifest %s: no error", bad)
		}
	}
}
