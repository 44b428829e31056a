-- Order transfers: a registered customer asks to take over an order placed
-- as a guest; a single-use token goes to the order's email. The rows are
-- also the order's transfer history: who asked, from whom, and when it was
-- accepted or declined.
CREATE TABLE order_transfer (
    id               text PRIMARY KEY CHECK (id ~ '^ordtr_[0-9A-Z]{26}$'),
    order_id         text NOT NULL REFERENCES orders (id),
    -- The customer who asked, and the one the order belonged to then.
    customer_id      text NOT NULL REFERENCES customer (id),
    from_customer_id text NOT NULL REFERENCES customer (id),
    token_hash       text NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'accepted', 'declined', 'replaced')),
    expires_at       timestamptz NOT NULL,
    decided_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
-- One pending request per order: a new one replaces the last.
CREATE UNIQUE INDEX order_transfer_pending_key ON order_transfer (order_id) WHERE status = 'pending';
CREATE INDEX order_transfer_order_idx ON order_transfer (order_id, created_at);
