/*
 * Stream translation (see lava_xlate_stream.h): the writers of client
 * events, one per client format, fed the internal form
 * (lava_xlate_stream_int.h) by the decoders of lava_xlate_stream.c.
 *
 * Client JSON is written directly (no jansson objects): keys in the order the
 * providers themselves use, strings escaped here, numbers as decimal
 * integers. Each event is complete when written, so the client can act on it
 * at once; what must wait is only what the client's format puts later than
 * the provider does (the finish reason and usage of an Anthropic or Gemini
 * client wait for the provider's usage, which an OpenAI stream sends after
 * its finish chunk).
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lava_buf.h"
#include "lava_xlate_stream_int.h"


#define XS_OB_MIN  1024


/* ---- output buffer ---- */

void
lava_xs_out(xs_t *s, const char *p, size_t n)
{
    if (s->olen + n < s->olen) {
        lava_xs_fail(s, "out of memory");
        return;
    }

    if (lava_buf_grow(&s->ob, &s->ocap, s->olen + n, XS_OB_MIN, SIZE_MAX / 2)
        != 0)
    {
        lava_xs_fail(s, "out of memory");
        return;
    }

    memcpy(s->ob + s->olen, p, n);
    s->olen += n;
}


/* a JSON string: quotes, escapes for '"', '\\' and control bytes; UTF-8 as
 * is (jansson validated the provider's strings) */
void
lava_xs_out_jstr(xs_t *s, const char *p, size_t n)
{
    static const char  hex[] = "0123456789abcdef";
    size_t             i, run;
    unsigned char      c;
    char               esc[6];

    lava_xs_out_lit(s, "\"");

    for (i = 0, run = 0; i < n; i++) {
        c = (unsigned char) p[i];

        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }

        lava_xs_out(s, p + run, i - run);
        run = i + 1;

        switch (c) {
        case '"':  lava_xs_out_lit(s, "\\\""); break;
        case '\\': lava_xs_out_lit(s, "\\\\"); break;
        case '\n': lava_xs_out_lit(s, "\\n"); break;
        case '\r': lava_xs_out_lit(s, "\\r"); break;
        case '\t': lava_xs_out_lit(s, "\\t"); break;
        default:
            esc[0] = '\\';
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            lava_xs_out(s, esc, 6);
            break;
        }
    }

    lava_xs_out(s, p + run, n - run);
    lava_xs_out_lit(s, "\"");
}


static void
xs_out_cstr(xs_t *s, const char *p)
{
    lava_xs_out_jstr(s, p, strlen(p));
}


/* v in decimal, as "%" PRId64 writes it (written by hand: snprintf was a
 * tenth of a translated event's cost) */
void
lava_xs_out_int(xs_t *s, int64_t v)
{
    char      b[24], *p;
    uint64_t  u;

    p = b + sizeof(b);
    u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;

    do {
        *--p = (char) ('0' + u % 10);
        u /= 10;
    } while (u);

    if (v < 0) {
        *--p = '-';
    }

    lava_xs_out(s, p, (size_t) (b + sizeof(b) - p));
}


static const char *
xs_model(xs_t *s)
{
    return s->model_override ? s->model_override : s->model;
}


/* the provider's tool call id, or call_<n> counting the answer's calls from
 * 1 (Gemini gives none; as lava_xlate_response names them) */
static void
xs_tool_id(xs_t *s, const char *id, size_t id_len)
{
    int  n;

    if (id != NULL && id_len) {
        if (id_len >= sizeof(s->tool_id)) {
            id_len = sizeof(s->tool_id) - 1;
        }

        memcpy(s->tool_id, id, id_len);
        s->tool_id[id_len] = '\0';
        return;
    }

    n = snprintf(s->tool_id, sizeof(s->tool_id), "call_%d", s->ntools + 1);
    if (n < 0) {
        s->tool_id[0] = '\0';
    }
}


/* ---- error types, finish reasons and usage: lava_xlate_map.h ---- */

/* statuses in the order a type is looked up by: the first whose name in the
 * format matches wins (Anthropic's api_error is 500, not 499) */
static const int  xs_err_statuses[] = {
    400, 401, 403, 404, 429, 500, 503, 402, 408, 409, 413, 504, 501, 529,
    499
};


int
lava_xs_err_status(lava_fmt_e fmt, const char *type, size_t len)
{
    size_t       i;
    const char  *name;

    if (type == NULL) {
        return 500;
    }

    /* OpenAI's codes for a rate limit and an exhausted quota */
    if (fmt == LAVA_FMT_OPENAI && len == 19
        && memcmp(type, "rate_limit_exceeded", 19) == 0)
    {
        return 429;
    }

    for (i = 0; i < sizeof(xs_err_statuses) / sizeof(xs_err_statuses[0]);
         i++)
    {
        name = lava_xlate_error_type(fmt, xs_err_statuses[i]);

        if (name && strlen(name) == len && memcmp(name, type, len) == 0) {
            return xs_err_statuses[i];
        }
    }

    return 500;
}


/* the client's finish reason; a stream that ended without one stopped */
static const char *
xs_fin_name(xs_t *s)
{
    return lava_xlate_finish_name(s->to, s->fin == LAVA_FINISH_NONE
                                         ? LAVA_FINISH_STOP : s->fin);
}


static int
xs_usage_same(const lava_xlate_usage_t *a, const lava_xlate_usage_t *b)
{
    return a->input == b->input && a->output == b->output
           && a->cached == b->cached && a->cache_write == b->cache_write
           && a->reasoning == b->reasoning && a->seen == b->seen;
}


/* the usage object in the client's format (as the JSON translator writes
 * it); kept as written while the usage stays the same (a Gemini client gets
 * it in every chunk) */
static void
xs_out_usage(xs_t *s)
{
    json_t  *u;
    char    *j;
    size_t   n;

    if (s->usage_js_len && xs_usage_same(&s->usage, &s->usage_js_of)) {
        lava_xs_out(s, s->usage_js, s->usage_js_len);
        return;
    }

    u = lava_xlate_usage_json(s->to, &s->usage);
    j = u ? json_dumps(u, JSON_COMPACT) : NULL;
    json_decref(u);

    if (j == NULL) {
        lava_xs_fail(s, "out of memory");
        return;
    }

    n = strlen(j);
    lava_xs_out(s, j, n);

    s->usage_js_len = 0;
    if (n < sizeof(s->usage_js)) {
        memcpy(s->usage_js, j, n);
        s->usage_js_len = n;
        s->usage_js_of = s->usage;
    }

    free(j);
}


/* the response id as the client's format writes it */
static const char *
xs_id(xs_t *s)
{
    if (s->cid[0] == '\0') {
        lava_xlate_id(s->from, s->to, s->id, s->cid, sizeof(s->cid));
    }

    return s->cid;
}


/* ---- OpenAI client: chat.completion.chunk ---- */

static void
xs_oa_head(xs_t *s)
{
    lava_xs_out_lit(s, "data: {\"id\":");
    xs_out_cstr(s, xs_id(s));
    lava_xs_out_lit(s, ",\"object\":\"chat.completion.chunk\",\"created\":");
    lava_xs_out_int(s, s->created);
    lava_xs_out_lit(s, ",\"model\":");
    xs_out_cstr(s, xs_model(s));
    lava_xs_out_lit(s, ",\"choices\":[");
}


/* a chunk whose one choice has delta `delta` (a JSON object) */
static void
xs_oa_choice_open(xs_t *s)
{
    xs_oa_head(s);
    lava_xs_out_lit(s, "{\"index\":0,\"delta\":");
}


static void
xs_oa_choice_close(xs_t *s, const char *finish)
{
    lava_xs_out_lit(s, ",\"logprobs\":null,\"finish_reason\":");

    if (finish) {
        xs_out_cstr(s, finish);
    } else {
        lava_xs_out_lit(s, "null");
    }

    lava_xs_out_lit(s, "}]}\n\n");
}


static void
xs_oa_finish(xs_t *s)
{
    if (s->fin_written) {
        return;
    }

    s->fin_written = 1;
    xs_oa_choice_open(s);
    lava_xs_out_lit(s, "{}");
    xs_oa_choice_close(s, xs_fin_name(s));
}


/* ---- Anthropic client ---- */

static void
xs_an_event(xs_t *s, const char *name)
{
    lava_xs_out_lit(s, "event: ");
    lava_xs_out(s, name, strlen(name));
    lava_xs_out_lit(s, "\ndata: ");
}


static void
xs_an_block_stop(xs_t *s)
{
    if (s->blk == XS_BLK_NONE) {
        return;
    }

    xs_an_event(s, "content_block_stop");
    lava_xs_out_lit(s, "{\"type\":\"content_block_stop\",\"index\":");
    lava_xs_out_int(s, s->blk_index - 1);
    lava_xs_out_lit(s, "}\n\n");
    s->blk = XS_BLK_NONE;
}


static void
xs_an_block_start(xs_t *s, int kind)
{
    xs_an_block_stop(s);

    xs_an_event(s, "content_block_start");
    lava_xs_out_lit(s, "{\"type\":\"content_block_start\",\"index\":");
    lava_xs_out_int(s, s->blk_index);

    if (kind == XS_BLK_TEXT) {
        lava_xs_out_lit(s, ",\"content_block\":{\"type\":\"text\","
                           "\"text\":\"\"}}\n\n");

    } else if (kind == XS_BLK_THINK) {
        /* no signature: another provider's reasoning cannot be verified
         * by Anthropic (as lava_xlate_response writes it) */
        lava_xs_out_lit(s, ",\"content_block\":{\"type\":\"thinking\","
                           "\"thinking\":\"\",\"signature\":\"\"}}\n\n");

    } else {
        lava_xs_out_lit(s, ",\"content_block\":{\"type\":\"tool_use\",\"id\":");
        xs_out_cstr(s, s->tool_id);
        lava_xs_out_lit(s, ",\"name\":");
        xs_out_cstr(s, s->tool_name);
        lava_xs_out_lit(s, ",\"input\":{}}}\n\n");
    }

    s->blk = kind;
    s->blk_index++;
}


static void
xs_an_delta_head(xs_t *s)
{
    xs_an_event(s, "content_block_delta");
    lava_xs_out_lit(s, "{\"type\":\"content_block_delta\",\"index\":");
    lava_xs_out_int(s, s->blk_index - 1);
}


/* ---- Gemini client ---- */

static void
xs_ge_head(xs_t *s)
{
    lava_xs_out_lit(s, "data: {\"candidates\":[{\"content\":{\"parts\":[");
}


static void
xs_ge_tail(xs_t *s, const char *finish)
{
    lava_xs_out_lit(s, "],\"role\":\"model\"}");

    if (finish) {
        lava_xs_out_lit(s, ",\"finishReason\":");
        xs_out_cstr(s, finish);
    }

    lava_xs_out_lit(s, ",\"index\":0}]");

    if (s->usage.seen) {
        lava_xs_out_lit(s, ",\"usageMetadata\":");
        xs_out_usage(s);
    }

    lava_xs_out_lit(s, ",\"modelVersion\":");
    xs_out_cstr(s, xs_model(s));
    lava_xs_out_lit(s, ",\"responseId\":");
    xs_out_cstr(s, xs_id(s));
    lava_xs_out_lit(s, "}\r\n\r\n");
}


/* the pending function call, whole: Gemini has no argument deltas. The
 * provider's argument deltas joined must be one JSON object; it is written
 * again compact (one member per name, as a client's JSON parser keeps it). */
static void
xs_ge_tool_flush(xs_t *s)
{
    size_t         i;
    char          *a;
    json_t        *o;
    json_error_t   jerr;

    if (s->blk != XS_BLK_TOOL) {
        return;
    }

    s->blk = XS_BLK_NONE;

    for (i = 0; i < s->args_len && (s->args[i] == ' ' || s->args[i] == '\t'
                                    || s->args[i] == '\r'
                                    || s->args[i] == '\n'); i++)
    {
        /* void */
    }

    if (i == s->args_len) {
        o = json_object();                  /* no arguments */

    } else {
        o = json_loadb(s->args, s->args_len, JSON_ALLOW_NUL, &jerr);
        if (!json_is_object(o)) {
            json_decref(o);
            lava_xs_fail(s, "a tool call's arguments are not a JSON object");
            return;
        }
    }

    a = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);

    if (a == NULL) {
        lava_xs_fail(s, "out of memory");
        return;
    }

    xs_ge_head(s);
    /* no id: Gemini pairs calls and results by name and order */
    lava_xs_out_lit(s, "{\"functionCall\":{\"name\":");
    xs_out_cstr(s, s->tool_name);
    lava_xs_out_lit(s, ",\"args\":");
    lava_xs_out(s, a, strlen(a));
    lava_xs_out_lit(s, "}}");
    xs_ge_tail(s, NULL);
    s->args_len = 0;
    free(a);
}


/* ---- the internal form ---- */

void
lava_xs_start(xs_t *s)
{
    if (s->started || s->err) {
        return;
    }

    s->started = 1;

    switch (s->to) {

    case LAVA_FMT_OPENAI:
        xs_oa_choice_open(s);
        lava_xs_out_lit(s, "{\"role\":\"assistant\",\"content\":\"\"}");
        xs_oa_choice_close(s, NULL);
        break;

    case LAVA_FMT_ANTHROPIC:
        xs_an_event(s, "message_start");
        lava_xs_out_lit(s, "{\"type\":\"message_start\",\"message\":{\"id\":");
        xs_out_cstr(s, xs_id(s));
        lava_xs_out_lit(s, ",\"type\":\"message\",\"role\":\"assistant\","
                           "\"model\":");
        xs_out_cstr(s, xs_model(s));
        lava_xs_out_lit(s, ",\"content\":[],\"stop_reason\":null,"
                      "\"stop_sequence\":null,\"usage\":");
        xs_out_usage(s);
        lava_xs_out_lit(s, "}}\n\n");
        break;

    default:
        /* a Gemini stream has no start of its own */
        break;
    }
}


void
lava_xs_text(xs_t *s, const char *p, size_t n)
{
    lava_xs_start(s);

    switch (s->to) {

    case LAVA_FMT_OPENAI:
        s->blk = XS_BLK_TEXT;
        xs_oa_choice_open(s);
        lava_xs_out_lit(s, "{\"content\":");
        lava_xs_out_jstr(s, p, n);
        lava_xs_out_lit(s, "}");
        xs_oa_choice_close(s, NULL);
        break;

    case LAVA_FMT_ANTHROPIC:
        if (s->blk != XS_BLK_TEXT) {
            xs_an_block_start(s, XS_BLK_TEXT);
        }

        xs_an_delta_head(s);
        lava_xs_out_lit(s, ",\"delta\":{\"type\":\"text_delta\",\"text\":");
        lava_xs_out_jstr(s, p, n);
        lava_xs_out_lit(s, "}}\n\n");
        break;

    default:
        xs_ge_tool_flush(s);
        s->blk = XS_BLK_TEXT;
        xs_ge_head(s);
        lava_xs_out_lit(s, "{\"text\":");
        lava_xs_out_jstr(s, p, n);
        lava_xs_out_lit(s, "}");
        xs_ge_tail(s, NULL);
        break;
    }
}


/* reasoning text: an Anthropic thinking block, a Gemini thought part; an
 * OpenAI chunk has no member for it (its tokens stay in the usage) */
void
lava_xs_reasoning(xs_t *s, const char *p, size_t n)
{
    lava_xs_start(s);

    switch (s->to) {

    case LAVA_FMT_OPENAI:
        break;

    case LAVA_FMT_ANTHROPIC:
        if (s->blk != XS_BLK_THINK) {
            xs_an_block_start(s, XS_BLK_THINK);
        }

        xs_an_delta_head(s);
        lava_xs_out_lit(s, ",\"delta\":{\"type\":\"thinking_delta\","
                           "\"thinking\":");
        lava_xs_out_jstr(s, p, n);
        lava_xs_out_lit(s, "}}\n\n");
        break;

    default:
        xs_ge_tool_flush(s);
        s->blk = XS_BLK_THINK;
        xs_ge_head(s);
        lava_xs_out_lit(s, "{\"text\":");
        lava_xs_out_jstr(s, p, n);
        lava_xs_out_lit(s, ",\"thought\":true}");
        xs_ge_tail(s, NULL);
        break;
    }
}


void
lava_xs_tool_start(xs_t *s, long key, const char *id, size_t id_len,
    const char *name, size_t name_len)
{
    lava_xs_start(s);

    if (s->blk == XS_BLK_TOOL && s->tool_key == key) {
        return;             /* the same call again: only its arguments */
    }

    if (name == NULL || name_len == 0) {
        lava_xs_fail(s, "a tool call without a name");
        return;
    }

    if (s->to == LAVA_FMT_GEMINI) {
        xs_ge_tool_flush(s);
    }

    xs_tool_id(s, id, id_len);

    if (name_len >= sizeof(s->tool_name)) {
        lava_xs_fail(s, "a tool name is over 255 bytes");
        return;
    }

    memcpy(s->tool_name, name, name_len);
    s->tool_name[name_len] = '\0';

    switch (s->to) {

    case LAVA_FMT_OPENAI:
        xs_oa_choice_open(s);
        lava_xs_out_lit(s, "{\"tool_calls\":[{\"index\":");
        lava_xs_out_int(s, s->ntools);
        lava_xs_out_lit(s, ",\"id\":");
        xs_out_cstr(s, s->tool_id);
        lava_xs_out_lit(s, ",\"type\":\"function\",\"function\":{\"name\":");
        xs_out_cstr(s, s->tool_name);
        lava_xs_out_lit(s, ",\"arguments\":\"\"}}]}");
        xs_oa_choice_close(s, NULL);
        break;

    case LAVA_FMT_ANTHROPIC:
        xs_an_block_start(s, XS_BLK_TOOL);
        break;

    default:
        s->args_len = 0;
        break;
    }

    s->blk = XS_BLK_TOOL;
    s->tool_key = key;
    s->ntools++;
}


void
lava_xs_tool_args(xs_t *s, long key, const char *p, size_t n)
{
    if (s->err) {
        return;
    }

    if (s->blk != XS_BLK_TOOL || s->tool_key != key) {
        lava_xs_fail(s, "tool call arguments out of order");
        return;
    }

    switch (s->to) {

    case LAVA_FMT_OPENAI:
        xs_oa_choice_open(s);
        lava_xs_out_lit(s, "{\"tool_calls\":[{\"index\":");
        lava_xs_out_int(s, s->ntools - 1);
        lava_xs_out_lit(s, ",\"function\":{\"arguments\":");
        lava_xs_out_jstr(s, p, n);
        lava_xs_out_lit(s, "}}]}");
        xs_oa_choice_close(s, NULL);
        break;

    case LAVA_FMT_ANTHROPIC:
        xs_an_delta_head(s);
        lava_xs_out_lit(s, ",\"delta\":{\"type\":\"input_json_delta\","
                      "\"partial_json\":");
        lava_xs_out_jstr(s, p, n);
        lava_xs_out_lit(s, "}}\n\n");
        break;

    default:
        if (n > LAVA_XLATE_STREAM_MAX_ARGS - s->args_len) {
            lava_xs_fail(s, "a tool call's arguments are over the size limit");
            return;
        }

        if (lava_buf_grow(&s->args, &s->args_cap, s->args_len + n, 256,
                          LAVA_XLATE_STREAM_MAX_ARGS)
            != 0)
        {
            lava_xs_fail(s, "out of memory");
            return;
        }

        memcpy(s->args + s->args_len, p, n);
        s->args_len += n;
        break;
    }
}


void
lava_xs_block_stop(xs_t *s)
{
    switch (s->to) {

    case LAVA_FMT_ANTHROPIC:
        xs_an_block_stop(s);
        break;

    case LAVA_FMT_GEMINI:
        xs_ge_tool_flush(s);
        break;

    default:
        break;
    }

    s->blk = XS_BLK_NONE;
}


void
lava_xs_finish(xs_t *s, lava_finish_e fin)
{
    lava_xs_start(s);
    s->fin = fin;

    switch (s->to) {

    case LAVA_FMT_OPENAI:
        xs_oa_finish(s);
        break;

    default:
        /* written at the end, with the usage the provider may still send */
        lava_xs_block_stop(s);
        break;
    }
}


void
lava_xs_end(xs_t *s)
{
    if (s->ended || s->err) {
        return;
    }

    s->ended = 1;
    lava_xs_start(s);
    lava_xs_block_stop(s);

    if (s->err) {
        return;
    }

    switch (s->to) {

    case LAVA_FMT_OPENAI:
        xs_oa_finish(s);

        if (s->usage.seen && !(s->opts & LAVA_XLATE_STREAM_NO_USAGE)) {
            xs_oa_head(s);
            lava_xs_out_lit(s, "],\"usage\":");
            xs_out_usage(s);
            lava_xs_out_lit(s, "}\n\n");
        }

        lava_xs_out_lit(s, "data: [DONE]\n\n");
        break;

    case LAVA_FMT_ANTHROPIC:
        xs_an_event(s, "message_delta");
        lava_xs_out_lit(s, "{\"type\":\"message_delta\",\"delta\":"
                           "{\"stop_reason\":");
        xs_out_cstr(s, xs_fin_name(s));
        lava_xs_out_lit(s, ",\"stop_sequence\":null},\"usage\":");
        xs_out_usage(s);
        lava_xs_out_lit(s, "}\n\n");

        xs_an_event(s, "message_stop");
        lava_xs_out_lit(s, "{\"type\":\"message_stop\"}\n\n");
        break;

    default:
        xs_ge_head(s);
        lava_xs_out_lit(s, "{\"text\":\"\"}");
        xs_ge_tail(s, xs_fin_name(s));
        break;
    }
}


void
lava_xs_error(xs_t *s, int status, const char *msg, size_t msg_len)
{
    const char  *type = lava_xlate_error_type(s->to, status);

    s->dead = 1;

    switch (s->to) {

    case LAVA_FMT_OPENAI:
        lava_xs_out_lit(s, "data: {\"error\":{\"message\":");
        lava_xs_out_jstr(s, msg, msg_len);
        lava_xs_out_lit(s, ",\"type\":");
        xs_out_cstr(s, type);
        lava_xs_out_lit(s, ",\"param\":null,\"code\":null}}\n\n");
        break;

    case LAVA_FMT_ANTHROPIC:
        xs_an_event(s, "error");
        lava_xs_out_lit(s, "{\"type\":\"error\",\"error\":{\"type\":");
        xs_out_cstr(s, type);
        lava_xs_out_lit(s, ",\"message\":");
        lava_xs_out_jstr(s, msg, msg_len);
        lava_xs_out_lit(s, "}}\n\n");
        break;

    default:
        lava_xs_out_lit(s, "data: {\"error\":{\"code\":");
        lava_xs_out_int(s, status);
        lava_xs_out_lit(s, ",\"message\":");
        lava_xs_out_jstr(s, msg, msg_len);
        lava_xs_out_lit(s, ",\"status\":");
        xs_out_cstr(s, type);
        lava_xs_out_lit(s, "}}\r\n\r\n");
        break;
    }
}


void
lava_xs_error_failure(xs_t *s)
{
    int  err = s->err;

    /* written even though s->err is set: the writers do not check it */
    s->err = 0;
    lava_xs_error(s, 500, s->errmsg, strlen(s->errmsg));
    s->err = err;
}
