DROP INDEX order_transfer_customer_idx;
DROP TABLE password_reset_request;
