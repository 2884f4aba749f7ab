/*
 * Usage extraction: maps a provider's usage JSON into the normalised buckets
 * of docs/events.md. Cumulative counters are never summed: the last value seen
 * wins, and a document without usage never resets what was seen.
 */
#ifndef LAVA_USAGE_H
#define LAVA_USAGE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    LAVA_USAGE_OPENAI = 0,   /* chat completions, JSON and SSE chunks */
    LAVA_USAGE_ANTHROPIC,    /* messages (issue: every seed provider) */
    LAVA_USAGE_GEMINI,
    LAVA_USAGE_COHERE,
    LAVA_USAGE_CUSTOM,       /* usage.tokens / input_tokens / output_tokens / ... */
    LAVA_USAGE_NONE          /* request-based only */
} lava_usage_format_e;

#define LAVA_USAGE_RAW_MAX   4096     /* bytes of provider usage JSON kept */
#define LAVA_USAGE_MODEL_MAX 128

typedef struct {
    int64_t  input_tokens;
    int64_t  cached_input_tokens;
    int64_t  cache_write_tokens;
    int64_t  cache_write_1h_tokens;
    int64_t  output_tokens;
    int64_t  reasoning_tokens;
    int64_t  audio_input_tokens;
    int64_t  audio_output_tokens;
    int64_t  characters;
    int64_t  duration_ms;
    int64_t  requests;
    int64_t  images;

    char     model[LAVA_USAGE_MODEL_MAX];   /* NUL-terminated, "" unknown */
    char     raw[LAVA_USAGE_RAW_MAX];       /* usage object as compact JSON,
                                               raw_len bytes, no NUL */
    size_t   raw_len;                       /* 0: none, or did not fit */
    int      seen;                          /* usage was found */
} lava_usage_t;

/* Name <-> enum for the provider table; -1 when unknown. */
int lava_usage_format_from_name(const char *name, size_t len);

/*
 * Reads one JSON document (a whole body or one SSE data payload) and updates u.
 * Returns 1 usage found, 0 valid JSON without usage, -1 not JSON / bad types.
 * An empty payload and the SSE terminator "[DONE]" return 0.
 *
 * Per format (buckets as in docs/events.md):
 *   openai     top-level "usage" (chat completions body or chunk; null in
 *              ordinary chunks); prompt/completion token details subtracted
 *              into cached, audio and reasoning buckets; "model".
 *   anthropic  "message" body, "message_start" (message.usage) and
 *              "message_delta" (usage, cumulative): each field present
 *              replaces the one seen before; raw is the merged object.
 *   gemini     "usageMetadata" (running totals, last wins), "modelVersion";
 *              a top-level array (streamGenerateContent without SSE) is read
 *              element by element.
 *   cohere     v2 "usage" or "delta.usage" (message-end), v1 "meta" or
 *              "response.meta"; billed_units preferred over tokens.
 *   custom     "usage": tokens, input_tokens, output_tokens, characters,
 *              duration_seconds (decimal text, to ms, halves rounded up).
 *              "tokens" without input/output split counts as input tokens.
 */
int lava_usage_parse(lava_usage_t *u, lava_usage_format_e fmt,
    const char *json, size_t len);

/*
 * Length of the JSON value (object, array, string or scalar) that starts at
 * p[0], strings and nesting respected; 0 when it does not end within n bytes.
 * Does not validate; used to cut a usage object out of a body tail.
 */
size_t lava_json_span(const char *p, size_t n);

#endif
