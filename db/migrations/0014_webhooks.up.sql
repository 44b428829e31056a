-- Webhooks: endpoints that receive the event log's events, signed as the
-- Standard Webhooks specification says, and one delivery per event and
-- matching endpoint, which the dispatcher (package webhooks) sends, retries
-- and gives up.
--
-- Deliveries are written by a trigger on the event log, in the transaction
-- of the change that writes the event: a delivery exists exactly when its
-- event does, whichever server or code path made the change, and no job has
-- to find the events it has not seen yet. A job reading the log after a
-- cursor would have to: an event's seq is taken when it is written, not when
-- its transaction commits, so a transaction that commits late leaves an
-- event behind a cursor that has already moved past it.
--
-- Changes to these tables write no event: webhook management is not part of
-- the customers' story.

CREATE TABLE webhook_endpoint (
    id          text PRIMARY KEY CHECK (id ~ '^wh_[0-9A-Z]{26}$'),
    url         text NOT NULL CHECK (length(url) <= 2048),
    description text,
    -- Exact event types, prefixes such as 'customer.*', or '*' for all.
    event_types text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 50),
    -- The signing secret, sealed (AES-256-GCM, with a key derived from
    -- TOKEN_SECRET; see webhooks.Sealer). Only its owner sees it plain,
    -- once, when it is made.
    secret_sealed bytea NOT NULL,
    -- After a rotation the previous secret signs too, until it expires, so
    -- that receivers can switch secrets without refusing deliveries.
    previous_secret_sealed     bytea,
    previous_secret_expires_at timestamptz,
    -- Set when a delivery was given up; a delivery that succeeds, or an
    -- update of the endpoint, clears it.
    failing_since timestamptz,
    created_by    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- Deleted endpoints stay a while for their deliveries' sake; the
    -- dispatcher's purge removes them.
    deleted_at    timestamptz
);
CREATE INDEX webhook_endpoint_live_idx ON webhook_endpoint (created_at, id) WHERE deleted_at IS NULL;

-- webhook_delivery_id returns a new delivery id: msg_ and a ULID, as the
-- ids the application makes, sortable by time.
CREATE FUNCTION webhook_delivery_id() RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    alphabet constant text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    ms bigint := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint;
    -- 80 random bits, from the bytes of a version 4 UUID that are all
    -- random (byte 6 holds the version, byte 8 the variant).
    u bytea := uuid_send(gen_random_uuid());
    hi bigint := (get_byte(u, 0)::bigint << 32) | (get_byte(u, 1)::bigint << 24) | (get_byte(u, 2)::bigint << 16)
                 | (get_byte(u, 3)::bigint << 8) | get_byte(u, 4)::bigint;
    lo bigint := (get_byte(u, 5)::bigint << 32) | (get_byte(u, 10)::bigint << 24) | (get_byte(u, 11)::bigint << 16)
                 | (get_byte(u, 12)::bigint << 8) | get_byte(u, 13)::bigint;
    out text := 'msg_';
BEGIN
    FOR i IN REVERSE 9..0 LOOP
        out := out || substr(alphabet, ((ms >> (5 * i)) & 31)::int + 1, 1);
    END LOOP;
    FOR i IN REVERSE 7..0 LOOP
        out := out || substr(alphabet, ((hi >> (5 * i)) & 31)::int + 1, 1);
    END LOOP;
    FOR i IN REVERSE 7..0 LOOP
        out := out || substr(alphabet, ((lo >> (5 * i)) & 31)::int + 1, 1);
    END LOOP;
    RETURN out;
END
$$;

CREATE TABLE webhook_delivery (
    -- The webhook-id header: the same on every attempt and on a
    -- redelivery, so that receivers can drop what they have already had.
    id          text PRIMARY KEY DEFAULT webhook_delivery_id(),
    endpoint_id text NOT NULL REFERENCES webhook_endpoint (id),
    -- The event (no foreign key: the log's retention is the log's to
    -- decide, and the trigger below only ever writes seqs that exist).
    event_seq   bigint NOT NULL,
    event_type  text NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts    integer NOT NULL DEFAULT 0,
    -- When the current series of attempts began (creation, or the last
    -- redelivery): it is given up once the retry window after it is spent.
    scheduled_at    timestamptz NOT NULL DEFAULT now(),
    -- When a pending delivery is due; while a dispatcher sends it, the end
    -- of its lease (claimed_until), so that no other takes it meanwhile.
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_until   timestamptz,
    last_attempt_at timestamptz,
    last_error      text,
    last_error_code text,
    response_code   integer,
    delivered_at    timestamptz,
    given_up_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_delivery_due_idx ON webhook_delivery (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_delivery_endpoint_idx ON webhook_delivery (endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_delivery_finished_idx ON webhook_delivery (last_attempt_at) WHERE status <> 'pending';

-- webhook_matches tells whether an endpoint's event types select a type:
-- the type itself, a prefix ending in .* ('customer.*' selects
-- customer.created but not customer_address.created), or *.
CREATE FUNCTION webhook_matches(patterns text[], type text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT EXISTS (SELECT 1 FROM unnest(patterns) AS p
                   WHERE p = type OR p = '*' OR (right(p, 2) = '.*' AND starts_with(type, left(p, -1))))
$$;

-- Every event gets a delivery per living endpoint that selects its type,
-- in the event's transaction.
CREATE FUNCTION webhook_fan_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_delivery (endpoint_id, event_seq, event_type)
    SELECT w.id, NEW.seq, NEW.type
    FROM webhook_endpoint w
    WHERE w.deleted_at IS NULL AND webhook_matches(w.event_types, NEW.type);
    RETURN NULL;
END
$$;
CREATE TRIGGER event_webhook_fan_out AFTER INSERT ON event FOR EACH ROW EXECUTE FUNCTION webhook_fan_out();
