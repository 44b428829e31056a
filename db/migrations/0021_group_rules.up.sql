-- Issue 18: rule-based customer groups (segments). A group either has no
-- rules (a static group, whose members admins add and remove) or has rules:
-- a condition tree over the customer, its addresses, its statistics and its
-- static groups, which the server compiles (db/customer_group_rules.go) to
-- a boolean SQL expression over the customer row c whose every value is read
-- from one parameter, $1, the jsonb array rule_params. The expression is
-- made only of the compiler's fixed fragments and whitelisted columns; no
-- text of the input is ever in it.
--
-- Membership is materialized in customer_group_customer, as for static
-- groups, so Customer.groups, the group filter and member pages read both
-- kinds with the same statements. Statement triggers on the tables the
-- rules read re-evaluate the changed customers in the transaction of the
-- change, whichever code path makes it (the API, imports, merges, erasure,
-- the statistics' triggers, SQL by hand).
ALTER TABLE customer_group
    -- The tree as the API took it, in the input's shape.
    ADD COLUMN rules jsonb,
    ADD COLUMN rule_sql text,
    ADD COLUMN rule_params jsonb,
    -- What the rules read: customer, address, stats, spend, membership; a
    -- change to another table does not re-evaluate the group.
    ADD COLUMN rule_reads text[],
    -- The static groups the rules name (which cannot get rules or be
    -- deleted while named).
    ADD COLUMN rule_groups text[],
    -- Rules with a relative time (within the last n days), which the
    -- refresh job evaluates again as time passes.
    ADD COLUMN rules_relative boolean NOT NULL DEFAULT false,
    ADD COLUMN rules_refreshed_at timestamptz,
    ADD CONSTRAINT customer_group_rules_compiled CHECK ((rules IS NULL) = (rule_sql IS NULL)
        AND (rules IS NULL) = (rule_params IS NULL) AND (rules IS NULL) = (rule_reads IS NULL));
CREATE INDEX customer_group_rules_idx ON customer_group (id) WHERE rule_sql IS NOT NULL AND deleted_at IS NULL;

-- Events show the rules, never their compiled form or bookkeeping.
CREATE OR REPLACE FUNCTION event_fields(r jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT r - ARRAY['password_hash', 'token_hash', 'token_generation', 'created_at', 'updated_at', 'member_count',
                     'rule_sql', 'rule_params', 'rule_reads', 'rule_groups', 'rules_relative', 'rules_refreshed_at']
$$;

-- Saving rules and the refresh job materialize a group under this advisory
-- lock, exclusively; every re-evaluation holds it shared until its
-- transaction ends. A change committed while a group is materialized could
-- otherwise be evaluated against the rules the save replaces, and missed by
-- the materialization's snapshot. Saves take it before they lock the group
-- row, which re-evaluations lock (the member count) while they hold it.
-- Re-evaluations take it after their own row changes: a save that must wait
-- for a row such a writer locked FOR UPDATE (a merge's customers, the owner
-- of an address being added) deadlocks with it, and PostgreSQL aborts one of
-- the two (see README, Segments).
CREATE FUNCTION customer_group_rules_lock_key() RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT 7243518300190001::bigint $$;

-- customer_group_rules_any takes the advisory lock shared and tells whether
-- a living rule group reads source (any, for NULL): without one, a trigger
-- returns before it gathers the changed customers (a seeder's COPY of a
-- million memberships pays one lookup in a partial index).
CREATE FUNCTION customer_group_rules_any(source text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(customer_group_rules_lock_key());
    RETURN EXISTS (SELECT 1 FROM customer_group WHERE rule_sql IS NOT NULL AND deleted_at IS NULL
                   AND (source IS NULL OR source = ANY (rule_reads)));
END
$$;

-- customer_group_rules_apply re-evaluates the customers ids against every
-- living rule group that reads source (every one for NULL). Its own
-- membership changes are marked (app.group_rules), so that the membership
-- trigger does not evaluate them again.
CREATE FUNCTION customer_group_rules_apply(ids text[], source text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    g record;
    prev text;
    matched text[];
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(customer_group_rules_lock_key());
    prev := coalesce(current_setting('app.group_rules', true), '');
    PERFORM set_config('app.group_rules', 'applying', true);
    FOR g IN SELECT id, rule_sql, rule_params FROM customer_group
             WHERE rule_sql IS NOT NULL AND deleted_at IS NULL AND (source IS NULL OR source = ANY (rule_reads))
             ORDER BY id LOOP
        -- One dynamic statement (planned at each call) finds which of the
        -- customers match; static ones, whose plans PL/pgSQL keeps, move
        -- the memberships. The DELETE looks each customer up by the whole
        -- key, in a subquery OFFSET 0 keeps from being flattened: joined,
        -- a group saved a moment ago, of which the planner has no
        -- statistics, looked like one row, and it walked the group's
        -- 100,000 members for each order.
        EXECUTE 'SELECT coalesce(array_agg(c.id), ''{}'') FROM customer c WHERE c.id = ANY ($2) AND c.deleted_at IS NULL AND ('
                || g.rule_sql || ')'
            INTO matched USING g.rule_params, ids;
        DELETE FROM customer_group_customer m WHERE m.ctid = ANY (ARRAY(
            SELECT t.ctid FROM unnest(ids) AS u (id)
            CROSS JOIN LATERAL (SELECT x.ctid FROM customer_group_customer x
                                WHERE x.customer_group_id = g.id AND x.customer_id = u.id OFFSET 0) t
            WHERE NOT u.id = ANY (matched)));
        IF cardinality(matched) > 0 THEN
            INSERT INTO customer_group_customer (customer_group_id, customer_id)
            SELECT g.id, u.id FROM unnest(matched) AS u (id) ORDER BY u.id ON CONFLICT DO NOTHING;
        END IF;
    END LOOP;
    PERFORM set_config('app.group_rules', prev, true);
END
$$;

-- customer_group_rules_materialize makes a rule group's members exactly the
-- customers its rules match: one statement removes those who no longer
-- match, one adds those who do. The caller holds the advisory lock
-- exclusively (db.SetGroupRules, db.RefreshGroupRules).
CREATE FUNCTION customer_group_rules_materialize(group_id text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    g record;
    prev text;
BEGIN
    SELECT id, rule_sql, rule_params INTO g FROM customer_group WHERE id = group_id AND rule_sql IS NOT NULL;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    prev := coalesce(current_setting('app.group_rules', true), '');
    PERFORM set_config('app.group_rules', 'applying', true);
    EXECUTE 'DELETE FROM customer_group_customer m WHERE m.customer_group_id = $2
             AND NOT EXISTS (SELECT 1 FROM customer c WHERE c.id = m.customer_id AND c.deleted_at IS NULL AND ('
             || g.rule_sql || '))'
        USING g.rule_params, g.id;
    EXECUTE 'INSERT INTO customer_group_customer (customer_group_id, customer_id)
             SELECT $2, c.id FROM customer c WHERE c.deleted_at IS NULL AND (' || g.rule_sql || ')
             ORDER BY c.id ON CONFLICT DO NOTHING'
        USING g.rule_params, g.id;
    UPDATE customer_group SET rules_refreshed_at = now() WHERE id = group_id;
    PERFORM set_config('app.group_rules', prev, true);
END
$$;

-- The triggers: each hands the customers whose rule inputs changed to
-- customer_group_rules_apply.
CREATE FUNCTION customer_group_rules_customer_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_ids text[];
BEGIN
    IF NOT customer_group_rules_any('customer') THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(id ORDER BY id) INTO v_ids FROM new_rows;
    ELSE
        SELECT array_agg(n.id ORDER BY n.id) INTO v_ids
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE (o.email, o.first_name, o.last_name, o.company_name, o.phone, o.has_account, o.metadata, o.created_at, o.deleted_at)
              IS DISTINCT FROM (n.email, n.first_name, n.last_name, n.company_name, n.phone, n.has_account, n.metadata, n.created_at, n.deleted_at);
    END IF;
    PERFORM customer_group_rules_apply(v_ids, 'customer');
    RETURN NULL;
END
$$;
CREATE TRIGGER customer_group_rules_insert AFTER INSERT ON customer
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_group_rules_customer_changed();
CREATE TRIGGER customer_group_rules_update AFTER UPDATE ON customer
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_group_rules_customer_changed();

CREATE FUNCTION customer_group_rules_address_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_ids text[];
BEGIN
    IF NOT customer_group_rules_any('address') THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT customer_id) INTO v_ids FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT customer_id) INTO v_ids FROM old_rows;
    ELSE
        SELECT array_agg(DISTINCT d.customer_id) INTO v_ids FROM (
            SELECT o.customer_id FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE (o.customer_id, o.country_code, o.city, o.province, o.postal_code, o.deleted_at)
                  IS DISTINCT FROM (n.customer_id, n.country_code, n.city, n.province, n.postal_code, n.deleted_at)
            UNION ALL
            SELECT n.customer_id FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE o.customer_id IS DISTINCT FROM n.customer_id) d;
    END IF;
    PERFORM customer_group_rules_apply(v_ids, 'address');
    RETURN NULL;
END
$$;
CREATE TRIGGER customer_group_rules_insert AFTER INSERT ON customer_address
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_group_rules_address_changed();
CREATE TRIGGER customer_group_rules_update AFTER UPDATE ON customer_address
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_group_rules_address_changed();
CREATE TRIGGER customer_group_rules_delete AFTER DELETE ON customer_address
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_group_rules_address_changed();

-- The statistics change through customer_stats_apply's upserts (migration
-- 0018): an existing row is an update. A new customer's row is inserted
-- with the customer, whose own trigger evaluates it.
CREATE FUNCTION customer_group_rules_stats_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_ids text[];
BEGIN
    IF NOT customer_group_rules_any(TG_ARGV[0]) THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(DISTINCT customer_id) INTO v_ids FROM new_rows;
    PERFORM customer_group_rules_apply(v_ids, TG_ARGV[0]);
    RETURN NULL;
END
$$;
CREATE TRIGGER customer_group_rules_update AFTER UPDATE ON customer_stats
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_group_rules_stats_changed('stats');
CREATE TRIGGER customer_group_rules_insert AFTER INSERT ON customer_spend
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_group_rules_stats_changed('spend');
CREATE TRIGGER customer_group_rules_update AFTER UPDATE ON customer_spend
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_group_rules_stats_changed('spend');

-- A membership changed by anything but the rules themselves: of a static
-- group, which rules may name; or of a rule group, which only a merge, an
-- import naming the group or SQL by hand does (the API refuses it), and
-- which is put back to what the rules say.
CREATE FUNCTION customer_group_rules_membership_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_ids text[];
BEGIN
    IF current_setting('app.group_rules', true) = 'applying' THEN
        RETURN NULL;
    END IF;
    IF NOT customer_group_rules_any(NULL) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT customer_id) INTO v_ids FROM new_rows;
    ELSE
        SELECT array_agg(DISTINCT customer_id) INTO v_ids FROM old_rows;
    END IF;
    PERFORM customer_group_rules_apply(v_ids, NULL);
    RETURN NULL;
END
$$;
CREATE TRIGGER customer_group_rules_insert AFTER INSERT ON customer_group_customer
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_group_rules_membership_changed();
CREATE TRIGGER customer_group_rules_delete AFTER DELETE ON customer_group_customer
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_group_rules_membership_changed();

-- STATIC or RULES, for CustomerGroup.kind and its events' changes.
ALTER TABLE customer_group ADD COLUMN kind text NOT NULL
    GENERATED ALWAYS AS (CASE WHEN rules IS NULL THEN 'STATIC' ELSE 'RULES' END) STORED;
