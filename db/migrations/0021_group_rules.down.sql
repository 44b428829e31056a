DROP TRIGGER customer_group_rules_delete ON customer_group_customer;
DROP TRIGGER customer_group_rules_insert ON customer_group_customer;
DROP TRIGGER customer_group_rules_update ON customer_spend;
DROP TRIGGER customer_group_rules_insert ON customer_spend;
DROP TRIGGER customer_group_rules_update ON customer_stats;
DROP TRIGGER customer_group_rules_delete ON customer_address;
DROP TRIGGER customer_group_rules_update ON customer_address;
DROP TRIGGER customer_group_rules_insert ON customer_address;
DROP TRIGGER customer_group_rules_update ON customer;
DROP TRIGGER customer_group_rules_insert ON customer;
DROP FUNCTION customer_group_rules_membership_changed();
DROP FUNCTION customer_group_rules_stats_changed();
DROP FUNCTION customer_group_rules_address_changed();
DROP FUNCTION customer_group_rules_customer_changed();
DROP FUNCTION customer_group_rules_materialize(text);
DROP FUNCTION customer_group_rules_apply(text[], text);
DROP FUNCTION customer_group_rules_any(text);
DROP FUNCTION customer_group_rules_lock_key();
CREATE OR REPLACE FUNCTION event_fields(r jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT r - ARRAY['password_hash', 'token_hash', 'token_generation', 'created_at', 'updated_at', 'member_count']
$$;
DROP INDEX customer_group_rules_idx;
ALTER TABLE customer_group DROP COLUMN kind;
ALTER TABLE customer_group DROP CONSTRAINT customer_group_rules_compiled,
    DROP COLUMN rules_refreshed_at, DROP COLUMN rules_relative, DROP COLUMN rule_groups, DROP COLUMN rule_reads,
    DROP COLUMN rule_params, DROP COLUMN rule_sql, DROP COLUMN rules;
