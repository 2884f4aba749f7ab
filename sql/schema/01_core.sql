-- Core ledger schema: who (merchants, customers, meters), what things cost
-- (provider_rates), where money sits (accounts) and what happened (events,
-- transfers), and the version of the auth data the sidecar publishes.
--
-- Money is bigint nano-USD everywhere (`_nusd`, 1 USD = 1e9 nusd). No float
-- column holds money. Rates are nano-USD per 1M tokens, percentages are ppm
-- (parts per million: 1 % = 10000 ppm). Rounding rule: docs/ledger.md.
--
-- Baseline: applied once by scripts/lava-migrate, inside its transaction, in
-- the lava schema (no BEGIN/COMMIT, no schema names here). Never edited once
-- released: a change is a new numbered file in this directory (sql/README.md).
-- The trigger functions named below are in sql/functions/triggers.sql.

-- Ids that travel in forward tokens, events and the auth snapshot.
CREATE DOMAIN lava_id AS text
    -- the same as ~ '^[A-Za-z0-9_.:-]{1,64}$', spelled so: Postgres's regex
    -- engine takes about 15 times longer over a bounded repeat, and every
    -- booked event checks three ids
    CHECK (VALUE ~ '^[A-Za-z0-9_.:-]+$' AND length(VALUE) <= 64);
COMMENT ON DOMAIN lava_id IS
    'Ids that travel in forward tokens, events and the auth snapshot: 1-64 of A-Za-z0-9_.:-';

CREATE TABLE merchants (
    id              lava_id PRIMARY KEY,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- sha256 of the secret key's bytes; the key itself is never stored
    secret_key_hash bytea NOT NULL UNIQUE CHECK (length(secret_key_hash) = 32),
    status          text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'disabled')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    refuse_unpriced boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE merchants IS
    'Merchants: who sells the usage. Created with create_merchant(); each gets a merchant account.';
COMMENT ON COLUMN merchants.secret_key_hash IS
    'sha256 of the secret key''s bytes; the key itself is never stored (create_merchant, '
    'rotate_merchant_key return it once)';
COMMENT ON COLUMN merchants.status IS
    'active | disabled: a disabled merchant''s requests are refused once the auth snapshot '
    'reaches nginx';
COMMENT ON COLUMN merchants.refuse_unpriced IS
    'true: requests for a model without a rate row are refused (403 model_not_priced) instead '
    'of served and booked unpriced (set_refuse_unpriced; published as a "p" record)';

-- A merchant's additional secret keys (create_secret_key). A restricted key
-- is for customer billing only: a token built from it cannot make the
-- merchant pay or set disable_billing, and serves only active customers
-- whose wallet is above its minimum (docs/security.md, class 11). Only the
-- key's sha256 is stored; a revoked key stays as history.
CREATE TABLE secret_keys (
    id              lava_id PRIMARY KEY,
    merchant_id     lava_id NOT NULL REFERENCES merchants,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    secret_key_hash bytea NOT NULL UNIQUE CHECK (length(secret_key_hash) = 32),
    secret_key_hint text NOT NULL,
    restricted      boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);
CREATE INDEX secret_keys_merchant ON secret_keys (merchant_id);
COMMENT ON TABLE secret_keys IS
    'A merchant''s additional secret keys (create_secret_key, list_secret_keys, '
    'revoke_secret_key); the merchant''s own key is merchants.secret_key_hash.';
COMMENT ON COLUMN secret_keys.id IS 'The key''s id (secret_key_id), never the key';
COMMENT ON COLUMN secret_keys.secret_key_hash IS
    'sha256 of the secret key''s bytes; the key itself is never stored (create_secret_key '
    'returns it once)';
COMMENT ON COLUMN secret_keys.secret_key_hint IS
    'The key''s prefix and last 4 characters, to recognise it (lava_rk_...1a2b)';
COMMENT ON COLUMN secret_keys.restricted IS
    'true: customer billing only (published as a "k" record): a token built from it must name '
    'a customer and a meter, cannot set disable_billing, and serves only active customers '
    'whose wallet is above its minimum. false: a full key like the merchant''s own';
COMMENT ON COLUMN secret_keys.revoked_at IS
    'Set by revoke_secret_key: the key stops working once the auth snapshot reaches nginx';

-- Customer ids are unique across merchants: deposits and admin functions name
-- a customer by id alone. The merchant is kept to check events against it.
CREATE TABLE customers (
    id              lava_id PRIMARY KEY,
    merchant_id     lava_id NOT NULL REFERENCES merchants,
    status          text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'disabled')),
    overdraft       text NOT NULL DEFAULT 'block'
                    CHECK (overdraft IN ('block', 'allow')),
    min_balance_nusd bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, id)
);
COMMENT ON TABLE customers IS
    'Customers of a merchant, each with a wallet account. Ids are unique across merchants: '
    'deposits and admin functions name a customer by id alone.';
COMMENT ON COLUMN customers.status IS
    'active | disabled: a disabled customer''s requests are refused';
COMMENT ON COLUMN customers.overdraft IS
    'Wallet policy (set_overdraft): block = requests are refused with 402 once the balance is '
    'at or below min_balance_nusd; allow = they go on';
COMMENT ON COLUMN customers.min_balance_nusd IS
    'The balance, nano-USD, at or below which a customer under the block policy is refused';

-- A meter is the merchant's fee on top of the provider's base cost; its rates
-- are in meter_tiers (02_pricing.sql).
CREATE TABLE meters (
    merchant_id     lava_id NOT NULL REFERENCES merchants,
    slug            lava_id NOT NULL,
    fee_kind        text NOT NULL CHECK (fee_kind IN ('fixed', 'percentage')),
    token_basis     text NOT NULL DEFAULT 'input_output'
                    CHECK (token_basis IN ('input_output', 'output')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    unit            text NOT NULL DEFAULT 'tokens_1m'
                    CHECK (unit IN ('tokens_1m', 'characters_1m', 'minutes', 'requests')),
    PRIMARY KEY (merchant_id, slug)
);
COMMENT ON TABLE meters IS
    'A merchant''s fee on top of the provider''s base cost (create_meter); its graduated rates '
    'are in meter_tiers.';
COMMENT ON COLUMN meters.slug IS 'The meter''s name, as forward tokens give it (meter_slug)';
COMMENT ON COLUMN meters.fee_kind IS
    'fixed: a rate per unit (meter_tiers.fee_rate nano-USD per unit); percentage: fee_rate ppm '
    'of the base cost';
COMMENT ON COLUMN meters.token_basis IS
    'Token meters: input_output counts every prompt and completion token, output the '
    'completion tokens only';
COMMENT ON COLUMN meters.unit IS
    'What the meter counts: tokens_1m (tokens of token_basis, rates per 1M), characters_1m '
    '(per 1M characters), minutes (usage_duration_ms, rates per minute), requests (per '
    'request). A percentage meter uses the unit only to place a customer in its tiers.';

-- Provider list prices. A row applies to requests started at or after
-- effective_from, until the next row of the same provider and model; the
-- rows of one provider, model and effective_from are one price list: the
-- base row and its long-context tiers. NULL means "no price": usage in that
-- unit makes the request unpriced, except
--   cached_input, cache_write        -> the input price
--   cache_write_1h                   -> the cache-write price, else input
--   reasoning                        -> the output price
--   request_nusd                     -> requests are free
-- Rows are never edited (trigger provider_rates_frozen): booked requests
-- point at the row they used.
CREATE TABLE provider_rates (
    id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider                  text NOT NULL CHECK (provider ~ '^[a-z0-9_.-]{1,64}$'),
    model                     text NOT NULL CHECK (length(model) BETWEEN 1 AND 256),
    effective_from            timestamptz NOT NULL,
    input_nusd_per_1m         bigint CHECK (input_nusd_per_1m >= 0),
    cached_input_nusd_per_1m  bigint CHECK (cached_input_nusd_per_1m >= 0),
    cache_write_nusd_per_1m   bigint CHECK (cache_write_nusd_per_1m >= 0),
    cache_write_1h_nusd_per_1m bigint CHECK (cache_write_1h_nusd_per_1m >= 0),
    output_nusd_per_1m        bigint CHECK (output_nusd_per_1m >= 0),
    reasoning_nusd_per_1m     bigint CHECK (reasoning_nusd_per_1m >= 0),
    audio_input_nusd_per_1m   bigint CHECK (audio_input_nusd_per_1m >= 0),
    audio_output_nusd_per_1m  bigint CHECK (audio_output_nusd_per_1m >= 0),
    note                      text,
    created_at                timestamptz NOT NULL DEFAULT now(),
    characters_nusd_per_1m    bigint CHECK (characters_nusd_per_1m >= 0),
    duration_nusd_per_hour    bigint CHECK (duration_nusd_per_hour >= 0),
    request_nusd              bigint CHECK (request_nusd >= 0),
    image_nusd                bigint CHECK (image_nusd >= 0),
    web_search_nusd           bigint CHECK (web_search_nusd >= 0),
    web_fetch_nusd            bigint CHECK (web_fetch_nusd >= 0),
    grounded_prompt_nusd      bigint CHECK (grounded_prompt_nusd >= 0),
    prompt_tokens_over        bigint NOT NULL DEFAULT 0 CHECK (prompt_tokens_over >= 0),
    CONSTRAINT provider_rates_one_row_per_tier
        UNIQUE (provider, model, effective_from, prompt_tokens_over)
);
COMMENT ON TABLE provider_rates IS
    'Provider list prices, nano-USD (add_rate). A row applies to requests started at or after '
    'effective_from, until the next row of the same provider and model. NULL: no price in that '
    'unit (the request is unpriced), except cached input and cache writes (input price), '
    '1-hour cache writes (cache-write price), reasoning (output price), requests (free). Never '
    'edited: a price change is a new row.';
COMMENT ON COLUMN provider_rates.model IS
    'The model name the provider reports; ''*'' prices any of the provider''s requests no '
    'other row prices (those naming no model included)';
COMMENT ON COLUMN provider_rates.effective_from IS
    'Applies to requests started at or after this instant (compared in whole milliseconds)';
COMMENT ON COLUMN provider_rates.input_nusd_per_1m IS
    'nano-USD per 1M input tokens; NULL: no price';
COMMENT ON COLUMN provider_rates.cached_input_nusd_per_1m IS
    'nano-USD per 1M cache-read input tokens; NULL: the input price';
COMMENT ON COLUMN provider_rates.cache_write_nusd_per_1m IS
    'nano-USD per 1M cache-write (5-minute) tokens; NULL: the input price';
COMMENT ON COLUMN provider_rates.cache_write_1h_nusd_per_1m IS
    'nano-USD per 1M 1-hour cache-write tokens; NULL: the cache-write price, else the input '
    'price';
COMMENT ON COLUMN provider_rates.output_nusd_per_1m IS
    'nano-USD per 1M output tokens; NULL: no price';
COMMENT ON COLUMN provider_rates.reasoning_nusd_per_1m IS
    'nano-USD per 1M reasoning tokens; NULL: the output price';
COMMENT ON COLUMN provider_rates.audio_input_nusd_per_1m IS
    'nano-USD per 1M audio input tokens; NULL: no price';
COMMENT ON COLUMN provider_rates.audio_output_nusd_per_1m IS
    'nano-USD per 1M audio output tokens; NULL: no price';
COMMENT ON COLUMN provider_rates.note IS 'Where the price comes from and how sure it is';
COMMENT ON COLUMN provider_rates.characters_nusd_per_1m IS
    'nano-USD per 1M characters; NULL: no price';
COMMENT ON COLUMN provider_rates.duration_nusd_per_hour IS
    'nano-USD per hour of usage_duration_ms; NULL: no price';
COMMENT ON COLUMN provider_rates.request_nusd IS
    'nano-USD per billed request; NULL: requests are free';
COMMENT ON COLUMN provider_rates.image_nusd IS 'nano-USD per image; NULL: no price';
COMMENT ON COLUMN provider_rates.web_search_nusd IS
    'nano-USD per server-side web search (events.web_search_calls); NULL: no price';
COMMENT ON COLUMN provider_rates.web_fetch_nusd IS
    'nano-USD per server-side web fetch (events.web_fetch_calls); NULL: no price';
COMMENT ON COLUMN provider_rates.grounded_prompt_nusd IS
    'nano-USD per response grounded with Google Search (events.grounded_prompts); NULL: no price';
COMMENT ON COLUMN provider_rates.prompt_tokens_over IS
    'Long-context tier: the row applies to requests whose prompt (every input bucket) is above '
    'this many tokens; 0 is the base row';

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

COMMENT ON TABLE accounts IS
    'Accounts of the double-entry ledger: wallet (one per customer, prepaid balance), merchant '
    '(fees earned; pays base cost when it is payer), provider (base cost owed), platform '
    '(service charge), funding (where deposits come from; goes negative). The balances sum to '
    'zero.';
COMMENT ON COLUMN accounts.key IS
    'The name the sidecar uses: wallet:<customer>, merchant:<merchant>, provider:<provider>, '
    'platform, funding';
COMMENT ON COLUMN accounts.kind IS
    'wallet | merchant | provider | platform | funding (see the table''s comment)';
COMMENT ON COLUMN accounts.merchant_id IS 'The merchant of a wallet or merchant account; NULL otherwise';
COMMENT ON COLUMN accounts.customer_id IS 'The customer of a wallet account; NULL otherwise';
COMMENT ON COLUMN accounts.provider IS
    'The provider of a provider account (created on its first booked request); NULL otherwise';
COMMENT ON COLUMN accounts.balance_nusd IS
    'Credits minus debits, nano-USD; moved by the transfers_apply trigger in the transaction '
    'of the transfer';

-- One row per request, as the module reported it plus what it was priced at.
-- The usage fields are docs/events.md version 1; absent counters are 0.
-- (Columns in the order the ledger grew; the pricing detail is at the end.)
CREATE TABLE events (
    request_id          text PRIMARY KEY
                        -- ~ '^req_[0-9A-HJKMNP-TV-Z]{26}$', without the slow bounded repeat
                        CHECK (request_id ~ '^req_[0-9A-HJKMNP-TV-Z]+$' AND length(request_id) = 30),
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
                        CHECK (outcome IN ('complete', 'client_abort', 'upstream_error', 'refused',
                                           'worker_lost')),
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
    web_search_calls    bigint NOT NULL DEFAULT 0 CHECK (web_search_calls >= 0),
    web_fetch_calls     bigint NOT NULL DEFAULT 0 CHECK (web_fetch_calls >= 0),
    grounded_prompts    bigint NOT NULL DEFAULT 0 CHECK (grounded_prompts >= 0),
    usage_raw           text,                    -- provider's usage JSON, as received
    metadata            jsonb,                   -- x-lava-metadata (metadata_jsonb)
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
    fee_rate            bigint,       -- nusd per unit (fixed) or ppm (percentage)
    fee_tokens          bigint,       -- tokens the fixed fee was computed on
    service_charge_ppm  bigint NOT NULL,
    base_cost_nusd      bigint CHECK (base_cost_nusd >= 0),
    fee_nusd            bigint CHECK (fee_nusd >= 0),
    service_charge_nusd bigint CHECK (service_charge_nusd >= 0),
    booked_at           timestamptz NOT NULL DEFAULT now(),
    fee_unit            text
                        CHECK (fee_unit IN ('tokens_1m', 'characters_1m', 'minutes', 'requests')),
    fee_units           bigint CHECK (fee_units >= 0),
    fee_units_before    bigint CHECK (fee_units_before >= 0),
    fee_detail          jsonb,
    service_charge_basis text NOT NULL DEFAULT 'fee'
                        CHECK (service_charge_basis IN ('fee', 'base', 'base_fee')),
    spend_key_id        lava_id,
    attempt             integer CHECK (attempt BETWEEN 1 AND 100),
    attempt_of          lava_id
                        CHECK (attempt_of ~ '^req_[0-9A-HJKMNP-TV-Z]+$' AND length(attempt_of) = 30),
    CHECK (attempt_of IS NULL OR attempt IS NOT NULL),
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
CREATE INDEX events_spend_key ON events (spend_key_id, started_at) WHERE spend_key_id IS NOT NULL;
CREATE INDEX events_attempt_of ON events (attempt_of) WHERE attempt_of IS NOT NULL;
-- No index on (merchant_id, meter_slug, customer_id): the graduated counts
-- are kept in meter_usage, and only ledger_check, which reads every event,
-- groups events that way; one index fewer to keep on every booked event.

COMMENT ON TABLE events IS
    'One row per request, as the module reported it (docs/events.md version 1; absent counters '
    'are 0) plus what it was priced at. Append-only (events_immutable); booked by book_batch().';
COMMENT ON COLUMN events.request_id IS
    'The id the module gave the request (req_ and 26 Crockford base32 digits): the idempotency '
    'key of booking';
COMMENT ON COLUMN events.v IS 'Event format version (docs/events.md)';
COMMENT ON COLUMN events.stream_id IS 'Redis stream entry id the event came in';
COMMENT ON COLUMN events.content_hash IS
    'sha256 of the entry''s fields: a redelivery has the same, a conflicting request id another';
COMMENT ON COLUMN events.ts_ms IS 'Request start, Unix milliseconds';
COMMENT ON COLUMN events.started_at IS 'ts_ms as a timestamp';
COMMENT ON COLUMN events.duration_ms IS 'Request start to log phase, milliseconds';
COMMENT ON COLUMN events.ttfb_ms IS
    'Request start to the first response byte from the provider, milliseconds';
COMMENT ON COLUMN events.merchant_id IS
    'The merchant whose secret key authenticated the request (NULL when refused before auth)';
COMMENT ON COLUMN events.meter_slug IS 'The meter_slug of the forward token';
COMMENT ON COLUMN events.provider IS
    'Provider name from the provider table (e.g. openai); NULL when refused before routing';
COMMENT ON COLUMN events.host IS 'Provider host the request was routed to';
COMMENT ON COLUMN events.endpoint IS
    'Path sent to the provider (no query string: it can hold keys)';
COMMENT ON COLUMN events.model IS
    'Model name, from the response usage when present, else from the request body';
COMMENT ON COLUMN events.status IS 'HTTP status sent to the client';
COMMENT ON COLUMN events.error IS
    'Short machine code for refused and upstream_error (docs/directives.md)';
COMMENT ON COLUMN events.stream IS 'Whether the response was SSE';
COMMENT ON COLUMN events.input_tokens IS 'Uncached, non-audio input tokens';
COMMENT ON COLUMN events.cached_input_tokens IS
    'Input tokens read from the provider''s prompt cache';
COMMENT ON COLUMN events.cache_write_tokens IS
    'Input tokens written to the cache (5-minute writes where the provider distinguishes)';
COMMENT ON COLUMN events.cache_write_1h_tokens IS 'Input tokens written to a 1-hour cache';
COMMENT ON COLUMN events.output_tokens IS 'Output tokens, reasoning excluded';
COMMENT ON COLUMN events.reasoning_tokens IS 'Reasoning/thinking output tokens';
COMMENT ON COLUMN events.audio_input_tokens IS 'Audio input tokens';
COMMENT ON COLUMN events.audio_output_tokens IS 'Audio output tokens';
COMMENT ON COLUMN events.characters IS 'Billed characters';
COMMENT ON COLUMN events.images IS 'Billed images';
COMMENT ON COLUMN events.web_search_calls IS
    'Server-side web searches billed per call (Anthropic web search, OpenAI web_search_call '
    'items, Gemini search queries)';
COMMENT ON COLUMN events.web_fetch_calls IS 'Server-side web fetches (Anthropic web fetch)';
COMMENT ON COLUMN events.grounded_prompts IS
    'Gemini responses grounded with Google Search (1 per grounded response)';
COMMENT ON COLUMN events.bytes_out IS 'Response body bytes sent to the client';
COMMENT ON COLUMN events.customer_id IS
    'As the client claimed it: a request refused for an unknown customer is recorded too, so '
    'no foreign key; transfers need the wallet';
COMMENT ON COLUMN events.payer IS
    'customer (the customer''s wallet pays), merchant (bare secret key, or disable_billing), '
    'none (refused before auth)';
COMMENT ON COLUMN events.key_source IS
    'managed (the operator''s provider key was injected), byok (the user''s own key: the base '
    'cost is recorded, not moved), none';
COMMENT ON COLUMN events.outcome IS
    'complete | client_abort | upstream_error | refused | worker_lost (the nginx worker serving it '
    'died: booked by another from its in-flight record, docs/events.md)';
COMMENT ON COLUMN events.usage_source IS
    'reported (read from the provider''s response, or counted from the request), estimated '
    '(gateway estimate), none';
COMMENT ON COLUMN events.usage_duration_ms IS 'Billed duration of audio or calls, milliseconds';
COMMENT ON COLUMN events.requests IS 'Billed requests (1 by default for a forwarded request)';
COMMENT ON COLUMN events.usage_raw IS 'The provider''s usage JSON, as received';
COMMENT ON COLUMN events.metadata IS
    'x-lava-metadata as jsonb: the object the client sent (key order and spacing normalised); '
    'text that is not a JSON object is kept as a JSON string';
COMMENT ON COLUMN events.tap_flags IS
    'Comma-separated tap anomalies and how the usage was found (docs/events.md)';
COMMENT ON COLUMN events.price_state IS
    'priced: all three amounts known and booked as transfers; zero: nothing to charge '
    '(refused, no usage); unpriced: something was missing (price_note says what), the amounts '
    'are NULL and nothing is booked until it is re-priced (reprice_unpriced(), reprice_report)';
COMMENT ON COLUMN events.price_note IS 'Why the request is unpriced';
COMMENT ON COLUMN events.rate_id IS 'The provider_rates row the base cost used';
COMMENT ON COLUMN events.fee_kind IS 'The meter''s fee_kind when the request was priced';
COMMENT ON COLUMN events.fee_rate IS
    'nano-USD per unit (fixed) or ppm (percentage): the rate of the tier the request started in';
COMMENT ON COLUMN events.fee_tokens IS 'Tokens the fixed fee was computed on';
COMMENT ON COLUMN events.service_charge_ppm IS
    'The platform''s service charge, ppm of service_charge_basis';
COMMENT ON COLUMN events.base_cost_nusd IS 'What the provider charges for the usage, nano-USD';
COMMENT ON COLUMN events.fee_nusd IS 'The merchant''s meter fee, nano-USD';
COMMENT ON COLUMN events.service_charge_nusd IS 'The platform''s service charge, nano-USD';
COMMENT ON COLUMN events.fee_unit IS 'The meter''s unit';
COMMENT ON COLUMN events.fee_units IS
    'The request''s count in the meter''s unit (tokens of the basis, characters, milliseconds, '
    'requests)';
COMMENT ON COLUMN events.fee_units_before IS
    'The customer''s count on the meter before this request';
COMMENT ON COLUMN events.fee_detail IS
    'The split over the meter''s tiers: [{start, units, rate}, ...]';
COMMENT ON COLUMN events.service_charge_basis IS
    'What service_charge_ppm was taken of: fee (default), base, base_fee';
COMMENT ON COLUMN events.spend_key_id IS
    'The spend key that authenticated the request (spend_key_defs.id; refused requests too); '
    'NULL: another credential';
COMMENT ON COLUMN events.attempt IS
    'For a request that carried fallbacks (docs/endpoints.md): which attempt this row is, 1 the '
    'first provider tried; NULL for a request without fallbacks';
COMMENT ON COLUMN events.attempt_of IS
    'For an attempt that failed and was followed by another: the client''s request id (the row '
    'of the attempt that answered the client, whose request_id it is); this row has a request id '
    'of its own. NULL on every other row';
COMMENT ON COLUMN events.booked_at IS 'When book_batch() booked it (the sidecar''s transaction)';

-- Money movements. Immutable; a correction is a new transfer.
CREATE TABLE transfers (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('base', 'fee', 'service_charge', 'deposit')),
    -- accounts(id), accounts(id) and events(request_id): checked once per
    -- statement by the trigger transfers_apply rather than by foreign keys
    -- (three checks per row); accounts and events are never deleted
    debit_account   bigint NOT NULL,
    credit_account  bigint NOT NULL,
    amount_nusd     bigint NOT NULL CHECK (amount_nusd > 0),
    request_id      text,
    note            text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    spend_key_id    text,
    CHECK (debit_account <> credit_account),
    CHECK ((kind = 'deposit') = (request_id IS NULL))
);
CREATE UNIQUE INDEX transfers_one_per_kind ON transfers (request_id, kind)
    WHERE request_id IS NOT NULL;
CREATE INDEX transfers_debit ON transfers (debit_account);
CREATE INDEX transfers_credit ON transfers (credit_account);

COMMENT ON TABLE transfers IS
    'Money movements between accounts, nano-USD. Immutable; a correction is a new transfer. At '
    'most one of each kind per request.';
COMMENT ON COLUMN transfers.kind IS
    'base (payer to provider), fee (payer to merchant), service_charge (payer to platform), '
    'deposit (funding to wallet)';
COMMENT ON COLUMN transfers.debit_account IS 'The account the money leaves (its balance goes down)';
COMMENT ON COLUMN transfers.credit_account IS 'The account the money goes to (its balance goes up)';
COMMENT ON COLUMN transfers.amount_nusd IS 'nano-USD, always more than zero';
COMMENT ON COLUMN transfers.note IS
    'repriced: booked by reprice_book() for a request settled after it was booked unpriced; '
    'else the deposit''s note (fund_wallet) or NULL';
COMMENT ON COLUMN transfers.spend_key_id IS
    'The spend key of the request (events.spend_key_id), on every transfer of it; NULL for '
    'deposits and other credentials';
COMMENT ON COLUMN transfers.request_id IS
    'The request a base, fee or service charge is for; NULL for deposits';

-- Version of the auth data (merchants, secret keys, customers, meters). Bumped by every
-- statement that changes them; the sidecar publishes when it moves.
CREATE TABLE auth_state (
    one             boolean PRIMARY KEY DEFAULT true CHECK (one),
    version         bigint NOT NULL
);
INSERT INTO auth_state (version) VALUES (1);

COMMENT ON TABLE auth_state IS
    'One row: the version of the auth data (merchants, secret keys, customers, meters, wallets '
    'at their minimum). '
    'Bumped by every statement that changes them; the sidecar publishes the auth snapshot when '
    'it moves.';
COMMENT ON COLUMN auth_state.one IS 'Always true: keeps the table to one row';
COMMENT ON COLUMN auth_state.version IS
    'Moved on by auth_bump and transfers_apply; the sidecar publishes the snapshot again when it '
    'differs from the version in Redis';

-- ---------------------------------------------------------------------------
-- Triggers (functions: sql/functions/triggers.sql)

-- Events and transfers are history: never changed, never removed.
CREATE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER transfers_immutable BEFORE UPDATE OR DELETE ON transfers
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER transfers_no_truncate BEFORE TRUNCATE ON transfers
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();

-- Accounts are never removed and their ids never change: transfers point
-- at them (checked by transfers_apply, not by foreign keys).
CREATE TRIGGER accounts_kept BEFORE DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER accounts_no_truncate BEFORE TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER accounts_ids_frozen BEFORE UPDATE OF id ON accounts
    FOR EACH ROW EXECUTE FUNCTION ids_frozen();

-- Stored balances move with the transfers, in the same transaction; the
-- accounts and requests they name are checked there.
CREATE TRIGGER transfers_apply AFTER INSERT ON transfers
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION transfers_apply();

-- Every merchant and customer gets its account when it is created.
CREATE TRIGGER merchants_account AFTER INSERT ON merchants
    FOR EACH ROW EXECUTE FUNCTION merchants_account();
CREATE TRIGGER customers_wallet AFTER INSERT ON customers
    FOR EACH ROW EXECUTE FUNCTION customers_wallet();

-- Ids are what events and transfers point at: they do not change.
CREATE TRIGGER merchants_ids_frozen BEFORE UPDATE ON merchants
    FOR EACH ROW EXECUTE FUNCTION ids_frozen();
CREATE TRIGGER customers_ids_frozen BEFORE UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION ids_frozen();

-- The auth version moves with every change of the auth data.
CREATE TRIGGER merchants_auth AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON merchants
    FOR EACH STATEMENT EXECUTE FUNCTION auth_bump();
CREATE TRIGGER customers_auth AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON customers
    FOR EACH STATEMENT EXECUTE FUNCTION auth_bump();
CREATE TRIGGER meters_auth AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON meters
    FOR EACH STATEMENT EXECUTE FUNCTION auth_bump();
CREATE TRIGGER secret_keys_auth AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON secret_keys
    FOR EACH STATEMENT EXECUTE FUNCTION auth_bump();
