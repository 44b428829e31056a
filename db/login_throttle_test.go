package db_test

import (
	"context"
	"testing"

	"customerservice/auth"
	"customerservice/db"
	"customerservice/db/dbtest"
)

// The hourly purge deletes what no longer counts, and nothing else.
func TestPurgeLoginThrottle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	p := auth.DefaultLoginPolicy()
	for _, account := range []string{"old@example.com", "new@example.com"} {
		if _, err := db.CountLoginAttempt(ctx, pool, account, "192.0.2.1", p); err != nil {
			t.Fatal(err)
		}
		if err := db.LoginSucceeded(ctx, pool, account, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.CountLoginAttempt(ctx, pool, account, "192.0.2.2", p); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`UPDATE login_attempt_pair SET window_started_at = now() - interval '16 minutes' WHERE email = 'old@example.com'`,
		`UPDATE login_attempt_address SET window_started_at = now() - interval '16 minutes' WHERE address = '192.0.2.2'`,
		`UPDATE login_attempt_account SET last_attempt_at = now() - interval '25 hours' WHERE email = 'old@example.com'`,
		`UPDATE login_known_address SET last_login_at = now() - interval '31 days' WHERE email = 'old@example.com'`,
	} {
		pool.MustExec(q)
	}
	if err := db.PurgeLoginThrottle(ctx, pool, p); err != nil {
		t.Fatal(err)
	}
	var left string
	err := pool.Get(&left, `SELECT concat_ws(' ',
		(SELECT string_agg(email, ',') FROM login_attempt_pair),
		(SELECT string_agg(address, ',') FROM login_attempt_address),
		(SELECT string_agg(email, ',') FROM login_attempt_account),
		(SELECT string_agg(email, ',') FROM login_known_address))`)
	if err != nil {
		t.Fatal(err)
	}
	if want := "new@example.com 192.0.2.1 new@example.com new@example.com"; left != want {
		t.Errorf("left after the purge: %q, want %q", left, want)
	}
}
