CREATE OR REPLACE FUNCTION refresh_search_trigrams(max_age interval DEFAULT '0') RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    percent float8;
    sampled bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('refresh_search_trigrams'));
    IF EXISTS (SELECT FROM search_trigram_refresh WHERE refreshed_at > clock_timestamp() - max_age) THEN
        RETURN false;
    END IF;
    SELECT least(100, 100 * 20000 / greatest(reltuples, 1)) INTO percent FROM pg_class WHERE oid = 'customer'::regclass;
    CREATE TEMP TABLE search_sample ON COMMIT DROP AS
        SELECT lower(c.email || ' ' || coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '') || ' ' ||
                     coalesce(c.phone, '') || ' ' || coalesce(c.company_name, '')) AS text
        FROM customer c TABLESAMPLE SYSTEM (percent)
        WHERE c.deleted_at IS NULL;
    SELECT count(*) INTO sampled FROM search_sample;
    DELETE FROM search_trigram;
    INSERT INTO search_trigram (trigram, share)
    SELECT t.trigram, count(*)::real / greatest(sampled, 1)
    FROM search_sample s,
         LATERAL (SELECT DISTINCT substr(s.text, i, 3) AS trigram FROM generate_series(1, length(s.text) - 2) AS i) AS t
    WHERE t.trigram ~ '^[[:alnum:]]{3}$'
    GROUP BY t.trigram;
    DROP TABLE search_sample;
    INSERT INTO search_trigram_refresh (refreshed_at) VALUES (clock_timestamp())
    ON CONFLICT (one) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at;
    RETURN true;
END
$$;
DROP FUNCTION customer_estimate();
DROP FUNCTION search_sample_percent(bigint);
ALTER TABLE search_trigram_refresh DROP COLUMN customers;
