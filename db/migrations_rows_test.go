package db_test

import (
	"context"
	"testing"

	"github.com/golang-migrate/migrate/v4"
	migratepg "github.com/golang-migrate/migrate/v4/database/postgres"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jmoiron/sqlx"

	"customerservice/db"
	"customerservice/db/dbtest"
)

// migrationStep is what a test knows of one migration: rows to put in the
// tables it will change, before it runs, and what must hold after it ran
// up (and after it ran down, with rows in the tables again). A migration
// the test does not know still runs up and down with the rows of the
// others present.
type migrationStep struct {
	before, up, down func(tb testing.TB, q *sqlx.DB)
}

// Ids of the rows the steps share.
const (
	livingA   = "cus_0000000000000000000000000A"
	livingB   = "cus_0000000000000000000000000B"
	livingC   = "cus_0000000000000000000000000C"
	deletedD  = "cus_0000000000000000000000000D"
	groupBig  = "cusgroup_0000000000000000000000000G"
	groupOne  = "cusgroup_0000000000000000000000000H"
	identityA = "authid_0000000000000000000000000A"
	orderA    = "order_0000000000000000000000000A"
)

var migrationSteps = map[uint]migrationStep{
	// 0001 makes the customer graph; the rows the later steps alter go in
	// right after it.
	1: {up: func(tb testing.TB, q *sqlx.DB) {
		exec(tb, q, `INSERT INTO customer (id, email, deleted_at) VALUES
			($1, 'a@example.com', NULL), ($2, 'b@example.com', NULL), ($3, 'c@example.com', NULL), ($4, 'd@example.com', now())`,
			livingA, livingB, livingC, deletedD)
		exec(tb, q, `INSERT INTO customer_group (id, name) VALUES ($1, 'big'), ($2, 'one')`, groupBig, groupOne)
		exec(tb, q, `INSERT INTO customer_group_customer (customer_group_id, customer_id) VALUES ($1, $3), ($1, $4), ($2, $3)`,
			groupBig, groupOne, livingA, livingB)
		exec(tb, q, `INSERT INTO auth_identity (id, email, password_hash, customer_id) VALUES ($1, 'a@example.com', 'hash', $2)`, identityA, livingA)
		exec(tb, q, `INSERT INTO orders (id, customer_id, email, currency_code, subtotal, total) VALUES ($1, $2, 'a@example.com', 'usd', 10, 10)`, orderA, livingA)
	}},
	2: {up: func(tb testing.TB, q *sqlx.DB) {
		exec(tb, q, `INSERT INTO login_failure (email, failures, first_failed_at) VALUES ('a@example.com', 3, now())`)
		exec(tb, q, `INSERT INTO notification (id, recipient, template, data) VALUES
			('noti_0000000000000000000000000P', 'a@example.com', 'password_reset', '{"token": "pending"}'),
			('noti_0000000000000000000000000S', 'a@example.com', 'password_reset', '{}')`)
		exec(tb, q, `UPDATE notification SET sent_at = now() WHERE id = 'noti_0000000000000000000000000S'`)
	}},
	3: {up: func(tb testing.TB, q *sqlx.DB) {
		exec(tb, q, `INSERT INTO order_transfer (id, order_id, customer_id, from_customer_id, token_hash, expires_at)
			VALUES ('ordtr_0000000000000000000000000A', $1, $2, $3, 'hash', now() + interval '1 day')`, orderA, livingB, livingA)
	}},
	4: {up: func(tb testing.TB, q *sqlx.DB) {
		// A kept answer, and a claim the old scheme left unanswered.
		exec(tb, q, `INSERT INTO idempotency_key (scope, key, request_hash, status, response, completed_at) VALUES
			('scope', 'answered', 'h', 200, '{}', now()), ('scope', 'claimed', 'h', NULL, NULL, NULL)`)
	}},
	// 0005 counts the living customers that are there already, and the
	// triggers keep counting.
	5: {
		up: func(tb testing.TB, q *sqlx.DB) {
			wantCount(tb, q, "living customers after 0005", `SELECT sum(n) FROM customer_count`, 3)
			exec(tb, q, `INSERT INTO customer (id, email) VALUES ('cus_0000000000000000000000000E', 'e@example.com')`)
			exec(tb, q, `UPDATE customer SET deleted_at = now() WHERE id = 'cus_0000000000000000000000000E'`)
			exec(tb, q, `UPDATE customer SET deleted_at = NULL WHERE id = $1`, deletedD)
			wantCount(tb, q, "living customers, one added and deleted, one restored", `SELECT sum(n) FROM customer_count`, 4)
			exec(tb, q, `UPDATE customer SET deleted_at = now() WHERE id = $1`, deletedD)
		},
		down: func(tb testing.TB, q *sqlx.DB) {
			wantCount(tb, q, "customer_count after 0005 down", `SELECT count(*) FROM pg_tables WHERE tablename = 'customer_count'`, 0)
			exec(tb, q, `INSERT INTO customer (id, email) VALUES ('cus_0000000000000000000000000F', 'f@example.com')`) // no trigger left to fail
		},
	},
	// 0006 counts the members that are there already.
	6: {
		up: func(tb testing.TB, q *sqlx.DB) {
			wantCount(tb, q, "members of the big group after 0006", `SELECT member_count FROM customer_group WHERE id = $1`, 2, groupBig)
			wantCount(tb, q, "members of the small group after 0006", `SELECT member_count FROM customer_group WHERE id = $1`, 1, groupOne)
			exec(tb, q, `INSERT INTO customer_group_customer (customer_group_id, customer_id) VALUES ($1, $2), ($3, $2)`, groupBig, livingC, groupOne)
			exec(tb, q, `DELETE FROM customer_group_customer WHERE customer_group_id = $1 AND customer_id = $2`, groupBig, livingA)
			wantCount(tb, q, "members of the big group, one in and one out", `SELECT member_count FROM customer_group WHERE id = $1`, 2, groupBig)
			wantCount(tb, q, "members of the small group, one in", `SELECT member_count FROM customer_group WHERE id = $1`, 2, groupOne)
		},
		down: func(tb testing.TB, q *sqlx.DB) {
			wantCount(tb, q, "member_count after 0006 down", `SELECT count(*) FROM information_schema.columns WHERE table_name = 'customer_group' AND column_name = 'member_count'`, 0)
		},
	},
	// 0008 keeps pending messages pending; its down drops the messages it
	// gave up, which lost their token, rather than send them without.
	8: {
		up: func(tb testing.TB, q *sqlx.DB) {
			wantCount(tb, q, "pending messages after 0008", `SELECT count(*) FROM notification WHERE sent_at IS NULL AND abandoned_at IS NULL`, 1)
			exec(tb, q, `INSERT INTO notification (id, recipient, template, abandoned_at) VALUES ('noti_0000000000000000000000000X', 'a@example.com', 'password_reset', now())`)
		},
		down: func(tb testing.TB, q *sqlx.DB) {
			wantCount(tb, q, "messages after 0008 down: the pending and the sent one", `SELECT count(*) FROM notification`, 2)
			wantCount(tb, q, "the given-up message after 0008 down", `SELECT count(*) FROM notification WHERE id = 'noti_0000000000000000000000000X'`, 0)
		},
	},
	// 0009 replaces the member trigger; it still counts.
	9: {
		up: func(tb testing.TB, q *sqlx.DB) {
			exec(tb, q, `DELETE FROM customer_group_customer WHERE customer_group_id = $1 AND customer_id = $2`, groupOne, livingC)
			wantCount(tb, q, "members of the small group after 0009", `SELECT member_count FROM customer_group WHERE id = $1`, 1, groupOne)
		},
		down: func(tb testing.TB, q *sqlx.DB) {
			exec(tb, q, `INSERT INTO customer_group_customer (customer_group_id, customer_id) VALUES ($1, $2)`, groupOne, livingC)
			wantCount(tb, q, "members of the small group after 0009 down", `SELECT member_count FROM customer_group WHERE id = $1`, 2, groupOne)
		},
	},
	// 0010 replaces the lockout; identities keep their rows with the
	// first token generation.
	10: {
		up: func(tb testing.TB, q *sqlx.DB) {
			wantCount(tb, q, "identities after 0010", `SELECT count(*) FROM auth_identity WHERE token_generation = 0`, 1)
			exec(tb, q, `INSERT INTO login_attempt_pair (email, address, attempts, window_started_at) VALUES ('a@example.com', '192.0.2.1', 4, now())`)
			exec(tb, q, `UPDATE auth_identity SET token_generation = 2`)
		},
		down: func(tb testing.TB, q *sqlx.DB) {
			wantCount(tb, q, "identities after 0010 down", `SELECT count(*) FROM auth_identity`, 1)
			exec(tb, q, `INSERT INTO login_failure (email, failures, first_failed_at) VALUES ('a@example.com', 1, now())`)
		},
	},
	11: {
		before: func(tb testing.TB, q *sqlx.DB) {
			exec(tb, q, `INSERT INTO order_transfer (id, order_id, customer_id, from_customer_id, token_hash, status, expires_at)
				VALUES ('ordtr_0000000000000000000000000B', $1, $2, $3, 'hash2', 'declined', now())`, orderA, livingC, livingA)
		},
		up: func(tb testing.TB, q *sqlx.DB) {
			wantCount(tb, q, "transfers after 0011", `SELECT count(*) FROM order_transfer`, 2)
			exec(tb, q, `INSERT INTO password_reset_request (id, email, actor_type) VALUES ('pwreq_0000000000000000000000000A', 'a@example.com', 'customer')`)
		},
		down: func(tb testing.TB, q *sqlx.DB) {
			wantCount(tb, q, "transfers after 0011 down", `SELECT count(*) FROM order_transfer`, 2)
		},
	},
	// 0018 counts the orders that are there already (livingA's orderA, 10
	// usd), gives every customer its statistics row, and the triggers keep
	// counting; transfers gain their options.
	18: {
		up: func(tb testing.TB, q *sqlx.DB) {
			wantCount(tb, q, "customers with statistics after 0018", `SELECT count(*) FROM customer_stats`, 5)
			wantCount(tb, q, "livingA's orders after 0018", `SELECT order_count FROM customer_stats WHERE customer_id = $1`, 1, livingA)
			wantCount(tb, q, "livingA's usd after 0018", `SELECT amount_spent FROM customer_spend WHERE customer_id = $1 AND currency_code = 'usd'`, 10, livingA)
			wantCount(tb, q, "livingB's orders after 0018", `SELECT order_count FROM customer_stats WHERE customer_id = $1`, 0, livingB)
			exec(tb, q, `INSERT INTO orders (id, customer_id, email, currency_code, subtotal, total) VALUES ('order_0000000000000000000000000B', $1, 'b@example.com', 'usd', 5, 5)`, livingB)
			exec(tb, q, `UPDATE orders SET customer_id = $2 WHERE id = $1`, orderA, livingB)
			wantCount(tb, q, "livingB's orders, one placed and one moved", `SELECT order_count FROM customer_stats WHERE customer_id = $1`, 2, livingB)
			wantCount(tb, q, "livingB's usd", `SELECT amount_spent FROM customer_spend WHERE customer_id = $1 AND currency_code = 'usd'`, 15, livingB)
			wantCount(tb, q, "livingA's orders, one moved away", `SELECT order_count FROM customer_stats WHERE customer_id = $1`, 0, livingA)
			wantCount(tb, q, "livingA's last order, none left", `SELECT count(*) FROM customer_stats WHERE customer_id = $1 AND last_order_at IS NULL`, 1, livingA)
			exec(tb, q, `INSERT INTO customer (id, email) VALUES ('cus_0000000000000000000000000G', 'g@example.com')`)
			wantCount(tb, q, "a new customer's statistics row", `SELECT count(*) FROM customer_stats WHERE customer_id = 'cus_0000000000000000000000000G'`, 1)
			exec(tb, q, `UPDATE customer SET deleted_at = now() WHERE id = 'cus_0000000000000000000000000G'`)
		},
		down: func(tb testing.TB, q *sqlx.DB) {
			wantCount(tb, q, "customer_stats after 0018 down", `SELECT count(*) FROM pg_tables WHERE tablename IN ('customer_stats', 'customer_spend')`, 0)
			exec(tb, q, `INSERT INTO orders (id, customer_id, email, currency_code, subtotal, total) VALUES ('order_0000000000000000000000000C', $1, 'c@example.com', 'usd', 5, 5)`, livingC) // no trigger left to fail
		},
	},
	// 0012 drops claims without an answer and keeps the answers.
	12: {
		up: func(tb testing.TB, q *sqlx.DB) {
			wantCount(tb, q, "kept answers after 0012", `SELECT count(*) FROM idempotency_key WHERE key = 'answered'`, 1)
			wantCount(tb, q, "unanswered claims after 0012", `SELECT count(*) FROM idempotency_key WHERE key = 'claimed'`, 0)
		},
		down: func(tb testing.TB, q *sqlx.DB) {
			wantCount(tb, q, "kept answers after 0012 down", `SELECT count(*) FROM idempotency_key`, 1)
		},
	},
	// 0016 lets a transfer be canceled, and adds merges, erasures and
	// account deletion requests; its down turns canceled transfers into
	// declined ones, which 0003 knows.
	16: {
		up: func(tb testing.TB, q *sqlx.DB) {
			exec(tb, q, `UPDATE order_transfer SET status = 'canceled', decided_at = now() WHERE id = 'ordtr_0000000000000000000000000A'`)
			exec(tb, q, `INSERT INTO customer_merge (id, source_id, target_id, kept, identity_moved, order_ids, address_ids, group_ids, transfer_ids)
				VALUES ('cmerge_0000000000000000000000000A', $1, $2, '{"email": "target"}', false, '{}', '{}', '{}', '{}')`, deletedD, livingC)
			exec(tb, q, `INSERT INTO customer_erasure (customer_id, reason, orders, addresses, transfers, events, identity_removed)
				VALUES ($1, 'admin', 0, 0, 0, 0, false)`, deletedD)
			exec(tb, q, `INSERT INTO account_deletion_request (id, customer_id, token_hash, token_expires_at)
				VALUES ('acdel_0000000000000000000000000A', $1, 'hash', now() + interval '1 day')`, livingC)
			wantCount(tb, q, "a redacted change keeps its shape",
				`SELECT count(*) FROM (SELECT event_redact('{"email": {"from": "a@x", "to": null}, "status": "x", "phone": null}') AS r) x
				WHERE r = '{"email": {"from": "[redacted]", "to": null}, "status": "x", "phone": null}'`, 1)
		},
		down: func(tb testing.TB, q *sqlx.DB) {
			wantCount(tb, q, "canceled transfers after 0016 down", `SELECT count(*) FROM order_transfer WHERE status = 'declined'`, 2)
		},
	},
}

func exec(tb testing.TB, q *sqlx.DB, query string, args ...any) {
	tb.Helper()
	if _, err := q.Exec(query, args...); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
}

func wantCount(tb testing.TB, q *sqlx.DB, what, query string, want int, args ...any) {
	tb.Helper()
	var got int
	if err := q.Get(&got, query, args...); err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
	if got != want {
		tb.Errorf("%s: %d, want %d", what, got, want)
	}
}

// TestMigrationsRunWithRows runs every migration up, one at a time, with
// rows in the tables it changes, then down again one at a time, then up
// again: backfills count the rows that are there, triggers keep counting,
// and no migration fails or loses rows because a table is not empty.
func TestMigrationsRunWithRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	conn, err := pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	src, err := iofs.New(db.Migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	drv, err := migratepg.WithConnection(ctx, conn, &migratepg.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "postgres", drv)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	latest, _, err := m.Version()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Down(); err != nil {
		t.Fatalf("down: %v", err)
	}
	ran := 0
	for {
		next, err := src.Next(version(t, m))
		if version(t, m) == 0 {
			next, err = src.First()
		}
		if err != nil {
			break // no migration after this one
		}
		if s := migrationSteps[next]; s.before != nil {
			s.before(t, pool)
		}
		if err := m.Steps(1); err != nil {
			t.Fatalf("up to %d with rows: %v", next, err)
		}
		if s := migrationSteps[next]; s.up != nil {
			s.up(t, pool)
		}
		ran++
		if t.Failed() {
			t.FailNow()
		}
	}
	if v := version(t, m); v != latest {
		t.Fatalf("up one at a time ends at %d, want %d", v, latest)
	}
	if ran < len(migrationSteps) {
		t.Errorf("%d migrations ran, fewer than the %d this test knows", ran, len(migrationSteps))
	}
	// Down one at a time, the rows still there, down to 0005's and 0006's
	// tables and triggers, which the way up again must count anew.
	for v := version(t, m); v > 4; v = version(t, m) {
		if err := m.Steps(-1); err != nil {
			t.Fatalf("down from %d with rows: %v", v, err)
		}
		if s := migrationSteps[v]; s.down != nil {
			s.down(t, pool)
		}
	}
	if err := m.Up(); err != nil {
		t.Fatalf("up again: %v", err)
	}
	// A, B, C and F, added while 0005 was down, are alive; D and E are deleted.
	wantCount(t, pool, "living customers after 0005 again", `SELECT sum(n) FROM customer_count`, 4)
	wantCount(t, pool, "members of the big group after 0006 again", `SELECT member_count FROM customer_group WHERE id = $1`, 2, groupBig)
	wantCount(t, pool, "members of the small group after 0006 again", `SELECT member_count FROM customer_group WHERE id = $1`, 2, groupOne)
	wantCount(t, pool, "identities after 0010 again", `SELECT count(*) FROM auth_identity WHERE token_generation = 0`, 1)
	// And down to nothing with every table full.
	if err := m.Down(); err != nil {
		t.Fatalf("down with rows: %v", err)
	}
	wantCount(t, pool, "tables after every down migration", `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'`, 0)
}

func version(tb testing.TB, m *migrate.Migrate) uint {
	tb.Helper()
	v, dirty, err := m.Version()
	if err == migrate.ErrNilVersion {
		return 0
	}
	if err != nil || dirty {
		tb.Fatalf("version %d, dirty %v: %v", v, dirty, err)
	}
	return v
}
