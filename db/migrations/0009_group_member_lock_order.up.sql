-- The member-count trigger updated the groups of a statement in whatever
-- order the plan met them: two customers deleted at once, both members of
-- the same two groups, could each lock one group and wait for the other's,
-- and PostgreSQL aborted one as a deadlock. The groups are now locked in id
-- order first, the order every writer of memberships takes.
CREATE OR REPLACE FUNCTION customer_group_members_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM 1 FROM customer_group
        WHERE id IN (SELECT customer_group_id FROM new_rows) ORDER BY id FOR NO KEY UPDATE;
        UPDATE customer_group g SET member_count = g.member_count + d.n
        FROM (SELECT customer_group_id, count(*) AS n FROM new_rows GROUP BY customer_group_id) d
        WHERE g.id = d.customer_group_id;
    ELSE
        PERFORM 1 FROM customer_group
        WHERE id IN (SELECT customer_group_id FROM old_rows) ORDER BY id FOR NO KEY UPDATE;
        UPDATE customer_group g SET member_count = g.member_count - d.n
        FROM (SELECT customer_group_id, count(*) AS n FROM old_rows GROUP BY customer_group_id) d
        WHERE g.id = d.customer_group_id;
    END IF;
    RETURN NULL;
END
$$;
