-- Pricing in SQL, the same rules as the sidecar's (sidecar/price.c,
-- sidecar/rates.c, docs/pricing.md), for re-pricing requests that were
-- booked unpriced. Exact: numeric arithmetic, one half-up rounding per
-- amount, integer results. The integration tests compare both.
--
-- Functions are code, not history: lava-migrate applies this file again
-- whenever its content changes (CREATE OR REPLACE), and each function is
-- defined in this one place (sql/README.md).

-- round half up of n / d (n >= 0, d > 0), exact
CREATE OR REPLACE FUNCTION div_half_up(n numeric, d numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT div(2 * n + d, 2 * d)
$$;
COMMENT ON FUNCTION div_half_up IS
    'n / d rounded half up (n >= 0, d > 0), exact.';

-- '*' pattern -> LIKE pattern ('*' any run, everything else itself)
CREATE OR REPLACE FUNCTION glob_like(p text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT replace(replace(replace(replace(p, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%')
$$;
COMMENT ON FUNCTION glob_like IS
    'A ''*'' pattern as a LIKE pattern (''*'' any run, everything else itself).';

-- Whether the provider has rate rows for exactly this model name.
CREATE OR REPLACE FUNCTION model_has_rates(p_provider text, p_model text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM provider_rates WHERE provider = p_provider AND model = p_model)
$$;
COMMENT ON FUNCTION model_has_rates IS
    'Whether provider_rates has rows for the provider and model.';

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
COMMENT ON FUNCTION resolve_model IS
    'The model whose rates price p_model: the name itself, an exact alias, the name without a '
    'date suffix and its exact alias, then ''*'' patterns (most literal bytes first, then by '
    'pattern), then the provider''s rows for model ''*''. NULL when none has rates.';

-- effective_from as the sidecar compares it: whole milliseconds
CREATE OR REPLACE FUNCTION rate_from_ms(r provider_rates) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT floor(extract(epoch FROM r.effective_from) * 1000)::bigint
$$;
COMMENT ON FUNCTION rate_from_ms IS
    'effective_from as the sidecar compares it: whole milliseconds.';

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
COMMENT ON FUNCTION price_lookup_rate IS
    'The rate row for a request (provider, model, start in ms, prompt tokens), or NULL with why.';

-- count * price: NULL price with a count is "missing"
CREATE OR REPLACE FUNCTION priced_part(p_count bigint, p_price bigint) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_count = 0 THEN 0 ELSE p_count::numeric * p_price END
$$;
COMMENT ON FUNCTION priced_part IS
    'count * price, exact; a NULL price with a count is NULL ("missing").';

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
COMMENT ON FUNCTION price_base_cost IS
    'Base cost of a request''s usage at a rate (price_base in price.c): one half-up rounding '
    'over the exact sum; NULL with why when a used unit has no price.';

-- The request's count in a meter's unit.
CREATE OR REPLACE FUNCTION meter_units_of(e events, m meters, p_requests bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE m.unit
        WHEN 'characters_1m' THEN e.characters
        WHEN 'minutes' THEN e.usage_duration_ms
        WHEN 'requests' THEN p_requests
        ELSE CASE WHEN m.token_basis = 'output'
                  THEN e.output_tokens + e.reasoning_tokens + e.audio_output_tokens
                  ELSE e.input_tokens + e.cached_input_tokens + e.cache_write_tokens
                       + e.cache_write_1h_tokens + e.audio_input_tokens
                       + e.output_tokens + e.reasoning_tokens + e.audio_output_tokens END
    END
$$;
COMMENT ON FUNCTION meter_units_of IS
    'The request''s count in a meter''s unit (tokens of the basis, characters, milliseconds, '
    'requests).';

-- Graduated split of [before, before + units) over a meter's tiers.
CREATE OR REPLACE FUNCTION meter_split(p_merchant text, p_slug text, p_before bigint, p_units bigint)
RETURNS TABLE (start bigint, units bigint, rate bigint)
LANGUAGE sql STABLE AS $$
    SELECT t.start_units, t.hi - greatest(p_before, t.start_units), t.fee_rate
      FROM (SELECT start_units, fee_rate,
                   least(p_before + p_units,
                         coalesce(lead(start_units) OVER (ORDER BY start_units),
                                  p_before + p_units)) AS hi
              FROM meter_tiers WHERE merchant_id = p_merchant AND slug = p_slug) t
     WHERE t.hi > greatest(p_before, t.start_units)
     ORDER BY t.start_units
$$;
COMMENT ON FUNCTION meter_split IS
    'Graduated split of [before, before + units) over a meter''s tiers: (tier start, units in '
    'it, rate).';

-- Fee of a request on a meter (price_fee in price.c) and its split.
CREATE OR REPLACE FUNCTION price_meter_fee(m meters, p_before bigint, p_units bigint, p_base bigint,
                                           OUT fee bigint, OUT fee_rate bigint, OUT detail jsonb)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_sum numeric;
    v_at  bigint;
    v     numeric;
BEGIN
    SELECT coalesce(sum(s.units::numeric * s.rate), 0),
           coalesce(jsonb_agg(jsonb_build_object('start', s.start, 'units', s.units,
                                                 'rate', s.rate) ORDER BY s.start), '[]'),
           (array_agg(s.rate ORDER BY s.start))[1]
      INTO v_sum, detail, fee_rate
      FROM meter_split(m.merchant_id, m.slug, p_before, p_units) s;
    SELECT t.fee_rate INTO v_at FROM meter_tiers t
     WHERE t.merchant_id = m.merchant_id AND t.slug = m.slug AND t.start_units <= p_before
     ORDER BY t.start_units DESC LIMIT 1;
    fee_rate := coalesce(fee_rate, v_at);
    IF m.fee_kind = 'fixed' THEN
        v := div_half_up(v_sum, CASE m.unit WHEN 'minutes' THEN 60000
                                            WHEN 'requests' THEN 1 ELSE 1000000 END);
    ELSIF p_units = 0 THEN
        v := div_half_up(p_base::numeric * v_at, 1000000);
    ELSE
        v := div_half_up(p_base::numeric * v_sum, p_units::numeric * 1000000);
    END IF;
    IF v > 9223372036854775807 THEN
        fee := NULL;
        RETURN;
    END IF;
    fee := v::bigint;
END $$;
COMMENT ON FUNCTION price_meter_fee IS
    'Fee of a request on a meter (price_fee in price.c), the rate of the tier it starts in and '
    'its split over tiers.';

-- What a request costs now (price_request in price.c), for one event. The
-- meter count before it is p_before (read under lock by the caller).
CREATE OR REPLACE FUNCTION price_event(e events, p_before bigint,
    OUT state text, OUT why text, OUT rate_id bigint, OUT meter meters,
    OUT fee_units bigint, OUT fee_rate bigint, OUT fee_detail jsonb,
    OUT base bigint, OUT fee bigint, OUT service_charge bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_requests   bigint := CASE WHEN e.status >= 400 THEN 0 ELSE e.requests END;
    v_prompt     numeric := e.input_tokens::numeric + e.cached_input_tokens + e.cache_write_tokens
                           + e.cache_write_1h_tokens + e.audio_input_tokens;
    v_measured   boolean;
    v_meter_only boolean;
    v_has_meter  boolean := e.meter_slug IS NOT NULL;
    r            provider_rates;
    v_look       record;
    v_rwhy       text;
    v_basis      numeric;
    v            numeric;
BEGIN
    state := 'zero'; base := 0; fee := 0; service_charge := 0;
    IF e.outcome = 'refused' OR e.payer = 'none' THEN
        RETURN;
    END IF;
    v_measured := v_prompt + e.output_tokens + e.reasoning_tokens + e.audio_output_tokens > 0
                  OR e.characters > 0 OR e.usage_duration_ms > 0 OR e.images > 0;
    v_meter_only := EXISTS (SELECT 1 FROM meter_only_providers p WHERE p.provider = e.provider);
    IF NOT v_meter_only THEN
        SELECT * INTO v_look FROM price_lookup_rate(e.provider, e.model, e.ts_ms, v_prompt);
        r := v_look.rate;
        v_rwhy := v_look.why;
    END IF;
    IF v_has_meter THEN
        SELECT * INTO meter FROM meters m
         WHERE m.merchant_id = e.merchant_id AND m.slug = e.meter_slug;
    END IF;

    IF NOT v_measured AND NOT (v_requests > 0
            AND ((NOT v_meter_only AND r.id IS NOT NULL AND r.request_nusd > 0)
                 OR (e.payer = 'customer' AND meter.slug IS NOT NULL AND meter.unit = 'requests'))) THEN
        meter := NULL;
        RETURN;                         -- no usage at all
    END IF;

    IF v_meter_only THEN
        IF e.payer <> 'customer' OR NOT v_has_meter THEN
            meter := NULL;
            RETURN;
        END IF;
        base := 0;
    ELSE
        IF r.id IS NULL THEN
            state := 'unpriced'; why := v_rwhy;
            RETURN;
        END IF;
        rate_id := r.id;
        SELECT b.base, b.why INTO base, why FROM price_base_cost(e, r, v_requests) b;
        IF why IS NOT NULL THEN
            state := 'unpriced';
            RETURN;
        END IF;
    END IF;

    state := 'priced';
    IF e.payer <> 'customer' THEN
        meter := NULL;
        RETURN;
    END IF;
    IF v_has_meter THEN
        IF meter.slug IS NULL THEN
            state := 'unpriced'; why := 'unknown meter';
            RETURN;
        END IF;
        IF v_meter_only AND meter.fee_kind = 'percentage' THEN
            state := 'unpriced';
            why := 'a percentage meter has no base cost to work on for a provider billed on'
                   ' the meter alone';
            RETURN;
        END IF;
        fee_units := meter_units_of(e, meter, v_requests);
        SELECT f.fee, f.fee_rate, f.detail INTO fee, fee_rate, fee_detail
          FROM price_meter_fee(meter, p_before, fee_units, base) f;
        IF fee IS NULL THEN
            state := 'unpriced'; why := 'amount overflow';
            RETURN;
        END IF;
    END IF;
    v_basis := CASE e.service_charge_basis WHEN 'base' THEN base
                                           WHEN 'base_fee' THEN base::numeric + fee
                                           ELSE fee END;
    v := div_half_up(v_basis * e.service_charge_ppm, 1000000);
    IF v > 9223372036854775807 THEN
        state := 'unpriced'; why := 'amount overflow';
        RETURN;
    END IF;
    service_charge := v::bigint;
END $$;
COMMENT ON FUNCTION price_event IS
    'What a request costs now (price_request in price.c): state, why, rate, meter, units, the '
    'three amounts. p_before: the customer''s meter count before it, read under lock by the '
    'caller.';

-- Settles requests booked unpriced whose rate or meter now exists: each gets
-- a repricings row with its amounts and the transfers they move (like a
-- request priced when it came: wallet or merchant to provider, wallet to
-- merchant and platform), in start order, graduated meter counts moving on.
-- Requests still unpriceable are listed with the reason and left as they
-- are. One run at a time. SELECT * FROM reprice_unpriced();
CREATE OR REPLACE FUNCTION reprice_unpriced(p_limit integer DEFAULT NULL)
RETURNS TABLE (request_id text, result text, base_cost_nusd bigint, fee_nusd bigint,
               service_charge_nusd bigint, note text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    e        events;
    p        record;
    v_before bigint;
    v_from   bigint;
    v_kind   text;
    v_amt    bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('lava reprice_unpriced'));

    FOR e IN SELECT ev.* FROM events ev
              WHERE ev.price_state = 'unpriced'
                AND NOT EXISTS (SELECT 1 FROM repricings rp WHERE rp.request_id = ev.request_id)
              ORDER BY ev.ts_ms, ev.request_id
              LIMIT p_limit LOOP
        v_before := 0;
        IF e.payer = 'customer' AND e.meter_slug IS NOT NULL
           AND EXISTS (SELECT 1 FROM meters m WHERE m.merchant_id = e.merchant_id
                                               AND m.slug = e.meter_slug) THEN
            INSERT INTO meter_usage (merchant_id, slug, customer_id)
            VALUES (e.merchant_id, e.meter_slug, e.customer_id)
            ON CONFLICT DO NOTHING;
            SELECT mu.units INTO v_before FROM meter_usage mu
             WHERE mu.merchant_id = e.merchant_id AND mu.slug = e.meter_slug
               AND mu.customer_id = e.customer_id
               FOR UPDATE;
        END IF;

        SELECT * INTO p FROM price_event(e, v_before);
        IF p.state = 'unpriced' THEN
            request_id := e.request_id; result := 'unpriced'; note := p.why;
            base_cost_nusd := NULL; fee_nusd := NULL; service_charge_nusd := NULL;
            RETURN NEXT;
            CONTINUE;
        END IF;

        INSERT INTO repricings (request_id, rate_id, fee_kind, fee_rate, fee_unit, fee_units,
                                fee_units_before, fee_detail, base_cost_nusd, fee_nusd,
                                service_charge_nusd)
        VALUES (e.request_id, p.rate_id, (p.meter).fee_kind, p.fee_rate, (p.meter).unit,
                p.fee_units, CASE WHEN (p.meter).slug IS NOT NULL THEN v_before END,
                p.fee_detail, p.base, p.fee, p.service_charge);

        IF (p.meter).slug IS NOT NULL THEN
            UPDATE meter_usage mu SET units = mu.units + p.fee_units, updated_at = now()
             WHERE mu.merchant_id = e.merchant_id AND mu.slug = e.meter_slug
               AND mu.customer_id = e.customer_id;
        END IF;

        v_from := (SELECT a.id FROM accounts a
                    WHERE a.key = CASE e.payer WHEN 'customer' THEN 'wallet:' || e.customer_id
                                               ELSE 'merchant:' || e.merchant_id END);
        IF p.state = 'priced' AND v_from IS NOT NULL THEN
            INSERT INTO accounts (key, kind, provider)
            VALUES ('provider:' || e.provider, 'provider', e.provider)
            ON CONFLICT (key) DO NOTHING;
            INSERT INTO transfers (kind, debit_account, credit_account, amount_nusd,
                                   request_id, note)
            SELECT x.kind, v_from, (SELECT a.id FROM accounts a WHERE a.key = x.credit),
                   x.amount, e.request_id, 'repriced'
              FROM (VALUES (1, 'base', 'provider:' || e.provider,
                            CASE WHEN e.key_source = 'byok' THEN 0 ELSE p.base END),
                           (2, 'fee', 'merchant:' || e.merchant_id,
                            CASE WHEN e.payer = 'customer' THEN p.fee ELSE 0 END),
                           (3, 'service_charge', 'platform',
                            CASE WHEN e.payer = 'customer' THEN p.service_charge ELSE 0 END))
                   AS x(n, kind, credit, amount)
             WHERE x.amount > 0
             ORDER BY x.n;
        END IF;

        request_id := e.request_id;
        result := CASE WHEN p.state = 'priced' THEN 'settled' ELSE 'zero' END;
        base_cost_nusd := p.base; fee_nusd := p.fee; service_charge_nusd := p.service_charge;
        note := NULL;
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION reprice_unpriced IS
    'Settles requests booked unpriced whose rate or meter now exists: a repricings row each '
    'and the transfers they move, in start order, meter counts moving on; those still '
    'unpriceable are listed with the reason. One run at a time. SELECT * FROM '
    'reprice_unpriced();';
