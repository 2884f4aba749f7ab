/*
 * Stream translation (see lava_xlate_stream.h): the driver and the decoders
 * of provider events into the internal form (lava_xlate_stream_int.h).
 *
 * The SSE scanner (lava_sse.c) cuts the provider's bytes into events in any
 * split; the common text-delta events are decoded by the scanner fast path
 * (lava_xlate_stream_fast.c), every other event's data is parsed with jansson
 * and decoded by the provider's decoder here; both call the xs_* writers of
 * the client's format.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "lava_xlate_stream_int.h"


int  lava_xlate_stream_fast_on = 1;


/* ---- small jansson helpers: members by name, absent or wrong type = none */

static const char *
js_str(json_t *o, const char *key, size_t *len)
{
    json_t  *v = json_object_get(o, key);

    if (!json_is_string(v)) {
        *len = 0;
        return NULL;
    }

    *len = json_string_length(v);
    return json_string_value(v);
}


static int
js_int(json_t *o, const char *key, int64_t *out)
{
    json_t  *v = json_object_get(o, key);

    if (!json_is_integer(v)) {
        return 0;
    }

    *out = (int64_t) json_integer_value(v);
    if (*out < 0) {
        *out = 0;
    }

    return 1;
}


static void
js_copy(char *dst, size_t cap, const char *p, size_t n)
{
    if (p == NULL) {
        return;
    }

    if (n >= cap) {
        n = cap - 1;
    }

    memcpy(dst, p, n);
    dst[n] = '\0';
}


/* id and model of the answer, as the provider first gives them */
static void
xs_note_id_model(xs_t *s, json_t *o, const char *id_key,
    const char *model_key)
{
    const char  *p;
    size_t       n;

    if (s->id[0] == '\0' && (p = js_str(o, id_key, &n)) != NULL) {
        js_copy(s->id, sizeof(s->id), p, n);
    }

    if (s->model[0] == '\0' && (p = js_str(o, model_key, &n)) != NULL) {
        js_copy(s->model, sizeof(s->model), p, n);
    }
}


/* ---- OpenAI chat.completion.chunk ---- */

static void
xs_openai_tool_calls(xs_t *s, json_t *calls)
{
    size_t        i, id_len, name_len, args_len;
    json_t       *c, *fn;
    json_int_t    key;
    const char   *id, *name, *args;

    json_array_foreach(calls, i, c) {
        if (!json_is_object(c)) {
            lava_xs_fail(s, "a tool call delta is not an object");
            return;
        }

        key = json_is_integer(json_object_get(c, "index"))
              ? json_integer_value(json_object_get(c, "index"))
              : (json_int_t) i;

        fn = json_object_get(c, "function");
        id = js_str(c, "id", &id_len);
        name = json_is_object(fn) ? js_str(fn, "name", &name_len) : NULL;
        args = json_is_object(fn) ? js_str(fn, "arguments", &args_len) : NULL;

        if (id != NULL || name != NULL) {
            lava_xs_tool_start(s, (long) key, id, id ? id_len : 0, name,
                          name ? name_len : 0);
        }

        if (args != NULL && args_len) {
            lava_xs_tool_args(s, (long) key, args, args_len);
        }

        if (s->err) {
            return;
        }
    }
}


static void
xs_openai_event(xs_t *s, json_t *o)
{
    json_t       *choices, *c, *delta, *err, *u, *fr;
    size_t        i, n;
    const char   *p;
    json_int_t    idx;

    err = json_object_get(o, "error");
    if (json_is_object(err)) {
        int          status;
        const char  *t = js_str(err, "type", &n);

        status = lava_xs_err_status(LAVA_FMT_OPENAI, t, t ? n : 0);
        if (status == 500 && (t = js_str(err, "code", &n)) != NULL) {
            status = lava_xs_err_status(LAVA_FMT_OPENAI, t, n);
        }

        p = js_str(err, "message", &n);
        lava_xs_error(s, status, p ? p : "", p ? n : 0);
        return;
    }

    xs_note_id_model(s, o, "id", "model");

    if (s->created == 0 || !s->started) {
        json_t  *cr = json_object_get(o, "created");

        if (json_is_integer(cr)) {
            s->created = (long long) json_integer_value(cr);
        }
    }

    lava_xs_start(s);

    choices = json_object_get(o, "choices");

    json_array_foreach(choices, i, c) {
        if (!json_is_object(c)) {
            lava_xs_fail(s, "a choice is not an object");
            return;
        }

        idx = json_is_integer(json_object_get(c, "index"))
              ? json_integer_value(json_object_get(c, "index")) : 0;

        if (idx != 0) {
            lava_xs_fail(s, "a second choice (n > 1) cannot be translated");
            return;
        }

        delta = json_object_get(c, "delta");

        if (json_is_object(delta)) {
            p = js_str(delta, "content", &n);
            if (p != NULL && n) {
                lava_xs_text(s, p, n);
            }

            /* a refusal (structured outputs) is what the model said, and
             * the content filter's finish (as lava_xlate_response) */
            p = js_str(delta, "refusal", &n);
            if (p != NULL) {
                s->refused = 1;
                if (n) {
                    lava_xs_text(s, p, n);
                }
            }

            /* reasoning text of OpenAI-compatible hosts (DeepSeek, ...) */
            p = js_str(delta, "reasoning_content", &n);
            if (p != NULL && n) {
                lava_xs_reasoning(s, p, n);
            }

            if (json_is_array(json_object_get(delta, "tool_calls"))) {
                xs_openai_tool_calls(s, json_object_get(delta, "tool_calls"));
            }
        }

        fr = json_object_get(c, "finish_reason");
        if (json_is_string(fr)) {
            lava_xs_finish(s, s->refused ? LAVA_FINISH_CONTENT_FILTER
                           : lava_xlate_finish_parse(LAVA_FMT_OPENAI,
                                 json_string_value(fr),
                                 json_string_length(fr), 0));
        }

        if (s->err) {
            return;
        }
    }

    u = json_object_get(o, "usage");
    if (json_is_object(u)) {
        lava_xlate_usage_read(LAVA_FMT_OPENAI, u, &s->usage);
    }
}


/* ---- Anthropic Messages events ---- */

/* Anthropic sends usage twice (message_start, message_delta), the second
 * time perhaps only output_tokens: members present replace, others stay */
static void
xs_anthropic_usage(xs_t *s, json_t *u)
{
    lava_xlate_usage_t  *x = &s->usage;
    int64_t              v;

    js_int(u, "input_tokens", &s->an_input);

    if (js_int(u, "cache_read_input_tokens", &v)) {
        x->cached = v;
    }

    if (js_int(u, "cache_creation_input_tokens", &v)) {
        x->cache_write = v;
    }

    if (js_int(u, "output_tokens", &v)) {
        x->output = v;
    }

    x->input = s->an_input + x->cached + x->cache_write;
    x->seen = 1;
}


static void
xs_anthropic_event(xs_t *s, const char *name, json_t *o)
{
    const char  *type, *p, *q;
    size_t       tn, n, qn;
    json_t      *m, *b, *d, *u, *e;
    int          status;

    type = js_str(o, "type", &tn);
    if (type == NULL) {
        type = name;
        tn = strlen(name);
    }

#define IS(lit)  (tn == sizeof(lit) - 1 && memcmp(type, lit, tn) == 0)

    if (IS("message_start")) {
        m = json_object_get(o, "message");
        if (!json_is_object(m)) {
            lava_xs_fail(s, "message_start without a message");
            return;
        }

        xs_note_id_model(s, m, "id", "model");

        u = json_object_get(m, "usage");
        if (json_is_object(u)) {
            xs_anthropic_usage(s, u);
        }

        lava_xs_start(s);
        return;
    }

    if (IS("content_block_start")) {
        lava_xs_start(s);

        b = json_object_get(o, "content_block");
        p = json_is_object(b) ? js_str(b, "type", &n) : NULL;
        s->src_blk = -1;

        if (p && n == 4 && memcmp(p, "text", 4) == 0) {
            s->src_blk = XS_BLK_TEXT;
            q = js_str(b, "text", &qn);
            if (q && qn) {
                lava_xs_text(s, q, qn);
            }

        } else if (p && n == 8 && memcmp(p, "thinking", 8) == 0) {
            s->src_blk = XS_BLK_THINK;
            q = js_str(b, "thinking", &qn);
            if (q && qn) {
                lava_xs_reasoning(s, q, qn);
            }

        } else if (p && n == 8 && memcmp(p, "tool_use", 8) == 0) {
            s->src_blk = XS_BLK_TOOL;
            p = js_str(b, "id", &n);
            q = js_str(b, "name", &qn);
            lava_xs_tool_start(s, s->src_tools, p, n, q, qn);
            /* a complete input given here (none streamed after it) */
            d = json_object_get(b, "input");
            if (json_is_object(d) && json_object_size(d)) {
                char  *a = json_dumps(d, JSON_COMPACT);

                if (a == NULL) {
                    lava_xs_fail(s, "out of memory");
                    return;
                }

                lava_xs_tool_args(s, s->src_tools, a, strlen(a));
                free(a);
            }
        }

        /* other blocks (redacted_thinking, server tools and their
         * results) have no counterpart: their events are skipped; so are
         * signatures (another provider cannot check them) */
        return;
    }

    if (IS("content_block_delta")) {
        d = json_object_get(o, "delta");
        p = json_is_object(d) ? js_str(d, "type", &n) : NULL;

        if (p == NULL) {
            lava_xs_fail(s, "content_block_delta without a delta type");
            return;
        }

        if (s->src_blk == XS_BLK_TEXT && n == 10
            && memcmp(p, "text_delta", 10) == 0)
        {
            q = js_str(d, "text", &qn);
            if (q && qn) {
                lava_xs_text(s, q, qn);
            }

        } else if (s->src_blk == XS_BLK_THINK && n == 14
                   && memcmp(p, "thinking_delta", 14) == 0)
        {
            q = js_str(d, "thinking", &qn);
            if (q && qn) {
                lava_xs_reasoning(s, q, qn);
            }

        } else if (s->src_blk == XS_BLK_TOOL && n == 16
                   && memcmp(p, "input_json_delta", 16) == 0)
        {
            q = js_str(d, "partial_json", &qn);
            if (q && qn) {
                lava_xs_tool_args(s, s->src_tools, q, qn);
            }
        }

        return;
    }

    if (IS("content_block_stop")) {
        if (s->src_blk == XS_BLK_TOOL) {
            s->src_tools++;
        }

        if (s->src_blk > 0) {
            lava_xs_block_stop(s);
        }

        s->src_blk = XS_BLK_NONE;
        return;
    }

    if (IS("message_delta")) {
        u = json_object_get(o, "usage");
        if (json_is_object(u)) {
            xs_anthropic_usage(s, u);
        }

        d = json_object_get(o, "delta");
        p = json_is_object(d) ? js_str(d, "stop_reason", &n) : NULL;
        if (p != NULL) {
            lava_xs_finish(s, lava_xlate_finish_parse(LAVA_FMT_ANTHROPIC,
                                                      p, n, 0));
        }

        return;
    }

    if (IS("message_stop")) {
        lava_xs_end(s);
        return;
    }

    if (IS("error")) {
        e = json_object_get(o, "error");
        p = json_is_object(e) ? js_str(e, "type", &n) : NULL;
        status = lava_xs_err_status(LAVA_FMT_ANTHROPIC, p, p ? n : 0);
        p = json_is_object(e) ? js_str(e, "message", &n) : NULL;
        lava_xs_error(s, status, p ? p : "", p ? n : 0);
        return;
    }

    /* ping and event types added later: nothing to translate */
#undef IS
}


/* ---- Gemini GenerateContentResponse chunks ---- */

static void
xs_gemini_parts(xs_t *s, json_t *parts)
{
    size_t       i, n, idn;
    json_t      *part, *fc, *args;
    const char  *p, *id;
    char        *a;

    json_array_foreach(parts, i, part) {
        if (!json_is_object(part)) {
            lava_xs_fail(s, "a part is not an object");
            return;
        }

        p = js_str(part, "text", &n);
        if (p != NULL) {
            if (n == 0) {
                continue;
            }

            if (json_is_true(json_object_get(part, "thought"))) {
                lava_xs_reasoning(s, p, n);     /* a thought summary */
            } else {
                lava_xs_text(s, p, n);
            }

            continue;
        }

        fc = json_object_get(part, "functionCall");
        if (json_is_object(fc)) {
            p = js_str(fc, "name", &n);
            id = js_str(fc, "id", &idn);
            lava_xs_tool_start(s, s->src_tools, id, idn, p, n);

            args = json_object_get(fc, "args");
            if (json_is_object(args)) {
                a = json_dumps(args, JSON_COMPACT);
                if (a == NULL) {
                    lava_xs_fail(s, "out of memory");
                    return;
                }

                lava_xs_tool_args(s, s->src_tools, a, strlen(a));
                free(a);

            } else {
                lava_xs_tool_args(s, s->src_tools, "{}", 2);
            }
            lava_xs_block_stop(s);
            s->src_tools++;
        }

        if (s->err) {
            return;
        }
    }
}


static void
xs_gemini_event(xs_t *s, json_t *o)
{
    json_t       *err, *cands, *c, *content, *fr, *pf, *u;
    size_t        i, n;
    const char   *p;
    json_int_t    idx;
    int           status;
    lava_finish_e fin = LAVA_FINISH_NONE;

    err = json_object_get(o, "error");
    if (json_is_object(err)) {
        json_t  *code = json_object_get(err, "code");

        p = js_str(err, "status", &n);
        if (json_is_integer(code) && json_integer_value(code) >= 400
            && json_integer_value(code) <= 599)
        {
            status = (int) json_integer_value(code);
        } else {
            status = lava_xs_err_status(LAVA_FMT_GEMINI, p, p ? n : 0);
        }

        p = js_str(err, "message", &n);
        lava_xs_error(s, status, p ? p : "", p ? n : 0);
        return;
    }

    xs_note_id_model(s, o, "responseId", "modelVersion");

    u = json_object_get(o, "usageMetadata");
    if (json_is_object(u)) {
        lava_xlate_usage_read(LAVA_FMT_GEMINI, u, &s->usage);
    }

    lava_xs_start(s);

    cands = json_object_get(o, "candidates");

    json_array_foreach(cands, i, c) {
        if (!json_is_object(c)) {
            lava_xs_fail(s, "a candidate is not an object");
            return;
        }

        idx = json_is_integer(json_object_get(c, "index"))
              ? json_integer_value(json_object_get(c, "index")) : 0;

        if (idx != 0) {
            lava_xs_fail(s, "a second candidate cannot be translated");
            return;
        }

        content = json_object_get(c, "content");
        if (json_is_object(content)
            && json_is_array(json_object_get(content, "parts")))
        {
            xs_gemini_parts(s, json_object_get(content, "parts"));
            if (s->err) {
                return;
            }
        }

        fr = json_object_get(c, "finishReason");
        if (json_is_string(fr)) {
            fin = lava_xlate_finish_parse(LAVA_FMT_GEMINI,
                                          json_string_value(fr),
                                          json_string_length(fr),
                                          s->src_tools > 0);
        }
    }

    /* a blocked prompt: no candidates, a block reason */
    pf = json_object_get(o, "promptFeedback");
    if (fin == LAVA_FINISH_NONE && json_is_object(pf)
        && json_is_string(json_object_get(pf, "blockReason")))
    {
        fin = LAVA_FINISH_CONTENT_FILTER;
    }

    if (fin != LAVA_FINISH_NONE) {
        lava_xs_finish(s, fin);
    }
}


/* ---- the driver ---- */

void
lava_xs_fail(xs_t *s, const char *what)
{
    if (s->err) {
        return;
    }

    s->err = 1;
    snprintf(s->errmsg, sizeof(s->errmsg), "stream translation failed: %s",
             what);
}


static int
xs_on_event(void *data, const char *event, size_t event_len,
    const char *payload, size_t payload_len)
{
    xs_t          *s = data;
    json_t        *o;
    json_error_t   jerr;

    if (s->err) {
        return 1;
    }

    if (s->dead || s->ended) {
        return 0;           /* after the provider's last word */
    }

    if (s->from == LAVA_FMT_OPENAI && payload_len == 6
        && memcmp(payload, "[DONE]", 6) == 0)
    {
        lava_xs_end(s);
        return s->err;
    }

    if (lava_xlate_stream_fast_on
        && lava_xs_fast_event(s, payload, payload_len) == 0)
    {
        s->fast_events++;
        return s->err;
    }

    o = json_loadb(payload, payload_len, JSON_ALLOW_NUL, &jerr);
    if (!json_is_object(o)) {
        json_decref(o);
        lava_xs_fail(s, "a provider event is not a JSON object");
        return 1;
    }

    switch (s->from) {

    case LAVA_FMT_OPENAI:
        xs_openai_event(s, o);
        break;

    case LAVA_FMT_ANTHROPIC:
        xs_anthropic_event(s, event, o);
        break;

    default:
        xs_gemini_event(s, o);
        break;
    }

    json_decref(o);
    return s->err;
}


/* the provider's too-big event: a failure, not a silent drop */
static int
xs_on_tail(void *data, const char *event, size_t event_len,
    const char *payload, size_t payload_len)
{
    lava_xs_fail(data, "a provider event is over the size limit");
    return 1;
}


lava_xlate_stream_t *
lava_xlate_stream_new(lava_fmt_e from, lava_fmt_e to, const char *model)
{
    xs_t  *s;

    if ((unsigned) from > LAVA_FMT_GEMINI || (unsigned) to > LAVA_FMT_GEMINI) {
        return NULL;
    }

    s = calloc(1, sizeof(xs_t));
    if (s == NULL) {
        return NULL;
    }

    s->from = from;
    s->to = to;
    s->created = (long long) time(NULL);

    if (model != NULL) {
        s->model_override = strdup(model);
        if (s->model_override == NULL) {
            free(s);
            return NULL;
        }
    }

    lava_sse_init(&s->sse, LAVA_XLATE_STREAM_MAX_EVENT, xs_on_event, s);
    lava_sse_set_tail(&s->sse, xs_on_tail);

    return s;
}


void
lava_xlate_stream_set_opts(lava_xlate_stream_t *s, unsigned opts)
{
    s->opts = opts;
}


void
lava_xlate_stream_set_created(lava_xlate_stream_t *s, long long created)
{
    s->created = created;
}


int
lava_xlate_stream_complete(const lava_xlate_stream_t *s)
{
    return s->ended;
}


const char *
lava_xlate_stream_error(const lava_xlate_stream_t *s)
{
    return s->err ? s->errmsg : NULL;
}


/* moves this call's client bytes to out (NULL: they stay for
 * lava_xlate_stream_take); -1 when out of memory */
static int
xs_flush(xs_t *s, lava_xlate_buf_t *out)
{
    char  *nb;

    if (s->olen == 0 || out == NULL) {
        return 0;
    }

    nb = realloc(out->data, out->len + s->olen);
    if (nb == NULL) {
        s->olen = 0;
        return -1;
    }

    memcpy(nb + out->len, s->ob, s->olen);
    out->data = nb;
    out->len += s->olen;
    s->olen = 0;

    return 0;
}


static int
xs_done(xs_t *s, int was_err, lava_xlate_buf_t *out)
{
    if (s->err && !was_err) {
        /* this call met the failure: tell the client in its own shape */
        lava_xs_error_failure(s);
    }

    if (xs_flush(s, out) != 0) {
        lava_xs_fail(s, "out of memory");
        return -1;
    }

    return s->err ? -1 : 0;
}


static int
xs_pass(xs_t *s, const char *in, size_t len, lava_xlate_buf_t *out)
{
    char  *nb;

    if (len == 0) {
        return 0;
    }

    if (out == NULL) {
        lava_xs_out(s, in, len);
        return s->err ? -1 : 0;
    }

    nb = realloc(out->data, out->len + len);
    if (nb == NULL) {
        lava_xs_fail(s, "out of memory");
        return -1;
    }

    memcpy(nb + out->len, in, len);
    out->data = nb;
    out->len += len;

    return 0;
}


int
lava_xlate_stream_feed(lava_xlate_stream_t *s, const char *in, size_t len,
    lava_xlate_buf_t *out)
{
    int  was_err = s->err;

    if (s->err) {
        return -1;
    }

    if (s->from == s->to) {
        return xs_pass(s, in, len, out);
    }

    if (lava_sse_feed(&s->sse, in, len) != LAVA_SSE_OK) {
        lava_xs_fail(s, "out of memory");
    }

    return xs_done(s, was_err, out);
}


int
lava_xlate_stream_finish(lava_xlate_stream_t *s, lava_xlate_buf_t *out)
{
    int  was_err = s->err;

    if (s->err) {
        return -1;
    }

    if (s->from == s->to) {
        return 0;
    }

    if (lava_sse_finish(&s->sse) != LAVA_SSE_OK) {
        lava_xs_fail(s, "out of memory");
    }

    /* a Gemini stream has no end marker: it ends at EOF, properly when a
     * finish reason was read; so does an OpenAI-compatible stream without
     * [DONE] or an Anthropic one cut after its message_delta */
    if (!s->err && !s->dead && !s->ended && s->fin != LAVA_FINISH_NONE)
    {
        lava_xs_end(s);
    }

    return xs_done(s, was_err, out);
}


const char *
lava_xlate_stream_take(lava_xlate_stream_t *s, size_t *len)
{
    *len = s->olen;
    s->olen = 0;            /* the next call writes over them */

    return s->ob;
}


void
lava_xlate_stream_free(lava_xlate_stream_t *s)
{
    if (s == NULL) {
        return;
    }

    lava_sse_free(&s->sse);
    free(s->model_override);
    free(s->ob);
    free(s->args);
    free(s);
}
