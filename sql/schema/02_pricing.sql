-- Pricing: model aliases, providers billed on the merchant's meter alone,
-- meters with graduated tiers counted per customer, the pricing version the
-- sidecar reloads on, and the settlements of re-priced requests
-- (docs/pricing.md).
--
-- Money stays bigint nano-USD; every rate is an integer (docs/ledger.md).
-- Baseline: applied once by scripts/lava-migrate (sql/README.md).

-- ---------------------------------------------------------------------------
-- Provider rates: model aliases and meter-only providers

-- A model name (or a pattern with '*', any run of characters) priced with
-- the rates of another model of the same provider. Resolution order, in the
-- sidecar (sidecar/rates.c): the name's own rows, an exact alias,
-- the name without a date suffix (-2024-07-18, -20240718) and its exact
-- alias, then patterns, most literal characters first, then by text.
CREATE TABLE model_aliases (
    provider    text NOT NULL CHECK (provider ~ '^[a-z0-9_.-]{1,64}$'),
    pattern     text NOT NULL CHECK (length(pattern) BETWEEN 1 AND 256),
    model       text NOT NULL CHECK (length(model) BETWEEN 1 AND 256
                                     AND position('*' IN model) = 0),
    note        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, pattern),
    CHECK (pattern <> model)
);
COMMENT ON TABLE model_aliases IS
    'A model name (or a pattern with ''*'', any run of characters) priced with the rates of '
    'another model of the same provider (add_model_alias). Resolution order: the name''s own '
    'rows, an exact alias, the name without a date suffix (-2024-07-18, -20240718) and its '
    'exact alias, then patterns, most literal characters first, then by text.';
COMMENT ON COLUMN model_aliases.pattern IS
    'An exact model name, or a pattern with ''*'' (any run of characters)';
COMMENT ON COLUMN model_aliases.model IS 'The model whose provider_rates rows price the pattern';
COMMENT ON COLUMN model_aliases.note IS 'Why the alias exists (a renamed or deprecated model, say)';

-- Custom ("other") providers have no list price: their requests cost the
-- merchant's meter fee alone (base cost 0).
CREATE TABLE meter_only_providers (
    provider    text PRIMARY KEY CHECK (provider ~ '^[a-z0-9_.-]{1,64}$'),
    note        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE meter_only_providers IS
    'Custom ("other") providers without a list price: their requests cost the merchant''s '
    'meter fee alone, base cost 0 (set_meter_only_provider).';
COMMENT ON COLUMN meter_only_providers.note IS 'Why the provider is billed on the meter alone';

-- ---------------------------------------------------------------------------
-- Meters: graduated tiers and per-customer counts

-- Graduated tiers: a customer's units on the meter, counted over all its
-- requests, are charged at the rate of the tier they fall in; a request
-- crossing a boundary is split. start_units is in the unit's base count
-- (tokens, characters, milliseconds, requests); the first tier starts at 0.
--   fixed meter:      fee_rate nano-USD per unit (per 1M tokens/characters,
--                     per minute, per request)
--   percentage meter: fee_rate ppm of the base cost
-- Every meter has a first tier from 0, at most 16 tiers (checked when the
-- transaction commits, so a meter and its tiers can be written in any order).
CREATE TABLE meter_tiers (
    merchant_id lava_id NOT NULL,
    slug        lava_id NOT NULL,
    start_units bigint NOT NULL CHECK (start_units >= 0),
    fee_rate    bigint NOT NULL CHECK (fee_rate >= 0),
    PRIMARY KEY (merchant_id, slug, start_units),
    FOREIGN KEY (merchant_id, slug) REFERENCES meters ON DELETE CASCADE
);
COMMENT ON TABLE meter_tiers IS
    'Graduated tiers of a meter (create_meter, add_meter_tier): a customer''s units on the '
    'meter, counted over all its requests, are charged at the rate of the tier they fall in; a '
    'request crossing a boundary is split. Every meter has a first tier from 0 and at most 16 '
    '(checked at commit).';
COMMENT ON COLUMN meter_tiers.start_units IS
    'Where the tier starts, in the unit''s base count (tokens, characters, milliseconds, requests)';
COMMENT ON COLUMN meter_tiers.fee_rate IS
    'fixed meter: nano-USD per unit (per 1M tokens or characters, per minute, per request); '
    'percentage meter: ppm of the base cost';

CREATE CONSTRAINT TRIGGER meters_tiers_check AFTER INSERT OR UPDATE ON meters
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION meter_tiers_check();
CREATE CONSTRAINT TRIGGER meter_tiers_check AFTER INSERT OR UPDATE OR DELETE ON meter_tiers
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION meter_tiers_check();

-- Each customer's count on each meter: what the graduated tiers are placed
-- on. Moved on by book_batch() and reprice_book() in the transaction
-- that books the request; events.fee_units_before records where each
-- request started, so the sum is checkable (ledger_check).
CREATE TABLE meter_usage (
    merchant_id lava_id NOT NULL,
    slug        lava_id NOT NULL,
    customer_id lava_id NOT NULL REFERENCES customers,
    units       bigint NOT NULL DEFAULT 0 CHECK (units >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, slug, customer_id),
    FOREIGN KEY (merchant_id, slug) REFERENCES meters
);
COMMENT ON TABLE meter_usage IS
    'Each customer''s count on each meter, what the graduated tiers are placed on. Moved on by '
    'book_batch() and reprice_book() in the transaction that books the request; '
    'events.fee_units_before records where each request started (ledger_check sums them).';
COMMENT ON COLUMN meter_usage.units IS
    'Units booked so far, in the meter unit''s base count (tokens, characters, milliseconds, '
    'requests)';
COMMENT ON COLUMN meter_usage.updated_at IS 'When units last moved';

-- ---------------------------------------------------------------------------
-- Pricing version: the sidecar loads rates, aliases and meters again when it
-- moves (checked before every batch). A one-row table like auth_state, not a
-- row of a shared one: each version has its own reader (sidecar/rates.c,
-- sidecar/authpub.c) and its own triggers.

CREATE TABLE pricing_state (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint NOT NULL
);
INSERT INTO pricing_state (version) VALUES (1);
COMMENT ON TABLE pricing_state IS
    'One row: the version of the pricing data (rates, aliases, meter-only providers, meters, '
    'tiers). Bumped by every statement that changes them; the sidecar loads them again when it '
    'moves (checked before every batch).';
COMMENT ON COLUMN pricing_state.one IS 'Always true: keeps the table to one row';
COMMENT ON COLUMN pricing_state.version IS
    'Moved on by pricing_bump; the sidecar loads the pricing again when it differs from the '
    'version it loaded';

-- Booked requests point at the rate row they used: rows are never edited.
CREATE TRIGGER provider_rates_frozen BEFORE UPDATE ON provider_rates
    FOR EACH ROW EXECUTE FUNCTION provider_rates_frozen();
-- events.rate_id has no foreign key (events_refs checks it per statement):
-- a row an event names is not deleted
CREATE TRIGGER provider_rates_kept AFTER DELETE ON provider_rates
    FOR EACH ROW EXECUTE FUNCTION provider_rates_kept();

CREATE TRIGGER provider_rates_pricing AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON provider_rates FOR EACH STATEMENT EXECUTE FUNCTION pricing_bump();
CREATE TRIGGER model_aliases_pricing AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON model_aliases FOR EACH STATEMENT EXECUTE FUNCTION pricing_bump();
CREATE TRIGGER meter_only_providers_pricing AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON meter_only_providers FOR EACH STATEMENT EXECUTE FUNCTION pricing_bump();
CREATE TRIGGER meters_pricing AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON meters FOR EACH STATEMENT EXECUTE FUNCTION pricing_bump();
CREATE TRIGGER meter_tiers_pricing AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON meter_tiers FOR EACH STATEMENT EXECUTE FUNCTION pricing_bump();

-- ---------------------------------------------------------------------------
-- Re-pricing: an unpriced request stays unpriced in events (history is not
-- rewritten); once its rate or meter exists, reprice_unpriced() marks it,
-- the sidecar prices it and settles it here with the amounts and books their transfers, kinds base, fee and
-- service_charge, like a request priced when it came.
CREATE TABLE repricings (
    request_id          text PRIMARY KEY REFERENCES events,
    rate_id             bigint REFERENCES provider_rates,
    fee_kind            text CHECK (fee_kind IN ('fixed', 'percentage')),
    fee_rate            bigint,
    fee_unit            text
        CHECK (fee_unit IN ('tokens_1m', 'characters_1m', 'minutes', 'requests')),
    fee_units           bigint CHECK (fee_units >= 0),
    fee_units_before    bigint CHECK (fee_units_before >= 0),
    fee_detail          jsonb,
    base_cost_nusd      bigint NOT NULL CHECK (base_cost_nusd >= 0),
    fee_nusd            bigint NOT NULL CHECK (fee_nusd >= 0),
    service_charge_nusd bigint NOT NULL CHECK (service_charge_nusd >= 0),
    settled_at          timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER repricings_immutable BEFORE UPDATE OR DELETE ON repricings
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER repricings_no_truncate BEFORE TRUNCATE ON repricings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();

COMMENT ON TABLE repricings IS
    'Settlements of requests booked unpriced: an unpriced request stays unpriced in events '
    '(history is not rewritten); once its rate or meter exists, reprice_unpriced() marks it '
    'and the sidecar settles it here with the amounts and books their transfers like a request '
    'priced when it came. '
    'Append-only. The columns mean what the events columns of the same name mean.';
COMMENT ON COLUMN repricings.rate_id IS 'The provider_rates row the settlement''s base cost used';
COMMENT ON COLUMN repricings.fee_kind IS 'The meter''s fee_kind when the request was settled';
COMMENT ON COLUMN repricings.fee_unit IS 'The meter''s unit when the request was settled';
COMMENT ON COLUMN repricings.base_cost_nusd IS 'What the provider charges for the usage, nano-USD';
COMMENT ON COLUMN repricings.fee_nusd IS 'The merchant''s meter fee, nano-USD';
COMMENT ON COLUMN repricings.service_charge_nusd IS 'The platform''s service charge, nano-USD';
COMMENT ON COLUMN repricings.settled_at IS 'When reprice_book() booked the settlement';
COMMENT ON COLUMN repricings.fee_rate IS
    'nano-USD per unit (fixed) or ppm (percentage): the rate of the tier the request started in';
COMMENT ON COLUMN repricings.fee_units IS 'The request''s count in the meter''s unit';
COMMENT ON COLUMN repricings.fee_units_before IS
    'The customer''s count on the meter before this request';
COMMENT ON COLUMN repricings.fee_detail IS
    'The split over the meter''s tiers: [{start, units, rate}, ...]';

-- Requests marked for re-pricing, and each one's last result. One row per
-- request: marking it again (after an 'unpriced' result) starts it over.
-- Not part of the ledger (the settlement is: repricings and transfers), so
-- rows are updated in place.
--   priced_at  when a sidecar priced it; NULL: waiting for a sidecar
--   result     settled: a repricings row and its transfers were booked
--              zero:    a repricings row with zero amounts, nothing moved
--              unpriced: still lacking something (note says what)
CREATE TABLE reprice_queue (
    request_id  text PRIMARY KEY REFERENCES events,
    marked_at   timestamptz NOT NULL DEFAULT now(),
    priced_at   timestamptz,
    result      text CHECK (result IN ('settled', 'zero', 'unpriced')),
    note        text,
    CHECK ((priced_at IS NULL) = (result IS NULL)),
    CHECK (result = 'unpriced' OR note IS NULL)
);
CREATE INDEX reprice_queue_waiting ON reprice_queue (request_id) WHERE priced_at IS NULL;
COMMENT ON TABLE reprice_queue IS
    'Requests marked for re-pricing by reprice_unpriced(), and each one''s last result. A '
    'running sidecar prices them with the same code that prices a request when it is booked '
    'and settles them through reprice_book(). Not part of the ledger: rows are updated in place.';
COMMENT ON COLUMN reprice_queue.marked_at IS 'When reprice_unpriced() last marked it';
COMMENT ON COLUMN reprice_queue.priced_at IS 'When a sidecar priced it; NULL: waiting for a sidecar';
COMMENT ON COLUMN reprice_queue.result IS
    'settled: a repricings row and its transfers were booked; zero: a repricings row at zero, '
    'nothing moved; unpriced: still lacking something (note says what; mark it again later)';
COMMENT ON COLUMN reprice_queue.note IS 'Why a request is still unpriced';

