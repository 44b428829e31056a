package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"customerservice/bench"
	"customerservice/db"
	"customerservice/db/dbtest"
)

// The baseline answers the headline query with the server's answer, byte
// for byte, and the same number of statements: only then is the ratio of
// their speeds the cost of the GraphQL layer.
func TestBaselineAnswersAsTheServerDoes(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(dbtest.URL(t), t.TempDir())
	a, err := newApp(ctx, cfg, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if err := loadDataset(ctx, cfg, a.auth, 150, nil); err != nil {
		t.Fatal(err)
	}
	token := adminToken(t, a)
	check := func(ctx context.Context, authorization string) error {
		_, _, _, err := a.auth.Authenticate(ctx, authorization)
		return err
	}
	baseline := bench.Baseline(a.db.pool, check, a.web)
	ask := func(h http.Handler, limit int) (string, int64) {
		body, _ := json.Marshal(map[string]any{"query": bench.Headline, "variables": map[string]any{"limit": limit}})
		req := httptest.NewRequest("POST", "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		ctx, counter := db.WithCounter(req.Context())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req.WithContext(ctx))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		return string(bytes.TrimSpace(rec.Body.Bytes())), counter.Count()
	}
	for _, limit := range []int{1, 20, 100} {
		server, serverStatements := ask(a.web, limit)
		t.Logf("limit %d: %d statements, %d bytes", limit, serverStatements, len(server))
		base, baseStatements := ask(baseline, limit)
		if server != base {
			t.Errorf("limit %d: the server answered\n%s\nthe baseline\n%s", limit, server, base)
		}
		if serverStatements != baseStatements {
			t.Errorf("limit %d: the server sent %d statements, the baseline %d", limit, serverStatements, baseStatements)
		}
	}
	// Anything else is the server's: a login, through the baseline.
	body := `{"query":"mutation { login(actor_type: USER, email: \"ops@example.com\", password: \"ops password\") { token } }"}`
	req := httptest.NewRequest("POST", "/graphql", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	baseline.ServeHTTP(rec, req)
	if !bytes.Contains(rec.Body.Bytes(), []byte(`"token":"`)) {
		t.Errorf("a login through the baseline: %d %s", rec.Code, rec.Body)
	}
}
