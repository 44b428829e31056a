-- The number of living customers, kept by triggers, so that the unfiltered
-- list's count costs one small read instead of counting a million rows.
-- Sharded by backend, so concurrent writers rarely wait on one row; the
-- triggers are per statement, so a bulk COPY adds one update, not one per row.
CREATE TABLE customer_count (
    shard integer PRIMARY KEY,
    n     bigint NOT NULL
);
INSERT INTO customer_count (shard, n) SELECT s, 0 FROM generate_series(0, 15) AS s;
UPDATE customer_count SET n = (SELECT count(*) FROM customer WHERE deleted_at IS NULL) WHERE shard = 0;

CREATE FUNCTION customer_count_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta bigint := 0;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        delta := delta + (SELECT count(*) FROM new_rows WHERE deleted_at IS NULL);
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        delta := delta - (SELECT count(*) FROM old_rows WHERE deleted_at IS NULL);
    END IF;
    IF delta <> 0 THEN
        UPDATE customer_count SET n = n + delta WHERE shard = pg_backend_pid() % 16;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER customer_count_insert AFTER INSERT ON customer
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_count_changed();
CREATE TRIGGER customer_count_update AFTER UPDATE ON customer
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_count_changed();
CREATE TRIGGER customer_count_delete AFTER DELETE ON customer
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_count_changed();
