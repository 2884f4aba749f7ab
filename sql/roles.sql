-- The ledger's group roles and what each may do (docs/ledger.md). They
-- cannot log in: an operator grants them to login roles,
--   CREATE ROLE sidecar LOGIN PASSWORD '...' IN ROLE lava_sidecar;
--
--   lava_admin    runs the admin functions (psql): every function, and the
--                 tables they write (the functions run with the caller's
--                 rights); reads everything
--   lava_reader   reads the views, nothing else
--   lava_sidecar  what lava-sidecar does and nothing more: books batches
--                 (book_batch, meter_usage_lock), publishes the auth
--                 snapshot, loads the pricing, replays dead letters,
--                 settles re-priced requests and reconciles (docs/sidecar.md)
--
-- Applied by lava-migrate on every run, after the views (a view created
-- again has lost its grants); every statement is idempotent. Creating the
-- roles takes CREATEROLE, once; roles belong to the cluster, so several
-- ledger databases of one cluster share them. Triggers run with the rights
-- of whoever fires them: a grant below may be there for a trigger (named).

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lava_admin') THEN
        CREATE ROLE lava_admin NOLOGIN;
        COMMENT ON ROLE lava_admin IS
            'lava ledger: runs the admin functions; grant it to the operators'' login roles';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lava_reader') THEN
        CREATE ROLE lava_reader NOLOGIN;
        COMMENT ON ROLE lava_reader IS 'lava ledger: reads the views';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lava_sidecar') THEN
        CREATE ROLE lava_sidecar NOLOGIN;
        COMMENT ON ROLE lava_sidecar IS
            'lava ledger: what lava-sidecar needs to book, publish and replay; grant it to the sidecar''s login role';
    END IF;
END $$;

-- Functions are executable by everyone unless revoked; here nothing is
-- granted to PUBLIC.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA lava FROM PUBLIC;

GRANT USAGE ON SCHEMA lava TO lava_admin, lava_reader, lava_sidecar;

-- ---------------------------------------------------------------------------
-- lava_admin

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA lava TO lava_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA lava TO lava_admin;
-- what lava-migrate applied is lava-migrate's to write
REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM lava_admin;

-- ---------------------------------------------------------------------------
-- lava_reader: every view (views run with their owner's rights on the
-- tables; the functions they call are checked against the reader)

DO $$
DECLARE
    v text;
BEGIN
    FOR v IN SELECT format('%I.%I', schemaname, viewname) FROM pg_views
              WHERE schemaname = 'lava' LOOP
        EXECUTE 'GRANT SELECT ON ' || v || ' TO lava_reader';
    END LOOP;
END $$;
GRANT EXECUTE ON FUNCTION nusd_to_usd(bigint), usage_daily_by(text) TO lava_reader;
-- the spend_keys view
GRANT EXECUTE ON FUNCTION nusd_to_usd_text(bigint), lava_now(),
                          spend_key_cycle_start(text, timestamptz) TO lava_reader;

-- ---------------------------------------------------------------------------
-- lava_sidecar (the SQL of sidecar/*.c)

-- schema.c: at each connection, which SQL files lava-migrate applied
GRANT SELECT ON schema_migrations TO lava_sidecar;
-- rates.c: the pricing it prices with, and its version
GRANT SELECT ON provider_rates, model_aliases, meter_only_providers, meters, meter_tiers,
                pricing_state TO lava_sidecar;
-- authpub.c: the auth snapshot and its version
GRANT SELECT ON auth_state, auth_snapshot TO lava_sidecar;
-- ... whose spend key records read the clock and the cycles
GRANT EXECUTE ON FUNCTION lava_now(), spend_key_cycle_start(text, timestamptz) TO lava_sidecar;
-- tiers.c, book.c: meter_usage_lock(), book_stage() and book_batch() in the
-- booking transaction; they run with the sidecar's rights (book_stage()
-- makes temporary tables: TEMP on the database, which PUBLIC has unless
-- revoked)
GRANT EXECUTE ON FUNCTION meter_usage_lock(jsonb, jsonb), book_stage(),
                          book_batch(text, jsonb) TO lava_sidecar;
-- called by book_batch() and reprice_book(), with the sidecar's rights
GRANT EXECUTE ON FUNCTION meter_usage_move(text[]), provider_accounts_add(jsonb),
                          meter_usage_add(text[], text[], text[], bigint[], bigint[]) TO lava_sidecar;
-- ... and spend_key_usage_move(), the spend keys' counts and spend
GRANT EXECUTE ON FUNCTION spend_key_usage_move(text[], boolean) TO lava_sidecar;
GRANT SELECT ON spend_key_defs TO lava_sidecar;
GRANT SELECT, INSERT, UPDATE (requests, spend_nusd, last_used_at) ON spend_key_usage TO lava_sidecar;
GRANT SELECT ON merchants, customers TO lava_sidecar;
GRANT SELECT, INSERT ON events, transfers TO lava_sidecar;
GRANT SELECT, INSERT, UPDATE (units, updated_at) ON meter_usage TO lava_sidecar;
GRANT SELECT, INSERT ON accounts TO lava_sidecar;             -- new provider accounts
GRANT UPDATE (balance_nusd) ON accounts TO lava_sidecar;      -- trigger transfers_apply
GRANT UPDATE (version) ON auth_state TO lava_sidecar;         -- trigger transfers_apply
-- book.c, deadletter.c: dead letters written, replayed and marked replayed
GRANT SELECT, INSERT ON dead_letters TO lava_sidecar;
GRANT UPDATE (replayed_at, replay_stream_id) ON dead_letters TO lava_sidecar;
GRANT EXECUTE ON FUNCTION dead_letter_stream_fields(jsonb)    -- trigger dead_letters_stream_shape
    TO lava_sidecar;
-- reprice.c: requests marked for re-pricing taken (rows locked) and
-- settled through reprice_take() and reprice_book(), which run with the
-- sidecar's rights
GRANT EXECUTE ON FUNCTION reprice_take(integer), reprice_book(jsonb, jsonb) TO lava_sidecar;
GRANT SELECT, UPDATE (priced_at, result, note) ON reprice_queue TO lava_sidecar;
GRANT SELECT, INSERT ON repricings TO lava_sidecar;
-- reconcile.c: events, transfers and dead_letters above, and the invariants
GRANT SELECT ON ledger_check TO lava_sidecar;
GRANT EXECUTE ON FUNCTION nusd_to_usd(bigint) TO lava_sidecar; -- in account_balances
