/*
 * Entry points of the JSON translators (lava_xlate.h): parse, read into the
 * internal form (lava_xlate_int.h), write the target, dump. Error bodies
 * are translated here too: they are small and every format's shape fits in
 * a few lines.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "lava_xlate_int.h"


static const char *lava_fmt_names[LAVA_FMT_N] = {
    "openai", "anthropic", "gemini"
};


lava_fmt_e
lava_xlate_fmt(const char *name, size_t len)
{
    if (len == 6 && memcmp(name, "openai", 6) == 0) {
        return LAVA_FMT_OPENAI;
    }
    if (len == 9 && memcmp(name, "anthropic", 9) == 0) {
        return LAVA_FMT_ANTHROPIC;
    }
    if ((len == 6 && memcmp(name, "google", 6) == 0)
        || (len == 6 && memcmp(name, "gemini", 6) == 0))
    {
        return LAVA_FMT_GEMINI;
    }

    return (lava_fmt_e) -1;
}


const char *
lava_xlate_fmt_name(lava_fmt_e fmt)
{
    return (unsigned) fmt < LAVA_FMT_N ? lava_fmt_names[fmt] : "unknown";
}


/*
 * Messages quote member names and types from the client's or provider's
 * bytes: anything but printable ASCII, a quote or a backslash becomes '?',
 * so a caller may put the text into JSON or a log line as it is.
 */
int
lava_xerr(lava_xctx_t *x, const char *fmt, ...)
{
    va_list   ap;
    u_char   *p;

    if (x->err != NULL && x->errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(x->err, x->errlen, fmt, ap);
        va_end(ap);

        for (p = (u_char *) x->err; *p != '\0'; p++) {
            if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\') {
                *p = '?';
            }
        }
    }

    return -1;
}


int
lava_xunsupported(lava_xctx_t *x, const char *what)
{
    return lava_xerr(x, "%s is not supported by %s", what,
                     lava_xlate_fmt_name(x->to));
}


const char *
lava_xstr(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}


json_t *
lava_xget2(const json_t *obj, const char *camel, const char *snake)
{
    json_t  *v;

    v = json_object_get(obj, camel);
    return v != NULL ? v : json_object_get(obj, snake);
}


int
lava_xtext_part(json_t *arr, const char *s, size_t len)
{
    json_t  *p;

    p = json_pack("{s:s, s:s%}", "type", "text", "text", s, len);
    if (p == NULL) {
        return -1;
    }

    return json_array_append_new(arr, p);
}


/* the fast path (lava_xlate_fast.c) is tried first; tests turn it off */
int  lava_xlate_fast_on = 1;


/* body bytes -> object, or -1 with err */
static json_t *
lava_xparse(lava_xctx_t *x, const char *body, size_t len, const char *what)
{
    json_t        *j;
    json_error_t   je;

    if (len > LAVA_XLATE_BODY_MAX) {
        lava_xerr(x, "%s body is too large to translate", what);
        return NULL;
    }

    /* JSON_REJECT_DUPLICATES: a member read twice by two parsers (ours and
     * the provider's) could mean two things */
    j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);

    if (j == NULL) {
        lava_xerr(x, "%s body is not valid JSON: %s", what, je.text);
        return NULL;
    }

    if (!json_is_object(j)) {
        json_decref(j);
        lava_xerr(x, "%s body is not a JSON object", what);
        return NULL;
    }

    return j;
}


static int
lava_xdump(lava_xctx_t *x, json_t *j, lava_xlate_buf_t *out)
{
    char  *s;

    s = json_dumps(j, LAVA_XJSON_DUMP);
    if (s == NULL) {
        return lava_xerr(x, "out of memory");
    }

    out->data = s;
    out->len = strlen(s);
    return 0;
}


static void
lava_xinfo(json_t *req, lava_xlate_req_info_t *info)
{
    const char  *m;

    if (info == NULL) {
        return;
    }

    if (info->stream < 0) {
        info->stream = json_is_true(json_object_get(req, "stream"));
    }

    info->include_usage = json_is_true(json_object_get(req, "include_usage"));
    m = lava_xstr(req, "model");
    snprintf(info->model, sizeof(info->model), "%s", m != NULL ? m : "");
}


/* from == to: the client's body, only the model replaced */
static int
lava_xsame(lava_xctx_t *x, json_t *body, const char *model,
    lava_xlate_req_info_t *info, lava_xlate_buf_t *out)
{
    const char  *m;
    json_t      *so;

    if (info != NULL) {
        m = lava_xstr(body, "model");
        snprintf(info->model, sizeof(info->model), "%s", m != NULL ? m : "");

        if (x->from == LAVA_FMT_GEMINI) {
            info->include_usage = 1;
            if (info->stream < 0) {
                info->stream = 0;
            }

        } else {
            if (info->stream < 0) {
                info->stream = json_is_true(json_object_get(body, "stream"));
            }
            so = json_object_get(body, "stream_options");
            info->include_usage = x->from == LAVA_FMT_ANTHROPIC
                || json_is_true(json_object_get(so, "include_usage"));
        }
    }

    if (model != NULL && x->to != LAVA_FMT_GEMINI) {
        if (json_object_set_new(body, "model", json_string(model)) != 0) {
            return lava_xerr(x, "model is not a valid UTF-8 string");
        }
    }

    return lava_xdump(x, body, out);
}


int
lava_xlate_request_info(lava_fmt_e from, lava_fmt_e to, const char *body,
    size_t len, const char *model, lava_xlate_req_info_t *info,
    lava_xlate_buf_t *out, char *err, size_t errlen)
{
    int           rc;
    json_t       *src, *req, *dst;
    lava_xctx_t   x = { from, to, err, errlen };

    out->data = NULL;
    out->len = 0;

    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }

    if ((unsigned) from >= LAVA_FMT_N || (unsigned) to >= LAVA_FMT_N) {
        return lava_xerr(&x, "unknown format");
    }

    if (lava_xlate_fast_on && from != to && len <= LAVA_XLATE_BODY_MAX
        && lava_xfast_request(from, to, body, len, model, info, out) == 0)
    {
        return 0;
    }

    src = lava_xparse(&x, body, len, "request");
    if (src == NULL) {
        return -1;
    }

    if (from == to) {
        rc = lava_xsame(&x, src, model, info, out);
        json_decref(src);
        return rc;
    }

    req = json_object();
    dst = NULL;
    rc = -1;

    if (req == NULL) {
        lava_xerr(&x, "out of memory");
        goto done;
    }

    switch (from) {
    case LAVA_FMT_OPENAI:
        rc = lava_xreq_read_openai(&x, src, req);
        break;
    case LAVA_FMT_ANTHROPIC:
        rc = lava_xreq_read_anthropic(&x, src, req);
        break;
    default:
        rc = lava_xreq_read_gemini(&x, src, req);
        break;
    }

    if (rc != 0) {
        goto done;
    }

    if (from == LAVA_FMT_GEMINI) {
        /* the stream flag is in the client's URL; usage always comes */
        if (info != NULL && info->stream > 0) {
            json_object_set_new(req, "stream", json_true());
        }
        json_object_set_new(req, "include_usage", json_true());

    } else if (from == LAVA_FMT_ANTHROPIC
               && json_is_true(json_object_get(req, "stream")))
    {
        json_object_set_new(req, "include_usage", json_true());
    }

    if (info != NULL && info->stream >= 0) {
        json_object_set_new(req, "stream", json_boolean(info->stream));
    }

    lava_xinfo(req, info);

    if (model != NULL) {
        if (json_object_set_new(req, "model", json_string(model)) != 0) {
            rc = lava_xerr(&x, "model is not a valid UTF-8 string");
            goto done;
        }
    }

    switch (to) {
    case LAVA_FMT_OPENAI:
        rc = lava_xreq_write_openai(&x, req, &dst);
        break;
    case LAVA_FMT_ANTHROPIC:
        rc = lava_xreq_write_anthropic(&x, req, &dst);
        break;
    default:
        rc = lava_xreq_write_gemini(&x, req, &dst);
        break;
    }

    if (rc == 0) {
        rc = lava_xdump(&x, dst, out);
    }

done:

    json_decref(dst);
    json_decref(req);
    json_decref(src);
    return rc;
}


int
lava_xlate_request(lava_fmt_e from, lava_fmt_e to, const char *body,
    size_t len, const char *model, lava_xlate_buf_t *out, char *err,
    size_t errlen)
{
    return lava_xlate_request_info(from, to, body, len, model, NULL, out,
                                   err, errlen);
}


int
lava_xlate_response(lava_fmt_e from, lava_fmt_e to, const char *body,
    size_t len, lava_xlate_buf_t *out, char *err, size_t errlen)
{
    int                 rc;
    json_t             *src, *dst;
    lava_xlate_resp_t   r;
    lava_xctx_t         x = { from, to, err, errlen };

    out->data = NULL;
    out->len = 0;

    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }

    if ((unsigned) from >= LAVA_FMT_N || (unsigned) to >= LAVA_FMT_N) {
        return lava_xerr(&x, "unknown format");
    }

    if (lava_xlate_fast_on && from != to && len <= LAVA_XLATE_BODY_MAX
        && lava_xfast_response(from, to, body, len, out) == 0)
    {
        return 0;
    }

    src = lava_xparse(&x, body, len, "response");
    if (src == NULL) {
        return -1;
    }

    if (from == to) {
        /* the provider's bytes as they came */
        json_decref(src);
        out->data = malloc(len + 1);
        if (out->data == NULL) {
            return lava_xerr(&x, "out of memory");
        }
        memcpy(out->data, body, len);
        out->data[len] = '\0';
        out->len = len;
        return 0;
    }

    memset(&r, 0, sizeof(r));
    dst = NULL;

    rc = lava_xresp_read(&x, src, &r);

    if (rc == 0) {
        rc = lava_xresp_write(&x, &r, &dst);
    }

    if (rc == 0) {
        rc = lava_xdump(&x, dst, out);
    }

    json_decref(dst);
    json_decref(r.parts);
    json_decref(src);
    return rc;
}


/* ---- error bodies ------------------------------------------------------- */

/*
 * The message, type/status and code of a provider's error body, whichever
 * shape it has (the three here, or {"message": ...}, or not JSON at all).
 */
static void
lava_xerror_read(json_t *j, const char **msg, const char **type,
    json_t **code)
{
    json_t  *e;

    *msg = NULL;
    *type = NULL;
    *code = NULL;

    if (!json_is_object(j)) {
        return;
    }

    e = json_object_get(j, "error");

    if (json_is_string(e)) {
        *msg = json_string_value(e);
        return;
    }

    if (!json_is_object(e)) {
        e = j;
    }

    *msg = lava_xstr(e, "message");
    *type = lava_xstr(e, "type");           /* OpenAI, Anthropic */
    if (*type == NULL) {
        *type = lava_xstr(e, "status");     /* Gemini */
    }

    *code = json_object_get(e, "code");     /* OpenAI string, Gemini int */
}


int
lava_xlate_error(lava_fmt_e from, lava_fmt_e to, int status,
    const char *body, size_t len, lava_xlate_buf_t *out)
{
    char         fallback[64];
    const char  *msg, *type;
    json_t      *src, *code, *dst;
    char        *s;

    out->data = NULL;
    out->len = 0;

    if ((unsigned) to >= LAVA_FMT_N) {
        to = LAVA_FMT_OPENAI;
    }

    src = len <= LAVA_XLATE_BODY_MAX ? json_loadb(body, len, 0, NULL) : NULL;

    if (from == to && json_is_object(src)) {
        /* the client speaks the provider's language: its bytes as sent */
        json_decref(src);
        out->data = malloc(len + 1);
        if (out->data == NULL) {
            return -1;
        }
        memcpy(out->data, body, len);
        out->data[len] = '\0';
        out->len = len;
        return 0;
    }

    lava_xerror_read(src, &msg, &type, &code);

    if (msg == NULL) {
        snprintf(fallback, sizeof(fallback),
                 "the provider answered HTTP %d", status);
        msg = fallback;
    }

    /* the provider's own type word only where the client speaks its
     * language; otherwise the client's word for the status */
    if (type == NULL || from != to) {
        type = lava_xlate_error_type(to, status);
    }

    switch (to) {

    case LAVA_FMT_ANTHROPIC:
        dst = json_pack("{s:s, s:{s:s, s:s}}", "type", "error",
                        "error", "type", type, "message", msg);
        break;

    case LAVA_FMT_GEMINI:
        dst = json_pack("{s:{s:i, s:s, s:s}}", "error", "code", status,
                        "message", msg, "status", type);
        break;

    default:
        if (from != LAVA_FMT_OPENAI || !json_is_string(code)) {
            code = NULL;
        }
        dst = json_pack("{s:{s:s, s:s, s:n, s:O?}}", "error",
                        "message", msg, "type", type, "param",
                        "code", code);
        break;
    }

    json_decref(src);

    if (dst == NULL) {
        return -1;
    }

    s = json_dumps(dst, LAVA_XJSON_DUMP);
    json_decref(dst);

    if (s == NULL) {
        return -1;
    }

    out->data = s;
    out->len = strlen(s);
    return 0;
}
