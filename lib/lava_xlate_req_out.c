/*
 * Request writers: the internal form (lava_xlate_int.h) into an OpenAI
 * Chat Completions, Anthropic Messages or Gemini generateContent body.
 * Each refuses, by name, what its target cannot express.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lava_xlate_int.h"


static int
lava_xhas(json_t *req, const char *key)
{
    json_t  *v;

    v = json_object_get(req, key);
    return v != NULL && !json_is_null(v);
}


/* copies req[from] to out[to] if present */
static void
lava_xcopy(json_t *out, const char *to, json_t *req, const char *from)
{
    json_t  *v;

    v = json_object_get(req, from);
    if (v != NULL && !json_is_null(v)) {
        json_object_set(out, to, v);
    }
}


/* the system parts' texts joined by blank lines, as a new string */
static json_t *
lava_xsystem_text(json_t *req)
{
    size_t       i, n, len;
    json_t      *p;
    char        *buf;
    const char  *t;
    json_t      *s;

    len = 0;
    n = json_array_size(json_object_get(req, "system"));

    json_array_foreach(json_object_get(req, "system"), i, p) {
        len += strlen(lava_xstr(p, "text")) + 2;
    }

    buf = malloc(len + 1);
    if (buf == NULL) {
        return NULL;
    }

    len = 0;
    json_array_foreach(json_object_get(req, "system"), i, p) {
        t = lava_xstr(p, "text");
        memcpy(buf + len, t, strlen(t));
        len += strlen(t);
        if (i + 1 < n) {
            memcpy(buf + len, "\n\n", 2);
            len += 2;
        }
    }

    s = json_stringn(buf, len);
    free(buf);
    return s;
}


static int
lava_xis(json_t *p, const char *type)
{
    return strcmp(lava_xstr(p, "type"), type) == 0;
}


/* ---- OpenAI ------------------------------------------------------------- */

/* reasoning models take max_completion_tokens and refuse max_tokens; other
 * OpenAI-compatible hosts know only max_tokens */
int
lava_xopenai_reasoning_model(const char *m)
{
    if (m == NULL) {
        return 0;
    }

    return (m[0] == 'o' && m[1] >= '1' && m[1] <= '9')
           || strncmp(m, "gpt-5", 5) == 0;
}


static json_t *
lava_xopenai_image(json_t *p)
{
    const char  *url, *mime, *data;
    char        *buf;
    size_t       n;
    json_t      *o;

    url = lava_xstr(p, "url");

    if (url != NULL) {
        return json_pack("{s:s, s:{s:s}}", "type", "image_url",
                         "image_url", "url", url);
    }

    mime = lava_xstr(p, "mime");
    data = lava_xstr(p, "data");
    n = strlen(mime) + strlen(data) + sizeof("data:;base64,");
    buf = malloc(n);
    if (buf == NULL) {
        return NULL;
    }

    snprintf(buf, n, "data:%s;base64,%s", mime, data);
    o = json_pack("{s:s, s:{s:s}}", "type", "image_url", "image_url",
                  "url", buf);
    free(buf);
    return o;
}


static int
lava_xopenai_msgs(lava_xctx_t *x, json_t *req, json_t *msgs)
{
    size_t       i, j;
    json_t      *m, *p, *content, *calls, *o, *c;
    const char  *role;
    char        *args;
    int          texts, others;

    if (json_array_size(json_object_get(req, "system")) > 0) {
        o = json_pack("{s:s, s:o}", "role", "system", "content",
                      lava_xsystem_text(req));
        if (o == NULL || json_array_append_new(msgs, o) != 0) {
            return lava_xerr(x, "out of memory");
        }
    }

    json_array_foreach(json_object_get(req, "messages"), i, m) {
        role = lava_xstr(m, "role");

        if (strcmp(role, "user") == 0) {
            /* tool results first, each its own tool message */
            texts = others = 0;
            json_array_foreach(json_object_get(m, "parts"), j, p) {
                if (lava_xis(p, "tool_result")) {
                    o = json_pack("{s:s, s:s, s:O}", "role", "tool",
                                  "tool_call_id", lava_xstr(p, "id"),
                                  "content", json_object_get(p, "content"));
                    if (o == NULL || json_array_append_new(msgs, o) != 0) {
                        return lava_xerr(x, "out of memory");
                    }
                } else if (lava_xis(p, "text")) {
                    texts++;
                } else {
                    others++;
                }
            }

            if (texts + others == 0) {
                continue;
            }

            content = NULL;

            if (texts == 1 && others == 0) {
                json_array_foreach(json_object_get(m, "parts"), j, p) {
                    if (lava_xis(p, "text")) {
                        content = json_incref(json_object_get(p, "text"));
                    }
                }

            } else {
                content = json_array();
                json_array_foreach(json_object_get(m, "parts"), j, p) {
                    if (lava_xis(p, "text")) {
                        json_array_append_new(content,
                            json_pack("{s:s, s:O}", "type", "text", "text",
                                      json_object_get(p, "text")));
                    } else if (lava_xis(p, "image")) {
                        json_array_append_new(content, lava_xopenai_image(p));
                    }
                }
            }

            o = json_pack("{s:s, s:o}", "role", "user", "content", content);
            if (o == NULL || json_array_append_new(msgs, o) != 0) {
                return lava_xerr(x, "out of memory");
            }
            continue;
        }

        /* assistant: the texts joined, tool calls */
        content = json_string("");
        calls = json_array();

        json_array_foreach(json_object_get(m, "parts"), j, p) {
            if (lava_xis(p, "text")) {
                char    *buf;
                size_t   a = json_string_length(content);
                size_t   b = json_string_length(json_object_get(p, "text"));

                buf = malloc(a + b + 1);
                if (buf == NULL) {
                    json_decref(content);
                    json_decref(calls);
                    return lava_xerr(x, "out of memory");
                }
                memcpy(buf, json_string_value(content), a);
                memcpy(buf + a, lava_xstr(p, "text"), b);
                json_string_setn(content, buf, a + b);
                free(buf);

            } else if (lava_xis(p, "tool_call")) {
                args = json_dumps(json_object_get(p, "args"),
                                  LAVA_XJSON_DUMP);
                c = json_pack("{s:s, s:s, s:{s:s, s:s}}", "id",
                              lava_xstr(p, "id"), "type", "function",
                              "function", "name", lava_xstr(p, "name"),
                              "arguments", args ? args : "{}");
                free(args);
                json_array_append_new(calls, c);

            } else {
                json_decref(content);
                json_decref(calls);
                return lava_xunsupported(x, "an image in an assistant message");
            }
        }

        if (json_string_length(content) == 0 && json_array_size(calls) == 0) {
            json_decref(content);
            json_decref(calls);
            continue;
        }

        o = json_pack("{s:s, s:o}", "role", "assistant", "content",
                      json_string_length(content) > 0 ? content
                                                      : json_null());
        if (json_string_length(content) == 0) {
            json_decref(content);
        }

        if (json_array_size(calls) > 0) {
            json_object_set_new(o, "tool_calls", calls);
        } else {
            json_decref(calls);
        }

        if (o == NULL || json_array_append_new(msgs, o) != 0) {
            return lava_xerr(x, "out of memory");
        }
    }

    return 0;
}


int
lava_xreq_write_openai(lava_xctx_t *x, json_t *req, json_t **out)
{
    size_t       i;
    json_t      *o, *msgs, *tools, *t, *f, *c, *fmt;
    const char  *mode, *model;

    if (lava_xhas(req, "top_k")) {
        return lava_xunsupported(x, "top_k");
    }
    if (lava_xhas(req, "thinking_budget")) {
        return lava_xunsupported(x, "a thinking budget");
    }

    o = json_object();
    *out = o;
    model = lava_xstr(req, "model");

    if (model == NULL) {
        return lava_xerr(x, "model is required");
    }

    json_object_set_new(o, "model", json_string(model));

    msgs = json_array();
    json_object_set_new(o, "messages", msgs);
    if (lava_xopenai_msgs(x, req, msgs) != 0) {
        return -1;
    }

    if (json_array_size(json_object_get(req, "tools")) > 0) {
        tools = json_array();
        json_object_set_new(o, "tools", tools);
        json_array_foreach(json_object_get(req, "tools"), i, t) {
            f = json_pack("{s:O}", "name", json_object_get(t, "name"));
            lava_xcopy(f, "description", t, "description");
            lava_xcopy(f, "parameters", t, "parameters");
            json_array_append_new(tools, json_pack("{s:s, s:o}", "type",
                                                   "function", "function", f));
        }
    }

    c = json_object_get(req, "tool_choice");
    if (c != NULL) {
        mode = lava_xstr(c, "mode");
        if (strcmp(mode, "tool") == 0) {
            json_object_set_new(o, "tool_choice",
                                json_pack("{s:s, s:{s:O}}", "type", "function",
                                          "function", "name",
                                          json_object_get(c, "name")));
        } else {
            json_object_set_new(o, "tool_choice", json_string(mode));
        }
    }

    if (json_is_false(json_object_get(req, "parallel"))) {
        json_object_set_new(o, "parallel_tool_calls", json_false());
    }

    lava_xcopy(o, lava_xopenai_reasoning_model(model) ? "max_completion_tokens"
                                                      : "max_tokens",
               req, "max_tokens");
    lava_xcopy(o, "temperature", req, "temperature");
    lava_xcopy(o, "top_p", req, "top_p");
    lava_xcopy(o, "presence_penalty", req, "presence_penalty");
    lava_xcopy(o, "frequency_penalty", req, "frequency_penalty");
    lava_xcopy(o, "seed", req, "seed");

    if (json_array_size(json_object_get(req, "stop")) > 0) {
        lava_xcopy(o, "stop", req, "stop");
    }

    fmt = json_object_get(req, "format");
    if (fmt != NULL) {
        if (strcmp(lava_xstr(fmt, "type"), "json") == 0) {
            json_object_set_new(o, "response_format",
                                json_pack("{s:s}", "type", "json_object"));
        } else {
            t = json_pack("{s:O, s:O}", "name", json_object_get(fmt, "name"),
                          "schema", json_object_get(fmt, "schema"));
            lava_xcopy(t, "strict", fmt, "strict");
            json_object_set_new(o, "response_format",
                                json_pack("{s:s, s:o}", "type", "json_schema",
                                          "json_schema", t));
        }
    }

    if (json_is_true(json_object_get(req, "stream"))) {
        /* usage always asked for: billing reads the provider's own */
        json_object_set_new(o, "stream", json_true());
        json_object_set_new(o, "stream_options",
                            json_pack("{s:b}", "include_usage", 1));
    }

    lava_xcopy(o, "user", req, "user");
    return 0;
}


/* ---- Anthropic ---------------------------------------------------------- */

static const char *const lava_anthropic_mimes[] = {
    "image/jpeg", "image/png", "image/gif", "image/webp", NULL
};


static json_t *
lava_xanthropic_block(lava_xctx_t *x, json_t *p, int *err)
{
    size_t       i;
    const char  *mime;
    json_t      *b;
    char         what[96];

    *err = 0;

    if (lava_xis(p, "text")) {
        if (json_string_length(json_object_get(p, "text")) == 0) {
            return NULL;        /* Anthropic refuses empty text blocks */
        }
        return json_pack("{s:s, s:O}", "type", "text", "text",
                         json_object_get(p, "text"));
    }

    if (lava_xis(p, "image")) {
        if (lava_xstr(p, "url") != NULL) {
            return json_pack("{s:s, s:{s:s, s:O}}", "type", "image", "source",
                             "type", "url", "url", json_object_get(p, "url"));
        }

        mime = lava_xstr(p, "mime");
        for (i = 0; lava_anthropic_mimes[i] != NULL; i++) {
            if (strcmp(mime, lava_anthropic_mimes[i]) == 0) {
                break;
            }
        }
        if (lava_anthropic_mimes[i] == NULL) {
            snprintf(what, sizeof(what), "an image of type %.40s", mime);
            *err = lava_xunsupported(x, what);
            return NULL;
        }

        return json_pack("{s:s, s:{s:s, s:s, s:O}}", "type", "image", "source",
                         "type", "base64", "media_type", mime,
                         "data", json_object_get(p, "data"));
    }

    if (lava_xis(p, "tool_call")) {
        return json_pack("{s:s, s:O, s:O, s:O}", "type", "tool_use",
                         "id", json_object_get(p, "id"),
                         "name", json_object_get(p, "name"),
                         "input", json_object_get(p, "args"));
    }

    if (lava_xis(p, "tool_result")) {
        b = json_pack("{s:s, s:O, s:O}", "type", "tool_result",
                      "tool_use_id", json_object_get(p, "id"),
                      "content", json_object_get(p, "content"));
        if (b != NULL && json_is_true(json_object_get(p, "error"))) {
            json_object_set_new(b, "is_error", json_true());
        }
        return b;
    }

    *err = lava_xunsupported(x, "this content");
    return NULL;
}


int
lava_xreq_write_anthropic(lava_xctx_t *x, json_t *req, json_t **out)
{
    size_t       i, j;
    json_t      *o, *msgs, *m, *p, *b, *last, *content, *results, *tools, *t;
    json_t      *c, *v;
    const char  *role, *mode;
    int          err;

    if (lava_xhas(req, "presence_penalty")) {
        return lava_xunsupported(x, "presence_penalty");
    }
    if (lava_xhas(req, "frequency_penalty")) {
        return lava_xunsupported(x, "frequency_penalty");
    }
    if (lava_xhas(req, "seed")) {
        return lava_xunsupported(x, "seed");
    }
    if (lava_xhas(req, "format")) {
        return lava_xunsupported(x, "a JSON response format");
    }

    v = json_object_get(req, "temperature");
    if (v != NULL && json_number_value(v) > 1.0) {
        return lava_xunsupported(x, "temperature above 1");
    }

    o = json_object();
    *out = o;

    if (lava_xstr(req, "model") == NULL) {
        return lava_xerr(x, "model is required");
    }

    lava_xcopy(o, "model", req, "model");

    if (lava_xhas(req, "max_tokens")) {
        lava_xcopy(o, "max_tokens", req, "max_tokens");
    } else {
        json_object_set_new(o, "max_tokens",
                            json_integer(LAVA_XLATE_ANTHROPIC_MAX_TOKENS));
    }

    if (json_array_size(json_object_get(req, "system")) > 0) {
        json_object_set_new(o, "system", lava_xsystem_text(req));
    }

    msgs = json_array();
    json_object_set_new(o, "messages", msgs);
    last = NULL;

    json_array_foreach(json_object_get(req, "messages"), i, m) {
        role = lava_xstr(m, "role");

        if (strcmp(role, "assistant") == 0) {
            json_array_foreach(json_object_get(m, "parts"), j, p) {
                if (lava_xis(p, "image")) {
                    return lava_xunsupported(x,
                                             "an image in an assistant message");
                }
            }
        }

        /* consecutive messages of one role become one turn, tool results
         * first (Anthropic wants them at the start of the user turn) */
        if (last == NULL || strcmp(lava_xstr(last, "role"), role) != 0) {
            last = json_pack("{s:s, s:[]}", "role", role, "content");
            json_array_append_new(msgs, last);
        }

        content = json_object_get(last, "content");
        results = json_array();

        json_array_foreach(json_object_get(m, "parts"), j, p) {
            b = lava_xanthropic_block(x, p, &err);
            if (err != 0) {
                json_decref(results);
                return -1;
            }
            if (b == NULL) {
                continue;
            }
            json_array_append_new(lava_xis(p, "tool_result") ? results
                                                             : content, b);
        }

        if (json_array_size(results) > 0) {
            /* after the results already in this turn, before its text */
            size_t  k, at = 0;

            json_array_foreach(content, k, b) {
                if (strcmp(lava_xstr(b, "type"), "tool_result") == 0) {
                    at = k + 1;
                }
            }
            json_array_foreach(results, k, b) {
                json_array_insert(content, at + k, b);
            }
        }

        json_decref(results);
    }

    /* a turn left empty (only an empty text) is not sent */
    for (i = json_array_size(msgs); i > 0; i--) {
        if (json_array_size(json_object_get(json_array_get(msgs, i - 1),
                                            "content")) == 0)
        {
            json_array_remove(msgs, i - 1);
        }
    }

    if (json_array_size(json_object_get(req, "tools")) > 0) {
        tools = json_array();
        json_object_set_new(o, "tools", tools);
        json_array_foreach(json_object_get(req, "tools"), i, t) {
            v = json_pack("{s:O}", "name", json_object_get(t, "name"));
            lava_xcopy(v, "description", t, "description");
            if (lava_xhas(t, "parameters")) {
                lava_xcopy(v, "input_schema", t, "parameters");
            } else {
                json_object_set_new(v, "input_schema",
                                    json_pack("{s:s}", "type", "object"));
            }
            json_array_append_new(tools, v);
        }
    }

    c = json_object_get(req, "tool_choice");
    if (c != NULL || json_is_false(json_object_get(req, "parallel"))) {
        mode = c != NULL ? lava_xstr(c, "mode") : "auto";
        if (strcmp(mode, "required") == 0) {
            v = json_pack("{s:s}", "type", "any");
        } else if (strcmp(mode, "tool") == 0) {
            v = json_pack("{s:s, s:O}", "type", "tool", "name",
                          json_object_get(c, "name"));
        } else {
            v = json_pack("{s:s}", "type", mode);
        }
        if (json_is_false(json_object_get(req, "parallel"))
            && strcmp(mode, "none") != 0)
        {
            json_object_set_new(v, "disable_parallel_tool_use", json_true());
        }
        json_object_set_new(o, "tool_choice", v);
    }

    lava_xcopy(o, "temperature", req, "temperature");
    lava_xcopy(o, "top_p", req, "top_p");
    lava_xcopy(o, "top_k", req, "top_k");

    if (json_array_size(json_object_get(req, "stop")) > 0) {
        lava_xcopy(o, "stop_sequences", req, "stop");
    }

    if (json_is_true(json_object_get(req, "stream"))) {
        json_object_set_new(o, "stream", json_true());
    }

    if (lava_xhas(req, "user")) {
        json_object_set_new(o, "metadata",
                            json_pack("{s:O}", "user_id",
                                      json_object_get(req, "user")));
    }

    if (lava_xhas(req, "thinking_budget")) {
        json_object_set_new(o, "thinking",
                            json_pack("{s:s, s:O}", "type", "enabled",
                                      "budget_tokens",
                                      json_object_get(req, "thinking_budget")));
    }

    return 0;
}


/* ---- Gemini ------------------------------------------------------------- */

/* the image type of a URL from its extension; NULL unknown */
static const char *
lava_xurl_mime(const char *url)
{
    static const struct { const char *ext; const char *mime; }  t[] = {
        { ".png", "image/png" }, { ".jpg", "image/jpeg" },
        { ".jpeg", "image/jpeg" }, { ".gif", "image/gif" },
        { ".webp", "image/webp" }, { ".heic", "image/heic" },
        { ".heif", "image/heif" }
    };
    size_t       i, n, e;
    const char  *q;

    q = strpbrk(url, "?#");
    n = q != NULL ? (size_t) (q - url) : strlen(url);

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        e = strlen(t[i].ext);
        if (n > e && strncasecmp(url + n - e, t[i].ext, e) == 0) {
            return t[i].mime;
        }
    }

    return NULL;
}


static json_t *
lava_xgemini_part(lava_xctx_t *x, json_t *p, int *err)
{
    const char  *mime, *c;
    json_t      *resp, *v, *d;
    json_error_t je;

    *err = 0;

    if (lava_xis(p, "text")) {
        return json_pack("{s:O}", "text", json_object_get(p, "text"));
    }

    if (lava_xis(p, "image")) {
        if (lava_xstr(p, "url") == NULL) {
            return json_pack("{s:{s:O, s:O}}", "inlineData",
                             "mimeType", json_object_get(p, "mime"),
                             "data", json_object_get(p, "data"));
        }

        d = json_pack("{s:O}", "fileUri", json_object_get(p, "url"));
        mime = lava_xurl_mime(lava_xstr(p, "url"));
        if (mime != NULL) {
            json_object_set_new(d, "mimeType", json_string(mime));
        }
        return json_pack("{s:o}", "fileData", d);
    }

    if (lava_xis(p, "tool_call")) {
        return json_pack("{s:{s:O, s:O}}", "functionCall",
                         "name", json_object_get(p, "name"),
                         "args", json_object_get(p, "args"));
    }

    if (lava_xis(p, "tool_result")) {
        /* Gemini wants an object: "output" or "error" (its documented
         * keys) holding the result, parsed when it is JSON */
        c = lava_xstr(p, "content");
        v = json_loads(c, JSON_DECODE_ANY, &je);
        if (v == NULL) {
            v = json_string(c);
        }
        resp = json_pack("{s:o}", json_is_true(json_object_get(p, "error"))
                                  ? "error" : "output", v);
        return json_pack("{s:{s:O, s:o}}", "functionResponse",
                         "name", json_object_get(p, "name"),
                         "response", resp);
    }

    *err = lava_xunsupported(x, "this content");
    return NULL;
}


int
lava_xreq_write_gemini(lava_xctx_t *x, json_t *req, json_t **out)
{
    size_t       i, j;
    json_t      *o, *contents, *m, *p, *g, *last, *parts, *decls, *t, *v, *c;
    json_t      *gc, *fmt;
    const char  *role, *mode;
    int          err;

    if (json_is_false(json_object_get(req, "parallel"))) {
        return lava_xunsupported(x, "turning parallel tool calls off");
    }

    o = json_object();
    *out = o;

    contents = json_array();
    json_object_set_new(o, "contents", contents);
    last = NULL;

    json_array_foreach(json_object_get(req, "messages"), i, m) {
        role = strcmp(lava_xstr(m, "role"), "assistant") == 0 ? "model"
                                                              : "user";

        if (last == NULL || strcmp(lava_xstr(last, "role"), role) != 0) {
            last = json_pack("{s:s, s:[]}", "role", role, "parts");
            json_array_append_new(contents, last);
        }

        parts = json_object_get(last, "parts");

        json_array_foreach(json_object_get(m, "parts"), j, p) {
            g = lava_xgemini_part(x, p, &err);
            if (err != 0) {
                return -1;
            }
            json_array_append_new(parts, g);
        }
    }

    for (i = json_array_size(contents); i > 0; i--) {
        if (json_array_size(json_object_get(json_array_get(contents, i - 1),
                                            "parts")) == 0)
        {
            json_array_remove(contents, i - 1);
        }
    }

    if (json_array_size(json_object_get(req, "system")) > 0) {
        parts = json_array();
        json_array_foreach(json_object_get(req, "system"), i, p) {
            json_array_append_new(parts, json_pack("{s:O}", "text",
                                  json_object_get(p, "text")));
        }
        json_object_set_new(o, "systemInstruction",
                            json_pack("{s:o}", "parts", parts));
    }

    if (json_array_size(json_object_get(req, "tools")) > 0) {
        decls = json_array();
        json_array_foreach(json_object_get(req, "tools"), i, t) {
            v = json_pack("{s:O}", "name", json_object_get(t, "name"));
            lava_xcopy(v, "description", t, "description");
            /* JSON Schema as the client wrote it: Gemini's
             * parametersJsonSchema takes it unchanged */
            lava_xcopy(v, "parametersJsonSchema", t, "parameters");
            json_array_append_new(decls, v);
        }
        json_object_set_new(o, "tools", json_pack("[{s:o}]",
                                                  "functionDeclarations",
                                                  decls));
    }

    c = json_object_get(req, "tool_choice");
    if (c != NULL) {
        mode = lava_xstr(c, "mode");
        if (strcmp(mode, "tool") == 0) {
            v = json_pack("{s:s, s:[O]}", "mode", "ANY",
                          "allowedFunctionNames", json_object_get(c, "name"));
        } else {
            v = json_pack("{s:s}", "mode",
                          strcmp(mode, "required") == 0 ? "ANY"
                          : strcmp(mode, "none") == 0 ? "NONE" : "AUTO");
        }
        json_object_set_new(o, "toolConfig",
                            json_pack("{s:o}", "functionCallingConfig", v));
    }

    gc = json_object();
    lava_xcopy(gc, "maxOutputTokens", req, "max_tokens");
    lava_xcopy(gc, "temperature", req, "temperature");
    lava_xcopy(gc, "topP", req, "top_p");
    lava_xcopy(gc, "topK", req, "top_k");
    if (json_array_size(json_object_get(req, "stop")) > 0) {
        lava_xcopy(gc, "stopSequences", req, "stop");
    }
    lava_xcopy(gc, "presencePenalty", req, "presence_penalty");
    lava_xcopy(gc, "frequencyPenalty", req, "frequency_penalty");
    lava_xcopy(gc, "seed", req, "seed");

    fmt = json_object_get(req, "format");
    if (fmt != NULL) {
        json_object_set_new(gc, "responseMimeType",
                            json_string("application/json"));
        lava_xcopy(gc, "responseJsonSchema", fmt, "schema");
    }

    if (lava_xhas(req, "thinking_budget")) {
        json_object_set_new(gc, "thinkingConfig",
                            json_pack("{s:O}", "thinkingBudget",
                                      json_object_get(req, "thinking_budget")));
    }

    if (json_object_size(gc) > 0) {
        json_object_set_new(o, "generationConfig", gc);
    } else {
        json_decref(gc);
    }

    return 0;
}
