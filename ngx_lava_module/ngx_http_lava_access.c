/*
 * Access phase of a forward location: works out the target from `u`, picks
 * the provider by host, checks the forward token against the auth snapshot in
 * shared memory (no network round trip), removes every token carrier from the
 * request, injects the provider key, and reads the body once to learn
 * "stream" and "model" (refusing, on a metered endpoint, a body it cannot
 * read as the provider would). proxy_pass then does the proxying.
 */


#include "ngx_http_lava_auth.h"
#include "ngx_http_lava_token.h"
#include "ngx_http_lava_api.h"
#include "ngx_http_lava_fallback.h"
#include "lava_metadata.h"
#include "lava_spendkey.h"
#include "lava_multipart.h"


/* bytes read at a time from a request body in a temporary file */
#define NGX_HTTP_LAVA_MULTIPART_READ  65536



typedef struct {
    ngx_str_t  name;              /* lower case */
    ngx_uint_t carrier;           /* may hold the forward token */
    ngx_uint_t managed;           /* removed only with the operator's key */
} ngx_http_lava_strip_t;


/*
 * request headers that never reach a provider; every x-lava-* header too
 * (ngx_http_lava_strip_header)
 */
static ngx_http_lava_strip_t  ngx_http_lava_strip[] = {
    { ngx_string("authorization"), 1, 0 },
    { ngx_string("x-api-key"), 1, 0 },
    { ngx_string("x-goog-api-key"), 1, 0 },
    { ngx_string("xi-api-key"), 1, 0 },
    { ngx_string("x-provider-api-key"), 0, 0 },
    { ngx_string("proxy-authorization"), 0, 0 },
    /* replaced by "identity" (ngx_http_lava_rewrite_headers) */
    { ngx_string("accept-encoding"), 0, 0 },
    /*
     * account selection: with the managed key they would pick an
     * organization, project or billing project of the operator's account
     * (OpenAI and the OpenAI-compatible APIs; Google Cloud's quota project)
     */
    { ngx_string("openai-organization"), 0, 1 },
    { ngx_string("openai-project"), 0, 1 },
    { ngx_string("x-goog-user-project"), 0, 1 },
    { ngx_null_string, 0, 0 }
};


static ngx_str_t  ngx_http_lava_auth_headers[] = {
    ngx_string("Authorization"),          /* NGX_HTTP_LAVA_AUTH_BEARER */
    ngx_string("x-api-key"),              /* NGX_HTTP_LAVA_AUTH_X_API_KEY */
    ngx_string("x-goog-api-key"),         /* NGX_HTTP_LAVA_AUTH_X_GOOG_API_KEY */
    ngx_string("xi-api-key"),             /* NGX_HTTP_LAVA_AUTH_XI_API_KEY */
};


static ngx_uint_t ngx_http_lava_strip_header(ngx_table_elt_t *h,
    ngx_uint_t managed);
static ngx_int_t ngx_http_lava_route(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, lava_target_t *t);
static ngx_int_t ngx_http_lava_authenticate(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, lava_target_t *t, ngx_str_t *pkey);
static ngx_int_t ngx_http_lava_rewrite_headers(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, ngx_str_t *pkey);
static void ngx_http_lava_body_handler(ngx_http_request_t *r);

/*
 * The refusal of each auth check result that refuses the request whatever
 * the token says; OK and CUSTOMER_BLOCKED are decided in the handler, and
 * their rows are never read.
 */
static const lava_refusal_e  ngx_http_lava_auth_refusal[] = {
    [NGX_HTTP_LAVA_AUTH_OK] = LAVA_REFUSAL_INVALID_KEY,
    [NGX_HTTP_LAVA_AUTH_UNKNOWN_KEY] = LAVA_REFUSAL_INVALID_KEY,
    [NGX_HTTP_LAVA_AUTH_MERCHANT_DISABLED] = LAVA_REFUSAL_MERCHANT_DISABLED,
    [NGX_HTTP_LAVA_AUTH_UNKNOWN_CUSTOMER] = LAVA_REFUSAL_UNKNOWN_CUSTOMER,
    [NGX_HTTP_LAVA_AUTH_CUSTOMER_DISABLED] = LAVA_REFUSAL_CUSTOMER_DISABLED,
    [NGX_HTTP_LAVA_AUTH_UNKNOWN_METER] = LAVA_REFUSAL_UNKNOWN_METER,
    [NGX_HTTP_LAVA_AUTH_NOT_LOADED] = LAVA_REFUSAL_AUTH_UNAVAILABLE,
    [NGX_HTTP_LAVA_AUTH_CUSTOMER_BLOCKED] = LAVA_REFUSAL_INVALID_KEY
};

#define NGX_HTTP_LAVA_AUTH_NREFUSALS                                         \
    (sizeof(ngx_http_lava_auth_refusal)                                      \
     / sizeof(ngx_http_lava_auth_refusal[0]))


/* a request header by its lower-case name */
static ngx_table_elt_t *
ngx_http_lava_find_header(ngx_http_request_t *r, const char *lname,
    size_t len)
{
    return ngx_http_lava_header(&r->headers_in.headers, lname, len);
}


/*
 * The target and the credential, in the rewrite phase (before preaccess):
 * $lava_merchant_id, $lava_customer_id and $lava_spend_key_id can key stock
 * limit_req and limit_conn zones and maps. A refusal answers at once.
 */
ngx_int_t
ngx_http_lava_identify(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_int_t      rc;
    ngx_str_t      pkey;
    lava_target_t  t;

    /* the unified endpoints read the body first: the model picks the
     * provider (ngx_http_lava_api.c); NGX_DONE while it is read, and this
     * runs again when it is in */
    rc = ngx_http_lava_api_prepare(r, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx->identified = 1;

    rc = ngx_http_lava_route(r, ctx, &t);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_lava_authenticate(r, ctx, &t, &pkey);
    if (rc != NGX_OK) {
        return rc;
    }

    /* a spend key speaks its request_shape (ngx_http_lava_api.c) */
    return ngx_http_lava_api_shape(r, ctx);
}


ngx_int_t
ngx_http_lava_access_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_str_t                  pkey;
    ngx_http_lava_ctx_t       *ctx;
    ngx_http_lava_loc_conf_t  *llcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);
    if (!llcf->forward) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_lava_get_ctx(r);

    /* redirected to the request's next fallback: routed to it here, then
     * on as a first request (ngx_http_lava_fallback.c) */
    if (ctx && ctx->fallback) {
        rc = ngx_http_lava_fallback_access(r, ctx);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ctx && ctx->routed) {
        /* re-entered after the body was read */
        if (!ctx->body_done) {
            return NGX_DONE;
        }

        if (ctx->body_refused) {
            return ngx_http_lava_refuse(r, ctx, ctx->body_refusal,
                                        ctx->body_refusal_msg);
        }

        ngx_http_lava_fallback_arm(r, ctx);
        return NGX_DECLINED;
    }

    if (ctx == NULL) {
        ctx = ngx_http_lava_create_ctx(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* done in the rewrite phase, unless a redirect skipped it */
    if (!ctx->identified) {
        rc = ngx_http_lava_identify(r, ctx);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    rc = ngx_http_lava_policy_check(r, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    /* lava_api: the request's fallbacks, checked before anything goes */
    rc = ngx_http_lava_fallback_start(r, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    /* the key sent to the provider: managed or the user's (authenticate) */
    pkey = ctx->provider_key;

    rc = ngx_http_lava_rewrite_headers(r, ctx, &pkey);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx->routed = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_lava_body_handler);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    if (ctx->body_done) {
        /* read at once: the handler has already inspected it */
        r->main->count--;

        if (ctx->body_refused) {
            return ngx_http_lava_refuse(r, ctx, ctx->body_refusal,
                                        ctx->body_refusal_msg);
        }

        ngx_http_lava_fallback_arm(r, ctx);
        return NGX_DECLINED;
    }

    /* the body handler resumes the phases; the reference taken by the body
     * reader is released here, as the mirror module does */
    ctx->body_waiting = 1;
    ngx_http_finalize_request(r, NGX_DONE);
    return NGX_DONE;
}


/*
 * The request line nginx logs ($request, "request:" in error lines) with
 * every key= value masked (lava_url_mask_keys: top level and inside u, any
 * encoding): a copy, so the arguments a location reads are untouched.
 */
static void
ngx_http_lava_mask_request_line(ngx_http_request_t *r)
{
    u_char  *line, *q, *end;

    if (r->request_line.len == 0) {
        return;
    }

    line = r->request_line.data;
    end = line + r->request_line.len;

    q = ngx_strlchr(line, end, '?');
    if (q == NULL) {
        return;
    }

    /* "METHOD URI HTTP/1.1": the URI has no raw space, the protocol follows
     * the last one */
    while (end > q && end[-1] != ' ') {
        end--;
    }

    if (end == q) {
        end = line + r->request_line.len;

    } else {
        end--;
    }

    q++;

    if (lava_url_mask_keys((char *) q, end - q, 0) == 0) {
        return;
    }

    line = ngx_pnalloc(r->pool, r->request_line.len);
    if (line == NULL) {
        /* nothing logged is better than a key logged */
        r->request_line.len = 0;
        return;
    }

    ngx_memcpy(line, r->request_line.data, r->request_line.len);

    (void) lava_url_mask_keys((char *) line + (q - r->request_line.data),
                              end - q, 1);

    r->request_line.data = line;
}


/* post-read phase, every request of an http block with providers: before
 * anything can log it (a 413 of the find-config phase, a rewrite refusal) */
ngx_int_t
ngx_http_lava_mask_handler(ngx_http_request_t *r)
{
    ngx_http_lava_mask_request_line(r);

    return NGX_DECLINED;
}


/* first in the log phase, before the access log: requests nginx refused
 * while reading their headers never reached post-read; in a forward
 * location $args and $request_uri too, which a 413 left as sent (also once
 * error_page sent it on to lava_error: it has a context then) */
ngx_int_t
ngx_http_lava_mask_log_handler(ngx_http_request_t *r)
{
    ngx_http_lava_loc_conf_t  *llcf;

    ngx_http_lava_mask_request_line(r);

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);

    if (r->args.len
        && ((llcf && llcf->forward) || ngx_http_lava_get_ctx(r) != NULL))
    {
        (void) lava_url_mask_keys((char *) r->args.data, r->args.len, 1);
    }

    return NGX_DECLINED;
}


/*
 * A value longer than the usage event takes (the max of its row in
 * lib/lava_event_fields.h, the limit the sidecar applies) is refused before
 * anything is forwarded, so that every forwarded request has an event the
 * sidecar books. The refusal messages name the limits.
 */
_Static_assert(LAVA_EVENT_MAX_method == 32
               && LAVA_EVENT_MAX_endpoint == 2048
               && LAVA_EVENT_MAX_model == 256,
               "the *_TOO_LONG messages of lib/lava_refusal.h name the limits "
               "of lib/lava_event_fields.h");


static ngx_int_t
ngx_http_lava_route(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    lava_target_t *t)
{
    int                         rc;
    u_char                     *p, *q, *end, *buf;
    size_t                      size;
    ngx_str_t                   extra, args;
    ngx_http_lava_loc_conf_t   *llcf;
    ngx_http_lava_main_conf_t  *lmcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);
    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);

    /* the path after the location prefix, as the client sent it */
    p = r->unparsed_uri.data;
    end = p + r->unparsed_uri.len;
    q = ngx_strlchr(p, end, '?');
    if (q == NULL) {
        q = end;
    }

    if ((size_t) (q - p) < llcf->prefix.len
        || ngx_strncmp(p, llcf->prefix.data, llcf->prefix.len) != 0)
    {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_INVALID_PATH, NULL);
    }

    extra.data = p + llcf->prefix.len;
    extra.len = q - extra.data;
    args = r->args;

    if (llcf->api) {
        /* the rewrite and unified endpoints: the provider URL from the
         * path or the model, as u= (ngx_http_lava_api.c) */
        rc = ngx_http_lava_api_target(r, ctx, &extra, &args);
        if (rc != NGX_OK) {
            return rc;
        }

    } else if (extra.len && extra.data[0] != '/') {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_NOT_FOUND, NULL);
    }

    size = 3 * (extra.len + args.len) + 16;
    if (size > LAVA_URL_MAX * 3 + 16) {
        size = LAVA_URL_MAX * 3 + 16;
    }

    buf = ngx_pnalloc(r->pool, size);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = lava_url_parse((char *) extra.data, extra.len, (char *) args.data,
                        args.len, (char *) buf, size, t);

    /* $args, $query_string, $request_uri: key= may hold the forward token;
     * the target was read above */
    (void) lava_url_mask_keys((char *) r->args.data, r->args.len, 1);

    if (rc == LAVA_URL_MISSING_U) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_MISSING_U, NULL);
    }

    if (rc != LAVA_URL_OK) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_INVALID_U,
                                    lava_url_strerror(rc));
    }

    ctx->host.data = (u_char *) t->host;
    ctx->host.len = t->host_len;
    ctx->path.data = (u_char *) t->path;
    ctx->path.len = t->path_len;
    ctx->uri.data = (u_char *) t->uri;
    ctx->uri.len = t->uri_len;

    /* what the event cannot carry is not forwarded: it could not be booked */
    if (r->method_name.len > LAVA_EVENT_MAX_method) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_METHOD_TOO_LONG,
                                    NULL);
    }

    if (ctx->path.len > LAVA_EVENT_MAX_endpoint) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_ENDPOINT_TOO_LONG,
                                    NULL);
    }

    ctx->provider = ngx_http_lava_provider_find(lmcf, ctx->host.data,
                                                ctx->host.len);
    if (ctx->provider == NULL) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_HOST_NOT_ALLOWED,
                                    NULL);
    }

    ctx->upstream = ctx->provider->upstream;
    ctx->character_cost = -1;

    /* what the request does decides the usage format and, on the
     * OpenAI-compatible endpoints of other families, the auth format */
    lava_meter_route(ctx->provider->usage, (char *) r->method_name.data,
                     r->method_name.len, (char *) ctx->path.data,
                     ctx->path.len, &ctx->route);

    if (ctx->route.model_len > LAVA_EVENT_MAX_model) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_MODEL_TOO_LONG,
                                    NULL);
    }

    if (ctx->route.model_len) {
        /* Gemini names the model in the path; a body "model" wins later */
        ctx->model.data = (u_char *) ctx->route.model;
        ctx->model.len = ctx->route.model_len;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_lava_copy_str(ngx_http_request_t *r, ngx_str_t *dst, const char *s,
    size_t len)
{
    dst->len = 0;
    dst->data = NULL;

    if (s == NULL || len == 0) {
        return NGX_OK;
    }

    dst->data = ngx_pnalloc(r->pool, len);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, s, len);
    dst->len = len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_lava_authenticate(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    lava_target_t *t, ngx_str_t *pkey)
{
    ngx_int_t                  rc;
    ngx_str_t                  token, customer, meter, merchant;
    ngx_uint_t                 flags;
    ngx_table_elt_t           *h;
    lava_token_t               tk;
    ngx_http_lava_auth_rc_e    arc;
    u_char                     secret_hash[NGX_HTTP_LAVA_SECRET_HASH_LEN];

    ngx_str_null(&token);
    tk.provider_key_len = 0;

    /* carriers, in the order the SDKs use them */
    h = r->headers_in.authorization;
    if (h && h->value.len > 7
        && ngx_strncasecmp(h->value.data, (u_char *) "Bearer ", 7) == 0)
    {
        token.data = h->value.data + 7;
        token.len = h->value.len - 7;

        while (token.len && token.data[0] == ' ') {
            token.data++;
            token.len--;
        }

    } else if ((h = ngx_http_lava_find_header(r, "x-api-key", 9))
               || (h = ngx_http_lava_find_header(r, "x-goog-api-key", 14))
               || (h = ngx_http_lava_find_header(r, "xi-api-key", 10)))
    {
        token = h->value;

    } else if (t->key) {
        token.data = (u_char *) t->key;
        token.len = t->key_len;
    }

    if (token.len == 0) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_MISSING_TOKEN, NULL);
    }

    /* a spend key (docs/spend-keys.md): its own record, its own limits */
    if (lava_spk_key_prefixed((char *) token.data, token.len)) {
        rc = ngx_http_lava_spendkey_auth(r, ctx, &token);
        if (rc != NGX_OK) {
            return rc;
        }

        goto provider_key;
    }

    rc = ngx_http_lava_token_get(r, &token, &tk, secret_hash);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != LAVA_TOKEN_OK) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_INVALID_TOKEN,
                                    lava_token_strerror((int) rc));
    }

    customer.data = (u_char *) tk.customer_id;
    customer.len = tk.customer_id_len;
    meter.data = (u_char *) tk.meter_slug;
    meter.len = tk.meter_slug_len;

    ngx_str_null(&merchant);

    arc = ngx_http_lava_auth_check(r, secret_hash, &customer, &meter,
                                   &merchant, &flags);
    ngx_explicit_memzero(secret_hash, sizeof(secret_hash));

    /* set for refusals of a known key too: the event names the merchant */
    ctx->merchant_id = merchant;

    /* a restricted key bills a customer through a meter, never the
     * merchant (docs/security.md, class 11) */
    if (flags & NGX_HTTP_LAVA_AUTH_F_RESTRICTED) {
        switch (lava_token_restricted(&tk)) {

        case LAVA_TOKEN_RESTRICTED_OK:
            break;

        case LAVA_TOKEN_RESTRICTED_BILLING:
            return ngx_http_lava_refuse(r, ctx,
                                        LAVA_REFUSAL_RESTRICTED_BILLING, NULL);

        default: /* LAVA_TOKEN_RESTRICTED_CUSTOMER */
            return ngx_http_lava_refuse(r, ctx,
                                        LAVA_REFUSAL_RESTRICTED_CUSTOMER,
                                        NULL);
        }

        /* ... and serves only a funded one, whatever its wallet policy */
        if (arc == NGX_HTTP_LAVA_AUTH_OK
            && (flags & NGX_HTTP_LAVA_AUTH_F_UNFUNDED))
        {
            arc = NGX_HTTP_LAVA_AUTH_CUSTOMER_BLOCKED;
        }
    }

    switch (arc) {

    case NGX_HTTP_LAVA_AUTH_OK:
        break;

    case NGX_HTTP_LAVA_AUTH_CUSTOMER_BLOCKED:
        /* the wallet is at or below its minimum: refused only when the
         * wallet would pay (not with disable_billing) */
        if (!tk.bare && !tk.disable_billing) {
            /* the event names the customer: refusals per customer in psql */
            if (ngx_http_lava_copy_str(r, &ctx->customer_id, tk.customer_id,
                                       tk.customer_id_len)
                != NGX_OK)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_http_lava_refuse(r, ctx,
                                        LAVA_REFUSAL_INSUFFICIENT_BALANCE,
                                        NULL);
        }
        break;

    default:
        return ngx_http_lava_refuse(r, ctx,
                                    (size_t) arc < NGX_HTTP_LAVA_AUTH_NREFUSALS
                                    ? ngx_http_lava_auth_refusal[arc]
                                    : LAVA_REFUSAL_INVALID_KEY,
                                    NULL);
    }

    if (ngx_http_lava_copy_str(r, &ctx->customer_id, tk.customer_id,
                               tk.customer_id_len) != NGX_OK
        || ngx_http_lava_copy_str(r, &ctx->meter, tk.meter_slug,
                                  tk.meter_slug_len) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->payer = (tk.bare || tk.disable_billing || ctx->customer_id.len == 0)
                 ? NGX_HTTP_LAVA_PAYER_MERCHANT : NGX_HTTP_LAVA_PAYER_CUSTOMER;

provider_key:

    /* bring-your-own-key: the token's provider_key, else the header */
    ngx_str_null(pkey);

    if (ctx->spend_key == NULL && tk.provider_key_len) {
        pkey->data = (u_char *) tk.provider_key;
        pkey->len = tk.provider_key_len;

    } else {
        h = ngx_http_lava_find_header(r, "x-provider-api-key", 18);
        if (h && h->value.len) {
            *pkey = h->value;
        }
    }

    if (pkey->len) {
        ctx->byok = 1;

        /* the token's strings live in the worker's token cache, which
         * another request may reuse: a copy for the answer's masking */
        ctx->provider_key.data = ngx_pstrdup(r->pool, pkey);
        if (ctx->provider_key.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->provider_key.len = pkey->len;

    } else if (ctx->provider->key.len) {
        *pkey = ctx->provider->key;
        ctx->provider_key = ctx->provider->key;

        if (ngx_http_lava_keymask_log(r, ctx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else if (ctx->provider->auth != NGX_HTTP_LAVA_AUTH_NONE) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_PROVIDER_KEY_REQUIRED,
                                    NULL);
    }

    /* optional metadata: a small JSON object stored with the request */
    h = ngx_http_lava_find_header(r, "x-lava-metadata", 15);
    if (h) {
        switch (lava_metadata_check((char *) h->value.data, h->value.len)) {

        case LAVA_METADATA_OK:
            break;

        case LAVA_METADATA_TOO_LARGE:
            return ngx_http_lava_refuse(r, ctx,
                                        LAVA_REFUSAL_METADATA_TOO_LARGE,
                                        NULL);

        case LAVA_METADATA_NOT_OBJECT:
            return ngx_http_lava_refuse(r, ctx,
                                        LAVA_REFUSAL_METADATA_NOT_OBJECT,
                                        NULL);

        default: /* LAVA_METADATA_BAD_KEY */
            return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_METADATA_BAD_KEY,
                                        NULL);
        }

        ctx->metadata = h->value;
    }

    return NGX_OK;
}


/*
 * 1: the client's header h is not sent on. Every x-lava-* header is the
 * gateway's own (x-lava-metadata was read before): never the provider's
 * business. With underscores_in_headers on, a server behind the provider
 * may read "x_lava_" as "x-lava-", so '_' counts as '-' there.
 */
static ngx_uint_t
ngx_http_lava_strip_header(ngx_table_elt_t *h, ngx_uint_t managed)
{
    u_char                 c;
    ngx_uint_t             i;
    ngx_http_lava_strip_t *s;

    static u_char          prefix[] = "x-lava-";

    if (h->key.len >= sizeof(prefix) - 1) {
        for (i = 0; i < sizeof(prefix) - 1; i++) {
            c = ngx_tolower(h->key.data[i]);
            if (c == '_') {
                c = '-';
            }

            if (c != prefix[i]) {
                break;
            }
        }

        if (i == sizeof(prefix) - 1) {
            return 1;
        }
    }

    for (s = ngx_http_lava_strip; s->name.len; s++) {
        if (h->key.len == s->name.len
            && ngx_strncasecmp(h->key.data, s->name.data, s->name.len) == 0)
        {
            return !s->managed || managed;
        }
    }

    return 0;
}


/* 1: h has the name of a header the operator sets for this provider */
static ngx_uint_t
ngx_http_lava_operator_header(ngx_http_lava_ctx_t *ctx, ngx_table_elt_t *h)
{
    ngx_uint_t        i;
    ngx_table_elt_t  *oh;

    if (ctx->provider->headers == NULL) {
        return 0;
    }

    oh = ctx->provider->headers->elts;

    for (i = 0; i < ctx->provider->headers->nelts; i++) {
        if (h->key.len == oh[i].key.len
            && ngx_strncasecmp(h->key.data, oh[i].key.data, h->key.len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ngx_http_lava_rewrite_headers(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    ngx_str_t *pkey)
{
    ngx_uint_t                 i, n, auth;
    ngx_list_t                 old;
    ngx_list_part_t           *part;
    ngx_table_elt_t           *h, *nh, *oh;

    /* count, then copy everything but the stripped headers into a new list */
    n = 0;
    for (part = &r->headers_in.headers.part; part; part = part->next) {
        n += part->nelts;
    }

    /*
     * build the new list in place: an ngx_list_t copied by value keeps its
     * "last" pointer into the copy, and later pushes would be lost
     */
    old = r->headers_in.headers;

    if (ngx_list_init(&r->headers_in.headers, r->pool, n + 3,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    part = &old.part;
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

        if (ngx_http_lava_strip_header(&h[i], !ctx->byok)
            || (!ctx->byok && ngx_http_lava_operator_header(ctx, &h[i])))
        {
            continue;
        }

        nh = ngx_list_push(&r->headers_in.headers);
        if (nh == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        *nh = h[i];
    }

    /* the operator's own account selection (lava_provider_header) */
    if (!ctx->byok && ctx->provider->headers) {
        oh = ctx->provider->headers->elts;

        for (i = 0; i < ctx->provider->headers->nelts; i++) {
            nh = ngx_list_push(&r->headers_in.headers);
            if (nh == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            *nh = oh[i];
        }
    }

    /*
     * a compressed answer would blind the tap (and the key mask): ask for
     * identity. Without any Accept-Encoding, HTTP lets the provider pick any
     * coding; one that compresses anyway is read through the gunzip tap.
     */
    nh = ngx_list_push(&r->headers_in.headers);
    if (nh == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&nh->key, "Accept-Encoding");
    ngx_str_set(&nh->value, "identity");
    nh->lowcase_key = (u_char *) "accept-encoding";
    nh->hash = ngx_hash_key(nh->lowcase_key, nh->key.len);

    r->headers_in.authorization = NULL;
#if (NGX_HTTP_GZIP || NGX_HTTP_HEADERS)
    r->headers_in.accept_encoding = NULL;
#endif

    auth = ctx->provider->auth;

    if (ctx->route.openai_compat
        && (auth == NGX_HTTP_LAVA_AUTH_X_GOOG_API_KEY
            || auth == NGX_HTTP_LAVA_AUTH_X_API_KEY))
    {
        /* the OpenAI-compatible endpoints of Google and Anthropic take the
         * key the way the OpenAI SDK sends it */
        auth = NGX_HTTP_LAVA_AUTH_BEARER;
    }

    if (pkey->len == 0 || auth == NGX_HTTP_LAVA_AUTH_NONE) {
        return NGX_OK;
    }

    /* always a header, never the upstream URL, which nginx writes into
     * every upstream error line: Google takes x-goog-api-key wherever it
     * takes ?key=, also when the client sent its token as ?key= */
    nh = ngx_list_push(&r->headers_in.headers);
    if (nh == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    nh->key = ngx_http_lava_auth_headers[auth];
    nh->lowcase_key = ngx_pnalloc(r->pool, nh->key.len);
    if (nh->lowcase_key == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    nh->hash = ngx_hash_strlow(nh->lowcase_key, nh->key.data, nh->key.len);

    if (auth == NGX_HTTP_LAVA_AUTH_BEARER) {
        nh->value.len = sizeof("Bearer ") - 1 + pkey->len;
        nh->value.data = ngx_pnalloc(r->pool, nh->value.len);
        if (nh->value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(ngx_cpymem(nh->value.data, "Bearer ", 7), pkey->data,
                   pkey->len);

        r->headers_in.authorization = nh;

    } else {
        nh->value = *pkey;
    }

    /* Anthropic refuses requests without a version; keep a client's own */
    if (ctx->provider->usage == LAVA_USAGE_ANTHROPIC
        && ngx_http_lava_find_header(r, "anthropic-version", 17) == NULL)
    {
        nh = ngx_list_push(&r->headers_in.headers);
        if (nh == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_str_set(&nh->key, "anthropic-version");
        ngx_str_set(&nh->value, "2023-06-01");
        nh->lowcase_key = nh->key.data;
        nh->hash = ngx_hash_key(nh->key.data, nh->key.len);
    }

    return NGX_OK;
}


/* a provider whose API refuses the stream_options member */
static ngx_int_t
ngx_http_lava_include_usage_skipped(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx)
{
    ngx_str_t                  *name;
    ngx_uint_t                  i;
    ngx_http_lava_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);

    if (lmcf->include_usage_skip == NULL) {
        return 0;
    }

    name = lmcf->include_usage_skip->elts;

    for (i = 0; i < lmcf->include_usage_skip->nelts; i++) {
        if (name[i].len == ctx->provider->name.len
            && ngx_strncmp(name[i].data, ctx->provider->name.data,
                           name[i].len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * An OpenAI-compatible stream the client did not ask usage for: the body
 * gets stream_options.include_usage (nothing else changes), and the filter
 * removes the usage-only chunk before the client sees it.
 */
static void
ngx_http_lava_add_include_usage(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, u_char *body, size_t len)
{
    size_t        out_len;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    b = ngx_create_temp_buf(r->pool, len + LAVA_INCLUDE_USAGE_EXTRA);
    if (b == NULL) {
        return;
    }

    if (lava_request_add_include_usage((char *) body, len, (char *) b->pos,
                                       len + LAVA_INCLUDE_USAGE_EXTRA,
                                       &out_len)
        != 1)
    {
        return;
    }

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return;
    }

    b->last = b->pos + out_len;
    b->last_buf = 1;
    b->last_in_chain = 1;
    cl->buf = b;
    cl->next = NULL;

    /* proxy sends the body from these buffers, with this Content-Length */
    r->request_body->bufs = cl;
    r->headers_in.content_length_n = out_len;

    ctx->include_usage_added = 1;
}


/* a body the gateway could not read is not forwarded: refused after the
 * body is in (ngx_http_lava_access_handler) */
static void
ngx_http_lava_body_refuse(ngx_http_lava_ctx_t *ctx, lava_refusal_e code,
    const char *message)
{
    ctx->body_refused = 1;
    ctx->body_refusal = code;
    ctx->body_refusal_msg = message;
}


/*
 * The model of a multipart/form-data body (audio transcriptions and
 * translations, image edits, ElevenLabs speech-to-text), read from memory
 * and the temporary file alike: the audio file may come before the field.
 */
static void
ngx_http_lava_read_multipart(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    ngx_table_elt_t *ct)
{
    off_t              off;
    size_t             n;
    ssize_t            got;
    u_char            *buf;
    ngx_buf_t         *b;
    ngx_chain_t       *cl;
    lava_multipart_t  *mp;

    mp = ngx_palloc(r->pool, sizeof(lava_multipart_t));
    if (mp == NULL) {
        ngx_http_lava_body_refuse(ctx, LAVA_REFUSAL_GATEWAY_ERROR, NULL);
        return;
    }

    /* the form field the provider bills by */
    if (lava_multipart_init(mp, (char *) ct->value.data, ct->value.len,
                            ctx->route.ep == LAVA_EP_STT ? "model_id"
                                                         : "model")
        != 0)
    {
        ngx_http_lava_body_refuse(ctx, LAVA_REFUSAL_INVALID_MULTIPART_BODY,
                                  mp->error);
        return;
    }

    buf = NULL;

    for (cl = r->request_body ? r->request_body->bufs : NULL; cl;
         cl = cl->next)
    {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            (void) lava_multipart_feed(mp, (char *) b->pos, b->last - b->pos);
            continue;
        }

        if (!b->in_file || b->file == NULL) {
            continue;
        }

        if (buf == NULL) {
            buf = ngx_palloc(r->pool, NGX_HTTP_LAVA_MULTIPART_READ);
            if (buf == NULL) {
                ngx_http_lava_body_refuse(ctx, LAVA_REFUSAL_GATEWAY_ERROR,
                                          NULL);
                return;
            }
        }

        for (off = b->file_pos; off < b->file_last && !mp->error; off += got)
        {
            n = ngx_min((off_t) NGX_HTTP_LAVA_MULTIPART_READ,
                        b->file_last - off);

            got = ngx_read_file(b->file, buf, n, off);
            if (got <= 0) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "lava: reading the request body file failed");
                ngx_http_lava_body_refuse(ctx, LAVA_REFUSAL_GATEWAY_ERROR,
                                          NULL);
                return;
            }

            (void) lava_multipart_feed(mp, (char *) buf, got);
        }
    }

    if (lava_multipart_finish(mp) != 0) {
        ngx_http_lava_body_refuse(ctx, LAVA_REFUSAL_INVALID_MULTIPART_BODY,
                                  mp->error);
        return;
    }

    if (lava_usage_model_ok(mp->value, ngx_strlen(mp->value))
        && ctx->route.model_len == 0)
    {
        (void) ngx_http_lava_copy_str(r, &ctx->model, mp->value,
                                      ngx_strlen(mp->value));
    }
}


/* a metered endpoint whose body the meter reads: model, stream, text */
static ngx_uint_t
ngx_http_lava_body_metered(lava_endpoint_e ep)
{
    return ep != LAVA_EP_OTHER && ep != LAVA_EP_CALL;
}


/* endpoints whose provider takes multipart/form-data */
static ngx_uint_t
ngx_http_lava_multipart_endpoint(lava_endpoint_e ep)
{
    return ep == LAVA_EP_TRANSCRIPTION || ep == LAVA_EP_STT
           || ep == LAVA_EP_IMAGES;
}


/*
 * The request body as one buffer of len bytes: the buffer itself when it is
 * one buffer in memory, else a copy (from memory and the temporary file).
 * NULL: no memory, or the file could not be read (logged).
 */
u_char *
ngx_http_lava_body_bytes(ngx_http_request_t *r, size_t len)
{
    off_t         off;
    size_t        n;
    ssize_t       got;
    u_char       *buf, *p, *end;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    cl = r->request_body->bufs;

    if (cl->next == NULL && ngx_buf_in_memory(cl->buf) && !cl->buf->in_file)
    {
        return cl->buf->pos;
    }

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        return NULL;
    }

    p = buf;
    end = buf + len;

    for ( /* void */ ; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file && b->file) {
            for (off = b->file_pos; off < b->file_last; off += got) {
                n = ngx_min((size_t) (b->file_last - off), (size_t) (end - p));
                if (n == 0) {
                    return NULL;
                }

                got = ngx_read_file(b->file, p, n, off);
                if (got <= 0) {
                    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                                  "lava: reading the request body file "
                                  "failed");
                    return NULL;
                }

                p += got;
            }

            continue;
        }

        if (ngx_buf_in_memory(b)) {
            n = b->last - b->pos;
            if (n > (size_t) (end - p)) {
                return NULL;
            }

            p = ngx_cpymem(p, b->pos, n);
        }
    }

    return p == end ? buf : NULL;
}


/* What the request body says (lava_request_inspect) when it is JSON kept in
 * memory: stream, model, include_usage, TTS text, images asked for. On a
 * metered endpoint a body that cannot be read is refused, never forwarded
 * unmetered (docs/security.md, class 4). */
static void
ngx_http_lava_inspect_body(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    u_char                    *buf;
    size_t                     len;
    off_t                      total;
    ngx_uint_t                 metered;
    ngx_chain_t               *cl;
    ngx_table_elt_t           *ct;
    lava_request_t            *rq;
    ngx_http_lava_loc_conf_t  *llcf;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);

    total = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        total += ngx_buf_size(cl->buf);
    }

    /* the size bounds the estimates when the body is not read */
    ctx->request_bytes = total;

    metered = ngx_http_lava_body_metered(ctx->route.ep);
    ct = r->headers_in.content_type;

    if (metered && total && ct
        && lava_multipart_is((char *) ct->value.data, ct->value.len))
    {
        if (ngx_http_lava_multipart_endpoint(ctx->route.ep)) {
            ngx_http_lava_read_multipart(r, ctx, ct);

        } else {
            ngx_http_lava_body_refuse(ctx, LAVA_REFUSAL_INVALID_JSON_BODY,
                                      NULL);
        }

        return;
    }

    if (total == 0) {
        return;
    }

    if ((size_t) total > llcf->body_inspect_max) {
        if (metered && !ctx->byok) {
            /* unread, neither the model nor "stream" is known and no
             * include_usage can be added: not served on the operator's
             * account (docs/security.md, class 4) */
            ngx_http_lava_body_refuse(ctx, LAVA_REFUSAL_BODY_TOO_LARGE_TO_METER,
                                      NULL);
        }

        return;
    }

    /* one copy in memory, also of a body nginx wrote to a temporary file
     * (over client_body_buffer_size): lava_body_inspect_max bounds it */
    buf = ngx_http_lava_body_bytes(r, (size_t) total);
    if (buf == NULL) {
        if (metered) {
            ngx_http_lava_body_refuse(ctx, LAVA_REFUSAL_GATEWAY_ERROR, NULL);
        }

        return;
    }

    len = (size_t) total;

    rq = ngx_palloc(r->pool, sizeof(lava_request_t));
    if (rq == NULL) {
        return;
    }

    if (lava_request_inspect(rq, ctx->route.ep, (char *) buf, len) != 0) {
        if (metered) {
            /* jansson cannot read it, a provider's parser may: neither the
             * model nor "stream" is known */
            ngx_http_lava_body_refuse(ctx, LAVA_REFUSAL_INVALID_JSON_BODY,
                                      NULL);
        }

        return;
    }

    ctx->req = rq;
    ctx->stream = rq->stream;

    /* Gemini bills the model of the path and ignores a body "model" */
    if (rq->model[0] && ctx->route.model_len == 0) {
        (void) ngx_http_lava_copy_str(r, &ctx->model, rq->model,
                                      ngx_strlen(rq->model));
    }

    if (llcf->include_usage && rq->stream && !rq->include_usage
        && ctx->route.ep == LAVA_EP_CHAT
        && ctx->route.fmt == LAVA_USAGE_OPENAI
        && !ngx_http_lava_include_usage_skipped(r, ctx))
    {
        ngx_http_lava_add_include_usage(r, ctx, buf, len);
    }
}


static void
ngx_http_lava_body_handler(ngx_http_request_t *r)
{
    const char           *msg;
    lava_refusal_e        code;
    ngx_http_lava_ctx_t  *ctx;

    ctx = ngx_http_lava_get_ctx(r);
    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* lava_api: the client's body kept for its fallbacks, then in the
     * provider's shape before the meter reads it (ngx_http_lava_api.c) */
    msg = NULL;
    code = ngx_http_lava_fallback_body(r, ctx, &msg);

    if (code == LAVA_REFUSAL_COUNT) {
        code = ngx_http_lava_api_request(r, ctx, &msg);
    }
    if (code != LAVA_REFUSAL_COUNT) {
        ngx_http_lava_body_refuse(ctx, code, msg);
    }

    if (!ctx->body_refused) {
        ngx_http_lava_inspect_body(r, ctx);
    }

    /* a model longer than the event takes is never forwarded; nor is work
     * billed later, nor one whose model is unknown
     * (ngx_http_lava_policy_body) */
    if (!ctx->body_refused) {
        code = (ctx->req && ctx->req->model_too_long)
               ? LAVA_REFUSAL_MODEL_TOO_LONG : ngx_http_lava_policy_body(ctx);

        /* spend key limits and allow-lists, model_not_priced; once per
         * request: a fallback's were checked when it came */
        if (code == LAVA_REFUSAL_COUNT && !ngx_http_lava_fallback_retry(ctx))
        {
            code = ngx_http_lava_spendkey_check(r, ctx);
        }

        /* the wallet reserves the most the request can cost (class 8) */
        if (code == LAVA_REFUSAL_COUNT) {
            code = ngx_http_lava_wallet_reserve(r, ctx);

            if (code != LAVA_REFUSAL_COUNT) {
                ngx_http_lava_spendkey_cancel(ctx);
            }
        }

        if (code != LAVA_REFUSAL_COUNT) {
            ngx_http_lava_body_refuse(ctx, code, NULL);
        }
    }

    ctx->body_done = 1;

    /* a client that leaves is noticed, not acted on: the answer is still
     * read to its usage (ngx_http_lava_drain.c) */
    r->read_event_handler = ngx_http_lava_client_check;

    if (ctx->body_waiting) {
        ctx->body_waiting = 0;
        r->write_event_handler = ngx_http_core_run_phases;
        ngx_http_core_run_phases(r);
    }
}
