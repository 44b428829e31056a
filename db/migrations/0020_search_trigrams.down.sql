DROP FUNCTION search_pattern(text);
DROP FUNCTION refresh_search_trigrams();
DROP TABLE search_trigram;
