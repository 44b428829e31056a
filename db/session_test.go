package db_test

import (
	"context"
	"testing"
	"time"

	"customerservice/db"
	"customerservice/db/dbtest"
)

// The hourly purge deletes sessions and tokens past their use, and nothing
// that still counts.
func TestPurgeSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	identity, err := db.CreateIdentity(ctx, pool, "purge@example.com", "hash")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, name := range []string{"standing", "revoked long ago", "lapsed long ago", "revoked lately"} {
		id, err := db.InTx(ctx, pool, func(tx db.Tx) (string, error) {
			return db.CreateSession(ctx, tx, identity.ID, "customer", "agent\x00 with a NUL", "192.0.2.1", "hash of "+name, time.Now().Add(time.Hour))
		})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	pool.MustExec(`UPDATE auth_session SET revoked_at = now() - interval '31 days', revoked_reason = 'logout' WHERE id = $1`, ids["revoked long ago"])
	pool.MustExec(`UPDATE auth_session SET expires_at = now() - interval '31 days' WHERE id = $1`, ids["lapsed long ago"])
	pool.MustExec(`UPDATE auth_session SET revoked_at = now(), revoked_reason = 'logout' WHERE id = $1`, ids["revoked lately"])
	pool.MustExec(`INSERT INTO refresh_token (token_hash, session_id, used_at) VALUES ('spent long ago', $1, now() - interval '31 days'),
		('spent lately', $1, now())`, ids["standing"])
	for _, c := range []struct{ hash, used, expires string }{
		{"used long ago", "now() - interval '31 days'", "now()"},
		{"expired long ago", "NULL", "now() - interval '31 days'"},
		{"pending", "NULL", "now() + interval '1 hour'"},
	} {
		pool.MustExec(`INSERT INTO email_token (token_hash, auth_identity_id, purpose, email, used_at, expires_at)
			VALUES ($1, $2, 'verify', 'purge@example.com', `+c.used+`, `+c.expires+`)`, c.hash, identity.ID)
	}
	n, err := db.PurgeSessions(ctx, pool, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var left string
	pool.Get(&left, `SELECT concat_ws(' | ',
		(SELECT string_agg(id, ',' ORDER BY id) FROM auth_session),
		(SELECT string_agg(token_hash, ',' ORDER BY token_hash) FROM refresh_token),
		(SELECT string_agg(token_hash, ',' ORDER BY token_hash) FROM email_token))`)
	want := ids["revoked lately"] + "," + ids["standing"]
	if ids["revoked lately"] > ids["standing"] {
		want = ids["standing"] + "," + ids["revoked lately"]
	}
	want += " | hash of revoked lately,hash of standing,spent lately | pending"
	if left != want || n != 5 { // two sessions (their refresh tokens go with them), a refresh token, two email tokens
		t.Errorf("left after the purge (%d deleted): %q, want %q", n, left, want)
	}
	var agent string
	pool.Get(&agent, `SELECT user_agent FROM auth_session WHERE id = $1`, ids["standing"])
	if agent != "agent with a NUL" {
		t.Errorf("user agent stored as %q", agent)
	}
}
