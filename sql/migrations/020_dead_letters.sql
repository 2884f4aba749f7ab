-- Dead letters: one shape for their fields, and replay after a fix
-- (docs/sidecar.md, docs/ledger.md).
--
-- The sidecar writes a dead letter with the stream entry's own fields, except
-- for entries book_batch() refuses (unknown merchant or account, a request id
-- booked before with other content), which arrive as the event document the
-- sidecar built (events column names, typed values). A trigger turns those
-- into the stream fields again and keeps the document in booking_doc, so that
-- every dead letter can be read the same way and sent to the stream again.
--
-- Replay: replay_dead_letter(id) or replay_dead_letters(reason pattern) mark
-- rows; a running sidecar writes them to the stream (XADD) within a second or
-- so and records when and under which stream id (replayed_at,
-- replay_stream_id). The request is then booked like any other, once: a
-- request id already booked books nothing. If it fails again it comes back as
-- a new dead letter.

ALTER TABLE dead_letters
    ADD COLUMN booking_doc          jsonb,
    ADD COLUMN replay_requested_at  timestamptz,
    ADD COLUMN replayed_at          timestamptz,
    ADD COLUMN replay_stream_id     text;

CREATE INDEX dead_letters_request ON dead_letters (request_id);
CREATE INDEX dead_letters_to_replay ON dead_letters (id)
    WHERE replay_requested_at IS NOT NULL AND replayed_at IS NULL;

-- The stream fields (docs/events.md) of an event document as book_batch()
-- receives it. NULLs, zero usage buckets and the pricing columns are left
-- out, as the module leaves them out; metadata goes back to JSON text.
CREATE FUNCTION dead_letter_stream_fields(p_doc jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_object_agg(f.name, f.value), '{}'::jsonb)
      FROM (SELECT CASE d.key WHEN 'meter_slug' THEN 'meter' ELSE d.key END AS name,
                   CASE jsonb_typeof(d.value)
                        WHEN 'string' THEN d.value #>> '{}'
                        WHEN 'number' THEN d.value #>> '{}'
                        WHEN 'boolean' THEN CASE WHEN d.value = 'true'::jsonb THEN '1' ELSE '0' END
                        ELSE d.value::text END AS value
              FROM jsonb_each(p_doc) AS d
             WHERE d.key IN ('v', 'request_id', 'ts_ms', 'duration_ms', 'ttfb_ms',
                             'merchant_id', 'customer_id', 'meter_slug', 'payer', 'key_source',
                             'provider', 'host', 'endpoint', 'method', 'model', 'status',
                             'outcome', 'error', 'stream', 'usage_source', 'input_tokens',
                             'cached_input_tokens', 'cache_write_tokens',
                             'cache_write_1h_tokens', 'output_tokens', 'reasoning_tokens',
                             'audio_input_tokens', 'audio_output_tokens', 'characters',
                             'usage_duration_ms', 'requests', 'images', 'usage_raw',
                             'metadata', 'bytes_out', 'tap_flags')
               AND jsonb_typeof(d.value) <> 'null'
               AND NOT (d.key IN ('input_tokens', 'cached_input_tokens', 'cache_write_tokens',
                                  'cache_write_1h_tokens', 'output_tokens', 'reasoning_tokens',
                                  'audio_input_tokens', 'audio_output_tokens', 'characters',
                                  'usage_duration_ms', 'requests', 'images')
                        AND d.value = '0'::jsonb)) f
$$;

-- An event document has a numeric "v" and a content_hash; stream fields are
-- all strings.
CREATE FUNCTION dead_letters_stream_shape() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.booking_doc IS NULL AND NEW.fields ? 'content_hash'
       AND jsonb_typeof(NEW.fields -> 'v') = 'number' THEN
        NEW.booking_doc := NEW.fields;
        NEW.fields := dead_letter_stream_fields(NEW.fields);
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER dead_letters_stream_shape BEFORE INSERT ON dead_letters
    FOR EACH ROW EXECUTE FUNCTION dead_letters_stream_shape();

UPDATE dead_letters
   SET booking_doc = fields, fields = dead_letter_stream_fields(fields)
 WHERE booking_doc IS NULL AND fields ? 'content_hash'
   AND jsonb_typeof(fields -> 'v') = 'number';

-- Marks one dead letter for replay (again, if it was replayed before).
-- false: no such dead letter.
CREATE FUNCTION replay_dead_letter(p_id bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE dead_letters
       SET replay_requested_at = now(), replayed_at = NULL, replay_stream_id = NULL
     WHERE id = p_id;
    RETURN FOUND;
END $$;

-- Marks every dead letter not replayed yet whose reason matches p_reason (a
-- LIKE pattern; NULL: any) and that came at or after p_since (NULL: any).
-- Returns how many were marked.
CREATE FUNCTION replay_dead_letters(p_reason text DEFAULT NULL,
                                    p_since timestamptz DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_n bigint;
BEGIN
    UPDATE dead_letters
       SET replay_requested_at = now()
     WHERE replayed_at IS NULL AND replay_requested_at IS NULL
       AND (p_reason IS NULL OR reason LIKE p_reason)
       AND (p_since IS NULL OR created_at >= p_since);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END $$;

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
