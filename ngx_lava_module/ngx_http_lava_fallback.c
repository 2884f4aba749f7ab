/*
 * Fallbacks across providers: parse, check, intercept, next attempt
 * (ngx_http_lava_fallback.h; docs/endpoints.md, "Fallbacks").
 *
 * Only the lava_api endpoints take fallbacks: the unified endpoints as a
 * "fallbacks" member of the body (removed before the body goes upstream),
 * the rewrite endpoint as an x-lava-fallbacks JSON header (every x-lava-*
 * header is removed before the request goes upstream). Each fallback is
 * {"url": "<provider URL, https or scheme-less>", "model": "<its model>"}.
 */

#include <jansson.h>

#include "ngx_http_lava_fallback.h"
#include "ngx_http_lava_api.h"
#include "ngx_http_lava_auth.h"


static ngx_int_t ngx_http_lava_fallback_content(ngx_http_request_t *r);
static ngx_int_t ngx_http_lava_fallback_process_header(ngx_http_request_t *r);


static ngx_str_t  ngx_http_lava_fb_provider = ngx_string("x-lava-provider");
static ngx_str_t  ngx_http_lava_fb_attempt = ngx_string("x-lava-attempt");


/* ---- directives ---- */

char *
ngx_http_lava_fallback_attempts(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_lava_loc_conf_t *llcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (llcf->fallback_attempts != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    n = ngx_atoi(value[1].data, value[1].len);

    if (n < 1 || n > NGX_HTTP_LAVA_FALLBACK_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" of \"lava_fallback_attempts\":"
                           " 1 to %d (each fallback takes two of nginx's %d "
                           "internal redirects)", &value[1],
                           NGX_HTTP_LAVA_FALLBACK_MAX,
                           NGX_HTTP_MAX_URI_CHANGES);
        return NGX_CONF_ERROR;
    }

    llcf->fallback_attempts = (ngx_uint_t) n;

    return NGX_CONF_OK;
}


char *
ngx_http_lava_fallback_timeout(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_lava_loc_conf_t *llcf = conf;

    ngx_msec_t  ms;
    ngx_str_t  *value;

    if (llcf->fallback_timeout != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;
    ms = ngx_parse_time(&value[1], 0);

    /* a day bounds it: ngx_msec_t differences stay far from wrapping */
    if (ms == (ngx_msec_t) NGX_ERROR || ms == 0 || ms > 86400000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" of \"lava_fallback_timeout\":"
                           " a time from 1ms to 1d", &value[1]);
        return NGX_CONF_ERROR;
    }

    llcf->fallback_timeout = ms;

    return NGX_CONF_OK;
}


/* ---- parse and check ---- */

/* "fallbacks[i]: what" in r->pool; NULL: the row's message */
static const char *
ngx_http_lava_fallback_msg(ngx_http_request_t *r, ngx_uint_t i,
    const char *what)
{
    u_char  *p, *last;
    size_t   len;

    len = sizeof("fallbacks[]: ") + NGX_INT_T_LEN + ngx_strlen(what);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NULL;
    }

    last = ngx_snprintf(p, len - 1, "fallbacks[%ui]: %s", i, what);
    *last = '\0';

    return (const char *) p;
}


/* the provider URL as lava_url_parse() takes the forward endpoint's u:
 * "u=" + the URL with '%', '&' and '#' escaped (u is decoded once) */
static int
ngx_http_lava_fallback_parse_url(ngx_http_request_t *r, ngx_str_t *url,
    lava_target_t *t)
{
    u_char  *args, *p, *buf;
    size_t   i, size;

    args = ngx_pnalloc(r->pool, 2 + 3 * url->len);
    size = 3 * url->len + 16;
    buf = ngx_pnalloc(r->pool, size);

    if (args == NULL || buf == NULL) {
        return -1;
    }

    p = ngx_cpymem(args, "u=", 2);

    for (i = 0; i < url->len; i++) {
        if (url->data[i] == '%' || url->data[i] == '&' || url->data[i] == '#')
        {
            p = ngx_sprintf(p, "%%%02XD", (ngx_uint_t) url->data[i]);

        } else {
            *p++ = url->data[i];
        }
    }

    return lava_url_parse("", 0, (char *) args, p - args, (char *) buf, size,
                          t);
}


/* the shape of a chat endpoint; -1 another endpoint */
static int
ngx_http_lava_fallback_fmt(lava_route_t *route)
{
    switch (route->ep) {

    case LAVA_EP_CHAT:
        return LAVA_FMT_OPENAI;

    case LAVA_EP_MESSAGES:
        return LAVA_FMT_ANTHROPIC;

    case LAVA_EP_GENERATE:
        return LAVA_FMT_GEMINI;

    default:
        return -1;
    }
}


/* the spend key's allow-lists and refuse_unpriced (the merchant's too) as
 * for the first provider: LAVA_REFUSAL_COUNT, or the refusal */
static lava_refusal_e
ngx_http_lava_fallback_allowed(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, ngx_http_lava_provider_t *provider,
    ngx_str_t *model)
{
    lava_refusal_e              code;
    ngx_slab_pool_t            *shpool;
    ngx_http_lava_auth_sh_t    *sh;
    ngx_http_lava_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);

    if (lmcf->auth_zone == NULL || lmcf->auth_zone->shm.addr == NULL) {
        return LAVA_REFUSAL_AUTH_UNAVAILABLE;
    }

    shpool = (ngx_slab_pool_t *) lmcf->auth_zone->shm.addr;
    sh = lmcf->auth_zone->data;

    ngx_shmtx_lock(&shpool->mutex);

    code = sh->snap ? ngx_http_lava_spendkey_fallback(ctx, sh->snap, provider,
                                                      model)
                    : LAVA_REFUSAL_AUTH_UNAVAILABLE;

    ngx_shmtx_unlock(&shpool->mutex);

    return code;
}


/* one member of the list, checked as the request would be (1-based i) */
static lava_refusal_e
ngx_http_lava_fallback_item(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    ngx_http_lava_fb_t *fb, json_t *it, ngx_uint_t i, const char **msg)
{
    int                         rc;
    size_t                      len;
    u_char                     *p;
    json_t                     *ju, *jm, *v;
    ngx_str_t                   url, model;
    const char                 *key, *s;
    lava_refusal_e              code;
    lava_route_t                route;
    lava_target_t               t;
    ngx_http_lava_provider_t   *pv;
    ngx_http_lava_fallback_t   *fi;
    ngx_http_lava_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);

    if (!json_is_object(it)) {
        *msg = ngx_http_lava_fallback_msg(r, i, "not an object "
                                          "{\"url\", \"model\"}");
        return LAVA_REFUSAL_INVALID_FALLBACKS;
    }

    json_object_foreach(it, key, v) {
        if (ngx_strcmp(key, "url") != 0 && ngx_strcmp(key, "model") != 0) {
            *msg = ngx_http_lava_fallback_msg(r, i, "a member other than "
                                              "\"url\" and \"model\"");
            return LAVA_REFUSAL_INVALID_FALLBACKS;
        }
    }

    ju = json_object_get(it, "url");
    jm = json_object_get(it, "model");

    if (!json_is_string(ju) || json_string_length(ju) == 0
        || json_string_length(ju) > LAVA_URL_MAX)
    {
        *msg = ngx_http_lava_fallback_msg(r, i, "\"url\" must be a provider "
                                          "URL (a string)");
        return LAVA_REFUSAL_INVALID_FALLBACKS;
    }

    if (jm != NULL
        && (!json_is_string(jm) || json_string_length(jm) == 0
            || json_string_length(jm) > LAVA_EVENT_MAX_model))
    {
        *msg = ngx_http_lava_fallback_msg(r, i, "\"model\" must be a model "
                                          "name of at most 256 bytes");
        return LAVA_REFUSAL_INVALID_FALLBACKS;
    }

    s = json_string_value(ju);
    len = json_string_length(ju);

    if (ngx_strlchr((u_char *) s, (u_char *) s + len, '\0') != NULL) {
        *msg = ngx_http_lava_fallback_msg(r, i, "\"url\" holds a NUL");
        return LAVA_REFUSAL_INVALID_FALLBACKS;
    }

    /* scheme-less as the issue writes it, or https:// itself; any other
     * scheme (http://) is refused by lava_url_parse() */
    p = (u_char *) ngx_strstr(s, "://");
    if (p && ngx_strlchr((u_char *) s, p, '/') == NULL) {
        url.data = ngx_pnalloc(r->pool, len);
        if (url.data == NULL) {
            return LAVA_REFUSAL_GATEWAY_ERROR;
        }

        ngx_memcpy(url.data, s, len);
        url.len = len;

    } else {
        url.data = ngx_pnalloc(r->pool, len + 8);
        if (url.data == NULL) {
            return LAVA_REFUSAL_GATEWAY_ERROR;
        }

        ngx_memcpy(ngx_cpymem(url.data, "https://", 8), s, len);
        url.len = len + 8;
    }

    rc = ngx_http_lava_fallback_parse_url(r, &url, &t);
    if (rc < 0) {
        return LAVA_REFUSAL_GATEWAY_ERROR;
    }

    if (rc != LAVA_URL_OK) {
        *msg = ngx_http_lava_fallback_msg(r, i, lava_url_strerror(rc));
        return LAVA_REFUSAL_INVALID_FALLBACKS;
    }

    if (t.key != NULL || t.path_len > LAVA_EVENT_MAX_endpoint) {
        *msg = ngx_http_lava_fallback_msg(r, i, "the URL carries a key or is "
                                          "too long");
        return LAVA_REFUSAL_INVALID_FALLBACKS;
    }

    pv = ngx_http_lava_provider_find(lmcf, (u_char *) t.host, t.host_len);
    if (pv == NULL) {
        *msg = ngx_http_lava_fallback_msg(r, i, "the host is not a provider "
                                          "of the gateway");
        return LAVA_REFUSAL_HOST_NOT_ALLOWED;
    }

    lava_meter_route(pv->usage, (char *) r->method_name.data,
                     r->method_name.len, t.path, t.path_len, &route);

    if (ngx_http_lava_fallback_fmt(&route) < 0) {
        *msg = ngx_http_lava_fallback_msg(r, i, "not a chat endpoint "
                                          "(chat/completions, /v1/messages "
                                          "or :generateContent)");
        return LAVA_REFUSAL_TRANSLATION_UNSUPPORTED;
    }

    if (route.model_len > LAVA_EVENT_MAX_model) {
        return LAVA_REFUSAL_MODEL_TOO_LONG;
    }

    /* the model of a Gemini path is the one billed; else "model" */
    if (route.model_len) {
        model.data = (u_char *) route.model;
        model.len = route.model_len;

    } else if (jm) {
        model.data = (u_char *) json_string_value(jm);
        model.len = json_string_length(jm);

    } else {
        *msg = ngx_http_lava_fallback_msg(r, i, "no \"model\"");
        return LAVA_REFUSAL_INVALID_FALLBACKS;
    }

    /* served with the operator's key of each provider: a key the client
     * brought for one provider is never sent to another */
    if (ctx->byok) {
        *msg = "fallbacks are served with the gateway's provider keys: a "
               "request with its own provider key cannot name fallbacks";
        return LAVA_REFUSAL_INVALID_FALLBACKS;
    }

    if (pv->key.len == 0 && pv->auth != NGX_HTTP_LAVA_AUTH_NONE) {
        *msg = ngx_http_lava_fallback_msg(r, i, "the gateway has no key of "
                                          "this provider");
        return LAVA_REFUSAL_PROVIDER_KEY_REQUIRED;
    }

    code = ngx_http_lava_fallback_allowed(r, ctx, pv, &model);

    if (code == LAVA_REFUSAL_MODEL_NOT_ALLOWED) {
        *msg = ngx_http_lava_fallback_msg(r, i, "the spend key's "
                                          "allowed_providers or "
                                          "allowed_models does not list it");
        return code;
    }

    if (code == LAVA_REFUSAL_MODEL_NOT_PRICED) {
        *msg = ngx_http_lava_fallback_msg(r, i, "its model has no rate of "
                                          "its own and unpriced models are "
                                          "refused");
        return code;
    }

    if (code != LAVA_REFUSAL_COUNT) {
        return code;
    }

    fi = &fb->items[fb->n];
    fi->url = url;

    fi->model.data = ngx_pnalloc(r->pool, model.len);
    if (fi->model.data == NULL) {
        return LAVA_REFUSAL_GATEWAY_ERROR;
    }

    ngx_memcpy(fi->model.data, model.data, model.len);
    fi->model.len = model.len;

    fb->n++;

    return LAVA_REFUSAL_COUNT;
}


/* the list, from its JSON; an empty list is none */
static lava_refusal_e
ngx_http_lava_fallback_list(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    json_t *list, const char **msg)
{
    size_t                     i, n;
    u_char                    *p;
    lava_refusal_e             code;
    ngx_http_lava_fb_t        *fb;
    ngx_http_lava_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);

    if (!json_is_array(list)) {
        *msg = "fallbacks must be a list of {\"url\", \"model\"}";
        return LAVA_REFUSAL_INVALID_FALLBACKS;
    }

    n = json_array_size(list);

    if (n == 0) {
        return LAVA_REFUSAL_COUNT;
    }

    if (n > llcf->fallback_attempts - 1) {
        p = ngx_pnalloc(r->pool, 128);
        if (p == NULL) {
            return LAVA_REFUSAL_GATEWAY_ERROR;
        }

        *ngx_snprintf(p, 127, "at most %ui fallbacks here "
                      "(lava_fallback_attempts %ui)",
                      llcf->fallback_attempts - 1, llcf->fallback_attempts)
            = '\0';
        *msg = (const char *) p;

        return LAVA_REFUSAL_INVALID_FALLBACKS;
    }

    fb = ngx_pcalloc(r->pool, sizeof(ngx_http_lava_fb_t));
    if (fb == NULL) {
        return LAVA_REFUSAL_GATEWAY_ERROR;
    }

    for (i = 0; i < n; i++) {
        code = ngx_http_lava_fallback_item(r, ctx, fb, json_array_get(list, i),
                                           i + 1, msg);
        if (code != LAVA_REFUSAL_COUNT) {
            return code;
        }
    }

    fb->attempt = 1;
    fb->deadline = ctx->start_ms + llcf->fallback_timeout;
    fb->attempt_ms = ctx->start_ms;
    fb->attempt_ts = (int64_t) ctx->start_sec * 1000 + ctx->start_msec_part;

    /* the client's headers as received: each attempt rewrites them anew */
    fb->headers = r->headers_in.headers;

    ctx->fallback = fb;
    ctx->attempt = 1;

    return LAVA_REFUSAL_COUNT;
}


/* the unified body: "fallbacks" read and removed (the body is in: the
 * model picked the provider) */
static lava_refusal_e
ngx_http_lava_fallback_unified(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, const char **msg)
{
    off_t            total;
    u_char          *buf;
    char            *out;
    json_t          *root, *list;
    ngx_int_t        rc;
    ngx_chain_t     *cl;
    json_error_t     jerr;
    lava_refusal_e   code;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return LAVA_REFUSAL_COUNT;
    }

    total = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        total += ngx_buf_size(cl->buf);
    }

    if (total == 0) {
        return LAVA_REFUSAL_COUNT;
    }

    buf = ngx_http_lava_body_bytes(r, (size_t) total);
    if (buf == NULL) {
        return LAVA_REFUSAL_GATEWAY_ERROR;
    }

    /* cheap test first: most bodies name no fallbacks */
    if (ngx_strlcasestrn(buf, buf + total, (u_char *) "fallbacks", 9 - 1)
        == NULL)
    {
        return LAVA_REFUSAL_COUNT;
    }

    root = json_loadb((char *) buf, (size_t) total, JSON_REJECT_DUPLICATES,
                      &jerr);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        return LAVA_REFUSAL_INVALID_JSON_BODY;
    }

    list = json_object_get(root, "fallbacks");
    if (list == NULL) {
        json_decref(root);
        return LAVA_REFUSAL_COUNT;
    }

    code = ngx_http_lava_fallback_list(r, ctx, list, msg);

    if (code != LAVA_REFUSAL_COUNT) {
        json_decref(root);
        return code;
    }

    /* never sent upstream, with or without a list in it */
    (void) json_object_del(root, "fallbacks");

    out = json_dumps(root, JSON_COMPACT);
    json_decref(root);

    if (out == NULL) {
        return LAVA_REFUSAL_GATEWAY_ERROR;
    }

    rc = ngx_http_lava_api_set_body(r, out, ngx_strlen(out));
    free(out);

    return rc == NGX_OK ? LAVA_REFUSAL_COUNT : LAVA_REFUSAL_GATEWAY_ERROR;
}


ngx_int_t
ngx_http_lava_fallback_start(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    json_t                    *list;
    ngx_table_elt_t           *h;
    const char                *msg;
    json_error_t               jerr;
    lava_refusal_e             code;
    ngx_http_lava_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);

    if (ctx->fallback || llcf->api == NGX_HTTP_LAVA_API_NONE) {
        return NGX_OK;
    }

    msg = NULL;
    code = LAVA_REFUSAL_COUNT;

    if (llcf->api == NGX_HTTP_LAVA_API_REWRITE) {
        h = ngx_http_lava_header(&r->headers_in.headers, "x-lava-fallbacks",
                                 16);
        if (h == NULL) {
            return NGX_OK;
        }

        list = json_loadb((char *) h->value.data, h->value.len,
                          JSON_REJECT_DUPLICATES, &jerr);
        if (list == NULL) {
            msg = "x-lava-fallbacks is not JSON: a list of "
                  "{\"url\", \"model\"}";
            code = LAVA_REFUSAL_INVALID_FALLBACKS;

        } else {
            code = ngx_http_lava_fallback_list(r, ctx, list, &msg);
            json_decref(list);
        }

    } else if (llcf->api == NGX_HTTP_LAVA_API_CHAT
               || llcf->api == NGX_HTTP_LAVA_API_MESSAGES)
    {
        code = ngx_http_lava_fallback_unified(r, ctx, &msg);
    }

    if (code != LAVA_REFUSAL_COUNT) {
        ctx->fallback = NULL;
        ctx->attempt = 0;
        return ngx_http_lava_refuse(r, ctx, code, msg);
    }

    return NGX_OK;
}


/* ---- the body: kept, and its translation to every fallback tried ---- */

lava_refusal_e
ngx_http_lava_fallback_body(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    const char **msg)
{
    int                     rc, fmt;
    off_t                   total;
    u_char                 *buf;
    ngx_uint_t              i;
    ngx_chain_t            *cl;
    lava_route_t            route;
    lava_target_t           t;
    lava_xlate_buf_t        out;
    lava_xlate_req_info_t   info;
    ngx_http_lava_fb_t     *fb = ctx->fallback;
    ngx_http_lava_api_t    *api = ctx->api;
    ngx_http_lava_provider_t   *pv;
    ngx_http_lava_main_conf_t  *lmcf;
    char                    model[LAVA_EVENT_MAX_model + 1];
    char                    err[256];

    if (fb == NULL || api == NULL || fb->body.data != NULL) {
        return LAVA_REFUSAL_COUNT;
    }

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);

    total = 0;

    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            total += ngx_buf_size(cl->buf);
        }
    }

    if (total == 0) {
        return LAVA_REFUSAL_COUNT;
    }

    buf = ngx_http_lava_body_bytes(r, (size_t) total);
    if (buf == NULL) {
        return LAVA_REFUSAL_GATEWAY_ERROR;
    }

    /* the body buffers are replaced, never written: this stays the
     * client's body for every attempt */
    fb->body.data = buf;
    fb->body.len = (size_t) total;

    for (i = 0; i < fb->n; i++) {
        if (ngx_http_lava_fallback_parse_url(r, &fb->items[i].url, &t)
            != LAVA_URL_OK)
        {
            return LAVA_REFUSAL_GATEWAY_ERROR;
        }

        pv = ngx_http_lava_provider_find(lmcf, (u_char *) t.host, t.host_len);
        if (pv == NULL) {
            return LAVA_REFUSAL_GATEWAY_ERROR;
        }

        lava_meter_route(pv->usage, (char *) r->method_name.data,
                         r->method_name.len, t.path, t.path_len, &route);

        fmt = ngx_http_lava_fallback_fmt(&route);

        if (fmt == (int) api->client_fmt) {
            continue;
        }

        ngx_memcpy(model, fb->items[i].model.data, fb->items[i].model.len);
        model[fb->items[i].model.len] = '\0';

        out.data = NULL;
        out.len = 0;
        err[0] = '\0';
        ngx_memzero(&info, sizeof(lava_xlate_req_info_t));
        info.stream = -1;

        rc = lava_xlate_request_info(api->client_fmt, (lava_fmt_e) fmt,
                                     (char *) buf, (size_t) total, model,
                                     &info, &out, err, sizeof(err));
        free(out.data);

        if (rc != 0) {
            *msg = ngx_http_lava_fallback_msg(r, i + 1,
                                              err[0] ? err
                                              : "the request cannot be "
                                                "translated into this "
                                                "provider's format");
            return LAVA_REFUSAL_TRANSLATION_UNSUPPORTED;
        }
    }

    return LAVA_REFUSAL_COUNT;
}


ngx_uint_t
ngx_http_lava_fallback_retry(ngx_http_lava_ctx_t *ctx)
{
    return ctx->fallback && ((ngx_http_lava_fb_t *) ctx->fallback)->attempt > 1;
}


/* ---- the next attempt ---- */

/* what the previous attempt left in the context and the lava_api state */
static void
ngx_http_lava_fallback_reset(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_http_lava_api_t  *api = ctx->api;

    if (ctx->tap) {
        lava_tap_free(ctx->tap);
        ctx->tap = NULL;
    }

    ctx->provider = NULL;
    ngx_str_null(&ctx->upstream);
    ngx_str_null(&ctx->host);
    ngx_str_null(&ctx->uri);
    ngx_str_null(&ctx->path);
    ngx_str_null(&ctx->model);
    ngx_memzero(&ctx->route, sizeof(lava_route_t));

    ctx->error = NULL;
    ctx->upstream_status = 0;
    ctx->bytes_out = 0;
    ctx->ttfb_ms = 0;
    ctx->req = NULL;
    ctx->request_bytes = 0;
    ctx->body_refusal = LAVA_REFUSAL_COUNT;
    ctx->body_refusal_msg = NULL;
    ctx->character_cost = -1;
    ctx->body = NULL;
    ctx->usage_source = 0;
    ctx->meter_flags = 0;
    ctx->wallet = NULL;         /* released with the attempt's event */

    ctx->stream = 0;
    ctx->sse = 0;
    ctx->got_headers = 0;
    ctx->last_buf = 0;
    ctx->body_done = 0;
    ctx->body_waiting = 0;
    ctx->body_refused = 0;
    ctx->routed = 0;
    ctx->include_usage_added = 0;
    ctx->metered = 0;
    ctx->draining = 0;
    ctx->final_relayed = 0;

    if (api) {
        if (api->stream) {
            lava_xlate_stream_free(api->stream);
            api->stream = NULL;
        }

        api->provider_fmt = (lava_fmt_e) -1;
        api->xlate = 0;
        api->no_usage = 0;
        api->mode = NGX_HTTP_LAVA_XLATE_NONE;
        api->status = 0;
        api->hold = NULL;
        api->held = 0;
        api->hold_size = 0;
        api->hold_max = 0;
        api->free = NULL;
        api->busy = NULL;
        api->over = 0;
        api->done = 0;
        api->header_held = 0;
        api->failed = 0;
    }
}


ngx_int_t
ngx_http_lava_fallback_access(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_time_t                 *tp;
    lava_target_t               t;
    ngx_http_lava_fb_t         *fb = ctx->fallback;
    ngx_http_lava_api_t        *api = ctx->api;
    ngx_http_lava_fallback_t   *fi;
    ngx_http_lava_main_conf_t  *lmcf;

    if (fb == NULL || !fb->next) {
        return NGX_OK;
    }

    fb->next = 0;
    fi = &fb->items[fb->attempt - 2];

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);

    ngx_http_lava_fallback_reset(r, ctx);

    tp = ngx_timeofday();
    fb->attempt_ms = ngx_current_msec;
    fb->attempt_ts = (int64_t) tp->sec * 1000 + tp->msec;

    /* the client's headers and body, as for the first attempt */
    r->headers_in.headers = fb->headers;
    r->headers_in.authorization = NULL;

    if (ngx_http_lava_api_wrap_body(r, fb->body.data, fb->body.len)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* checked when the request came: it parses and names a provider */
    if (ngx_http_lava_fallback_parse_url(r, &fi->url, &t) != LAVA_URL_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->host.data = (u_char *) t.host;
    ctx->host.len = t.host_len;
    ctx->path.data = (u_char *) t.path;
    ctx->path.len = t.path_len;
    ctx->uri.data = (u_char *) t.uri;
    ctx->uri.len = t.uri_len;

    ctx->provider = ngx_http_lava_provider_find(lmcf, ctx->host.data,
                                                ctx->host.len);
    if (ctx->provider == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->upstream = ctx->provider->upstream;

    lava_meter_route(ctx->provider->usage, (char *) r->method_name.data,
                     r->method_name.len, (char *) ctx->path.data,
                     ctx->path.len, &ctx->route);

    if (ctx->route.model_len) {
        ctx->model.data = (u_char *) ctx->route.model;
        ctx->model.len = ctx->route.model_len;
    }

    /* the body names the fallback's model, in the provider's shape
     * (ngx_http_lava_api_request) */
    api->model = fi->model;

    /* the operator's key of this provider (no fallback with the user's) */
    ctx->provider_key = ctx->provider->key;

    if (ngx_http_lava_keymask_log(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_lava_fallback_arm(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_http_lava_fb_t  *fb = ctx->fallback;

    if (fb == NULL || fb->attempt > fb->n || r->content_handler == NULL
        || r->content_handler == ngx_http_lava_fallback_content)
    {
        return;
    }

    fb->content = r->content_handler;
    r->content_handler = ngx_http_lava_fallback_content;
}


/*
 * The proxy's content handler, then, on the upstream it created: a copy of
 * its configuration whose intercept_errors is decided per answer, and its
 * header parser wrapped to decide it. Until the answer's headers the
 * attempt may wait no longer than the deadline.
 */
static ngx_int_t
ngx_http_lava_fallback_content(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_uint_t                 attempt;
    ngx_msec_int_t             left;
    ngx_http_upstream_t       *u;
    ngx_http_lava_fb_t        *fb;
    ngx_http_lava_ctx_t       *ctx;
    ngx_http_upstream_conf_t  *conf;

    ctx = ngx_http_lava_get_ctx(r);
    fb = ctx ? ctx->fallback : NULL;

    if (fb == NULL || fb->content == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    attempt = fb->attempt;

    rc = fb->content(r);

    /* a connect that failed at once already went on to the next attempt
     * (or answered): nothing of this one is left to wrap */
    u = r->upstream;

    if (fb->attempt != attempt || fb->next || u == NULL || u == fb->u
        || u->conf == NULL || u->process_header == NULL)
    {
        return rc;
    }

    conf = ngx_palloc(r->pool, sizeof(ngx_http_upstream_conf_t));
    if (conf == NULL) {
        return rc;
    }

    *conf = *u->conf;
    conf->intercept_errors = 0;
    fb->read_timeout = conf->read_timeout;

    left = (ngx_msec_int_t) (fb->deadline - ngx_current_msec);
    if (left < 1) {
        left = 1;
    }

    if (conf->read_timeout > (ngx_msec_t) left) {
        conf->read_timeout = (ngx_msec_t) left;
    }

    if (conf->send_timeout > (ngx_msec_t) left) {
        conf->send_timeout = (ngx_msec_t) left;
    }

    u->conf = conf;
    fb->u = u;
    fb->process_header = u->process_header;
    u->process_header = ngx_http_lava_fallback_process_header;

    return rc;
}


/*
 * The proxy's header parser; once the headers are in, a failed status
 * (5xx, 429) is intercepted when a next attempt exists and the deadline has
 * not passed: nginx then sends the request to @lava_error without a byte to
 * the client (the forward location's error_page, lava-forward.conf).
 */
static ngx_int_t
ngx_http_lava_fallback_process_header(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    ngx_uint_t            status;
    ngx_http_upstream_t  *u;
    ngx_http_lava_fb_t   *fb;
    ngx_http_lava_ctx_t  *ctx;

    u = r->upstream;
    ctx = ngx_http_lava_get_ctx(r);
    fb = ctx->fallback;

    rc = fb->process_header(r);

    /* the proxy moves on from the status line to the headers */
    if (u->process_header != ngx_http_lava_fallback_process_header) {
        fb->process_header = u->process_header;
        u->process_header = ngx_http_lava_fallback_process_header;
    }

    if (rc != NGX_OK) {
        return rc;
    }

    /* the answer has begun: its body may take the location's time */
    u->conf->read_timeout = fb->read_timeout;

    status = u->headers_in.status_n;

    if ((status >= NGX_HTTP_INTERNAL_SERVER_ERROR
         || status == NGX_HTTP_TOO_MANY_REQUESTS)
        && fb->attempt <= fb->n
        && (ngx_msec_int_t) (fb->deadline - ngx_current_msec) > 0)
    {
        u->conf->intercept_errors = 1;
        fb->intercepted = 1;
        fb->status = status;
    }

    return rc;
}


ngx_int_t
ngx_http_lava_fallback_error(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    ngx_uint_t status, const char *code)
{
    ngx_str_t            uri, args;
    ngx_uint_t           intercepted;
    ngx_http_lava_fb_t  *fb = ctx->fallback;
    u_char               id[NGX_HTTP_LAVA_REQID_LEN + 1];

    if (fb == NULL || r != r->main) {
        return NGX_DECLINED;
    }

    intercepted = fb->intercepted;
    fb->intercepted = 0;

    if (intercepted) {
        /* the provider answered: booked as the forward endpoint books a
         * provider's error (its body was not read: no usage) */
        status = fb->status;
        ctx->got_headers = 1;
        ctx->upstream_status = status;
        ctx->last_buf = 1;
        ctx->ttfb_ms = ngx_current_msec - fb->attempt_ms;
    }

    /* a client that left gets no further attempt: nothing would read it */
    if (ctx->refused || r->connection->error) {
        return NGX_DECLINED;
    }

    if (!intercepted) {
        if ((status != NGX_HTTP_BAD_GATEWAY
             && status != NGX_HTTP_GATEWAY_TIME_OUT)
            || r->upstream == NULL || ctx->got_headers
            || fb->attempt > fb->n
            || (ngx_msec_int_t) (fb->deadline - ngx_current_msec) <= 0)
        {
            return NGX_DECLINED;
        }

        /* nginx's own: connect, TLS or timeout (upstream_error) */
        ctx->error = code;
    }

    ngx_http_lava_reqid_new(id);

    (void) ngx_http_lava_log_attempt(r, ctx, status, id, fb->attempt_ts,
                                     fb->attempt_ms);

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "lava fallback: attempt %ui of %s failed (status %ui, "
                  "booked as %s), trying the next", fb->attempt,
                  ctx->request_id, status, id);

    fb->attempt++;
    fb->next = 1;
    fb->u = NULL;
    ctx->attempt = fb->attempt;
    ctx->error = NULL;

    /* the next attempt starts clean: nginx's error state of this one goes */
    r->err_status = 0;
    r->error_page = 0;
    r->headers_out.status = 0;
    r->headers_out.status_line.len = 0;

    uri = r->uri;
    args = r->args;

    return ngx_http_internal_redirect(r, &uri, &args);
}


/* ---- the answer says who answered ---- */

static ngx_int_t
ngx_http_lava_fallback_header(ngx_http_request_t *r, ngx_str_t *name,
    u_char *value, size_t len)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    /* a provider's own header of this name never reaches the client; an
     * error_page sends headers twice: ours is replaced */
    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash && h[i].key.len == name->len
            && ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0)
        {
            h[i].hash = 0;
        }
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key = *name;
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}


ngx_int_t
ngx_http_lava_fallback_headers(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    u_char  *p, *last;

    if (ctx->provider == NULL || ctx->refused) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = ngx_sprintf(p, "%ui", ctx->attempt ? ctx->attempt : 1);

    if (ngx_http_lava_fallback_header(r, &ngx_http_lava_fb_provider,
                                      ctx->provider->name.data,
                                      ctx->provider->name.len)
        != NGX_OK
        || ngx_http_lava_fallback_header(r, &ngx_http_lava_fb_attempt, p,
                                         last - p)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}
