/*
 * The translators' shared tables (lava_xlate_map.h). Static data and small
 * look-ups; jansson only for the usage objects.
 */
#include <stdio.h>
#include <string.h>

#include "lava_xlate_map.h"


/* ---- finish reasons ---------------------------------------------------- */

/* what each format writes for an internal reason */
static const char *lava_finish_out[LAVA_FINISH_N][LAVA_FMT_N] = {
    /* NONE */           { NULL, NULL, NULL },
    /* STOP */           { "stop", "end_turn", "STOP" },
    /* STOP_SEQUENCE */  { "stop", "stop_sequence", "STOP" },
    /* LENGTH */         { "length", "max_tokens", "MAX_TOKENS" },
    /* TOOL_CALLS */     { "tool_calls", "tool_use", "STOP" },
    /* CONTENT_FILTER */ { "content_filter", "refusal", "SAFETY" },
    /* CONTEXT */        { "length", "model_context_window_exceeded",
                           "MAX_TOKENS" },
    /* PAUSE */          { "stop", "pause_turn", "STOP" },
    /* OTHER */          { "stop", "end_turn", "OTHER" },
};

typedef struct {
    lava_fmt_e      fmt;
    const char     *name;
    lava_finish_e   finish;
} lava_finish_in_t;

/* what each format may send; names not listed are LAVA_FINISH_OTHER */
static const lava_finish_in_t  lava_finish_in[] = {
    { LAVA_FMT_OPENAI, "stop", LAVA_FINISH_STOP },
    { LAVA_FMT_OPENAI, "length", LAVA_FINISH_LENGTH },
    { LAVA_FMT_OPENAI, "tool_calls", LAVA_FINISH_TOOL_CALLS },
    { LAVA_FMT_OPENAI, "function_call", LAVA_FINISH_TOOL_CALLS },
    { LAVA_FMT_OPENAI, "content_filter", LAVA_FINISH_CONTENT_FILTER },

    { LAVA_FMT_ANTHROPIC, "end_turn", LAVA_FINISH_STOP },
    { LAVA_FMT_ANTHROPIC, "stop_sequence", LAVA_FINISH_STOP_SEQUENCE },
    { LAVA_FMT_ANTHROPIC, "max_tokens", LAVA_FINISH_LENGTH },
    { LAVA_FMT_ANTHROPIC, "tool_use", LAVA_FINISH_TOOL_CALLS },
    { LAVA_FMT_ANTHROPIC, "refusal", LAVA_FINISH_CONTENT_FILTER },
    { LAVA_FMT_ANTHROPIC, "model_context_window_exceeded",
      LAVA_FINISH_CONTEXT },
    { LAVA_FMT_ANTHROPIC, "pause_turn", LAVA_FINISH_PAUSE },

    { LAVA_FMT_GEMINI, "STOP", LAVA_FINISH_STOP },
    { LAVA_FMT_GEMINI, "MAX_TOKENS", LAVA_FINISH_LENGTH },
    { LAVA_FMT_GEMINI, "SAFETY", LAVA_FINISH_CONTENT_FILTER },
    { LAVA_FMT_GEMINI, "RECITATION", LAVA_FINISH_CONTENT_FILTER },
    { LAVA_FMT_GEMINI, "LANGUAGE", LAVA_FINISH_CONTENT_FILTER },
    { LAVA_FMT_GEMINI, "BLOCKLIST", LAVA_FINISH_CONTENT_FILTER },
    { LAVA_FMT_GEMINI, "PROHIBITED_CONTENT", LAVA_FINISH_CONTENT_FILTER },
    { LAVA_FMT_GEMINI, "SPII", LAVA_FINISH_CONTENT_FILTER },
    { LAVA_FMT_GEMINI, "IMAGE_SAFETY", LAVA_FINISH_CONTENT_FILTER },
    { LAVA_FMT_GEMINI, "FINISH_REASON_UNSPECIFIED", LAVA_FINISH_OTHER },
    { LAVA_FMT_GEMINI, "MALFORMED_FUNCTION_CALL", LAVA_FINISH_OTHER },
    { LAVA_FMT_GEMINI, "UNEXPECTED_TOOL_CALL", LAVA_FINISH_OTHER },
    { LAVA_FMT_GEMINI, "OTHER", LAVA_FINISH_OTHER },
};


lava_finish_e
lava_xlate_finish_parse(lava_fmt_e fmt, const char *name, size_t len,
    int has_tool_calls)
{
    size_t  i;

    if (name == NULL || len == 0) {
        return LAVA_FINISH_NONE;
    }

    for (i = 0; i < sizeof(lava_finish_in) / sizeof(lava_finish_in[0]); i++) {
        if (lava_finish_in[i].fmt == fmt
            && strlen(lava_finish_in[i].name) == len
            && memcmp(lava_finish_in[i].name, name, len) == 0)
        {
            if (fmt == LAVA_FMT_GEMINI
                && lava_finish_in[i].finish == LAVA_FINISH_STOP
                && has_tool_calls)
            {
                return LAVA_FINISH_TOOL_CALLS;
            }

            return lava_finish_in[i].finish;
        }
    }

    return LAVA_FINISH_OTHER;
}


const char *
lava_xlate_finish_name(lava_fmt_e fmt, lava_finish_e f)
{
    if ((unsigned) fmt >= LAVA_FMT_N || (unsigned) f >= LAVA_FINISH_N) {
        return NULL;
    }

    return lava_finish_out[f][fmt];
}


/* ---- usage -------------------------------------------------------------- */

const lava_xlate_usage_names_t  lava_xlate_usage_names[LAVA_FMT_N] = {
    /* OpenAI: prompt_tokens includes cached, completion_tokens includes
     * reasoning; cache writes are not an OpenAI member: written as
     * prompt_tokens_details.cache_write_tokens (OpenRouter's name) */
    { "usage", "prompt_tokens", "completion_tokens", "total_tokens",
      "prompt_tokens_details.cached_tokens",
      "prompt_tokens_details.cache_write_tokens",
      "completion_tokens_details.reasoning_tokens" },

    /* Anthropic: input_tokens excludes cache reads and writes; thinking is
     * inside output_tokens and not reported apart */
    { "usage", "input_tokens", "output_tokens", NULL,
      "cache_read_input_tokens", "cache_creation_input_tokens", NULL },

    /* Gemini: promptTokenCount includes cachedContentTokenCount,
     * candidatesTokenCount excludes thoughtsTokenCount; no cache writes */
    { "usageMetadata", "promptTokenCount", "candidatesTokenCount",
      "totalTokenCount", "cachedContentTokenCount", NULL,
      "thoughtsTokenCount" },
};


/* member "a" or "a.b" of obj as a non-negative integer, 0 otherwise */
static int64_t
lava_usage_get(const json_t *obj, const char *path)
{
    char         key[64];
    const char  *dot;
    size_t       n;
    json_t      *v;
    json_int_t   i;

    if (path == NULL || !json_is_object(obj)) {
        return 0;
    }

    dot = strchr(path, '.');

    if (dot != NULL) {
        n = (size_t) (dot - path);
        if (n >= sizeof(key)) {
            return 0;
        }
        memcpy(key, path, n);
        key[n] = '\0';
        return lava_usage_get(json_object_get(obj, key), dot + 1);
    }

    v = json_object_get(obj, path);

    if (json_is_integer(v)) {
        i = json_integer_value(v);
        return i > 0 ? (int64_t) i : 0;
    }

    if (json_is_real(v) && json_real_value(v) > 0
        && json_real_value(v) < 9.0e15)
    {
        return (int64_t) json_real_value(v);
    }

    return 0;
}


/* parts never exceed their totals in the internal form */
static void
lava_xlate_usage_clamp(lava_xlate_usage_t *u)
{
    if (u->cached > u->input) {
        u->cached = u->input;
    }
    if (u->cache_write > u->input - u->cached) {
        u->cache_write = u->input - u->cached;
    }
    if (u->reasoning > u->output) {
        u->reasoning = u->output;
    }
}


void
lava_xlate_usage_gemini(lava_xlate_usage_t *u, int64_t prompt,
    int64_t candidates, int64_t cached, int64_t thoughts,
    int64_t tool_prompt)
{
    memset(u, 0, sizeof(*u));

    u->seen = 1;
    u->cached = cached;
    u->reasoning = thoughts;
    /* tool-use prompt tokens (code execution, grounding) are input;
     * candidatesTokenCount excludes thoughts */
    u->input = prompt + tool_prompt;
    u->output = candidates + thoughts;

    lava_xlate_usage_clamp(u);
}


void
lava_xlate_usage_read(lava_fmt_e fmt, const json_t *obj,
    lava_xlate_usage_t *u)
{
    const lava_xlate_usage_names_t  *n;
    int64_t                          plain;

    memset(u, 0, sizeof(*u));

    if ((unsigned) fmt >= LAVA_FMT_N || !json_is_object(obj)) {
        return;
    }

    n = &lava_xlate_usage_names[fmt];

    if (fmt == LAVA_FMT_GEMINI) {
        lava_xlate_usage_gemini(u, lava_usage_get(obj, n->input),
                                lava_usage_get(obj, n->output),
                                lava_usage_get(obj, n->cached),
                                lava_usage_get(obj, n->reasoning),
                                lava_usage_get(obj,
                                               "toolUsePromptTokenCount"));
        return;
    }

    u->seen = 1;
    u->cached = lava_usage_get(obj, n->cached);
    u->cache_write = lava_usage_get(obj, n->cache_write);
    u->reasoning = lava_usage_get(obj, n->reasoning);

    switch (fmt) {

    case LAVA_FMT_ANTHROPIC:
        plain = lava_usage_get(obj, n->input);
        u->input = plain + u->cached + u->cache_write;
        u->output = lava_usage_get(obj, n->output);
        break;

    default:
        u->input = lava_usage_get(obj, n->input);
        u->output = lava_usage_get(obj, n->output);

        /* OpenAI-compatible hosts with their own cache member (as
         * lib/lava_usage.c reads them): DeepSeek, Moonshot */
        if (u->cached == 0) {
            u->cached = lava_usage_get(obj, "prompt_cache_hit_tokens");
        }
        if (u->cached == 0) {
            u->cached = lava_usage_get(obj, "cached_tokens");
        }
        break;
    }

    lava_xlate_usage_clamp(u);
}


static int
lava_usage_set(json_t *obj, const char *key, int64_t v)
{
    return json_object_set_new(obj, key, json_integer((json_int_t) v));
}


json_t *
lava_xlate_usage_json(lava_fmt_e fmt, const lava_xlate_usage_t *u)
{
    json_t  *o, *d;
    int      rc;

    o = json_object();
    if (o == NULL) {
        return NULL;
    }

    rc = 0;

    switch (fmt) {

    case LAVA_FMT_ANTHROPIC:
        rc |= lava_usage_set(o, "input_tokens",
                             u->input - u->cached - u->cache_write);
        rc |= lava_usage_set(o, "cache_creation_input_tokens", u->cache_write);
        rc |= lava_usage_set(o, "cache_read_input_tokens", u->cached);
        rc |= lava_usage_set(o, "output_tokens", u->output);
        break;

    case LAVA_FMT_GEMINI:
        rc |= lava_usage_set(o, "promptTokenCount", u->input);
        rc |= lava_usage_set(o, "candidatesTokenCount",
                             u->output - u->reasoning);
        rc |= lava_usage_set(o, "totalTokenCount", u->input + u->output);
        if (u->cached > 0) {
            rc |= lava_usage_set(o, "cachedContentTokenCount", u->cached);
        }
        if (u->reasoning > 0) {
            rc |= lava_usage_set(o, "thoughtsTokenCount", u->reasoning);
        }
        break;

    default:
        rc |= lava_usage_set(o, "prompt_tokens", u->input);
        rc |= lava_usage_set(o, "completion_tokens", u->output);
        rc |= lava_usage_set(o, "total_tokens", u->input + u->output);

        d = json_object();
        rc |= json_object_set_new(o, "prompt_tokens_details", d);
        if (d != NULL) {
            rc |= lava_usage_set(d, "cached_tokens", u->cached);
            if (u->cache_write > 0) {
                rc |= lava_usage_set(d, "cache_write_tokens", u->cache_write);
            }
        }

        d = json_object();
        rc |= json_object_set_new(o, "completion_tokens_details", d);
        if (d != NULL) {
            rc |= lava_usage_set(d, "reasoning_tokens", u->reasoning);
        }
        break;
    }

    if (rc != 0) {
        json_decref(o);
        return NULL;
    }

    return o;
}


/* ---- roles -------------------------------------------------------------- */

static const char *lava_role_out[4][LAVA_FMT_N] = {
    /* USER */      { "user", "user", "user" },
    /* ASSISTANT */ { "assistant", "assistant", "model" },
    /* SYSTEM */    { "system", NULL, NULL },
    /* TOOL */      { "tool", "user", "user" },
};


const char *
lava_xlate_role_name(lava_fmt_e fmt, lava_role_e role)
{
    if ((unsigned) fmt >= LAVA_FMT_N || (unsigned) role > LAVA_ROLE_TOOL) {
        return NULL;
    }

    return lava_role_out[role][fmt];
}


int
lava_xlate_role_parse(lava_fmt_e fmt, const char *name)
{
    if (name == NULL) {
        return -1;
    }

    if (strcmp(name, "user") == 0) {
        return LAVA_ROLE_USER;
    }

    switch (fmt) {

    case LAVA_FMT_OPENAI:
        if (strcmp(name, "assistant") == 0) {
            return LAVA_ROLE_ASSISTANT;
        }
        if (strcmp(name, "system") == 0 || strcmp(name, "developer") == 0) {
            return LAVA_ROLE_SYSTEM;
        }
        if (strcmp(name, "tool") == 0) {
            return LAVA_ROLE_TOOL;
        }
        break;

    case LAVA_FMT_ANTHROPIC:
        if (strcmp(name, "assistant") == 0) {
            return LAVA_ROLE_ASSISTANT;
        }
        break;

    case LAVA_FMT_GEMINI:
        if (strcmp(name, "model") == 0) {
            return LAVA_ROLE_ASSISTANT;
        }
        if (strcmp(name, "function") == 0) {
            return LAVA_ROLE_TOOL;
        }
        break;
    }

    return -1;
}


/* ---- error types -------------------------------------------------------- */

typedef struct {
    int          status;
    const char  *type[LAVA_FMT_N];
} lava_error_row_t;

static const lava_error_row_t  lava_error_rows[] = {
    { 400, { "invalid_request_error", "invalid_request_error",
             "INVALID_ARGUMENT" } },
    { 401, { "authentication_error", "authentication_error",
             "UNAUTHENTICATED" } },
    { 402, { "insufficient_quota", "billing_error", "FAILED_PRECONDITION" } },
    { 403, { "permission_error", "permission_error", "PERMISSION_DENIED" } },
    { 404, { "not_found_error", "not_found_error", "NOT_FOUND" } },
    { 408, { "timeout_error", "timeout_error", "DEADLINE_EXCEEDED" } },
    { 409, { "conflict_error", "invalid_request_error", "ABORTED" } },
    { 413, { "invalid_request_error", "request_too_large",
             "INVALID_ARGUMENT" } },
    { 429, { "rate_limit_error", "rate_limit_error", "RESOURCE_EXHAUSTED" } },
    { 499, { "cancelled", "api_error", "CANCELLED" } },
    { 500, { "server_error", "api_error", "INTERNAL" } },
    { 501, { "server_error", "api_error", "UNIMPLEMENTED" } },
    { 503, { "server_error", "overloaded_error", "UNAVAILABLE" } },
    { 504, { "timeout_error", "timeout_error", "DEADLINE_EXCEEDED" } },
    { 529, { "server_error", "overloaded_error", "UNAVAILABLE" } },
};


const char *
lava_xlate_error_type(lava_fmt_e fmt, int status)
{
    size_t  i;

    if ((unsigned) fmt >= LAVA_FMT_N) {
        fmt = LAVA_FMT_OPENAI;
    }

    for (i = 0; i < sizeof(lava_error_rows) / sizeof(lava_error_rows[0]); i++) {
        if (lava_error_rows[i].status == status) {
            return lava_error_rows[i].type[fmt];
        }
    }

    if (status >= 500) {
        return lava_error_rows[10].type[fmt];     /* as 500 */
    }

    return lava_error_rows[0].type[fmt];          /* as 400 */
}


/* ---- ids ---------------------------------------------------------------- */

static const char *lava_id_prefix[LAVA_FMT_N] = { "chatcmpl-", "msg_", "" };


const char *
lava_xlate_id_prefix(lava_fmt_e fmt)
{
    return (unsigned) fmt < LAVA_FMT_N ? lava_id_prefix[fmt] : "";
}


const char *
lava_xlate_id(lava_fmt_e from, lava_fmt_e to, const char *id, char *buf,
    size_t size)
{
    const char  *fp;
    size_t       n;

    if (size == 0) {
        return buf;
    }

    if (id == NULL || id[0] == '\0') {
        snprintf(buf, size, "%slava", lava_xlate_id_prefix(to));
        return buf;
    }

    fp = lava_xlate_id_prefix(from);
    n = strlen(fp);

    if (n > 0 && strncmp(id, fp, n) == 0 && id[n] != '\0') {
        id += n;
    }

    snprintf(buf, size, "%s%s", lava_xlate_id_prefix(to), id);
    return buf;
}
