DROP TRIGGER customer_count_insert ON customer;
DROP TRIGGER customer_count_update ON customer;
DROP TRIGGER customer_count_delete ON customer;
DROP FUNCTION customer_count_changed();
DROP TABLE customer_count;
