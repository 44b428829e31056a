-- The customer graph: customers, groups, addresses, orders and the accounts
-- that log in. Rules the API promises are constraints here, so no code path
-- (or concurrent request) can break them.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE admin_user (
    id         text PRIMARY KEY CHECK (id ~ '^user_[0-9A-Z]{26}$'),
    email      text NOT NULL CHECK (email = lower(email)),
    first_name text,
    last_name  text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE UNIQUE INDEX admin_user_email_key ON admin_user (email) WHERE deleted_at IS NULL;

CREATE TABLE customer (
    id           text PRIMARY KEY CHECK (id ~ '^cus_[0-9A-Z]{26}$'),
    -- Stored lower-cased, so equality is case-insensitive and the unique
    -- index below is too (Medusa's is case-sensitive).
    email        text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    first_name   text,
    last_name    text,
    phone        text,
    company_name text,
    has_account  boolean NOT NULL DEFAULT false,
    metadata     jsonb CHECK (metadata IS NULL OR jsonb_typeof(metadata) = 'object'),
    created_by   text REFERENCES admin_user (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz
);
-- One guest and one registered customer per email among the living.
CREATE UNIQUE INDEX customer_email_has_account_key
    ON customer (email, has_account) WHERE deleted_at IS NULL;
CREATE INDEX customer_created_at_idx ON customer (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX customer_updated_at_idx ON customer (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX customer_created_at_all_idx ON customer (created_at, id);
CREATE INDEX customer_company_name_idx ON customer (lower(company_name)) WHERE deleted_at IS NULL;
-- Serves the q filter: ILIKE '%fragment%' over every searchable column.
-- customerSearchText in db/customer.go must stay the same expression.
CREATE INDEX customer_search_idx ON customer USING gin (
    (email || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' ||
     coalesce(phone, '') || ' ' || coalesce(company_name, '')) gin_trgm_ops);

CREATE TABLE auth_identity (
    id            text PRIMARY KEY CHECK (id ~ '^authid_[0-9A-Z]{26}$'),
    email         text NOT NULL UNIQUE CHECK (email = lower(email)),
    password_hash text NOT NULL,
    customer_id   text UNIQUE REFERENCES customer (id),
    user_id       text UNIQUE REFERENCES admin_user (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE customer_group (
    id         text PRIMARY KEY CHECK (id ~ '^cusgroup_[0-9A-Z]{26}$'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    metadata   jsonb CHECK (metadata IS NULL OR jsonb_typeof(metadata) = 'object'),
    created_by text REFERENCES admin_user (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE UNIQUE INDEX customer_group_name_key ON customer_group (lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX customer_group_created_at_idx ON customer_group (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX customer_group_search_idx ON customer_group USING gin (name gin_trgm_ops);

CREATE TABLE customer_group_customer (
    customer_group_id text NOT NULL REFERENCES customer_group (id),
    customer_id       text NOT NULL REFERENCES customer (id),
    created_by        text REFERENCES admin_user (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_group_id, customer_id)
);
-- Customer.groups looks memberships up from the customer side.
CREATE INDEX customer_group_customer_customer_idx ON customer_group_customer (customer_id, customer_group_id);

CREATE TABLE customer_address (
    id                  text PRIMARY KEY CHECK (id ~ '^cuaddr_[0-9A-Z]{26}$'),
    customer_id         text NOT NULL REFERENCES customer (id),
    address_name        text,
    is_default_shipping boolean NOT NULL DEFAULT false,
    is_default_billing  boolean NOT NULL DEFAULT false,
    company             text,
    first_name          text,
    last_name           text,
    address_1           text,
    address_2           text,
    city                text,
    country_code        text CHECK (country_code ~ '^[a-z]{2}$'),
    province            text,
    postal_code         text,
    phone               text,
    metadata            jsonb CHECK (metadata IS NULL OR jsonb_typeof(metadata) = 'object'),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz
);
CREATE INDEX customer_address_customer_idx ON customer_address (customer_id, created_at, id) WHERE deleted_at IS NULL;
-- At most one default billing and one default shipping address per customer.
CREATE UNIQUE INDEX customer_address_default_billing_key
    ON customer_address (customer_id) WHERE is_default_billing AND deleted_at IS NULL;
CREATE UNIQUE INDEX customer_address_default_shipping_key
    ON customer_address (customer_id) WHERE is_default_shipping AND deleted_at IS NULL;

CREATE TABLE orders (
    id               text PRIMARY KEY CHECK (id ~ '^order_[0-9A-Z]{26}$'),
    display_id       bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    customer_id      text NOT NULL REFERENCES customer (id),
    email            text NOT NULL CHECK (email = lower(email)),
    status           text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'COMPLETED', 'CANCELED')),
    currency_code    text NOT NULL CHECK (currency_code ~ '^[a-z]{3}$'),
    -- Copies, not references: editing the address book must not rewrite
    -- placed orders.
    shipping_address jsonb CHECK (shipping_address IS NULL OR jsonb_typeof(shipping_address) = 'object'),
    billing_address  jsonb CHECK (billing_address IS NULL OR jsonb_typeof(billing_address) = 'object'),
    subtotal         bigint NOT NULL CHECK (subtotal >= 0),
    total            bigint NOT NULL CHECK (total >= 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer_idx ON orders (customer_id, created_at DESC, id DESC);
CREATE INDEX orders_created_at_idx ON orders (created_at, id);
CREATE INDEX orders_email_idx ON orders (email);

CREATE TABLE order_line_item (
    id         text PRIMARY KEY CHECK (id ~ '^ordli_[0-9A-Z]{26}$'),
    order_id   text NOT NULL REFERENCES orders (id),
    title      text NOT NULL CHECK (length(title) BETWEEN 1 AND 255),
    quantity   integer NOT NULL CHECK (quantity BETWEEN 1 AND 10000),
    unit_price bigint NOT NULL CHECK (unit_price >= 0),
    total      bigint GENERATED ALWAYS AS (quantity * unit_price) STORED,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_line_item_order_idx ON order_line_item (order_id, created_at, id);
