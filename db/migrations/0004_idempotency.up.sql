-- Responses to requests sent with an Idempotency-Key, so a retried request
-- gets the first answer instead of acting twice. Kept 24 hours.
CREATE TABLE idempotency_key (
    -- scope separates callers: a hash of the request's credentials.
    scope        text NOT NULL,
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash text NOT NULL,
    status       integer,
    content_type text,
    response     bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_key_created_at_idx ON idempotency_key (created_at);
