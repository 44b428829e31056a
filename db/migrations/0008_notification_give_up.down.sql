DROP INDEX notification_pending_idx;
CREATE INDEX notification_pending_idx ON notification (next_attempt_at) WHERE sent_at IS NULL;
ALTER TABLE notification DROP COLUMN expires_at, DROP COLUMN abandoned_at;
