DROP TRIGGER customer_address_event ON customer_address;
DROP TRIGGER customer_event ON customer;
DROP TRIGGER customer_group_customers_removed_event ON customer_group_customer;
DROP TRIGGER customer_group_customers_added_event ON customer_group_customer;
DROP TRIGGER customer_addresses_created_event ON customer_address;
DROP TRIGGER customers_created_event ON customer;
DROP FUNCTION customer_group_customers_event(), customer_addresses_created_event(), customers_created_event();
DROP FUNCTION write_events(text, text[], text[], text[], jsonb[]);
DROP FUNCTION notify_events(bigint[]);

-- 0013's row triggers, for creations too.
CREATE OR REPLACE FUNCTION customer_event() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION customer_address_event() RETURNS trigger LANGUAGE plpgsql AS $$
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
