-- A q search finds its rows through the trigram index, which intersects
-- the posting lists of every trigram of the fragment. Trigrams that nearly
-- every row has ("cus", "ust" ... of "customer", "555" of a phone) cost the
-- most and select nothing: at 1,000,000 customers "customer4321@" read
-- 2,262 index and table pages, its last six characters, "r4321@", 35. So
-- the index is asked for the fragment's most selective six characters,
-- and the rows it gives are checked against the whole fragment: the same
-- rows, found at a fraction of the cost.
--
-- Which six characters are most selective is estimated from how many
-- customers have each trigram, counted in a sample of about 20,000 of
-- them (all of them, below that) by refresh_search_trigrams, which the
-- servers run hourly. A trigram the sample lacks counts as the rarest.
-- A stale table can only make a search slower, never its answer wrong.
CREATE TABLE search_trigram (
    trigram text PRIMARY KEY,
    -- The share of the sampled customers that have it, 0 to 1.
    share   real NOT NULL
);

-- When the counts were last made: every server asks for them at start and
-- hourly, and one count an hour is enough for all of them.
CREATE TABLE search_trigram_refresh (
    one          boolean PRIMARY KEY DEFAULT true CHECK (one),
    refreshed_at timestamptz NOT NULL
);

-- refresh_search_trigrams counts again, unless the counts are younger than
-- max_age, and returns whether it did.
CREATE FUNCTION refresh_search_trigrams(max_age interval DEFAULT '0') RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    percent float8;
    sampled bigint;
BEGIN
    -- One refresh at a time, when several servers run it; the ones that
    -- waited find the counts fresh.
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

-- search_pattern is the ILIKE pattern of q's most selective six
-- characters: those whose letter-and-digit trigrams are together the
-- rarest (at least two of them), the last such six on a tie. A fragment
-- of six characters or fewer, or a table not yet counted, is its own.
-- Each of q's trigrams is looked up once and each window sums the four
-- that start in it, so a fragment of 200 characters costs 198 lookups.
CREATE FUNCTION search_pattern(q text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT '%' || replace(replace(replace(coalesce((
        SELECT substr(q, w.i, 6)
        FROM (SELECT t.i, count(t.rarity) OVER four AS trigrams, sum(t.rarity) OVER four AS rarity
              FROM (SELECT j AS i,
                           CASE WHEN lower(substr(q, j, 3)) ~ '^[[:alnum:]]{3}$'
                                THEN ln(greatest(coalesce(st.share, 0), 0.00001)) END AS rarity
                    FROM generate_series(1, length(q) - 2) AS j
                    LEFT JOIN search_trigram st ON st.trigram = lower(substr(q, j, 3))) AS t
              WINDOW four AS (ORDER BY t.i ROWS BETWEEN CURRENT ROW AND 3 FOLLOWING)) AS w
        WHERE w.i <= length(q) - 5 AND w.trigrams >= 2 AND EXISTS (SELECT FROM search_trigram)
        ORDER BY w.rarity, w.i DESC
        LIMIT 1), q), '\', '\\'), '%', '\%'), '_', '\_') || '%'
$$;

SELECT refresh_search_trigrams();
