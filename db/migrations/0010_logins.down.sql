ALTER TABLE auth_identity DROP COLUMN token_generation;
DROP TABLE login_known_address, login_attempt_account, login_attempt_address, login_attempt_pair;
CREATE TABLE login_failure (
    email           text PRIMARY KEY CHECK (email = lower(email)),
    failures        integer NOT NULL,
    first_failed_at timestamptz NOT NULL,
    locked_until    timestamptz
);
