-- Login throttling replaces the per-email lockout, which anyone could
-- trigger for anyone and which concurrent attempts got past. Attempts are
-- counted before the password is checked, in one statement, along three
-- lines (README.md, "Login throttling"). An account is its clean email,
-- whether or not an identity has it; an address is an IPv4 address or an
-- IPv6 /64.
DROP TABLE login_failure;

-- Attempts for one account from one address, in a window that starts at
-- the first attempt.
CREATE TABLE login_attempt_pair (
    email             text NOT NULL,
    address           text NOT NULL,
    attempts          integer NOT NULL,
    window_started_at timestamptz NOT NULL,
    PRIMARY KEY (email, address)
);

-- Attempts from one address, whatever the account.
CREATE TABLE login_attempt_address (
    address           text PRIMARY KEY,
    attempts          integer NOT NULL,
    window_started_at timestamptz NOT NULL
);

-- Password checks for one account from addresses it has never logged in
-- from, since its last successful login. Past a number of them, each check
-- waits for next_attempt_at, which moves twice as far each time, up to a
-- cap; granted says whether the last attempt got its check.
CREATE TABLE login_attempt_account (
    email           text PRIMARY KEY,
    attempts        integer NOT NULL,
    granted         boolean NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    last_attempt_at timestamptz NOT NULL
);

-- Addresses an account has logged in from: most likely its owner's, so the
-- per-account delay does not apply to them.
CREATE TABLE login_known_address (
    email         text NOT NULL,
    address       text NOT NULL,
    last_login_at timestamptz NOT NULL,
    PRIMARY KEY (email, address)
);

-- Every token carries the generation of its identity when it was issued; a
-- password reset moves the generation on, which ends every token issued
-- before it.
ALTER TABLE auth_identity ADD COLUMN token_generation integer NOT NULL DEFAULT 0;
