-- Spend keys (docs/spend-keys.md): scoped keys a merchant hands out, each
-- paid for by one wallet (a customer's, or the merchant's own), with
-- allow-lists, limits and an expiry that nginx enforces from the auth
-- snapshot (docs/auth-sync.md). Created and changed in psql through
-- sql/functions/spend_keys.sql; read through the spend_keys view (the
-- names of the hosted gateway's SDK, RestSpendKey), which is why the table
-- itself is spend_key_defs.
--
-- Baseline: applied once by scripts/lava-migrate (sql/README.md).

CREATE TABLE spend_key_defs (
    id                  lava_id PRIMARY KEY
                        -- 'spk_' + 26 Crockford base32, like request ids (lib/lava_id.h)
                        CHECK (id ~ '^spk_[0-9A-HJKMNP-TV-Z]+$' AND length(id) = 30),
    merchant_id         lava_id NOT NULL REFERENCES merchants,
    customer_id         lava_id,
    meter_slug          lava_id,
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- sha256 of the raw key's bytes; the key itself is never stored
    key_hash            bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    key_preview         text NOT NULL,
    status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    request_shape       text NOT NULL DEFAULT 'openai'
                        CHECK (request_shape IN ('openai', 'anthropic')),
    allowed_models      text[],
    allowed_providers   text[],
    spend_limit_nusd    bigint CHECK (spend_limit_nusd >= 0),
    spend_cycle         text CHECK (spend_cycle IN ('daily', 'weekly', 'monthly', 'total')),
    request_limit       bigint CHECK (request_limit >= 0),
    request_cycle       text CHECK (request_cycle IN ('daily', 'weekly', 'monthly', 'total')),
    rate_rpm            integer CHECK (rate_rpm >= 1),
    rate_burst          integer CHECK (rate_burst >= 0),
    refuse_unpriced     boolean NOT NULL DEFAULT false,
    expires_at          timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    revoked_at          timestamptz,
    FOREIGN KEY (merchant_id, customer_id) REFERENCES customers (merchant_id, id),
    CHECK (meter_slug IS NULL OR customer_id IS NOT NULL),
    CHECK ((spend_limit_nusd IS NULL) = (spend_cycle IS NULL)),
    CHECK ((request_limit IS NULL) = (request_cycle IS NULL)),
    CHECK (rate_burst IS NULL OR rate_rpm IS NOT NULL)
);
CREATE INDEX spend_key_defs_merchant ON spend_key_defs (merchant_id);
COMMENT ON TABLE spend_key_defs IS
    'Spend keys (create_spend_key, update_spend_key, pause_/resume_/rotate_/revoke_spend_key); '
    'read them through the spend_keys view. A revoked key stays as history.';
COMMENT ON COLUMN spend_key_defs.id IS 'The key''s id (spend_key_id): spk_ + 26 Crockford base32';
COMMENT ON COLUMN spend_key_defs.customer_id IS
    'The customer whose wallet pays for the key''s requests; NULL: the merchant pays (billed '
    'like a bare secret key)';
COMMENT ON COLUMN spend_key_defs.meter_slug IS
    'The meter whose fee the customer is charged on top of the base cost; NULL: no fee';
COMMENT ON COLUMN spend_key_defs.key_hash IS
    'sha256 of the raw key''s bytes (lava_spk_ + 64 hex); the key itself is never stored '
    '(create_spend_key, rotate_spend_key return it once)';
COMMENT ON COLUMN spend_key_defs.key_preview IS
    'lava_spk_ + the first 4 and last 4 hex digits of the key, to recognise it';
COMMENT ON COLUMN spend_key_defs.status IS 'active | paused (nginx answers 401 key_paused)';
COMMENT ON COLUMN spend_key_defs.request_shape IS
    'openai | anthropic: the API shape the key''s users speak on the unified endpoint';
COMMENT ON COLUMN spend_key_defs.allowed_models IS
    'Models the key may use (names provider_rates knows); NULL: every model';
COMMENT ON COLUMN spend_key_defs.allowed_providers IS
    'Providers the key may use (names provider_rates or meter_only_providers know); NULL: every '
    'provider';
COMMENT ON COLUMN spend_key_defs.spend_limit_nusd IS
    'Most the key''s wallet may pay per spend_cycle, nano-USD; NULL: no spend limit';
COMMENT ON COLUMN spend_key_defs.spend_cycle IS
    'daily | weekly | monthly | total: UTC calendar periods (day from 00:00, ISO week from '
    'Monday, month from the 1st); total never resets';
COMMENT ON COLUMN spend_key_defs.request_limit IS
    'Most requests per request_cycle (refused ones do not count); NULL: no request limit';
COMMENT ON COLUMN spend_key_defs.request_cycle IS 'As spend_cycle, for request_limit';
COMMENT ON COLUMN spend_key_defs.rate_rpm IS
    'Requests per minute (a token bucket per nginx node, refilled at rpm per 60 s); NULL: none';
COMMENT ON COLUMN spend_key_defs.rate_burst IS
    'Tokens the bucket holds beyond rpm; NULL: 0';
COMMENT ON COLUMN spend_key_defs.refuse_unpriced IS
    'true: requests for a model without a rate row are refused (403 model_not_priced)';
COMMENT ON COLUMN spend_key_defs.expires_at IS
    'From then on nginx answers 401 key_expired; NULL: never';
COMMENT ON COLUMN spend_key_defs.revoked_at IS
    'Set by revoke_spend_key: nginx answers 401 key_revoked (for 30 days, then invalid_key)';

-- What the ledger booked per key and UTC day: the counts and spend nginx
-- checks the request and spend limits against (the "l" records of the auth
-- snapshot) and the view's current_/total_ columns. Moved by book_batch()
-- and reprice_book() in the booking transaction.
CREATE TABLE spend_key_usage (
    spend_key_id        lava_id NOT NULL,
    day                 date NOT NULL,
    requests            bigint NOT NULL DEFAULT 0 CHECK (requests >= 0),
    spend_nusd          bigint NOT NULL DEFAULT 0 CHECK (spend_nusd >= 0),
    last_used_at        timestamptz,
    PRIMARY KEY (spend_key_id, day)
);
COMMENT ON TABLE spend_key_usage IS
    'Per spend key and UTC day (of the request''s start): the requests booked (refused ones '
    'not counted) and what the key''s wallet paid for them; moved by book_batch() and '
    'reprice_book().';
COMMENT ON COLUMN spend_key_usage.requests IS 'Requests the gateway let through (not refused)';
COMMENT ON COLUMN spend_key_usage.spend_nusd IS
    'What the key''s wallet paid: the sum of the requests'' transfers, nano-USD (a settled '
    're-priced request counts on the day it started)';
COMMENT ON COLUMN spend_key_usage.last_used_at IS
    'Start of the latest request of the day made with the key, refused ones included';

CREATE TRIGGER spend_key_defs_auth AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON spend_key_defs
    FOR EACH STATEMENT EXECUTE FUNCTION auth_bump();
CREATE TRIGGER spend_key_defs_ids_frozen BEFORE UPDATE ON spend_key_defs
    FOR EACH ROW EXECUTE FUNCTION ids_frozen();
