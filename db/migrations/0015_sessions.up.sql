-- Sessions with rotating refresh tokens, and verified email (issue 16,
-- items 1 and 2).

-- A session is one login: its access tokens carry its id (the "sid"
-- claim), and its refresh tokens rotate within it. Revoking it (logout,
-- logout_everywhere, a password change or reset, a refresh token used
-- twice) refuses its access tokens at once and its refresh tokens for good.
-- It lapses at expires_at unless refreshed before.
CREATE TABLE auth_session (
    id               text PRIMARY KEY CHECK (id ~ '^sess_[0-9A-Z]{26}$'),
    auth_identity_id text NOT NULL REFERENCES auth_identity (id) ON DELETE CASCADE,
    actor_type       text NOT NULL CHECK (actor_type IN ('customer', 'user')),
    user_agent       text,
    client_address   text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- The last login or refresh: access tokens are checked without a write.
    last_used_at     timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    revoked_at       timestamptz,
    revoked_reason   text CHECK (revoked_reason IN ('logout', 'logout_everywhere', 'password_changed',
                                                    'password_reset', 'refresh_token_reused')),
    CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE INDEX auth_session_identity_idx ON auth_session (auth_identity_id, created_at);

-- Refresh tokens, stored only as SHA-256 hashes. Each is spent by one
-- refresh, which issues the next one of the same session (its family);
-- a spent one presented again revokes the session (OAuth 2.1's reuse
-- detection), so the spent rows are kept while the session lives.
CREATE TABLE refresh_token (
    token_hash text PRIMARY KEY,
    session_id text NOT NULL REFERENCES auth_session (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at    timestamptz
);
CREATE INDEX refresh_token_session_idx ON refresh_token (session_id);

-- When the identity's email was last shown to reach its owner: set by a
-- verification token, and by the token that confirms an email change.
-- NULL: not verified (identities registered before this migration too).
ALTER TABLE auth_identity ADD COLUMN email_verified_at timestamptz;

-- Email tokens, stored only as SHA-256 hashes, single use and expiring:
-- 'verify' proves the identity's email (mailed at registration), 'change'
-- proves a new one (mailed by request_email_change) and changes to it.
-- email is the address the token was mailed to.
CREATE TABLE email_token (
    token_hash       text PRIMARY KEY,
    auth_identity_id text NOT NULL REFERENCES auth_identity (id) ON DELETE CASCADE,
    purpose          text NOT NULL CHECK (purpose IN ('verify', 'change')),
    email            text NOT NULL CHECK (email = lower(email)),
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_token_identity_idx ON email_token (auth_identity_id, created_at);

-- Events. A session's events concern the customer the identity has, if it
-- logged in as one; they never show a token or its hash.
CREATE FUNCTION auth_session_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    customer text;
BEGIN
    IF NEW.actor_type = 'customer' THEN
        SELECT i.customer_id INTO customer FROM auth_identity i WHERE i.id = NEW.auth_identity_id;
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM write_event('auth.session_started', customer, NULL, NULL, NULL, NEW.auth_identity_id, NULL,
                            jsonb_build_object('session_id', NEW.id, 'actor_type', NEW.actor_type,
                                               'user_agent', NEW.user_agent));
    ELSIF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL THEN
        PERFORM write_event('auth.session_revoked', customer, NULL, NULL, NULL, NEW.auth_identity_id, NULL,
                            jsonb_build_object('session_id', NEW.id, 'reason', NEW.revoked_reason));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER auth_session_event AFTER INSERT OR UPDATE ON auth_session FOR EACH ROW EXECUTE FUNCTION auth_session_event();

CREATE FUNCTION email_token_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    customer text;
BEGIN
    SELECT i.customer_id INTO customer FROM auth_identity i WHERE i.id = NEW.auth_identity_id;
    IF NEW.purpose = 'change' THEN
        PERFORM write_event('auth.email_change_requested', customer, NULL, NULL, NULL, NEW.auth_identity_id, NULL,
                            jsonb_build_object('new_email', NEW.email, 'expires_at', NEW.expires_at));
    ELSE
        PERFORM write_event('auth.email_verification_requested', customer, NULL, NULL, NULL, NEW.auth_identity_id, NULL,
                            jsonb_build_object('email', NEW.email, 'expires_at', NEW.expires_at));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER email_token_event AFTER INSERT ON email_token FOR EACH ROW EXECUTE FUNCTION email_token_event();

-- The identity's events, as 0013 wrote them, and: a password changed by
-- change_password (the transaction sets app.password_change) rather than
-- reset; an email verified; an email changed.
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
        PERFORM write_event(CASE WHEN current_setting('app.password_change', true) = 'on'
                                 THEN 'auth.password_changed' ELSE 'auth.password_reset_completed' END,
                            NEW.customer_id, NULL, NULL, NULL, NEW.id, NULL, NULL);
    END IF;
    IF OLD.email IS DISTINCT FROM NEW.email THEN
        PERFORM write_event('auth.email_changed', NEW.customer_id, NULL, NULL, NULL, NEW.id,
                            jsonb_build_object('email', jsonb_build_object('from', OLD.email, 'to', NEW.email)), NULL);
    ELSIF OLD.email_verified_at IS NULL AND NEW.email_verified_at IS NOT NULL THEN
        PERFORM write_event('auth.email_verified', NEW.customer_id, NULL, NULL, NULL, NEW.id, NULL,
                            jsonb_build_object('email', NEW.email));
    END IF;
    RETURN NULL;
END
$$;
