-- Views for psql over the pricing of 010-013. Amounts in nano-USD (what is
-- stored, exact) and USD (numeric, 9 decimals, exact). Days are UTC.

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

-- One row per request: usage, the rate row and its prices, the meter and
-- how its fee was reached, the three amounts and what the transfers moved.
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
       r.duration_nusd_per_min,
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

-- Daily usage and cost, per merchant, customer, provider and model; the
-- four views below roll it up. Unpriced requests are counted, their cost
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

CREATE VIEW usage_daily_merchant AS
SELECT day, merchant_id,
       sum(requests)::bigint AS requests, sum(unpriced_requests)::bigint AS unpriced_requests,
       sum(input_tokens + cached_input_tokens + cache_write_tokens)::bigint AS prompt_tokens,
       sum(output_tokens + reasoning_tokens)::bigint AS completion_tokens,
       sum(base_cost_nusd)::bigint AS base_cost_nusd, sum(fee_nusd)::bigint AS fee_nusd,
       sum(service_charge_nusd)::bigint AS service_charge_nusd,
       sum(total_nusd)::bigint AS total_nusd, nusd_to_usd(sum(total_nusd)::bigint) AS total_usd
  FROM usage_daily GROUP BY day, merchant_id;

CREATE VIEW usage_daily_customer AS
SELECT day, merchant_id, customer_id,
       sum(requests)::bigint AS requests, sum(unpriced_requests)::bigint AS unpriced_requests,
       sum(input_tokens + cached_input_tokens + cache_write_tokens)::bigint AS prompt_tokens,
       sum(output_tokens + reasoning_tokens)::bigint AS completion_tokens,
       sum(base_cost_nusd)::bigint AS base_cost_nusd, sum(fee_nusd)::bigint AS fee_nusd,
       sum(service_charge_nusd)::bigint AS service_charge_nusd,
       sum(total_nusd)::bigint AS total_nusd, nusd_to_usd(sum(total_nusd)::bigint) AS total_usd
  FROM usage_daily GROUP BY day, merchant_id, customer_id;

CREATE VIEW usage_daily_provider AS
SELECT day, provider,
       sum(requests)::bigint AS requests, sum(unpriced_requests)::bigint AS unpriced_requests,
       sum(input_tokens + cached_input_tokens + cache_write_tokens)::bigint AS prompt_tokens,
       sum(output_tokens + reasoning_tokens)::bigint AS completion_tokens,
       sum(base_cost_nusd)::bigint AS base_cost_nusd, sum(fee_nusd)::bigint AS fee_nusd,
       sum(service_charge_nusd)::bigint AS service_charge_nusd,
       sum(total_nusd)::bigint AS total_nusd, nusd_to_usd(sum(total_nusd)::bigint) AS total_usd
  FROM usage_daily GROUP BY day, provider;

CREATE VIEW usage_daily_model AS
SELECT day, provider, model,
       sum(requests)::bigint AS requests, sum(unpriced_requests)::bigint AS unpriced_requests,
       sum(input_tokens + cached_input_tokens + cache_write_tokens)::bigint AS prompt_tokens,
       sum(output_tokens + reasoning_tokens)::bigint AS completion_tokens,
       sum(base_cost_nusd)::bigint AS base_cost_nusd, sum(fee_nusd)::bigint AS fee_nusd,
       sum(service_charge_nusd)::bigint AS service_charge_nusd,
       sum(total_nusd)::bigint AS total_nusd, nusd_to_usd(sum(total_nusd)::bigint) AS total_usd
  FROM usage_daily GROUP BY day, provider, model;

-- Customer wallets: balance, what went in and out, the policy, whether
-- nginx refuses the customer (blocked) and by how much it is overdrawn.
CREATE OR REPLACE VIEW wallet_balances AS
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

-- Requests booked unpriced and not settled yet, with why.
CREATE OR REPLACE VIEW unpriced_requests AS
SELECT e.request_id, e.started_at, e.merchant_id, e.customer_id, e.provider, e.model,
       e.price_note, e.input_tokens, e.cached_input_tokens, e.output_tokens,
       e.reasoning_tokens, e.meter_slug, e.cache_write_tokens, e.cache_write_1h_tokens,
       e.audio_input_tokens, e.audio_output_tokens, e.characters, e.usage_duration_ms,
       e.images, e.requests
  FROM events e
 WHERE e.price_state = 'unpriced'
   AND NOT EXISTS (SELECT 1 FROM repricings rp WHERE rp.request_id = e.request_id);

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
       nusd_to_usd(r.duration_nusd_per_min) AS per_minute,
       nusd_to_usd(r.request_nusd) AS per_request,
       nusd_to_usd(r.image_nusd) AS per_image,
       r.effective_from = (SELECT max(r2.effective_from) FROM provider_rates r2
                            WHERE r2.provider = r.provider AND r2.model = r.model
                              AND r2.effective_from <= now()) AS in_force,
       r.note
  FROM provider_rates r;

-- Meters and their tiers, as a merchant set them.
CREATE VIEW meter_rates AS
SELECT m.merchant_id, m.slug, m.fee_kind, m.unit, m.token_basis,
       CASE WHEN m.unit = 'minutes' THEN t.start_units / 60000.0 ELSE t.start_units END
           AS tier_start,
       CASE WHEN m.fee_kind = 'fixed' THEN nusd_to_usd(t.fee_rate) END AS usd_per_unit,
       CASE WHEN m.fee_kind = 'percentage' THEN t.fee_rate / 10000.0 END AS percent
  FROM meters m JOIN meter_tiers t USING (merchant_id, slug);

-- Ledger invariants; every row must read true.
CREATE OR REPLACE VIEW ledger_check AS
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
