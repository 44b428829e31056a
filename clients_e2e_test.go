//go:build e2e

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Khan/genqlient/graphql"

	"customerservice/db/dbtest"
	"customerservice/db/seed"
	"customerservice/e2e/typed"
)

// TestClients runs the GraphQL clients users bring against a live server:
// Apollo Client 4, graphql-request and graphql-js from npm (e2e/node, pinned
// by its package-lock.json; .ci/run installs them), and a Go client that
// genqlient generated from the introspected schema (e2e/typed).
func TestClients(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(dbtest.URL(t), t.TempDir())
	a, err := newApp(ctx, cfg, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if err := seed.Load(ctx, a.db.pool, 5, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	token := adminToken(t, a)
	srv := httptest.NewServer(a.web)
	defer srv.Close()

	if _, err := os.Stat("e2e/node/node_modules"); err != nil {
		t.Fatal("the client libraries are not installed: npm ci --prefix e2e/node (.ci/run does)")
	}
	sdl := filepath.Join(t.TempDir(), "schema.graphql")
	node := exec.Command("node", "e2e/node/clients.mjs")
	node.Env = append(os.Environ(), "GRAPHQL_URL="+srv.URL+"/graphql", "ADMIN_TOKEN="+token,
		"SCHEMA_FILE=schema.graphqls", "SDL_OUT="+sdl)
	out, err := node.CombinedOutput()
	t.Logf("node e2e/node/clients.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the npm clients failed: %v", err)
	}

	// genqlient's client was generated from the schema as introspection
	// shows it; it must be the schema the server serves now.
	generatedFrom, err := os.ReadFile("e2e/typed/schema.graphql")
	if err != nil {
		t.Fatal(err)
	}
	introspected, err := os.ReadFile(sdl)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(generatedFrom, introspected) {
		if os.Getenv("UPDATE_TYPED") != "" {
			if err := os.WriteFile("e2e/typed/schema.graphql", introspected, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Fatal("e2e/typed/schema.graphql rewritten: run go generate ./e2e/typed and test again")
		}
		t.Fatalf("e2e/typed was generated from another schema: run UPDATE_TYPED=1 go test -tags e2e -run TestClients . and go generate ./e2e/typed (%s is the schema introspection shows)", sdl)
	}
	runTypedClient(t, srv.URL+"/graphql", token)
}

// bearer adds an admin token to the typed client's requests.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// runTypedClient runs genqlient's client: a query with nested relations and
// the custom scalars, and a mutation.
func runTypedClient(t *testing.T, url, token string) {
	ctx := context.Background()
	client := graphql.NewClient(url, &http.Client{Transport: bearer{token, http.DefaultTransport}})
	seeded := "@example.com"
	page, err := typed.CustomerPage(ctx, client, 3, &seeded)
	if err != nil {
		t.Fatalf("typed query: %v", err)
	}
	if page.Customers.Count < 3 || len(page.Customers.Items) != 3 {
		t.Fatalf("typed query: %+v", page.Customers)
	}
	for _, c := range page.Customers.Items {
		if c.Created_at.IsZero() || (strings.HasPrefix(c.Email, "customer") && (len(c.Addresses) != 2 || *c.Addresses[0].City == "")) {
			t.Errorf("typed query: %+v", c)
		}
	}
	name, metadata := "Typed", json.RawMessage(`{"tier": 12345678901234567890}`)
	created, err := typed.CreateCustomer(ctx, client, typed.CreateCustomerInput{Email: "typed@example.com", First_name: &name, Metadata: &metadata})
	if err != nil {
		t.Fatalf("typed mutation: %v", err)
	}
	if c := created.Create_customer; c.Email != "typed@example.com" || *c.First_name != "Typed" || !strings.Contains(string(*c.Metadata), "12345678901234567890") {
		t.Errorf("typed mutation: %+v", c)
	}
	if _, err := typed.CreateCustomer(ctx, client, typed.CreateCustomerInput{Email: "typed@example.com"}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a duplicate by the typed client: %v", err)
	}
	t.Log("genqlient's typed client: query and mutation")
}
