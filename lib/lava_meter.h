/*
 * Metering decisions around the usage parsers: which endpoint a request is
 * (from the provider family and the path), what its body says (stream,
 * include_usage, text to be spoken, images asked for, prompt size), the
 * body rewrite that asks OpenAI-compatible streams for their usage, and the
 * final usage of a request: reported by the provider, counted from the
 * request where that is the billed unit, or estimated -- never silently
 * zero. Pure C, no I/O.
 */
#ifndef LAVA_METER_H
#define LAVA_METER_H

#include <stddef.h>
#include <stdint.h>

#include "lava_usage.h"

#define LAVA_METER_BYTES_PER_TOKEN  4     /* the documented estimate */


typedef struct {
    lava_endpoint_e      ep;
    lava_usage_format_e  fmt;            /* response usage format */
    const char          *model;          /* from the path (Gemini), or NULL */
    size_t               model_len;
    int                  openai_compat;  /* an OpenAI-compatible path on a
                                            provider with its own API */
    int                  metered;        /* the gateway bills what this
                                            endpoint costs (the endpoint
                                            policy: only these are served
                                            with a managed key) */
} lava_route_t;

/*
 * Classifies path (no query) of a request to a provider of usage format
 * provider_fmt. method is "POST", "GET", ... Never fails: unknown paths are
 * LAVA_EP_OTHER. Metered: the generation endpoints of each family, called
 * with the method that creates work (POST; GET only for Retell's get-call),
 * and every path of a family billed per request or from the standard
 * fields (usage none, custom). What is not metered is LAVA_EP_OTHER with
 * format none: a usage object in its answer (a stored completion, a batch
 * result) is never billed.
 */
void lava_meter_route(lava_usage_format_e provider_fmt, const char *method,
    size_t method_len, const char *path, size_t path_len, lava_route_t *rt);

/* 1 when a missing usage of this endpoint is booked as an estimate in
 * tokens (generation and embedding endpoints) */
int lava_meter_token_endpoint(lava_endpoint_e ep);


typedef struct {
    int      parsed;             /* the body was a JSON object */
    int      stream;             /* "stream": true */
    int      include_usage;      /* stream_options.include_usage: true */
    int      background;         /* "background": true (OpenAI Responses:
                                    answered queued, usage only later) */
    int64_t  n;                  /* "n" (images), 0 when absent */
    int64_t  characters;         /* TTS: Unicode characters of the text to
                                    speak; -1 not a TTS body */
    int64_t  text_bytes;         /* bytes of the prompt text (strings under
                                    messages/content/text/input/prompt/...)
                                    for estimates */
    int      model_too_long;     /* a model string longer than the event's
                                    LAVA_EVENT_MAX_model: refused */
    int      model_default;      /* model is the provider's documented
                                    default: the body named none */
    int      images_dalle2;      /* images: no member but those dall-e-2
                                    takes (prompt, n, response_format, user,
                                    a dall-e-2 size): OpenAI's default
                                    model applies (lava_meter_model_default) */
    char     model[LAVA_USAGE_MODEL_MAX];    /* the member the provider
                                                bills by: "model_id" on
                                                ElevenLabs, else "model" */
    int64_t  max_output;         /* tokens: the request's own bound on the
                                    answer (max_tokens, max_output_tokens,
                                    max_completion_tokens, Gemini's
                                    generationConfig.maxOutputTokens); 0 not
                                    stated (lava_request_max_output) */
    int      tools;              /* lava_tools_e: the server-side tools
                                    asked for are counted (0) or not */
} lava_request_t;

/* ElevenLabs' documented defaults when a body names no model_id */
#define LAVA_METER_ELEVENLABS_TTS_MODEL       "eleven_multilingual_v2"
#define LAVA_METER_ELEVENLABS_DIALOGUE_MODEL  "eleven_v3"

/*
 * 1 when the answer of this route never names its model (images, audio,
 * speech, Cohere's native endpoints): a request that names none either
 * would be booked unpriced, so the model must come from the request or from
 * the provider's documented default (lava_meter_model_default).
 */
int lava_meter_model_needed(const lava_route_t *rt);

/*
 * The model the provider documents it uses when a request of this route
 * names none, or NULL: none the gateway can rely on (the request must name
 * one). host is the provider host, path the provider path; rq the JSON body
 * read, or NULL (multipart, not JSON). OpenAI (api.openai.com): dall-e-2 for
 * image variations, and for generations whose body has only members
 * dall-e-2 takes (OpenAI picks a GPT image model when a parameter of those
 * is present, which one is not documented). ElevenLabs' defaults are set by
 * lava_request_inspect.
 */
const char *lava_meter_model_default(const char *host, size_t host_len,
    const lava_route_t *rt, const char *path, size_t path_len,
    const lava_request_t *rq);

#define LAVA_METER_OPENAI_IMAGES_MODEL  "dall-e-2"

/* Reads a JSON request body of endpoint ep, with the semantics of the
 * providers' parsers (escaped keys decoded, the last duplicate wins).
 * 0 read, -1 not a JSON object jansson can read, or one with a key that
 * is a member the meter reads but for its letter case (rq->parsed 0; the
 * other fields keep their defaults): not to be forwarded as if metered. */
int lava_request_inspect(lava_request_t *rq, lava_endpoint_e ep,
    const char *body, size_t len);

/* The same, with jansson parsing the whole body: the reference
 * lava_request_inspect() agrees with (its Check suite and fuzz target
 * compare them). lava_request_inspect() leaves the prompt members
 * ("messages", "contents", "system", ...) to the non-allocating scanner of
 * lib/lava_json_scan.c and parses only the rest with jansson; where the
 * scanner cannot be sure it agrees, it falls back to this. */
int lava_request_inspect_full(lava_request_t *rq, lava_endpoint_e ep,
    const char *body, size_t len);


/*
 * Adds "stream_options":{"include_usage":true} to a streaming chat request
 * body, changing nothing else: a member is inserted after the opening brace
 * (or into an existing stream_options object, or an include_usage false is
 * turned true). Keys are compared as a JSON parser reads them (escapes
 * decoded) and the member a parser would keep (the last of duplicates) is
 * the one rewritten; every other duplicate of a rewritten member is left
 * out, so the provider sees exactly one. out must hold len + 64 bytes.
 * Returns 1 rewritten (*out_len set), 0 nothing to do (already true),
 * -1 the body is not a JSON object whose members can be read.
 */
int lava_request_add_include_usage(const char *body, size_t len, char *out,
    size_t size, size_t *out_len);

#define LAVA_INCLUDE_USAGE_EXTRA  64


typedef enum {
    LAVA_SOURCE_NONE = 0,
    LAVA_SOURCE_REPORTED,
    LAVA_SOURCE_ESTIMATED
} lava_source_e;

/* what lava_meter_finish knows about the exchange */
typedef struct {
    lava_endpoint_e          ep;
    lava_usage_format_e      fmt;            /* response usage format: the
                                                family's default output
                                                bound */
    const lava_request_t    *rq;             /* NULL: body not read */
    size_t                   request_bytes;  /* request body size */
    unsigned                 status;         /* provider status, 0 none */
    int                      complete;       /* response relayed in full */
    int                      abandoned;      /* the client left and the
                                                answer was cut before its
                                                end (not drained to it) */
    int                      request_sent;   /* the provider got the
                                                request (it may bill) */
    size_t                   content_bytes;  /* tap: generated text bytes */
    int64_t                  character_cost; /* ElevenLabs character-cost
                                                header, -1 absent */
} lava_meter_in_t;

/* flags lava_meter_finish adds (tap_flags of the event, beside the tap's) */
#define LAVA_METER_F_FROM_REQUEST   0x100    /* billed unit read from the
                                                request (TTS text, images
                                                asked for) */
#define LAVA_METER_F_PARTIAL        0x200    /* the provider's usage was not
                                                final (stream cut short) */
#define LAVA_METER_F_MISSING        0x400    /* no usage of a metered unit,
                                                nothing to estimate from */
#define LAVA_METER_F_ERROR_EVENT    0x800    /* the stream carried an error
                                                event */
#define LAVA_METER_F_MODEL_DEFAULT  0x1000   /* priced at the provider's
                                                default model: the request
                                                named none */
#define LAVA_METER_F_ABORT          0x2000   /* the client left and the
                                                answer was not read to its
                                                final usage: the abort rule
                                                of docs/providers.md */
#define LAVA_METER_F_CAPPED         0x4000   /* an output estimate cut down
                                                to what the request could at
                                                most cost */
/* bits from the top down: the low ones are taken by other parts */
#define LAVA_METER_F_PER_REQUEST    0x40000000  /* billed per request alone
                                                (lava_provider_endpoint, a
                                                provider with usage none):
                                                priced only by request_nusd,
                                                never at zero for lack of
                                                it */
#define LAVA_METER_F_KEY_MASKED     0x20000000  /* the provider echoed the
                                                key it was sent: masked in
                                                the answer and the event */
#define LAVA_METER_F_WORKER_LOST    0x8000   /* the worker serving it died:
                                                booked by another from its
                                                in-flight record
                                                (lib/lava_inflight.h) */

/*
 * Output tokens a request of this family may produce when it states no bound
 * of its own: the largest output of the family's current models. Estimates
 * never bill more (a provider's gzip bomb, a runaway text).
 */
#define LAVA_METER_OUTPUT_MAX_OPENAI     128000
#define LAVA_METER_OUTPUT_MAX_ANTHROPIC  128000
#define LAVA_METER_OUTPUT_MAX_GEMINI     65536
#define LAVA_METER_OUTPUT_MAX_OTHER      128000
/* a stated bound is believed up to this (no model produces more) */
#define LAVA_METER_OUTPUT_MAX_STATED     1000000

/*
 * The most output tokens a request can cost: its own bound (rq->max_output)
 * or the family's default (LAVA_METER_OUTPUT_MAX_*), times n answers. It caps
 * the estimates of lava_meter_finish and is what a wallet reservation
 * reserves (lib/lava_reserve.h). rq NULL: the family's default.
 */
int64_t lava_meter_output_max(const lava_request_t *rq,
    lava_usage_format_e fmt);

/*
 * Completes u for the event and says where it came from. A provider error
 * (status >= 400) books nothing. Reported usage that is not final, and
 * missing usage of a token endpoint, become an estimate: input from the
 * request text, output from the generated text seen, one token per
 * LAVA_METER_BYTES_PER_TOKEN bytes rounded up (never below what the provider
 * reported).
 */
lava_source_e lava_meter_finish(lava_usage_t *u, const lava_meter_in_t *in,
    unsigned *flags);

const char *lava_meter_source_name(lava_source_e s);

/* "usage_from_request,usage_partial,..." appended to buf (len bytes used),
 * whole names only; returns the new length */
size_t lava_meter_flags_str(unsigned flags, char *buf, size_t len,
    size_t size);

#endif
