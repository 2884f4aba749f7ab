/*
 * GET /v1/models (lava_api models): the models the unified endpoints take,
 * in OpenAI's list format, as @lavapayments/nodejs reads it (RestModelList:
 * {"object":"list","data":[{"id","object":"model","created","owned_by"}]}).
 *
 * A model is listed when the auth snapshot has its own "r" record (the
 * sidecar publishes one per priced model, docs/auth-sync.md) and its
 * provider is in this nginx's provider table; the id is "provider/model",
 * which POST /v1/chat/completions and /v1/messages take as they are.
 * "created" is when the ledger first priced the model (its "d" record: the
 * earliest effective_from of its rate rows, docs/auth-sync.md), 0 when the
 * snapshot has none (a sidecar before "d" records, a model priced from 0).
 *
 * Authenticated like every request (a forward token, a bare secret key or
 * a spend key); a refusal is answered and booked like the forward
 * endpoint's, a list is not booked (it costs nothing and reaches no
 * provider). A spend key sees the models its allowed_providers and
 * allowed_models take (ngx_http_lava_spendkey_allows()); a forward token or
 * a secret key the merchant's whole list.
 */

#include <jansson.h>

#include "ngx_http_lava_api.h"
#include "ngx_http_lava_auth.h"
#include "ngx_http_lava_token.h"
#include "lava_spendkey.h"


static const lava_refusal_e  ngx_http_lava_models_refusal[] = {
    [NGX_HTTP_LAVA_AUTH_OK] = LAVA_REFUSAL_INVALID_KEY,
    [NGX_HTTP_LAVA_AUTH_UNKNOWN_KEY] = LAVA_REFUSAL_INVALID_KEY,
    [NGX_HTTP_LAVA_AUTH_MERCHANT_DISABLED] = LAVA_REFUSAL_MERCHANT_DISABLED,
    [NGX_HTTP_LAVA_AUTH_UNKNOWN_CUSTOMER] = LAVA_REFUSAL_UNKNOWN_CUSTOMER,
    [NGX_HTTP_LAVA_AUTH_CUSTOMER_DISABLED] = LAVA_REFUSAL_CUSTOMER_DISABLED,
    [NGX_HTTP_LAVA_AUTH_UNKNOWN_METER] = LAVA_REFUSAL_UNKNOWN_METER,
    [NGX_HTTP_LAVA_AUTH_NOT_LOADED] = LAVA_REFUSAL_AUTH_UNAVAILABLE,
    [NGX_HTTP_LAVA_AUTH_CUSTOMER_BLOCKED] = LAVA_REFUSAL_INVALID_KEY
};


/*
 * ngx_http_lava_refuse() finalizes the request itself; the content phase
 * finalizes it once more with the NGX_DONE returned: a reference for that
 */
static ngx_int_t
ngx_http_lava_models_refuse(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    lava_refusal_e refusal, const char *message)
{
    r->main->count++;

    return ngx_http_lava_refuse(r, ctx, refusal, message);
}


/* the caller's token: Bearer (both SDKs), else x-api-key */
static ngx_int_t
ngx_http_lava_models_auth(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_int_t                 rc;
    ngx_str_t                 token, customer, meter, merchant;
    ngx_uint_t                flags;
    ngx_table_elt_t          *h;
    lava_token_t              tk;
    ngx_http_lava_auth_rc_e   arc;
    u_char                    hash[NGX_HTTP_LAVA_SECRET_HASH_LEN];

    ngx_str_null(&token);

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

    } else if ((h = ngx_http_lava_header(&r->headers_in.headers, "x-api-key",
                                         9)))
    {
        token = h->value;
    }

    if (token.len == 0) {
        return ngx_http_lava_models_refuse(r, ctx, LAVA_REFUSAL_MISSING_TOKEN,
                                           NULL);
    }

    /* a spend key: its own record (ctx->provider is NULL: no provider
     * check, the list is filtered instead); a refusal finalizes the
     * request, so the reference ngx_http_lava_models_refuse() takes */
    if (lava_spk_key_prefixed((char *) token.data, token.len)) {
        r->main->count++;

        rc = ngx_http_lava_spendkey_auth(r, ctx, &token);

        if (rc != NGX_DONE) {
            r->main->count--;
        }

        return rc;
    }

    rc = ngx_http_lava_token_get(r, &token, &tk, hash);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != LAVA_TOKEN_OK) {
        return ngx_http_lava_models_refuse(r, ctx, LAVA_REFUSAL_INVALID_TOKEN,
                                    lava_token_strerror((int) rc));
    }

    customer.data = (u_char *) tk.customer_id;
    customer.len = tk.customer_id_len;
    meter.data = (u_char *) tk.meter_slug;
    meter.len = tk.meter_slug_len;

    arc = ngx_http_lava_auth_check(r, hash, &customer, &meter, &merchant,
                                   &flags);
    ngx_explicit_memzero(hash, sizeof(hash));

    ctx->merchant_id = merchant;

    /* a blocked wallet still may see what it could buy */
    if (arc == NGX_HTTP_LAVA_AUTH_OK
        || arc == NGX_HTTP_LAVA_AUTH_CUSTOMER_BLOCKED)
    {
        return NGX_OK;
    }

    return ngx_http_lava_models_refuse(r, ctx,
                                (size_t) arc
                                < sizeof(ngx_http_lava_models_refusal)
                                  / sizeof(lava_refusal_e)
                                ? ngx_http_lava_models_refusal[arc]
                                : LAVA_REFUSAL_INVALID_KEY,
                                NULL);
}


/* the list, from the snapshot's rate records, under the zone's lock */
static json_t *
ngx_http_lava_models_list(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    char                          *s;
    json_t                        *data, *m;
    uint32_t                       i;
    ngx_uint_t                     j, known;
    lava_authsnap_t               *snap;
    ngx_slab_pool_t               *shpool;
    ngx_http_lava_auth_sh_t       *sh;
    ngx_http_lava_provider_t      *pv;
    ngx_http_lava_main_conf_t     *lmcf;
    ngx_str_t                      provider, model;
    const lava_authsnap_pair_t    *e;
    char                           id[LAVA_AUTHSNAP_ID_MAX + 1
                                      + LAVA_AUTHSNAP_MODEL_MAX + 1];

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);

    data = json_array();
    if (data == NULL) {
        return NULL;
    }

    if (lmcf->auth_zone == NULL || lmcf->auth_zone->shm.addr == NULL) {
        return data;
    }

    shpool = (ngx_slab_pool_t *) lmcf->auth_zone->shm.addr;
    sh = lmcf->auth_zone->data;
    pv = lmcf->providers.elts;

    ngx_shmtx_lock(&shpool->mutex);

    snap = sh->snap;

    for (i = 0; snap && i < snap->rates.n; i++) {
        e = (const lava_authsnap_pair_t *) snap->rates.entries + i;
        s = snap->strings + e->str;

        /* "r <provider> *" is a bound, not a model */
        if (e->olen == 1 && s[e->mlen] == '*') {
            continue;
        }

        known = 0;

        for (j = 0; j < lmcf->providers.nelts; j++) {
            if (pv[j].name.len == e->mlen
                && ngx_strncmp(pv[j].name.data, s, e->mlen) == 0)
            {
                known = 1;
                break;
            }
        }

        if (!known) {
            continue;
        }

        /* a spend key's allow-lists */
        provider.data = (u_char *) s;
        provider.len = e->mlen;
        model.data = (u_char *) s + e->mlen;
        model.len = e->olen;

        if (!ngx_http_lava_spendkey_allows(ctx, snap, &provider, &model)) {
            continue;
        }

        ngx_memcpy(id, s, e->mlen);
        id[e->mlen] = '/';
        ngx_memcpy(id + e->mlen + 1, s + e->mlen, e->olen);
        id[e->mlen + 1 + e->olen] = '\0';

        m = json_pack("{s:s, s:s, s:I, s:s#}", "id", id, "object", "model",
                      "created",
                      (json_int_t) lava_authsnap_created(snap, s, e->mlen,
                                                         s + e->mlen,
                                                         e->olen),
                      "owned_by", s, (int) e->mlen);

        if (m == NULL || json_array_append_new(data, m) != 0) {
            break;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return data;
}


ngx_int_t
ngx_http_lava_models_handler(ngx_http_request_t *r)
{
    char                 *text;
    size_t                len;
    json_t               *root, *data;
    ngx_int_t             rc;
    ngx_buf_t            *b;
    ngx_chain_t           out;
    ngx_http_lava_ctx_t  *ctx;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_lava_get_ctx(r);
    if (ctx == NULL) {
        ctx = ngx_http_lava_create_ctx(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) {
        return ngx_http_lava_models_refuse(r, ctx,
                                           LAVA_REFUSAL_METHOD_NOT_ALLOWED,
                                           NULL);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_lava_models_auth(r, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    data = ngx_http_lava_models_list(r, ctx);
    root = data ? json_pack("{s:s, s:o}", "object", "list", "data", data)
                : NULL;
    text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);

    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_strlen(text);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        free(text);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->pos, text, len);
    b->last_buf = (r == r->main);
    b->last_in_chain = 1;
    free(text);

    /* nothing to book: no provider, no cost */
    ctx->logged = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
