/*
 * Usage extraction: maps a provider's usage JSON into the normalised buckets
 * of docs/events.md. Cumulative counters are never summed: the last value seen
 * wins, and a document without usage never resets what was seen.
 */
#ifndef LAVA_USAGE_H
#define LAVA_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "lava_event_fields.h"

typedef enum {
    LAVA_USAGE_OPENAI = 0,   /* OpenAI and OpenAI-compatible hosts: chat,
                                responses, embeddings, images, audio */
    LAVA_USAGE_ANTHROPIC,    /* messages */
    LAVA_USAGE_GEMINI,       /* generateContent, streamGenerateContent */
    LAVA_USAGE_COHERE,       /* v1 and v2 chat, embed, rerank */
    LAVA_USAGE_CUSTOM,       /* usage.tokens / input_tokens / output_tokens / ... */
    LAVA_USAGE_ELEVENLABS,   /* speech-to-text duration (TTS: request text) */
    LAVA_USAGE_RETELL,       /* call duration of an ended call */
    LAVA_USAGE_NONE          /* request-based only; always the last */
} lava_usage_format_e;


/*
 * What a request does, from the provider family and the path (see
 * lava_meter.h): it decides which usage shapes are read, which request fields
 * count, and whether a missing usage is estimated.
 */
typedef enum {
    LAVA_EP_OTHER = 0,       /* anything else: billed per request */
    LAVA_EP_CHAT,            /* chat/completions, completions */
    LAVA_EP_RESPONSES,       /* POST responses */
    LAVA_EP_EMBEDDINGS,      /* OpenAI-style embeddings */
    LAVA_EP_IMAGES,          /* images/generations, edits, variations */
    LAVA_EP_TRANSCRIPTION,   /* audio/transcriptions, audio/translations */
    LAVA_EP_SPEECH,          /* audio/speech: characters of the input text */
    LAVA_EP_MESSAGES,        /* Anthropic messages */
    LAVA_EP_GENERATE,        /* Gemini generateContent, streamGenerateContent */
    LAVA_EP_EMBED,           /* Gemini embedContent, Cohere embed */
    LAVA_EP_COHERE_CHAT,     /* Cohere v1/v2 chat */
    LAVA_EP_RERANK,          /* Cohere rerank: search units */
    LAVA_EP_TTS,             /* ElevenLabs text-to-speech, text-to-dialogue */
    LAVA_EP_STT,             /* ElevenLabs speech-to-text */
    LAVA_EP_CALL             /* Retell get-call */
} lava_endpoint_e;

#define LAVA_USAGE_RAW_MAX   4096     /* bytes of provider usage JSON kept */
#define LAVA_USAGE_ITEMS_MAX 1024     /* Responses output items tracked */
/* bytes of a model name and its NUL: the event's model limit, so that a
 * model the gateway keeps is one the sidecar books */
#define LAVA_USAGE_MODEL_MAX (LAVA_EVENT_MAX_model + 1)

typedef struct {
    /* the buckets of lib/lava_event_fields.h, by name (u->input_tokens) or
     * as one lava_usage_buckets_t (u->buckets) */
    union {
        lava_usage_buckets_t  buckets;
        struct {
            LAVA_USAGE_BUCKETS(LAVA_USAGE_BUCKET_MEMBER)
        };
    };

    char     model[LAVA_USAGE_MODEL_MAX];   /* NUL-terminated, "" unknown */
    char     raw[LAVA_USAGE_RAW_MAX];       /* usage object as compact JSON,
                                               raw_len bytes, no NUL */
    size_t   raw_len;                       /* 0: none, or did not fit */
    int      seen;                          /* usage was found */

    /*
     * The usage seen is the provider's last word on this response: a body,
     * a final stream chunk (OpenAI-style chunk with a finish_reason or no
     * choices, Anthropic message_delta, Gemini chunk with a finishReason,
     * Responses API response.completed/incomplete/failed, Cohere
     * message-end). A stream cut after message_start or after some Gemini
     * running totals has seen but not final usage.
     */
    int      final;
    int      error_event;                   /* the stream carried an error
                                               event (Anthropic "error",
                                               Responses "error") */
    /*
     * Responses stream: the output_index of each web_search_call item of a
     * response.output_item.done event, one bit each (indexes below
     * LAVA_USAGE_ITEMS_MAX), so that the same event read twice counts once.
     * Their number is a floor for web_search_calls when the terminal event
     * is too big to be read.
     */
    uint64_t web_search_items[LAVA_USAGE_ITEMS_MAX / 64];
} lava_usage_t;

/* Name <-> enum for the provider table; -1 when unknown. */
int lava_usage_format_from_name(const char *name, size_t len);

/*
 * Reads one JSON document (a whole body or one SSE data payload) of endpoint
 * ep (lava_endpoint_e) and updates u. lava_usage_parse is ep LAVA_EP_OTHER:
 * every usage shape of the format is read, per-endpoint extras (image
 * counts) are not.
 */
int lava_usage_parse_ep(lava_usage_t *u, lava_usage_format_e fmt, int ep,
    const char *json, size_t len);

/*
 * The same with jansson parsing the whole document: the reference
 * lava_usage_parse_ep() agrees with (fuzz targets and Check suites compare
 * them). lava_usage_parse_ep() leaves out of jansson's parse the member
 * that holds a document's generated content where the parser never reads
 * it (Anthropic "content", OpenAI "choices" of a non-chunk document with a
 * "usage" object), after lib/lava_json_scan.c validated it.
 */
int lava_usage_parse_full(lava_usage_t *u, lava_usage_format_e fmt, int ep,
    const char *json, size_t len);

/*
 * Reads one JSON document (a whole body or one SSE data payload) and updates u.
 * Returns 1 usage found, 0 valid JSON without usage, -1 not JSON / bad types.
 * An empty payload and the SSE terminator "[DONE]" return 0.
 *
 * Per format (buckets as in docs/events.md):
 *   openai     top-level "usage" (chat completions body or chunk; null in
 *              ordinary chunks), else "x_groq.usage" (Groq; never both), else
 *              the first choice's "usage" (Moonshot streams);
 *              prompt/completion token details subtracted into cached,
 *              audio and reasoning buckets; DeepSeek prompt_cache_hit_tokens
 *              (Moonshot: usage.cached_tokens) when no details.cached_tokens;
 *              reasoning kept apart when total_tokens says it was not part
 *              of completion_tokens (xAI). The
 *              input_tokens/output_tokens shape (Responses API, images,
 *              transcriptions) and {"type":"duration","seconds"}; Responses
 *              API events read "response.usage"; images: the length of
 *              "data"; verbose transcriptions: "duration". "model".
 *              Responses API web searches: the "web_search_call" items of
 *              the response's "output" (body, terminal events), and each
 *              response.output_item.done event of one, whose action is a
 *              search (not open_page, find_in_page); web_search_calls is
 *              the larger of the two counts (they describe the same items).
 *   anthropic  "message" body, "message_start" (message.usage) and
 *              "message_delta" (usage, cumulative): each field present
 *              replaces the one seen before; raw is the merged object.
 *              server_tool_use.web_search_requests and web_fetch_requests
 *              (web_search_calls, web_fetch_calls) likewise.
 *   gemini     "usageMetadata" (running totals, last wins), "modelVersion";
 *              grounding with Google Search: the "webSearchQueries" of each
 *              candidate's "groundingMetadata" (web_search_calls) and one
 *              grounded prompt when any names a query or a web source
 *              (grounded_prompts), the largest seen in any chunk;
 *              a top-level array (streamGenerateContent without SSE) is read
 *              element by element.
 *   cohere     v2 "usage" or "delta.usage" (message-end), v1 "meta" or
 *              "response.meta"; billed_units preferred over tokens;
 *              billed search_units (rerank) into requests.
 *   elevenlabs speech-to-text: "audio_duration_secs", else the end of the
 *              last word (also per channel of "transcripts").
 *   retell     an ended call: "duration_ms", else
 *              "call_cost.total_duration_seconds".
 *   custom     "usage": tokens, input_tokens, output_tokens, characters,
 *              duration_seconds (decimal text, to ms, halves rounded up).
 *              "tokens" without input/output split counts as input tokens.
 */
int lava_usage_parse(lava_usage_t *u, lava_usage_format_e fmt,
    const char *json, size_t len);

/* 1 when s[0..n) is a model name the event and the ledger take: 1 to
 * LAVA_USAGE_MODEL_MAX - 1 bytes of printable ASCII, no space */
int lava_usage_model_ok(const char *s, size_t n);

/*
 * Copies s[0..n) and a NUL to model (LAVA_USAGE_MODEL_MAX bytes) when it is a
 * model name the event and the ledger take: 1 to LAVA_USAGE_MODEL_MAX - 1
 * bytes of printable ASCII, no space. 1 copied, 0 model left as it was.
 */
int lava_usage_model_set(char *model, const char *s, size_t n);

/*
 * Length of the JSON value (object, array, string or scalar) that starts at
 * p[0], strings and nesting respected; 0 when it does not end within n bytes.
 * Does not validate; used to cut a usage object out of a body tail.
 */
size_t lava_json_span(const char *p, size_t n);

/*
 * In the object at p (p[0] == '{'), finds the value of the last member whose
 * key is exactly `key` as written (no escapes): *v, *vlen its text. 1 found,
 * 0 not. Does not validate; stops at the first thing it cannot read.
 */
int lava_json_member(const char *p, size_t n, const char *key, const char **v,
    size_t *vlen);

#endif
