-- Given-up messages have lost their token: without abandoned_at they would
-- be pending again, and sent without it.
DELETE FROM notification WHERE abandoned_at IS NOT NULL AND sent_at IS NULL;
DROP INDEX notification_pending_idx;
CREATE INDEX notification_pending_idx ON notification (next_attempt_at) WHERE sent_at IS NULL;
ALTER TABLE notification DROP COLUMN expires_at, DROP COLUMN abandoned_at;
