-- Pricing: every unit a provider bills, long-context tiers, model aliases,
-- providers billed on the merchant's meter alone, meters with graduated
-- tiers counted per customer, re-pricing of unpriced requests, and the
-- columns that make each booked amount explainable (docs/pricing.md).
--
-- Money stays bigint nano-USD; every rate is an integer (docs/ledger.md).

-- ---------------------------------------------------------------------------
-- Provider rates

-- NULL now means "no price" for input and output too: a usage in a unit
-- without a price makes the request unpriced instead of free.
--   characters_nusd_per_1m  nano-USD per 1M characters
--   duration_nusd_per_min   nano-USD per minute of usage_duration_ms
--   request_nusd            nano-USD per request (NULL: requests are free)
--   image_nusd              nano-USD per image
--   prompt_tokens_over      long-context tier: the row applies to requests
--                           whose prompt (every input bucket) is above this
--                           many tokens; 0 is the base row
ALTER TABLE provider_rates
    ALTER COLUMN input_nusd_per_1m DROP NOT NULL,
    ALTER COLUMN output_nusd_per_1m DROP NOT NULL,
    ADD COLUMN characters_nusd_per_1m bigint CHECK (characters_nusd_per_1m >= 0),
    ADD COLUMN duration_nusd_per_min  bigint CHECK (duration_nusd_per_min >= 0),
    ADD COLUMN request_nusd           bigint CHECK (request_nusd >= 0),
    ADD COLUMN image_nusd             bigint CHECK (image_nusd >= 0),
    ADD COLUMN prompt_tokens_over     bigint NOT NULL DEFAULT 0
                                      CHECK (prompt_tokens_over >= 0);

-- The rows of one provider, model and effective_from are one price list:
-- the base row and its long-context tiers.
ALTER TABLE provider_rates
    DROP CONSTRAINT provider_rates_provider_model_effective_from_key,
    ADD CONSTRAINT provider_rates_one_row_per_tier
        UNIQUE (provider, model, effective_from, prompt_tokens_over);

-- Booked requests point at the row they used: rows are never edited.
CREATE FUNCTION provider_rates_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'provider_rates rows are never edited: add a row with a later effective_from'
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER provider_rates_frozen BEFORE UPDATE ON provider_rates
    FOR EACH ROW EXECUTE FUNCTION provider_rates_frozen();

-- A model name (or a pattern with '*', any run of characters) priced with
-- the rates of another model of the same provider. Resolution order, in the
-- sidecar and in price_lookup_rate(): the name's own rows, an exact alias,
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

-- Custom ("other") providers have no list price: their requests cost the
-- merchant's meter fee alone (base cost 0).
CREATE TABLE meter_only_providers (
    provider    text PRIMARY KEY CHECK (provider ~ '^[a-z0-9_.-]{1,64}$'),
    note        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------
-- Meters

-- What a meter counts:
--   tokens_1m      tokens of token_basis; fixed rates per 1M tokens
--   characters_1m  characters; fixed rates per 1M characters
--   minutes        usage_duration_ms; fixed rates per minute (counted in ms)
--   requests       billed requests; fixed rates per request
-- A percentage meter uses the unit only to place a customer in its tiers.
ALTER TABLE meters
    ADD COLUMN unit text NOT NULL DEFAULT 'tokens_1m'
        CHECK (unit IN ('tokens_1m', 'characters_1m', 'minutes', 'requests'));

-- Graduated tiers: a customer's units on the meter, counted over all its
-- requests, are charged at the rate of the tier they fall in; a request
-- crossing a boundary is split. start_units is in the unit's base count
-- (tokens, characters, milliseconds, requests); the first tier starts at 0.
--   fixed meter:      fee_rate nano-USD per unit (per 1M tokens/characters,
--                     per minute, per request)
--   percentage meter: fee_rate ppm of the base cost
CREATE TABLE meter_tiers (
    merchant_id lava_id NOT NULL,
    slug        lava_id NOT NULL,
    start_units bigint NOT NULL CHECK (start_units >= 0),
    fee_rate    bigint NOT NULL CHECK (fee_rate >= 0),
    PRIMARY KEY (merchant_id, slug, start_units),
    FOREIGN KEY (merchant_id, slug) REFERENCES meters ON DELETE CASCADE
);

INSERT INTO meter_tiers (merchant_id, slug, start_units, fee_rate)
SELECT merchant_id, slug, 0, coalesce(fee_nusd_per_1m, fee_ppm) FROM meters;

-- The rate now lives in meter_tiers (its CHECK goes with the columns).
ALTER TABLE meters DROP COLUMN fee_nusd_per_1m, DROP COLUMN fee_ppm;

-- Every meter has a first tier from 0, at most 16 tiers (checked when the
-- transaction commits, so a meter and its tiers can be written in any order).
CREATE FUNCTION meter_tiers_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_merchant text;
    v_slug     text;
BEGIN
    IF TG_TABLE_NAME = 'meters' THEN
        v_merchant := NEW.merchant_id; v_slug := NEW.slug;
    ELSIF TG_OP = 'DELETE' THEN
        v_merchant := OLD.merchant_id; v_slug := OLD.slug;
    ELSE
        v_merchant := NEW.merchant_id; v_slug := NEW.slug;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM meters WHERE merchant_id = v_merchant AND slug = v_slug) THEN
        RETURN NULL;                    -- the meter itself is gone
    END IF;
    IF NOT EXISTS (SELECT 1 FROM meter_tiers WHERE merchant_id = v_merchant AND slug = v_slug
                                              AND start_units = 0) THEN
        RAISE EXCEPTION 'meter %/% needs a first tier starting at 0', v_merchant, v_slug;
    END IF;
    IF (SELECT count(*) FROM meter_tiers WHERE merchant_id = v_merchant AND slug = v_slug) > 16 THEN
        RAISE EXCEPTION 'meter %/% has more than 16 tiers', v_merchant, v_slug;
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER meters_tiers_check AFTER INSERT OR UPDATE ON meters
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION meter_tiers_check();
CREATE CONSTRAINT TRIGGER meter_tiers_check AFTER INSERT OR UPDATE OR DELETE ON meter_tiers
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION meter_tiers_check();

-- Each customer's count on each meter: what the graduated tiers are placed
-- on. Moved on by book_batch() and reprice_unpriced() in the transaction
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

-- ---------------------------------------------------------------------------
-- Pricing version: the sidecar loads rates, aliases and meters again when it
-- moves (checked before every batch).

CREATE TABLE pricing_state (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint NOT NULL
);
INSERT INTO pricing_state (version) VALUES (1);

CREATE FUNCTION pricing_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE pricing_state SET version = version + 1;
    RETURN NULL;
END $$;
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
-- Events: how the fee was reached, and metadata as jsonb

-- x-lava-metadata as jsonb: the object the client sent (key order and
-- spacing normalised). Text that is not a JSON object is kept as a JSON
-- string rather than lost.
CREATE FUNCTION metadata_jsonb(p text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v jsonb;
BEGIN
    IF p IS NULL THEN
        RETURN NULL;
    END IF;
    BEGIN
        v := p::jsonb;
    EXCEPTION WHEN others THEN
        RETURN to_jsonb(p);
    END;
    RETURN CASE WHEN jsonb_typeof(v) = 'object' THEN v ELSE to_jsonb(p) END;
END $$;

--   fee_unit          the meter's unit
--   fee_units         the request's count in it (tokens of the basis,
--                     characters, milliseconds, requests)
--   fee_units_before  the customer's count on the meter before this request
--   fee_detail        the split over tiers: [{start, units, rate}, ...]
--   service_charge_basis  what service_charge_ppm was taken of:
--                     fee (default), base, base_fee
ALTER TABLE events
    ADD COLUMN fee_unit text
        CHECK (fee_unit IN ('tokens_1m', 'characters_1m', 'minutes', 'requests')),
    ADD COLUMN fee_units bigint CHECK (fee_units >= 0),
    ADD COLUMN fee_units_before bigint CHECK (fee_units_before >= 0),
    ADD COLUMN fee_detail jsonb,
    ADD COLUMN service_charge_basis text NOT NULL DEFAULT 'fee'
        CHECK (service_charge_basis IN ('fee', 'base', 'base_fee')),
    ALTER COLUMN metadata TYPE jsonb USING metadata_jsonb(metadata);

CREATE INDEX events_meter ON events (merchant_id, meter_slug, customer_id)
    WHERE fee_units IS NOT NULL;

-- Counts of requests booked before this migration.
INSERT INTO meter_usage (merchant_id, slug, customer_id, units)
SELECT e.merchant_id, e.meter_slug, e.customer_id,
       sum(CASE WHEN m.token_basis = 'output'
                THEN e.output_tokens + e.reasoning_tokens + e.audio_output_tokens
                ELSE e.input_tokens + e.cached_input_tokens + e.cache_write_tokens
                     + e.cache_write_1h_tokens + e.audio_input_tokens
                     + e.output_tokens + e.reasoning_tokens + e.audio_output_tokens END)
  FROM events e
  JOIN meters m ON m.merchant_id = e.merchant_id AND m.slug = e.meter_slug
  JOIN customers c ON c.id = e.customer_id
 WHERE e.price_state = 'priced' AND e.payer = 'customer'
 GROUP BY 1, 2, 3;

-- ---------------------------------------------------------------------------
-- Re-pricing: an unpriced request stays unpriced in events (history is not
-- rewritten); once its rate or meter exists, reprice_unpriced() settles it
-- here with the amounts and books their transfers, kinds base, fee and
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
