-- Trigger functions of every subsystem; the CREATE TRIGGER statements are with
-- their tables in sql/schema/.
--
-- Functions are code, not history: lava-migrate applies this file again
-- whenever its content changes (CREATE OR REPLACE), and each function is
-- defined in this one place (sql/README.md). lava-migrate applies this file
-- before the schema files: CREATE TRIGGER needs the function, and a trigger
-- function needs no table to exist when it is created.

-- Events, transfers and repricings are history: never changed, never removed;
-- accounts are never removed (transfers point at them).
CREATE OR REPLACE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is not allowed: the ledger is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
COMMENT ON FUNCTION ledger_immutable IS
    'Trigger: refuses UPDATE, DELETE and TRUNCATE. Events, transfers and repricings are '
    'history: never changed, never removed; a correction is a new row. Accounts are never '
    'removed (DELETE and TRUNCATE only): transfers point at them.';

-- Stored balances move with the transfers, in the same transaction. One
-- UPDATE per account per statement, so a batch of 500 requests touching the
-- same provider account updates that row once.
-- Rows are locked in id order first, so sidecars booking concurrently do not
-- deadlock on the shared accounts (provider, platform, merchant); auth_state
-- is only touched after them (booking transactions already serialize on the
-- shared accounts, so this adds no wait). The auth version moves, so the
-- sidecar publishes within a second, when the balance of a wallet under the
-- 'block' policy moves (its block status and headroom, the w record), and
-- when any wallet crosses its minimum, either way (the unfunded customers
-- restricted keys do not serve, any policy: the u record).
-- It is also the referential check of transfers, once per statement instead
-- of three foreign-key checks per row: every account a new transfer names
-- exists (and is locked, so it stays: accounts are never deleted, their ids
-- never change) and every request id is a booked event (events are never
-- changed or deleted).
CREATE OR REPLACE FUNCTION transfers_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_moved    boolean;
    v_locked   bigint;
    v_requests text[];
    v_accounts bigint[];   -- every account the new rows name, in id order
    v_deltas   bigint[];   -- what each of v_accounts moves by, nano-USD
BEGIN
    -- One pass over the new rows: the accounts they name and what each
    -- moves by (a batch names a handful of accounts; everything after
    -- works on those)
    SELECT array_agg(d.account ORDER BY d.account), array_agg(d.delta ORDER BY d.account)
      INTO v_accounts, v_deltas
      FROM (SELECT x.account, sum(x.delta)::bigint AS delta FROM (
                SELECT debit_account AS account, -amount_nusd AS delta FROM new_rows
                UNION ALL
                SELECT credit_account, amount_nusd FROM new_rows) x
             GROUP BY x.account) d;
    v_accounts := coalesce(v_accounts, '{}');
    v_deltas := coalesce(v_deltas, '{}');
    SELECT count(*) INTO v_locked
      FROM (SELECT 1 FROM accounts
             WHERE id = ANY (v_accounts)
             ORDER BY id
               FOR NO KEY UPDATE) l;
    IF v_locked <> cardinality(v_accounts) THEN
        RAISE EXCEPTION 'transfers name % accounts that do not exist',
            cardinality(v_accounts) - v_locked
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    -- = ANY (array): looked up in the primary key, whatever the planner
    -- thinks of the transition table's size (a join read all of events).
    -- DISTINCT in a subquery: hashed, where array_agg(DISTINCT) sorts the
    -- request ids (with the database's collation).
    SELECT array_agg(r.request_id) INTO v_requests
      FROM (SELECT DISTINCT request_id FROM new_rows WHERE request_id IS NOT NULL) r;
    IF v_requests IS NOT NULL
       AND (SELECT count(*) FROM events e WHERE e.request_id = ANY (v_requests))
           <> cardinality(v_requests) THEN
        RAISE EXCEPTION 'transfers name a request that is not booked'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    WITH upd AS (
        UPDATE accounts a SET balance_nusd = a.balance_nusd + d.delta
          FROM unnest(v_accounts, v_deltas) AS d(account, delta)
         WHERE a.id = d.account
        RETURNING a.kind, a.customer_id, a.balance_nusd - d.delta AS was, a.balance_nusd AS now
    )
    -- any move of a 'block' wallet: its headroom is published (w record)
    SELECT EXISTS (
        SELECT 1 FROM upd JOIN customers c ON c.id = upd.customer_id
         WHERE upd.kind = 'wallet'
           AND ((c.overdraft = 'block' AND upd.was <> upd.now)
                OR (upd.was <= c.min_balance_nusd) <> (upd.now <= c.min_balance_nusd)))
      INTO v_moved;
    IF v_moved THEN
        UPDATE auth_state SET version = version + 1;
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION transfers_apply IS
    'Trigger (after INSERT on transfers, per statement): checks that the accounts and requests '
    'the new transfers name exist (the foreign keys of transfers, once per statement), moves '
    'the stored balances of the accounts they touch, one UPDATE per account, locking them in '
    'id order first; bumps auth_state when the balance of a wallet under the block policy moves '
    '(its headroom is published) or any wallet crosses its minimum (unfunded for restricted '
    'keys, any policy).';

-- The foreign keys of events (merchants, provider_rates), checked once per
-- statement: a booked batch names one merchant or a few, and a few rates.
-- The rows named are locked FOR KEY SHARE, in id order, as a foreign key
-- check locks them, so a concurrent DELETE of a rate waits for this
-- transaction and then finds the event (provider_rates_kept). Merchants are
-- never deleted (each has an account, and accounts are never deleted).
-- SECURITY DEFINER, as a foreign key check runs as the table's owner: the
-- booking role may read merchants and provider_rates but not lock them (a
-- trigger function cannot be called but as a trigger).
CREATE OR REPLACE FUNCTION events_refs_check() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_merchants text[];
    v_rates     bigint[];
    v_found     bigint;
BEGIN
    -- DISTINCT in a subquery: hashed, where array_agg(DISTINCT) sorts
    SELECT array_agg(d.merchant_id) INTO v_merchants
      FROM (SELECT DISTINCT merchant_id FROM new_rows WHERE merchant_id IS NOT NULL) d;
    IF v_merchants IS NOT NULL THEN
        -- = ANY (array): primary key lookups whatever the planner thinks of
        -- the transition table's size
        SELECT count(*) INTO v_found
          FROM (SELECT 1 FROM merchants WHERE id = ANY (v_merchants)
                 ORDER BY id FOR KEY SHARE) m;
        IF v_found <> cardinality(v_merchants) THEN
            RAISE EXCEPTION 'events name % merchants that do not exist',
                cardinality(v_merchants) - v_found
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;
    SELECT array_agg(d.rate_id) INTO v_rates
      FROM (SELECT DISTINCT rate_id FROM new_rows WHERE rate_id IS NOT NULL) d;
    IF v_rates IS NOT NULL THEN
        SELECT count(*) INTO v_found
          FROM (SELECT 1 FROM provider_rates WHERE id = ANY (v_rates)
                 ORDER BY id FOR KEY SHARE) r;
        IF v_found <> cardinality(v_rates) THEN
            RAISE EXCEPTION 'events name % provider rates that do not exist',
                cardinality(v_rates) - v_found
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION events_refs_check IS
    'Trigger (after INSERT on events, per statement): the foreign keys of events, once per '
    'statement instead of two checks per row: every merchant_id is a merchant and every '
    'rate_id a provider_rates row (locked FOR KEY SHARE, in id order).';

-- A provider_rates row an event names is kept (events.rate_id has no
-- foreign key: events_refs_check). After the row is deleted, so a DELETE
-- that waited for a booking transaction's lock sees its events: in READ
-- COMMITTED each statement here reads with a new snapshot. A transaction
-- snapshot (REPEATABLE READ, SERIALIZABLE) would not see them, where a
-- foreign key check would look with a fresh one: such a DELETE is refused.
CREATE OR REPLACE FUNCTION provider_rates_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'provider_rates rows are deleted in READ COMMITTED transactions only'
            USING ERRCODE = 'serialization_failure';
    END IF;
    IF EXISTS (SELECT 1 FROM events WHERE rate_id = OLD.id) THEN
        RAISE EXCEPTION 'provider_rates row % is named by booked events', OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION provider_rates_kept IS
    'Trigger (after DELETE on provider_rates, per row): refuses to delete a rate that booked '
    'events name (the foreign key of events.rate_id, checked by events_refs_check on insert), '
    'and any DELETE outside READ COMMITTED (its snapshot would miss concurrent bookings).';

-- Every merchant and customer gets its account when it is created.
CREATE OR REPLACE FUNCTION merchants_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO accounts (key, kind, merchant_id) VALUES ('merchant:' || NEW.id, 'merchant', NEW.id);
    RETURN NULL;
END $$;
COMMENT ON FUNCTION merchants_account IS
    'Trigger: creates the merchant account (merchant:<id>) of a new merchant.';

CREATE OR REPLACE FUNCTION customers_wallet() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO accounts (key, kind, merchant_id, customer_id)
    VALUES ('wallet:' || NEW.id, 'wallet', NEW.merchant_id, NEW.id);
    RETURN NULL;
END $$;
COMMENT ON FUNCTION customers_wallet IS
    'Trigger: creates the wallet account (wallet:<id>) of a new customer.';

-- Ids are what events and transfers point at: they do not change. Each
-- table's own columns are checked (plpgsql does not short-circuit an OR:
-- NEW.merchant_id on merchants would fail).
CREATE OR REPLACE FUNCTION ids_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'the id of a row in % cannot change', TG_TABLE_NAME;
    END IF;
    IF TG_TABLE_NAME = 'customers' THEN
        IF NEW.merchant_id IS DISTINCT FROM OLD.merchant_id THEN
            RAISE EXCEPTION 'the merchant of a customer cannot change';
        END IF;
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION ids_frozen IS
    'Trigger: refuses an UPDATE that changes the id of a merchant, customer or account, or the '
    'merchant of a customer: events and transfers point at them.';

-- The auth version moves with every statement that changes the auth data.
CREATE OR REPLACE FUNCTION auth_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth_state SET version = version + 1;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION auth_bump IS
    'Trigger: moves auth_state.version on every statement that changes merchants, secret keys, '
    'customers or meters, so the sidecar publishes the auth snapshot again.';

-- Booked requests point at the row they used: rows are never edited.
CREATE OR REPLACE FUNCTION provider_rates_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'provider_rates rows are never edited: add a row with a later effective_from'
        USING ERRCODE = 'insufficient_privilege';
END $$;
COMMENT ON FUNCTION provider_rates_frozen IS
    'Trigger: refuses UPDATE of provider_rates. Booked requests point at the row they used: a '
    'price change is a new row with a later effective_from.';

-- Every meter has a first tier from 0, at most 16 tiers (checked when the
-- transaction commits, so a meter and its tiers can be written in any order).
CREATE OR REPLACE FUNCTION meter_tiers_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_merchant text;
    v_slug     text;
BEGIN
    IF TG_TABLE_NAME = 'meters' THEN
        v_merchant := NEW.merchant_id; v_slug := NEW.slug;
    ELSIF TG_OP = 'DELETE' THEN
        v_merchant := OLD.merchant_id; v_slug := OLD.slug;
    ELSE
        v_merchant := NEW.merchant_id; v_slug := NEW.slug;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM meters WHERE merchant_id = v_merchant AND slug = v_slug) THEN
        RETURN NULL;                    -- the meter itself is gone
    END IF;
    IF NOT EXISTS (SELECT 1 FROM meter_tiers WHERE merchant_id = v_merchant AND slug = v_slug
                                              AND start_units = 0) THEN
        RAISE EXCEPTION 'meter %/% needs a first tier starting at 0', v_merchant, v_slug;
    END IF;
    IF (SELECT count(*) FROM meter_tiers WHERE merchant_id = v_merchant AND slug = v_slug) > 16 THEN
        RAISE EXCEPTION 'meter %/% has more than 16 tiers', v_merchant, v_slug;
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION meter_tiers_check IS
    'Constraint trigger, deferred to commit: every meter has a first tier starting at 0 and at '
    'most 16 tiers.';

-- The pricing version moves with every statement that changes what the
-- sidecar prices with. auth_bump's twin for its own one-row table, rather
-- than one function taking the table name as a trigger argument (dynamic SQL).
CREATE OR REPLACE FUNCTION pricing_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE pricing_state SET version = version + 1;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION pricing_bump IS
    'Trigger: moves pricing_state.version on every statement that changes rates, aliases, '
    'meter-only providers, meters or tiers, so the sidecar loads them again.';

-- An event document has a numeric "v" and a content_hash; stream fields are
-- all strings. A document is kept in booking_doc and fields become the
-- stream fields, so every dead letter reads and replays the same way.
CREATE OR REPLACE FUNCTION dead_letters_stream_shape() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.booking_doc IS NULL AND NEW.fields ? 'content_hash'
       AND jsonb_typeof(NEW.fields -> 'v') = 'number' THEN
        NEW.booking_doc := NEW.fields;
        NEW.fields := dead_letter_stream_fields(NEW.fields);
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION dead_letters_stream_shape IS
    'Trigger (before INSERT on dead_letters): a dead letter that arrives as an event document '
    '(numeric "v", a content_hash) keeps it in booking_doc and gets the stream fields in '
    'fields (dead_letter_stream_fields), so every dead letter reads and replays the same way.';
