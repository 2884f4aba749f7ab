-- Core ledger schema: who (merchants, customers, meters), what things cost
-- (provider_rates), where money sits (accounts) and what happened (events,
-- transfers, dead_letters).
--
-- Money is bigint nano-USD everywhere (`_nusd`, 1 USD = 1e9 nusd). No float
-- column holds money. Rates are nano-USD per 1M tokens, percentages are ppm
-- (parts per million: 1 % = 10000 ppm). Rounding rule: docs/ledger.md.
--
-- Applied by scripts/lava-migrate inside one transaction; no BEGIN/COMMIT here.

-- Ids that travel in forward tokens, events and the auth snapshot.
CREATE DOMAIN lava_id AS text
    CHECK (VALUE ~ '^[A-Za-z0-9_.:-]{1,64}$');

CREATE TABLE merchants (
    id              lava_id PRIMARY KEY,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- sha256 of the secret key's bytes; the key itself is never stored
    secret_key_hash bytea NOT NULL UNIQUE CHECK (length(secret_key_hash) = 32),
    status          text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'disabled')),
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Customer ids are unique across merchants: deposits and admin functions name
-- a customer by id alone. The merchant is kept to check events against it.
CREATE TABLE customers (
    id              lava_id PRIMARY KEY,
    merchant_id     lava_id NOT NULL REFERENCES merchants,
    status          text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'disabled')),
    -- Placeholder for the wallet policy of the pricing issue: what happens
    -- when the balance reaches min_balance_nusd. Not enforced yet.
    overdraft       text NOT NULL DEFAULT 'block'
                    CHECK (overdraft IN ('block', 'allow')),
    min_balance_nusd bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, id)
);

-- A meter is the merchant's fee on top of the provider's base cost.
--   fixed:      fee_nusd_per_1m nano-USD per 1M tokens of token_basis
--   percentage: fee_ppm of the base cost
CREATE TABLE meters (
    merchant_id     lava_id NOT NULL REFERENCES merchants,
    slug            lava_id NOT NULL,
    fee_kind        text NOT NULL CHECK (fee_kind IN ('fixed', 'percentage')),
    fee_nusd_per_1m bigint CHECK (fee_nusd_per_1m >= 0),
    fee_ppm         bigint CHECK (fee_ppm >= 0),
    token_basis     text NOT NULL DEFAULT 'input_output'
                    CHECK (token_basis IN ('input_output', 'output')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, slug),
    CHECK ((fee_kind = 'fixed' AND fee_nusd_per_1m IS NOT NULL AND fee_ppm IS NULL)
        OR (fee_kind = 'percentage' AND fee_ppm IS NOT NULL AND fee_nusd_per_1m IS NULL))
);

-- Provider list prices, nano-USD per 1M tokens. A row applies to requests
-- started at or after effective_from, until the next row of the same
-- provider and model. NULL means "no separate price":
--   cached_input, cache_write, cache_write_1h -> the input price
--   reasoning                                 -> the output price
--   audio_input, audio_output                 -> not priceable (unpriced)
CREATE TABLE provider_rates (
    id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider                  text NOT NULL CHECK (provider ~ '^[a-z0-9_.-]{1,64}$'),
    model                     text NOT NULL CHECK (length(model) BETWEEN 1 AND 256),
    effective_from            timestamptz NOT NULL,
    input_nusd_per_1m         bigint NOT NULL CHECK (input_nusd_per_1m >= 0),
    cached_input_nusd_per_1m  bigint CHECK (cached_input_nusd_per_1m >= 0),
    cache_write_nusd_per_1m   bigint CHECK (cache_write_nusd_per_1m >= 0),
    cache_write_1h_nusd_per_1m bigint CHECK (cache_write_1h_nusd_per_1m >= 0),
    output_nusd_per_1m        bigint NOT NULL CHECK (output_nusd_per_1m >= 0),
    reasoning_nusd_per_1m     bigint CHECK (reasoning_nusd_per_1m >= 0),
    audio_input_nusd_per_1m   bigint CHECK (audio_input_nusd_per_1m >= 0),
    audio_output_nusd_per_1m  bigint CHECK (audio_output_nusd_per_1m >= 0),
    note                      text,
    created_at                timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, model, effective_from)
);

-- Accounts of the double-entry ledger. balance_nusd = credits - debits, kept
-- by the trigger on transfers; the sum over all accounts is always zero.
--   wallet    one per customer (prepaid balance, positive = money held)
--   merchant  one per merchant (fees earned; pays base cost when it is payer)
--   provider  one per provider (base cost owed to the provider)
--   platform  one: the service charge
--   funding   one: the outside world deposits come from (goes negative)
-- key is the name the sidecar uses: wallet:<customer>, merchant:<merchant>,
-- provider:<provider>, platform, funding.
CREATE TABLE accounts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key             text NOT NULL UNIQUE,
    kind            text NOT NULL
                    CHECK (kind IN ('wallet', 'merchant', 'provider', 'platform', 'funding')),
    merchant_id     lava_id REFERENCES merchants,
    customer_id     lava_id REFERENCES customers,
    provider        text,
    balance_nusd    bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'wallet') = (customer_id IS NOT NULL)),
    CHECK ((kind IN ('wallet', 'merchant')) = (merchant_id IS NOT NULL)),
    CHECK ((kind = 'provider') = (provider IS NOT NULL)),
    CHECK (key = CASE kind
        WHEN 'wallet'   THEN 'wallet:' || customer_id
        WHEN 'merchant' THEN 'merchant:' || merchant_id
        WHEN 'provider' THEN 'provider:' || provider
        ELSE kind END)
);
CREATE UNIQUE INDEX accounts_one_platform ON accounts (kind)
    WHERE kind IN ('platform', 'funding');

INSERT INTO accounts (key, kind) VALUES ('platform', 'platform'), ('funding', 'funding');

-- One row per request, as the module reported it plus what it was priced at.
-- The usage fields are docs/events.md version 1; absent counters are 0.
CREATE TABLE events (
    request_id          text PRIMARY KEY
                        CHECK (request_id ~ '^req_[0-9A-HJKMNP-TV-Z]{26}$'),
    v                   smallint NOT NULL,
    stream_id           text NOT NULL,           -- Redis entry id it came in
    content_hash        bytea NOT NULL,          -- sha256 of the entry's fields
    ts_ms               bigint NOT NULL,
    started_at          timestamptz GENERATED ALWAYS AS (to_timestamp(ts_ms / 1000.0)) STORED,
    duration_ms         bigint NOT NULL,
    ttfb_ms             bigint,
    merchant_id         lava_id REFERENCES merchants,
    -- As the client claimed it: a request refused for an unknown customer is
    -- recorded too, so no foreign key here; transfers need the wallet.
    customer_id         lava_id,
    meter_slug          lava_id,
    payer               text NOT NULL CHECK (payer IN ('customer', 'merchant', 'none')),
    key_source          text NOT NULL CHECK (key_source IN ('managed', 'byok', 'none')),
    provider            text,
    host                text,
    endpoint            text,
    method              text NOT NULL,
    model               text,
    status              smallint NOT NULL,
    outcome             text NOT NULL
                        CHECK (outcome IN ('complete', 'client_abort', 'upstream_error', 'refused')),
    error               text,
    stream              boolean NOT NULL,
    usage_source        text NOT NULL CHECK (usage_source IN ('reported', 'estimated', 'none')),
    input_tokens        bigint NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    cached_input_tokens bigint NOT NULL DEFAULT 0 CHECK (cached_input_tokens >= 0),
    cache_write_tokens  bigint NOT NULL DEFAULT 0 CHECK (cache_write_tokens >= 0),
    cache_write_1h_tokens bigint NOT NULL DEFAULT 0 CHECK (cache_write_1h_tokens >= 0),
    output_tokens       bigint NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    reasoning_tokens    bigint NOT NULL DEFAULT 0 CHECK (reasoning_tokens >= 0),
    audio_input_tokens  bigint NOT NULL DEFAULT 0 CHECK (audio_input_tokens >= 0),
    audio_output_tokens bigint NOT NULL DEFAULT 0 CHECK (audio_output_tokens >= 0),
    characters          bigint NOT NULL DEFAULT 0 CHECK (characters >= 0),
    usage_duration_ms   bigint NOT NULL DEFAULT 0 CHECK (usage_duration_ms >= 0),
    requests            bigint NOT NULL DEFAULT 0 CHECK (requests >= 0),
    images              bigint NOT NULL DEFAULT 0 CHECK (images >= 0),
    usage_raw           text,                    -- provider's usage JSON, as received
    metadata            text,                    -- x-lava-metadata, as received
    bytes_out           bigint,
    tap_flags           text,
    -- Pricing. priced: all three amounts known (and booked as transfers);
    -- zero: nothing to charge (refused, no usage); unpriced: something was
    -- missing (note says what), the amounts are NULL and nothing is booked
    -- until the request is re-priced.
    price_state         text NOT NULL CHECK (price_state IN ('priced', 'unpriced', 'zero')),
    price_note          text,
    rate_id             bigint REFERENCES provider_rates,
    fee_kind            text CHECK (fee_kind IN ('fixed', 'percentage')),
    fee_rate            bigint,       -- nusd per 1M tokens (fixed) or ppm (percentage)
    fee_tokens          bigint,       -- tokens the fixed fee was computed on
    service_charge_ppm  bigint NOT NULL,
    base_cost_nusd      bigint CHECK (base_cost_nusd >= 0),
    fee_nusd            bigint CHECK (fee_nusd >= 0),
    service_charge_nusd bigint CHECK (service_charge_nusd >= 0),
    booked_at           timestamptz NOT NULL DEFAULT now(),
    CHECK ((price_state = 'unpriced') =
           (base_cost_nusd IS NULL OR fee_nusd IS NULL OR service_charge_nusd IS NULL)),
    CHECK (price_state <> 'zero'
           OR (base_cost_nusd = 0 AND fee_nusd = 0 AND service_charge_nusd = 0)),
    CHECK (payer <> 'customer' OR customer_id IS NOT NULL),
    CHECK (payer = 'none' OR merchant_id IS NOT NULL)
);
CREATE INDEX events_started_at ON events (started_at);
CREATE INDEX events_merchant ON events (merchant_id, started_at);
CREATE INDEX events_customer ON events (customer_id, started_at) WHERE customer_id IS NOT NULL;
CREATE INDEX events_unpriced ON events (started_at) WHERE price_state = 'unpriced';

-- Money movements. Immutable; a correction is a new transfer.
CREATE TABLE transfers (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('base', 'fee', 'service_charge', 'deposit')),
    debit_account   bigint NOT NULL REFERENCES accounts,
    credit_account  bigint NOT NULL REFERENCES accounts,
    amount_nusd     bigint NOT NULL CHECK (amount_nusd > 0),
    request_id      text REFERENCES events,
    note            text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (debit_account <> credit_account),
    CHECK ((kind = 'deposit') = (request_id IS NULL))
);
CREATE UNIQUE INDEX transfers_one_per_kind ON transfers (request_id, kind)
    WHERE request_id IS NOT NULL;
CREATE INDEX transfers_debit ON transfers (debit_account);
CREATE INDEX transfers_credit ON transfers (credit_account);

-- Stream entries that could not be booked (malformed, unknown version,
-- unknown merchant, a request id seen before with other content). Kept with
-- their fields so they can be inspected and replayed.
CREATE TABLE dead_letters (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream          text NOT NULL,
    stream_id       text NOT NULL,
    request_id      text,
    reason          text NOT NULL,
    fields          jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream, stream_id)
);

-- Version of the auth data (merchants, customers, meters). Bumped by every
-- statement that changes them; the sidecar publishes when it moves.
CREATE TABLE auth_state (
    one             boolean PRIMARY KEY DEFAULT true CHECK (one),
    version         bigint NOT NULL
);
INSERT INTO auth_state (version) VALUES (1);

-- ---------------------------------------------------------------------------
-- Triggers

-- Events and transfers are history: never changed, never removed.
CREATE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is not allowed: the ledger is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER transfers_immutable BEFORE UPDATE OR DELETE ON transfers
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER transfers_no_truncate BEFORE TRUNCATE ON transfers
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();

-- Stored balances move with the transfers, in the same transaction. One
-- UPDATE per account per statement, so a batch of 500 requests touching the
-- same provider account updates that row once.
-- Rows are locked in id order first, so sidecars booking concurrently do not
-- deadlock on the shared accounts (provider, platform, merchant).
CREATE FUNCTION transfers_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM accounts
      WHERE id IN (SELECT debit_account FROM new_rows UNION SELECT credit_account FROM new_rows)
      ORDER BY id
      FOR NO KEY UPDATE;
    UPDATE accounts a SET balance_nusd = a.balance_nusd + d.delta
      FROM (SELECT account, sum(delta)::bigint AS delta FROM (
                SELECT debit_account AS account, -amount_nusd AS delta FROM new_rows
                UNION ALL
                SELECT credit_account, amount_nusd FROM new_rows) x
            GROUP BY account) d
     WHERE a.id = d.account;
    RETURN NULL;
END $$;

CREATE TRIGGER transfers_apply AFTER INSERT ON transfers
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION transfers_apply();

-- Every merchant and customer gets its account when it is created.
CREATE FUNCTION merchants_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO accounts (key, kind, merchant_id) VALUES ('merchant:' || NEW.id, 'merchant', NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER merchants_account AFTER INSERT ON merchants
    FOR EACH ROW EXECUTE FUNCTION merchants_account();

CREATE FUNCTION customers_wallet() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO accounts (key, kind, merchant_id, customer_id)
    VALUES ('wallet:' || NEW.id, 'wallet', NEW.merchant_id, NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER customers_wallet AFTER INSERT ON customers
    FOR EACH ROW EXECUTE FUNCTION customers_wallet();

-- Ids are what events and transfers point at: they do not change.
CREATE FUNCTION ids_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id
       OR (TG_TABLE_NAME = 'customers' AND NEW.merchant_id IS DISTINCT FROM OLD.merchant_id) THEN
        RAISE EXCEPTION 'the id of a row in % cannot change', TG_TABLE_NAME;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER merchants_ids_frozen BEFORE UPDATE ON merchants
    FOR EACH ROW EXECUTE FUNCTION ids_frozen();
CREATE TRIGGER customers_ids_frozen BEFORE UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION ids_frozen();

CREATE FUNCTION auth_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth_state SET version = version + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER merchants_auth AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON merchants
    FOR EACH STATEMENT EXECUTE FUNCTION auth_bump();
CREATE TRIGGER customers_auth AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON customers
    FOR EACH STATEMENT EXECUTE FUNCTION auth_bump();
CREATE TRIGGER meters_auth AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON meters
    FOR EACH STATEMENT EXECUTE FUNCTION auth_bump();
