DROP TRIGGER customer_stats_orders_deleted ON orders;
DROP TRIGGER customer_stats_orders_updated ON orders;
DROP TRIGGER customer_stats_orders_inserted ON orders;
DROP TRIGGER customer_stats_created ON customer;
DROP FUNCTION customer_stats_orders_deleted();
DROP FUNCTION customer_stats_orders_updated();
DROP FUNCTION customer_stats_orders_inserted();
DROP FUNCTION customer_stats_apply(text[], text[], integer[], bigint[], timestamptz[]);
DROP FUNCTION customer_stats_created();
DROP TABLE customer_spend;
DROP TABLE customer_stats;

DROP INDEX customer_group_updated_at_idx;
DROP INDEX customer_group_created_by_idx;
DROP INDEX customer_deleted_at_idx;
DROP INDEX customer_created_by_idx;
DROP INDEX customer_last_name_idx;
DROP INDEX customer_first_name_idx;

CREATE OR REPLACE FUNCTION order_transfer_event() RETURNS trigger LANGUAGE plpgsql AS $$
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

ALTER TABLE order_transfer DROP COLUMN requested_by, DROP COLUMN update_order_email, DROP COLUMN description;
