-- Admin functions for rates, aliases, custom providers and meters
-- (docs/pricing.md). Amounts come in as NUMERIC USD and are stored as bigint
-- nano-USD; an amount that is not a whole number of nano-USD is refused,
-- never rounded (usd_to_nusd).
--
-- Functions are code, not history: lava-migrate applies this file again
-- whenever its content changes (CREATE OR REPLACE), and each function is
-- defined in this one place (sql/README.md).

-- A per-unit USD price -> nano-USD, refusing negatives. NULL stays NULL.
CREATE OR REPLACE FUNCTION price_nusd(p_usd numeric, p_what text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_usd IS NULL THEN
        RETURN NULL;
    END IF;
    IF p_usd < 0 THEN
        RAISE EXCEPTION '% must be zero or more', p_what;
    END IF;
    RETURN usd_to_nusd(p_usd);
END $$;
COMMENT ON FUNCTION price_nusd IS
    'A per-unit USD price -> nano-USD (usd_to_nusd), refusing negatives; NULL stays NULL. '
    'p_what names the price in the error.';

-- Adds a provider's list price, effective for requests started at or after
-- p_effective_from. Token prices are USD per 1M tokens, characters USD per
-- 1M characters, duration USD per hour (or per_minute, per_second),
-- requests, images and server-side tool calls (per_web_search,
-- per_web_fetch, per_grounded_prompt) USD each. A unit left NULL has no
-- price: usage in it
-- makes a request unpriced (cached input and cache writes fall back to the
-- input price, 1-hour cache writes to the cache-write price, reasoning to
-- the output price; requests without a price cost nothing).
-- p_prompt_tokens_over > 0 adds a long-context tier: the prices of requests
-- whose prompt is above that many tokens; the base row of the same date
-- must exist. Returns the rate id.
--
--   SELECT add_rate('anthropic', 'claude-sonnet-4-5', '2025-09-29',
--                   input => 3, cached_input => 0.30, cache_write => 3.75,
--                   cache_write_1h => 6, output => 15);
DROP FUNCTION IF EXISTS add_rate(text, text, timestamptz, numeric, numeric, numeric, numeric,
                                 numeric, numeric, numeric, numeric, numeric, numeric, numeric,
                                 numeric, numeric, numeric, bigint, text);
CREATE OR REPLACE FUNCTION add_rate(p_provider text, p_model text, p_effective_from timestamptz,
                                    input numeric DEFAULT NULL, cached_input numeric DEFAULT NULL,
                                    cache_write numeric DEFAULT NULL, cache_write_1h numeric DEFAULT NULL,
                                    output numeric DEFAULT NULL, reasoning numeric DEFAULT NULL,
                                    audio_input numeric DEFAULT NULL, audio_output numeric DEFAULT NULL,
                                    per_1m_characters numeric DEFAULT NULL, per_hour numeric DEFAULT NULL,
                                    per_minute numeric DEFAULT NULL, per_second numeric DEFAULT NULL,
                                    per_request numeric DEFAULT NULL,
                                    per_image numeric DEFAULT NULL, prompt_tokens_over bigint DEFAULT 0,
                                    note text DEFAULT NULL, per_web_search numeric DEFAULT NULL,
                                    per_web_fetch numeric DEFAULT NULL,
                                    per_grounded_prompt numeric DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_id   bigint;
    v_hour numeric;
BEGIN
    IF (per_hour IS NOT NULL)::int + (per_minute IS NOT NULL)::int
       + (per_second IS NOT NULL)::int > 1 THEN
        RAISE EXCEPTION 'give one of per_hour, per_minute, per_second';
    END IF;
    v_hour := coalesce(per_hour, per_minute * 60, per_second * 3600);
    IF prompt_tokens_over IS NULL OR prompt_tokens_over < 0 THEN
        RAISE EXCEPTION 'prompt_tokens_over must be zero or more';
    END IF;
    IF prompt_tokens_over > 0 AND NOT EXISTS (
            SELECT 1 FROM provider_rates r
             WHERE r.provider = p_provider AND r.model = p_model
               AND r.effective_from = p_effective_from AND r.prompt_tokens_over = 0) THEN
        RAISE EXCEPTION 'a long-context tier needs the base row of % % from % first',
            p_provider, p_model, p_effective_from;
    END IF;
    IF coalesce(input, cached_input, cache_write, cache_write_1h, output, reasoning,
                audio_input, audio_output, per_1m_characters, v_hour, per_request,
                per_image, per_web_search, per_web_fetch, per_grounded_prompt) IS NULL THEN
        RAISE EXCEPTION 'a rate needs at least one price';
    END IF;
    INSERT INTO provider_rates (provider, model, effective_from, prompt_tokens_over,
        input_nusd_per_1m, cached_input_nusd_per_1m, cache_write_nusd_per_1m,
        cache_write_1h_nusd_per_1m, output_nusd_per_1m, reasoning_nusd_per_1m,
        audio_input_nusd_per_1m, audio_output_nusd_per_1m, characters_nusd_per_1m,
        duration_nusd_per_hour, request_nusd, image_nusd, web_search_nusd, web_fetch_nusd,
        grounded_prompt_nusd, note)
    VALUES (p_provider, p_model, p_effective_from, prompt_tokens_over,
        price_nusd(input, 'input'), price_nusd(cached_input, 'cached_input'),
        price_nusd(cache_write, 'cache_write'), price_nusd(cache_write_1h, 'cache_write_1h'),
        price_nusd(output, 'output'), price_nusd(reasoning, 'reasoning'),
        price_nusd(audio_input, 'audio_input'), price_nusd(audio_output, 'audio_output'),
        price_nusd(per_1m_characters, 'per_1m_characters'), price_nusd(v_hour, 'the duration price'),
        price_nusd(per_request, 'per_request'), price_nusd(per_image, 'per_image'),
        price_nusd(per_web_search, 'per_web_search'), price_nusd(per_web_fetch, 'per_web_fetch'),
        price_nusd(per_grounded_prompt, 'per_grounded_prompt'), note)
    RETURNING id INTO v_id;
    INSERT INTO accounts (key, kind, provider)
    VALUES ('provider:' || p_provider, 'provider', p_provider)
    ON CONFLICT (key) DO NOTHING;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION add_rate IS
    'Adds a provider''s list price effective for requests started at or after '
    'p_effective_from; returns the rate id. Tokens USD per 1M, characters USD per 1M, duration '
    'USD per hour (or per_minute, per_second), requests, images and tool calls (per_web_search, '
    'per_web_fetch, per_grounded_prompt) USD each; a unit left NULL '
    'has no price. prompt_tokens_over > 0 adds a long-context tier of an existing base row. '
    'SELECT add_rate(''anthropic'', ''claude-sonnet-4-5'', ''2025-09-29'', input => 3, '
    'cached_input => 0.30, output => 15);';

-- Adds a provider list price of input, cached input and output tokens, USD
-- per 1M tokens, applying to requests started at or after p_effective_from.
-- p_cached NULL: cache reads cost the input price. add_rate() with those
-- three prices (it calls add_rate() by parameter name). Returns the rate id.
CREATE OR REPLACE FUNCTION set_rate(p_provider text, p_model text, p_input numeric,
                                               p_cached numeric, p_output numeric,
                                               p_effective_from timestamptz DEFAULT now(),
                                               p_note text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql AS $$
    SELECT add_rate(p_provider, p_model, p_effective_from, input => p_input,
                    cached_input => p_cached, output => p_output, note => p_note)
$$;
COMMENT ON FUNCTION set_rate IS
    'Adds a provider list price of input, cached input and output tokens, USD per 1M tokens '
    '(add_rate with those three); returns the rate id.';

-- The rates of p_model also price p_pattern (an exact name, or a pattern
-- with '*'). SELECT add_model_alias('anthropic', 'claude-sonnet-4-5*', 'claude-sonnet-4-5');
CREATE OR REPLACE FUNCTION add_model_alias(p_provider text, p_pattern text, p_model text,
                                           p_note text DEFAULT NULL) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO model_aliases (provider, pattern, model, note)
    VALUES (p_provider, p_pattern, p_model, p_note)
$$;
COMMENT ON FUNCTION add_model_alias IS
    'The rates of p_model also price p_pattern (an exact name, or a pattern with ''*''). '
    'SELECT add_model_alias(''anthropic'', ''claude-sonnet-4-5*'', ''claude-sonnet-4-5'');';

-- A custom provider billed on the merchant's meter alone (no list price).
CREATE OR REPLACE FUNCTION set_meter_only_provider(p_provider text, p_on boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_on THEN
        INSERT INTO meter_only_providers (provider) VALUES (p_provider)
        ON CONFLICT (provider) DO NOTHING;
        INSERT INTO accounts (key, kind, provider)
        VALUES ('provider:' || p_provider, 'provider', p_provider)
        ON CONFLICT (key) DO NOTHING;
    ELSE
        DELETE FROM meter_only_providers WHERE provider = p_provider;
    END IF;
END $$;
COMMENT ON FUNCTION set_meter_only_provider IS
    'Bills a custom provider on the merchant''s meter alone, no list price (p_on false: no '
    'longer).';

-- A meter rate as stored: fixed USD per unit -> nano-USD per unit;
-- percentage (2.5 = 2.5 %) -> ppm.
CREATE OR REPLACE FUNCTION meter_rate(p_kind text, p_amount numeric) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v_ppm numeric;
BEGIN
    IF p_amount IS NULL OR p_amount < 0 THEN
        RAISE EXCEPTION 'meter amount must be zero or more';
    END IF;
    IF p_kind = 'fixed' THEN
        RETURN usd_to_nusd(p_amount);
    ELSIF p_kind = 'percentage' THEN
        v_ppm := p_amount * 10000;
        IF v_ppm <> trunc(v_ppm) THEN
            RAISE EXCEPTION 'percentage % has more than 4 decimals', p_amount;
        END IF;
        RETURN v_ppm::bigint;
    END IF;
    RAISE EXCEPTION 'meter kind must be fixed or percentage, not %', p_kind;
END $$;
COMMENT ON FUNCTION meter_rate IS
    'A meter rate as stored: fixed USD per unit -> nano-USD per unit; percentage (2.5 = 2.5 %) '
    '-> ppm.';

-- A tier start as stored: tokens, characters and requests as given,
-- minutes -> milliseconds.
CREATE OR REPLACE FUNCTION meter_start_units(p_unit text, p_start numeric) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v numeric := CASE WHEN p_unit = 'minutes' THEN p_start * 60000 ELSE p_start END;
BEGIN
    IF v IS NULL OR v < 0 OR v <> trunc(v) THEN
        RAISE EXCEPTION 'tier start % is not a whole number of units (minutes: of ms)', p_start;
    END IF;
    RETURN v::bigint;
END $$;
COMMENT ON FUNCTION meter_start_units IS
    'A tier start as stored: tokens, characters and requests as given, minutes -> milliseconds.';

-- Creates a meter with its first tier.
--   kind 'fixed':      p_amount USD per unit (per 1M tokens, per 1M
--                      characters, per minute, per request)
--   kind 'percentage': p_amount percent of the base cost (2.5 = 2.5 %)
--   p_basis: 'input_output' or 'output' (token meters)
--   p_unit: 'tokens_1m' (default), 'characters_1m', 'minutes', 'requests'
-- More tiers: add_meter_tier().
CREATE OR REPLACE FUNCTION create_meter(p_merchant text, p_slug text, p_kind text, p_amount numeric,
                                        p_basis text DEFAULT 'input_output',
                                        p_unit text DEFAULT 'tokens_1m') RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF p_kind NOT IN ('fixed', 'percentage') THEN
        RAISE EXCEPTION 'meter kind must be fixed or percentage, not %', p_kind;
    END IF;
    INSERT INTO meters (merchant_id, slug, fee_kind, token_basis, unit)
    VALUES (p_merchant, p_slug, p_kind, p_basis, p_unit);
    INSERT INTO meter_tiers (merchant_id, slug, start_units, fee_rate)
    VALUES (p_merchant, p_slug, 0, meter_rate(p_kind, p_amount));
    RETURN p_slug;
END $$;
COMMENT ON FUNCTION create_meter IS
    'Creates a meter with its first tier; returns the slug. p_kind fixed (p_amount USD per '
    'unit) or percentage (p_amount percent of the base cost); p_basis input_output or output; '
    'p_unit tokens_1m (default), characters_1m, minutes, requests. More tiers: '
    'add_meter_tier().';

-- Adds a graduated tier: from p_start units of the customer's count on the
-- meter (tokens, characters, minutes or requests, as the meter counts), the
-- rate is p_amount (USD per unit, or percent). A tier already starting
-- there gets the new rate; requests booked before keep what they were
-- charged (events.fee_detail).
--   SELECT add_meter_tier('mer_…', 'chat', 1000000, 3.00);   -- $3 per 1M after 1M
CREATE OR REPLACE FUNCTION add_meter_tier(p_merchant text, p_slug text, p_start numeric, p_amount numeric)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    m meters;
BEGIN
    SELECT * INTO m FROM meters WHERE merchant_id = p_merchant AND slug = p_slug;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no meter % of merchant %', p_slug, p_merchant;
    END IF;
    INSERT INTO meter_tiers (merchant_id, slug, start_units, fee_rate)
    VALUES (p_merchant, p_slug, meter_start_units(m.unit, p_start), meter_rate(m.fee_kind, p_amount))
    ON CONFLICT (merchant_id, slug, start_units) DO UPDATE SET fee_rate = excluded.fee_rate;
END $$;
COMMENT ON FUNCTION add_meter_tier IS
    'Adds a graduated tier to a meter: from p_start units of the customer''s count (tokens, '
    'characters, minutes or requests) the rate is p_amount (USD per unit, or percent). A tier '
    'already starting there gets the new rate. SELECT add_meter_tier(''mer_...'', ''chat'', '
    '1000000, 3.00);';
