DROP TRIGGER customer_group_members_insert ON customer_group_customer;
DROP TRIGGER customer_group_members_delete ON customer_group_customer;
DROP FUNCTION customer_group_members_changed();
ALTER TABLE customer_group DROP COLUMN member_count;
