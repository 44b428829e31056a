//go:build e2e

package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"customerservice/db/dbtest"
)

// TestSubscriptionClient runs the graphql-ws npm client (e2e/node, pinned
// by its package-lock.json) against a live server: a refused token, the
// event of a mutation, and a resumption after the connection drops
// (e2e/node/subscriptions.mjs).
func TestSubscriptionClient(t *testing.T) {
	ctx := context.Background()
	a, err := newApp(ctx, testConfig(dbtest.URL(t), t.TempDir()), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	srv := httptest.NewServer(a.web)
	defer srv.Close()
	token := adminToken(t, a)
	c := &client{base: srv.URL, token: token, http: &http.Client{Timeout: 10 * time.Second}}
	r, err := c.post(`mutation { create_customer(input: {email: "live@example.com"}) { id } }`)
	if err != nil || len(r.Errors) > 0 {
		t.Fatalf("create customer: %v %+v", err, r.Errors)
	}
	var customer struct{ ID string }
	json.Unmarshal(r.Data["create_customer"], &customer)

	if _, err := os.Stat("e2e/node/node_modules/graphql-ws"); err != nil {
		t.Fatal("the client libraries are not installed: npm ci --prefix e2e/node (.ci/run does)")
	}
	node := exec.Command("node", "--experimental-websocket", "e2e/node/subscriptions.mjs")
	node.Env = append(os.Environ(), "GRAPHQL_URL="+srv.URL+"/graphql", "ADMIN_TOKEN="+token, "CUSTOMER_ID="+customer.ID)
	out, err := node.CombinedOutput()
	t.Logf("node e2e/node/subscriptions.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the graphql-ws client failed: %v", err)
	}
}
