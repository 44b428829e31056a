ALTER INDEX customer_search_idx RESET (gin_pending_list_limit);
ALTER INDEX customer_group_search_idx RESET (gin_pending_list_limit);
