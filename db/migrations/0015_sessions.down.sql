-- 0013's identity events.
CREATE OR REPLACE FUNCTION auth_identity_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM write_event('auth.identity_registered', NEW.customer_id, NULL, NULL, NULL, NEW.id, NULL,
                            jsonb_build_object('email', NEW.email));
        RETURN NULL;
    END IF;
    IF OLD.customer_id IS NULL AND NEW.customer_id IS NOT NULL THEN
        PERFORM write_event('customer.account_created', NEW.customer_id, NULL, NULL, NULL, NEW.id, NULL,
                            jsonb_build_object('email', NEW.email));
    ELSIF OLD.customer_id IS NOT NULL AND NEW.customer_id IS NULL THEN
        PERFORM write_event('auth.customer_unlinked', OLD.customer_id, NULL, NULL, NULL, NEW.id, NULL, NULL);
    END IF;
    IF OLD.user_id IS NULL AND NEW.user_id IS NOT NULL THEN
        PERFORM write_event('auth.user_linked', NULL, NULL, NULL, NULL, NEW.id, NULL, jsonb_build_object('user_id', NEW.user_id));
    END IF;
    IF OLD.password_hash IS DISTINCT FROM NEW.password_hash THEN
        PERFORM write_event('auth.password_reset_completed', NEW.customer_id, NULL, NULL, NULL, NEW.id, NULL, NULL);
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER email_token_event ON email_token;
DROP TRIGGER auth_session_event ON auth_session;
DROP FUNCTION email_token_event(), auth_session_event();
DROP TABLE email_token;
ALTER TABLE auth_identity DROP COLUMN email_verified_at;
DROP TABLE refresh_token;
DROP TABLE auth_session;
