CREATE OR REPLACE FUNCTION customer_group_members_changed() RETURNS trigger LANGUAGE plpgsql AS $$
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
