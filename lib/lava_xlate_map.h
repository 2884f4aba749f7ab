/*
 * The tables the JSON and the stream translators share (lava_xlate.c,
 * lava_xlate_stream.c): finish/stop reasons, usage members, role names,
 * error types by status and id prefixes, per format. One row per meaning,
 * so adding a provider's new reason is one line (docs/translation.md shows
 * the same tables).
 */
#ifndef LAVA_XLATE_MAP_H
#define LAVA_XLATE_MAP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lava_xlate.h"


/* Why the model stopped, in the internal form. */
typedef enum {
    LAVA_FINISH_NONE = 0,        /* not finished (stream chunk), unknown */
    LAVA_FINISH_STOP,            /* natural end */
    LAVA_FINISH_STOP_SEQUENCE,   /* a stop sequence matched */
    LAVA_FINISH_LENGTH,          /* max tokens reached */
    LAVA_FINISH_TOOL_CALLS,      /* the model called tools */
    LAVA_FINISH_CONTENT_FILTER,  /* safety, recitation, refusal */
    LAVA_FINISH_CONTEXT,         /* context window full */
    LAVA_FINISH_PAUSE,           /* Anthropic pause_turn */
    LAVA_FINISH_OTHER            /* anything else the provider said */
} lava_finish_e;

#define LAVA_FINISH_N  9

/*
 * The provider's reason string (not NUL-terminated) -> internal. Unknown
 * names give LAVA_FINISH_OTHER, NULL/empty gives LAVA_FINISH_NONE.
 * Gemini has no tool reason: its STOP with a functionCall part is
 * LAVA_FINISH_TOOL_CALLS (has_tool_calls 1); OpenAI's legacy
 * "function_call" is LAVA_FINISH_TOOL_CALLS.
 */
lava_finish_e lava_xlate_finish_parse(lava_fmt_e fmt, const char *name,
    size_t len, int has_tool_calls);

/* internal -> the format's reason string (static); NULL for NONE */
const char *lava_xlate_finish_name(lava_fmt_e fmt, lava_finish_e f);


/*
 * Usage in the internal form: totals that include their parts, whatever
 * the provider's convention (Anthropic's input_tokens excludes cache reads
 * and writes; Gemini's candidatesTokenCount excludes thoughts).
 */
typedef struct {
    int64_t  input;          /* every prompt token: plain + cached + written */
    int64_t  output;         /* every generated token: visible + reasoning */
    int64_t  cached;         /* part of input read from the cache */
    int64_t  cache_write;    /* part of input written to the cache */
    int64_t  reasoning;      /* part of output spent thinking (0: unknown,
                                Anthropic does not report it apart) */
    int      seen;           /* a usage object was found */
} lava_xlate_usage_t;

/* Member names per format ("a.b" = member b of object a; NULL: none). */
typedef struct {
    const char  *object;     /* where usage lives in a response */
    const char  *input;
    const char  *output;
    const char  *total;
    const char  *cached;
    const char  *cache_write;
    const char  *reasoning;
} lava_xlate_usage_names_t;

extern const lava_xlate_usage_names_t  lava_xlate_usage_names[LAVA_FMT_N];

/*
 * Reads the format's usage object (OpenAI "usage", Anthropic "usage",
 * Gemini "usageMetadata": the object itself, not the whole body) into u,
 * adding nothing up twice. u is zeroed first; u->seen = obj is an object.
 */
void lava_xlate_usage_read(lava_fmt_e fmt, const json_t *obj,
    lava_xlate_usage_t *u);

/*
 * The internal form of Gemini's usageMetadata counts (what
 * lava_xlate_usage_read makes of them; for readers without a jansson
 * object, lava_xlate_stream_fast.c): prompt, candidates, cachedContent,
 * thoughts and toolUsePrompt token counts, each >= 0.
 */
void lava_xlate_usage_gemini(lava_xlate_usage_t *u, int64_t prompt,
    int64_t candidates, int64_t cached, int64_t thoughts,
    int64_t tool_prompt);

/* A new usage object in the format's shape (NULL: out of memory). */
json_t *lava_xlate_usage_json(lava_fmt_e fmt, const lava_xlate_usage_t *u);


/* Roles. */
typedef enum {
    LAVA_ROLE_USER = 0,
    LAVA_ROLE_ASSISTANT,
    LAVA_ROLE_SYSTEM,        /* OpenAI system/developer; Anthropic "system",
                                Gemini systemInstruction */
    LAVA_ROLE_TOOL           /* OpenAI tool message; Anthropic user
                                tool_result; Gemini user functionResponse
                                (role "user"; "function" accepted) */
} lava_role_e;

/* the role's name in the format's messages (static), NULL: not a message
 * role there (system for Anthropic and Gemini) */
const char *lava_xlate_role_name(lava_fmt_e fmt, lava_role_e role);

/* NUL-terminated name -> role, -1 unknown */
int lava_xlate_role_parse(lava_fmt_e fmt, const char *name);


/*
 * Error bodies: the type (OpenAI error.type, Anthropic error.type) or
 * status (Gemini error.status) a client expects for an HTTP status.
 */
const char *lava_xlate_error_type(lava_fmt_e fmt, int status);


/* The prefix of response ids ("chatcmpl-", "msg_", "" Gemini): an id moves
 * between formats with the source prefix replaced by the target's. */
const char *lava_xlate_id_prefix(lava_fmt_e fmt);

/*
 * id (NUL-terminated, NULL: none) from format `from` into buf as format
 * `to` would write it; a missing id gives "<prefix>lava" (ids are
 * informational; the request id stays in x-lava-request-id). Returns buf.
 */
const char *lava_xlate_id(lava_fmt_e from, lava_fmt_e to, const char *id,
    char *buf, size_t size);

#endif
