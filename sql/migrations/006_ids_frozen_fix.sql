-- ids_frozen() read NEW.merchant_id on merchants too (plpgsql does not
-- short-circuit the OR), so every UPDATE of a merchant failed: disabling,
-- enabling and key rotation included. Check each table's own columns.
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
