-- Counts younger than an hour stood, whatever happened since: a database
-- is created with counts of its empty customer table (migration 0020), so
-- after a first import of a million customers every search of more than
-- six characters asked the trigram index for all of itself, at a fifth
-- of the speed, until the hour was up. Counts now also record how many
-- customers they were made for, and are made again, however young, once
-- the table has doubled or halved since.
ALTER TABLE search_trigram_refresh ADD COLUMN customers bigint NOT NULL DEFAULT 0;

-- customer_estimate is how many customers the table holds, by the
-- planner's last count or the statistics' live rows, whichever is
-- larger: the first lags behind an import until autovacuum analyzes the
-- table, the second is zero after a crash.
CREATE FUNCTION customer_estimate() RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT greatest(c.reltuples, coalesce(s.n_live_tup, 0), 0)::bigint
    FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
    WHERE c.oid = 'customer'::regclass
$$;

-- search_sample_percent is the share of a table of estimate customers
-- that holds about 20,000 of them, all of a smaller one.
CREATE FUNCTION search_sample_percent(estimate bigint) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
    SELECT least(100, 100.0 * 20000 / greatest(estimate, 1))::float8
$$;

CREATE OR REPLACE FUNCTION refresh_search_trigrams(max_age interval DEFAULT '0') RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    percent float8;
    sampled bigint;
    estimate bigint := customer_estimate();
BEGIN
    -- One refresh at a time, when several servers run it; the ones that
    -- waited find the counts fresh.
    PERFORM pg_advisory_xact_lock(hashtext('refresh_search_trigrams'));
    IF EXISTS (SELECT FROM search_trigram_refresh
               WHERE refreshed_at > clock_timestamp() - max_age
                 AND estimate BETWEEN customers / 2 AND 2 * customers + 1000) THEN
        RETURN false;
    END IF;
    percent := search_sample_percent(estimate);
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
    INSERT INTO search_trigram_refresh (refreshed_at, customers) VALUES (clock_timestamp(), estimate)
    ON CONFLICT (one) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at, customers = EXCLUDED.customers;
    RETURN true;
END
$$;
