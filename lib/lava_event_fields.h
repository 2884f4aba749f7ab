/*
 * The usage event (docs/events.md, version 1): every field of a stream entry
 * and every usage bucket, declared once. The module's writer
 * (ngx_http_lava_log.c), the sidecar's decoder (sidecar/event.c), the
 * sidecar's COPY rows for book_batch() (sidecar/bookcopy.c) and the usage bucket
 * struct shared by both (lava_usage_buckets_t) are expanded from this table;
 * t/unit/check_event_fields.c fails when docs/events.md or the SQL (the
 * events table's columns and enum CHECKs, book_batch()'s insert from its
 * staging table, dead_letter_stream_fields()) disagree with it.
 *
 * LAVA_EVENT_FIELDS(X, a) calls X(a, name, column, kind, required, max) per
 * field, in the order the module writes them:
 *
 *   name      stream field name, and the member in the module's values and
 *             in the sidecar's event_t (or in lava_usage_buckets_t)
 *   column    column of the events table, and of the COPY rows the
 *             sidecar sends to book_batch(); differs from name only where
 *             the stream is shorter (meter -> meter_slug)
 *   kind      what the value is:
 *               VERSION  "1" (LAVA_EVENT_VERSION), written first
 *               REQID    req_ + 26 Crockford base32
 *               INT      int64 >= 0, base-10 digits; an optional one is
 *                        absent as -1 (written and booked only when >= 0)
 *               ID       [A-Za-z0-9_.:-]{1,64}
 *               TEXT     UTF-8, no NUL, at most max bytes
 *               JSON     TEXT holding a JSON object (jsonb column)
 *               ENUM     one of LAVA_EVENT_VALUES_<name> (below), decoded
 *                        as its index, a <name>_e (sidecar/event.h)
 *               BOOL     "0" or "1"; boolean column
 *               BUCKET   a usage bucket: int64, written only when > 0 (an
 *                        absent bucket is 0), column bigint NOT NULL
 *                        DEFAULT 0
 *   required  1: an entry without it is poison; 0: may be absent or empty.
 *             The module leaves out every empty value, required or not.
 *   max       TEXT and JSON: most bytes the sidecar accepts (0 otherwise)
 *
 * Field order matters to no reader (the sidecar's content hash sorts the
 * fields); it is kept so that the entries stay what they were. `requests`
 * comes after usage_raw because it is written whenever the provider
 * answered, usage or not (the other buckets only with usage).
 *
 * Adding a usage bucket:
 *   1. a BUCKET row here (it becomes a member of lava_usage_buckets_t, so of
 *      lava_usage_t and of the sidecar's usage_t; the module writes it, the
 *      sidecar decodes and books it);
 *   2. the family parser in lib/lava_usage.c that fills it (and
 *      lib/lava_meter.c if it can be estimated), with fixtures in
 *      t/fixtures whose .expect files give it by its stream name
 *      (t/unit/check_usage.c, check_tap.c);
 *   3. its price: a price column of provider_rates (docs/pricing.md), read
 *      into rate_t by sidecar/rates.c and used by price_base() in
 *      sidecar/price.c, with a case in t/unit/check_price.c;
 *   4. SQL and docs: the events column (bigint NOT NULL DEFAULT 0 CHECK
 *      (... >= 0)), the column list of book_batch(), both lists of
 *      dead_letter_stream_fields(), a row in docs/events.md (and the views
 *      that show usage, if it should be shown);
 *      t/unit/check_event_fields.c (`make unit`) says what is missing.
 */
#ifndef LAVA_EVENT_FIELDS_H
#define LAVA_EVENT_FIELDS_H

#include <stdint.h>

#define LAVA_EVENT_VERSION      "1"
#define LAVA_EVENT_MAX_VALUE    65536   /* bytes of any one value */

/* the status field: an HTTP status the sidecar books (the module answers
 * 502 instead of relaying a provider's status outside it) */
#define LAVA_EVENT_STATUS_MIN   100
#define LAVA_EVENT_STATUS_MAX   599

/* the attempt field: at most this many attempts of one request (the events
 * column's CHECK says the same; the module caps its fallbacks far below) */
#define LAVA_EVENT_ATTEMPT_MAX  100

#define LAVA_EVENT_FIELDS(X, a)                                               \
    X(a, v,                     v,                     VERSION, 1, 0)         \
    X(a, request_id,            request_id,            REQID,   1, 0)         \
    X(a, ts_ms,                 ts_ms,                 INT,     1, 0)         \
    X(a, duration_ms,           duration_ms,           INT,     1, 0)         \
    X(a, ttfb_ms,               ttfb_ms,               INT,     0, 0)         \
    X(a, merchant_id,           merchant_id,           ID,      0, 0)         \
    X(a, customer_id,           customer_id,           ID,      0, 0)         \
    X(a, meter,                 meter_slug,            ID,      0, 0)         \
    X(a, payer,                 payer,                 ENUM,    1, 0)         \
    X(a, key_source,            key_source,            ENUM,    1, 0)         \
    X(a, provider,              provider,              ID,      0, 0)         \
    X(a, host,                  host,                  TEXT,    0, 255)       \
    X(a, endpoint,              endpoint,              TEXT,    0, 2048)      \
    X(a, method,                method,                TEXT,    1, 32)        \
    X(a, model,                 model,                 TEXT,    0, 256)       \
    X(a, status,                status,                INT,     1, 0)         \
    X(a, outcome,               outcome,               ENUM,    1, 0)         \
    X(a, error,                 error,                 TEXT,    0, 64)        \
    X(a, stream,                stream,                BOOL,    1, 0)         \
    X(a, usage_source,          usage_source,          ENUM,    1, 0)         \
    X(a, input_tokens,          input_tokens,          BUCKET,  0, 0)         \
    X(a, cached_input_tokens,   cached_input_tokens,   BUCKET,  0, 0)         \
    X(a, cache_write_tokens,    cache_write_tokens,    BUCKET,  0, 0)         \
    X(a, cache_write_1h_tokens, cache_write_1h_tokens, BUCKET,  0, 0)         \
    X(a, output_tokens,         output_tokens,         BUCKET,  0, 0)         \
    X(a, reasoning_tokens,      reasoning_tokens,      BUCKET,  0, 0)         \
    X(a, audio_input_tokens,    audio_input_tokens,    BUCKET,  0, 0)         \
    X(a, audio_output_tokens,   audio_output_tokens,   BUCKET,  0, 0)         \
    X(a, characters,            characters,            BUCKET,  0, 0)         \
    X(a, usage_duration_ms,     usage_duration_ms,     BUCKET,  0, 0)         \
    X(a, images,                images,                BUCKET,  0, 0)         \
    X(a, web_search_calls,      web_search_calls,      BUCKET,  0, 0)         \
    X(a, web_fetch_calls,       web_fetch_calls,       BUCKET,  0, 0)         \
    X(a, grounded_prompts,      grounded_prompts,      BUCKET,  0, 0)         \
    X(a, usage_raw,             usage_raw,             TEXT,    0,            \
      LAVA_EVENT_MAX_VALUE)                                                   \
    X(a, requests,              requests,              BUCKET,  0, 0)         \
    X(a, metadata,              metadata,              JSON,    0,            \
      LAVA_EVENT_MAX_VALUE)                                                   \
    X(a, bytes_out,             bytes_out,             INT,     0, 0)         \
    X(a, tap_flags,             tap_flags,             TEXT,    0, 256)       \
    X(a, spend_key_id,          spend_key_id,          ID,      0, 0)         \
    X(a, attempt,               attempt,               INT,     0, 0)         \
    X(a, attempt_of,            attempt_of,            REQID,   0, 0)


/*
 * The values of each ENUM field: V(value) each, in the order of the
 * sidecar's <name>_e (the index is the enum value). The events column has
 * the same values in its CHECK.
 */
#define LAVA_EVENT_VALUES_payer(V)         V(none) V(customer) V(merchant)
#define LAVA_EVENT_VALUES_key_source(V)    V(none) V(managed) V(byok)
#define LAVA_EVENT_VALUES_outcome(V)                                          \
    V(complete) V(client_abort) V(upstream_error) V(refused) V(worker_lost)
#define LAVA_EVENT_VALUES_usage_source(V)  V(none) V(reported) V(estimated)


/*
 * Per-kind dispatch: LAVA_EVENT_KIND(kind, P) is P##_<kind>, so a user
 * defines one macro per kind (P_VERSION, P_INT, ...) and lets the table pick.
 */
#define LAVA_EVENT_KIND(kind, p)  p##_##kind


/*
 * LAVA_USAGE_BUCKETS(X): X(name) for the BUCKET rows only, in table order.
 */
#define LAVA_USAGE_BUCKETS(X)                                                 \
    LAVA_EVENT_FIELDS(LAVA_EVB_ROW, X)

#define LAVA_EVB_ROW(x, name, column, kind, req, max)                         \
    LAVA_EVENT_KIND(kind, LAVA_EVB)(x, name)
#define LAVA_EVB_VERSION(x, name)
#define LAVA_EVB_REQID(x, name)
#define LAVA_EVB_INT(x, name)
#define LAVA_EVB_ID(x, name)
#define LAVA_EVB_TEXT(x, name)
#define LAVA_EVB_JSON(x, name)
#define LAVA_EVB_ENUM(x, name)
#define LAVA_EVB_BOOL(x, name)
#define LAVA_EVB_BUCKET(x, name)  x(name)


/*
 * Normalised usage buckets (docs/events.md), never overlapping; counts, or
 * milliseconds for usage_duration_ms. The module's lava_usage_t holds one
 * (lib/lava_usage.h) and the sidecar prices one (usage_t, sidecar/price.h).
 */
#define LAVA_USAGE_BUCKET_MEMBER(name)  int64_t name;

typedef struct {
    LAVA_USAGE_BUCKETS(LAVA_USAGE_BUCKET_MEMBER)
} lava_usage_buckets_t;


/* How many fields and buckets the table has (arrays sized from it). */
#define LAVA_EVENT_COUNT_ROW(a, name, column, kind, req, max)  + 1
#define LAVA_USAGE_COUNT_ROW(name)  + 1

enum {
    LAVA_EVENT_NFIELDS = 0 LAVA_EVENT_FIELDS(LAVA_EVENT_COUNT_ROW, _),
    LAVA_USAGE_NBUCKETS = 0 LAVA_USAGE_BUCKETS(LAVA_USAGE_COUNT_ROW)
};


/*
 * LAVA_EVENT_MAX_<name>: the max column of each row (bytes of a TEXT or JSON
 * value, 0 for other kinds), so that what the module checks before it
 * forwards a request (endpoint, method, model, ...) is the limit the sidecar
 * applies to the event, from this one table.
 */
#define LAVA_EVENT_MAX_ROW(a, name, column, kind, req, max)                   \
    LAVA_EVENT_MAX_##name = (max),

enum {
    LAVA_EVENT_FIELDS(LAVA_EVENT_MAX_ROW, _)
    LAVA_EVENT_MAX_ROWS_END
};

#endif
