-- Creations of customers and addresses and changes of membership write
-- their events per statement instead of per row: one INSERT into event
-- and a few notifications for a batch of a thousand rows (a bulk import's,
-- a group's new members), where a row trigger ran PL/pgSQL, an INSERT and a
-- pg_notify a thousand times. The events are the same rows as before.
-- Updates and soft deletes keep their row triggers: they compare each row's
-- old and new versions, and come one row at a time.

-- notify_events tells the listeners the events seqs, as a list of numbers
-- and ranges ("12,15-1014"): one statement's events take consecutive
-- numbers unless another transaction takes some meanwhile, so a batch is
-- mostly one range. A notification's payload is limited to 8000 bytes:
-- at most 300 items each.
CREATE FUNCTION notify_events(seqs bigint[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    payload text;
BEGIN
    FOR payload IN
        SELECT string_agg(CASE WHEN lo = hi THEN lo::text ELSE lo || '-' || hi END, ',' ORDER BY lo)
        FROM (SELECT min(s) AS lo, max(s) AS hi, (row_number() OVER (ORDER BY min(s)) - 1) / 300 AS chunk
              FROM (SELECT s, s - row_number() OVER (ORDER BY s) AS run FROM unnest(seqs) AS s) AS numbered
              GROUP BY run) AS ranges
        GROUP BY chunk
        ORDER BY chunk
    LOOP
        PERFORM pg_notify('customer_events', payload);
    END LOOP;
END
$$;

-- write_events writes events of one type, the i-th concerning the i-th
-- customer, group and address (arrays of one length; NULL for none), with
-- the transaction's actor and request, as write_event does one.
CREATE FUNCTION write_events(type text, customer_ids text[], group_ids text[], address_ids text[], data jsonb[])
    RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    seqs bigint[];
BEGIN
    IF current_setting('app.events', true) = 'off' OR coalesce(cardinality(customer_ids), cardinality(group_ids), 0) = 0 THEN
        RETURN;
    END IF;
    WITH written AS (
        INSERT INTO event (type, actor_type, actor_id, request_id, customer_id, group_id, address_id, data)
        SELECT type, coalesce(nullif(current_setting('app.actor_type', true), ''), 'system'),
               nullif(current_setting('app.actor_id', true), ''), nullif(current_setting('app.request_id', true), ''),
               e.customer_id, e.group_id, e.address_id, e.data
        FROM unnest(customer_ids, group_ids, address_ids, data) WITH ORDINALITY AS e(customer_id, group_id, address_id, data, n)
        ORDER BY e.n
        RETURNING seq)
    SELECT array_agg(seq) INTO seqs FROM written;
    PERFORM notify_events(seqs);
END
$$;

CREATE FUNCTION customers_created_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM write_events('customer.created', array_agg(n.id), NULL, NULL, array_agg(event_fields(to_jsonb(n))))
    FROM new_rows AS n;
    RETURN NULL;
END
$$;
CREATE TRIGGER customers_created_event AFTER INSERT ON customer
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customers_created_event();

CREATE FUNCTION customer_addresses_created_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM write_events('customer_address.created', array_agg(n.customer_id), NULL, array_agg(n.id),
                         array_agg(event_fields(to_jsonb(n))))
    FROM new_rows AS n;
    RETURN NULL;
END
$$;
CREATE TRIGGER customer_addresses_created_event AFTER INSERT ON customer_address
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_addresses_created_event();

-- One event per customer added to or removed from a group, as before.
CREATE FUNCTION customer_group_customers_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM write_events('customer_group.customer_added', array_agg(n.customer_id), array_agg(n.customer_group_id), NULL, NULL)
        FROM new_rows AS n;
    ELSE
        PERFORM write_events('customer_group.customer_removed', array_agg(o.customer_id), array_agg(o.customer_group_id), NULL, NULL)
        FROM old_rows AS o;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER customer_group_customers_added_event AFTER INSERT ON customer_group_customer
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_group_customers_event();
CREATE TRIGGER customer_group_customers_removed_event AFTER DELETE ON customer_group_customer
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_group_customers_event();
DROP TRIGGER customer_group_customer_event ON customer_group_customer;
DROP FUNCTION customer_group_customer_event();

-- The row triggers keep updates and deletions.
CREATE OR REPLACE FUNCTION customer_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    diff jsonb;
BEGIN
    IF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
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
DROP TRIGGER customer_event ON customer;
CREATE TRIGGER customer_event AFTER UPDATE ON customer FOR EACH ROW EXECUTE FUNCTION customer_event();
CREATE OR REPLACE FUNCTION customer_address_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    diff jsonb;
BEGIN
    IF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
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
DROP TRIGGER customer_address_event ON customer_address;
CREATE TRIGGER customer_address_event AFTER UPDATE ON customer_address FOR EACH ROW EXECUTE FUNCTION customer_address_event();
