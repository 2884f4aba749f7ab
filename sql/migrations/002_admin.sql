-- Admin functions, called from psql. Amounts come in as NUMERIC USD (exact
-- decimal) and are stored as bigint nano-USD; an amount that is not a whole
-- number of nano-USD is refused rather than rounded.

-- USD -> nano-USD, exact. 1.5 -> 1500000000.
CREATE FUNCTION usd_to_nusd(p_usd numeric) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    v numeric := p_usd * 1000000000;
BEGIN
    IF v <> trunc(v) THEN
        RAISE EXCEPTION 'amount % USD is not a whole number of nano-USD (at most 9 decimals)', p_usd;
    END IF;
    RETURN v::bigint;
END $$;

-- nano-USD -> USD with 9 decimals, exact. For display in views.
CREATE FUNCTION nusd_to_usd(p_nusd bigint) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT round(p_nusd::numeric / 1000000000, 9)
$$;

-- 32 random hex digits from the built-in gen_random_uuid().
CREATE FUNCTION random_hex32() RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT replace(gen_random_uuid()::text, '-', '')
$$;

-- Creates a merchant. The secret key is returned here and nowhere else: only
-- its sha256 is stored. SELECT * FROM create_merchant('Acme');
CREATE FUNCTION create_merchant(p_name text, p_id text DEFAULT NULL)
RETURNS TABLE (merchant_id text, secret_key text)
LANGUAGE plpgsql AS $$
DECLARE
    v_id  text := coalesce(p_id, 'mer_' || substr(random_hex32(), 1, 24));
    v_key text := 'lava_sk_' || random_hex32() || random_hex32();
BEGIN
    INSERT INTO merchants (id, name, secret_key_hash)
    VALUES (v_id, p_name, sha256(convert_to(v_key, 'UTF8')));
    merchant_id := v_id;
    secret_key := v_key;
    RETURN NEXT;
END $$;

-- Replaces a merchant's secret key; the old one stops working once the
-- auth snapshot reaches nginx. Returns the new key, once.
CREATE FUNCTION rotate_merchant_key(p_merchant text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_key text := 'lava_sk_' || random_hex32() || random_hex32();
BEGIN
    UPDATE merchants SET secret_key_hash = sha256(convert_to(v_key, 'UTF8'))
     WHERE id = p_merchant;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no merchant %', p_merchant;
    END IF;
    RETURN v_key;
END $$;

CREATE FUNCTION set_merchant_status(p_merchant text, p_status text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE merchants SET status = p_status WHERE id = p_merchant;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no merchant %', p_merchant;
    END IF;
END $$;

CREATE FUNCTION disable_merchant(p_merchant text) RETURNS void
LANGUAGE sql AS $$ SELECT set_merchant_status(p_merchant, 'disabled') $$;
CREATE FUNCTION enable_merchant(p_merchant text) RETURNS void
LANGUAGE sql AS $$ SELECT set_merchant_status(p_merchant, 'active') $$;

-- Creates a customer (and its wallet) of a merchant; returns its id.
CREATE FUNCTION create_customer(p_merchant text, p_id text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_id text := coalesce(p_id, 'cus_' || substr(random_hex32(), 1, 24));
BEGIN
    IF NOT EXISTS (SELECT 1 FROM merchants WHERE id = p_merchant) THEN
        RAISE EXCEPTION 'no merchant %', p_merchant;
    END IF;
    INSERT INTO customers (id, merchant_id) VALUES (v_id, p_merchant);
    RETURN v_id;
END $$;

CREATE FUNCTION set_customer_status(p_customer text, p_status text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE customers SET status = p_status WHERE id = p_customer;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no customer %', p_customer;
    END IF;
END $$;

CREATE FUNCTION disable_customer(p_customer text) RETURNS void
LANGUAGE sql AS $$ SELECT set_customer_status(p_customer, 'disabled') $$;
CREATE FUNCTION enable_customer(p_customer text) RETURNS void
LANGUAGE sql AS $$ SELECT set_customer_status(p_customer, 'active') $$;

-- Creates a meter.
--   kind 'fixed':      p_amount is USD per 1M tokens of the token basis
--   kind 'percentage': p_amount is a percent of the base cost (2.5 = 2.5 %)
-- p_basis: 'input_output' (all prompt and completion tokens) or 'output'.
CREATE FUNCTION create_meter(p_merchant text, p_slug text, p_kind text, p_amount numeric,
                             p_basis text DEFAULT 'input_output') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_ppm numeric;
BEGIN
    IF p_amount IS NULL OR p_amount < 0 THEN
        RAISE EXCEPTION 'meter amount must be zero or more';
    END IF;
    IF p_kind = 'fixed' THEN
        INSERT INTO meters (merchant_id, slug, fee_kind, fee_nusd_per_1m, token_basis)
        VALUES (p_merchant, p_slug, 'fixed', usd_to_nusd(p_amount), p_basis);
    ELSIF p_kind = 'percentage' THEN
        v_ppm := p_amount * 10000;
        IF v_ppm <> trunc(v_ppm) THEN
            RAISE EXCEPTION 'percentage % has more than 4 decimals', p_amount;
        END IF;
        INSERT INTO meters (merchant_id, slug, fee_kind, fee_ppm, token_basis)
        VALUES (p_merchant, p_slug, 'percentage', v_ppm::bigint, p_basis);
    ELSE
        RAISE EXCEPTION 'meter kind must be fixed or percentage, not %', p_kind;
    END IF;
    RETURN p_slug;
END $$;

-- Deposits into a customer's wallet from the funding account. Returns the
-- transfer id. SELECT fund_wallet('cus_...', 25.00);
CREATE FUNCTION fund_wallet(p_customer text, p_amount_usd numeric, p_note text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_nusd   bigint := usd_to_nusd(p_amount_usd);
    v_wallet bigint;
    v_id     bigint;
BEGIN
    IF v_nusd IS NULL OR v_nusd <= 0 THEN
        RAISE EXCEPTION 'a deposit must be more than zero';
    END IF;
    SELECT id INTO v_wallet FROM accounts WHERE key = 'wallet:' || p_customer;
    IF v_wallet IS NULL THEN
        RAISE EXCEPTION 'no customer %', p_customer;
    END IF;
    INSERT INTO transfers (kind, debit_account, credit_account, amount_nusd, note)
    VALUES ('deposit', (SELECT id FROM accounts WHERE key = 'funding'), v_wallet, v_nusd, p_note)
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;

-- Adds a provider list price, USD per 1M tokens, applying to requests started
-- at or after p_effective_from. p_cached NULL: cache reads cost the input
-- price. Rows are never edited (booked requests point at them): a price
-- change is a new row with a later date. Returns the rate id.
CREATE FUNCTION set_rate(p_provider text, p_model text, p_input numeric, p_cached numeric,
                         p_output numeric, p_effective_from timestamptz DEFAULT now(),
                         p_note text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    IF p_input < 0 OR p_cached < 0 OR p_output < 0 THEN
        RAISE EXCEPTION 'rates must be zero or more';
    END IF;
    INSERT INTO provider_rates (provider, model, effective_from, input_nusd_per_1m,
                                cached_input_nusd_per_1m, output_nusd_per_1m, note)
    VALUES (p_provider, p_model, p_effective_from, usd_to_nusd(p_input),
            usd_to_nusd(p_cached), usd_to_nusd(p_output), p_note)
    RETURNING id INTO v_id;
    INSERT INTO accounts (key, kind, provider)
    VALUES ('provider:' || p_provider, 'provider', p_provider)
    ON CONFLICT (key) DO NOTHING;
    RETURN v_id;
END $$;
