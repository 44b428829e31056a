-- The account lifecycle: merging two customers, erasing a customer's
-- personal data (GDPR's right to erasure) and the storefront's request to
-- delete an account, confirmed by mail and carried out after a grace
-- period. Each table writes its events from triggers, like 0013's.

-- A transfer can now be canceled: a merge or an erasure ends the pending
-- requests that concern the customer.
ALTER TABLE order_transfer DROP CONSTRAINT order_transfer_status_check;
ALTER TABLE order_transfer ADD CONSTRAINT order_transfer_status_check
    CHECK (status IN ('pending', 'accepted', 'declined', 'replaced', 'canceled'));

-- A merge: the source customer's orders, addresses and memberships moved
-- to the target, the source soft-deleted. The record holds ids and which
-- side each field was kept from, never the values, so an erasure of either
-- customer leaves nothing personal here.
CREATE TABLE customer_merge (
    id                text PRIMARY KEY CHECK (id ~ '^cmerge_[0-9A-Z]{26}$'),
    source_id         text NOT NULL REFERENCES customer (id),
    target_id         text NOT NULL REFERENCES customer (id),
    -- {"email": "target", "first_name": "source", ...}
    kept              jsonb NOT NULL CHECK (jsonb_typeof(kept) = 'object'),
    -- The login identity given up when both customers had one, and
    -- whether the source's identity now logs in to the target.
    identity_given_up text CHECK (identity_given_up IN ('source', 'target')),
    identity_moved    boolean NOT NULL,
    order_ids         text[] NOT NULL,
    address_ids       text[] NOT NULL,
    group_ids         text[] NOT NULL,
    transfer_ids      text[] NOT NULL,
    merged_by         text REFERENCES admin_user (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (source_id <> target_id)
);
-- A customer is merged away once: the source is deleted by its merge.
CREATE UNIQUE INDEX customer_merge_source_key ON customer_merge (source_id);
CREATE INDEX customer_merge_target_idx ON customer_merge (target_id);

CREATE FUNCTION customer_merge_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM write_event('customer.merged', NEW.target_id, NULL, NULL, NULL, NULL, NULL,
        jsonb_build_object('merge_id', NEW.id, 'source_id', NEW.source_id, 'target_id', NEW.target_id,
                           'kept', NEW.kept, 'identity_given_up', NEW.identity_given_up,
                           'identity_moved', NEW.identity_moved, 'order_ids', to_jsonb(NEW.order_ids),
                           'address_ids', to_jsonb(NEW.address_ids), 'group_ids', to_jsonb(NEW.group_ids),
                           'transfer_ids', to_jsonb(NEW.transfer_ids)));
    RETURN NULL;
END
$$;
CREATE TRIGGER customer_merge_event AFTER INSERT ON customer_merge FOR EACH ROW EXECUTE FUNCTION customer_merge_event();

-- An erasure (anonymize_customer, or an account deletion carried out): the
-- audit of it, with counts only.
CREATE TABLE customer_erasure (
    customer_id      text PRIMARY KEY REFERENCES customer (id),
    -- admin: anonymize_customer; account_deletion: the customer's own
    -- request, carried out; merged: a customer merged into one erased.
    reason           text NOT NULL CHECK (reason IN ('admin', 'account_deletion', 'merged')),
    orders           integer NOT NULL,
    addresses        integer NOT NULL,
    transfers        integer NOT NULL,
    events           integer NOT NULL,
    identity_removed boolean NOT NULL,
    erased_by        text REFERENCES admin_user (id),
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION customer_erasure_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM write_event('customer.anonymized', NEW.customer_id, NULL, NULL, NULL, NULL, NULL,
        jsonb_build_object('reason', NEW.reason, 'orders', NEW.orders, 'addresses', NEW.addresses,
                           'transfers', NEW.transfers, 'events', NEW.events,
                           'identity_removed', NEW.identity_removed));
    RETURN NULL;
END
$$;
CREATE TRIGGER customer_erasure_event AFTER INSERT ON customer_erasure FOR EACH ROW EXECUTE FUNCTION customer_erasure_event();

-- A signed-in customer's request to delete its account: requested (a
-- token mailed), scheduled once the token is used (carried out at
-- scheduled_for), canceled, replaced by a newer request, or completed.
CREATE TABLE account_deletion_request (
    id               text PRIMARY KEY CHECK (id ~ '^acdel_[0-9A-Z]{26}$'),
    customer_id      text NOT NULL REFERENCES customer (id),
    token_hash       text NOT NULL,
    status           text NOT NULL DEFAULT 'requested'
                     CHECK (status IN ('requested', 'scheduled', 'canceled', 'replaced', 'completed')),
    token_expires_at timestamptz NOT NULL,
    confirmed_at     timestamptz,
    scheduled_for    timestamptz,
    decided_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'scheduled' OR scheduled_for IS NOT NULL)
);
-- One open request per customer.
CREATE UNIQUE INDEX account_deletion_open_key ON account_deletion_request (customer_id)
    WHERE status IN ('requested', 'scheduled');
CREATE INDEX account_deletion_due_idx ON account_deletion_request (scheduled_for) WHERE status = 'scheduled';
CREATE INDEX account_deletion_token_idx ON account_deletion_request (token_hash);
CREATE INDEX account_deletion_customer_idx ON account_deletion_request (customer_id, created_at);

CREATE FUNCTION account_deletion_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM write_event('customer.deletion_requested', NEW.customer_id, NULL, NULL, NULL, NULL, NULL,
                            jsonb_build_object('request_id', NEW.id, 'token_expires_at', NEW.token_expires_at));
    ELSIF OLD.status IS DISTINCT FROM NEW.status THEN
        PERFORM write_event('customer.deletion_' || NEW.status, NEW.customer_id, NULL, NULL, NULL, NULL,
                            jsonb_build_object('status', jsonb_build_object('from', OLD.status, 'to', NEW.status)),
                            jsonb_build_object('request_id', NEW.id, 'scheduled_for', NEW.scheduled_for));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER account_deletion_event AFTER INSERT OR UPDATE ON account_deletion_request
    FOR EACH ROW EXECUTE FUNCTION account_deletion_event();

-- An erasure finds a customer's events by its identity and its orders too.
CREATE INDEX event_identity_idx ON event (identity_id, seq) WHERE identity_id IS NOT NULL;
CREATE INDEX event_order_idx ON event (order_id, seq) WHERE order_id IS NOT NULL;

-- event_redact is an event's data or changes without personal values:
-- each personal field that holds a value holds "[redacted]" instead (in
-- changes, its from and to), so the event still says what happened, to
-- which ids, and which fields changed.
CREATE FUNCTION event_redact(j jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_object_agg(e.key, CASE
        WHEN NOT e.key = ANY (ARRAY['email', 'first_name', 'last_name', 'phone', 'company_name', 'company',
                                    'metadata', 'address_name', 'address_1', 'address_2', 'city', 'province',
                                    'postal_code', 'country_code', 'shipping_address', 'billing_address', 'address'])
             OR e.value = 'null'::jsonb THEN e.value
        WHEN jsonb_typeof(e.value) = 'object' AND e.value ?& ARRAY['from', 'to']
             AND (SELECT count(*) FROM jsonb_object_keys(e.value)) = 2 THEN
            jsonb_build_object(
                'from', CASE WHEN e.value -> 'from' = 'null'::jsonb THEN 'null'::jsonb ELSE '"[redacted]"'::jsonb END,
                'to', CASE WHEN e.value -> 'to' = 'null'::jsonb THEN 'null'::jsonb ELSE '"[redacted]"'::jsonb END)
        ELSE '"[redacted]"'::jsonb END)
    FROM jsonb_each(j) AS e
$$;

-- claim_guest_orders needs the identity's email to be verified. Whether it
-- is comes with the sessions work, which adds auth_identity.email_verified_at
-- (migration 0015); without that column no email counts as verified. The
-- check is this one function, so the claim's SQL does not change when the
-- column arrives.
CREATE FUNCTION identity_email_verified(identity text) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
DECLARE
    verified boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = current_schema() AND table_name = 'auth_identity'
                     AND column_name = 'email_verified_at') THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT email_verified_at IS NOT NULL FROM auth_identity WHERE id = $1' INTO verified USING identity;
    RETURN coalesce(verified, false);
END
$$;
