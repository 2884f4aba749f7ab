-- Admin functions, called from psql: merchants, secret keys, customers, wallets. Amounts
-- come in as NUMERIC USD (exact decimal) and are stored as bigint nano-USD; an
-- amount that is not a whole number of nano-USD is refused rather than
-- rounded. Rates and meters: pricing_admin.sql.
--
-- Functions are code, not history: lava-migrate applies this file again
-- whenever its content changes (CREATE OR REPLACE), and each function is
-- defined in this one place (sql/README.md).

-- USD -> nano-USD, exact. 1.5 -> 1500000000.
CREATE OR REPLACE FUNCTION usd_to_nusd(p_usd numeric) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    v numeric := p_usd * 1000000000;
BEGIN
    IF v <> trunc(v) THEN
        RAISE EXCEPTION 'amount % USD is not a whole number of nano-USD (at most 9 decimals)', p_usd;
    END IF;
    RETURN v::bigint;
END $$;
COMMENT ON FUNCTION usd_to_nusd IS
    'USD -> nano-USD, exact (1.5 -> 1500000000); refuses an amount that is not a whole number '
    'of nano-USD (more than 9 decimals).';

-- nano-USD -> USD with 9 decimals, exact. For display in views.
CREATE OR REPLACE FUNCTION nusd_to_usd(p_nusd bigint) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT round(p_nusd::numeric / 1000000000, 9)
$$;
COMMENT ON FUNCTION nusd_to_usd IS
    'nano-USD -> USD with 9 decimals, exact (numeric). For display in views.';

-- 32 random hex digits from the built-in gen_random_uuid().
CREATE OR REPLACE FUNCTION random_hex32() RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT replace(gen_random_uuid()::text, '-', '')
$$;
COMMENT ON FUNCTION random_hex32 IS
    '32 random hex digits, from the built-in gen_random_uuid(): ids and secret keys.';

-- Creates a merchant. The secret key is returned here and nowhere else: only
-- its sha256 is stored. SELECT * FROM create_merchant('Acme');
CREATE OR REPLACE FUNCTION create_merchant(p_name text, p_id text DEFAULT NULL)
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
COMMENT ON FUNCTION create_merchant IS
    'Creates a merchant (and its account); returns its id and its secret key. The key is '
    'returned here and nowhere else: only its sha256 is stored. SELECT * FROM '
    'create_merchant(''Acme'');';

-- Replaces a merchant's secret key; the old one stops working once the
-- auth snapshot reaches nginx. Returns the new key, once.
CREATE OR REPLACE FUNCTION rotate_merchant_key(p_merchant text) RETURNS text
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
COMMENT ON FUNCTION rotate_merchant_key IS
    'Replaces a merchant''s secret key and returns the new one, once; the old key stops '
    'working once the auth snapshot reaches nginx.';

-- A merchant's additional secret key, returned here and nowhere else: only
-- its sha256 is stored. Restricted (the default): for customer billing only
-- (docs/security.md, class 11), 'lava_rk_' + 64 hex digits; restricted =>
-- false: a second full key like the merchant's own, 'lava_sk_' + 64 hex.
--   SELECT * FROM create_secret_key('mer_...', 'web backend');
CREATE OR REPLACE FUNCTION create_secret_key(p_merchant text, p_name text,
                                             restricted boolean DEFAULT true)
RETURNS TABLE (secret_key_id text, secret_key text, secret_key_hint text)
LANGUAGE plpgsql AS $$
DECLARE
    v_id  text := 'sk_' || substr(random_hex32(), 1, 24);
    v_key text;
BEGIN
    IF create_secret_key.restricted IS NULL THEN
        RAISE EXCEPTION 'restricted must be true or false';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM merchants WHERE id = p_merchant) THEN
        RAISE EXCEPTION 'no merchant %', p_merchant;
    END IF;
    v_key := CASE WHEN create_secret_key.restricted THEN 'lava_rk_' ELSE 'lava_sk_' END
             || random_hex32() || random_hex32();
    secret_key_id := v_id;
    secret_key := v_key;
    secret_key_hint := left(v_key, 8) || '...' || right(v_key, 4);
    INSERT INTO secret_keys (id, merchant_id, name, secret_key_hash, secret_key_hint, restricted)
    VALUES (v_id, p_merchant, p_name, sha256(convert_to(v_key, 'UTF8')),
            create_secret_key.secret_key_hint, create_secret_key.restricted);
    RETURN NEXT;
END $$;
COMMENT ON FUNCTION create_secret_key IS
    'Creates an additional secret key of a merchant and returns it, once (only its sha256 is '
    'stored), with its id and hint. Restricted by default: customer billing only (a token '
    'built from it must name a customer and a meter, cannot set disable_billing, and serves '
    'only active customers whose wallet is above its minimum); restricted => false: a full '
    'key. SELECT * FROM create_secret_key(''mer_...'', ''web backend'');';

-- A merchant's additional secret keys, newest first; never the keys.
CREATE OR REPLACE FUNCTION list_secret_keys(p_merchant text)
RETURNS TABLE (secret_key_id text, name text, secret_key_hint text, restricted boolean,
               created_at timestamptz, revoked_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT k.id, k.name, k.secret_key_hint, k.restricted, k.created_at, k.revoked_at
      FROM secret_keys k
     WHERE k.merchant_id = p_merchant
     ORDER BY k.created_at DESC, k.id
$$;
COMMENT ON FUNCTION list_secret_keys IS
    'A merchant''s additional secret keys, newest first: id, name, hint, restricted, created '
    'and revoked times; never the keys. SELECT * FROM list_secret_keys(''mer_...'');';

-- Revokes an additional secret key: it stops working once the auth
-- snapshot reaches nginx. The row stays (revoked_at); revoking twice keeps
-- the first time.
CREATE OR REPLACE FUNCTION revoke_secret_key(p_secret_key_id text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE secret_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = p_secret_key_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no secret key %', p_secret_key_id;
    END IF;
END $$;
COMMENT ON FUNCTION revoke_secret_key IS
    'Revokes an additional secret key (create_secret_key): it stops working once the auth '
    'snapshot reaches nginx; the row stays with revoked_at.';

-- A merchant's status: active or disabled (its requests are refused once the
-- auth snapshot reaches nginx).
CREATE OR REPLACE FUNCTION set_merchant_status(p_merchant text, p_status text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE merchants SET status = p_status WHERE id = p_merchant;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no merchant %', p_merchant;
    END IF;
END $$;
COMMENT ON FUNCTION set_merchant_status IS
    'Sets a merchant''s status: active or disabled.';

CREATE OR REPLACE FUNCTION disable_merchant(p_merchant text) RETURNS void
LANGUAGE sql AS $$ SELECT set_merchant_status(p_merchant, 'disabled') $$;
COMMENT ON FUNCTION disable_merchant IS
    'Disables a merchant: its requests are refused once the auth snapshot reaches nginx.';

CREATE OR REPLACE FUNCTION enable_merchant(p_merchant text) RETURNS void
LANGUAGE sql AS $$ SELECT set_merchant_status(p_merchant, 'active') $$;
COMMENT ON FUNCTION enable_merchant IS
    'Enables a disabled merchant again.';

-- Creates a customer (and its wallet) of a merchant; returns its id.
CREATE OR REPLACE FUNCTION create_customer(p_merchant text, p_id text DEFAULT NULL) RETURNS text
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
COMMENT ON FUNCTION create_customer IS
    'Creates a customer (and its wallet) of a merchant; returns its id.';

-- A customer's status: active or disabled (its requests are refused).
-- The same shape as the merchant's three above, on purpose: one UPDATE of
-- its own table each; one function for both would take the table name as
-- text (dynamic SQL) and be longer than the lines it saves.
CREATE OR REPLACE FUNCTION set_customer_status(p_customer text, p_status text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE customers SET status = p_status WHERE id = p_customer;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no customer %', p_customer;
    END IF;
END $$;
COMMENT ON FUNCTION set_customer_status IS
    'Sets a customer''s status: active or disabled.';

CREATE OR REPLACE FUNCTION disable_customer(p_customer text) RETURNS void
LANGUAGE sql AS $$ SELECT set_customer_status(p_customer, 'disabled') $$;
COMMENT ON FUNCTION disable_customer IS
    'Disables a customer: its requests are refused once the auth snapshot reaches nginx.';

CREATE OR REPLACE FUNCTION enable_customer(p_customer text) RETURNS void
LANGUAGE sql AS $$ SELECT set_customer_status(p_customer, 'active') $$;
COMMENT ON FUNCTION enable_customer IS
    'Enables a disabled customer again.';

-- Deposits into a customer's wallet from the funding account. Returns the
-- transfer id. SELECT fund_wallet('cus_...', 25.00);
CREATE OR REPLACE FUNCTION fund_wallet(p_customer text, p_amount_usd numeric, p_note text DEFAULT NULL)
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
COMMENT ON FUNCTION fund_wallet IS
    'Deposits USD into a customer''s wallet from the funding account; returns the transfer id. '
    'SELECT fund_wallet(''cus_...'', 25.00);';

-- Wallet policy: with 'block' the customer's requests are refused with 402
-- once the balance is at or below p_min_balance_usd (0 by default); with
-- 'allow' they go on and the balance may go below it.
CREATE OR REPLACE FUNCTION set_overdraft(p_customer text, p_policy text, p_min_balance_usd numeric DEFAULT 0)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_min_balance_usd IS NULL THEN
        RAISE EXCEPTION 'minimum balance must be given';
    END IF;
    UPDATE customers SET overdraft = p_policy, min_balance_nusd = usd_to_nusd(p_min_balance_usd)
     WHERE id = p_customer;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no customer %', p_customer;
    END IF;
END $$;
COMMENT ON FUNCTION set_overdraft IS
    'Wallet policy of a customer: block (requests refused with 402 once the balance is at or '
    'below the minimum, 0 USD by default) or allow (the balance may go below it).';
