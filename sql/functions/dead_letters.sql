-- Dead letters: one shape for their fields, and replay after a fix
-- (docs/sidecar.md, docs/ledger.md; the table: sql/schema/03_dead_letters.sql).
--
-- Functions are code, not history: lava-migrate applies this file again
-- whenever its content changes (CREATE OR REPLACE), and each function is
-- defined in this one place (sql/README.md).

-- The stream fields (docs/events.md) of an event document as book_batch()
-- receives it. NULLs, zero usage buckets and the pricing columns are left
-- out, as the module leaves them out; metadata goes back to JSON text.
CREATE OR REPLACE FUNCTION dead_letter_stream_fields(p_doc jsonb) RETURNS jsonb
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
                             'usage_duration_ms', 'requests', 'images', 'web_search_calls',
                             'web_fetch_calls', 'grounded_prompts', 'usage_raw',
                             'metadata', 'bytes_out', 'tap_flags', 'spend_key_id',
                             'attempt', 'attempt_of')
               AND jsonb_typeof(d.value) <> 'null'
               AND NOT (d.key IN ('input_tokens', 'cached_input_tokens', 'cache_write_tokens',
                                  'cache_write_1h_tokens', 'output_tokens', 'reasoning_tokens',
                                  'audio_input_tokens', 'audio_output_tokens', 'characters',
                                  'usage_duration_ms', 'requests', 'images',
                                  'web_search_calls', 'web_fetch_calls',
                                  'grounded_prompts')
                        AND d.value = '0'::jsonb)) f
$$;
COMMENT ON FUNCTION dead_letter_stream_fields IS
    'The stream fields (docs/events.md) of an event document as book_batch() receives it: '
    'NULLs, zero usage buckets and the pricing columns left out, as the module leaves them '
    'out; metadata back to JSON text.';

-- Marks one dead letter for replay (again, if it was replayed before).
-- false: no such dead letter.
CREATE OR REPLACE FUNCTION replay_dead_letter(p_id bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE dead_letters
       SET replay_requested_at = now(), replayed_at = NULL, replay_stream_id = NULL
     WHERE id = p_id;
    RETURN FOUND;
END $$;
COMMENT ON FUNCTION replay_dead_letter IS
    'Marks one dead letter for replay (again, if it was replayed before); a running sidecar '
    'writes it to the stream. false: no such dead letter.';

-- Marks every dead letter not replayed yet whose reason matches p_reason (a
-- LIKE pattern; NULL: any) and that came at or after p_since (NULL: any).
-- Returns how many were marked.
CREATE OR REPLACE FUNCTION replay_dead_letters(p_reason text DEFAULT NULL,
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
COMMENT ON FUNCTION replay_dead_letters IS
    'Marks every dead letter not replayed yet whose reason matches p_reason (a LIKE pattern; '
    'NULL: any) and that came at or after p_since (NULL: any); returns how many.';
