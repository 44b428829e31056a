-- A message that can no longer be delivered is given up instead of being
-- retried every hour forever: when the token it carries has expired, or
-- when the mail server refuses it for good (an unknown mailbox, say).
ALTER TABLE notification
    ADD COLUMN expires_at   timestamptz,
    ADD COLUMN abandoned_at timestamptz;
DROP INDEX notification_pending_idx;
CREATE INDEX notification_pending_idx ON notification (next_attempt_at)
    WHERE sent_at IS NULL AND abandoned_at IS NULL;
