-- Duration prices per hour instead of per minute: $0.40 an hour (a common
-- speech-to-text price) is not a whole number of nano-USD per minute, it is
-- per hour. Existing rows are converted exactly (x 60); the functions and
-- views that read the column follow. The base cost now rounds once over
-- the common denominator 18e6 (docs/pricing.md).
--
-- Also: a provider's rows for model '*' price any of its requests that no
-- other row prices, those naming no model included (per-minute voice
-- calls, per-request search APIs).

ALTER TABLE provider_rates RENAME COLUMN duration_nusd_per_min TO duration_nusd_per_hour;
ALTER TABLE provider_rates DISABLE TRIGGER provider_rates_frozen;
UPDATE provider_rates SET duration_nusd_per_hour = duration_nusd_per_hour * 60
 WHERE duration_nusd_per_hour IS NOT NULL;
ALTER TABLE provider_rates ENABLE TRIGGER provider_rates_frozen;

DROP FUNCTION add_rate(text, text, timestamptz, numeric, numeric, numeric, numeric, numeric,
                       numeric, numeric, numeric, numeric, numeric, numeric, numeric, numeric,
                       bigint, text);
-- Adds a provider's list price, effective for requests started at or after
-- p_effective_from. Token prices are USD per 1M tokens, characters USD per
-- 1M characters, duration USD per hour (or per_minute, per_second),
-- requests and images USD each. A unit left NULL has no price: usage in it
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
CREATE FUNCTION add_rate(p_provider text, p_model text, p_effective_from timestamptz,
                         input numeric DEFAULT NULL, cached_input numeric DEFAULT NULL,
                         cache_write numeric DEFAULT NULL, cache_write_1h numeric DEFAULT NULL,
                         output numeric DEFAULT NULL, reasoning numeric DEFAULT NULL,
                         audio_input numeric DEFAULT NULL, audio_output numeric DEFAULT NULL,
                         per_1m_characters numeric DEFAULT NULL, per_hour numeric DEFAULT NULL,
                         per_minute numeric DEFAULT NULL, per_second numeric DEFAULT NULL,
                         per_request numeric DEFAULT NULL,
                         per_image numeric DEFAULT NULL, prompt_tokens_over bigint DEFAULT 0,
                         note text DEFAULT NULL)
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
                per_image) IS NULL THEN
        RAISE EXCEPTION 'a rate needs at least one price';
    END IF;
    INSERT INTO provider_rates (provider, model, effective_from, prompt_tokens_over,
        input_nusd_per_1m, cached_input_nusd_per_1m, cache_write_nusd_per_1m,
        cache_write_1h_nusd_per_1m, output_nusd_per_1m, reasoning_nusd_per_1m,
        audio_input_nusd_per_1m, audio_output_nusd_per_1m, characters_nusd_per_1m,
        duration_nusd_per_hour, request_nusd, image_nusd, note)
    VALUES (p_provider, p_model, p_effective_from, prompt_tokens_over,
        price_nusd(input, 'input'), price_nusd(cached_input, 'cached_input'),
        price_nusd(cache_write, 'cache_write'), price_nusd(cache_write_1h, 'cache_write_1h'),
        price_nusd(output, 'output'), price_nusd(reasoning, 'reasoning'),
        price_nusd(audio_input, 'audio_input'), price_nusd(audio_output, 'audio_output'),
        price_nusd(per_1m_characters, 'per_1m_characters'), price_nusd(v_hour, 'the duration price'),
        price_nusd(per_request, 'per_request'), price_nusd(per_image, 'per_image'), note)
    RETURNING id INTO v_id;
    INSERT INTO accounts (key, kind, provider)
    VALUES ('provider:' || p_provider, 'provider', p_provider)
    ON CONFLICT (key) DO NOTHING;
    RETURN v_id;
END $$;

-- The model whose rates price p_model: the name itself, an exact alias,
-- the name without a date suffix and its exact alias, then '*' patterns
-- (most literal bytes first, then by pattern), then the provider's rows for
-- model '*' (any model, or none named). NULL when none has rates.
CREATE OR REPLACE FUNCTION resolve_model(p_provider text, p_model text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v     text;
    v_cut text;
    n     text;
BEGIN
    FOREACH n IN ARRAY ARRAY[nullif(p_model, ''),
                             CASE WHEN p_model ~ '.-[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN left(p_model, -11)
                                  WHEN p_model ~ '.-[0-9]{8}$' THEN left(p_model, -9) END] LOOP
        CONTINUE WHEN n IS NULL;
        IF model_has_rates(p_provider, n) THEN
            RETURN n;
        END IF;
        SELECT a.model INTO v FROM model_aliases a
         WHERE a.provider = p_provider AND a.pattern = n AND position('*' IN a.pattern) = 0;
        IF v IS NOT NULL AND model_has_rates(p_provider, v) THEN
            RETURN v;
        END IF;
    END LOOP;
    FOR v IN SELECT a.model FROM model_aliases a
              WHERE a.provider = p_provider AND position('*' IN a.pattern) > 0
                AND p_model <> '' AND p_model LIKE glob_like(a.pattern)
              ORDER BY octet_length(replace(a.pattern, '*', '')) DESC, a.pattern COLLATE "C" LOOP
        IF model_has_rates(p_provider, v) THEN
            RETURN v;
        END IF;
    END LOOP;
    IF model_has_rates(p_provider, '*') THEN
        RETURN '*';
    END IF;
    RETURN NULL;
END $$;

-- The rate row for a request, or NULL with why.
CREATE OR REPLACE FUNCTION price_lookup_rate(p_provider text, p_model text, p_ts_ms bigint,
                                  p_prompt_tokens numeric,
                                  OUT rate provider_rates, OUT why text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_model text;
    v_ms    bigint;
BEGIN
    why := 'no rate for the provider and model';
    IF p_provider IS NULL OR p_provider = '' THEN
        RETURN;
    END IF;
    v_model := resolve_model(p_provider, coalesce(p_model, ''));
    IF v_model IS NULL THEN
        RETURN;
    END IF;
    SELECT max(rate_from_ms(r)) INTO v_ms FROM provider_rates r
     WHERE r.provider = p_provider AND r.model = v_model AND rate_from_ms(r) <= p_ts_ms;
    IF v_ms IS NULL THEN
        why := 'no rate in force at the request''s start';
        RETURN;
    END IF;
    SELECT * INTO rate FROM provider_rates r
     WHERE r.provider = p_provider AND r.model = v_model AND rate_from_ms(r) = v_ms
       AND (r.prompt_tokens_over = 0 OR p_prompt_tokens > r.prompt_tokens_over)
     ORDER BY r.prompt_tokens_over DESC
     LIMIT 1;
    IF rate.id IS NULL THEN
        why := 'no rate for the request''s prompt size';
        RETURN;
    END IF;
    why := NULL;
END $$;

-- set_rate() calls add_rate() by parameter name: unchanged.

-- Base cost of a request's usage at a rate (price_base in price.c).
CREATE OR REPLACE FUNCTION price_base_cost(e events, r provider_rates, p_requests bigint,
                                OUT base bigint, OUT why text)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v_cached    bigint := coalesce(r.cached_input_nusd_per_1m, r.input_nusd_per_1m);
    v_cw        bigint := coalesce(r.cache_write_nusd_per_1m, r.input_nusd_per_1m);
    v_cw1h      bigint := coalesce(r.cache_write_1h_nusd_per_1m, r.cache_write_nusd_per_1m,
                                   r.input_nusd_per_1m);
    v_reasoning bigint := coalesce(r.reasoning_nusd_per_1m, r.output_nusd_per_1m);
    v_per_1m    numeric;
    v_sum       numeric;
    v           numeric;
BEGIN
    why := CASE
        WHEN e.input_tokens > 0 AND r.input_nusd_per_1m IS NULL
          OR e.cached_input_tokens > 0 AND v_cached IS NULL
          OR e.cache_write_tokens > 0 AND v_cw IS NULL
          OR e.cache_write_1h_tokens > 0 AND v_cw1h IS NULL
            THEN 'no input token price for the model'
        WHEN e.output_tokens > 0 AND r.output_nusd_per_1m IS NULL
          OR e.reasoning_tokens > 0 AND v_reasoning IS NULL
            THEN 'no output token price for the model'
        WHEN e.audio_input_tokens > 0 AND r.audio_input_nusd_per_1m IS NULL
            THEN 'no audio input price for the model'
        WHEN e.audio_output_tokens > 0 AND r.audio_output_nusd_per_1m IS NULL
            THEN 'no audio output price for the model'
        WHEN e.characters > 0 AND r.characters_nusd_per_1m IS NULL
            THEN 'no character price for the model'
        WHEN e.usage_duration_ms > 0 AND r.duration_nusd_per_hour IS NULL
            THEN 'no duration price for the model'
        WHEN e.images > 0 AND r.image_nusd IS NULL
            THEN 'no image price for the model'
    END;
    IF why IS NOT NULL THEN
        RETURN;
    END IF;
    v_per_1m := priced_part(e.input_tokens, r.input_nusd_per_1m)
              + priced_part(e.cached_input_tokens, v_cached)
              + priced_part(e.cache_write_tokens, v_cw)
              + priced_part(e.cache_write_1h_tokens, v_cw1h)
              + priced_part(e.output_tokens, r.output_nusd_per_1m)
              + priced_part(e.reasoning_tokens, v_reasoning)
              + priced_part(e.audio_input_tokens, r.audio_input_nusd_per_1m)
              + priced_part(e.audio_output_tokens, r.audio_output_nusd_per_1m)
              + priced_part(e.characters, r.characters_nusd_per_1m);
    -- one rounding over the exact sum, on the common denominator 18e6
    -- (1e6 for the per-1M units, 3.6e6 for milliseconds per hour)
    v_sum := v_per_1m * 18
           + priced_part(e.usage_duration_ms, r.duration_nusd_per_hour) * 5
           + (p_requests::numeric * coalesce(r.request_nusd, 0)
              + priced_part(e.images, r.image_nusd)) * 18000000;
    v := div_half_up(v_sum, 18000000);
    IF v > 9223372036854775807 THEN
        why := 'amount overflow';
        RETURN;
    END IF;
    base := v::bigint;
END $$;

DROP VIEW request_breakdown;
CREATE VIEW request_breakdown AS
SELECT e.request_id,
       e.started_at,
       e.merchant_id,
       e.customer_id,
       e.meter_slug,
       e.payer,
       e.key_source,
       e.provider,
       e.model,
       e.endpoint,
       e.status,
       e.outcome,
       e.error,
       e.stream,
       e.usage_source,
       e.input_tokens,
       e.cached_input_tokens,
       e.cache_write_tokens,
       e.cache_write_1h_tokens,
       e.output_tokens,
       e.reasoning_tokens,
       e.audio_input_tokens,
       e.audio_output_tokens,
       e.characters,
       e.usage_duration_ms,
       e.requests,
       e.images,
       c.cost_state AS price_state,      -- priced | zero | unpriced | settled
       e.price_note,
       c.rate_id,
       r.model AS rate_model,
       r.effective_from AS rate_effective_from,
       r.prompt_tokens_over,
       r.input_nusd_per_1m,
       r.cached_input_nusd_per_1m,
       r.cache_write_nusd_per_1m,
       r.cache_write_1h_nusd_per_1m,
       r.output_nusd_per_1m,
       r.reasoning_nusd_per_1m,
       r.audio_input_nusd_per_1m,
       r.audio_output_nusd_per_1m,
       r.characters_nusd_per_1m,
       r.duration_nusd_per_hour,
       r.request_nusd,
       r.image_nusd,
       coalesce(rp.fee_kind, e.fee_kind) AS fee_kind,
       coalesce(rp.fee_unit, e.fee_unit) AS fee_unit,
       coalesce(rp.fee_rate, e.fee_rate) AS fee_rate,
       e.fee_tokens,
       c.fee_units,
       c.fee_units_before,
       coalesce(rp.fee_detail, e.fee_detail) AS fee_detail,
       e.service_charge_ppm,
       e.service_charge_basis,
       c.base_cost_nusd,
       c.fee_nusd,
       c.service_charge_nusd,
       c.total_nusd,
       nusd_to_usd(c.base_cost_nusd)      AS base_cost_usd,
       nusd_to_usd(c.fee_nusd)            AS fee_usd,
       nusd_to_usd(c.service_charge_nusd) AS service_charge_usd,
       nusd_to_usd(c.total_nusd)          AS total_usd,
       coalesce(t.moved_nusd, 0) AS moved_nusd,
       e.metadata,
       e.duration_ms,
       e.ttfb_ms,
       e.booked_at,
       c.settled_at
  FROM events e
  JOIN request_costs c ON c.request_id = e.request_id
  LEFT JOIN repricings rp ON rp.request_id = e.request_id
  LEFT JOIN provider_rates r ON r.id = c.rate_id
  LEFT JOIN (SELECT request_id, sum(amount_nusd)::bigint AS moved_nusd
               FROM transfers WHERE request_id IS NOT NULL
              GROUP BY request_id) t ON t.request_id = e.request_id;

DROP VIEW rate_card;
-- The rate table in USD per unit, one row per rate row; in_force marks the
-- rows that price a request starting now.
CREATE VIEW rate_card AS
SELECT r.id, r.provider, r.model, r.effective_from, r.prompt_tokens_over,
       nusd_to_usd(r.input_nusd_per_1m) AS input_per_1m,
       nusd_to_usd(r.cached_input_nusd_per_1m) AS cached_input_per_1m,
       nusd_to_usd(r.cache_write_nusd_per_1m) AS cache_write_per_1m,
       nusd_to_usd(r.cache_write_1h_nusd_per_1m) AS cache_write_1h_per_1m,
       nusd_to_usd(r.output_nusd_per_1m) AS output_per_1m,
       nusd_to_usd(r.reasoning_nusd_per_1m) AS reasoning_per_1m,
       nusd_to_usd(r.audio_input_nusd_per_1m) AS audio_input_per_1m,
       nusd_to_usd(r.audio_output_nusd_per_1m) AS audio_output_per_1m,
       nusd_to_usd(r.characters_nusd_per_1m) AS per_1m_characters,
       nusd_to_usd(r.duration_nusd_per_hour) AS per_hour,
       nusd_to_usd(r.request_nusd) AS per_request,
       nusd_to_usd(r.image_nusd) AS per_image,
       r.effective_from = (SELECT max(r2.effective_from) FROM provider_rates r2
                            WHERE r2.provider = r.provider AND r2.model = r.model
                              AND r2.effective_from <= now()) AS in_force,
       r.note
  FROM provider_rates r;

