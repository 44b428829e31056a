DROP FUNCTION search_pattern(text);
DROP FUNCTION refresh_search_trigrams(interval);
DROP TABLE search_trigram_refresh;
DROP TABLE search_trigram;
