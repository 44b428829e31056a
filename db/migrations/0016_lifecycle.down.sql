DROP FUNCTION identity_email_verified(text);
DROP FUNCTION event_redact(jsonb);
DROP INDEX event_order_idx;
DROP INDEX event_identity_idx;
DROP TABLE account_deletion_request;
DROP FUNCTION account_deletion_event();
DROP TABLE customer_erasure;
DROP FUNCTION customer_erasure_event();
DROP TABLE customer_merge;
DROP FUNCTION customer_merge_event();
-- 0003 knows no canceled transfer: it was ended without a decision, as a
-- declined one is.
UPDATE order_transfer SET status = 'declined' WHERE status = 'canceled';
ALTER TABLE order_transfer DROP CONSTRAINT order_transfer_status_check;
ALTER TABLE order_transfer ADD CONSTRAINT order_transfer_status_check
    CHECK (status IN ('pending', 'accepted', 'declined', 'replaced'));
