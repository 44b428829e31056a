-- A GIN index takes new entries into an unsorted pending list that every
-- search reads from end to end, and by default merges it into the index only
-- when it reaches 4 MB (or at a vacuum, which a million-row table rarely
-- gets from updates). At a million customers, with the 230-280 pages that
-- a few seconds of mixed traffic leave, the q search's p50 was 9-10 ms
-- instead of 8-9 ms (BENCHMARKS.md), and the write that passed the limit
-- paid 30-50 ms to merge the list. At 128 kB the list stays under 16 pages;
-- an updated row costs about 0.03 ms more.
ALTER INDEX customer_search_idx SET (gin_pending_list_limit = 128);
ALTER INDEX customer_group_search_idx SET (gin_pending_list_limit = 128);
SELECT gin_clean_pending_list('customer_search_idx');
SELECT gin_clean_pending_list('customer_group_search_idx');
