-- Every view, defined once, in dependency order (docs/ledger.md). Amounts
-- are shown both in nano-USD (exact, what is stored) and in USD with 9
-- decimals (exact too: numeric). Days are UTC.
--
-- Views hold no data: whenever this file or any schema or function file
-- changes, lava-migrate drops every view of the lava schema and runs this
-- file again, in one transaction (sql/README.md). So: plain CREATE VIEW, in
-- the order they depend on each other, each with its COMMENT. The one
-- function here, usage_daily_by(), is part of the views: it reads one and
-- four are built on it (CREATE OR REPLACE: dropping the views leaves it).

-- Every account with its stored balance and the balance derived from its
-- transfers; the two are always equal (see ledger_check).
CREATE VIEW account_balances AS
SELECT a.id,
       a.key,
       a.kind,
       a.merchant_id,
       a.customer_id,
       a.provider,
       a.balance_nusd,
       nusd_to_usd(a.balance_nusd) AS balance_usd,
       coalesce(c.sum, 0) - coalesce(d.sum, 0) AS derived_nusd
  FROM accounts a
  LEFT JOIN (SELECT credit_account AS id, sum(amount_nusd)::bigint AS sum
               FROM transfers GROUP BY credit_account) c ON c.id = a.id
  LEFT JOIN (SELECT debit_account AS id, sum(amount_nusd)::bigint AS sum
               FROM transfers GROUP BY debit_account) d ON d.id = a.id;
COMMENT ON VIEW account_balances IS
    'Every account with its stored balance and the balance derived from its transfers; the two '
    'are always equal (ledger_check).';

-- What each request cost in the end: its own amounts when it was priced,
-- the settlement's when it was re-priced, NULL while it is unpriced.
--   cost_state: priced | zero | unpriced | settled
CREATE VIEW request_costs AS
SELECT e.request_id,
       e.started_at,
       (e.started_at AT TIME ZONE 'UTC')::date AS day,
       e.merchant_id, e.customer_id, e.meter_slug, e.payer, e.key_source,
       e.provider, e.model,
       CASE WHEN rp.request_id IS NOT NULL THEN 'settled' ELSE e.price_state END AS cost_state,
       coalesce(rp.rate_id, e.rate_id) AS rate_id,
       coalesce(rp.base_cost_nusd, e.base_cost_nusd) AS base_cost_nusd,
       coalesce(rp.fee_nusd, e.fee_nusd) AS fee_nusd,
       coalesce(rp.service_charge_nusd, e.service_charge_nusd) AS service_charge_nusd,
       coalesce(rp.base_cost_nusd, e.base_cost_nusd) + coalesce(rp.fee_nusd, e.fee_nusd)
           + coalesce(rp.service_charge_nusd, e.service_charge_nusd) AS total_nusd,
       coalesce(rp.fee_units, e.fee_units) AS fee_units,
       coalesce(rp.fee_units_before, e.fee_units_before) AS fee_units_before,
       rp.settled_at
  FROM events e
  LEFT JOIN repricings rp ON rp.request_id = e.request_id;
COMMENT ON VIEW request_costs IS
    'What each request cost in the end: its own amounts when it was priced, the settlement''s '
    '(repricings) when it was re-priced, NULL while it is unpriced. cost_state: priced | zero '
    '| unpriced | settled.';

-- Every attempt of a request that carried fallbacks (docs/endpoints.md),
-- under the client's request id: the failed ones (their own request id,
-- attempt_of the client's) and the one that answered (the client's id).
CREATE VIEW request_attempts AS
SELECT coalesce(e.attempt_of, e.request_id) AS client_request_id,
       e.attempt,
       e.request_id,
       e.attempt_of IS NULL AS answered,
       e.started_at, e.duration_ms,
       e.merchant_id, e.customer_id, e.spend_key_id,
       e.provider, e.model, e.endpoint, e.status, e.outcome, e.error, e.stream,
       e.usage_source, e.input_tokens, e.output_tokens,
       c.cost_state, c.total_nusd, nusd_to_usd(c.total_nusd) AS total_usd
  FROM events e
  JOIN request_costs c ON c.request_id = e.request_id
 WHERE e.attempt IS NOT NULL;
COMMENT ON VIEW request_attempts IS
    'Every attempt of a request that carried fallbacks, keyed by the client''s request id '
    '(client_request_id, attempt): provider, status, outcome, usage and what it cost. answered: '
    'the attempt whose answer the client got (booked under the client''s request id; the '
    'failed ones have ids of their own).';

-- One row per request: usage, the rate row and its prices, the meter and
-- how its fee was reached, the three amounts and what the transfers moved.
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
       e.web_search_calls,
       e.web_fetch_calls,
       e.grounded_prompts,
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
       r.web_search_nusd,
       r.web_fetch_nusd,
       r.grounded_prompt_nusd,
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
COMMENT ON VIEW request_breakdown IS
    'One row per request: usage, the rate row and its prices, the meter and how its fee was '
    'reached, the three amounts (nano-USD and USD) and what the transfers moved. price_state '
    'here is request_costs.cost_state (settled once re-priced).';

-- Daily usage and cost, per merchant, customer, provider and model; the
-- roll-ups below read it. Unpriced requests are counted, their cost
-- is not (it is unknown until they are re-priced).
CREATE VIEW usage_daily AS
SELECT c.day, e.merchant_id, e.customer_id, e.provider, e.model,
       count(*) AS requests,
       count(*) FILTER (WHERE c.cost_state = 'unpriced') AS unpriced_requests,
       count(*) FILTER (WHERE e.status >= 400) AS error_requests,
       sum(e.input_tokens)::bigint AS input_tokens,
       sum(e.cached_input_tokens)::bigint AS cached_input_tokens,
       sum(e.cache_write_tokens + e.cache_write_1h_tokens)::bigint AS cache_write_tokens,
       sum(e.output_tokens)::bigint AS output_tokens,
       sum(e.reasoning_tokens)::bigint AS reasoning_tokens,
       sum(e.audio_input_tokens + e.audio_output_tokens)::bigint AS audio_tokens,
       sum(e.characters)::bigint AS characters,
       sum(e.usage_duration_ms)::bigint AS usage_duration_ms,
       sum(e.images)::bigint AS images,
       coalesce(sum(c.base_cost_nusd), 0)::bigint AS base_cost_nusd,
       coalesce(sum(c.fee_nusd), 0)::bigint AS fee_nusd,
       coalesce(sum(c.service_charge_nusd), 0)::bigint AS service_charge_nusd,
       coalesce(sum(c.total_nusd), 0)::bigint AS total_nusd,
       nusd_to_usd(coalesce(sum(c.total_nusd), 0)::bigint) AS total_usd
  FROM events e
  JOIN request_costs c ON c.request_id = e.request_id
 GROUP BY c.day, e.merchant_id, e.customer_id, e.provider, e.model;
COMMENT ON VIEW usage_daily IS
    'Daily (UTC) usage and cost per merchant, customer, provider and model. Unpriced requests '
    'are counted, their cost is not (unknown until they are re-priced).';

-- usage_daily rolled up per day and one key: the sums are written once, here;
-- usage_daily_merchant, _customer, _provider and _model below each pick the
-- columns of their key. p_per: merchant (merchant_id), customer
-- (merchant_id, customer_id), provider (provider), model (provider, model);
-- the other keys come back NULL (any other p_per: day totals). A function,
-- not a view: a plain SQL function is inlined into the view that calls it,
-- so a filter on the view (merchant_id = ..., day >= ...) still reaches the
-- events scan, as it did when each view had its own GROUP BY. It lives here
-- rather than in functions/ because it reads a view (usage_daily) and SQL
-- function bodies are checked when they are created (sql/README.md).
CREATE OR REPLACE FUNCTION usage_daily_by(p_per text)
RETURNS TABLE (day date, merchant_id lava_id, customer_id lava_id, provider text, model text,
               requests bigint, unpriced_requests bigint, prompt_tokens bigint,
               completion_tokens bigint, base_cost_nusd bigint, fee_nusd bigint,
               service_charge_nusd bigint, total_nusd bigint, total_usd numeric)
LANGUAGE sql STABLE AS $$
SELECT u.day,
       CASE WHEN p_per IN ('merchant', 'customer') THEN u.merchant_id END,
       CASE WHEN p_per = 'customer' THEN u.customer_id END,
       CASE WHEN p_per IN ('provider', 'model') THEN u.provider END,
       CASE WHEN p_per = 'model' THEN u.model END,
       sum(u.requests)::bigint, sum(u.unpriced_requests)::bigint,
       sum(u.input_tokens + u.cached_input_tokens + u.cache_write_tokens)::bigint,
       sum(u.output_tokens + u.reasoning_tokens)::bigint,
       sum(u.base_cost_nusd)::bigint, sum(u.fee_nusd)::bigint, sum(u.service_charge_nusd)::bigint,
       sum(u.total_nusd)::bigint, nusd_to_usd(sum(u.total_nusd)::bigint)
  FROM usage_daily u
 GROUP BY 1, 2, 3, 4, 5
$$;
COMMENT ON FUNCTION usage_daily_by IS
    'usage_daily rolled up per day and p_per: merchant, customer (with its merchant), provider '
    'or model (with its provider); the other keys are NULL. What usage_daily_merchant, '
    '_customer, _provider and _model read (inlined: filters on them reach the events scan).';

CREATE VIEW usage_daily_merchant AS
SELECT day, merchant_id, requests, unpriced_requests, prompt_tokens, completion_tokens,
       base_cost_nusd, fee_nusd, service_charge_nusd, total_nusd, total_usd
  FROM usage_daily_by('merchant');
COMMENT ON VIEW usage_daily_merchant IS
    'usage_daily rolled up per day and merchant.';

CREATE VIEW usage_daily_customer AS
SELECT day, merchant_id, customer_id, requests, unpriced_requests, prompt_tokens,
       completion_tokens, base_cost_nusd, fee_nusd, service_charge_nusd, total_nusd, total_usd
  FROM usage_daily_by('customer');
COMMENT ON VIEW usage_daily_customer IS
    'usage_daily rolled up per day and customer.';

CREATE VIEW usage_daily_provider AS
SELECT day, provider, requests, unpriced_requests, prompt_tokens, completion_tokens,
       base_cost_nusd, fee_nusd, service_charge_nusd, total_nusd, total_usd
  FROM usage_daily_by('provider');
COMMENT ON VIEW usage_daily_provider IS
    'usage_daily rolled up per day and provider.';

CREATE VIEW usage_daily_model AS
SELECT day, provider, model, requests, unpriced_requests, prompt_tokens, completion_tokens,
       base_cost_nusd, fee_nusd, service_charge_nusd, total_nusd, total_usd
  FROM usage_daily_by('model');
COMMENT ON VIEW usage_daily_model IS
    'usage_daily rolled up per day, provider and model.';

-- Daily usage, cost and what the wallet paid per spend key (refused
-- requests counted apart: they cost nothing). paid_nusd is what the key's
-- limits count (spend_key_usage): the transfers of its requests.
CREATE VIEW usage_daily_spend_key AS
SELECT c.day, e.merchant_id, e.spend_key_id,
       count(*) FILTER (WHERE e.outcome <> 'refused') AS requests,
       count(*) FILTER (WHERE e.outcome = 'refused') AS refused_requests,
       count(*) FILTER (WHERE c.cost_state = 'unpriced') AS unpriced_requests,
       sum(e.input_tokens + e.cached_input_tokens + e.cache_write_tokens
           + e.cache_write_1h_tokens + e.audio_input_tokens)::bigint AS prompt_tokens,
       sum(e.output_tokens + e.reasoning_tokens + e.audio_output_tokens)::bigint
           AS completion_tokens,
       coalesce(sum(c.base_cost_nusd), 0)::bigint AS base_cost_nusd,
       coalesce(sum(c.fee_nusd), 0)::bigint AS fee_nusd,
       coalesce(sum(c.service_charge_nusd), 0)::bigint AS service_charge_nusd,
       coalesce(sum(c.total_nusd), 0)::bigint AS total_nusd,
       coalesce(sum(t.paid_nusd), 0)::bigint AS paid_nusd,
       nusd_to_usd(coalesce(sum(t.paid_nusd), 0)::bigint) AS paid_usd
  FROM events e
  JOIN request_costs c ON c.request_id = e.request_id
  LEFT JOIN (SELECT request_id, sum(amount_nusd)::bigint AS paid_nusd
               FROM transfers WHERE spend_key_id IS NOT NULL
              GROUP BY request_id) t ON t.request_id = e.request_id
 WHERE e.spend_key_id IS NOT NULL
 GROUP BY c.day, e.merchant_id, e.spend_key_id;
COMMENT ON VIEW usage_daily_spend_key IS
    'Daily (UTC) usage and cost per spend key: requests let through and refused, tokens, the '
    'three amounts (total_nusd: what the requests cost) and paid_nusd, what the key''s wallet '
    'paid (its transfers: what spend limits count).';

-- Spend keys as the hosted gateway's SDK reads them (RestSpendKey), plus
-- whose they are; revoked keys are left out (the SDK's revoke is a
-- delete). Amounts are decimal USD strings; current_* count in the cycle
-- of the key's limit now (lava_now()), or in total without one.
CREATE VIEW spend_keys AS
SELECT k.id AS spend_key_id,
       k.key_preview,
       k.name,
       k.status,
       k.request_shape,
       CASE WHEN k.customer_id IS NULL THEN 'merchant:' || k.merchant_id
            ELSE 'wallet:' || k.customer_id END AS wallet_id,
       k.allowed_models,
       k.allowed_providers,
       CASE WHEN k.spend_limit_nusd IS NOT NULL
            THEN jsonb_build_object('amount', nusd_to_usd_text(k.spend_limit_nusd),
                                    'cycle', k.spend_cycle) END AS spend_limit,
       nusd_to_usd_text(coalesce((SELECT sum(u.spend_nusd) FROM spend_key_usage u
                                   WHERE u.spend_key_id = k.id
                                     AND u.day >= (spend_key_cycle_start(
                                             coalesce(k.spend_cycle, 'total'), lava_now())
                                             AT TIME ZONE 'UTC')::date), 0)::bigint)
           AS current_spend,
       nusd_to_usd_text(coalesce((SELECT sum(u.spend_nusd) FROM spend_key_usage u
                                   WHERE u.spend_key_id = k.id), 0)::bigint) AS total_spend,
       CASE WHEN k.request_limit IS NOT NULL
            THEN jsonb_build_object('count', k.request_limit,
                                    'cycle', k.request_cycle) END AS request_limit,
       coalesce((SELECT sum(u.requests) FROM spend_key_usage u
                  WHERE u.spend_key_id = k.id
                    AND u.day >= (spend_key_cycle_start(coalesce(k.request_cycle, 'total'),
                                                        lava_now())
                                  AT TIME ZONE 'UTC')::date), 0)::bigint AS current_requests,
       coalesce((SELECT sum(u.requests) FROM spend_key_usage u
                  WHERE u.spend_key_id = k.id), 0)::bigint AS total_requests,
       CASE WHEN k.rate_rpm IS NOT NULL
            THEN jsonb_build_object('rpm', k.rate_rpm, 'burst', k.rate_burst) END AS rate_limit,
       k.expires_at,
       (SELECT max(u.last_used_at) FROM spend_key_usage u WHERE u.spend_key_id = k.id)
           AS last_used_at,
       k.created_at,
       k.merchant_id,
       k.customer_id,
       k.meter_slug,
       k.refuse_unpriced,
       k.updated_at
  FROM spend_key_defs k
 WHERE k.revoked_at IS NULL;
COMMENT ON VIEW spend_keys IS
    'Spend keys that are not revoked, with the SDK''s read fields (RestSpendKey: wallet_id is '
    'wallet:<customer> or merchant:<merchant>, amounts decimal USD strings, current_spend and '
    'current_requests in the limit''s cycle now, else in total) and the merchant, customer, '
    'meter and refuse_unpriced setting.';

-- Customer wallets: balance, what went in and out, the policy, whether
-- nginx refuses the customer (blocked) and by how much it is overdrawn.
CREATE VIEW wallet_balances AS
SELECT cu.id AS customer_id,
       cu.merchant_id,
       cu.status,
       a.balance_nusd,
       nusd_to_usd(a.balance_nusd) AS balance_usd,
       coalesce((SELECT sum(amount_nusd) FROM transfers t
                  WHERE t.credit_account = a.id AND t.kind = 'deposit'), 0)::bigint AS deposits_nusd,
       coalesce((SELECT sum(amount_nusd) FROM transfers t
                  WHERE t.debit_account = a.id), 0)::bigint AS charges_nusd,
       cu.overdraft,
       cu.min_balance_nusd,
       cu.overdraft = 'block' AND a.balance_nusd <= cu.min_balance_nusd AS blocked,
       greatest(-a.balance_nusd, 0) AS overdrawn_nusd
  FROM customers cu
  JOIN accounts a ON a.key = 'wallet:' || cu.id;
COMMENT ON VIEW wallet_balances IS
    'Customer wallets: balance, deposits and charges, the overdraft policy, whether nginx '
    'refuses the customer (blocked) and by how much it is overdrawn.';

-- Requests booked unpriced and not settled yet, with why.
CREATE VIEW unpriced_requests AS
SELECT e.request_id, e.started_at, e.merchant_id, e.customer_id, e.provider, e.model,
       e.price_note, e.input_tokens, e.cached_input_tokens, e.output_tokens,
       e.reasoning_tokens, e.meter_slug, e.cache_write_tokens, e.cache_write_1h_tokens,
       e.audio_input_tokens, e.audio_output_tokens, e.characters, e.usage_duration_ms,
       e.images, e.requests, e.web_search_calls, e.web_fetch_calls, e.grounded_prompts
  FROM events e
 WHERE e.price_state = 'unpriced'
   AND NOT EXISTS (SELECT 1 FROM repricings rp WHERE rp.request_id = e.request_id);
COMMENT ON VIEW unpriced_requests IS
    'Requests booked unpriced and not settled yet, with why (price_note); reprice_unpriced() '
    'settles them once their rate or meter exists.';

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
       nusd_to_usd(r.web_search_nusd) AS per_web_search,
       nusd_to_usd(r.web_fetch_nusd) AS per_web_fetch,
       nusd_to_usd(r.grounded_prompt_nusd) AS per_grounded_prompt,
       r.effective_from = (SELECT max(r2.effective_from) FROM provider_rates r2
                            WHERE r2.provider = r.provider AND r2.model = r.model
                              AND r2.effective_from <= now()) AS in_force,
       r.note
  FROM provider_rates r;
COMMENT ON VIEW rate_card IS
    'The rate table in USD per unit (tokens per 1M, characters per 1M, duration per hour, '
    'requests, images and server-side tool calls each), one row per provider_rates row; in_force marks the rows that '
    'price a request starting now.';

-- Meters and their tiers, as a merchant set them.
CREATE VIEW meter_rates AS
SELECT m.merchant_id, m.slug, m.fee_kind, m.unit, m.token_basis,
       CASE WHEN m.unit = 'minutes' THEN t.start_units / 60000.0 ELSE t.start_units END
           AS tier_start,
       CASE WHEN m.fee_kind = 'fixed' THEN nusd_to_usd(t.fee_rate) END AS usd_per_unit,
       CASE WHEN m.fee_kind = 'percentage' THEN t.fee_rate / 10000.0 END AS percent
  FROM meters m JOIN meter_tiers t USING (merchant_id, slug);
COMMENT ON VIEW meter_rates IS
    'Meters and their tiers as a merchant set them: tier start in the meter''s unit (minutes '
    'for minute meters), USD per unit (fixed) or percent (percentage).';

-- Ledger invariants; every row must read true.
CREATE VIEW ledger_check AS
SELECT 'balances sum to zero' AS rule,
       coalesce(sum(balance_nusd), 0) = 0 AS ok
  FROM accounts
UNION ALL
SELECT 'stored balances equal transfers',
       bool_and(balance_nusd = derived_nusd) IS NOT FALSE
  FROM account_balances
UNION ALL
SELECT 'priced and settled requests moved what they cost',
       bool_and(coalesce(t.base, 0) = CASE WHEN c.key_source = 'byok' OR c.payer = 'none' THEN 0
                                           ELSE c.base_cost_nusd END
                AND coalesce(t.fee, 0) = CASE WHEN c.payer = 'customer' THEN c.fee_nusd ELSE 0 END
                AND coalesce(t.svc, 0) = CASE WHEN c.payer = 'customer'
                                              THEN c.service_charge_nusd ELSE 0 END)
           IS NOT FALSE
  FROM request_costs c
  LEFT JOIN (SELECT request_id,
                    sum(amount_nusd) FILTER (WHERE kind = 'base') AS base,
                    sum(amount_nusd) FILTER (WHERE kind = 'fee') AS fee,
                    sum(amount_nusd) FILTER (WHERE kind = 'service_charge') AS svc
               FROM transfers WHERE request_id IS NOT NULL GROUP BY request_id) t
         ON t.request_id = c.request_id
 WHERE c.cost_state IN ('priced', 'settled')
UNION ALL
SELECT 'unpriced and zero requests moved nothing',
       NOT EXISTS (SELECT 1 FROM transfers t JOIN request_costs c USING (request_id)
                    WHERE c.cost_state NOT IN ('priced', 'settled'))
UNION ALL
SELECT 'request transfers go from the payer to provider, merchant and platform',
       NOT EXISTS (
           SELECT 1 FROM transfers t
             JOIN events e ON e.request_id = t.request_id
             JOIN accounts d ON d.id = t.debit_account
             JOIN accounts c ON c.id = t.credit_account
            WHERE d.key <> CASE e.payer WHEN 'customer' THEN 'wallet:' || e.customer_id
                                        ELSE 'merchant:' || e.merchant_id END
               OR c.key <> CASE t.kind WHEN 'base' THEN 'provider:' || e.provider
                                       WHEN 'fee' THEN 'merchant:' || e.merchant_id
                                       ELSE 'platform' END)
UNION ALL
SELECT 'transfers name existing accounts and booked requests',
       NOT EXISTS (
           SELECT 1 FROM transfers t
            WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.debit_account)
               OR NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.credit_account)
               OR (t.request_id IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM events e WHERE e.request_id = t.request_id)))
UNION ALL
SELECT 'deposits go from funding to a wallet',
       NOT EXISTS (
           SELECT 1 FROM transfers t
             JOIN accounts d ON d.id = t.debit_account
             JOIN accounts c ON c.id = t.credit_account
            WHERE t.kind = 'deposit' AND (d.kind <> 'funding' OR c.kind <> 'wallet'))
UNION ALL
SELECT 'meter counts equal the units booked',
       NOT EXISTS (
           SELECT 1 FROM meter_usage mu
             FULL JOIN (SELECT c.merchant_id, c.meter_slug, c.customer_id,
                               sum(coalesce(c.fee_units,
                                   CASE WHEN m.token_basis = 'output'
                                        THEN e.output_tokens + e.reasoning_tokens
                                             + e.audio_output_tokens
                                        ELSE e.input_tokens + e.cached_input_tokens
                                             + e.cache_write_tokens + e.cache_write_1h_tokens
                                             + e.audio_input_tokens + e.output_tokens
                                             + e.reasoning_tokens + e.audio_output_tokens END))
                               AS units
                          FROM request_costs c
                          JOIN events e ON e.request_id = c.request_id
                          JOIN meters m ON m.merchant_id = c.merchant_id AND m.slug = c.meter_slug
                         WHERE c.cost_state IN ('priced', 'settled') AND c.payer = 'customer'
                         GROUP BY 1, 2, 3) b
               ON (b.merchant_id, b.meter_slug, b.customer_id)
                  = (mu.merchant_id, mu.slug, mu.customer_id)
            WHERE coalesce(mu.units, 0) <> coalesce(b.units, 0))
UNION ALL
SELECT 'graduated counts follow on from request to request',
       NOT EXISTS (
           SELECT 1 FROM (
               SELECT c.fee_units_before, c.fee_units,
                      lead(c.fee_units_before) OVER w AS next_before
                 FROM request_costs c
                WHERE c.fee_units_before IS NOT NULL
               WINDOW w AS (PARTITION BY c.merchant_id, c.meter_slug, c.customer_id
                            ORDER BY c.fee_units_before, c.fee_units)) x
            WHERE x.next_before IS NOT NULL AND x.next_before <> x.fee_units_before + x.fee_units);
COMMENT ON VIEW ledger_check IS
    'Ledger invariants, one row each; every row must read ok = true (the sidecar''s reconcile '
    'reports the ones that do not).';

-- The auth data the sidecar publishes to Redis (docs/auth-sync.md). One
-- record per line without the header and the final "end". Read it with
-- ORDER BY part, k1, k2 (the view orders that way too) so the same data
-- always renders the same text. A customer whose overdraft policy is
-- 'block' is published as 'blocked' while its wallet balance is at or below
-- its minimum: nginx answers its requests 402 before they reach the provider.
-- A merchant's additional keys that are not revoked: a full one as a second
-- "m" record, a restricted one as a "k" record (a module older than "k"
-- skips it: the key is unknown there, never a full key). A customer whose
-- wallet is at or below its minimum, whatever its policy, is a "u" record
-- when its merchant has a restricted key: those keys serve funded customers
-- only (docs/security.md, class 11).
-- Customers under 'block' also get a 'w' record with their headroom; the
-- sidecar adds the 'r' and 'f' records from its rate table.
CREATE VIEW auth_snapshot AS
SELECT part, k1, k2, line FROM (
    SELECT 1 AS part, id COLLATE "C" AS k1, ''::text COLLATE "C" AS k2,
           'm ' || encode(secret_key_hash, 'hex') || ' ' || id || ' ' || status AS line
      FROM merchants
    UNION ALL
    SELECT CASE WHEN k.restricted THEN 4 ELSE 1 END, k.merchant_id COLLATE "C",
           encode(k.secret_key_hash, 'hex') COLLATE "C",
           CASE WHEN k.restricted THEN 'k ' ELSE 'm ' END
           || encode(k.secret_key_hash, 'hex') || ' ' || k.merchant_id || ' ' || me.status
      FROM secret_keys k
      JOIN merchants me ON me.id = k.merchant_id
     WHERE k.revoked_at IS NULL
    UNION ALL
    SELECT 2, cu.merchant_id COLLATE "C", cu.id COLLATE "C",
           'c ' || cu.merchant_id || ' ' || cu.id || ' '
           || CASE WHEN cu.status = 'disabled' THEN 'disabled'
                   WHEN cu.overdraft = 'block' AND coalesce(a.balance_nusd, 0) <= cu.min_balance_nusd
                   THEN 'blocked'
                   ELSE 'active' END
      FROM customers cu
      LEFT JOIN accounts a ON a.key = 'wallet:' || cu.id
    UNION ALL
    SELECT 3, merchant_id COLLATE "C", slug COLLATE "C", 't ' || merchant_id || ' ' || slug
      FROM meters
    UNION ALL
    SELECT 5, cu.merchant_id COLLATE "C", cu.id COLLATE "C",
           'u ' || cu.merchant_id || ' ' || cu.id
      FROM customers cu
      LEFT JOIN accounts a ON a.key = 'wallet:' || cu.id
     WHERE coalesce(a.balance_nusd, 0) <= cu.min_balance_nusd
       AND EXISTS (SELECT 1 FROM secret_keys k
                    WHERE k.merchant_id = cu.merchant_id AND k.restricted
                      AND k.revoked_at IS NULL)
    UNION ALL
    -- the wallet's headroom (balance - minimum, clamped to bigint), which
    -- nginx reserves requests against (docs/security.md, class 8)
    SELECT 6, cu.merchant_id COLLATE "C", cu.id COLLATE "C",
           'w ' || cu.merchant_id || ' ' || cu.id || ' '
           || greatest(least(coalesce(a.balance_nusd, 0)::numeric - cu.min_balance_nusd,
                             9223372036854775807), -9223372036854775808)::text
      FROM customers cu
      LEFT JOIN accounts a ON a.key = 'wallet:' || cu.id
     WHERE cu.overdraft = 'block' AND cu.status <> 'disabled'
    UNION ALL
    -- spend keys (docs/spend-keys.md): a disabled merchant's are paused
    SELECT 7, encode(k.key_hash, 'hex') COLLATE "C", ''::text COLLATE "C",
           's ' || encode(k.key_hash, 'hex') || ' ' || k.id || ' ' || k.merchant_id || ' '
           || coalesce(k.customer_id, '-') || ' ' || coalesce(k.meter_slug, '-') || ' '
           || CASE WHEN me.status = 'disabled' THEN 'paused' ELSE k.status END || ' '
           || CASE WHEN k.expires_at IS NULL THEN 0
                   ELSE greatest(1, floor(extract(epoch FROM k.expires_at)))::bigint END || ' '
           || k.request_shape || ' '
           || (CASE WHEN k.refuse_unpriced THEN 1 ELSE 0 END
               + CASE WHEN k.allowed_models IS NOT NULL THEN 2 ELSE 0 END
               + CASE WHEN k.allowed_providers IS NOT NULL THEN 4 ELSE 0 END)
      FROM spend_key_defs k
      JOIN merchants me ON me.id = k.merchant_id
     WHERE k.revoked_at IS NULL
    UNION ALL
    -- revoked in the last 30 days: 401 key_revoked rather than invalid_key
    SELECT 8, encode(k.key_hash, 'hex') COLLATE "C", ''::text COLLATE "C",
           'x ' || encode(k.key_hash, 'hex') || ' ' || k.id
      FROM spend_key_defs k
     WHERE k.revoked_at IS NOT NULL AND k.revoked_at > lava_now() - interval '30 days'
    UNION ALL
    SELECT 9, k.id COLLATE "C", ('m ' || m.model) COLLATE "C", 'a ' || k.id || ' m ' || m.model
      FROM spend_key_defs k
     CROSS JOIN LATERAL unnest(k.allowed_models) AS m(model)
     WHERE k.revoked_at IS NULL
    UNION ALL
    SELECT 9, k.id COLLATE "C", ('p ' || p.provider) COLLATE "C",
           'a ' || k.id || ' p ' || p.provider
      FROM spend_key_defs k
     CROSS JOIN LATERAL unnest(k.allowed_providers) AS p(provider)
     WHERE k.revoked_at IS NULL
    UNION ALL
    -- the limits and what the ledger booked in the cycle that runs now
    SELECT 10, k.id COLLATE "C", ''::text COLLATE "C",
           'l ' || k.id || ' ' || coalesce(k.rate_rpm, 0) || ' ' || coalesce(k.rate_burst, 0) || ' '
           || coalesce(k.request_cycle, '-') || ' ' || coalesce(k.request_limit, 0) || ' '
           || CASE WHEN k.request_cycle IS NULL THEN 0
                   ELSE coalesce((SELECT sum(u.requests) FROM spend_key_usage u
                                   WHERE u.spend_key_id = k.id AND u.day >= rq.day), 0) END || ' '
           || coalesce(k.spend_cycle, '-') || ' ' || coalesce(k.spend_limit_nusd, 0) || ' '
           || CASE WHEN k.spend_cycle IS NULL THEN 0
                   ELSE coalesce((SELECT sum(u.spend_nusd) FROM spend_key_usage u
                                   WHERE u.spend_key_id = k.id AND u.day >= sp.day), 0) END || ' '
           || CASE WHEN k.request_cycle IS NULL THEN 0 ELSE rq.unix_s END || ' '
           || CASE WHEN k.spend_cycle IS NULL THEN 0 ELSE sp.unix_s END
      FROM spend_key_defs k
     CROSS JOIN LATERAL (
           SELECT (c AT TIME ZONE 'UTC')::date AS day, extract(epoch FROM c)::bigint AS unix_s
             FROM spend_key_cycle_start(coalesce(k.request_cycle, 'total'), lava_now()) AS c) rq
     CROSS JOIN LATERAL (
           SELECT (c AT TIME ZONE 'UTC')::date AS day, extract(epoch FROM c)::bigint AS unix_s
             FROM spend_key_cycle_start(coalesce(k.spend_cycle, 'total'), lava_now()) AS c) sp
     WHERE k.revoked_at IS NULL
       AND (k.rate_rpm IS NOT NULL OR k.request_limit IS NOT NULL OR k.spend_limit_nusd IS NOT NULL)
    UNION ALL
    SELECT 11, me.id COLLATE "C", ''::text COLLATE "C", 'p ' || me.id
      FROM merchants me
     WHERE me.refuse_unpriced
) s
ORDER BY part, k1, k2;
COMMENT ON VIEW auth_snapshot IS
    'The auth data the sidecar publishes to Redis (docs/auth-sync.md): one record per line, '
    'without the header and the final "end"; read with ORDER BY part, k1, k2. A customer under '
    'the block policy at or below its minimum balance is published as blocked, and each customer '
    'under the block policy as a w record with its headroom (balance - minimum). Additional '
    'secret keys: full ones as "m", restricted ones as "k"; customers at or below their minimum '
    '(any policy) of merchants with a restricted key as "u". Spend keys: "s" (the key), "x" '
    '(revoked in the last 30 days), "a" (allow-lists), "l" (limits and the booked counts of the '
    'cycle now); merchants that refuse unpriced models: "p". The sidecar adds "r", "f" and "b".';

-- Dead letters for reading in psql: newest first, with their replay state and
-- whether their request is booked by now.
CREATE VIEW dead_letter_report AS
SELECT d.id,
       d.created_at,
       d.request_id,
       d.stream_id,
       d.reason,
       CASE WHEN d.replayed_at IS NOT NULL THEN 'replayed'
            WHEN d.replay_requested_at IS NOT NULL THEN 'replay requested'
            ELSE 'new' END AS state,
       d.replayed_at,
       d.replay_stream_id,
       EXISTS (SELECT 1 FROM events e WHERE e.request_id = d.request_id) AS booked,
       d.fields
  FROM dead_letters d
 ORDER BY d.id DESC;
COMMENT ON VIEW dead_letter_report IS
    'Dead letters for reading in psql: newest first, with their replay state and whether their '
    'request is booked by now.';

-- Each request marked for re-pricing and how it came out, newest marks
-- first: waiting (for a sidecar), settled, zero, or unpriced with the
-- reason (mark it again once the rate or meter exists). Amounts are the
-- settlement's (NULL while waiting or unpriced).
CREATE VIEW reprice_report AS
SELECT q.request_id,
       e.started_at,
       e.merchant_id,
       e.customer_id,
       e.provider,
       e.model,
       e.meter_slug,
       coalesce(q.result, 'waiting') AS result,
       q.note,
       rp.base_cost_nusd,
       rp.fee_nusd,
       rp.service_charge_nusd,
       rp.base_cost_nusd + rp.fee_nusd + rp.service_charge_nusd AS total_nusd,
       nusd_to_usd(rp.base_cost_nusd + rp.fee_nusd + rp.service_charge_nusd) AS total_usd,
       q.marked_at,
       q.priced_at
  FROM reprice_queue q
  JOIN events e ON e.request_id = q.request_id
  LEFT JOIN repricings rp ON rp.request_id = q.request_id
 ORDER BY q.marked_at DESC, e.ts_ms, q.request_id;
COMMENT ON VIEW reprice_report IS
    'Each request marked for re-pricing and how it came out, newest marks first: waiting (for a '
    'sidecar), settled, zero, or unpriced with the reason. Amounts are the settlement''s.';

