DROP TRIGGER event_webhook_fan_out ON event;
DROP FUNCTION webhook_fan_out(), webhook_matches(text[], text);
DROP TABLE webhook_delivery;
DROP FUNCTION webhook_delivery_id();
DROP TABLE webhook_endpoint;
