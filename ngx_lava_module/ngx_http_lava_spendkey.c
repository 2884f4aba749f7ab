/*
 * Spend keys (docs/spend-keys.md), the request path: a "lava_spk_"
 * credential, checked against the auth snapshot ("s", "x", "a", "l", "b",
 * "p" records, docs/auth-sync.md) and limited with no database call.
 *
 * A request is admitted when, for the current cycle (UTC calendar periods,
 * lava_test_clock_offset added to "now"), the snapshot's count plus this
 * nginx's not-yet-booked requests stays under request_limit, and the booked
 * spend plus their cost bounds stays under spend_limit
 * (ngx_http_lava_spendkey_zone.c). What a request may cost is known when it
 * finished: its usage at the snapshot's rate and fee bounds
 * (lib/lava_reserve.c), an upper bound of what the sidecar books.
 *
 * Key bytes are hashed and dropped; only the key id is kept or logged.
 */

#include <openssl/evp.h>

#include "ngx_http_lava_spendkey.h"
#include "lava_reserve.h"


/* per request (r->pool) */
typedef struct {
    ngx_uint_t                    shape;     /* lava_spk_shape_e */
    ngx_uint_t                    flags;     /* LAVA_SPK_F_* */
    ngx_http_lava_spk_ref_t       ref;       /* its pending record */
} ngx_http_lava_spk_req_t;


/*
 * The SHA-256 of the keys this worker saw last, by the key's bytes (a
 * direct-mapped cache, like the forward tokens'): the digest is taken once
 * per key, not per request. Only the lookup in the snapshot says whether a
 * key is valid, so a change still takes effect with the next snapshot.
 */
#define NGX_HTTP_LAVA_SPK_CACHE  64

typedef struct {
    u_char      key[LAVA_SPK_KEY_LEN];
    u_char      hash[LAVA_AUTHSNAP_HASH_LEN];
    ngx_uint_t  used;
} ngx_http_lava_spk_cached_t;

static ngx_http_lava_spk_cached_t  ngx_http_lava_spk_cache[NGX_HTTP_LAVA_SPK_CACHE];


/* key: a valid key (lava_spk_key_valid), LAVA_SPK_KEY_LEN bytes */
static ngx_int_t
ngx_http_lava_spk_hash(ngx_str_t *key, u_char *hash)
{
    unsigned int                 mdlen;
    ngx_http_lava_spk_cached_t  *c;

    /* the hex digits are random: two of them pick the slot */
    c = &ngx_http_lava_spk_cache[ngx_hextoi(key->data + LAVA_SPK_PREFIX_LEN, 2)
                                 % NGX_HTTP_LAVA_SPK_CACHE];

    if (c->used && ngx_memcmp(c->key, key->data, LAVA_SPK_KEY_LEN) == 0) {
        ngx_memcpy(hash, c->hash, LAVA_AUTHSNAP_HASH_LEN);
        return NGX_OK;
    }

    if (EVP_Digest(key->data, key->len, hash, &mdlen, EVP_sha256(), NULL)
        != 1
        || mdlen != LAVA_AUTHSNAP_HASH_LEN)
    {
        return NGX_ERROR;
    }

    ngx_memcpy(c->key, key->data, LAVA_SPK_KEY_LEN);
    ngx_memcpy(c->hash, hash, LAVA_AUTHSNAP_HASH_LEN);
    c->used = 1;

    return NGX_OK;
}


ngx_int_t
ngx_http_lava_spendkey_shape(ngx_http_lava_ctx_t *ctx)
{
    ngx_http_lava_spk_req_t  *sr = ctx->spend_key;

    return sr ? (ngx_int_t) sr->shape : -1;
}


/* the model a request is billed by: Gemini's path, else the body */
static void
ngx_http_lava_spk_model(ngx_http_lava_ctx_t *ctx, ngx_str_t *model)
{
    if (ctx->route.model_len) {
        model->data = (u_char *) ctx->route.model;
        model->len = ctx->route.model_len;

    } else {
        *model = ctx->model;
    }
}


typedef enum {
    NGX_HTTP_LAVA_SPK_OK = 0,
    NGX_HTTP_LAVA_SPK_NOT_LOADED,
    NGX_HTTP_LAVA_SPK_UNKNOWN,
    NGX_HTTP_LAVA_SPK_UNKNOWN_CUSTOMER,
    NGX_HTTP_LAVA_SPK_CUSTOMER_DISABLED,
    NGX_HTTP_LAVA_SPK_UNKNOWN_METER
} ngx_http_lava_spk_rc_e;


ngx_int_t
ngx_http_lava_spendkey_auth(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    ngx_str_t *key)
{
    u_char                          *buf, *s;
    int64_t                          expires;
    uint32_t                         chash;
    ngx_uint_t                       status, blocked, provider_ok;
    ngx_str_t                        id, merchant, customer, meter;
    lava_authsnap_t                 *snap;
    ngx_slab_pool_t                 *shpool;
    ngx_http_lava_spk_rc_e           rc;
    ngx_http_lava_auth_sh_t         *ash;
    ngx_http_lava_spk_req_t         *sr;
    ngx_http_lava_main_conf_t       *lmcf;
    const lava_authsnap_pair_t      *pair;
    const lava_authsnap_spendkey_t  *k;
    u_char                           hash[LAVA_AUTHSNAP_HASH_LEN];

    if (!lava_spk_key_valid((char *) key->data, key->len)) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_INVALID_KEY, NULL);
    }

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);

    if (lmcf->auth_zone == NULL || lmcf->auth_zone->shm.addr == NULL) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_AUTH_UNAVAILABLE,
                                    NULL);
    }

    if (ngx_http_lava_spk_hash(key, hash) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "lava spend key: sha-256 of the key failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* allocated before taking the lock: id, merchant, customer, meter */
    buf = ngx_pnalloc(r->pool, 4 * LAVA_AUTHSNAP_ID_MAX);
    sr = ngx_pcalloc(r->pool, sizeof(ngx_http_lava_spk_req_t));
    if (buf == NULL || sr == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_null(&id);
    ngx_str_null(&merchant);
    ngx_str_null(&customer);
    ngx_str_null(&meter);
    status = LAVA_AUTHSNAP_SPK_ACTIVE;
    expires = 0;
    blocked = 0;
    provider_ok = 1;

    shpool = (ngx_slab_pool_t *) lmcf->auth_zone->shm.addr;
    ash = lmcf->auth_zone->data;

    ngx_shmtx_lock(&shpool->mutex);

    snap = ash->snap;

    if (snap == NULL) {
        rc = NGX_HTTP_LAVA_SPK_NOT_LOADED;
        goto done;
    }

    k = lava_authsnap_find_spendkey(snap, hash);

    if (k == NULL) {
        rc = NGX_HTTP_LAVA_SPK_UNKNOWN;
        goto done;
    }

    rc = NGX_HTTP_LAVA_SPK_OK;

    s = (u_char *) snap->strings + k->str;

    id.data = buf;
    id.len = k->id_len;
    ngx_memcpy(id.data, s, id.len);
    s += k->id_len;

    merchant.data = buf + LAVA_AUTHSNAP_ID_MAX;
    merchant.len = k->mlen;
    ngx_memcpy(merchant.data, s, merchant.len);
    s += k->mlen;

    customer.data = buf + 2 * LAVA_AUTHSNAP_ID_MAX;
    customer.len = k->clen;
    ngx_memcpy(customer.data, s, customer.len);
    s += k->clen;

    meter.data = buf + 3 * LAVA_AUTHSNAP_ID_MAX;
    meter.len = k->tlen;
    ngx_memcpy(meter.data, s, meter.len);

    status = k->status;
    expires = k->expires;
    sr->shape = k->shape;
    sr->flags = k->flags;

    if (status == LAVA_AUTHSNAP_SPK_REVOKED) {
        goto done;
    }

    if (customer.len) {
        chash = lava_authsnap_pair_hash((char *) customer.data, customer.len);
        pair = lava_authsnap_find_pair(snap, &snap->customers, chash,
                                       (char *) merchant.data, merchant.len,
                                       (char *) customer.data, customer.len);
        if (pair == NULL) {
            rc = NGX_HTTP_LAVA_SPK_UNKNOWN_CUSTOMER;
            goto done;
        }

        if (pair->status == LAVA_AUTHSNAP_DISABLED) {
            rc = NGX_HTTP_LAVA_SPK_CUSTOMER_DISABLED;
            goto done;
        }

        blocked = (pair->status == LAVA_AUTHSNAP_BLOCKED);
    }

    if (meter.len
        && lava_authsnap_find_pair(snap, &snap->meters,
                                   lava_authsnap_pair_hash((char *) meter.data,
                                                           meter.len),
                                   (char *) merchant.data, merchant.len,
                                   (char *) meter.data, meter.len)
           == NULL)
    {
        rc = NGX_HTTP_LAVA_SPK_UNKNOWN_METER;
        goto done;
    }

    /* no provider: GET /v1/models, which filters its list instead */
    if ((sr->flags & LAVA_SPK_F_PROVIDERS) && ctx->provider != NULL
        && !lava_authsnap_listed(snap, &snap->providers, (char *) id.data,
                                 id.len, (char *) ctx->provider->name.data,
                                 ctx->provider->name.len, 0))
    {
        provider_ok = 0;
    }

done:

    ngx_shmtx_unlock(&shpool->mutex);

    /* the event of a refusal names the key and its merchant too */
    ctx->spend_key_id = id;
    ctx->merchant_id = merchant;

    switch (rc) {

    case NGX_HTTP_LAVA_SPK_OK:
        break;

    case NGX_HTTP_LAVA_SPK_NOT_LOADED:
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_AUTH_UNAVAILABLE,
                                    NULL);

    case NGX_HTTP_LAVA_SPK_UNKNOWN_CUSTOMER:
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_UNKNOWN_CUSTOMER,
                                    NULL);

    case NGX_HTTP_LAVA_SPK_CUSTOMER_DISABLED:
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_CUSTOMER_DISABLED,
                                    NULL);

    case NGX_HTTP_LAVA_SPK_UNKNOWN_METER:
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_UNKNOWN_METER,
                                    NULL);

    default: /* NGX_HTTP_LAVA_SPK_UNKNOWN */
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_INVALID_KEY, NULL);
    }

    /* 401 first: revoked, expired, paused */
    if (status == LAVA_AUTHSNAP_SPK_REVOKED) {
        ctx->merchant_id.len = 0;
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_KEY_REVOKED, NULL);
    }

    if (expires && ngx_http_lava_spk_now_ms(lmcf) / 1000 >= expires) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_KEY_EXPIRED, NULL);
    }

    if (status == LAVA_AUTHSNAP_SPK_PAUSED) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_KEY_PAUSED, NULL);
    }

    ctx->customer_id = customer;

    if (!provider_ok) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_PROVIDER_NOT_ALLOWED,
                                    NULL);
    }

    /* a customer's key: its wallet pays, so a blocked wallet refuses; a
     * model list reaches no provider and costs nothing */
    if (blocked && ctx->provider != NULL) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_INSUFFICIENT_BALANCE,
                                    NULL);
    }

    ctx->meter = meter;
    ctx->payer = customer.len ? NGX_HTTP_LAVA_PAYER_CUSTOMER
                              : NGX_HTTP_LAVA_PAYER_MERCHANT;
    ctx->spend_key = sr;

    return NGX_OK;
}


ngx_uint_t
ngx_http_lava_spendkey_allows(ngx_http_lava_ctx_t *ctx,
    const lava_authsnap_t *snap, ngx_str_t *provider, ngx_str_t *model)
{
    ngx_str_t                *id;
    ngx_http_lava_spk_req_t  *sr = ctx->spend_key;

    if (sr == NULL) {
        return 1;
    }

    id = &ctx->spend_key_id;

    if ((sr->flags & LAVA_SPK_F_PROVIDERS)
        && !lava_authsnap_listed(snap, &snap->providers, (char *) id->data,
                                 id->len, (char *) provider->data,
                                 provider->len, 0))
    {
        return 0;
    }

    /* as on a request: the model as named, or its undated list entry */
    if ((sr->flags & LAVA_SPK_F_MODELS)
        && !lava_authsnap_listed(snap, &snap->models, (char *) id->data,
                                 id->len, (char *) model->data, model->len,
                                 1))
    {
        return 0;
    }

    return 1;
}


/* "Retry-After" and the rate limit headers OpenAI clients read */
static void
ngx_http_lava_spk_headers(ngx_http_request_t *r, int64_t rpm,
    lava_spk_take_t *tk)
{
    u_char            *p;
    ngx_uint_t         i;
    ngx_table_elt_t   *h;

    static ngx_str_t   names[] = {
        ngx_string("Retry-After"),
        ngx_string("x-ratelimit-limit-requests"),
        ngx_string("x-ratelimit-remaining-requests"),
        ngx_string("x-ratelimit-reset-requests")
    };

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        h = ngx_list_push(&r->headers_out.headers);
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 2);

        if (h == NULL || p == NULL) {
            return;
        }

        h->hash = 1;
        h->key = names[i];
        h->value.data = p;

        switch (i) {

        case 0:     /* whole seconds, rounded up */
            p = ngx_sprintf(p, "%L", (tk->retry_after_ms + 999) / 1000);
            break;

        case 1:
            p = ngx_sprintf(p, "%L", rpm);
            break;

        case 2:
            p = ngx_sprintf(p, "%L", tk->remaining);
            break;

        default:    /* a duration as OpenAI writes it: "6s", "90ms" */
            p = (tk->reset_ms < 1000 || tk->reset_ms % 1000)
                ? ngx_sprintf(p, "%Lms", tk->reset_ms)
                : ngx_sprintf(p, "%Ls", tk->reset_ms / 1000);
            break;
        }

        h->value.len = p - h->value.data;
    }
}


/*
 * A model of a provider billed on the merchant's meter alone has no rate of
 * its own and needs none: the sidecar prices it at base cost 0 plus the
 * meter's fee (sidecar/price.c), so refuse_unpriced lets it through. Not
 * with a percentage meter a customer pays by: a percentage of no base cost
 * is booked unpriced. Under the auth zone's lock.
 */
static ngx_uint_t
ngx_http_lava_spk_meter_priced(ngx_http_lava_ctx_t *ctx,
    const lava_authsnap_t *snap)
{
    int64_t  fee[LAVA_AUTHSNAP_FEE_VALS];

    if (!lava_authsnap_meter_only(snap, (char *) ctx->provider->name.data,
                                  ctx->provider->name.len))
    {
        return 0;
    }

    if (ctx->payer != NGX_HTTP_LAVA_PAYER_CUSTOMER || ctx->meter.len == 0) {
        /* the merchant pays no fee to itself: base cost 0, priced */
        return 1;
    }

    /* "f": fee_ppm is a percentage meter's (an unknown meter was refused
     * when the credential was checked) */
    return !lava_authsnap_fee(snap, (char *) ctx->merchant_id.data,
                              ctx->merchant_id.len, (char *) ctx->meter.data,
                              ctx->meter.len, fee)
           || fee[0] == 0;
}


lava_refusal_e
ngx_http_lava_spendkey_check(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_str_t                    model, *id;
    ngx_uint_t                   limited, listed, unpriced, priced;
    lava_authsnap_t             *snap;
    lava_spk_take_t              tk;
    ngx_slab_pool_t             *shpool;
    lava_refusal_e               refusal;
    ngx_http_lava_spk_req_t     *sr;
    ngx_http_lava_auth_sh_t     *ash;
    ngx_http_lava_spk_limits_t   lim;
    ngx_http_lava_main_conf_t   *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);
    sr = ctx->spend_key;

    if (lmcf->auth_zone == NULL || lmcf->auth_zone->shm.addr == NULL
        || ctx->provider == NULL)
    {
        return LAVA_REFUSAL_COUNT;
    }

    ngx_http_lava_spk_model(ctx, &model);
    id = &ctx->spend_key_id;

    limited = 0;
    listed = 1;
    unpriced = 0;
    priced = 1;
    ngx_memzero(&lim, sizeof(ngx_http_lava_spk_limits_t));

    shpool = (ngx_slab_pool_t *) lmcf->auth_zone->shm.addr;
    ash = lmcf->auth_zone->data;

    ngx_shmtx_lock(&shpool->mutex);

    snap = ash->snap;

    if (snap == NULL) {
        ngx_shmtx_unlock(&shpool->mutex);
        return LAVA_REFUSAL_COUNT;
    }

    /* the merchant's setting applies to every credential */
    unpriced = (snap->unpriced.n && ctx->merchant_id.len
                && lava_authsnap_unpriced(snap, (char *) ctx->merchant_id.data,
                                          ctx->merchant_id.len))
               || (sr && (sr->flags & LAVA_SPK_F_REFUSE_UNPRICED));

    /* a request naming no model is the endpoint policy's (model_required,
     * or the provider's default price) */
    if (unpriced && model.len) {
        priced = lava_authsnap_priced(snap, (char *) ctx->provider->name.data,
                                      ctx->provider->name.len,
                                      (char *) model.data, model.len)
                 || ngx_http_lava_spk_meter_priced(ctx, snap);
    }

    if (sr) {
        if (sr->flags & LAVA_SPK_F_MODELS) {
            listed = model.len
                     && lava_authsnap_listed(snap, &snap->models,
                                             (char *) id->data, id->len,
                                             (char *) model.data, model.len,
                                             1);
        }

        limited = lava_authsnap_limits(snap, (char *) id->data, id->len,
                                       lim.l);
        lim.marked = lava_authsnap_mark(snap, (char *) lmcf->stream.data,
                                        lmcf->stream.len, &lim.ms, &lim.seq);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (!listed) {
        return LAVA_REFUSAL_MODEL_NOT_ALLOWED;
    }

    if (!priced) {
        return LAVA_REFUSAL_MODEL_NOT_PRICED;
    }

    if (sr == NULL || !limited || lmcf->spend_key_zone == NULL
        || lmcf->spend_key_zone->shm.addr == NULL)
    {
        return LAVA_REFUSAL_COUNT;
    }

    refusal = ngx_http_lava_spk_admit(r, lmcf, id, &lim, &tk, &sr->ref);

    if (refusal == LAVA_REFUSAL_RATE_LIMIT_EXCEEDED) {
        ngx_http_lava_spk_headers(r, lim.l[LAVA_AUTHSNAP_L_RPM], &tk);
    }

    return refusal;
}


/*
 * A fallback of the request (ngx_http_lava_fallback.c), checked when the
 * request comes: the allow-lists and refuse_unpriced (the merchant's or the
 * key's) as ngx_http_lava_spendkey_check() applies them to the first
 * provider; the limits are not taken again. Under the auth zone's lock.
 */
lava_refusal_e
ngx_http_lava_spendkey_fallback(ngx_http_lava_ctx_t *ctx,
    const lava_authsnap_t *snap, ngx_http_lava_provider_t *provider,
    ngx_str_t *model)
{
    ngx_uint_t                 unpriced, priced;
    ngx_http_lava_spk_req_t   *sr = ctx->spend_key;
    ngx_http_lava_provider_t  *first;

    if (!ngx_http_lava_spendkey_allows(ctx, snap, &provider->name, model)) {
        return LAVA_REFUSAL_MODEL_NOT_ALLOWED;
    }

    unpriced = (snap->unpriced.n && ctx->merchant_id.len
                && lava_authsnap_unpriced(snap, (char *) ctx->merchant_id.data,
                                          ctx->merchant_id.len))
               || (sr && (sr->flags & LAVA_SPK_F_REFUSE_UNPRICED));

    if (!unpriced) {
        return LAVA_REFUSAL_COUNT;
    }

    first = ctx->provider;
    ctx->provider = provider;

    priced = lava_authsnap_priced(snap, (char *) provider->name.data,
                                  provider->name.len, (char *) model->data,
                                  model->len)
             || ngx_http_lava_spk_meter_priced(ctx, snap);

    ctx->provider = first;

    return priced ? LAVA_REFUSAL_COUNT : LAVA_REFUSAL_MODEL_NOT_PRICED;
}


void
ngx_http_lava_spendkey_cancel(ngx_http_lava_ctx_t *ctx)
{
    ngx_http_lava_spk_req_t    *sr = ctx->spend_key;
    ngx_http_lava_main_conf_t  *lmcf;

    if (sr == NULL || sr->ref.rec == NULL) {
        return;
    }

    lmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_lava_module);
    if (lmcf && lmcf->spend_key_zone && lmcf->spend_key_zone->shm.addr) {
        ngx_http_lava_spk_drop(lmcf, sr->ref);
    }

    sr->ref.rec = NULL;
}


/* the bound of what a finished request books (as the wallet holds it) */
static int64_t
ngx_http_lava_spk_cost(ngx_http_lava_main_conf_t *lmcf,
    ngx_http_lava_ctx_t *ctx, const lava_usage_buckets_t *usage)
{
    int                       dflt, other;
    size_t                    ulen;
    int64_t                   in, out, fee[LAVA_AUTHSNAP_FEE_VALS];
    ngx_str_t                 model;
    lava_authsnap_t          *snap;
    ngx_slab_pool_t          *shpool;
    lava_reserve_rates_t      rt;
    ngx_http_lava_auth_sh_t  *ash;

    if (usage == NULL || ctx->provider == NULL) {
        return 0;
    }

    ngx_http_lava_spk_model(ctx, &model);
    ulen = lava_reserve_undated((char *) model.data, model.len);

    ngx_memzero(&rt, sizeof(lava_reserve_rates_t));

    shpool = (ngx_slab_pool_t *) lmcf->auth_zone->shm.addr;
    ash = lmcf->auth_zone->data;

    ngx_shmtx_lock(&shpool->mutex);

    snap = ash->snap;

    if (snap
        && lava_authsnap_rate(snap, (char *) ctx->provider->name.data,
                              ctx->provider->name.len, (char *) model.data,
                              model.len, &rt.in, &rt.out, &dflt))
    {
        if (dflt && ulen != model.len) {
            (void) lava_authsnap_rate(snap, (char *) ctx->provider->name.data,
                                      ctx->provider->name.len,
                                      (char *) model.data, ulen, &rt.in,
                                      &rt.out, &dflt);
        }

        /* the customer pays the meter's fee too */
        if (ctx->meter.len && ctx->payer == NGX_HTTP_LAVA_PAYER_CUSTOMER
            && lava_authsnap_fee(snap, (char *) ctx->merchant_id.data,
                                 ctx->merchant_id.len,
                                 (char *) ctx->meter.data, ctx->meter.len,
                                 fee))
        {
            rt.fee_ppm = fee[0];
            rt.fee_per_1m = fee[1];
            rt.fee_per_request = fee[2];
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    lava_reserve_usage_tokens(usage, &in, &out, &other);

    return lava_reserve_amount(&rt, in, out);
}


void
ngx_http_lava_spendkey_done(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    const lava_usage_buckets_t *usage)
{
    int64_t                     cost;
    ngx_http_lava_spk_req_t    *sr = ctx->spend_key;
    ngx_http_lava_main_conf_t  *lmcf;

    if (sr == NULL || sr->ref.rec == NULL) {
        return;
    }

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);

    if (lmcf->spend_key_zone == NULL
        || lmcf->spend_key_zone->shm.addr == NULL)
    {
        return;
    }

    /* a refused request is booked as such: it counts for nothing */
    if (ctx->refused) {
        ngx_http_lava_spendkey_cancel(ctx);
        return;
    }

    cost = ngx_http_lava_spk_cost(lmcf, ctx, usage);

    ngx_http_lava_spk_finish(lmcf, sr->ref, cost);

    /* the event queue says where the event went */
    ngx_http_lava_events_spend_key(sr->ref);
    sr->ref.rec = NULL;
}


