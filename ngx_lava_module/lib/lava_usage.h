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
    char     raw[LAVA_USAGE_RAW_MAX];       /* usage object as JSON text */
    size_t   raw_len;                       /* 0: none */
    int      seen;                          /* usage was found */
} lava_usage_t;

/* Name <-> enum for the provider table; -1 when unknown. */
int lava_usage_format_from_name(const char *name, size_t len);

/*
 * Reads one JSON document (a whole body or one SSE data payload) and updates u.
 * Returns 1 usage found, 0 valid JSON without usage, -1 not JSON / bad types.
 */
int lava_usage_parse(lava_usage_t *u, lava_usage_format_e fmt,
    const char *json, size_t len);

#endif
