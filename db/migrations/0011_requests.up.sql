-- Password reset requests: request_password_reset only adds a row here,
-- for any email, so a known email and an unknown one cost the same
-- statement; a background job turns the rows of known emails into tokens
-- and mails, at most a few an hour per identity.
CREATE TABLE password_reset_request (
    id         text PRIMARY KEY CHECK (id ~ '^pwreq_[0-9A-Z]{26}$'),
    email      text NOT NULL,
    actor_type text NOT NULL CHECK (actor_type IN ('customer', 'user')),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Order transfer requests are throttled per customer who asks, counting
-- its requests of the last hour.
CREATE INDEX order_transfer_customer_idx ON order_transfer (customer_id, created_at);
