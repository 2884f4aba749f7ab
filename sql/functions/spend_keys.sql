-- Spend keys (docs/spend-keys.md), managed in psql: create, update, pause,
-- resume, rotate, revoke; the merchant's refuse_unpriced setting; the clock
-- and the cycles the limits count in. Tables: sql/schema/04_spend_keys.sql;
-- the spend_keys view and the snapshot records: sql/views.sql.
--
-- The SDK's parameters (CreateSpendKeyParams, UpdateSpendKeyParams of the
-- hosted gateway's Node SDK) are passed as one jsonb object with the SDK's
-- member names, because an update must tell "not given" (kept) from null
-- (cleared), which named SQL parameters cannot:
--   SELECT * FROM create_spend_key('mer_...', 'batch jobs', 'cus_...', 'tokens',
--       '{"spend_limit": {"amount": "25.00", "cycle": "monthly"},
--         "rate_limit": {"rpm": 60, "burst": 10}, "allowed_models": ["gpt-4o-mini"]}');
--
-- Functions are code, not history: lava-migrate applies this file again
-- whenever its content changes (CREATE OR REPLACE), and each function is
-- defined in this one place (sql/README.md).

-- "Now" for the cycles of the limits: the setting lava.test_now (a
-- timestamptz) when a test sets it, else now(), so a test can roll a cycle
-- over without waiting a day.
CREATE OR REPLACE FUNCTION lava_now() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('lava.test_now', true), '')::timestamptz, now())
$$;
COMMENT ON FUNCTION lava_now IS
    'now(), or the setting lava.test_now (a timestamptz) when it is set: the clock of the '
    'spend key cycles, injectable by tests (SET lava.test_now = ''2030-01-01 00:00Z'').';

-- The start of the cycle p_at is in: UTC calendar periods (day from 00:00,
-- ISO week from Monday 00:00, month from the 1st); total: the Unix epoch.
CREATE OR REPLACE FUNCTION spend_key_cycle_start(p_cycle text, p_at timestamptz)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE p_cycle
               WHEN 'daily'   THEN date_trunc('day', p_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
               WHEN 'weekly'  THEN date_trunc('week', p_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
               WHEN 'monthly' THEN date_trunc('month', p_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
               WHEN 'total'   THEN 'epoch'::timestamptz
           END
$$;
COMMENT ON FUNCTION spend_key_cycle_start IS
    'The start of the cycle (daily, weekly, monthly, total) p_at is in: UTC calendar periods, '
    'day from 00:00, ISO week from Monday 00:00, month from the 1st; total: the Unix epoch.';

-- nano-USD as the SDK's decimal USD string: "12.50", "0.001", "0.00".
CREATE OR REPLACE FUNCTION nusd_to_usd_text(p_nusd bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN length(split_part(t, '.', 2)) < 2
                THEN split_part(t, '.', 1) || '.' || rpad(split_part(t, '.', 2), 2, '0')
                ELSE t END
      FROM (SELECT rtrim(nusd_to_usd(p_nusd)::text, '0') AS t) x
$$;
COMMENT ON FUNCTION nusd_to_usd_text IS
    'nano-USD as a decimal USD string, at least 2 decimals, no trailing zeros beyond: 12.50, '
    '0.001, 0.00 (the SDK''s amounts).';

-- A new raw spend key: lava_spk_ + 64 hex digits, the sha256 of three
-- random UUIDs (366 random bits in, 256 out: gen_random_uuid() is built in,
-- pgcrypto is not needed).
CREATE OR REPLACE FUNCTION spend_key_new_raw() RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT 'lava_spk_' || encode(sha256(convert_to(gen_random_uuid()::text
                                                   || gen_random_uuid()::text
                                                   || gen_random_uuid()::text, 'UTF8')), 'hex')
$$;
COMMENT ON FUNCTION spend_key_new_raw IS
    'A new raw spend key: lava_spk_ + 64 lower-case hex digits (256 bits from three random '
    'UUIDs through sha256).';

-- A new spend key id: spk_ + 26 Crockford base32 digits (130 random bits
-- rounded to whole digits: each digit is one random byte mod 32).
CREATE OR REPLACE FUNCTION spend_key_new_id() RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT 'spk_' || string_agg(substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ',
                                       get_byte(b, i) % 32 + 1, 1), '' ORDER BY i)
      FROM (SELECT sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text,
                                     'UTF8')) AS b) r,
           generate_series(0, 25) AS i
$$;
COMMENT ON FUNCTION spend_key_new_id IS
    'A new spend key id: spk_ + 26 Crockford base32 digits, random.';

-- lava_spk_ + the first 4 and last 4 hex digits.
CREATE OR REPLACE FUNCTION spend_key_preview(p_key text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT 'lava_spk_' || substr(p_key, 10, 4) || '…' || right(p_key, 4)
$$;
COMMENT ON FUNCTION spend_key_preview IS
    'The key_preview of a raw spend key: lava_spk_ + its first 4 and last 4 hex digits.';

-- A cycle given in the SDK's params, checked.
CREATE OR REPLACE FUNCTION spend_key_cycle_arg(p_what text, p jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p IS NULL OR jsonb_typeof(p) <> 'string' THEN
        RAISE EXCEPTION '%.cycle must be one of daily, weekly, monthly, total', p_what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p #>> '{}' NOT IN ('daily', 'weekly', 'monthly', 'total') THEN
        RAISE EXCEPTION 'unknown cycle "%" in %: daily, weekly, monthly or total', p #>> '{}', p_what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN p #>> '{}';
END $$;
COMMENT ON FUNCTION spend_key_cycle_arg IS
    'For create_spend_key and update_spend_key: the cycle of p_what (spend_limit or '
    'request_limit), checked: daily, weekly, monthly or total.';

-- A whole number >= p_min given in the SDK's params, checked.
CREATE OR REPLACE FUNCTION spend_key_int_arg(p_what text, p jsonb, p_min bigint) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v numeric;
BEGIN
    IF p IS NULL OR jsonb_typeof(p) <> 'number' THEN
        RAISE EXCEPTION '% must be a number', p_what USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v := (p #>> '{}')::numeric;
    IF v <> trunc(v) OR v > 2147483647 THEN
        RAISE EXCEPTION '% must be a whole number (at most 2147483647), not %', p_what, v
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v < p_min THEN
        RAISE EXCEPTION '% must be at least %, not %', p_what, p_min, v
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN v::bigint;
END $$;
COMMENT ON FUNCTION spend_key_int_arg IS
    'For create_spend_key and update_spend_key: the whole number p_what, at least p_min.';

-- An allow-list given in the SDK's params: null, or an array of names
-- that p_kind (model: provider_rates or an exact model alias; provider:
-- provider_rates or meter_only_providers) knows. Sorted, duplicates gone.
CREATE OR REPLACE FUNCTION spend_key_list_arg(p_kind text, p jsonb) RETURNS text[]
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_names   text[];
    v_unknown text;
BEGIN
    IF p IS NULL OR jsonb_typeof(p) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(p) <> 'array'
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(p) x WHERE jsonb_typeof(x) <> 'string') THEN
        RAISE EXCEPTION 'allowed_%s must be an array of % names or null', p_kind, p_kind
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT coalesce(array_agg(x.n ORDER BY x.n), '{}') INTO v_names
      FROM (SELECT DISTINCT n COLLATE "C" AS n FROM jsonb_array_elements_text(p) AS n) x;
    IF p_kind = 'model' THEN
        SELECT n INTO v_unknown FROM unnest(v_names) AS n
         WHERE n !~ '^[!-~]{1,255}$'
            OR NOT (EXISTS (SELECT 1 FROM provider_rates r WHERE r.model = n AND r.model <> '*')
                    OR EXISTS (SELECT 1 FROM model_aliases a
                                WHERE a.pattern = n AND position('*' IN a.pattern) = 0))
         LIMIT 1;
    ELSE
        SELECT n INTO v_unknown FROM unnest(v_names) AS n
         WHERE NOT (EXISTS (SELECT 1 FROM provider_rates r WHERE r.provider = n)
                    OR EXISTS (SELECT 1 FROM meter_only_providers m WHERE m.provider = n))
         LIMIT 1;
    END IF;
    IF v_unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown % "%" in allowed_%s', p_kind, v_unknown, p_kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = CASE p_kind WHEN 'model' THEN 'a model is known when provider_rates '
                              'has a rate for it (add_rate) or it is an exact model alias'
                         ELSE 'a provider is known when provider_rates has a rate for it or it '
                              'is billed on the meter alone (set_meter_only_provider)' END;
    END IF;
    RETURN v_names;
END $$;
COMMENT ON FUNCTION spend_key_list_arg IS
    'For create_spend_key and update_spend_key: an allow-list (null, or an array of model or '
    'provider names the rate table knows), sorted and without duplicates.';

-- The SDK's params applied to a key row: members given are set (null
-- clears what may be cleared), members not given are kept; unknown
-- members are refused.
CREATE OR REPLACE FUNCTION spend_key_apply(p_key spend_key_defs, p jsonb) RETURNS spend_key_defs
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_bad text;
    v     jsonb;
    v_amt numeric;
BEGIN
    IF p IS NULL OR jsonb_typeof(p) <> 'object' THEN
        RAISE EXCEPTION 'spend key params must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT k INTO v_bad FROM jsonb_object_keys(p) AS k
     WHERE k NOT IN ('name', 'status', 'request_shape', 'allowed_models', 'allowed_providers',
                     'spend_limit', 'request_limit', 'rate_limit', 'expires_at',
                     'refuse_unpriced')
     LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'unknown spend key parameter "%"', v_bad
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'name, status, request_shape, allowed_models, allowed_providers, '
                         'spend_limit, request_limit, rate_limit, expires_at, refuse_unpriced';
    END IF;

    IF p ? 'name' THEN
        IF jsonb_typeof(p -> 'name') <> 'string' OR length(p ->> 'name') NOT BETWEEN 1 AND 200 THEN
            RAISE EXCEPTION 'name must be a string of 1 to 200 characters'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        p_key.name := p ->> 'name';
    END IF;
    IF p ? 'status' THEN
        IF coalesce(p ->> 'status', '') NOT IN ('active', 'paused') THEN
            RAISE EXCEPTION 'status must be active or paused' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        p_key.status := p ->> 'status';
    END IF;
    IF p ? 'request_shape' THEN
        IF coalesce(p ->> 'request_shape', '') NOT IN ('openai', 'anthropic') THEN
            RAISE EXCEPTION 'request_shape must be openai or anthropic'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        p_key.request_shape := p ->> 'request_shape';
    END IF;
    IF p ? 'allowed_models' THEN
        p_key.allowed_models := spend_key_list_arg('model', p -> 'allowed_models');
    END IF;
    IF p ? 'allowed_providers' THEN
        p_key.allowed_providers := spend_key_list_arg('provider', p -> 'allowed_providers');
    END IF;

    IF p ? 'spend_limit' THEN
        v := p -> 'spend_limit';
        IF jsonb_typeof(v) = 'null' THEN
            p_key.spend_limit_nusd := NULL;
            p_key.spend_cycle := NULL;
        ELSE
            IF jsonb_typeof(v) <> 'object' OR jsonb_typeof(v -> 'amount') NOT IN ('string', 'number')
            THEN
                RAISE EXCEPTION 'spend_limit must be {"amount": "<USD>", "cycle": "..."} or null'
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            BEGIN
                v_amt := (v ->> 'amount')::numeric;
            EXCEPTION WHEN invalid_text_representation THEN
                RAISE EXCEPTION 'spend_limit.amount "%" is not a decimal USD amount', v ->> 'amount'
                    USING ERRCODE = 'invalid_parameter_value';
            END;
            IF v_amt < 0 THEN
                RAISE EXCEPTION 'spend_limit.amount must not be negative (%)', v ->> 'amount'
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF v_amt > 9000000000 THEN
                RAISE EXCEPTION 'spend_limit.amount % USD is too large', v ->> 'amount'
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            p_key.spend_limit_nusd := usd_to_nusd(v_amt);
            p_key.spend_cycle := spend_key_cycle_arg('spend_limit', v -> 'cycle');
        END IF;
    END IF;

    IF p ? 'request_limit' THEN
        v := p -> 'request_limit';
        IF jsonb_typeof(v) = 'null' THEN
            p_key.request_limit := NULL;
            p_key.request_cycle := NULL;
        ELSIF jsonb_typeof(v) <> 'object' THEN
            RAISE EXCEPTION 'request_limit must be {"count": n, "cycle": "..."} or null'
                USING ERRCODE = 'invalid_parameter_value';
        ELSE
            p_key.request_limit := spend_key_int_arg('request_limit.count', v -> 'count', 0);
            p_key.request_cycle := spend_key_cycle_arg('request_limit', v -> 'cycle');
        END IF;
    END IF;

    IF p ? 'rate_limit' THEN
        v := p -> 'rate_limit';
        IF jsonb_typeof(v) = 'null' THEN
            p_key.rate_rpm := NULL;
            p_key.rate_burst := NULL;
        ELSIF jsonb_typeof(v) <> 'object' THEN
            RAISE EXCEPTION 'rate_limit must be {"rpm": n, "burst": n} or null'
                USING ERRCODE = 'invalid_parameter_value';
        ELSE
            p_key.rate_rpm := spend_key_int_arg('rate_limit.rpm', v -> 'rpm', 1);
            p_key.rate_burst := CASE WHEN coalesce(jsonb_typeof(v -> 'burst'), 'null') = 'null'
                                     THEN NULL
                                     ELSE spend_key_int_arg('rate_limit.burst', v -> 'burst', 0) END;
        END IF;
    END IF;

    IF p ? 'expires_at' THEN
        v := p -> 'expires_at';
        IF jsonb_typeof(v) = 'null' THEN
            p_key.expires_at := NULL;
        ELSIF jsonb_typeof(v) <> 'string' THEN
            RAISE EXCEPTION 'expires_at must be a timestamp string or null'
                USING ERRCODE = 'invalid_parameter_value';
        ELSE
            BEGIN
                p_key.expires_at := (v #>> '{}')::timestamptz;
            EXCEPTION WHEN others THEN
                RAISE EXCEPTION 'expires_at "%" is not a timestamp', v #>> '{}'
                    USING ERRCODE = 'invalid_parameter_value';
            END;
        END IF;
    END IF;

    IF p ? 'refuse_unpriced' THEN
        IF jsonb_typeof(p -> 'refuse_unpriced') <> 'boolean' THEN
            RAISE EXCEPTION 'refuse_unpriced must be true or false'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        p_key.refuse_unpriced := (p ->> 'refuse_unpriced')::boolean;
    END IF;
    RETURN p_key;
END $$;
COMMENT ON FUNCTION spend_key_apply IS
    'For create_spend_key and update_spend_key: the SDK''s params (jsonb) applied to a key row, '
    'checked; members not given are kept, null clears; unknown members are refused.';

-- The key row of p_id that is not revoked, locked; a clear error otherwise.
CREATE OR REPLACE FUNCTION spend_key_live(p_id text) RETURNS spend_key_defs
LANGUAGE plpgsql AS $$
DECLARE
    k spend_key_defs;
BEGIN
    SELECT * INTO k FROM spend_key_defs WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no spend key %', p_id USING ERRCODE = 'no_data_found';
    END IF;
    IF k.revoked_at IS NOT NULL THEN
        RAISE EXCEPTION 'spend key % is revoked', p_id USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN k;
END $$;
COMMENT ON FUNCTION spend_key_live IS
    'The row of spend key p_id, locked; an error when there is none or it is revoked.';

-- Creates a spend key. p_customer: the customer whose wallet pays (NULL:
-- the merchant pays, as with a bare secret key); p_meter: the meter whose
-- fee the customer pays on top (needs p_customer). p_params: the SDK's
-- CreateSpendKeyParams without name (docs/spend-keys.md). The raw key is
-- returned here and nowhere else: only its sha256 is stored.
CREATE OR REPLACE FUNCTION create_spend_key(p_merchant text, p_name text,
                                            p_customer text DEFAULT NULL,
                                            p_meter text DEFAULT NULL,
                                            p_params jsonb DEFAULT '{}')
RETURNS TABLE (spend_key_id text, key text, key_preview text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    k     spend_key_defs;
    v_raw text := spend_key_new_raw();
    v_mer text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM merchants WHERE id = p_merchant) THEN
        RAISE EXCEPTION 'no merchant %', p_merchant USING ERRCODE = 'no_data_found';
    END IF;
    -- the wallet may be named as the view's wallet_id does: wallet:<customer>,
    -- merchant:<merchant> (the merchant pays)
    IF p_customer IS NOT NULL AND p_customer LIKE '%:%'
       AND NOT EXISTS (SELECT 1 FROM customers WHERE id = p_customer) THEN
        IF p_customer = 'merchant:' || p_merchant THEN
            p_customer := NULL;
        ELSIF p_customer LIKE 'wallet:%' THEN
            p_customer := substr(p_customer, length('wallet:') + 1);
        ELSE
            RAISE EXCEPTION 'unknown wallet % (wallet:<customer> or merchant:%)', p_customer,
                            p_merchant USING ERRCODE = 'no_data_found';
        END IF;
    END IF;
    IF p_customer IS NOT NULL THEN
        SELECT merchant_id INTO v_mer FROM customers WHERE id = p_customer;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no customer % (the wallet that would pay)', p_customer
                USING ERRCODE = 'no_data_found';
        END IF;
        IF v_mer <> p_merchant THEN
            RAISE EXCEPTION 'customer % is not a customer of merchant %', p_customer, p_merchant
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    IF p_meter IS NOT NULL THEN
        IF p_customer IS NULL THEN
            RAISE EXCEPTION 'a meter needs a customer: without one the merchant pays, and pays '
                            'no fee to itself' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF NOT EXISTS (SELECT 1 FROM meters WHERE merchant_id = p_merchant AND slug = p_meter) THEN
            RAISE EXCEPTION 'no meter % of merchant %', p_meter, p_merchant
                USING ERRCODE = 'no_data_found';
        END IF;
    END IF;
    IF p_params ? 'name' THEN
        RAISE EXCEPTION 'the name is p_name, not a member of p_params'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    k.id := spend_key_new_id();
    k.merchant_id := p_merchant;
    k.customer_id := p_customer;
    k.meter_slug := p_meter;
    k.key_hash := sha256(convert_to(v_raw, 'UTF8'));
    k.key_preview := spend_key_preview(v_raw);
    k.status := 'active';
    k.request_shape := 'openai';
    k.refuse_unpriced := false;
    k := spend_key_apply(k, coalesce(p_params, '{}') || jsonb_build_object('name', p_name));
    k.created_at := now();
    k.updated_at := now();
    INSERT INTO spend_key_defs SELECT (k).*;

    spend_key_id := k.id;
    key := v_raw;
    key_preview := k.key_preview;
    RETURN NEXT;
END $$;
COMMENT ON FUNCTION create_spend_key IS
    'Creates a spend key of a merchant, paid for by p_customer''s wallet (NULL: the merchant '
    'pays; a wallet_id, wallet:<customer> or merchant:<merchant>, is taken too) with p_meter''s fee (optional); p_params: the SDK''s CreateSpendKeyParams as jsonb '
    '(status, request_shape, allowed_models, allowed_providers, spend_limit, request_limit, '
    'rate_limit, expires_at, refuse_unpriced). Returns the id, the raw key (once: only its '
    'sha256 is stored) and its preview.';

-- Changes a spend key: p_params is the SDK's UpdateSpendKeyParams (members
-- given are set, null clears a limit, a list or the expiry; members not
-- given are kept).
CREATE OR REPLACE FUNCTION update_spend_key(p_spend_key_id text, p_params jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    k spend_key_defs := spend_key_live(p_spend_key_id);
BEGIN
    k := spend_key_apply(k, p_params);
    UPDATE spend_key_defs
       SET name = k.name, status = k.status, request_shape = k.request_shape,
           allowed_models = k.allowed_models, allowed_providers = k.allowed_providers,
           spend_limit_nusd = k.spend_limit_nusd, spend_cycle = k.spend_cycle,
           request_limit = k.request_limit, request_cycle = k.request_cycle,
           rate_rpm = k.rate_rpm, rate_burst = k.rate_burst,
           refuse_unpriced = k.refuse_unpriced, expires_at = k.expires_at, updated_at = now()
     WHERE id = p_spend_key_id;
END $$;
COMMENT ON FUNCTION update_spend_key IS
    'Changes a spend key with the SDK''s UpdateSpendKeyParams as jsonb: members given are set '
    '(null clears a limit, an allow-list or the expiry), the others kept. Takes effect once the '
    'auth snapshot reaches nginx.';

CREATE OR REPLACE FUNCTION pause_spend_key(p_spend_key_id text) RETURNS void
LANGUAGE sql AS $$ SELECT update_spend_key(p_spend_key_id, '{"status": "paused"}') $$;
COMMENT ON FUNCTION pause_spend_key IS
    'Pauses a spend key: nginx answers its requests 401 key_paused until resume_spend_key.';

CREATE OR REPLACE FUNCTION resume_spend_key(p_spend_key_id text) RETURNS void
LANGUAGE sql AS $$ SELECT update_spend_key(p_spend_key_id, '{"status": "active"}') $$;
COMMENT ON FUNCTION resume_spend_key IS 'Resumes a paused spend key.';

-- A new raw key for the same spend key (id, limits, counts kept); the old
-- raw key is unknown from then on (401 invalid_key once the snapshot
-- reaches nginx). Returns the new key, once.
CREATE OR REPLACE FUNCTION rotate_spend_key(p_spend_key_id text)
RETURNS TABLE (spend_key_id text, key text, key_preview text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    k     spend_key_defs := spend_key_live(p_spend_key_id);
    v_raw text := spend_key_new_raw();
BEGIN
    UPDATE spend_key_defs
       SET key_hash = sha256(convert_to(v_raw, 'UTF8')), key_preview = spend_key_preview(v_raw),
           updated_at = now()
     WHERE id = k.id;
    spend_key_id := k.id;
    key := v_raw;
    key_preview := spend_key_preview(v_raw);
    RETURN NEXT;
END $$;
COMMENT ON FUNCTION rotate_spend_key IS
    'Gives a spend key a new raw key, returned once (id, limits and counts kept); the old raw '
    'key stops working (401 invalid_key) once the auth snapshot reaches nginx.';

-- Revokes a spend key for good: nginx answers 401 key_revoked (published
-- as an "x" record for 30 days, then invalid_key). The row stays; revoking
-- twice keeps the first time.
CREATE OR REPLACE FUNCTION revoke_spend_key(p_spend_key_id text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE spend_key_defs SET revoked_at = coalesce(revoked_at, now()), updated_at = now()
     WHERE id = p_spend_key_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no spend key %', p_spend_key_id USING ERRCODE = 'no_data_found';
    END IF;
END $$;
COMMENT ON FUNCTION revoke_spend_key IS
    'Revokes a spend key: nginx answers 401 key_revoked once the auth snapshot reaches it (for '
    '30 days, then the key is unknown: invalid_key). The row stays with revoked_at.';

-- The merchant's setting: refuse models without a rate row (403
-- model_not_priced) instead of serving them and booking them unpriced.
CREATE OR REPLACE FUNCTION set_refuse_unpriced(p_merchant text, p_refuse boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_refuse IS NULL THEN
        RAISE EXCEPTION 'refuse_unpriced must be true or false'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE merchants SET refuse_unpriced = p_refuse WHERE id = p_merchant;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no merchant %', p_merchant USING ERRCODE = 'no_data_found';
    END IF;
END $$;
COMMENT ON FUNCTION set_refuse_unpriced IS
    'A merchant''s setting: true refuses requests for models without a rate row (403 '
    'model_not_priced, every credential of the merchant) instead of serving them and booking '
    'them unpriced; false (the default) serves them.';

-- Called by book_batch() (p_booked true) and reprice_book() (false) in the
-- booking transaction, after the transfers of p_request_ids are in: moves
-- spend_key_usage on for the requests made with a spend key. Booked: the
-- requests that were not refused count, and last_used_at; both: the spend,
-- the sum of the request's transfers (what the key's wallet paid; an
-- unpriced request pays when it is settled). The auth version moves when a
-- count that a request or spend limit reads moved (the "l" records).
CREATE OR REPLACE FUNCTION spend_key_usage_move(p_request_ids text[], p_booked boolean)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_moved boolean;
BEGIN
    WITH r AS (
        -- = ANY (array): primary key lookups
        SELECT e.request_id, e.spend_key_id, e.started_at, e.outcome, e.attempt_of,
               k.request_limit, k.spend_limit_nusd
          FROM events e
          JOIN spend_key_defs k ON k.id = e.spend_key_id AND k.merchant_id = e.merchant_id
         WHERE e.request_id = ANY (p_request_ids) AND e.spend_key_id IS NOT NULL
    ), s AS (
        -- transfers joined row by row (an index probe per request): the plan
        -- cached for this function guesses r at one row, and a grouped
        -- subquery of transfers on the inner side was read again for every
        -- request, n * n probes per batch (minutes for 2,000 events)
        SELECT r.spend_key_id, (r.started_at AT TIME ZONE 'UTC')::date AS day,
               -- a failed attempt (attempt_of set) is part of its client's request,
               -- counted once by the row of the attempt that answered
               count(DISTINCT r.request_id) FILTER (WHERE p_booked AND r.outcome <> 'refused'
                                                   AND r.attempt_of IS NULL) AS requests,
               coalesce(sum(tr.amount_nusd), 0)::bigint AS spend,
               CASE WHEN p_booked THEN max(r.started_at) END AS last_used,
               bool_or(r.request_limit IS NOT NULL) AS has_request_limit,
               bool_or(r.spend_limit_nusd IS NOT NULL) AS has_spend_limit
          FROM r
          LEFT JOIN transfers tr ON tr.request_id = r.request_id
         GROUP BY 1, 2
    ), up AS (
        INSERT INTO spend_key_usage AS u (spend_key_id, day, requests, spend_nusd, last_used_at)
        SELECT s.spend_key_id, s.day, s.requests, s.spend, s.last_used
          FROM s
         ORDER BY s.spend_key_id COLLATE "C", s.day       -- one lock order for every sidecar
        ON CONFLICT (spend_key_id, day) DO UPDATE
           SET requests = u.requests + excluded.requests,
               spend_nusd = u.spend_nusd + excluded.spend_nusd,
               last_used_at = greatest(u.last_used_at, excluded.last_used_at)
    )
    SELECT EXISTS (SELECT 1 FROM s
                    WHERE (s.requests > 0 AND s.has_request_limit)
                       OR (s.spend > 0 AND s.has_spend_limit))
      INTO v_moved;
    IF v_moved THEN
        UPDATE auth_state SET version = version + 1;
    END IF;
END $$;
COMMENT ON FUNCTION spend_key_usage_move IS
    'For book_batch() (p_booked) and reprice_book(), after the transfers of p_request_ids are '
    'in: moves spend_key_usage on for the requests made with a spend key (requests not refused '
    'and last_used_at when booked; the spend, the sum of their transfers, both times) and the '
    'auth version when a count a request or spend limit reads moved.';
