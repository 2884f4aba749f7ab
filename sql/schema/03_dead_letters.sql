-- Dead letters: stream entries that could not be booked, kept with their
-- fields so they can be inspected and replayed after a fix (docs/sidecar.md,
-- docs/ledger.md).
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
--
-- Baseline: applied once by scripts/lava-migrate (sql/README.md).

CREATE TABLE dead_letters (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream               text NOT NULL,
    stream_id            text NOT NULL,
    request_id           text,
    reason               text NOT NULL,
    fields               jsonb NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    booking_doc          jsonb,
    replay_requested_at  timestamptz,
    replayed_at          timestamptz,
    replay_stream_id     text,
    UNIQUE (stream, stream_id)
);
CREATE INDEX dead_letters_request ON dead_letters (request_id);
CREATE INDEX dead_letters_to_replay ON dead_letters (id)
    WHERE replay_requested_at IS NOT NULL AND replayed_at IS NULL;

CREATE TRIGGER dead_letters_stream_shape BEFORE INSERT ON dead_letters
    FOR EACH ROW EXECUTE FUNCTION dead_letters_stream_shape();

COMMENT ON TABLE dead_letters IS
    'Stream entries that could not be booked (malformed, unknown version, unknown merchant or '
    'account, a request id seen before with other content), kept with their fields for '
    'inspection and replay (replay_dead_letter, replay_dead_letters).';
COMMENT ON COLUMN dead_letters.stream IS 'The Redis stream the entry came from';
COMMENT ON COLUMN dead_letters.stream_id IS 'The entry''s id in that stream';
COMMENT ON COLUMN dead_letters.request_id IS 'The request id the entry named, if it could be read';
COMMENT ON COLUMN dead_letters.reason IS 'Why it was not booked';
COMMENT ON COLUMN dead_letters.fields IS
    'The stream entry''s fields (docs/events.md), all strings: what a replay sends to the '
    'stream again';
COMMENT ON COLUMN dead_letters.booking_doc IS
    'For entries book_batch() refused: the event document the sidecar built (events column '
    'names, typed values); fields then holds the stream fields derived from it';
COMMENT ON COLUMN dead_letters.replay_requested_at IS
    'Marked for replay (replay_dead_letter, replay_dead_letters); the sidecar replays marked '
    'rows within a second or so';
COMMENT ON COLUMN dead_letters.replayed_at IS
    'When the sidecar wrote the entry to the stream again';
COMMENT ON COLUMN dead_letters.replay_stream_id IS 'The stream id the replayed entry got';
