/*
 * Request readers: a client's OpenAI Chat Completions, Anthropic Messages
 * or Gemini generateContent body into the internal form
 * (lava_xlate_int.h). A reader refuses what the internal form cannot hold;
 * a writer (lava_xlate_req_out.c) refuses what its target cannot express.
 * Members a reader does not know are refused by name: a new provider
 * feature is never dropped silently.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lava_xlate_int.h"


/* ---- shared ------------------------------------------------------------- */

/* the member names a reader accepts; anything else is refused */
static int
lava_xknown(lava_xctx_t *x, json_t *obj, const char *const *names,
    const char *where)
{
    const char  *key;
    json_t      *v;
    size_t       i;
    char         what[160];

    json_object_foreach(obj, key, v) {
        for (i = 0; names[i] != NULL; i++) {
            if (strcmp(names[i], key) == 0) {
                break;
            }
        }

        if (names[i] == NULL) {
            snprintf(what, sizeof(what), "%s%s%.100s", where,
                     where[0] ? "." : "", key);
            return lava_xunsupported(x, what);
        }
    }

    return 0;
}


static json_t *
lava_xmsg(json_t *req, const char *role)
{
    json_t  *m, *msgs;

    msgs = json_object_get(req, "messages");
    m = json_pack("{s:s, s:[]}", "role", role, "parts");

    if (m == NULL || json_array_append_new(msgs, m) != 0) {
        return NULL;
    }

    return m;
}


/* the last message if it has this role, else a new one */
static json_t *
lava_xmsg_role(json_t *req, const char *role)
{
    json_t       *msgs, *last;
    const char   *r;

    msgs = json_object_get(req, "messages");
    last = json_array_get(msgs, json_array_size(msgs) - 1);
    r = lava_xstr(last, "role");

    if (r != NULL && strcmp(r, role) == 0) {
        return last;
    }

    return lava_xmsg(req, role);
}


/* the name of the tool call with this id, earlier in req; NULL unknown */
static const char *
lava_xcall_name(json_t *req, const char *id)
{
    size_t       i, j;
    json_t      *m, *p;
    const char  *pid;

    json_array_foreach(json_object_get(req, "messages"), i, m) {
        json_array_foreach(json_object_get(m, "parts"), j, p) {
            pid = lava_xstr(p, "id");
            if (pid != NULL && strcmp(pid, id) == 0
                && strcmp(lava_xstr(p, "type"), "tool_call") == 0)
            {
                return lava_xstr(p, "name");
            }
        }
    }

    return NULL;
}


/* "data:<mime>;base64,<data>" or a URL into an image part */
static int
lava_ximage_url(lava_xctx_t *x, json_t *parts, const char *url)
{
    const char  *semi, *comma;
    json_t      *p;

    if (strncmp(url, "data:", 5) == 0) {
        semi = strchr(url + 5, ';');
        comma = strchr(url + 5, ',');

        if (semi == NULL || comma == NULL || semi > comma
            || strncmp(semi, ";base64,", 8) != 0 || semi == url + 5)
        {
            return lava_xunsupported(x, "a data URL that is not base64");
        }

        p = json_pack("{s:s, s:s%, s:s}", "type", "image",
                      "mime", url + 5, (size_t) (semi - url - 5),
                      "data", comma + 1);

    } else {
        p = json_pack("{s:s, s:s}", "type", "image", "url", url);
    }

    if (p == NULL || json_array_append_new(parts, p) != 0) {
        return lava_xerr(x, "out of memory");
    }

    return 0;
}


/* copies a number member if present; a non-number is an error */
static int
lava_xnum(lava_xctx_t *x, json_t *req, const char *to, json_t *v,
    const char *name, int integer)
{
    if (v == NULL || json_is_null(v)) {
        return 0;
    }

    if (integer ? !json_is_integer(v) : !json_is_number(v)) {
        return lava_xerr(x, "%s must be a%s number", name,
                         integer ? "n integer" : "");
    }

    return json_object_set(req, to, v);
}


/* a string or array of strings into req.stop */
static int
lava_xstop(lava_xctx_t *x, json_t *req, json_t *v, const char *name)
{
    json_t  *arr, *s;
    size_t   i;

    if (v == NULL || json_is_null(v)) {
        return 0;
    }

    arr = json_array();
    json_object_set_new(req, "stop", arr);

    if (json_is_string(v)) {
        return json_array_append(arr, v);
    }

    if (!json_is_array(v)) {
        return lava_xerr(x, "%s must be a string or an array of strings",
                         name);
    }

    json_array_foreach(v, i, s) {
        if (!json_is_string(s)) {
            return lava_xerr(x, "%s must hold strings", name);
        }
        json_array_append(arr, s);
    }

    return 0;
}


static int
lava_xtool(lava_xctx_t *x, json_t *req, const char *name, const char *desc,
    json_t *params)
{
    json_t  *t;

    if (name == NULL) {
        return lava_xerr(x, "a tool has no name");
    }

    t = json_pack("{s:s}", "name", name);
    if (t == NULL) {
        return lava_xerr(x, "out of memory");
    }

    if (desc != NULL) {
        json_object_set_new(t, "description", json_string(desc));
    }

    if (params != NULL && !json_is_null(params)) {
        if (!json_is_object(params)) {
            json_decref(t);
            return lava_xerr(x, "the parameters of tool %.64s must be an "
                             "object", name);
        }
        json_object_set(t, "parameters", params);
    }

    return json_array_append_new(json_object_get(req, "tools"), t);
}


static int
lava_xchoice(json_t *req, const char *mode, const char *name)
{
    json_t  *c;

    c = json_pack("{s:s}", "mode", mode);
    if (c == NULL) {
        return -1;
    }

    if (name != NULL) {
        json_object_set_new(c, "name", json_string(name));
    }

    return json_object_set_new(req, "tool_choice", c);
}


/* ---- OpenAI Chat Completions -------------------------------------------- */

static const char *const lava_openai_top[] = {
    "model", "messages", "tools", "tool_choice", "parallel_tool_calls",
    "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
    "response_format", "stream", "stream_options", "user", "n",
    "presence_penalty", "frequency_penalty", "seed", "logprobs", "store",
    "metadata", "service_tier", "modalities", "safety_identifier",
    "prompt_cache_key", NULL
};


/* content: a string or text/image parts; refusal parts are text */
static int
lava_xopenai_content(lava_xctx_t *x, json_t *parts, json_t *content,
    int images)
{
    size_t       i;
    json_t      *c, *iu;
    const char  *type, *s;
    char         what[96];

    if (content == NULL || json_is_null(content)) {
        return 0;
    }

    if (json_is_string(content)) {
        if (json_string_length(content) == 0) {
            return 0;
        }
        return lava_xtext_part(parts, json_string_value(content),
                               json_string_length(content));
    }

    if (!json_is_array(content)) {
        return lava_xerr(x, "message content must be a string or an array");
    }

    json_array_foreach(content, i, c) {
        type = lava_xstr(c, "type");

        if (type == NULL) {
            return lava_xerr(x, "a content part has no type");
        }

        if (strcmp(type, "text") == 0 || strcmp(type, "refusal") == 0) {
            s = lava_xstr(c, type);
            if (s == NULL) {
                return lava_xerr(x, "a %s part has no %s", type, type);
            }
            if (lava_xtext_part(parts, s, strlen(s)) != 0) {
                return lava_xerr(x, "out of memory");
            }

        } else if (strcmp(type, "image_url") == 0 && images) {
            iu = json_object_get(c, "image_url");
            s = json_is_string(iu) ? json_string_value(iu)
                                   : lava_xstr(iu, "url");
            if (s == NULL) {
                return lava_xerr(x, "an image_url part has no url");
            }
            if (lava_ximage_url(x, parts, s) != 0) {
                return -1;
            }

        } else {
            snprintf(what, sizeof(what), "%.40s content in this message",
                     type);
            return lava_xunsupported(x, what);
        }
    }

    return 0;
}


static int
lava_xopenai_calls(lava_xctx_t *x, json_t *parts, json_t *calls)
{
    size_t         i;
    json_t        *c, *f, *args, *p;
    const char    *id, *name, *a;
    json_error_t   je;

    if (calls == NULL || json_is_null(calls)) {
        return 0;
    }

    if (!json_is_array(calls)) {
        return lava_xerr(x, "tool_calls must be an array");
    }

    json_array_foreach(calls, i, c) {
        if (lava_xstr(c, "type") != NULL
            && strcmp(lava_xstr(c, "type"), "function") != 0)
        {
            return lava_xunsupported(x, "a tool call that is not a function");
        }

        f = json_object_get(c, "function");
        id = lava_xstr(c, "id");
        name = lava_xstr(f, "name");
        a = lava_xstr(f, "arguments");

        if (id == NULL || name == NULL) {
            return lava_xerr(x, "a tool call has no id or name");
        }

        if (a == NULL || a[strspn(a, " \t\r\n")] == '\0') {
            args = json_object();
        } else {
            args = json_loads(a, 0, &je);
        }

        if (!json_is_object(args)) {
            json_decref(args);
            return lava_xerr(x, "the arguments of tool call %.64s are not a "
                             "JSON object", id);
        }

        p = json_pack("{s:s, s:s, s:s, s:o}", "type", "tool_call", "id", id,
                      "name", name, "args", args);
        if (p == NULL || json_array_append_new(parts, p) != 0) {
            return lava_xerr(x, "out of memory");
        }
    }

    return 0;
}


/* tool message content: a string or text parts, joined */
static int
lava_xtool_text(lava_xctx_t *x, json_t *content, json_t **out)
{
    size_t       i;
    json_t      *c, *s;
    const char  *t;

    if (json_is_string(content)) {
        *out = json_incref(content);
        return 0;
    }

    if (content == NULL || json_is_null(content)) {
        *out = json_string("");
        return 0;
    }

    if (!json_is_array(content)) {
        return lava_xerr(x, "tool message content must be a string or an "
                         "array");
    }

    s = json_string("");

    json_array_foreach(content, i, c) {
        t = lava_xstr(c, "type");
        if (t == NULL || strcmp(t, "text") != 0 || lava_xstr(c, "text") == NULL)
        {
            json_decref(s);
            return lava_xunsupported(x, "non-text content in a tool result");
        }

        {
            size_t  a = json_string_length(s);
            size_t  b = strlen(lava_xstr(c, "text"));
            char   *buf = malloc(a + b + 1);

            if (buf == NULL) {
                json_decref(s);
                return lava_xerr(x, "out of memory");
            }

            memcpy(buf, json_string_value(s), a);
            memcpy(buf + a, lava_xstr(c, "text"), b);
            json_string_setn(s, buf, a + b);
            free(buf);
        }
    }

    *out = s;
    return 0;
}


int
lava_xreq_read_openai(lava_xctx_t *x, json_t *body, json_t *req)
{
    size_t       i;
    json_t      *msgs, *m, *parts, *v, *c, *tools, *t, *f, *rf, *js, *p;
    json_t      *text;
    const char  *role, *s, *id, *name;

    if (lava_xknown(x, body, lava_openai_top, "") != 0) {
        return -1;
    }

    json_object_set_new(req, "system", json_array());
    json_object_set_new(req, "messages", json_array());
    json_object_set_new(req, "tools", json_array());

    if ((v = json_object_get(body, "model")) != NULL) {
        if (!json_is_string(v)) {
            return lava_xerr(x, "model must be a string");
        }
        json_object_set(req, "model", v);
    }

    msgs = json_object_get(body, "messages");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        return lava_xerr(x, "messages must be a non-empty array");
    }

    json_array_foreach(msgs, i, m) {
        role = lava_xstr(m, "role");

        if (role == NULL) {
            return lava_xerr(x, "a message has no role");
        }

        switch (lava_xlate_role_parse(LAVA_FMT_OPENAI, role)) {

        case LAVA_ROLE_SYSTEM:
            /* hoisted: the other formats have one system prompt */
            if (lava_xopenai_content(x, json_object_get(req, "system"),
                                     json_object_get(m, "content"), 0) != 0)
            {
                return -1;
            }
            break;

        case LAVA_ROLE_USER:
            parts = json_object_get(lava_xmsg_role(req, "user"), "parts");
            if (lava_xopenai_content(x, parts, json_object_get(m, "content"),
                                     1) != 0)
            {
                return -1;
            }
            break;

        case LAVA_ROLE_ASSISTANT:
            if (json_object_get(m, "function_call") != NULL
                && !json_is_null(json_object_get(m, "function_call")))
            {
                return lava_xunsupported(x, "function_call (legacy)");
            }
            if (json_object_get(m, "audio") != NULL
                && !json_is_null(json_object_get(m, "audio")))
            {
                return lava_xunsupported(x, "assistant audio");
            }
            parts = json_object_get(lava_xmsg(req, "assistant"), "parts");
            if (lava_xopenai_content(x, parts, json_object_get(m, "content"),
                                     0) != 0)
            {
                return -1;
            }
            s = lava_xstr(m, "refusal");
            if (s != NULL && lava_xtext_part(parts, s, strlen(s)) != 0) {
                return lava_xerr(x, "out of memory");
            }
            if (lava_xopenai_calls(x, parts, json_object_get(m, "tool_calls"))
                != 0)
            {
                return -1;
            }
            break;

        case LAVA_ROLE_TOOL:
            id = lava_xstr(m, "tool_call_id");
            if (id == NULL) {
                return lava_xerr(x, "a tool message has no tool_call_id");
            }
            name = lava_xcall_name(req, id);
            if (name == NULL) {
                return lava_xerr(x, "tool message %.64s answers no tool call",
                                 id);
            }
            if (lava_xtool_text(x, json_object_get(m, "content"), &text) != 0)
            {
                return -1;
            }
            p = json_pack("{s:s, s:s, s:s, s:o}", "type", "tool_result",
                          "id", id, "name", name, "content", text);
            parts = json_object_get(lava_xmsg_role(req, "user"), "parts");
            if (p == NULL || json_array_append_new(parts, p) != 0) {
                return lava_xerr(x, "out of memory");
            }
            break;

        default:
            return lava_xerr(x, "message role %.32s is not supported by %s",
                             role, lava_xlate_fmt_name(x->to));
        }
    }

    tools = json_object_get(body, "tools");
    if (tools != NULL && !json_is_null(tools)) {
        if (!json_is_array(tools)) {
            return lava_xerr(x, "tools must be an array");
        }
        json_array_foreach(tools, i, t) {
            s = lava_xstr(t, "type");
            if (s != NULL && strcmp(s, "function") != 0) {
                return lava_xunsupported(x, "a tool that is not a function");
            }
            f = json_object_get(t, "function");
            if (json_object_get(f, "strict") != NULL
                && json_is_true(json_object_get(f, "strict")))
            {
                return lava_xunsupported(x, "strict function tools");
            }
            if (lava_xtool(x, req, lava_xstr(f, "name"),
                           lava_xstr(f, "description"),
                           json_object_get(f, "parameters")) != 0)
            {
                return -1;
            }
        }
    }

    c = json_object_get(body, "tool_choice");
    if (json_is_string(c)) {
        s = json_string_value(c);
        if (strcmp(s, "auto") != 0 && strcmp(s, "none") != 0
            && strcmp(s, "required") != 0)
        {
            return lava_xerr(x, "tool_choice %.32s is unknown", s);
        }
        lava_xchoice(req, s, NULL);

    } else if (json_is_object(c)) {
        name = lava_xstr(json_object_get(c, "function"), "name");
        if (name == NULL) {
            return lava_xunsupported(x, "this tool_choice");
        }
        lava_xchoice(req, "tool", name);

    } else if (c != NULL && !json_is_null(c)) {
        return lava_xerr(x, "tool_choice must be a string or an object");
    }

    if (json_is_false(json_object_get(body, "parallel_tool_calls"))) {
        json_object_set_new(req, "parallel", json_false());
    }

    v = json_object_get(body, "max_completion_tokens");
    if (v == NULL || json_is_null(v)) {
        v = json_object_get(body, "max_tokens");
    }

    if (lava_xnum(x, req, "max_tokens", v, "max_tokens", 1) != 0
        || lava_xnum(x, req, "temperature",
                     json_object_get(body, "temperature"), "temperature", 0)
        || lava_xnum(x, req, "top_p", json_object_get(body, "top_p"),
                     "top_p", 0)
        || lava_xnum(x, req, "presence_penalty",
                     json_object_get(body, "presence_penalty"),
                     "presence_penalty", 0)
        || lava_xnum(x, req, "frequency_penalty",
                     json_object_get(body, "frequency_penalty"),
                     "frequency_penalty", 0)
        || lava_xnum(x, req, "seed", json_object_get(body, "seed"), "seed", 1)
        || lava_xstop(x, req, json_object_get(body, "stop"), "stop"))
    {
        return -1;
    }

    v = json_object_get(body, "n");
    if (v != NULL && !json_is_null(v)
        && !(json_is_integer(v) && json_integer_value(v) == 1))
    {
        return lava_xunsupported(x, "n other than 1");
    }

    if (json_is_true(json_object_get(body, "logprobs"))) {
        return lava_xunsupported(x, "logprobs");
    }

    v = json_object_get(body, "modalities");
    if (v != NULL && !json_is_null(v)
        && !(json_array_size(v) == 1
             && json_is_string(json_array_get(v, 0))
             && strcmp(json_string_value(json_array_get(v, 0)), "text") == 0))
    {
        return lava_xunsupported(x, "modalities other than text");
    }

    rf = json_object_get(body, "response_format");
    s = lava_xstr(rf, "type");
    if (s != NULL && strcmp(s, "json_object") == 0) {
        json_object_set_new(req, "format", json_pack("{s:s}", "type", "json"));

    } else if (s != NULL && strcmp(s, "json_schema") == 0) {
        js = json_object_get(rf, "json_schema");
        if (!json_is_object(json_object_get(js, "schema"))) {
            return lava_xerr(x, "response_format json_schema has no schema");
        }
        v = json_pack("{s:s, s:s, s:O}", "type", "json_schema",
                      "name", lava_xstr(js, "name") ? lava_xstr(js, "name")
                                                    : "response",
                      "schema", json_object_get(js, "schema"));
        if (json_is_true(json_object_get(js, "strict"))) {
            json_object_set_new(v, "strict", json_true());
        }
        json_object_set_new(req, "format", v);

    } else if (rf != NULL && !json_is_null(rf)
               && (s == NULL || strcmp(s, "text") != 0))
    {
        return lava_xunsupported(x, "this response_format");
    }

    if (json_is_true(json_object_get(body, "stream"))) {
        json_object_set_new(req, "stream", json_true());
        if (json_is_true(json_object_get(json_object_get(body,
                                         "stream_options"), "include_usage")))
        {
            json_object_set_new(req, "include_usage", json_true());
        }
    }

    s = lava_xstr(body, "user");
    if (s != NULL) {
        json_object_set_new(req, "user", json_string(s));
    }

    return 0;
}


/* ---- Anthropic Messages ------------------------------------------------- */

static const char *const lava_anthropic_top[] = {
    "model", "messages", "system", "max_tokens", "temperature", "top_p",
    "top_k", "stop_sequences", "stream", "tools", "tool_choice", "metadata",
    "thinking", "service_tier", NULL
};


static int
lava_xanthropic_image(lava_xctx_t *x, json_t *parts, json_t *block)
{
    json_t      *src, *p;
    const char  *type;

    src = json_object_get(block, "source");
    type = lava_xstr(src, "type");

    if (type != NULL && strcmp(type, "base64") == 0
        && lava_xstr(src, "media_type") != NULL
        && lava_xstr(src, "data") != NULL)
    {
        p = json_pack("{s:s, s:s, s:s}", "type", "image",
                      "mime", lava_xstr(src, "media_type"),
                      "data", lava_xstr(src, "data"));

    } else if (type != NULL && strcmp(type, "url") == 0
               && lava_xstr(src, "url") != NULL)
    {
        p = json_pack("{s:s, s:s}", "type", "image",
                      "url", lava_xstr(src, "url"));

    } else {
        return lava_xunsupported(x, "this image source");
    }

    if (p == NULL || json_array_append_new(parts, p) != 0) {
        return lava_xerr(x, "out of memory");
    }

    return 0;
}


/* tool_result content: a string or text blocks, joined */
static int
lava_xanthropic_result(lava_xctx_t *x, json_t *req, json_t *parts,
    json_t *block)
{
    const char  *id, *name;
    json_t      *text, *p;

    id = lava_xstr(block, "tool_use_id");
    if (id == NULL) {
        return lava_xerr(x, "a tool_result has no tool_use_id");
    }

    name = lava_xcall_name(req, id);
    if (name == NULL) {
        return lava_xerr(x, "tool_result %.64s answers no tool_use", id);
    }

    if (lava_xtool_text(x, json_object_get(block, "content"), &text) != 0) {
        return -1;
    }

    p = json_pack("{s:s, s:s, s:s, s:o}", "type", "tool_result", "id", id,
                  "name", name, "content", text);
    if (p == NULL) {
        return lava_xerr(x, "out of memory");
    }

    if (json_is_true(json_object_get(block, "is_error"))) {
        json_object_set_new(p, "error", json_true());
    }

    return json_array_append_new(parts, p);
}


static int
lava_xanthropic_content(lava_xctx_t *x, json_t *req, json_t *parts,
    json_t *content, int assistant)
{
    size_t       i;
    json_t      *b, *in, *p;
    const char  *type, *s;
    char         what[96];

    if (json_is_string(content)) {
        return lava_xtext_part(parts, json_string_value(content),
                               json_string_length(content));
    }

    if (!json_is_array(content)) {
        return lava_xerr(x, "message content must be a string or an array");
    }

    json_array_foreach(content, i, b) {
        type = lava_xstr(b, "type");

        if (type == NULL) {
            return lava_xerr(x, "a content block has no type");
        }

        if (strcmp(type, "text") == 0) {
            s = lava_xstr(b, "text");
            if (s == NULL || lava_xtext_part(parts, s, strlen(s)) != 0) {
                return lava_xerr(x, "a text block has no text");
            }

        } else if (strcmp(type, "image") == 0 && !assistant) {
            if (lava_xanthropic_image(x, parts, b) != 0) {
                return -1;
            }

        } else if (strcmp(type, "tool_use") == 0 && assistant) {
            in = json_object_get(b, "input");
            if (lava_xstr(b, "id") == NULL || lava_xstr(b, "name") == NULL
                || !json_is_object(in))
            {
                return lava_xerr(x, "a tool_use block needs id, name and an "
                                 "input object");
            }
            p = json_pack("{s:s, s:s, s:s, s:O}", "type", "tool_call",
                          "id", lava_xstr(b, "id"),
                          "name", lava_xstr(b, "name"), "args", in);
            if (p == NULL || json_array_append_new(parts, p) != 0) {
                return lava_xerr(x, "out of memory");
            }

        } else if (strcmp(type, "tool_result") == 0 && !assistant) {
            if (lava_xanthropic_result(x, req, parts, b) != 0) {
                return -1;
            }

        } else if ((strcmp(type, "thinking") == 0
                    || strcmp(type, "redacted_thinking") == 0) && assistant)
        {
            /* the model's earlier reasoning: only Anthropic reads it back,
             * and it is signed for Anthropic alone */
            continue;

        } else {
            snprintf(what, sizeof(what), "%.40s content blocks", type);
            return lava_xunsupported(x, what);
        }
    }

    return 0;
}


int
lava_xreq_read_anthropic(lava_xctx_t *x, json_t *body, json_t *req)
{
    size_t       i;
    json_t      *v, *msgs, *m, *parts, *tools, *t, *c, *th;
    const char  *role, *s;
    char         what[96];

    if (lava_xknown(x, body, lava_anthropic_top, "") != 0) {
        return -1;
    }

    json_object_set_new(req, "system", json_array());
    json_object_set_new(req, "messages", json_array());
    json_object_set_new(req, "tools", json_array());

    if ((v = json_object_get(body, "model")) != NULL) {
        if (!json_is_string(v)) {
            return lava_xerr(x, "model must be a string");
        }
        json_object_set(req, "model", v);
    }

    v = json_object_get(body, "system");
    if (json_is_string(v)) {
        if (json_string_length(v) > 0) {
            lava_xtext_part(json_object_get(req, "system"),
                            json_string_value(v), json_string_length(v));
        }

    } else if (json_is_array(v)) {
        json_array_foreach(v, i, t) {
            s = lava_xstr(t, "text");
            if (s == NULL || strcmp(lava_xstr(t, "type") ? lava_xstr(t, "type")
                                    : "", "text") != 0)
            {
                return lava_xunsupported(x, "a system block that is not text");
            }
            lava_xtext_part(json_object_get(req, "system"), s, strlen(s));
        }

    } else if (v != NULL && !json_is_null(v)) {
        return lava_xerr(x, "system must be a string or an array");
    }

    msgs = json_object_get(body, "messages");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        return lava_xerr(x, "messages must be a non-empty array");
    }

    json_array_foreach(msgs, i, m) {
        role = lava_xstr(m, "role");

        switch (lava_xlate_role_parse(LAVA_FMT_ANTHROPIC, role)) {

        case LAVA_ROLE_USER:
            parts = json_object_get(lava_xmsg(req, "user"), "parts");
            if (lava_xanthropic_content(x, req, parts,
                                        json_object_get(m, "content"), 0) != 0)
            {
                return -1;
            }
            break;

        case LAVA_ROLE_ASSISTANT:
            parts = json_object_get(lava_xmsg(req, "assistant"), "parts");
            if (lava_xanthropic_content(x, req, parts,
                                        json_object_get(m, "content"), 1) != 0)
            {
                return -1;
            }
            break;

        default:
            return lava_xerr(x, "message role %.32s is unknown",
                             role ? role : "(none)");
        }
    }

    tools = json_object_get(body, "tools");
    if (tools != NULL && !json_is_null(tools)) {
        if (!json_is_array(tools)) {
            return lava_xerr(x, "tools must be an array");
        }
        json_array_foreach(tools, i, t) {
            s = lava_xstr(t, "type");
            if (s != NULL && strcmp(s, "custom") != 0) {
                snprintf(what, sizeof(what), "the %.40s tool", s);
                return lava_xunsupported(x, what);
            }
            if (lava_xtool(x, req, lava_xstr(t, "name"),
                           lava_xstr(t, "description"),
                           json_object_get(t, "input_schema")) != 0)
            {
                return -1;
            }
        }
    }

    c = json_object_get(body, "tool_choice");
    if (c != NULL && !json_is_null(c)) {
        s = lava_xstr(c, "type");
        if (s == NULL) {
            return lava_xerr(x, "tool_choice has no type");
        }
        if (strcmp(s, "auto") == 0 || strcmp(s, "none") == 0) {
            lava_xchoice(req, s, NULL);
        } else if (strcmp(s, "any") == 0) {
            lava_xchoice(req, "required", NULL);
        } else if (strcmp(s, "tool") == 0 && lava_xstr(c, "name") != NULL) {
            lava_xchoice(req, "tool", lava_xstr(c, "name"));
        } else {
            return lava_xerr(x, "tool_choice %.32s is unknown", s);
        }
        if (json_is_true(json_object_get(c, "disable_parallel_tool_use"))) {
            json_object_set_new(req, "parallel", json_false());
        }
    }

    if (lava_xnum(x, req, "max_tokens", json_object_get(body, "max_tokens"),
                  "max_tokens", 1) != 0
        || lava_xnum(x, req, "temperature",
                     json_object_get(body, "temperature"), "temperature", 0)
        || lava_xnum(x, req, "top_p", json_object_get(body, "top_p"),
                     "top_p", 0)
        || lava_xnum(x, req, "top_k", json_object_get(body, "top_k"),
                     "top_k", 1)
        || lava_xstop(x, req, json_object_get(body, "stop_sequences"),
                      "stop_sequences"))
    {
        return -1;
    }

    if (json_is_true(json_object_get(body, "stream"))) {
        json_object_set_new(req, "stream", json_true());
    }

    v = json_object_get(body, "metadata");
    if (v != NULL && !json_is_null(v)) {
        if (lava_xknown(x, v, (const char *const []) { "user_id", NULL },
                        "metadata") != 0)
        {
            return -1;
        }
        s = lava_xstr(v, "user_id");
        if (s != NULL) {
            json_object_set_new(req, "user", json_string(s));
        }
    }

    th = json_object_get(body, "thinking");
    s = lava_xstr(th, "type");
    if (s != NULL && strcmp(s, "enabled") == 0) {
        if (lava_xnum(x, req, "thinking_budget",
                      json_object_get(th, "budget_tokens"),
                      "thinking.budget_tokens", 1) != 0)
        {
            return -1;
        }

    } else if (th != NULL && !json_is_null(th)
               && (s == NULL || strcmp(s, "disabled") != 0))
    {
        return lava_xunsupported(x, "this thinking setting");
    }

    return 0;
}


/* ---- Gemini generateContent --------------------------------------------- */

static const char *const lava_gemini_top[] = {
    "contents", "systemInstruction", "system_instruction", "tools",
    "toolConfig", "tool_config", "generationConfig", "generation_config",
    "model", NULL
};

static const char *const lava_gemini_gen[] = {
    "maxOutputTokens", "max_output_tokens", "temperature", "topP", "top_p",
    "topK", "top_k", "stopSequences", "stop_sequences", "candidateCount",
    "candidate_count", "responseMimeType", "response_mime_type",
    "responseSchema", "response_schema", "responseJsonSchema",
    "response_json_schema", "presencePenalty", "presence_penalty",
    "frequencyPenalty", "frequency_penalty", "seed", "thinkingConfig",
    "thinking_config", "responseModalities", "response_modalities", NULL
};


/* Gemini's OpenAPI-style schema types are upper case ("OBJECT"); JSON
 * Schema's are lower case. A copy with every "type" string lowered. */
static json_t *
lava_xschema_lower(json_t *s)
{
    json_t      *c, *v;
    const char  *k;
    size_t       i;
    char         t[32];

    if (json_is_object(s)) {
        c = json_object();
        json_object_foreach(s, k, v) {
            if (strcmp(k, "type") == 0 && json_is_string(v)
                && json_string_length(v) < sizeof(t))
            {
                for (i = 0; i <= json_string_length(v); i++) {
                    t[i] = (char) (json_string_value(v)[i] >= 'A'
                                   && json_string_value(v)[i] <= 'Z'
                                   ? json_string_value(v)[i] + 32
                                   : json_string_value(v)[i]);
                }
                json_object_set_new(c, k, json_string(t));
            } else {
                json_object_set_new(c, k, lava_xschema_lower(v));
            }
        }
        return c;
    }

    if (json_is_array(s)) {
        c = json_array();
        json_array_foreach(s, i, v) {
            json_array_append_new(c, lava_xschema_lower(v));
        }
        return c;
    }

    return json_incref(s);
}


/* whether a tool_result for this id is in req already */
static int
lava_xanswered(json_t *req, const char *id)
{
    size_t   i, j;
    json_t  *m, *p;

    json_array_foreach(json_object_get(req, "messages"), i, m) {
        json_array_foreach(json_object_get(m, "parts"), j, p) {
            if (strcmp(lava_xstr(p, "type"), "tool_result") == 0
                && strcmp(lava_xstr(p, "id"), id) == 0)
            {
                return 1;
            }
        }
    }

    return 0;
}


/*
 * functionResponse -> tool result. Without an id it answers the earliest
 * call of that name not answered yet (Gemini pairs them by name and order).
 * The text: {"output": str} and {"error": str} (Gemini's documented keys)
 * unwrap, anything else is the response object as JSON.
 */
static int
lava_xgemini_result(lava_xctx_t *x, json_t *req, json_t *parts, json_t *fr)
{
    const char  *name, *id;
    json_t      *resp, *v, *m, *p, *q;
    char        *dump;
    int          error;
    size_t       i, j;

    name = lava_xstr(fr, "name");
    resp = json_object_get(fr, "response");
    id = lava_xstr(fr, "id");

    if (name == NULL) {
        return lava_xerr(x, "a functionResponse has no name");
    }

    if (id == NULL) {
        json_array_foreach(json_object_get(req, "messages"), i, m) {
            json_array_foreach(json_object_get(m, "parts"), j, q) {
                if (id == NULL
                    && strcmp(lava_xstr(q, "type"), "tool_call") == 0
                    && strcmp(lava_xstr(q, "name"), name) == 0
                    && !lava_xanswered(req, lava_xstr(q, "id")))
                {
                    id = lava_xstr(q, "id");
                }
            }
        }

        if (id == NULL) {
            return lava_xerr(x, "functionResponse %.64s answers no "
                             "functionCall", name);
        }
    }

    error = 0;
    v = NULL;

    if (json_is_object(resp) && json_object_size(resp) == 1) {
        v = json_object_get(resp, "output");
        if (v == NULL) {
            v = json_object_get(resp, "error");
            error = v != NULL;
        }
    }

    if (json_is_string(v)) {
        p = json_pack("{s:s, s:s, s:s, s:O}", "type", "tool_result", "id", id,
                      "name", name, "content", v);

    } else {
        dump = json_dumps(v != NULL ? v : resp,
                          LAVA_XJSON_DUMP | JSON_ENCODE_ANY);
        p = json_pack("{s:s, s:s, s:s, s:s}", "type", "tool_result", "id", id,
                      "name", name, "content", dump ? dump : "null");
        free(dump);
    }

    if (p == NULL) {
        return lava_xerr(x, "out of memory");
    }

    if (error) {
        json_object_set_new(p, "error", json_true());
    }

    return json_array_append_new(parts, p);
}


static int
lava_xgemini_parts(lava_xctx_t *x, json_t *req, json_t *parts, json_t *gp,
    int assistant, unsigned *calls)
{
    size_t       i;
    json_t      *p, *d, *q, *args;
    const char  *s, *mime, *key;
    char         what[96], id[32];

    if (!json_is_array(gp)) {
        return lava_xerr(x, "content parts must be an array");
    }

    json_array_foreach(gp, i, p) {
        if ((s = lava_xstr(p, "text")) != NULL) {
            if (json_is_true(json_object_get(p, "thought"))) {
                continue;     /* earlier reasoning, as for Anthropic */
            }
            if (lava_xtext_part(parts, s, strlen(s)) != 0) {
                return lava_xerr(x, "out of memory");
            }

        } else if ((d = lava_xget2(p, "inlineData", "inline_data")) != NULL) {
            mime = json_string_value(lava_xget2(d, "mimeType", "mime_type"));
            s = lava_xstr(d, "data");
            if (mime == NULL || s == NULL || strncmp(mime, "image/", 6) != 0) {
                snprintf(what, sizeof(what), "inline data of type %.40s",
                         mime ? mime : "(none)");
                return lava_xunsupported(x, what);
            }
            q = json_pack("{s:s, s:s, s:s}", "type", "image", "mime", mime,
                          "data", s);
            if (q == NULL || json_array_append_new(parts, q) != 0) {
                return lava_xerr(x, "out of memory");
            }

        } else if ((d = lava_xget2(p, "fileData", "file_data")) != NULL) {
            mime = json_string_value(lava_xget2(d, "mimeType", "mime_type"));
            s = json_string_value(lava_xget2(d, "fileUri", "file_uri"));
            if (s == NULL || (mime != NULL && strncmp(mime, "image/", 6) != 0)
                || (strncmp(s, "https://", 8) != 0
                    && strncmp(s, "http://", 7) != 0))
            {
                return lava_xunsupported(x, "fileData other than an image URL");
            }
            if (strncmp(s, "https://generativelanguage.googleapis.com/", 42)
                == 0)
            {
                /* a Files API upload: only Gemini, with the key, reads it */
                return lava_xunsupported(x, "a Gemini Files API upload");
            }
            if (lava_ximage_url(x, parts, s) != 0) {
                return -1;
            }

        } else if ((d = lava_xget2(p, "functionCall", "function_call")) != NULL
                   && assistant)
        {
            args = json_object_get(d, "args");
            if (lava_xstr(d, "name") == NULL
                || (args != NULL && !json_is_object(args)))
            {
                return lava_xerr(x, "a functionCall needs a name and args "
                                 "object");
            }
            (*calls)++;
            snprintf(id, sizeof(id), "call_%u", *calls);
            q = json_pack("{s:s, s:s, s:s, s:o}", "type", "tool_call",
                          "id", lava_xstr(d, "id") ? lava_xstr(d, "id") : id,
                          "name", lava_xstr(d, "name"),
                          "args", args ? json_incref(args) : json_object());
            if (q == NULL || json_array_append_new(parts, q) != 0) {
                return lava_xerr(x, "out of memory");
            }

        } else if ((d = lava_xget2(p, "functionResponse", "function_response"))
                   != NULL && !assistant)
        {
            if (lava_xgemini_result(x, req, parts, d) != 0) {
                return -1;
            }

        } else {
            key = "this part";
            json_object_foreach(p, key, d) {
                if (strcmp(key, "thoughtSignature") != 0
                    && strcmp(key, "thought_signature") != 0)
                {
                    break;
                }
            }
            snprintf(what, sizeof(what), "%.40s parts%s", key,
                     assistant ? " from the model" : "");
            return lava_xunsupported(x, what);
        }
    }

    return 0;
}


static int
lava_xgemini_gen(lava_xctx_t *x, json_t *req, json_t *gc)
{
    json_t      *v, *tc;
    const char  *mime;

    if (lava_xknown(x, gc, lava_gemini_gen, "generationConfig") != 0) {
        return -1;
    }

    if (lava_xnum(x, req, "max_tokens",
                  lava_xget2(gc, "maxOutputTokens", "max_output_tokens"),
                  "maxOutputTokens", 1) != 0
        || lava_xnum(x, req, "temperature", json_object_get(gc, "temperature"),
                     "temperature", 0)
        || lava_xnum(x, req, "top_p", lava_xget2(gc, "topP", "top_p"),
                     "topP", 0)
        || lava_xnum(x, req, "top_k", lava_xget2(gc, "topK", "top_k"),
                     "topK", 1)
        || lava_xnum(x, req, "presence_penalty",
                     lava_xget2(gc, "presencePenalty", "presence_penalty"),
                     "presencePenalty", 0)
        || lava_xnum(x, req, "frequency_penalty",
                     lava_xget2(gc, "frequencyPenalty", "frequency_penalty"),
                     "frequencyPenalty", 0)
        || lava_xnum(x, req, "seed", json_object_get(gc, "seed"), "seed", 1)
        || lava_xstop(x, req, lava_xget2(gc, "stopSequences", "stop_sequences"),
                      "stopSequences"))
    {
        return -1;
    }

    v = lava_xget2(gc, "candidateCount", "candidate_count");
    if (v != NULL && !(json_is_integer(v) && json_integer_value(v) == 1)) {
        return lava_xunsupported(x, "candidateCount other than 1");
    }

    v = lava_xget2(gc, "responseModalities", "response_modalities");
    if (v != NULL
        && !(json_array_size(v) == 1
             && json_is_string(json_array_get(v, 0))
             && strcasecmp(json_string_value(json_array_get(v, 0)), "text")
                == 0))
    {
        return lava_xunsupported(x, "responseModalities other than TEXT");
    }

    mime = json_string_value(lava_xget2(gc, "responseMimeType",
                                        "response_mime_type"));
    v = lava_xget2(gc, "responseJsonSchema", "response_json_schema");
    if (v == NULL) {
        v = lava_xget2(gc, "responseSchema", "response_schema");
        v = v != NULL ? lava_xschema_lower(v) : NULL;
    } else {
        json_incref(v);
    }

    if (mime != NULL && strcmp(mime, "application/json") == 0) {
        if (json_is_object(v)) {
            json_object_set_new(req, "format",
                                json_pack("{s:s, s:s, s:O}", "type",
                                          "json_schema", "name", "response",
                                          "schema", v));
        } else {
            json_object_set_new(req, "format",
                                json_pack("{s:s}", "type", "json"));
        }

    } else if (mime != NULL && strcmp(mime, "text/plain") != 0) {
        json_decref(v);
        return lava_xunsupported(x, "this responseMimeType");

    } else if (v != NULL) {
        json_decref(v);
        return lava_xerr(x, "a response schema needs responseMimeType "
                         "application/json");
    }

    json_decref(v);

    tc = lava_xget2(gc, "thinkingConfig", "thinking_config");
    if (tc != NULL) {
        v = lava_xget2(tc, "thinkingBudget", "thinking_budget");
        if (json_is_integer(v) && json_integer_value(v) > 0) {
            json_object_set(req, "thinking_budget", v);
        } else if (v != NULL && !(json_is_integer(v)
                                  && json_integer_value(v) == 0))
        {
            return lava_xunsupported(x, "this thinkingConfig");
        }
    }

    return 0;
}


int
lava_xreq_read_gemini(lava_xctx_t *x, json_t *body, json_t *req)
{
    size_t       i, j;
    json_t      *v, *c, *parts, *t, *fd, *fcc, *names, *params;
    const char  *role, *key, *mode;
    unsigned     calls;
    char         what[96];
    int          r;

    if (lava_xknown(x, body, lava_gemini_top, "") != 0) {
        return -1;
    }

    json_object_set_new(req, "system", json_array());
    json_object_set_new(req, "messages", json_array());
    json_object_set_new(req, "tools", json_array());

    /* GenerateContentRequest.model ("models/<name>"), which Gemini's URL
     * repeats: the model of another target when the caller names none (a
     * google-format client of the rewrite endpoint has no Gemini URL) */
    v = json_object_get(body, "model");
    if (v != NULL && !json_is_null(v)) {
        key = json_string_value(v);
        if (key == NULL || key[0] == '\0') {
            return lava_xerr(x, "model must be a non-empty string");
        }
        if (strncmp(key, "models/", 7) == 0 && key[7] != '\0') {
            key += 7;
        }
        json_object_set_new(req, "model", json_string(key));
    }

    v = lava_xget2(body, "systemInstruction", "system_instruction");
    if (v != NULL) {
        if (!json_is_array(json_object_get(v, "parts"))) {
            return lava_xerr(x, "systemInstruction.parts must be an array");
        }
        json_array_foreach(json_object_get(v, "parts"), i, t) {
            if (lava_xstr(t, "text") == NULL) {
                return lava_xunsupported(x, "a systemInstruction part that "
                                         "is not text");
            }
            lava_xtext_part(json_object_get(req, "system"),
                            lava_xstr(t, "text"),
                            strlen(lava_xstr(t, "text")));
        }
    }

    v = json_object_get(body, "contents");
    if (!json_is_array(v) || json_array_size(v) == 0) {
        return lava_xerr(x, "contents must be a non-empty array");
    }

    calls = 0;

    json_array_foreach(v, i, c) {
        role = lava_xstr(c, "role");
        r = role == NULL ? LAVA_ROLE_USER
                         : lava_xlate_role_parse(LAVA_FMT_GEMINI, role);

        if (r < 0) {
            return lava_xerr(x, "content role %.32s is unknown", role);
        }

        parts = json_object_get(lava_xmsg(req, r == LAVA_ROLE_ASSISTANT
                                                ? "assistant" : "user"),
                                "parts");

        if (lava_xgemini_parts(x, req, parts, json_object_get(c, "parts"),
                               r == LAVA_ROLE_ASSISTANT, &calls)
            != 0)
        {
            return -1;
        }
    }

    v = json_object_get(body, "tools");
    if (v != NULL && !json_is_array(v)) {
        return lava_xerr(x, "tools must be an array");
    }

    json_array_foreach(v, i, t) {
        if (!json_is_object(t)) {
            return lava_xerr(x, "a tool must be an object");
        }

        json_object_foreach(t, key, fd) {
            if (strcmp(key, "functionDeclarations") != 0
                && strcmp(key, "function_declarations") != 0)
            {
                snprintf(what, sizeof(what), "the %.40s tool", key);
                return lava_xunsupported(x, what);
            }

            if (!json_is_array(fd)) {
                return lava_xerr(x, "functionDeclarations must be an array");
            }

            json_array_foreach(fd, j, c) {
                params = lava_xget2(c, "parametersJsonSchema",
                                    "parameters_json_schema");
                if (params != NULL) {
                    json_incref(params);
                } else if ((params = json_object_get(c, "parameters"))
                           != NULL)
                {
                    params = lava_xschema_lower(params);
                }
                r = lava_xtool(x, req, lava_xstr(c, "name"),
                               lava_xstr(c, "description"), params);
                json_decref(params);
                if (r != 0) {
                    return -1;
                }
            }
        }
    }

    fcc = lava_xget2(lava_xget2(body, "toolConfig", "tool_config"),
                     "functionCallingConfig", "function_calling_config");
    if (fcc != NULL) {
        mode = lava_xstr(fcc, "mode");
        names = lava_xget2(fcc, "allowedFunctionNames",
                           "allowed_function_names");

        if (names != NULL && !(mode != NULL && strcmp(mode, "ANY") == 0
                               && json_array_size(names) == 1
                               && json_is_string(json_array_get(names, 0))))
        {
            return lava_xunsupported(x, "allowedFunctionNames other than one "
                                     "name with mode ANY");
        }

        if (mode == NULL || strcmp(mode, "AUTO") == 0
            || strcmp(mode, "MODE_UNSPECIFIED") == 0)
        {
            lava_xchoice(req, "auto", NULL);
        } else if (strcmp(mode, "NONE") == 0) {
            lava_xchoice(req, "none", NULL);
        } else if (strcmp(mode, "ANY") == 0) {
            lava_xchoice(req, names ? "tool" : "required",
                         names ? json_string_value(json_array_get(names, 0))
                               : NULL);
        } else {
            return lava_xunsupported(x, "this functionCallingConfig mode");
        }
    }

    v = lava_xget2(body, "generationConfig", "generation_config");
    if (v != NULL && lava_xgemini_gen(x, req, v) != 0) {
        return -1;
    }

    return 0;
}
