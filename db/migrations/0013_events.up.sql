-- The event log: every change to customers, their addresses, groups and
-- memberships, identities, password reset requests, orders and order
-- transfers writes a row here, from triggers, in the transaction of the
-- change: nothing is written when it rolls back, and nothing committed
-- lacks its event, whichever code path made the change.
--
-- Who acted and in which request come from settings the application sets
-- in the transaction (app.actor_type, app.actor_id, app.request_id; see
-- db.InTx); a change made without them is the system's. A session that
-- sets app.events to 'off' (the seeder's bulk loads) writes none.
CREATE TABLE event (
    -- The order events were written in: a cursor for pagination, and for
    -- one customer the order of its changes, which lock the customer.
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    actor_type  text NOT NULL CHECK (actor_type IN ('user', 'customer', 'guest', 'system')),
    actor_id    text,
    request_id  text,
    -- The ids the event concerns.
    customer_id text,
    group_id    text,
    address_id  text,
    order_id    text,
    identity_id text,
    -- For an update, the fields that changed: {"field": {"from": v, "to": v}}.
    changes     jsonb,
    -- For a creation or a deletion, the fields of the row.
    data        jsonb
);
CREATE INDEX event_customer_idx ON event (customer_id, seq) WHERE customer_id IS NOT NULL;
CREATE INDEX event_group_idx ON event (group_id, seq) WHERE group_id IS NOT NULL;
CREATE INDEX event_type_idx ON event (type, seq);
CREATE INDEX event_created_at_idx ON event USING brin (created_at);

-- event_fields is a row without what an event must not show: secrets
-- (hashes, tokens) and bookkeeping (timestamps, counters).
CREATE FUNCTION event_fields(r jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT r - ARRAY['password_hash', 'token_hash', 'token_generation', 'created_at', 'updated_at', 'member_count']
$$;

-- event_diff is what changed between two versions of a row.
CREATE FUNCTION event_diff(old jsonb, new jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_object_agg(k, jsonb_build_object('from', old -> k, 'to', new -> k)), '{}')
    FROM jsonb_object_keys(new) AS k
    WHERE old -> k IS DISTINCT FROM new -> k
$$;

-- write_event writes an event with the transaction's actor and request,
-- and tells the listeners (every server, for its subscribers) its number,
-- which PostgreSQL delivers at commit, in commit order.
CREATE FUNCTION write_event(type text, customer_id text, group_id text, address_id text, order_id text,
                            identity_id text, changes jsonb, data jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF current_setting('app.events', true) = 'off' THEN
        RETURN;
    END IF;
    INSERT INTO event (type, actor_type, actor_id, request_id, customer_id, group_id, address_id, order_id,
                       identity_id, changes, data)
    VALUES (type, coalesce(nullif(current_setting('app.actor_type', true), ''), 'system'),
            nullif(current_setting('app.actor_id', true), ''), nullif(current_setting('app.request_id', true), ''),
            customer_id, group_id, address_id, order_id, identity_id, nullif(changes, '{}'), data)
    RETURNING seq INTO n;
    PERFORM pg_notify('customer_events', n::text);
END
$$;

-- A soft delete (deleted_at set) is a deletion; an update that changes
-- nothing an event shows writes none.
CREATE FUNCTION customer_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    diff jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM write_event('customer.created', NEW.id, NULL, NULL, NULL, NULL, NULL, event_fields(to_jsonb(NEW)));
    ELSIF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
        PERFORM write_event('customer.deleted', NEW.id, NULL, NULL, NULL, NULL, NULL, event_fields(to_jsonb(OLD)));
    ELSE
        diff := event_diff(event_fields(to_jsonb(OLD)), event_fields(to_jsonb(NEW)));
        IF diff <> '{}' THEN
            PERFORM write_event('customer.updated', NEW.id, NULL, NULL, NULL, NULL, diff, NULL);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER customer_event AFTER INSERT OR UPDATE ON customer FOR EACH ROW EXECUTE FUNCTION customer_event();

-- An update that changes only which address is a default switches the
-- default.
CREATE FUNCTION customer_address_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    diff jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM write_event('customer_address.created', NEW.customer_id, NULL, NEW.id, NULL, NULL, NULL, event_fields(to_jsonb(NEW)));
    ELSIF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
        PERFORM write_event('customer_address.deleted', NEW.customer_id, NULL, NEW.id, NULL, NULL, NULL, event_fields(to_jsonb(OLD)));
    ELSE
        diff := event_diff(event_fields(to_jsonb(OLD)), event_fields(to_jsonb(NEW)));
        IF diff <> '{}' THEN
            PERFORM write_event(CASE WHEN diff - ARRAY['is_default_shipping', 'is_default_billing'] = '{}'
                                     THEN 'customer_address.default_changed' ELSE 'customer_address.updated' END,
                                NEW.customer_id, NULL, NEW.id, NULL, NULL, diff, NULL);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER customer_address_event AFTER INSERT OR UPDATE ON customer_address FOR EACH ROW EXECUTE FUNCTION customer_address_event();

CREATE FUNCTION customer_group_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    diff jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM write_event('customer_group.created', NULL, NEW.id, NULL, NULL, NULL, NULL, event_fields(to_jsonb(NEW)));
    ELSIF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
        PERFORM write_event('customer_group.deleted', NULL, NEW.id, NULL, NULL, NULL, NULL, event_fields(to_jsonb(OLD)));
    ELSE
        diff := event_diff(event_fields(to_jsonb(OLD)), event_fields(to_jsonb(NEW)));
        IF diff <> '{}' THEN
            PERFORM write_event('customer_group.updated', NULL, NEW.id, NULL, NULL, NULL, diff, NULL);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER customer_group_event AFTER INSERT OR UPDATE ON customer_group FOR EACH ROW EXECUTE FUNCTION customer_group_event();

-- One event per customer added to or removed from a group: each belongs to
-- that customer's story.
CREATE FUNCTION customer_group_customer_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM write_event('customer_group.customer_added', NEW.customer_id, NEW.customer_group_id, NULL, NULL, NULL, NULL, NULL);
    ELSE
        PERFORM write_event('customer_group.customer_removed', OLD.customer_id, OLD.customer_group_id, NULL, NULL, NULL, NULL, NULL);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER customer_group_customer_event AFTER INSERT OR DELETE ON customer_group_customer
    FOR EACH ROW EXECUTE FUNCTION customer_group_customer_event();

-- An identity is registered; later it gets a customer account (or loses
-- it, when the customer is deleted) or an admin user, or a new password.
CREATE FUNCTION auth_identity_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM write_event('auth.identity_registered', NEW.customer_id, NULL, NULL, NULL, NEW.id, NULL,
                            jsonb_build_object('email', NEW.email));
        RETURN NULL;
    END IF;
    IF OLD.customer_id IS NULL AND NEW.customer_id IS NOT NULL THEN
        PERFORM write_event('customer.account_created', NEW.customer_id, NULL, NULL, NULL, NEW.id, NULL,
                            jsonb_build_object('email', NEW.email));
    ELSIF OLD.customer_id IS NOT NULL AND NEW.customer_id IS NULL THEN
        PERFORM write_event('auth.customer_unlinked', OLD.customer_id, NULL, NULL, NULL, NEW.id, NULL, NULL);
    END IF;
    IF OLD.user_id IS NULL AND NEW.user_id IS NOT NULL THEN
        PERFORM write_event('auth.user_linked', NULL, NULL, NULL, NULL, NEW.id, NULL, jsonb_build_object('user_id', NEW.user_id));
    END IF;
    IF OLD.password_hash IS DISTINCT FROM NEW.password_hash THEN
        PERFORM write_event('auth.password_reset_completed', NEW.customer_id, NULL, NULL, NULL, NEW.id, NULL, NULL);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER auth_identity_event AFTER INSERT OR UPDATE ON auth_identity FOR EACH ROW EXECUTE FUNCTION auth_identity_event();

-- A request is written for any email, known or not; the event says which
-- email asked, for admins, who may see emails.
CREATE FUNCTION password_reset_request_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM write_event('auth.password_reset_requested', NULL, NULL, NULL, NULL, NULL, NULL,
                        jsonb_build_object('email', NEW.email, 'actor_type', NEW.actor_type));
    RETURN NULL;
END
$$;
CREATE TRIGGER password_reset_request_event AFTER INSERT ON password_reset_request
    FOR EACH ROW EXECUTE FUNCTION password_reset_request_event();

CREATE FUNCTION orders_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    diff jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM write_event('order.placed', NEW.customer_id, NULL, NULL, NEW.id, NULL, NULL,
                            jsonb_build_object('display_id', NEW.display_id, 'email', NEW.email,
                                               'currency_code', NEW.currency_code, 'total', NEW.total));
    ELSE
        diff := event_diff(event_fields(to_jsonb(OLD)), event_fields(to_jsonb(NEW)));
        IF diff <> '{}' THEN
            PERFORM write_event('order.updated', NEW.customer_id, NULL, NULL, NEW.id, NULL, diff, NULL);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER orders_event AFTER INSERT OR UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION orders_event();

-- A transfer is requested, then accepted, declined or replaced by a newer
-- request. The event concerns the customer who asked; the order's owner
-- then is in its data.
CREATE FUNCTION order_transfer_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM write_event('order.transfer_requested', NEW.customer_id, NULL, NULL, NEW.order_id, NULL, NULL,
                            jsonb_build_object('transfer_id', NEW.id, 'from_customer_id', NEW.from_customer_id,
                                               'expires_at', NEW.expires_at));
    ELSIF OLD.status IS DISTINCT FROM NEW.status THEN
        PERFORM write_event('order.transfer_' || NEW.status, NEW.customer_id, NULL, NULL, NEW.order_id, NULL,
                            jsonb_build_object('status', jsonb_build_object('from', OLD.status, 'to', NEW.status)),
                            jsonb_build_object('transfer_id', NEW.id, 'from_customer_id', NEW.from_customer_id));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER order_transfer_event AFTER INSERT OR UPDATE ON order_transfer FOR EACH ROW EXECUTE FUNCTION order_transfer_event();
