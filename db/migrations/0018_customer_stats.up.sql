-- Issue 18: the rest of Medusa v2's order transfers and filters, and
-- customer statistics kept by the database.

-- Order transfers, complete: a description shown to whoever reads the
-- token's mail, Medusa's update_order_email (the order's email becomes the
-- new owner's on accept), transfers an admin starts (requested_by: the
-- admin user; null when the customer asked), and cancellation by the
-- requester or an admin (the status 'canceled' of migration 0016).
ALTER TABLE order_transfer
    ADD COLUMN description text CHECK (length(description) <= 1000),
    ADD COLUMN update_order_email boolean NOT NULL DEFAULT false,
    ADD COLUMN requested_by text REFERENCES admin_user (id);

CREATE OR REPLACE FUNCTION order_transfer_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM write_event('order.transfer_requested', NEW.customer_id, NULL, NULL, NEW.order_id, NULL, NULL,
                            jsonb_build_object('transfer_id', NEW.id, 'from_customer_id', NEW.from_customer_id,
                                               'expires_at', NEW.expires_at, 'description', NEW.description,
                                               'update_order_email', NEW.update_order_email,
                                               'requested_by', NEW.requested_by));
    ELSIF OLD.status IS DISTINCT FROM NEW.status THEN
        PERFORM write_event('order.transfer_' || NEW.status, NEW.customer_id, NULL, NULL, NEW.order_id, NULL,
                            jsonb_build_object('status', jsonb_build_object('from', OLD.status, 'to', NEW.status)),
                            jsonb_build_object('transfer_id', NEW.id, 'from_customer_id', NEW.from_customer_id,
                                               'requested_by', NEW.requested_by));
    END IF;
    RETURN NULL;
END
$$;

-- Filters Medusa accepts. first_name and last_name match case-insensitively
-- (lower()); the indexes are not partial, so with_deleted lists use them too.
CREATE INDEX customer_first_name_idx ON customer (lower(first_name));
CREATE INDEX customer_last_name_idx ON customer (lower(last_name));
CREATE INDEX customer_created_by_idx ON customer (created_by) WHERE created_by IS NOT NULL;
CREATE INDEX customer_deleted_at_idx ON customer (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX customer_group_created_by_idx ON customer_group (created_by) WHERE created_by IS NOT NULL;
CREATE INDEX customer_group_updated_at_idx ON customer_group (updated_at, id) WHERE deleted_at IS NULL;

-- Customer statistics: a row per customer (made by a trigger when the
-- customer is), and a row per customer and currency spent in. Orders that
-- are not CANCELED count. Kept by statement triggers on orders, in the
-- transaction of the change, whichever code path writes orders (checkout,
-- transfers, the seeder's COPY, SQL by hand): a table of their own rather
-- than columns of customer, so that an order locks and rewrites a narrow
-- row with three indexes, not the customer row with its dozen (the trigram
-- index among them), writes no customer.updated event, and takes no lock
-- that the transfer flows' own locks of customers could deadlock with.
CREATE TABLE customer_stats (
    customer_id    text PRIMARY KEY REFERENCES customer (id) ON DELETE CASCADE,
    -- No CHECK (order_count >= 0): PostgreSQL checks the row an upsert
    -- proposes before ON CONFLICT finds the existing one, and a transfer
    -- proposes -1 for the customer that loses the order.
    order_count    integer NOT NULL DEFAULT 0,
    first_order_at timestamptz,
    last_order_at  timestamptz
);
-- Sorting and filtering customers by them (order: "-order_count",
-- filter: {order_count: {gte: 5}}, last_order_at).
CREATE INDEX customer_stats_order_count_idx ON customer_stats (order_count, customer_id);
-- Never ordered (null) sorts as the oldest: last in "-last_order_at".
CREATE INDEX customer_stats_last_order_at_idx ON customer_stats (last_order_at DESC NULLS LAST, customer_id DESC);

CREATE TABLE customer_spend (
    customer_id   text NOT NULL REFERENCES customer (id) ON DELETE CASCADE,
    currency_code text NOT NULL CHECK (currency_code ~ '^[a-z]{3}$'),
    -- No CHECKs, as in customer_stats.
    amount_spent  bigint NOT NULL,
    order_count   integer NOT NULL,
    PRIMARY KEY (customer_id, currency_code)
);
-- filter: {amount_spent: {currency_code: "usd", gte: 10000}}.
CREATE INDEX customer_spend_amount_idx ON customer_spend (currency_code, amount_spent, customer_id);

-- Existing rows.
INSERT INTO customer_stats (customer_id, order_count, first_order_at, last_order_at)
SELECT c.id, count(o.id), min(o.created_at), max(o.created_at)
FROM customer c LEFT JOIN orders o ON o.customer_id = c.id AND o.status <> 'CANCELED'
GROUP BY c.id;
INSERT INTO customer_spend (customer_id, currency_code, amount_spent, order_count)
SELECT o.customer_id, o.currency_code, sum(o.total), count(*)
FROM orders o WHERE o.status <> 'CANCELED'
GROUP BY o.customer_id, o.currency_code;

CREATE FUNCTION customer_stats_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_stats (customer_id) SELECT id FROM new_rows ORDER BY id ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER customer_stats_created AFTER INSERT ON customer
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_stats_created();

-- customer_stats_apply adds orders (sign 1) to and takes them (sign -1)
-- from their customers' statistics. Counts and sums are added, so
-- concurrent orders commute: each upsert holds its rows' locks to commit.
-- Rows are locked in customer id order, so two statements that move
-- orders between the same customers in opposite directions do not
-- deadlock. A customer that lost an order gets its first and last order
-- dates from its orders again, in a statement of its own: in READ
-- COMMITTED it sees every order committed before this statement took the
-- row's lock, and orders committed later apply least/greatest after it.
CREATE FUNCTION customer_stats_apply(ids text[], currencies text[], signs integer[], totals bigint[],
                                     placed timestamptz[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO customer_stats AS s (customer_id, order_count, first_order_at, last_order_at)
    SELECT d.id, sum(d.sign), min(d.at) FILTER (WHERE d.sign > 0), max(d.at) FILTER (WHERE d.sign > 0)
    FROM unnest(ids, signs, placed) AS d(id, sign, at)
    GROUP BY d.id ORDER BY d.id
    ON CONFLICT (customer_id) DO UPDATE SET
        order_count = s.order_count + excluded.order_count,
        first_order_at = least(s.first_order_at, excluded.first_order_at),
        last_order_at = greatest(s.last_order_at, excluded.last_order_at);
    INSERT INTO customer_spend AS p (customer_id, currency_code, amount_spent, order_count)
    SELECT d.id, d.cur, sum(d.sign * d.total), sum(d.sign)
    FROM unnest(ids, currencies, signs, totals) AS d(id, cur, sign, total)
    GROUP BY d.id, d.cur ORDER BY d.id, d.cur
    ON CONFLICT (customer_id, currency_code) DO UPDATE SET
        amount_spent = p.amount_spent + excluded.amount_spent,
        order_count = p.order_count + excluded.order_count;
    IF -1 = ANY (signs) THEN
        UPDATE customer_stats s SET
            first_order_at = (SELECT min(o.created_at) FROM orders o WHERE o.customer_id = s.customer_id AND o.status <> 'CANCELED'),
            last_order_at = (SELECT max(o.created_at) FROM orders o WHERE o.customer_id = s.customer_id AND o.status <> 'CANCELED')
        WHERE s.customer_id IN (SELECT d.id FROM unnest(ids, signs) AS d(id, sign) WHERE d.sign < 0);
    END IF;
END
$$;

CREATE FUNCTION customer_stats_orders_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_ids text[]; v_currencies text[]; v_signs integer[]; v_totals bigint[]; v_placed timestamptz[];
BEGIN
    SELECT coalesce(array_agg(customer_id), '{}'), array_agg(currency_code), array_agg(1), array_agg(total), array_agg(created_at)
    INTO v_ids, v_currencies, v_signs, v_totals, v_placed
    FROM new_rows WHERE status <> 'CANCELED';
    PERFORM customer_stats_apply(v_ids, v_currencies, v_signs, v_totals, v_placed);
    RETURN NULL;
END
$$;

-- An update counts only when it changes what the statistics read.
CREATE FUNCTION customer_stats_orders_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_ids text[]; v_currencies text[]; v_signs integer[]; v_totals bigint[]; v_placed timestamptz[];
BEGIN
    WITH changed AS (
        SELECT o.customer_id AS old_customer, o.currency_code AS old_currency, o.total AS old_total,
               o.created_at AS old_at, o.status <> 'CANCELED' AS old_counts,
               n.customer_id AS new_customer, n.currency_code AS new_currency, n.total AS new_total,
               n.created_at AS new_at, n.status <> 'CANCELED' AS new_counts
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE (o.customer_id, o.currency_code, o.total, o.created_at, o.status <> 'CANCELED')
              IS DISTINCT FROM (n.customer_id, n.currency_code, n.total, n.created_at, n.status <> 'CANCELED')
    ), d AS (
        SELECT old_customer AS id, old_currency AS cur, -1 AS sign, old_total AS total, old_at AS at FROM changed WHERE old_counts
        UNION ALL
        SELECT new_customer, new_currency, 1, new_total, new_at FROM changed WHERE new_counts
    )
    SELECT coalesce(array_agg(id), '{}'), array_agg(cur), array_agg(sign), array_agg(total), array_agg(at)
    INTO v_ids, v_currencies, v_signs, v_totals, v_placed FROM d;
    PERFORM customer_stats_apply(v_ids, v_currencies, v_signs, v_totals, v_placed);
    RETURN NULL;
END
$$;

CREATE FUNCTION customer_stats_orders_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_ids text[]; v_currencies text[]; v_signs integer[]; v_totals bigint[]; v_placed timestamptz[];
BEGIN
    SELECT coalesce(array_agg(customer_id), '{}'), array_agg(currency_code), array_agg(-1), array_agg(total), array_agg(created_at)
    INTO v_ids, v_currencies, v_signs, v_totals, v_placed
    FROM old_rows WHERE status <> 'CANCELED';
    PERFORM customer_stats_apply(v_ids, v_currencies, v_signs, v_totals, v_placed);
    RETURN NULL;
END
$$;

CREATE TRIGGER customer_stats_orders_inserted AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_stats_orders_inserted();
CREATE TRIGGER customer_stats_orders_updated AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_stats_orders_updated();
CREATE TRIGGER customer_stats_orders_deleted AFTER DELETE ON orders
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_stats_orders_deleted();
