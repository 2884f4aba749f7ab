-- Re-pricing (docs/pricing.md, docs/ledger.md; the tables: repricings and
-- reprice_queue in sql/schema/02_pricing.sql).
--
-- The pricing rules are implemented once, in the sidecar (price.c, rates.c,
-- tiers.c). psql only marks what to re-price, the way replay_dead_letters()
-- marks dead letters:
--
--   SELECT * FROM reprice_unpriced();      -- marks, returns what it marked
--   SELECT * FROM reprice_report;          -- a second later: each result
--
-- A running sidecar (sidecar/reprice.c) takes the marked requests in start
-- order, prices them, and books each settlement through reprice_book(): the
-- repricings row, the meter count moved on, the transfers (note 'repriced'),
-- the result in reprice_queue.
--
-- Functions are code, not history: lava-migrate applies this file again
-- whenever its content changes (CREATE OR REPLACE), and each function is
-- defined in this one place (sql/README.md).

-- Marks for re-pricing every request booked unpriced and not settled yet
-- (at most p_limit, in start order), unless it is waiting already. A running
-- sidecar prices them within about a second; reprice_report shows how each
-- came out. Returns what it marked. SELECT * FROM reprice_unpriced();
CREATE OR REPLACE FUNCTION reprice_unpriced(p_limit integer DEFAULT NULL)
RETURNS TABLE (request_id text, started_at timestamptz, provider text, model text,
               price_note text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH cand AS (
        SELECT e.request_id FROM events e
         WHERE e.price_state = 'unpriced'
           AND NOT EXISTS (SELECT 1 FROM repricings rp WHERE rp.request_id = e.request_id)
           AND NOT EXISTS (SELECT 1 FROM reprice_queue q
                            WHERE q.request_id = e.request_id AND q.priced_at IS NULL)
         ORDER BY e.ts_ms, e.request_id
         LIMIT p_limit
    ), marked AS (
        -- a row a sidecar settled meanwhile is left alone (WHERE below)
        INSERT INTO reprice_queue AS q (request_id)
        SELECT c.request_id FROM cand c
        ON CONFLICT (request_id) DO UPDATE
           SET marked_at = now(), priced_at = NULL, result = NULL, note = NULL
         WHERE q.result = 'unpriced'
        RETURNING q.request_id
    )
    SELECT e.request_id, e.started_at, e.provider, e.model, e.price_note
      FROM marked m JOIN events e ON e.request_id = m.request_id
     ORDER BY e.ts_ms, e.request_id;
END $$;

-- Called by the sidecar, inside its transaction: the next p_limit marked
-- requests in start order, their queue rows locked. Empty when another
-- sidecar is re-pricing (one at a time, so graduated meter counts move on
-- in start order) or nothing is marked.
CREATE OR REPLACE FUNCTION reprice_take(p_limit integer) RETURNS SETOF events
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('lava reprice_unpriced')) THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT e.* FROM reprice_queue q JOIN events e ON e.request_id = q.request_id
     WHERE q.priced_at IS NULL
     ORDER BY e.ts_ms, e.request_id
     LIMIT p_limit
       FOR UPDATE OF q SKIP LOCKED;
END $$;

-- Called by the sidecar in the transaction of reprice_take(), after its
-- meter_usage_lock(): books what the sidecar priced.
--   p_results    [{request_id, price_state (priced | zero | unpriced),
--                  price_note, rate_id, fee_kind, fee_rate, fee_unit,
--                  fee_units, fee_units_before, fee_detail, base_cost_nusd,
--                  fee_nusd, service_charge_nusd}, ...]
--                (the pricing columns of an events row, as book_batch()
--                receives them)
--   p_transfers  [{request_id, kind, debit, credit, amount_nusd}, ...]
--                (account keys, in plan order: base, fee, service charge)
-- A priced or zero request that is unpriced in events and waiting in
-- reprice_queue gets its repricings row; transfers, and the meter count
-- moved on, only for rows inserted now, so a request is never settled
-- twice. As before, no transfers are booked when the payer has no account.
-- Returns each request with its result. For the sidecar only (like
-- book_batch()): the amounts are taken as given.
CREATE OR REPLACE FUNCTION reprice_book(p_results jsonb, p_transfers jsonb)
RETURNS TABLE (request_id text, result text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_new text[];
BEGIN
    WITH ins AS (
        INSERT INTO repricings (request_id, rate_id, fee_kind, fee_rate, fee_unit, fee_units,
                                fee_units_before, fee_detail, base_cost_nusd, fee_nusd,
                                service_charge_nusd)
        SELECT r.request_id, r.rate_id, r.fee_kind, r.fee_rate, r.fee_unit, r.fee_units,
               r.fee_units_before, r.fee_detail, r.base_cost_nusd, r.fee_nusd,
               r.service_charge_nusd
          FROM jsonb_to_recordset(p_results) AS r(request_id text, price_state text,
                   rate_id bigint, fee_kind text, fee_rate bigint, fee_unit text,
                   fee_units bigint, fee_units_before bigint, fee_detail jsonb,
                   base_cost_nusd bigint, fee_nusd bigint, service_charge_nusd bigint)
          JOIN events e ON e.request_id = r.request_id AND e.price_state = 'unpriced'
          JOIN reprice_queue q ON q.request_id = r.request_id AND q.priced_at IS NULL
         WHERE r.price_state IN ('priced', 'zero')
        ON CONFLICT (request_id) DO NOTHING
        RETURNING request_id
    )
    SELECT array_agg(i.request_id) INTO v_new FROM ins i;
    v_new := coalesce(v_new, '{}');

    PERFORM provider_accounts_add(p_transfers);

    -- a missing credit account fails the batch (NOT NULL), as before
    INSERT INTO transfers (kind, debit_account, credit_account, amount_nusd, request_id, note,
                           spend_key_id)
    SELECT t.kind, d.id, (SELECT c.id FROM accounts c WHERE c.key = t.credit),
           t.amount_nusd, t.request_id, 'repriced',
           (SELECT e.spend_key_id FROM events e WHERE e.request_id = t.request_id)
      FROM jsonb_array_elements(p_transfers) WITH ORDINALITY AS j(doc, n)
     CROSS JOIN LATERAL jsonb_to_record(j.doc)
               AS t(request_id text, kind text, debit text, credit text, amount_nusd bigint)
      JOIN unnest(v_new) AS nw(request_id) ON nw.request_id = t.request_id
      JOIN accounts d ON d.key = t.debit
     ORDER BY j.n;

    -- Graduated meters: the counts move on by what was settled now.
    PERFORM meter_usage_move(v_new);
    -- Spend keys: the spend of a settled request (sql/functions/spend_keys.sql).
    PERFORM spend_key_usage_move(v_new, false);

    -- The result of each request, on its queue row.
    RETURN QUERY
    WITH r AS (
        SELECT x.request_id,
               CASE WHEN x.price_state = 'unpriced' THEN 'unpriced'
                    WHEN x.price_state = 'zero' THEN 'zero'
                    ELSE 'settled' END AS result,
               CASE WHEN x.price_state = 'unpriced' THEN coalesce(x.price_note, 'unpriced') END
                   AS note
          FROM jsonb_to_recordset(p_results) AS x(request_id text, price_state text,
                                                 price_note text)
    ), upd AS (
        UPDATE reprice_queue q SET priced_at = now(), result = r.result, note = r.note
          FROM r
         WHERE q.request_id = r.request_id AND q.priced_at IS NULL
        RETURNING q.request_id, q.result
    )
    SELECT upd.request_id, upd.result FROM upd;
END $$;

COMMENT ON FUNCTION reprice_unpriced IS
    'Marks for re-pricing every request booked unpriced and not settled yet (at most p_limit, '
    'in start order), unless it is waiting already; returns what it marked. A running sidecar '
    'prices them within about a second; reprice_report shows how each came out.';
COMMENT ON FUNCTION reprice_take IS
    'For the sidecar, in its transaction: the next p_limit marked requests in start order, '
    'their queue rows locked; empty while another sidecar is re-pricing.';
COMMENT ON FUNCTION reprice_book IS
    'For the sidecar, in the transaction of reprice_take(): books what it priced (repricings '
    'rows, transfers noted repriced, meter counts, the queue results); a request is never '
    'settled twice. The amounts are taken as given.';

