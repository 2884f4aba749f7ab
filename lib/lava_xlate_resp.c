/*
 * Non-stream responses: a provider's OpenAI chat.completion, Anthropic
 * message or Gemini GenerateContentResponse into lava_xlate_resp_t, and
 * lava_xlate_resp_t into the client's shape. Only the first choice or
 * candidate is read: requests asking for more are refused on the way in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lava_xlate_int.h"


/* s into dst, cut at a character boundary when it does not fit (a cut
 * UTF-8 sequence could not be written back into JSON) */
static void
lava_xcpy(char *dst, size_t size, const char *s)
{
    size_t  n;

    n = s != NULL ? strlen(s) : 0;

    if (n >= size) {
        n = size - 1;
        while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80) {
            n--;
        }
    }

    if (n > 0) {
        memcpy(dst, s, n);
    }
    dst[n] = '\0';
}


static int
lava_xpart_call(lava_xctx_t *x, json_t *parts, const char *id,
    const char *name, json_t *args)
{
    json_t  *p;

    if (name == NULL || !json_is_object(args)) {
        json_decref(args);
        return lava_xerr(x, "a tool call in the response has no name or "
                         "arguments object");
    }

    p = json_pack("{s:s, s:s, s:s, s:o}", "type", "tool_call", "id",
                  id ? id : "", "name", name, "args", args);

    if (p == NULL || json_array_append_new(parts, p) != 0) {
        return lava_xerr(x, "out of memory");
    }

    return 0;
}


static int
lava_xresp_openai(lava_xctx_t *x, json_t *body, lava_xlate_resp_t *r)
{
    size_t         i;
    json_t        *ch, *msg, *c, *f, *args, *v;
    const char    *s, *a;
    json_error_t   je;

    lava_xcpy(r->id, sizeof(r->id), lava_xstr(body, "id"));
    lava_xcpy(r->model, sizeof(r->model), lava_xstr(body, "model"));
    v = json_object_get(body, "created");
    r->created = json_is_integer(v) ? json_integer_value(v) : 0;

    ch = json_array_get(json_object_get(body, "choices"), 0);
    msg = json_object_get(ch, "message");

    if (!json_is_object(msg)) {
        return lava_xerr(x, "the response has no choices[0].message");
    }

    /* DeepSeek-style reasoning text beside the answer */
    s = lava_xstr(msg, "reasoning_content");
    if (s != NULL && s[0] != '\0') {
        json_array_append_new(r->parts, json_pack("{s:s, s:s}", "type",
                                                  "thinking", "text", s));
    }

    v = json_object_get(msg, "content");
    if (json_is_string(v) && json_string_length(v) > 0) {
        lava_xtext_part(r->parts, json_string_value(v), json_string_length(v));
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, c) {
            s = lava_xstr(c, "text");
            if (s != NULL) {
                lava_xtext_part(r->parts, s, strlen(s));
            }
        }
    }

    s = lava_xstr(msg, "refusal");
    if (s != NULL) {
        lava_xtext_part(r->parts, s, strlen(s));
    }

    json_array_foreach(json_object_get(msg, "tool_calls"), i, c) {
        f = json_object_get(c, "function");
        a = lava_xstr(f, "arguments");
        args = (a == NULL || a[strspn(a, " \t\r\n")] == '\0')
               ? json_object() : json_loads(a, 0, &je);
        if (lava_xpart_call(x, r->parts, lava_xstr(c, "id"),
                            lava_xstr(f, "name"), args) != 0)
        {
            return -1;
        }
    }

    s = lava_xstr(ch, "finish_reason");
    r->finish = lava_xlate_finish_parse(LAVA_FMT_OPENAI, s,
                                        s ? strlen(s) : 0, 0);
    if (lava_xstr(msg, "refusal") != NULL) {
        r->finish = LAVA_FINISH_CONTENT_FILTER;
    }

    lava_xlate_usage_read(LAVA_FMT_OPENAI, json_object_get(body, "usage"),
                          &r->usage);
    return 0;
}


static int
lava_xresp_anthropic(lava_xctx_t *x, json_t *body, lava_xlate_resp_t *r)
{
    size_t       i;
    json_t      *b, *p;
    const char  *type, *s;
    char         what[96];

    lava_xcpy(r->id, sizeof(r->id), lava_xstr(body, "id"));
    lava_xcpy(r->model, sizeof(r->model), lava_xstr(body, "model"));

    if (!json_is_array(json_object_get(body, "content"))) {
        return lava_xerr(x, "the response has no content array");
    }

    json_array_foreach(json_object_get(body, "content"), i, b) {
        type = lava_xstr(b, "type");
        type = type ? type : "";

        if (strcmp(type, "text") == 0) {
            s = lava_xstr(b, "text");
            lava_xtext_part(r->parts, s ? s : "", s ? strlen(s) : 0);

        } else if (strcmp(type, "tool_use") == 0) {
            if (lava_xpart_call(x, r->parts, lava_xstr(b, "id"),
                                lava_xstr(b, "name"),
                                json_incref(json_object_get(b, "input"))) != 0)
            {
                return -1;
            }

        } else if (strcmp(type, "thinking") == 0) {
            s = lava_xstr(b, "thinking");
            p = json_pack("{s:s, s:s}", "type", "thinking", "text", s ? s : "");
            json_array_append_new(r->parts, p);

        } else if (strcmp(type, "redacted_thinking") == 0) {
            continue;       /* encrypted: nothing a client can read */

        } else {
            snprintf(what, sizeof(what), "%.40s content in a response", type);
            return lava_xunsupported(x, what);
        }
    }

    s = lava_xstr(body, "stop_reason");
    r->finish = lava_xlate_finish_parse(LAVA_FMT_ANTHROPIC, s,
                                        s ? strlen(s) : 0, 0);
    lava_xcpy(r->stop_sequence, sizeof(r->stop_sequence),
              lava_xstr(body, "stop_sequence"));

    lava_xlate_usage_read(LAVA_FMT_ANTHROPIC, json_object_get(body, "usage"),
                          &r->usage);
    return 0;
}


static int
lava_xresp_gemini(lava_xctx_t *x, json_t *body, lava_xlate_resp_t *r)
{
    size_t       i;
    json_t      *cand, *p, *fc, *q;
    const char  *s;
    char         id[32];
    int          calls;

    lava_xcpy(r->id, sizeof(r->id), lava_xstr(body, "responseId"));
    lava_xcpy(r->model, sizeof(r->model), lava_xstr(body, "modelVersion"));

    cand = json_array_get(json_object_get(body, "candidates"), 0);
    calls = 0;

    json_array_foreach(json_object_get(json_object_get(cand, "content"),
                                       "parts"), i, p)
    {
        if ((s = lava_xstr(p, "text")) != NULL) {
            if (json_is_true(json_object_get(p, "thought"))) {
                q = json_pack("{s:s, s:s}", "type", "thinking", "text", s);
                json_array_append_new(r->parts, q);
            } else {
                lava_xtext_part(r->parts, s, strlen(s));
            }

        } else if ((fc = json_object_get(p, "functionCall")) != NULL) {
            calls++;
            snprintf(id, sizeof(id), "call_%d", calls);
            if (lava_xpart_call(x, r->parts,
                                lava_xstr(fc, "id") ? lava_xstr(fc, "id") : id,
                                lava_xstr(fc, "name"),
                                json_object_get(fc, "args")
                                ? json_incref(json_object_get(fc, "args"))
                                : json_object()) != 0)
            {
                return -1;
            }

        } else if (json_object_get(p, "thoughtSignature") != NULL
                   && json_object_size(p) == 1)
        {
            continue;

        } else {
            return lava_xunsupported(x, "this part of a Gemini response");
        }
    }

    s = lava_xstr(cand, "finishReason");
    r->finish = lava_xlate_finish_parse(LAVA_FMT_GEMINI, s, s ? strlen(s) : 0,
                                        calls > 0);

    if (cand == NULL
        && lava_xstr(json_object_get(body, "promptFeedback"), "blockReason"))
    {
        /* the prompt itself was blocked: no candidate at all */
        r->finish = LAVA_FINISH_CONTENT_FILTER;
    }

    lava_xlate_usage_read(LAVA_FMT_GEMINI,
                          json_object_get(body, "usageMetadata"), &r->usage);
    return 0;
}


int
lava_xresp_read(lava_xctx_t *x, json_t *body, lava_xlate_resp_t *r)
{
    r->parts = json_array();
    if (r->parts == NULL) {
        return lava_xerr(x, "out of memory");
    }

    switch (x->from) {
    case LAVA_FMT_OPENAI:
        return lava_xresp_openai(x, body, r);
    case LAVA_FMT_ANTHROPIC:
        return lava_xresp_anthropic(x, body, r);
    default:
        return lava_xresp_gemini(x, body, r);
    }
}


/* ---- writers ------------------------------------------------------------ */

static int
lava_xis(json_t *p, const char *type)
{
    return strcmp(lava_xstr(p, "type"), type) == 0;
}


static json_t *
lava_xwrite_openai(lava_xlate_resp_t *r, const char *id)
{
    size_t   i, len;
    json_t  *p, *calls, *msg, *o, *u;
    char    *text, *args;
    int      has_text;

    len = 0;
    has_text = 0;
    json_array_foreach(r->parts, i, p) {
        if (lava_xis(p, "text")) {
            len += json_string_length(json_object_get(p, "text"));
            has_text = 1;
        }
    }

    text = malloc(len + 1);
    if (text == NULL) {
        return NULL;
    }

    len = 0;
    calls = json_array();

    json_array_foreach(r->parts, i, p) {
        if (lava_xis(p, "text")) {
            memcpy(text + len, lava_xstr(p, "text"),
                   json_string_length(json_object_get(p, "text")));
            len += json_string_length(json_object_get(p, "text"));

        } else if (lava_xis(p, "tool_call")) {
            args = json_dumps(json_object_get(p, "args"), LAVA_XJSON_DUMP);
            json_array_append_new(calls,
                json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", lava_xstr(p, "id"),
                          "type", "function", "function",
                          "name", lava_xstr(p, "name"),
                          "arguments", args ? args : "{}"));
            free(args);
        }
        /* thinking: Chat Completions has no member for it; the reasoning
         * tokens stay in usage */
    }

    msg = json_pack("{s:s, s:o, s:n}", "role", "assistant", "content",
                    has_text ? json_stringn(text, len) : json_null(),
                    "refusal");
    free(text);

    if (json_array_size(calls) > 0) {
        json_object_set_new(msg, "tool_calls", calls);
    } else {
        json_decref(calls);
    }

    o = json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:n, s:s?}]}",
                  "id", id, "object", "chat.completion",
                  "created", (json_int_t) (r->created ? r->created
                                                      : (int64_t) time(NULL)),
                  "model", r->model,
                  "choices", "index", 0, "message", msg, "logprobs",
                  "finish_reason",
                  lava_xlate_finish_name(LAVA_FMT_OPENAI,
                                         r->finish ? r->finish
                                                   : LAVA_FINISH_STOP));

    if (o != NULL && r->usage.seen) {
        u = lava_xlate_usage_json(LAVA_FMT_OPENAI, &r->usage);
        json_object_set_new(o, "usage", u);
    }

    return o;
}


static json_t *
lava_xwrite_anthropic(lava_xlate_resp_t *r, const char *id)
{
    size_t   i;
    json_t  *p, *content, *o;

    content = json_array();

    json_array_foreach(r->parts, i, p) {
        if (lava_xis(p, "text")) {
            json_array_append_new(content,
                json_pack("{s:s, s:O}", "type", "text", "text",
                          json_object_get(p, "text")));

        } else if (lava_xis(p, "tool_call")) {
            json_array_append_new(content,
                json_pack("{s:s, s:O, s:O, s:O}", "type", "tool_use",
                          "id", json_object_get(p, "id"),
                          "name", json_object_get(p, "name"),
                          "input", json_object_get(p, "args")));

        } else if (lava_xis(p, "thinking")) {
            /* no signature: another provider's reasoning cannot be
             * verified by Anthropic; it is dropped when sent back */
            json_array_append_new(content,
                json_pack("{s:s, s:O, s:s}", "type", "thinking",
                          "thinking", json_object_get(p, "text"),
                          "signature", ""));
        }
    }

    o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s?}",
                  "id", id, "type", "message", "role", "assistant",
                  "model", r->model, "content", content,
                  "stop_reason",
                  lava_xlate_finish_name(LAVA_FMT_ANTHROPIC,
                                         r->finish ? r->finish
                                                   : LAVA_FINISH_STOP),
                  "stop_sequence",
                  r->stop_sequence[0] ? r->stop_sequence : NULL);

    if (o != NULL) {
        json_object_set_new(o, "usage",
                            lava_xlate_usage_json(LAVA_FMT_ANTHROPIC,
                                                  &r->usage));
    }

    return o;
}


static json_t *
lava_xwrite_gemini(lava_xlate_resp_t *r, const char *id)
{
    size_t   i;
    json_t  *p, *parts, *o;

    parts = json_array();

    json_array_foreach(r->parts, i, p) {
        if (lava_xis(p, "text")) {
            json_array_append_new(parts, json_pack("{s:O}", "text",
                                  json_object_get(p, "text")));

        } else if (lava_xis(p, "tool_call")) {
            json_array_append_new(parts,
                json_pack("{s:{s:O, s:O}}", "functionCall",
                          "name", json_object_get(p, "name"),
                          "args", json_object_get(p, "args")));

        } else if (lava_xis(p, "thinking")) {
            json_array_append_new(parts,
                json_pack("{s:O, s:b}", "text", json_object_get(p, "text"),
                          "thought", 1));
        }
    }

    o = json_pack("{s:[{s:{s:s, s:o}, s:s, s:i}]}",
                  "candidates", "content", "role", "model", "parts", parts,
                  "finishReason",
                  lava_xlate_finish_name(LAVA_FMT_GEMINI,
                                         r->finish ? r->finish
                                                   : LAVA_FINISH_STOP),
                  "index", 0);

    if (o != NULL) {
        json_object_set_new(o, "usageMetadata",
                            lava_xlate_usage_json(LAVA_FMT_GEMINI, &r->usage));
        json_object_set_new(o, "modelVersion", json_string(r->model));
        json_object_set_new(o, "responseId", json_string(id));
    }

    return o;
}


int
lava_xresp_write(lava_xctx_t *x, lava_xlate_resp_t *r, json_t **out)
{
    char  id[300];

    lava_xlate_id(x->from, x->to, r->id, id, sizeof(id));

    switch (x->to) {
    case LAVA_FMT_OPENAI:
        *out = lava_xwrite_openai(r, id);
        break;
    case LAVA_FMT_ANTHROPIC:
        *out = lava_xwrite_anthropic(r, id);
        break;
    default:
        *out = lava_xwrite_gemini(r, id);
        break;
    }

    if (*out == NULL) {
        return lava_xerr(x, "the response could not be written (a string "
                         "that is not UTF-8, or out of memory)");
    }

    return 0;
}
