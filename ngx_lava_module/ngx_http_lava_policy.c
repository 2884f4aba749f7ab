/*
 * The endpoint policy: what is served with the operator's managed key.
 *
 * Only what the gateway meters (lava_meter_route: the generation endpoints
 * of each usage family, and every path of a family billed per request) is
 * served with the managed key, plus what the operator lists with
 * lava_provider_endpoint, billed per request. Everything else -- batches,
 * files, fine-tuning, stored objects, realtime secrets, account paths --
 * would run on the operator's account unbilled, or reach what other
 * merchants' customers stored there: 403 endpoint_not_metered. With the
 * user's own key (BYOK) any path of the host passes, metered where known.
 *
 * Work whose usage appears only after the answer (OpenAI Responses with
 * "background": true) cannot be billed exactly on this request: refused
 * with the managed key too (docs/providers.md). So is a request asking for
 * a server-side tool the provider bills in a unit the gateway cannot count
 * (lib/lava_tools.c).
 */


#include "ngx_http_lava_module.h"
#include "lava_tools.h"


#define NGX_HTTP_LAVA_METHOD_MAX  32     /* the event's method limit */


/*
 * lava_provider_endpoint <provider> <METHOD> <pattern> per_request;
 * pattern: the path as sent to the provider, '/' first; a segment "*"
 * stands for any one segment (one or more bytes, never '/' or '%').
 */
char *
ngx_http_lava_provider_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_lava_main_conf_t *lmcf = conf;

    u_char                    c;
    ngx_str_t                *value;
    ngx_uint_t                i;
    ngx_http_lava_endpoint_t *ep;

    value = cf->args->elts;

    if (value[2].len == 0 || value[2].len > NGX_HTTP_LAVA_METHOD_MAX) {
        return "has a method that is empty or longer than 32 bytes";
    }

    for (i = 0; i < value[2].len; i++) {
        c = value[2].data[i];
        if (c < 'A' || c > 'Z') {
            return "has a method other than upper-case letters (GET, POST...)";
        }
    }

    if (value[3].len == 0 || value[3].data[0] != '/') {
        return "has a path pattern that does not start with \"/\"";
    }

    for (i = 0; i < value[3].len; i++) {
        c = value[3].data[i];

        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#' || c == '%'
            || c == '\\')
        {
            return "has a path pattern with a byte other than a visible "
                   "ASCII character outside ? # % \\";
        }

        if (c == '*'
            && (value[3].data[i - 1] != '/'
                || (i + 1 < value[3].len && value[3].data[i + 1] != '/')))
        {
            return "has a \"*\" that is not a whole path segment";
        }
    }

    if (value[4].len != sizeof("per_request") - 1
        || ngx_strncmp(value[4].data, "per_request", value[4].len) != 0)
    {
        return "has a billing basis other than per_request";
    }

    if (lmcf->provider_endpoints == NULL) {
        lmcf->provider_endpoints = ngx_array_create(cf->pool, 4,
                                             sizeof(ngx_http_lava_endpoint_t));
        if (lmcf->provider_endpoints == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    ep = ngx_array_push(lmcf->provider_endpoints);
    if (ep == NULL) {
        return NGX_CONF_ERROR;
    }

    ep->provider = value[1];
    ep->method = value[2];
    ep->pattern = value[3];

    return NGX_CONF_OK;
}


/* each lava_provider_endpoint goes to the endpoints of its provider */
ngx_int_t
ngx_http_lava_provider_endpoints_init(ngx_conf_t *cf,
    ngx_http_lava_main_conf_t *lmcf)
{
    ngx_uint_t                 i, k;
    ngx_http_lava_endpoint_t  *ep, *e;
    ngx_http_lava_provider_t  *p;

    if (lmcf->provider_endpoints == NULL) {
        return NGX_OK;
    }

    p = lmcf->providers.elts;
    ep = lmcf->provider_endpoints->elts;

    for (i = 0; i < lmcf->provider_endpoints->nelts; i++) {

        for (k = 0; k < lmcf->providers.nelts; k++) {
            if (p[k].name.len == ep[i].provider.len
                && ngx_strncmp(p[k].name.data, ep[i].provider.data,
                               p[k].name.len) == 0)
            {
                break;
            }
        }

        if (k == lmcf->providers.nelts) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "lava_provider_endpoint names provider "
                               "\"%V\", which is not defined",
                               &ep[i].provider);
            return NGX_ERROR;
        }

        if (p[k].endpoints == NULL) {
            p[k].endpoints = ngx_array_create(cf->pool, 2,
                                              sizeof(ngx_http_lava_endpoint_t));
            if (p[k].endpoints == NULL) {
                return NGX_ERROR;
            }
        }

        e = ngx_array_push(p[k].endpoints);
        if (e == NULL) {
            return NGX_ERROR;
        }

        *e = ep[i];
    }

    return NGX_OK;
}


/*
 * 1: path matches pattern. A '*' is a whole segment (the directive checks
 * it): one or more bytes up to the next '/', none of them '%', so that no
 * escaped slash stretches it over segments. Linear, no backtracking.
 */
static ngx_uint_t
ngx_http_lava_pattern_match(u_char *pat, size_t plen, u_char *path,
    size_t len)
{
    size_t  n;

    while (plen) {

        if (*pat == '*') {
            for (n = 0; n < len && path[n] != '/'; n++) {
                if (path[n] == '%') {
                    return 0;
                }
            }

            if (n == 0) {
                return 0;
            }

            pat++;
            plen--;
            path += n;
            len -= n;
            continue;
        }

        if (len == 0 || *pat != *path) {
            return 0;
        }

        pat++;
        plen--;
        path++;
        len--;
    }

    return len == 0;
}


static ngx_uint_t
ngx_http_lava_endpoint_listed(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_uint_t                 i;
    ngx_http_lava_endpoint_t  *ep;

    if (ctx->provider->endpoints == NULL) {
        return 0;
    }

    ep = ctx->provider->endpoints->elts;

    for (i = 0; i < ctx->provider->endpoints->nelts; i++) {
        if (ep[i].method.len == r->method_name.len
            && ngx_strncmp(ep[i].method.data, r->method_name.data,
                           r->method_name.len) == 0
            && ngx_http_lava_pattern_match(ep[i].pattern.data,
                                           ep[i].pattern.len,
                                           ctx->path.data, ctx->path.len))
        {
            return 1;
        }
    }

    return 0;
}


/* after routing and authentication: the method and path */
ngx_int_t
ngx_http_lava_policy_check(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    if (ctx->provider->usage == LAVA_USAGE_NONE) {
        /* a provider billed per request: its request_nusd is the price, a
         * rate without one leaves the request unpriced, never free */
        ctx->meter_flags |= LAVA_METER_F_PER_REQUEST;
    }

    if (ctx->byok || ctx->route.metered) {
        return NGX_OK;
    }

    if (ngx_http_lava_endpoint_listed(r, ctx)) {
        /* billed per request (LAVA_EP_OTHER): a usage object in the
         * answer is ignored (lava_meter_route set format none); priced
         * only by the provider's request_nusd (the sidecar books it
         * unpriced, never at zero, when there is none) */
        ctx->meter_flags |= LAVA_METER_F_PER_REQUEST;
        return NGX_OK;
    }

    return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_ENDPOINT_NOT_METERED,
                                NULL);
}


/*
 * Server-side tools: those the provider bills per call are counted from
 * the answer (lib/lava_usage.c); the others are not served with the
 * managed key.
 */
static lava_refusal_e
ngx_http_lava_policy_tools(ngx_http_lava_ctx_t *ctx)
{
    switch (ctx->route.ep) {

    case LAVA_EP_CHAT:
    case LAVA_EP_RESPONSES:
    case LAVA_EP_MESSAGES:
    case LAVA_EP_GENERATE:
    case LAVA_EP_COHERE_CHAT:
        break;

    default:
        return LAVA_REFUSAL_COUNT;
    }

    if (ctx->req == NULL) {
        /* a body that was not read (larger than lava_body_inspect_max, or
         * in a file) may ask for any tool; an empty one asks for none */
        return ctx->request_bytes ? LAVA_REFUSAL_TOOLS_UNREAD
                                  : LAVA_REFUSAL_COUNT;
    }

    switch (ctx->req->tools) {

    case LAVA_TOOLS_UNCOUNTED:
        return LAVA_REFUSAL_TOOL_NOT_METERED;

    case LAVA_TOOLS_SEARCH_CHAT:
        return LAVA_REFUSAL_SEARCH_NOT_METERED;

    case LAVA_TOOLS_STORED_PROMPT:
        return LAVA_REFUSAL_PROMPT_NOT_METERED;

    default:
        return LAVA_REFUSAL_COUNT;
    }
}


/*
 * After the body was read: work whose usage appears later, tools the gateway
 * cannot count, and the model a request is priced by. The refusal to answer
 * (not yet sent), or
 * LAVA_REFUSAL_COUNT: none.
 */
lava_refusal_e
ngx_http_lava_policy_body(ngx_http_lava_ctx_t *ctx)
{
    const char      *model;
    lava_refusal_e   refusal;

    if ((ctx->meter_flags & LAVA_METER_F_PER_REQUEST) && !ctx->route.metered)
    {
        /* a listed endpoint is priced at the provider's rate for any model
         * ("*"): a model named in its body would let the client pick the
         * row, and with it the price */
        ngx_str_null(&ctx->model);
        return LAVA_REFUSAL_COUNT;
    }

    if (!ctx->byok && ctx->route.ep == LAVA_EP_RESPONSES
        && ctx->req && ctx->req->background)
    {
        /* a body too large to read was refused before
         * (body_too_large_to_meter) */
        return LAVA_REFUSAL_BACKGROUND_NOT_METERED;
    }

    if (!ctx->byok) {
        refusal = ngx_http_lava_policy_tools(ctx);
        if (refusal != LAVA_REFUSAL_COUNT) {
            return refusal;
        }
    }

    if (ctx->model.len || !lava_meter_model_needed(&ctx->route)) {
        return LAVA_REFUSAL_COUNT;
    }

    /* neither the request nor the answer names the model: the provider's
     * documented default, else (managed key) refused rather than booked
     * unpriced */
    model = lava_meter_model_default((char *) ctx->host.data, ctx->host.len,
                                     &ctx->route, (char *) ctx->path.data,
                                     ctx->path.len, ctx->req);
    if (model) {
        ctx->model.data = (u_char *) model;
        ctx->model.len = ngx_strlen(model);
        ctx->meter_flags |= LAVA_METER_F_MODEL_DEFAULT;
        return LAVA_REFUSAL_COUNT;
    }

    return ctx->byok ? LAVA_REFUSAL_COUNT : LAVA_REFUSAL_MODEL_REQUIRED;
}
