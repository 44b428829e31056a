-- A key is now claimed in the transaction of the request it answers, so a
-- committed row always holds an answer. Claims left by the old scheme (a
-- request that died between its claim and its answer) are dropped: a retry
-- acts, as it would have once they expired.
DELETE FROM idempotency_key WHERE status IS NULL;
