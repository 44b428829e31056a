-- Logins, password resets and the notification outbox.

-- Failed logins per email, for the lockout: counted in a window that starts
-- at the first failure; at the limit, the email is locked for a while.
CREATE TABLE login_failure (
    email           text PRIMARY KEY CHECK (email = lower(email)),
    failures        integer NOT NULL,
    first_failed_at timestamptz NOT NULL,
    locked_until    timestamptz
);

-- Password reset tokens, stored only as SHA-256 hashes: single use, expiring.
CREATE TABLE password_reset_token (
    token_hash       text PRIMARY KEY,
    auth_identity_id text NOT NULL REFERENCES auth_identity (id),
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_reset_token_identity_idx ON password_reset_token (auth_identity_id);

-- The outbox every token-bearing message goes through: written in the
-- transaction that creates the token, sent after commit by a dispatcher,
-- retried until it goes out. A token is removed from data once sent.
CREATE TABLE notification (
    id              text PRIMARY KEY CHECK (id ~ '^noti_[0-9A-Z]{26}$'),
    channel         text NOT NULL DEFAULT 'email',
    recipient       text NOT NULL,
    template        text NOT NULL,
    data            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object'),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_pending_idx ON notification (next_attempt_at) WHERE sent_at IS NULL;
CREATE INDEX notification_recipient_idx ON notification (recipient, created_at);
