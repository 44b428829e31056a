-- Nothing to undo: the rows 0012 dropped held no answer.
SELECT 1;
