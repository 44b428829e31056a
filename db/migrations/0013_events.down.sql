DROP TRIGGER order_transfer_event ON order_transfer;
DROP TRIGGER orders_event ON orders;
DROP TRIGGER password_reset_request_event ON password_reset_request;
DROP TRIGGER auth_identity_event ON auth_identity;
DROP TRIGGER customer_group_customer_event ON customer_group_customer;
DROP TRIGGER customer_group_event ON customer_group;
DROP TRIGGER customer_address_event ON customer_address;
DROP TRIGGER customer_event ON customer;
DROP FUNCTION order_transfer_event(), orders_event(), password_reset_request_event(), auth_identity_event(),
    customer_group_customer_event(), customer_group_event(), customer_address_event(), customer_event();
DROP FUNCTION write_event(text, text, text, text, text, text, jsonb, jsonb);
DROP FUNCTION event_diff(jsonb, jsonb), event_fields(jsonb);
DROP TABLE event;
