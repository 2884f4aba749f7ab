/*
 * lava_api: the endpoints that speak one API shape to any provider.
 *
 *   /v1/rewrite/<openai|anthropic|google>/<provider URL>   as
 *       @lavapayments/nodejs builds it (`${baseUrl}rewrite/${format}/${url}`,
 *       the URL not percent-encoded): the body is in the client's <format>
 *       and goes to the provider URL in the provider's own shape.
 *   POST /v1/chat/completions (OpenAI shape), POST /v1/messages (Anthropic
 *       shape): the model names the provider ("anthropic/claude-sonnet-4-5")
 *       or is a model the auth snapshot's rate records know.
 *
 * Both reuse the forward endpoint whole (lava_forward in the same location):
 * this file only works out the provider URL the forward endpoint would have
 * been given in `u`, and translates the body once it is read, before the
 * meter inspects it, so that the meter, the policy and the wallet see what
 * the provider will see. The answer is translated back by
 * ngx_http_lava_xlate_filter.c after the usage tap has read it.
 */

#include <jansson.h>

#include "ngx_http_lava_api.h"
#include "ngx_http_lava_auth.h"
#include "lava_spendkey.h"
#include "lava_unified.h"


static ngx_str_t  ngx_http_lava_api_names[] = {
    ngx_null_string,
    ngx_string("rewrite"),
    ngx_string("chat"),
    ngx_string("messages"),
    ngx_string("models"),
};


char *
ngx_http_lava_api_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_lava_loc_conf_t *llcf = conf;

    ngx_str_t                 *value;
    ngx_uint_t                 i;
    ngx_http_core_loc_conf_t  *clcf;

    if (llcf->api) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < sizeof(ngx_http_lava_api_names) / sizeof(ngx_str_t); i++)
    {
        if (value[1].len == ngx_http_lava_api_names[i].len
            && ngx_strncmp(value[1].data, ngx_http_lava_api_names[i].data,
                           value[1].len) == 0)
        {
            llcf->api = i;
            break;
        }
    }

    if (llcf->api == NGX_HTTP_LAVA_API_NONE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" of \"lava_api\": rewrite, "
                           "chat, messages or models", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (llcf->api == NGX_HTTP_LAVA_API_MODELS) {
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
        clcf->handler = ngx_http_lava_models_handler;
    }

    return NGX_CONF_OK;
}


/* ---- the shape of each side ---- */

/* the shape of a format name of the rewrite path; -1 none */
static lava_fmt_e
ngx_http_lava_api_fmt(u_char *p, size_t len)
{
    return lava_xlate_fmt((const char *) p, len);
}


/* the shape of the provider endpoint the request was routed to; -1 none */
static lava_fmt_e
ngx_http_lava_api_provider_fmt(ngx_http_lava_ctx_t *ctx)
{
    switch (ctx->route.ep) {

    case LAVA_EP_CHAT:
        return LAVA_FMT_OPENAI;

    case LAVA_EP_MESSAGES:
        return LAVA_FMT_ANTHROPIC;

    case LAVA_EP_GENERATE:
        return LAVA_FMT_GEMINI;

    default:
        break;
    }

    /* other endpoints of a family: passed through in its own shape only */
    if (ctx->provider == NULL) {
        return (lava_fmt_e) -1;
    }

    switch (ctx->provider->usage) {

    case LAVA_USAGE_OPENAI:
        return LAVA_FMT_OPENAI;

    case LAVA_USAGE_ANTHROPIC:
        return LAVA_FMT_ANTHROPIC;

    case LAVA_USAGE_GEMINI:
        return LAVA_FMT_GEMINI;

    default:
        return (lava_fmt_e) -1;
    }
}


static ngx_http_lava_api_t *
ngx_http_lava_api_state(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_http_lava_api_t  *api;

    if (ctx->api) {
        return ctx->api;
    }

    api = ngx_pcalloc(r->pool, sizeof(ngx_http_lava_api_t));
    if (api == NULL) {
        return NULL;
    }

    api->provider_fmt = (lava_fmt_e) -1;
    api->refusal = LAVA_REFUSAL_COUNT;
    ctx->api = api;

    return api;
}


/* ---- the unified endpoints: the model picks the provider ---- */

static int
ngx_http_lava_api_is_provider(void *data, const char *p, size_t len)
{
    ngx_uint_t                  i;
    ngx_http_lava_provider_t   *pv;
    ngx_http_lava_main_conf_t  *lmcf = data;

    pv = lmcf->providers.elts;

    for (i = 0; i < lmcf->providers.nelts; i++) {
        if (pv[i].name.len == len
            && ngx_strncmp(pv[i].name.data, p, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static ngx_http_lava_provider_t *
ngx_http_lava_api_provider(ngx_http_lava_main_conf_t *lmcf, const char *p,
    size_t len)
{
    ngx_uint_t                 i;
    ngx_http_lava_provider_t  *pv;

    pv = lmcf->providers.elts;

    for (i = 0; i < lmcf->providers.nelts; i++) {
        if (pv[i].name.len == len
            && ngx_strncmp(pv[i].name.data, p, len) == 0)
        {
            return &pv[i];
        }
    }

    return NULL;
}


/*
 * A bare model name: the first provider (in the order of the provider
 * table) with an "r" record of exactly this model in the auth snapshot.
 */
static ngx_http_lava_provider_t *
ngx_http_lava_api_priced(ngx_http_request_t *r, const char *m, size_t mlen)
{
    uint32_t                    hash;
    ngx_uint_t                  i;
    lava_authsnap_t            *snap;
    ngx_slab_pool_t            *shpool;
    ngx_http_lava_auth_sh_t    *sh;
    ngx_http_lava_provider_t   *pv, *found;
    ngx_http_lava_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);

    if (lmcf->auth_zone == NULL || lmcf->auth_zone->shm.addr == NULL
        || (mlen == 1 && m[0] == '*'))
    {
        return NULL;
    }

    shpool = (ngx_slab_pool_t *) lmcf->auth_zone->shm.addr;
    sh = lmcf->auth_zone->data;
    hash = lava_authsnap_pair_hash(m, mlen);
    pv = lmcf->providers.elts;
    found = NULL;

    ngx_shmtx_lock(&shpool->mutex);

    snap = sh->snap;

    for (i = 0; snap && i < lmcf->providers.nelts; i++) {
        if (lava_authsnap_find_pair(snap, &snap->rates, hash,
                                    (char *) pv[i].name.data, pv[i].name.len,
                                    m, mlen))
        {
            found = &pv[i];
            break;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return found;
}


/* the unified body: its model picks the provider and the URL */
static lava_refusal_e
ngx_http_lava_api_pick(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    ngx_http_lava_api_t *api, u_char *body, size_t len)
{
    int                         n, shape, stream;
    size_t                      plen, mlen;
    json_t                     *root, *jm, *js;
    ngx_str_t                  *host;
    const char                 *m;
    json_error_t                jerr;
    ngx_http_lava_provider_t   *pv;
    ngx_http_lava_main_conf_t  *lmcf;
    char                        url[LAVA_UNIFIED_URL_MAX];

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);

    root = json_loadb((char *) body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        return LAVA_REFUSAL_INVALID_JSON_BODY;
    }

    jm = json_object_get(root, "model");
    js = json_object_get(root, "stream");
    stream = json_is_true(js);

    if (!json_is_string(jm) || json_string_length(jm) == 0) {
        json_decref(root);
        return LAVA_REFUSAL_UNKNOWN_MODEL;
    }

    m = json_string_value(jm);
    mlen = json_string_length(jm);

    if (mlen > LAVA_EVENT_MAX_model) {
        json_decref(root);
        return LAVA_REFUSAL_MODEL_TOO_LONG;
    }

    if (lava_unified_split(m, mlen, ngx_http_lava_api_is_provider, lmcf,
                           &plen, &m, &mlen))
    {
        pv = ngx_http_lava_api_provider(lmcf, json_string_value(jm), plen);

    } else {
        pv = ngx_http_lava_api_priced(r, m, mlen);
    }

    if (pv == NULL) {
        json_decref(root);
        return LAVA_REFUSAL_UNKNOWN_MODEL;
    }

    host = pv->hosts->elts;

    n = lava_unified_url((char *) pv->name.data, pv->name.len,
                         (char *) host[0].data, host[0].len, m, mlen, stream,
                         url, sizeof(url), &shape);
    if (n < 0) {
        json_decref(root);
        return LAVA_REFUSAL_MODEL_NO_CHAT;
    }

    api->target.data = ngx_pnalloc(r->pool, n);
    api->model.data = ngx_pnalloc(r->pool, mlen);
    if (api->target.data == NULL || api->model.data == NULL) {
        json_decref(root);
        return LAVA_REFUSAL_GATEWAY_ERROR;
    }

    ngx_memcpy(api->target.data, url, n);
    api->target.len = n;
    ngx_memcpy(api->model.data, m, mlen);
    api->model.len = mlen;

    json_decref(root);

    return LAVA_REFUSAL_COUNT;
}


static void
ngx_http_lava_api_body_handler(ngx_http_request_t *r)
{
    off_t                      total;
    u_char                    *buf;
    ngx_chain_t               *cl;
    ngx_http_lava_ctx_t       *ctx;
    ngx_http_lava_api_t       *api;
    ngx_http_lava_loc_conf_t  *llcf;

    ctx = ngx_http_lava_get_ctx(r);
    if (ctx == NULL || ctx->api == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    api = ctx->api;
    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);

    total = 0;

    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            total += ngx_buf_size(cl->buf);
        }
    }

    if (total == 0) {
        api->refusal = LAVA_REFUSAL_UNKNOWN_MODEL;

    } else if ((size_t) total > llcf->body_inspect_max) {
        api->refusal = LAVA_REFUSAL_BODY_TOO_LARGE_TO_METER;

    } else {
        buf = ngx_http_lava_body_bytes(r, (size_t) total);

        api->refusal = buf == NULL
                       ? LAVA_REFUSAL_GATEWAY_ERROR
                       : ngx_http_lava_api_pick(r, ctx, api, buf,
                                                (size_t) total);
    }

    api->body_read = 1;

    if (api->body_waiting) {
        api->body_waiting = 0;
        r->write_event_handler = ngx_http_core_run_phases;
        ngx_http_core_run_phases(r);
    }
}


ngx_int_t
ngx_http_lava_api_prepare(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_http_lava_api_t       *api;
    ngx_http_lava_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);

    if (llcf->api == NGX_HTTP_LAVA_API_NONE) {
        return NGX_OK;
    }

    api = ngx_http_lava_api_state(r, ctx);
    if (api == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (llcf->api != NGX_HTTP_LAVA_API_CHAT
        && llcf->api != NGX_HTTP_LAVA_API_MESSAGES)
    {
        return NGX_OK;
    }

    /*
     * The client's shape is the endpoint's. A spend key speaks its
     * request_shape: one of the other shape is refused once it is
     * authenticated (ngx_http_lava_api_shape()).
     */
    api->client_fmt = (llcf->api == NGX_HTTP_LAVA_API_CHAT)
                      ? LAVA_FMT_OPENAI : LAVA_FMT_ANTHROPIC;

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_METHOD_NOT_ALLOWED,
                                    NULL);
    }

    if (!api->body_read) {
        if (api->body_waiting) {
            return NGX_DONE;
        }

        rc = ngx_http_read_client_request_body(r,
                                               ngx_http_lava_api_body_handler);
        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        if (!api->body_read) {
            /* the handler resumes the phases */
            api->body_waiting = 1;
            ngx_http_finalize_request(r, NGX_DONE);
            return NGX_DONE;
        }

        /* read at once: the reference the body reader took goes */
        r->main->count--;
    }

    if (api->refusal != LAVA_REFUSAL_COUNT) {
        return ngx_http_lava_refuse(r, ctx, api->refusal, NULL);
    }

    return NGX_OK;
}


/*
 * A spend key's request_shape (openai | anthropic) is the API shape its
 * users speak (docs/endpoints.md): on the unified endpoints, which take one
 * shape each, a key of the other shape is refused, naming its endpoint, so
 * that an SDK of the wrong shape fails at once and clearly instead of with
 * a body the endpoint cannot read. The rewrite endpoint names the client's
 * format in its path (and takes "google", which no key shape names): the
 * path is what the client speaks, whatever the key's shape; the forward
 * endpoint speaks the provider's own shape. Called once the credential is
 * authenticated, in the rewrite phase.
 */
ngx_int_t
ngx_http_lava_api_shape(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_int_t                  shape, want;
    ngx_http_lava_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);

    if (llcf->api != NGX_HTTP_LAVA_API_CHAT
        && llcf->api != NGX_HTTP_LAVA_API_MESSAGES)
    {
        return NGX_OK;
    }

    shape = ngx_http_lava_spendkey_shape(ctx);

    if (shape < 0) {
        /* a forward token or a secret key: the endpoint says the shape */
        return NGX_OK;
    }

    want = (llcf->api == NGX_HTTP_LAVA_API_CHAT) ? LAVA_SPK_SHAPE_OPENAI
                                                 : LAVA_SPK_SHAPE_ANTHROPIC;

    if (shape == want) {
        return NGX_OK;
    }

    return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_REQUEST_SHAPE_NOT_ALLOWED,
               shape == LAVA_SPK_SHAPE_ANTHROPIC
               ? "this spend key's request_shape is anthropic: send Anthropic "
                 "Messages requests to POST /v1/messages"
               : "this spend key's request_shape is openai: send OpenAI "
                 "Chat Completions requests to POST /v1/chat/completions");
}


/* ---- routing: the provider URL as the forward endpoint's u ---- */

/* "u=" + url with '%', '&' and '#' escaped (u is decoded once: the URL's
 * own escapes survive; encoded: a URL percent-encoded whole, decoded once
 * like the forward endpoint's u), then "&" + the client's own arguments */
static ngx_int_t
ngx_http_lava_api_args(ngx_http_request_t *r, u_char *url, size_t len,
    ngx_uint_t encoded, u_char *query, size_t qlen, ngx_str_t *args)
{
    u_char  *p;
    size_t   i;

    p = ngx_pnalloc(r->pool, 2 + 3 * len + 1 + qlen);
    if (p == NULL) {
        return NGX_ERROR;
    }

    args->data = p;
    *p++ = 'u';
    *p++ = '=';

    for (i = 0; i < len; i++) {
        if ((url[i] == '%' && !encoded) || url[i] == '&' || url[i] == '#') {
            p = ngx_sprintf(p, "%%%02XD", (ngx_uint_t) url[i]);

        } else {
            *p++ = url[i];
        }
    }

    if (qlen) {
        *p++ = '&';
        p = ngx_cpymem(p, query, qlen);
    }

    args->len = p - args->data;

    return NGX_OK;
}


/*
 * A Gemini client says "stream" in its URL, not in its body: Gemini's own
 * clients send alt=sse (":streamGenerateContent?alt=sse"), and so does a
 * google-format client of the rewrite endpoint, in its query
 * (/v1/rewrite/google/https://api.openai.com/v1/chat/completions?alt=sse).
 * The argument is the client's, not the provider's: it is removed from the
 * arguments passed on, except to a Gemini URL that names the streaming
 * method itself (it needs it); ngx_http_lava_api_gemini_stream() adds it
 * back to a Gemini ":generateContent" URL.
 */
static ngx_int_t
ngx_http_lava_api_gemini_alt(ngx_http_request_t *r, ngx_http_lava_api_t *api,
    u_char *url, size_t len, ngx_str_t *query)
{
    u_char  *p, *end, *amp, *q;
    size_t   n;

    static u_char  sgen[] = ":streamGenerateContent";

    *query = r->args;

    if (r->args.len == 0) {
        return NGX_OK;
    }

    p = r->args.data;
    end = p + r->args.len;

    for ( /* void */ ; p < end; p = amp + 1) {
        amp = ngx_strlchr(p, end, '&');
        if (amp == NULL) {
            amp = end;
        }

        if (amp - p == 7 && ngx_strncmp(p, "alt=sse", 7) == 0) {
            api->client_stream = 1;
        }
    }

    n = sizeof(sgen) - 1;

    if (!api->client_stream
        || (len >= n && ngx_strncmp(url + len - n, sgen, n) == 0))
    {
        return NGX_OK;
    }

    q = ngx_pnalloc(r->pool, r->args.len);
    if (q == NULL) {
        return NGX_ERROR;
    }

    query->data = q;

    for (p = r->args.data; p < end; p = amp + 1) {
        amp = ngx_strlchr(p, end, '&');
        if (amp == NULL) {
            amp = end;
        }

        if ((amp - p == 7 && ngx_strncmp(p, "alt=sse", 7) == 0)
            || amp == p)
        {
            continue;
        }

        if (q != query->data) {
            *q++ = '&';
        }

        q = ngx_cpymem(q, p, amp - p);
    }

    query->len = q - query->data;

    return NGX_OK;
}


/*
 * /v1/rewrite/<format>/<URL>: the URL as sent (r->unparsed_uri, before
 * nginx merged its "//"), "https:/host" (a client or proxy that merged the
 * slashes) and a scheme-less "host/path" taken as https.
 */
static ngx_int_t
ngx_http_lava_api_rewrite_target(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, ngx_http_lava_api_t *api, ngx_str_t *extra,
    ngx_str_t *args)
{
    u_char      *p, *end, *fmt, *url, *fixed;
    size_t       len;
    ngx_str_t    query;
    lava_fmt_e   f;

    p = extra->data;
    end = extra->data + extra->len;

    if (p == end || *p != '/') {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_NOT_FOUND, NULL);
    }

    fmt = ++p;

    while (p < end && *p != '/') {
        p++;
    }

    f = ngx_http_lava_api_fmt(fmt, p - fmt);

    if ((int) f < 0 || p == end) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_NOT_FOUND, NULL);
    }

    api->client_fmt = f;

    url = p + 1;
    len = end - url;

    if (len >= 8 && ngx_strncasecmp(url, (u_char *) "https%3A", 8) == 0) {
        /* encodeURIComponent(url), as gateway() builds the forward URL */
        if (ngx_http_lava_api_args(r, url, len, 1, r->args.data, r->args.len,
                                   args)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        extra->len = 0;
        return NGX_OK;
    }

    query = r->args;

    if (f == LAVA_FMT_GEMINI
        && ngx_http_lava_api_gemini_alt(r, api, url, len, &query) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (len >= 7 && ngx_strncasecmp(url, (u_char *) "https:/", 7) == 0
        && (len == 7 || url[7] != '/'))
    {
        fixed = ngx_pnalloc(r->pool, len + 1);
        if (fixed == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(ngx_cpymem(fixed, "https://", 8), url + 7, len - 7);
        url = fixed;
        len++;

    } else if (ngx_strlchr(url, url + len, ':') == NULL
               || ngx_strlchr(url, url + len, '/')
                  < ngx_strlchr(url, url + len, ':'))
    {
        /* no scheme: "api.anthropic.com/v1/messages" */
        fixed = ngx_pnalloc(r->pool, len + 8);
        if (fixed == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(ngx_cpymem(fixed, "https://", 8), url, len);
        url = fixed;
        len += 8;
    }

    if (ngx_http_lava_api_args(r, url, len, 0, query.data, query.len, args)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    extra->len = 0;

    return NGX_OK;
}


ngx_int_t
ngx_http_lava_api_target(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    ngx_str_t *extra, ngx_str_t *args)
{
    ngx_http_lava_api_t       *api;
    ngx_http_lava_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);
    api = ngx_http_lava_api_state(r, ctx);
    if (api == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (llcf->api == NGX_HTTP_LAVA_API_REWRITE) {
        return ngx_http_lava_api_rewrite_target(r, ctx, api, extra, args);
    }

    /* unified: exactly the endpoint's own path */
    if (extra->len) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_NOT_FOUND, NULL);
    }

    if (ngx_http_lava_api_args(r, api->target.data, api->target.len, 0,
                               r->args.data, r->args.len, args)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/* ---- the request body in the provider's shape ---- */

/* each fallback attempt wraps its stored body anew: the upstream's writer
 * moves the buffer's pos as it sends */
ngx_int_t
ngx_http_lava_api_wrap_body(ngx_http_request_t *r, u_char *data, size_t len)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    b = ngx_calloc_buf(r->pool);
    cl = ngx_alloc_chain_link(r->pool);
    if (b == NULL || cl == NULL) {
        return NGX_ERROR;
    }

    b->pos = data;
    b->last = data + len;
    b->start = data;
    b->end = data + len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;
    cl->buf = b;
    cl->next = NULL;

    r->request_body->bufs = cl;
    r->headers_in.content_length_n = len;

    return NGX_OK;
}


/* a translator's or jansson's output, which the caller frees */
ngx_int_t
ngx_http_lava_api_set_body(ngx_http_request_t *r, const char *data,
    size_t len)
{
    u_char  *copy;

    copy = ngx_pnalloc(r->pool, len ? len : 1);
    if (copy == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(copy, data, len);

    return ngx_http_lava_api_wrap_body(r, copy, len);
}


/* the same shape, the model the client named "provider/model" replaced by
 * the provider's own name */
static lava_refusal_e
ngx_http_lava_api_set_model(ngx_http_request_t *r, ngx_http_lava_api_t *api,
    u_char *body, size_t len)
{
    char          *out;
    json_t        *root;
    ngx_int_t      rc;
    json_error_t   jerr;

    root = json_loadb((char *) body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        return LAVA_REFUSAL_INVALID_JSON_BODY;
    }

    if (json_object_set_new(root, "model",
                            json_stringn((char *) api->model.data,
                                         api->model.len))
        != 0)
    {
        json_decref(root);
        return LAVA_REFUSAL_GATEWAY_ERROR;
    }

    out = json_dumps(root, JSON_COMPACT);
    json_decref(root);

    if (out == NULL) {
        return LAVA_REFUSAL_GATEWAY_ERROR;
    }

    rc = ngx_http_lava_api_set_body(r, out, ngx_strlen(out));
    free(out);

    return rc == NGX_OK ? LAVA_REFUSAL_COUNT : LAVA_REFUSAL_GATEWAY_ERROR;
}


/* ":generateContent" in the provider URL becomes
 * ":streamGenerateContent?alt=sse" (path and $lava_uri) */
static ngx_int_t
ngx_http_lava_api_gemini_stream(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx)
{
    u_char  *p, *q, *end, *nu;
    size_t   plen;

    static u_char  gen[] = ":generateContent";
    static u_char  sgen[] = ":streamGenerateContent";

    end = ctx->uri.data + ctx->uri.len;
    q = ngx_strlchr(ctx->uri.data, end, '?');
    plen = (q ? q : end) - ctx->uri.data;

    if (plen < sizeof(gen) - 1
        || ngx_strncmp(ctx->uri.data + plen - (sizeof(gen) - 1), gen,
                       sizeof(gen) - 1) != 0)
    {
        return NGX_OK;
    }

    nu = ngx_pnalloc(r->pool, ctx->uri.len + sizeof(sgen) + sizeof("alt=sse&"));
    if (nu == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(nu, ctx->uri.data, plen - (sizeof(gen) - 1));
    p = ngx_cpymem(p, sgen, sizeof(sgen) - 1);

    ctx->path.data = nu;
    ctx->path.len = p - nu;

    p = ngx_cpymem(p, "?alt=sse", 8);

    if (q && q + 1 < end) {
        *p++ = '&';
        p = ngx_cpymem(p, q + 1, end - q - 1);
    }

    ctx->uri.data = nu;
    ctx->uri.len = p - nu;

    return NGX_OK;
}


lava_refusal_e
ngx_http_lava_api_request(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    const char **msg)
{
    int                        rc;
    off_t                      total;
    u_char                    *buf, *m;
    size_t                     elen;
    ngx_chain_t               *cl;
    lava_xlate_buf_t           out;
    lava_xlate_req_info_t      info;
    ngx_http_lava_api_t       *api;
    ngx_http_lava_loc_conf_t  *llcf;
    char                       model[LAVA_EVENT_MAX_model + 1];
    char                       err[256];

    *msg = NULL;
    api = ctx->api;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);

    if (api == NULL || llcf->api == NGX_HTTP_LAVA_API_NONE) {
        return LAVA_REFUSAL_COUNT;
    }

    api->provider_fmt = ngx_http_lava_api_provider_fmt(ctx);

    if (api->provider_fmt != api->client_fmt) {
        if ((int) api->provider_fmt < 0
            || (ctx->route.ep != LAVA_EP_CHAT
                && ctx->route.ep != LAVA_EP_MESSAGES
                && ctx->route.ep != LAVA_EP_GENERATE))
        {
            *msg = "this provider endpoint has no translation from the "
                   "client's format: send its own format, or use a chat "
                   "endpoint";
            return LAVA_REFUSAL_TRANSLATION_UNSUPPORTED;
        }

        api->xlate = 1;
    }

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return LAVA_REFUSAL_COUNT;
    }

    if (!api->xlate && api->model.len == 0) {
        /* the provider's own shape and model: the forward endpoint (a
         * Gemini client's alt=sse to Gemini's ":generateContent" asks for
         * its streaming method) */
        if (api->client_stream && api->provider_fmt == LAVA_FMT_GEMINI
            && ngx_http_lava_api_gemini_stream(r, ctx) != NGX_OK)
        {
            return LAVA_REFUSAL_GATEWAY_ERROR;
        }

        return LAVA_REFUSAL_COUNT;
    }

    total = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        total += ngx_buf_size(cl->buf);
    }

    if (total == 0) {
        return LAVA_REFUSAL_COUNT;
    }

    if ((size_t) total > llcf->body_inspect_max) {
        return LAVA_REFUSAL_BODY_TOO_LARGE_TO_METER;
    }

    buf = ngx_http_lava_body_bytes(r, (size_t) total);
    if (buf == NULL) {
        return LAVA_REFUSAL_GATEWAY_ERROR;
    }

    if (!api->xlate) {
        return ngx_http_lava_api_set_model(r, api, buf, (size_t) total);
    }

    model[0] = '\0';

    if (api->model.len) {
        m = ngx_cpymem((u_char *) model, api->model.data, api->model.len);
        *m = '\0';
    }

    out.data = NULL;
    out.len = 0;
    err[0] = '\0';

    ngx_memzero(&info, sizeof(lava_xlate_req_info_t));

    /* a Gemini client's stream flag is in its URL (alt=sse), not its body */
    info.stream = (api->client_fmt == LAVA_FMT_GEMINI) ? api->client_stream
                                                       : -1;

    rc = lava_xlate_request_info(api->client_fmt, api->provider_fmt,
                                 (char *) buf, (size_t) total,
                                 api->model.len ? model : NULL, &info, &out,
                                 err, sizeof(err));

    if (rc != 0) {
        free(out.data);

        elen = ngx_strlen(err);
        if (elen == 0) {
            *msg = "the request cannot be translated into the provider's "
                   "format";
            return LAVA_REFUSAL_TRANSLATION_UNSUPPORTED;
        }

        m = ngx_pnalloc(r->pool, elen + 1);
        if (m == NULL) {
            return LAVA_REFUSAL_GATEWAY_ERROR;
        }

        ngx_memcpy(m, err, elen + 1);
        *msg = (const char *) m;

        return LAVA_REFUSAL_TRANSLATION_UNSUPPORTED;
    }

    rc = ngx_http_lava_api_set_body(r, out.data, out.len);
    free(out.data);

    if (rc != NGX_OK) {
        return LAVA_REFUSAL_GATEWAY_ERROR;
    }

    api->no_usage = (api->client_fmt == LAVA_FMT_OPENAI
                     && !info.include_usage);

    /* Gemini keeps "stream" in the URL: a streaming client gets the
     * streaming method whichever the rewrite URL named */
    if (api->provider_fmt == LAVA_FMT_GEMINI && info.stream
        && ngx_http_lava_api_gemini_stream(r, ctx) != NGX_OK)
    {
        return LAVA_REFUSAL_GATEWAY_ERROR;
    }

    return LAVA_REFUSAL_COUNT;
}
