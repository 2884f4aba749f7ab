-- Booking of sidecar batches: the sidecar decodes and prices the stream
-- entries, reads and locks the graduated meter counts (meter_usage_lock),
-- calls book_batch() inside its transaction; XACK follows COMMIT
-- (docs/sidecar.md, docs/ledger.md).
--
-- Functions are code, not history: lava-migrate applies this file again
-- whenever its content changes (CREATE OR REPLACE), and each function is
-- defined in this one place (sql/README.md).

-- x-lava-metadata as jsonb: the object the client sent (key order and
-- spacing normalised). Text that is not a JSON object is kept as a JSON
-- string rather than lost.
CREATE OR REPLACE FUNCTION metadata_jsonb(p text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v jsonb;
BEGIN
    IF p IS NULL THEN
        RETURN NULL;
    END IF;
    BEGIN
        v := p::jsonb;
    EXCEPTION WHEN others THEN
        RETURN to_jsonb(p);
    END;
    RETURN CASE WHEN jsonb_typeof(v) = 'object' THEN v ELSE to_jsonb(p) END;
END $$;
COMMENT ON FUNCTION metadata_jsonb IS
    'x-lava-metadata text -> jsonb: the object the client sent (key order and spacing '
    'normalised); text that is not a JSON object is kept as a JSON string rather than lost.';

-- Called by the sidecar inside its booking transaction, before book_batch():
-- makes sure a counter exists for each (merchant, meter, customer) of
-- p_keys ([[merchant, slug, customer], ...]), locks them in key order and
-- returns {"usage": [[merchant, slug, customer, units], ...],
--          "booked": [request ids of p_request_ids already in events]}.
-- Pairs naming no meter or customer get no counter (their requests do not
-- book as metered anyway).
CREATE OR REPLACE FUNCTION meter_usage_lock(p_keys jsonb, p_request_ids jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_usage  jsonb;
    v_booked jsonb;
BEGIN
    INSERT INTO meter_usage (merchant_id, slug, customer_id)
    SELECT k.m, k.s, k.c
      FROM (SELECT DISTINCT x->>0 AS m, x->>1 AS s, x->>2 AS c
              FROM jsonb_array_elements(p_keys) x) k
     WHERE EXISTS (SELECT 1 FROM meters mt WHERE mt.merchant_id = k.m AND mt.slug = k.s)
       AND EXISTS (SELECT 1 FROM customers cu WHERE cu.id = k.c)
     ORDER BY k.m COLLATE "C", k.s COLLATE "C", k.c COLLATE "C"
    ON CONFLICT DO NOTHING;

    SELECT coalesce(jsonb_agg(jsonb_build_array(l.merchant_id, l.slug, l.customer_id, l.units)), '[]')
      INTO v_usage
      FROM (SELECT mu.merchant_id, mu.slug, mu.customer_id, mu.units
              FROM meter_usage mu
              JOIN (SELECT DISTINCT x->>0 AS m, x->>1 AS s, x->>2 AS c
                      FROM jsonb_array_elements(p_keys) x) k
                ON mu.merchant_id = k.m AND mu.slug = k.s AND mu.customer_id = k.c
             ORDER BY mu.merchant_id COLLATE "C", mu.slug COLLATE "C", mu.customer_id COLLATE "C"
               FOR UPDATE OF mu) l;

    -- = ANY (array): primary key lookups, never a read of all of events
    SELECT coalesce(jsonb_agg(e.request_id), '[]') INTO v_booked
      FROM events e
     WHERE e.request_id = ANY (ARRAY(SELECT jsonb_array_elements_text(p_request_ids)));

    RETURN jsonb_build_object('usage', v_usage, 'booked', v_booked);
END $$;
COMMENT ON FUNCTION meter_usage_lock IS
    'Called by the sidecar in its booking transaction before book_batch(): creates and locks '
    '(in key order) the meter counters of p_keys [[merchant, slug, customer], ...]; returns '
    '{"usage": [[merchant, slug, customer, units], ...], "booked": [the request ids of '
    'p_request_ids already in events]}.';

-- The graduated meter counts move on by p_units, the units of requests
-- booked or settled just now: row i is a request of meter (p_merchants[i],
-- p_slugs[i]) and customer p_customers[i], priced from the count
-- p_before[i]; rows with no p_before are on no graduated count. In the
-- transaction that took meter_usage_lock(). The sidecar priced each request
-- from the count it read under lock: a count that moved meanwhile would mean
-- fees computed from a stale count, so it fails the whole transaction
-- (serialization_failure: the sidecar retries).
CREATE OR REPLACE FUNCTION meter_usage_add(p_merchants text[], p_slugs text[],
    p_customers text[], p_before bigint[], p_units bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_off bigint;
BEGIN
    WITH u AS (
        SELECT r.merchant_id, r.meter_slug, r.customer_id,
               min(r.before) AS first_before, sum(r.units)::bigint AS units
          FROM unnest(p_merchants, p_slugs, p_customers, p_before, p_units)
               AS r(merchant_id, meter_slug, customer_id, before, units)
         WHERE r.before IS NOT NULL
         GROUP BY 1, 2, 3
    ), upd AS (
        INSERT INTO meter_usage AS mu (merchant_id, slug, customer_id, units)
        SELECT u.merchant_id, u.meter_slug, u.customer_id, u.units FROM u
        ON CONFLICT (merchant_id, slug, customer_id)
        DO UPDATE SET units = mu.units + excluded.units, updated_at = now()
        RETURNING mu.merchant_id, mu.slug, mu.customer_id, mu.units
    )
    SELECT count(*) INTO v_off
      FROM upd JOIN u ON (u.merchant_id, u.meter_slug, u.customer_id)
                       = (upd.merchant_id, upd.slug, upd.customer_id)
     WHERE upd.units - u.units <> u.first_before;
    IF v_off > 0 THEN
        RAISE EXCEPTION 'meter_usage_add: % meter counts moved while the batch was priced', v_off
            USING ERRCODE = 'serialization_failure';
    END IF;
END $$;
COMMENT ON FUNCTION meter_usage_add IS
    'For book_batch() and meter_usage_move(), after meter_usage_lock() in the same transaction: '
    'moves the graduated meter counts on by p_units (row i: meter p_merchants[i]/p_slugs[i], '
    'customer p_customers[i], priced from the count p_before[i]; no p_before: no graduated '
    'count); a count that moved since it was read fails the transaction with '
    'serialization_failure.';

-- Called by reprice_book(), in the transaction that took meter_usage_lock():
-- moves each graduated meter count on by the units of p_request_ids, the
-- requests settled just now. A settled request counts with its
-- settlement's units (repricings), any other with its own (events);
-- requests without fee_units_before are on no graduated count.
-- (book_batch() moves the counts of the events it inserts from its staging
-- table: meter_usage_add().)
CREATE OR REPLACE FUNCTION meter_usage_move(p_request_ids text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_merchants text[];
    v_slugs     text[];
    v_customers text[];
    v_before    bigint[];
    v_units     bigint[];
BEGIN
    -- = ANY (array) on both tables: primary key lookups, never a read of all
    -- of events or repricings (which a join with unnest() planned)
    SELECT array_agg(e.merchant_id), array_agg(e.meter_slug), array_agg(e.customer_id),
           array_agg(CASE WHEN rp.request_id IS NULL THEN e.fee_units_before
                          ELSE rp.fee_units_before END),
           array_agg(CASE WHEN rp.request_id IS NULL THEN e.fee_units ELSE rp.fee_units END)
      INTO v_merchants, v_slugs, v_customers, v_before, v_units
      FROM events e
      LEFT JOIN (SELECT * FROM repricings WHERE request_id = ANY (p_request_ids)) rp
             ON rp.request_id = e.request_id
     WHERE e.request_id = ANY (p_request_ids);
    IF v_merchants IS NOT NULL THEN
        PERFORM meter_usage_add(v_merchants, v_slugs, v_customers, v_before, v_units);
    END IF;
END $$;
COMMENT ON FUNCTION meter_usage_move IS
    'For reprice_book(), after meter_usage_lock() in the same transaction: moves the '
    'graduated meter counts on by the units of p_request_ids (a settled request''s from '
    'repricings, others'' from events; meter_usage_add()); a count that moved since it was '
    'read fails the transaction with serialization_failure.';

-- The account of each provider p_transfers credits (provider:<name>) that
-- the ledger does not have yet: a provider seen for the first time. For
-- book_batch() and reprice_book(), before they book p_transfers.
CREATE OR REPLACE FUNCTION provider_accounts_add(p_transfers jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO accounts (key, kind, provider)
    SELECT DISTINCT t.credit, 'provider', substr(t.credit, length('provider:') + 1)
      FROM jsonb_to_recordset(p_transfers) AS t(credit text)
     WHERE t.credit LIKE 'provider:%'
    ON CONFLICT (key) DO NOTHING
$$;
COMMENT ON FUNCTION provider_accounts_add IS
    'For book_batch() and reprice_book(): creates the provider account (provider:<name>) of each '
    'provider p_transfers credits that has none yet.';

-- The session's staging tables of booking: the sidecar COPYs a batch's
-- events (book_events_in: the columns of events, no constraints) and their
-- planned transfers (book_transfers_in) into them inside its transaction,
-- then calls book_batch(), which books from them set-based. Temporary and
-- emptied at every commit (or rollback), so each session sees only its own
-- batch. Called at the start of every booking transaction; creates them the
-- first time in a session.
CREATE OR REPLACE FUNCTION book_stage() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_col record;
BEGIN
    IF to_regclass('pg_temp.book_events_in') IS NULL THEN
        CREATE TEMP TABLE book_events_in ON COMMIT DELETE ROWS
            AS SELECT * FROM events WITH NO DATA;
        -- Columns of a domain type (lava_id) take its base type: the
        -- domain's CHECK runs once, when the rows go into events, not also
        -- on COPY into the staging table.
        FOR v_col IN
            SELECT a.attname, format_type(t.typbasetype, t.typtypmod) AS base
              FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
             WHERE a.attrelid = 'pg_temp.book_events_in'::regclass
               AND a.attnum > 0 AND NOT a.attisdropped AND t.typtype = 'd'
        LOOP
            EXECUTE format('ALTER TABLE pg_temp.book_events_in ALTER COLUMN %I TYPE %s',
                           v_col.attname, v_col.base);
        END LOOP;
    END IF;
    IF to_regclass('pg_temp.book_transfers_in') IS NULL THEN
        -- n: the order of the plan (base, fee, service charge), which
        -- transfer ids follow; merchant_id: the request's (whose wallet and
        -- merchant accounts the keys must be); debit, credit: account keys
        -- (accounts.key)
        CREATE TEMP TABLE book_transfers_in (
            n           bigint NOT NULL,
            request_id  text NOT NULL,
            merchant_id text,
            kind        text NOT NULL,
            debit       text NOT NULL,
            credit      text NOT NULL,
            amount_nusd bigint NOT NULL
        ) ON COMMIT DELETE ROWS;
    END IF;
END $$;
COMMENT ON FUNCTION book_stage IS
    'Called by the sidecar at the start of each booking transaction: creates the session''s '
    'temporary staging tables book_events_in (the columns of events) and book_transfers_in '
    '(n, request_id, merchant_id, kind, debit, credit, amount_nusd) the first time; both are emptied at '
    'commit. The sidecar COPYs a batch into them, then calls book_batch().';

-- The first signature of book_batch took the batch as JSON.
DROP FUNCTION IF EXISTS book_batch(text, jsonb, jsonb, jsonb);

-- Books one sidecar batch from the staging tables (book_stage()), in the
-- sidecar's transaction; XACK follows COMMIT.
--
--   book_events_in     one row per event: the events columns the sidecar
--                      knows (decoded and priced), content_hash the sha256
--                      of the entry's fields
--   book_transfers_in  the planned transfers {n, request_id, merchant_id, kind,
--                      debit, credit, amount_nusd}; debit/credit are account
--                      keys
--   p_stream           the stream the entries came from
--   p_dead             JSON array of {stream_id, request_id, reason, fields}
--                      for entries the sidecar could not decode
--
-- Returns one row per event: booked (inserted with its transfers), duplicate
-- (the request id was booked before with the same content, or the event is
-- a worker_lost estimate of a request already booked: nothing booked),
-- conflict (booked before with other content: nothing booked, dead-lettered
-- for inspection), dead (names a merchant or account the ledger does not
-- have: dead-lettered). Graduated meter counts move on by what was booked.
--
-- Set-based throughout: each step is one statement over the whole batch,
-- account keys are resolved once per distinct key, and balances move once
-- per account (trigger transfers_apply, per statement).
CREATE OR REPLACE FUNCTION book_batch(p_stream text, p_dead jsonb)
RETURNS TABLE (request_id text, result text)
LANGUAGE plpgsql
-- The staging tables have no statistics (temporary, never analysed): the
-- planner's row estimates for them are far too high, and with them the
-- cost of a plan, which turned JIT compilation on (about a second per
-- batch of 2,000, for statements that run in milliseconds).
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_bad      text[];
    v_new      text[];
    v_new_spk  text[];     -- the spend key of each of v_new (NULL: none)
    v_count    bigint;
    v_expected bigint;
    v_done     bigint;
    v_merchants text[];    -- the graduated meter counts of v_new (meter_usage_add)
    v_slugs     text[];
    v_customers text[];
    v_before    bigint[];
    v_units     bigint[];
    v_key_merchants text[];  -- the batch's distinct (merchant, account key) pairs
    v_keys      text[];
    v_acc_keys  text[];      -- the accounts those keys name: key -> id
    v_acc_ids   bigint[];
BEGIN
    IF p_dead IS NOT NULL AND jsonb_array_length(p_dead) > 0 THEN
        INSERT INTO dead_letters (stream, stream_id, request_id, reason, fields)
        SELECT p_stream, d.stream_id, d.request_id, d.reason, d.fields
          FROM jsonb_to_recordset(p_dead) AS d(stream_id text, request_id text,
                                               reason text, fields jsonb)
        ON CONFLICT (stream, stream_id) DO NOTHING;
    END IF;

    SELECT count(*) INTO v_count FROM book_events_in;
    IF v_count = 0 THEN
        RETURN;
    END IF;

    -- A provider seen for the first time gets its account (as
    -- provider_accounts_add() does for re-pricing).
    INSERT INTO accounts (key, kind, provider)
    SELECT DISTINCT t.credit, 'provider', substr(t.credit, length('provider:') + 1)
      FROM book_transfers_in t
     WHERE t.credit LIKE 'provider:%'
    ON CONFLICT (key) DO NOTHING;

    -- The batch's distinct (merchant, account key) pairs, found in one pass
    -- over the planned transfers (a batch names a handful of accounts: its
    -- wallets, merchants, providers, the platform), and the ids of the
    -- accounts they name. Everything below works on these few rows rather
    -- than on the batch's thousands of transfers. (Accounts are never
    -- deleted and their ids never change: a key found here stays valid for
    -- the transfers insert below.)
    WITH p AS (
        SELECT DISTINCT t.merchant_id, t.debit, t.credit FROM book_transfers_in t
    ), k AS (
        SELECT DISTINCT p.merchant_id, x.key
          FROM p CROSS JOIN LATERAL (VALUES (p.debit), (p.credit)) AS x(key)
    )
    SELECT array_agg(k.merchant_id), array_agg(k.key) INTO v_key_merchants, v_keys FROM k;
    SELECT array_agg(a.key), array_agg(a.id) INTO v_acc_keys, v_acc_ids
      FROM accounts a
     WHERE a.key = ANY (v_keys);
    v_acc_keys := coalesce(v_acc_keys, '{}');
    v_acc_ids := coalesce(v_acc_ids, '{}');

    -- Requests naming a merchant or an account the ledger does not have (or a
    -- wallet of another merchant's customer) cannot be booked: dead-letter
    -- them rather than fail the whole batch. Each distinct (merchant, key)
    -- of the batch is looked up once; the per-request search below (and the
    -- JSON of each request it dead-letters) runs only when one of them, or
    -- one of the batch's merchants, is missing.
    IF EXISTS (SELECT 1
                 FROM unnest(v_key_merchants, v_keys) AS k(merchant_id, key)
                 LEFT JOIN accounts a ON a.key = k.key
                WHERE a.id IS NULL
                   OR (a.kind IN ('wallet', 'merchant')
                       AND a.merchant_id IS DISTINCT FROM k.merchant_id))
       OR EXISTS (SELECT 1
                    FROM (SELECT DISTINCT x.merchant_id FROM book_events_in x) d
                   WHERE NOT EXISTS (SELECT 1 FROM merchants m WHERE m.id = d.merchant_id)
                     AND d.merchant_id IS NOT NULL) THEN
        WITH k AS (
            SELECT DISTINCT t.merchant_id, x.key
              FROM book_transfers_in t
             CROSS JOIN LATERAL (VALUES (t.debit), (t.credit)) AS x(key)
        ), badk AS (
            SELECT k.merchant_id, k.key
              FROM k
              LEFT JOIN accounts a ON a.key = k.key
             WHERE a.id IS NULL
                OR (a.kind IN ('wallet', 'merchant') AND a.merchant_id IS DISTINCT FROM k.merchant_id)
        ), bad AS (
            SELECT e.request_id, e.stream_id, to_jsonb(e) AS doc,
                   'unknown merchant ' || e.merchant_id AS reason
              FROM book_events_in e
             WHERE e.merchant_id IN (
                       SELECT d.merchant_id
                         FROM (SELECT DISTINCT x.merchant_id FROM book_events_in x) d
                        WHERE NOT EXISTS (SELECT 1 FROM merchants m WHERE m.id = d.merchant_id))
            UNION ALL
            SELECT e.request_id, e.stream_id, to_jsonb(e),
                   'no account ' || b.key || ' for merchant ' || coalesce(e.merchant_id, '-')
              FROM badk b
              JOIN book_transfers_in t ON b.key IN (t.debit, t.credit)
                                      AND t.merchant_id IS NOT DISTINCT FROM b.merchant_id
              JOIN book_events_in e ON e.request_id = t.request_id
        ), dl AS (
            INSERT INTO dead_letters (stream, stream_id, request_id, reason, fields)
            SELECT DISTINCT ON (b.request_id) p_stream, b.stream_id, b.request_id, b.reason,
                   b.doc - 'started_at' - 'booked_at'
              FROM bad b
            ON CONFLICT (stream, stream_id) DO NOTHING
        )
        SELECT array_agg(DISTINCT b.request_id) INTO v_bad FROM bad b;
    END IF;
    v_bad := coalesce(v_bad, '{}');

    WITH ins AS (
        INSERT INTO events (
            request_id, v, stream_id, content_hash, ts_ms, duration_ms, ttfb_ms,
            merchant_id, customer_id, meter_slug, payer, key_source, provider, host,
            endpoint, method, model, status, outcome, error, stream, usage_source,
            input_tokens, cached_input_tokens, cache_write_tokens, cache_write_1h_tokens,
            output_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens,
            characters, usage_duration_ms, requests, images, web_search_calls, web_fetch_calls,
            grounded_prompts, usage_raw, metadata,
            bytes_out, tap_flags, price_state, price_note, rate_id, fee_kind, fee_rate,
            fee_tokens, fee_unit, fee_units, fee_units_before, fee_detail,
            service_charge_ppm, service_charge_basis,
            base_cost_nusd, fee_nusd, service_charge_nusd, booked_at, spend_key_id,
            attempt, attempt_of)
        SELECT
            e.request_id, e.v, e.stream_id, e.content_hash, e.ts_ms, e.duration_ms, e.ttfb_ms,
            e.merchant_id, e.customer_id, e.meter_slug, e.payer, e.key_source, e.provider, e.host,
            e.endpoint, e.method, e.model, e.status, e.outcome, e.error, e.stream, e.usage_source,
            e.input_tokens, e.cached_input_tokens, e.cache_write_tokens, e.cache_write_1h_tokens,
            e.output_tokens, e.reasoning_tokens, e.audio_input_tokens, e.audio_output_tokens,
            e.characters, e.usage_duration_ms, e.requests, e.images, e.web_search_calls,
            e.web_fetch_calls, e.grounded_prompts, e.usage_raw, e.metadata,
            e.bytes_out, e.tap_flags, e.price_state, e.price_note, e.rate_id, e.fee_kind, e.fee_rate,
            e.fee_tokens, e.fee_unit, e.fee_units, e.fee_units_before, e.fee_detail,
            e.service_charge_ppm, coalesce(e.service_charge_basis, 'fee'),
            e.base_cost_nusd, e.fee_nusd, e.service_charge_nusd, now(), e.spend_key_id,
            e.attempt, e.attempt_of
          FROM book_events_in AS e
         WHERE e.request_id <> ALL (v_bad)
        ON CONFLICT (request_id) DO NOTHING
        RETURNING request_id, spend_key_id
    )
    SELECT array_agg(i.request_id), array_agg(i.spend_key_id) INTO v_new, v_new_spk FROM ins i;
    v_new := coalesce(v_new, '{}');
    v_new_spk := coalesce(v_new_spk, '{}');

    -- Transfers only for the events inserted just now: a redelivered request
    -- id books nothing. Account ids are looked up once per distinct key.
    -- (joins with unnest rather than = ANY: a hash join, not n x m compares)
    IF cardinality(v_new) = v_count THEN
        -- the usual batch, every event new: every planned transfer
        SELECT count(*) INTO v_expected FROM book_transfers_in;
    ELSE
        SELECT count(*) INTO v_expected
          FROM book_transfers_in t
          JOIN unnest(v_new) AS nw(request_id) ON nw.request_id = t.request_id;
    END IF;

    -- Graduated meters: the counts move on by what was inserted now, read
    -- from the staging table (the same values, no lookups in events); in
    -- the usual batch every staged event was inserted (no join needed).
    -- Before the transfers: their trigger locks the accounts every batch
    -- shares (provider, merchant, platform) until COMMIT, and another
    -- sidecar's batch waits for those; the counts are this batch's own
    -- (locked by meter_usage_lock() already).
    IF cardinality(v_new) = v_count THEN
        SELECT array_agg(e.merchant_id), array_agg(e.meter_slug), array_agg(e.customer_id),
               array_agg(e.fee_units_before), array_agg(e.fee_units)
          INTO v_merchants, v_slugs, v_customers, v_before, v_units
          FROM book_events_in e
         WHERE e.fee_units_before IS NOT NULL;
    ELSE
        SELECT array_agg(e.merchant_id), array_agg(e.meter_slug), array_agg(e.customer_id),
               array_agg(e.fee_units_before), array_agg(e.fee_units)
          INTO v_merchants, v_slugs, v_customers, v_before, v_units
          FROM book_events_in e
          JOIN unnest(v_new) AS nw(request_id) ON nw.request_id = e.request_id
         WHERE e.fee_units_before IS NOT NULL;
    END IF;
    IF v_merchants IS NOT NULL THEN
        PERFORM meter_usage_add(v_merchants, v_slugs, v_customers, v_before, v_units);
    END IF;

    -- Account ids from the few keys looked up above (a hash of a handful of
    -- rows; a lookup of the staging table's keys here planned merge joins
    -- with three sorts of the whole batch).
    INSERT INTO transfers (kind, debit_account, credit_account, amount_nusd, request_id,
                           spend_key_id)
    SELECT t.kind, d.id, c.id, t.amount_nusd, t.request_id, nw.spend_key_id
      FROM book_transfers_in t
      JOIN unnest(v_new, v_new_spk) AS nw(request_id, spend_key_id) ON nw.request_id = t.request_id
      JOIN unnest(v_acc_keys, v_acc_ids) AS d(key, id) ON d.key = t.debit
      JOIN unnest(v_acc_keys, v_acc_ids) AS c(key, id) ON c.key = t.credit
     ORDER BY t.n;     -- transfer ids follow the plan: base, fee, service charge
    GET DIAGNOSTICS v_done = ROW_COUNT;

    IF v_done <> v_expected THEN
        RAISE EXCEPTION 'book_batch: % transfers planned but % booked', v_expected, v_done;
    END IF;

    -- Spend keys: their counts and spend (sql/functions/spend_keys.sql).
    IF EXISTS (SELECT 1 FROM unnest(v_new_spk) AS k(id) WHERE k.id IS NOT NULL) THEN
        PERFORM spend_key_usage_move(
            ARRAY(SELECT nw.request_id FROM unnest(v_new, v_new_spk) AS nw(request_id, spend_key_id)
                   WHERE nw.spend_key_id IS NOT NULL), true);
    END IF;

    RETURN QUERY SELECT nw.request_id, 'booked'::text FROM unnest(v_new) AS nw(request_id);
    IF cardinality(v_new) = v_count THEN
        RETURN;             -- the usual batch: every event new
    END IF;

    -- Seen before: same content is a plain redelivery, and so is a worker_lost
    -- estimate (the request's own event got there first); other content is
    -- kept for inspection.
    INSERT INTO dead_letters (stream, stream_id, request_id, reason, fields)
    SELECT p_stream, n.stream_id, n.request_id,
           'request id booked before with other content',
           to_jsonb(n) - 'started_at' - 'booked_at'
      FROM book_events_in n
      JOIN events old ON old.request_id = n.request_id
      LEFT JOIN unnest(v_new || v_bad) AS done(request_id) ON done.request_id = n.request_id
     WHERE done.request_id IS NULL
       AND old.request_id = ANY (ARRAY(SELECT b.request_id FROM book_events_in b))
       AND old.content_hash <> n.content_hash
       AND n.outcome <> 'worker_lost'
    ON CONFLICT (stream, stream_id) DO NOTHING;

    RETURN QUERY
    SELECT x.request_id,
           CASE WHEN bd.request_id IS NOT NULL THEN 'dead'
                WHEN old.content_hash = x.content_hash
                     OR x.outcome = 'worker_lost' THEN 'duplicate'
                ELSE 'conflict' END
      FROM book_events_in x
      LEFT JOIN unnest(v_new) AS nw(request_id) ON nw.request_id = x.request_id
      LEFT JOIN unnest(v_bad) AS bd(request_id) ON bd.request_id = x.request_id
      LEFT JOIN (SELECT o.request_id, o.content_hash FROM events o
                  WHERE o.request_id = ANY (ARRAY(SELECT b.request_id FROM book_events_in b))) old
             ON old.request_id = x.request_id
     WHERE nw.request_id IS NULL;
END $$;
COMMENT ON FUNCTION book_batch IS
    'Books one sidecar batch from the session''s staging tables (book_stage(): events and '
    'their planned transfers, COPied in by the sidecar) and p_dead, the dead letters '
    '({stream_id, request_id, reason, fields}). Returns one row per event: booked, duplicate '
    '(same content booked before, or a worker_lost estimate of a booked request), conflict (other content booked before: dead-lettered) or '
    'dead (unknown merchant or account: dead-lettered).';
