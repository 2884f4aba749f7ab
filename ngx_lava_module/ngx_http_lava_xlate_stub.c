/*
 * Until lib/lava_xlate.c (JSON bodies) is built into the module, these weak
 * definitions stand in for it: every translation of a body is refused,
 * naming the missing piece, and same-format requests pass through
 * (ngx_http_lava_api.c never calls a translator for them). A real
 * definition linked in replaces each one; this file goes once it is.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lava_xlate.h"


static const char *
ngx_http_lava_xlate_stub_name(lava_fmt_e f)
{
    switch (f) {
    case LAVA_FMT_OPENAI:
        return "openai";
    case LAVA_FMT_ANTHROPIC:
        return "anthropic";
    case LAVA_FMT_GEMINI:
        return "google";
    default:
        return "unknown";
    }
}


__attribute__((weak)) int
lava_xlate_request_info(lava_fmt_e from, lava_fmt_e to, const char *body,
    size_t len, const char *model, lava_xlate_req_info_t *info,
    lava_xlate_buf_t *out, char *err, size_t errlen)
{
    (void) body; (void) len; (void) model; (void) info;

    out->data = NULL;
    out->len = 0;
    snprintf(err, errlen, "translation from %s to %s is not built into "
             "this gateway", ngx_http_lava_xlate_stub_name(from),
             ngx_http_lava_xlate_stub_name(to));
    return -1;
}


__attribute__((weak)) int
lava_xlate_response(lava_fmt_e from, lava_fmt_e to, const char *body,
    size_t len, lava_xlate_buf_t *out, char *err, size_t errlen)
{
    return lava_xlate_request_info(from, to, body, len, NULL, NULL, out,
                                   err, errlen);
}


__attribute__((weak)) int
lava_xlate_error(lava_fmt_e from, lava_fmt_e to, int status,
    const char *body, size_t len, lava_xlate_buf_t *out)
{
    (void) from; (void) to; (void) status; (void) body; (void) len;

    out->data = NULL;
    out->len = 0;
    return -1;
}


__attribute__((weak)) lava_fmt_e
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
