-- Each group's number of members, kept by triggers, so a member page's
-- count is one read instead of counting 100,000 memberships. Deleting a
-- customer removes its memberships (db.DeleteCustomer), so memberships are
-- living members.
ALTER TABLE customer_group ADD COLUMN member_count bigint NOT NULL DEFAULT 0;
UPDATE customer_group g SET member_count = (SELECT count(*) FROM customer_group_customer m WHERE m.customer_group_id = g.id);

CREATE FUNCTION customer_group_members_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE customer_group g SET member_count = g.member_count + d.n
        FROM (SELECT customer_group_id, count(*) AS n FROM new_rows GROUP BY customer_group_id) d
        WHERE g.id = d.customer_group_id;
    ELSE
        UPDATE customer_group g SET member_count = g.member_count - d.n
        FROM (SELECT customer_group_id, count(*) AS n FROM old_rows GROUP BY customer_group_id) d
        WHERE g.id = d.customer_group_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER customer_group_members_insert AFTER INSERT ON customer_group_customer
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_group_members_changed();
CREATE TRIGGER customer_group_members_delete AFTER DELETE ON customer_group_customer
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_group_members_changed();
