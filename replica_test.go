package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"customerservice/db"
	"customerservice/db/localpg"
)

// primaryAndStandby starts a PostgreSQL primary with the machine's binaries
// and a hot standby streaming from it, copied with pg_basebackup, and
// returns them with the database both serve.
func primaryAndStandby(t *testing.T) (primary, standby *localpg.Cluster) {
	t.Helper()
	ctx := context.Background()
	primary, err := localpg.Start(ctx, localpg.Options{Dir: t.TempDir(), Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { primary.Stop() })
	if _, err := primary.CreateDatabase(ctx, "customerservice"); err != nil {
		t.Fatal(err)
	}
	standby, err = localpg.Start(ctx, localpg.Options{Dir: t.TempDir(), Ephemeral: true, StandbyOf: primary})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standby.Stop() })
	return primary, standby
}

// TestReadReplica runs the server on a primary with a streaming replica
// (DATABASE_REPLICA_URLS): a client that sends back the consistency token
// of its write reads that write, even while the replica has stopped
// replaying; one that sends none is served by the replica, stale then; and
// when the replica is stopped, every read is answered, by the primary.
func TestReadReplica(t *testing.T) {
	primary, standby := primaryAndStandby(t)
	secret := "a token secret of at least thirty-two bytes"
	server := startServer(t, "DATABASE_URL="+primary.URL("customerservice"), "DATABASE_REPLICA_URLS="+standby.URL("customerservice"),
		"DATA_DIR="+t.TempDir(), "TOKEN_SECRET="+secret, "DEMO_CUSTOMERS=0")
	defer func() { server.cmd.Process.Signal(syscall.SIGTERM); server.cmd.Wait() }()

	ctx := context.Background()
	_, admin := adminOn(t, primary.URL("customerservice"), secret)
	onStandby, err := db.Open(ctx, standby.URL("customerservice"))
	if err != nil {
		t.Fatal(err)
	}
	defer onStandby.Close()

	client := &http.Client{Timeout: 10 * time.Second}
	send := func(query string, vars map[string]any, token string) (body, answered string) {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req, _ := http.NewRequest("POST", server.url+"/graphql", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+admin.Token)
		if token != "" {
			req.Header.Set("X-Consistency-Token", token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return string(out), resp.Header.Get("X-Consistency-Token")
	}
	var created struct {
		Data struct {
			C struct{ ID string } `json:"create_customer"`
		}
	}
	body, token := send(`mutation { create_customer(input: {email: "read@example.com", first_name: "Zero"}) { id } }`, nil, "")
	json.Unmarshal([]byte(body), &created)
	id := created.Data.C.ID
	if id == "" || token == "" {
		t.Fatalf("create_customer: %s, token %q", body, token)
	}
	name := func(token string) string {
		t.Helper()
		body, _ := send(`query ($id: ID!) { customer(id: $id) { first_name } }`, map[string]any{"id": id}, token)
		var got struct {
			Data struct {
				Customer struct {
					FirstName string `json:"first_name"`
				}
			}
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil || strings.Contains(body, `"errors"`) {
			t.Fatalf("customer: %s", body)
		}
		return got.Data.Customer.FirstName
	}
	rename := func(to string) string {
		t.Helper()
		body, token := send(`mutation ($id: ID!, $n: String!) { update_customer(id: $id, input: {first_name: $n}) { id } }`, map[string]any{"id": id, "n": to}, "")
		if strings.Contains(body, `"errors"`) || token == "" {
			t.Fatalf("update_customer: %s, token %q", body, token)
		}
		return token
	}

	// Read-your-writes, as fast as a client goes: each read presents the
	// token of the write before it.
	for i := range 50 {
		to := fmt.Sprintf("Name%d", i)
		if got := name(rename(to)); got != to {
			t.Fatalf("read after write %d: %q, want %q", i, got, to)
		}
	}

	// The replica stops replaying: a write it has not replayed is read
	// from the primary by the client who made it, and the replica serves
	// the stale name to a client who asks without a token.
	if _, err := onStandby.Exec(`SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	token = rename("Paused")
	for range 10 {
		if got := name(token); got != "Paused" {
			t.Fatalf("with the token of its write a client read %q, want Paused", got)
		}
	}
	// (Paused where its replay had got to, Name49 or an earlier name.)
	if got := name(""); got == "Paused" || !strings.HasPrefix(got, "Name") {
		t.Errorf("without a token the read gave %q; the paused replica did not serve it", got)
	}
	if _, err := onStandby.Exec(`SELECT pg_wal_replay_resume()`); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); name("") != "Paused"; {
		if time.Now().After(deadline) {
			t.Fatal("the replica did not catch up after replay resumed")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A token the server never gave is refused with a code.
	if body, _ := send(`{ __typename }`, nil, "not a token"); !strings.Contains(body, `"INVALID_DATA"`) {
		t.Errorf("a malformed token: %s", body)
	}

	// The replica goes down: every read is answered, by the primary.
	onStandby.Close()
	if err := standby.Stop(); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		token := ""
		if i%2 == 0 {
			token = rename(fmt.Sprintf("Down%d", i))
		}
		if got := name(token); token != "" && got != fmt.Sprintf("Down%d", i) {
			t.Errorf("read %d with the replica down: %q", i, got)
		}
	}
}
