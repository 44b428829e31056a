package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// LoginLimits are the numbers CountLoginAttempt counts attempts against
// and PurgeLoginThrottle keeps rows for; the service that enforces them
// chooses them. Accounts are clean emails (known or not), addresses are
// client addresses as auth keys them (an IPv4 address, an IPv6 /64).
type LoginLimits struct {
	// Window is how long the pair and address counts run.
	Window time.Duration
	// PerPair is how many attempts one address may make at one account in
	// a window.
	PerPair int
	// PerAddress is how many attempts one address may make in a window,
	// whatever the accounts.
	PerAddress int
	// FreeChecks is how many checks an account gets from addresses it has
	// never logged in from, since its last successful login, before each
	// one waits: FirstDelay after the FreeChecks-th, then twice as long
	// after each check, up to MaxDelay.
	FreeChecks int
	FirstDelay time.Duration
	MaxDelay   time.Duration
	// Quiet is how long an account must see no attempts for its count to
	// start over without a successful login.
	Quiet time.Duration
	// KnownFor is how long an address a login succeeded from counts as the
	// account's.
	KnownFor time.Duration
}

// LoginVerdict is what CountLoginAttempt decided.
type LoginVerdict struct {
	// Wait is zero when the password may be checked now; otherwise it is
	// how long until the limit that refused the attempt lets one through.
	Wait time.Duration
	// Reached names the pair ("account and address") or address limit
	// when this attempt is the first it refuses in its window: the moment
	// worth an event, where the refusals after it are not.
	Reached string
}

// CountLoginAttempt counts an attempt to log in to account from address,
// before its password is checked, and says whether it may be checked. It
// is one statement: the pair and address counts are incremented, and the
// account's delay is taken, atomically, so concurrent attempts are counted
// one after the other and never more than the limits are checked. An
// attempt refused by the pair or address limit still counts against them
// (the window does not move) but takes nothing from the account; one from
// an address the account logged in from does not touch the account's count.
func CountLoginAttempt(ctx context.Context, q sqlx.QueryerContext, account, address string, p LoginLimits) (LoginVerdict, error) {
	// Each CTE reads the one before it, so a statement locks the pair row,
	// then the address row, then the account row, always in that order:
	// two attempts cannot each hold a row the other waits for. The account
	// row's times are read from the clock once, once the row is locked, and
	// every wait is measured at the end: now() is when the statement began,
	// maybe before it waited for the row while another attempt set a later
	// time in it. The account waits FirstDelay * 2^(n - FreeChecks) after
	// its n-th check (capped), not at all before the FreeChecks-th; after a
	// quiet day it starts over.
	const query = `WITH pair AS (
		INSERT INTO login_attempt_pair AS p (email, address, attempts, window_started_at) VALUES ($1, $2, 1, now())
		ON CONFLICT (email, address) DO UPDATE SET
			attempts = CASE WHEN p.window_started_at <= now() - make_interval(secs => $3) THEN 1 ELSE p.attempts + 1 END,
			window_started_at = CASE WHEN p.window_started_at <= now() - make_interval(secs => $3) THEN now() ELSE p.window_started_at END
		RETURNING p.attempts, p.window_started_at
	), addr AS (
		INSERT INTO login_attempt_address AS a (address, attempts, window_started_at) SELECT $2, 1, now() FROM pair
		ON CONFLICT (address) DO UPDATE SET
			attempts = CASE WHEN a.window_started_at <= now() - make_interval(secs => $3) THEN 1 ELSE a.attempts + 1 END,
			window_started_at = CASE WHEN a.window_started_at <= now() - make_interval(secs => $3) THEN now() ELSE a.window_started_at END
		RETURNING a.attempts, a.window_started_at
	), known AS (
		SELECT EXISTS (SELECT 1 FROM login_known_address k
			WHERE k.email = $1 AND k.address = $2 AND k.last_login_at > now() - make_interval(secs => $9)) AS known
	), account AS (
		INSERT INTO login_attempt_account AS c (email, attempts, granted, next_attempt_at, last_attempt_at)
		SELECT $1, 1, true, clock.at + make_interval(secs => CASE WHEN 1 < $6::int THEN 0 ELSE least($10::float8, $7::float8) END), clock.at
		FROM pair, addr, known, (SELECT clock_timestamp() AS at) AS clock
		WHERE pair.attempts <= $4 AND addr.attempts <= $5 AND NOT known.known
		ON CONFLICT (email) DO UPDATE SET (attempts, granted, next_attempt_at, last_attempt_at) = (
			SELECT d.attempts, d.granted,
				CASE WHEN NOT d.granted THEN c.next_attempt_at
					WHEN d.attempts < $6::int THEN d.at
					ELSE d.at + make_interval(secs => least($10::float8 * power(2, least(d.attempts - $6::int, 30)), $7::float8)) END,
				d.at
			FROM (SELECT clock.at, f.fresh OR c.next_attempt_at <= clock.at AS granted,
					CASE WHEN f.fresh THEN 1 WHEN c.next_attempt_at <= clock.at THEN c.attempts + 1 ELSE c.attempts END AS attempts
				FROM (SELECT clock_timestamp() AS at) AS clock,
					LATERAL (SELECT c.last_attempt_at <= clock.at - make_interval(secs => $8) AS fresh) AS f) AS d)
		RETURNING c.granted, c.next_attempt_at
	)
	SELECT pair.attempts AS pair_attempts,
		extract(epoch FROM pair.window_started_at + make_interval(secs => $3) - clock_timestamp()) AS pair_wait,
		addr.attempts AS address_attempts,
		extract(epoch FROM addr.window_started_at + make_interval(secs => $3) - clock_timestamp()) AS address_wait,
		known.known,
		account.granted,
		extract(epoch FROM account.next_attempt_at - clock_timestamp()) AS account_wait
	FROM pair CROSS JOIN addr CROSS JOIN known LEFT JOIN account ON true`
	var row struct {
		PairAttempts    int             `db:"pair_attempts"`
		PairWait        float64         `db:"pair_wait"`
		AddressAttempts int             `db:"address_attempts"`
		AddressWait     float64         `db:"address_wait"`
		Known           bool            `db:"known"`
		Granted         sql.NullBool    `db:"granted"`
		AccountWait     sql.NullFloat64 `db:"account_wait"`
	}
	err := sqlx.GetContext(ctx, q, &row, query, account, address, p.Window.Seconds(), p.PerPair, p.PerAddress,
		p.FreeChecks, p.MaxDelay.Seconds(), p.Quiet.Seconds(), p.KnownFor.Seconds(), p.FirstDelay.Seconds())
	if err != nil {
		return LoginVerdict{}, fmt.Errorf("count login attempt: %w", err)
	}
	var wait time.Duration
	refused, reached := false, ""
	// Each wait is bounded by its limit's period, and is at least a
	// millisecond: a refusal asks for some wait, even one that has just
	// run out.
	refuse := func(seconds float64, bound time.Duration) {
		refused = true
		wait = max(wait, min(max(time.Duration(seconds*float64(time.Second)), time.Millisecond), bound))
	}
	if row.PairAttempts > p.PerPair {
		refuse(row.PairWait, p.Window)
		if row.PairAttempts == p.PerPair+1 {
			reached = "account and address"
		}
	}
	if row.AddressAttempts > p.PerAddress {
		refuse(row.AddressWait, p.Window)
		if row.AddressAttempts == p.PerAddress+1 {
			reached = "address"
		}
	}
	if row.Granted.Valid && !row.Granted.Bool {
		refuse(row.AccountWait.Float64, p.MaxDelay)
	}
	if !refused {
		return LoginVerdict{}, nil
	}
	return LoginVerdict{Wait: wait, Reached: reached}, nil
}

// LoginSucceeded records a successful login to account from address: the
// account's counts start over, the attempt is given back to the address
// (a busy shared address is not held to logins that worked), and the
// address becomes one the account is known to log in from.
func LoginSucceeded(ctx context.Context, q sqlx.ExecerContext, account, address string) error {
	// Each step reads the one before it, so rows are locked in the order
	// CountLoginAttempt locks them: pairs, address, account.
	const query = `WITH pairs AS (
		DELETE FROM login_attempt_pair p WHERE p.email = $1 RETURNING p.address
	), refund AS (
		UPDATE login_attempt_address a SET attempts = greatest(a.attempts - 1, 0)
		FROM (SELECT count(*) FROM pairs) AS done
		WHERE a.address = $2
		RETURNING a.address
	), account AS (
		DELETE FROM login_attempt_account c USING (SELECT count(*) FROM refund) AS done
		WHERE c.email = $1
		RETURNING c.email
	)
	INSERT INTO login_known_address AS k (email, address, last_login_at)
	SELECT $1, $2, now() FROM (SELECT count(*) FROM account) AS done
	ON CONFLICT (email, address) DO UPDATE SET last_login_at = now()`
	if _, err := q.ExecContext(ctx, query, account, address); err != nil {
		return fmt.Errorf("record login: %w", err)
	}
	return nil
}

// ForgetLoginThrottle clears an account's counts and known addresses, after
// its password was reset: the new password starts with a clean slate, and
// an address that logged in with the old one is no longer vouched for.
func ForgetLoginThrottle(ctx context.Context, q sqlx.ExecerContext, account string) error {
	// Pairs before the account row, as CountLoginAttempt locks them.
	const query = `WITH pairs AS (
		DELETE FROM login_attempt_pair p WHERE p.email = $1 RETURNING p.address
	), account AS (
		DELETE FROM login_attempt_account c USING (SELECT count(*) FROM pairs) AS done
		WHERE c.email = $1
		RETURNING c.email
	)
	DELETE FROM login_known_address k USING (SELECT count(*) FROM account) AS done WHERE k.email = $1`
	if _, err := q.ExecContext(ctx, query, account); err != nil {
		return fmt.Errorf("forget login throttle: %w", err)
	}
	return nil
}

// PurgeLoginThrottle deletes the counts whose window has passed, the
// accounts quiet for long enough, and the known addresses not used for
// KnownFor. Each table is purged by a statement of its own, so the purge
// never holds rows of two tables at once while attempts lock them.
func PurgeLoginThrottle(ctx context.Context, q sqlx.ExecerContext, p LoginLimits) error {
	const pairs = `DELETE FROM login_attempt_pair WHERE window_started_at <= now() - make_interval(secs => $1)`
	const addresses = `DELETE FROM login_attempt_address WHERE window_started_at <= now() - make_interval(secs => $1)`
	const accounts = `DELETE FROM login_attempt_account WHERE last_attempt_at <= now() - make_interval(secs => $1)`
	const known = `DELETE FROM login_known_address WHERE last_login_at <= now() - make_interval(secs => $1)`
	for _, s := range []struct {
		query string
		age   time.Duration
	}{{pairs, p.Window}, {addresses, p.Window}, {accounts, p.Quiet}, {known, p.KnownFor}} {
		if _, err := q.ExecContext(ctx, s.query, s.age.Seconds()); err != nil {
			return fmt.Errorf("purge login throttle: %w", err)
		}
	}
	return nil
}
