-- Views for psql. Amounts are shown both in nano-USD (exact, what is stored)
-- and in USD with 9 decimals (exact too: numeric).

-- One row per request: what was used, which prices applied, what it cost,
-- and what was actually moved between accounts for it.
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
       e.cache_write_tokens + e.cache_write_1h_tokens AS cache_write_tokens,
       e.output_tokens,
       e.reasoning_tokens,
       e.audio_input_tokens + e.audio_output_tokens  AS audio_tokens,
       e.price_state,
       e.price_note,
       e.rate_id,
       r.input_nusd_per_1m,
       r.cached_input_nusd_per_1m,
       r.output_nusd_per_1m,
       e.fee_kind,
       e.fee_rate,
       e.fee_tokens,
       e.service_charge_ppm,
       e.base_cost_nusd,
       e.fee_nusd,
       e.service_charge_nusd,
       e.base_cost_nusd + e.fee_nusd + e.service_charge_nusd AS total_nusd,
       nusd_to_usd(e.base_cost_nusd)      AS base_cost_usd,
       nusd_to_usd(e.fee_nusd)            AS fee_usd,
       nusd_to_usd(e.service_charge_nusd) AS service_charge_usd,
       nusd_to_usd(e.base_cost_nusd + e.fee_nusd + e.service_charge_nusd) AS total_usd,
       coalesce(t.moved_nusd, 0) AS moved_nusd,
       e.duration_ms,
       e.ttfb_ms,
       e.booked_at
  FROM events e
  LEFT JOIN provider_rates r ON r.id = e.rate_id
  LEFT JOIN (SELECT request_id, sum(amount_nusd)::bigint AS moved_nusd
               FROM transfers WHERE request_id IS NOT NULL
              GROUP BY request_id) t ON t.request_id = e.request_id;

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

-- Customer wallets: balance, what went in, what went out.
CREATE VIEW wallet_balances AS
SELECT cu.id AS customer_id,
       cu.merchant_id,
       cu.status,
       a.balance_nusd,
       nusd_to_usd(a.balance_nusd) AS balance_usd,
       coalesce((SELECT sum(amount_nusd) FROM transfers t
                  WHERE t.credit_account = a.id AND t.kind = 'deposit'), 0)::bigint AS deposits_nusd,
       coalesce((SELECT sum(amount_nusd) FROM transfers t
                  WHERE t.debit_account = a.id), 0)::bigint AS charges_nusd
  FROM customers cu
  JOIN accounts a ON a.key = 'wallet:' || cu.id;

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
SELECT 'priced requests moved what they cost',
       bool_and(coalesce(t.base, 0) = CASE WHEN e.key_source = 'byok' THEN 0 ELSE e.base_cost_nusd END
                AND coalesce(t.fee, 0) = e.fee_nusd
                AND coalesce(t.svc, 0) = e.service_charge_nusd) IS NOT FALSE
  FROM events e
  LEFT JOIN (SELECT request_id,
                    sum(amount_nusd) FILTER (WHERE kind = 'base') AS base,
                    sum(amount_nusd) FILTER (WHERE kind = 'fee') AS fee,
                    sum(amount_nusd) FILTER (WHERE kind = 'service_charge') AS svc
               FROM transfers WHERE request_id IS NOT NULL GROUP BY request_id) t
         ON t.request_id = e.request_id
 WHERE e.price_state = 'priced'
UNION ALL
SELECT 'unpriced and zero requests moved nothing',
       NOT EXISTS (SELECT 1 FROM transfers t JOIN events e USING (request_id)
                    WHERE e.price_state <> 'priced');

CREATE VIEW unpriced_requests AS
SELECT request_id, started_at, merchant_id, customer_id, provider, model, price_note,
       input_tokens, cached_input_tokens, output_tokens, reasoning_tokens
  FROM events
 WHERE price_state = 'unpriced';

-- The auth data the sidecar publishes to Redis (docs/auth-sync.md). One
-- record per line without the header and the final "end". Read it with
-- ORDER BY part, k1, k2 (the view orders that way too) so the same data
-- always renders the same text.
CREATE VIEW auth_snapshot AS
SELECT part, k1, k2, line FROM (
    SELECT 1 AS part, id COLLATE "C" AS k1, ''::text COLLATE "C" AS k2,
           'm ' || encode(secret_key_hash, 'hex') || ' ' || id || ' ' || status AS line
      FROM merchants
    UNION ALL
    SELECT 2, merchant_id COLLATE "C", id COLLATE "C", 'c ' || merchant_id || ' ' || id || ' ' || status
      FROM customers
    UNION ALL
    SELECT 3, merchant_id COLLATE "C", slug COLLATE "C", 't ' || merchant_id || ' ' || slug
      FROM meters
) s
ORDER BY part, k1, k2;
