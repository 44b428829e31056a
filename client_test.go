package main

// A client of the server under test, and the settings tests start it with.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"customerservice/auth"
)

// client posts GraphQL requests to a running server.
type client struct {
	base  string
	token string
	http  *http.Client
}

type reply struct {
	status int
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (c *client) post(query string) (reply, error) {
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest("POST", c.base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	var r reply
	r.status = resp.StatusCode
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return r, err
	}
	return r, nil
}

func (c *client) status(path string) int {
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func testConfig(url, dataDir string) config {
	return config{databaseURL: url, dataDir: dataDir, tokenTTL: time.Hour, requestTimeout: 5 * time.Second,
		shutdownGrace: 10 * time.Second, maxConns: 10}
}

// adminToken creates an admin user and returns its token.
func adminToken(t *testing.T, a *app) string {
	t.Helper()
	ctx := context.Background()
	if _, err := a.auth.CreateUser(ctx, "ops@example.com", "ops password", nil, nil); err != nil {
		t.Fatal(err)
	}
	tok, err := a.auth.Login(ctx, auth.User, "ops@example.com", "ops password")
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
