/*
 * Spend keys (docs/spend-keys.md): a "lava_spk_" credential, checked
 * against the auth snapshot ("s", "x", "a", "l", "b", "p" records,
 * docs/auth-sync.md) and limited on the request path with no database call.
 *
 * The lava_spend_key_zone shared memory holds, per key (one node, keyed by
 * the key id):
 *
 *   bucket     the rate limit: rpm + burst tokens refilled at rpm per 60 s
 *              (lib/lava_spendkey.c), shared by every worker of this nginx
 *              the way limit_req's zone is
 *   pending    one record per request this nginx let through that the
 *              snapshot's counts cannot hold yet: in flight, finished with
 *              its event queued, sent (the stream id Redis returned) or
 *              spooled. A sent record is dropped once a loaded snapshot's
 *              "b" watermark of our stream reaches its id (the booking is
 *              in the "l" counts from then on); any other expires (an
 *              unfinished one after an hour, a spooled one after
 *              lava_spend_key_hold, as is one whose worker died: another
 *              worker books it as worker_lost): never counted twice for
 *              long, never forgotten before it can be booked
 *
 * A request is admitted when, for the current cycle (UTC calendar periods,
 * lava_test_clock_offset added to "now"), the snapshot's count plus the
 * pending records stays under request_limit, and the booked spend plus the
 * pending records' cost bound stays under spend_limit. What a request may
 * cost is known when it finished: its usage at the snapshot's rate and fee
 * bounds (lib/lava_reserve.c), an upper bound of what the sidecar books.
 *
 * The zone's mutex is held for a lookup, a few records and a few additions.
 * Key bytes are hashed and dropped; only the key id is kept or logged.
 */

#include <openssl/evp.h>

#include "ngx_http_lava_auth.h"
#include "lava_reserve.h"
#include "lava_spendkey.h"


#define NGX_HTTP_LAVA_SPK_ZONE_DEFAULT  (1024 * 1024)
#define NGX_HTTP_LAVA_SPK_INFLIGHT_MS   (3600 * 1000)  /* counted at most */
#define NGX_HTTP_LAVA_SPK_IDLE_MS       60000          /* node kept idle */
#define NGX_HTTP_LAVA_SPK_EXPIRE        2              /* nodes looked at */


typedef enum {
    NGX_HTTP_LAVA_SPK_INFLIGHT = 0,   /* admitted, not logged yet */
    NGX_HTTP_LAVA_SPK_DONE,           /* logged, its event queued */
    NGX_HTTP_LAVA_SPK_SENT,           /* Redis returned the stream id */
    NGX_HTTP_LAVA_SPK_UNSENT          /* spooled or lost: expires */
} ngx_http_lava_spk_state_e;


typedef struct {
    ngx_rbtree_t                  rbtree;
    ngx_rbtree_node_t             sentinel;
    ngx_queue_t                   lru;       /* least recently used last */
    uint64_t                      gen;       /* of the last record */
    ngx_uint_t                    nomem_logged;
} ngx_http_lava_spk_sh_t;


/* one key; follows its ngx_rbtree_node_t (key: crc32 of the id) */
typedef struct {
    u_char                        color;
    u_char                        len;
    ngx_queue_t                   queue;     /* in lru */
    ngx_queue_t                   pending;   /* of ngx_http_lava_spk_rec_t */
    lava_spk_bucket_t             bucket;
    int64_t                       rpm;       /* of the last use */
    int64_t                       burst;
    int64_t                       used_ms;
    u_char                        data[1];   /* the key id */
} ngx_http_lava_spk_node_t;


/* one request not yet in the snapshot's counts */
typedef struct {
    ngx_queue_t                   queue;     /* in its node's pending */
    uint64_t                      gen;       /* 0: free */
    uint64_t                      ms;        /* stream id, SENT */
    uint64_t                      seq;
    int64_t                       cost;      /* nusd, bound */
    int64_t                       expire_ms;
    int64_t                       req_start; /* cycles it counts in */
    int64_t                       spend_start;
    ngx_uint_t                    state;
    ngx_pid_t                     pid;       /* the worker serving it */
} ngx_http_lava_spk_rec_t;


/* per request (r->pool) */
typedef struct {
    ngx_uint_t                    shape;     /* lava_spk_shape_e */
    ngx_uint_t                    flags;     /* LAVA_SPK_F_* */
    ngx_http_lava_spk_ref_t       ref;       /* its pending record */
} ngx_http_lava_spk_req_t;


static ngx_int_t ngx_http_lava_spk_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_lava_spk_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);


/* "now" of expiry and cycles: wall clock plus lava_test_clock_offset */
static int64_t
ngx_http_lava_spk_now_ms(ngx_http_lava_main_conf_t *lmcf)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return ((int64_t) tp->sec + (lmcf ? lmcf->clock_offset : 0)) * 1000
           + (int64_t) tp->msec;
}


/* configuration */

char *
ngx_http_lava_spend_key_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_lava_main_conf_t *lmcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (lmcf->spend_key_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[2]);
    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid lava_spend_key_zone size \"%V\"",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    lmcf->spend_key_zone = ngx_shared_memory_add(cf, &value[1], size,
                                                 &ngx_http_lava_module);
    if (lmcf->spend_key_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (lmcf->spend_key_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "lava_spend_key_zone \"%V\" is already used",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    lmcf->spend_key_zone->init = ngx_http_lava_spk_init_zone;
    lmcf->spend_key_zone->data = lmcf;

    return NGX_CONF_OK;
}


/* init_main_conf: lava_spend_key_hold's default, and a zone of 1m named
 * "lava_spend_key" whenever the auth snapshot is used: limits are never
 * off by omission */
char *
ngx_http_lava_spendkey_init_conf(ngx_conf_t *cf,
    ngx_http_lava_main_conf_t *lmcf)
{
    ngx_str_t  name = ngx_string("lava_spend_key");

    ngx_conf_init_msec_value(lmcf->spend_key_hold, 60000);

    if (lmcf->clock_offset == NGX_CONF_UNSET) {
        lmcf->clock_offset = 0;
    }

    if (lmcf->spend_key_zone || lmcf->auth_zone == NULL) {
        return NGX_CONF_OK;
    }

    lmcf->spend_key_zone = ngx_shared_memory_add(cf, &name,
                                                 NGX_HTTP_LAVA_SPK_ZONE_DEFAULT,
                                                 &ngx_http_lava_module);
    if (lmcf->spend_key_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (lmcf->spend_key_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"lava_spend_key\" is already used: name "
                           "another with lava_spend_key_zone");
        return NGX_CONF_ERROR;
    }

    lmcf->spend_key_zone->init = ngx_http_lava_spk_init_zone;
    lmcf->spend_key_zone->data = lmcf;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_lava_spk_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    size_t                   len;
    ngx_slab_pool_t         *shpool;
    ngx_http_lava_spk_sh_t  *sh;

    if (data) {
        /* reload with the same zone: buckets and pending records stay */
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_lava_spk_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&sh->rbtree, &sh->sentinel, ngx_http_lava_spk_insert);
    ngx_queue_init(&sh->lru);

    shpool->data = sh;
    shm_zone->data = sh;

    len = sizeof(" in lava_spend_key_zone \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in lava_spend_key_zone \"%V\"%Z",
                &shm_zone->shm.name);

    shpool->log_nomem = 0;

    return NGX_OK;
}


/* the zone, locked by the caller */

static ngx_http_lava_spk_node_t *
ngx_http_lava_spk_data(ngx_rbtree_node_t *node)
{
    return (ngx_http_lava_spk_node_t *) &node->color;
}


static void
ngx_http_lava_spk_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t         **p;
    ngx_http_lava_spk_node_t   *a, *b;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            a = ngx_http_lava_spk_data(node);
            b = ngx_http_lava_spk_data(temp);

            p = (ngx_memn2cmp(a->data, b->data, a->len, b->len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_rbtree_node_t *
ngx_http_lava_spk_lookup(ngx_http_lava_spk_sh_t *sh, ngx_str_t *id,
    uint32_t hash)
{
    ngx_int_t                  rc;
    ngx_rbtree_node_t         *node, *sentinel;
    ngx_http_lava_spk_node_t  *sn;

    node = sh->rbtree.root;
    sentinel = sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        sn = ngx_http_lava_spk_data(node);
        rc = ngx_memn2cmp(id->data, sn->data, id->len, sn->len);

        if (rc == 0) {
            return node;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_lava_spk_free_rec(ngx_slab_pool_t *shpool,
    ngx_http_lava_spk_rec_t *rec)
{
    ngx_queue_remove(&rec->queue);
    rec->gen = 0;
    ngx_slab_free_locked(shpool, rec);
}


/*
 * Drops the records the snapshot's counts hold (sent, at or below the
 * watermark of our stream) and the expired ones.
 */
static void
ngx_http_lava_spk_prune(ngx_slab_pool_t *shpool, ngx_http_lava_spk_node_t *sn,
    ngx_uint_t marked, uint64_t ms, uint64_t seq, int64_t now)
{
    ngx_queue_t              *q, *next;
    ngx_http_lava_spk_rec_t  *rec;

    for (q = ngx_queue_head(&sn->pending);
         q != ngx_queue_sentinel(&sn->pending);
         q = next)
    {
        next = ngx_queue_next(q);
        rec = ngx_queue_data(q, ngx_http_lava_spk_rec_t, queue);

        if ((rec->state == NGX_HTTP_LAVA_SPK_SENT && marked
             && (rec->ms < ms || (rec->ms == ms && rec->seq <= seq)))
            || now >= rec->expire_ms)
        {
            ngx_http_lava_spk_free_rec(shpool, rec);
        }
    }
}


/* a few idle nodes (nothing pending, bucket full again) from the LRU end */
static void
ngx_http_lava_spk_expire(ngx_slab_pool_t *shpool, ngx_http_lava_spk_sh_t *sh,
    int64_t now, ngx_uint_t n)
{
    ngx_queue_t               *q;
    ngx_rbtree_node_t         *node;
    ngx_http_lava_spk_node_t  *sn;

    while (n-- && !ngx_queue_empty(&sh->lru)) {
        q = ngx_queue_last(&sh->lru);
        sn = ngx_queue_data(q, ngx_http_lava_spk_node_t, queue);

        ngx_http_lava_spk_prune(shpool, sn, 0, 0, 0, now);

        if (!ngx_queue_empty(&sn->pending)
            || now - sn->used_ms < NGX_HTTP_LAVA_SPK_IDLE_MS
            || (sn->rpm > 0
                && lava_spk_bucket_level(&sn->bucket, sn->rpm, sn->burst, now)
                   < sn->rpm + sn->burst))
        {
            return;
        }

        node = (ngx_rbtree_node_t *)
                   ((u_char *) sn - offsetof(ngx_rbtree_node_t, color));

        ngx_queue_remove(q);
        ngx_rbtree_delete(&sh->rbtree, node);
        ngx_slab_free_locked(shpool, node);
    }
}


static ngx_http_lava_spk_node_t *
ngx_http_lava_spk_node(ngx_slab_pool_t *shpool, ngx_http_lava_spk_sh_t *sh,
    ngx_str_t *id, int64_t now)
{
    size_t                     size;
    uint32_t                   hash;
    ngx_rbtree_node_t         *node;
    ngx_http_lava_spk_node_t  *sn;

    hash = ngx_crc32_short(id->data, id->len);

    node = ngx_http_lava_spk_lookup(sh, id, hash);

    if (node) {
        sn = ngx_http_lava_spk_data(node);
        ngx_queue_remove(&sn->queue);
        ngx_queue_insert_head(&sh->lru, &sn->queue);
        return sn;
    }

    ngx_http_lava_spk_expire(shpool, sh, now, NGX_HTTP_LAVA_SPK_EXPIRE);

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_http_lava_spk_node_t, data) + id->len;

    node = ngx_slab_alloc_locked(shpool, size);
    if (node == NULL) {
        return NULL;
    }

    node->key = hash;
    sn = ngx_http_lava_spk_data(node);
    sn->len = (u_char) id->len;
    ngx_memcpy(sn->data, id->data, id->len);
    ngx_queue_init(&sn->pending);
    ngx_memzero(&sn->bucket, sizeof(lava_spk_bucket_t));
    sn->rpm = 0;
    sn->burst = 0;
    sn->used_ms = now;

    ngx_rbtree_insert(&sh->rbtree, node);
    ngx_queue_insert_head(&sh->lru, &sn->queue);

    return sn;
}


/* the record a ref names, NULL: gone (expired, or its zone replaced) */
static ngx_http_lava_spk_rec_t *
ngx_http_lava_spk_rec(ngx_http_lava_spk_ref_t ref)
{
    ngx_http_lava_spk_rec_t  *rec = ref.rec;

    return (rec && rec->gen == ref.gen) ? rec : NULL;
}


/* the request path */

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
    unsigned int                     mdlen;
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

    if (EVP_Digest(key->data, key->len, hash, &mdlen, EVP_sha256(), NULL)
        != 1
        || mdlen != LAVA_AUTHSNAP_HASH_LEN)
    {
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

    if ((sr->flags & LAVA_SPK_F_PROVIDERS)
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

    /* a customer's key: its wallet pays, so a blocked wallet refuses */
    if (blocked) {
        return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_INSUFFICIENT_BALANCE,
                                    NULL);
    }

    ctx->meter = meter;
    ctx->payer = customer.len ? NGX_HTTP_LAVA_PAYER_CUSTOMER
                              : NGX_HTTP_LAVA_PAYER_MERCHANT;
    ctx->spend_key = sr;

    return NGX_OK;
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


lava_refusal_e
ngx_http_lava_spendkey_check(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    int64_t                     now, now_s, req_start, spend_start;
    int64_t                     reqs, spend, l[LAVA_AUTHSNAP_LIMIT_VALS];
    uint64_t                    ms, seq;
    ngx_str_t                   model, *id;
    ngx_uint_t                  limited, marked, listed, unpriced, priced;
    ngx_queue_t                *q;
    lava_authsnap_t            *snap;
    lava_spk_take_t             tk;
    ngx_slab_pool_t            *shpool;
    lava_refusal_e              refusal;
    ngx_http_lava_spk_sh_t     *sh;
    ngx_http_lava_spk_rec_t    *rec;
    ngx_http_lava_spk_req_t    *sr;
    ngx_http_lava_spk_node_t   *sn;
    ngx_http_lava_auth_sh_t    *ash;
    ngx_http_lava_main_conf_t  *lmcf;

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
    marked = 0;
    listed = 1;
    unpriced = 0;
    priced = 1;
    ms = 0;
    seq = 0;

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
                                      (char *) model.data, model.len);
    }

    if (sr) {
        if (sr->flags & LAVA_SPK_F_MODELS) {
            listed = model.len
                     && lava_authsnap_listed(snap, &snap->models,
                                             (char *) id->data, id->len,
                                             (char *) model.data, model.len,
                                             1);
        }

        limited = lava_authsnap_limits(snap, (char *) id->data, id->len, l);
        marked = lava_authsnap_mark(snap, (char *) lmcf->stream.data,
                                    lmcf->stream.len, &ms, &seq);
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

    now = ngx_http_lava_spk_now_ms(lmcf);
    now_s = now / 1000;

    req_start = lava_spk_cycle_start(l[LAVA_AUTHSNAP_L_REQ_CYCLE], now_s);
    spend_start = lava_spk_cycle_start(l[LAVA_AUTHSNAP_L_SPEND_CYCLE], now_s);

    /* the snapshot's counts are of the cycle it names: a cycle that rolled
     * over since starts from nothing */
    reqs = (l[LAVA_AUTHSNAP_L_REQ_START] == req_start)
           ? l[LAVA_AUTHSNAP_L_REQ_USED] : 0;
    spend = (l[LAVA_AUTHSNAP_L_SPEND_START] == spend_start)
            ? l[LAVA_AUTHSNAP_L_SPEND_USED] : 0;

    shpool = (ngx_slab_pool_t *) lmcf->spend_key_zone->shm.addr;
    sh = lmcf->spend_key_zone->data;

    refusal = LAVA_REFUSAL_COUNT;

    ngx_shmtx_lock(&shpool->mutex);

    sn = ngx_http_lava_spk_node(shpool, sh, id, now);
    if (sn == NULL) {
        goto nomem;
    }

    ngx_http_lava_spk_prune(shpool, sn, marked, ms, seq, now);

    sn->rpm = l[LAVA_AUTHSNAP_L_RPM];
    sn->burst = l[LAVA_AUTHSNAP_L_BURST];
    sn->used_ms = now;

    if (!lava_spk_bucket_take(&sn->bucket, sn->rpm, sn->burst, now, 0, &tk)) {
        refusal = LAVA_REFUSAL_RATE_LIMIT_EXCEEDED;
        goto done;
    }

    for (q = ngx_queue_head(&sn->pending);
         q != ngx_queue_sentinel(&sn->pending);
         q = ngx_queue_next(q))
    {
        rec = ngx_queue_data(q, ngx_http_lava_spk_rec_t, queue);

        reqs += (rec->req_start == req_start);
        spend = lava_reserve_add(spend, (rec->spend_start == spend_start)
                                        ? rec->cost : 0);
    }

    if (l[LAVA_AUTHSNAP_L_REQ_CYCLE] != LAVA_SPK_CYCLE_NONE
        && reqs >= l[LAVA_AUTHSNAP_L_REQ_LIMIT])
    {
        refusal = LAVA_REFUSAL_REQUEST_LIMIT_EXCEEDED;
        goto done;
    }

    if (l[LAVA_AUTHSNAP_L_SPEND_CYCLE] != LAVA_SPK_CYCLE_NONE
        && spend >= l[LAVA_AUTHSNAP_L_SPEND_LIMIT])
    {
        refusal = LAVA_REFUSAL_SPEND_LIMIT_EXCEEDED;
        goto done;
    }

    rec = ngx_slab_alloc_locked(shpool, sizeof(ngx_http_lava_spk_rec_t));
    if (rec == NULL) {
        goto nomem;
    }

    (void) lava_spk_bucket_take(&sn->bucket, sn->rpm, sn->burst, now, 1,
                                NULL);

    ngx_memzero(rec, sizeof(ngx_http_lava_spk_rec_t));
    rec->gen = ++sh->gen;
    rec->expire_ms = now + NGX_HTTP_LAVA_SPK_INFLIGHT_MS;
    rec->req_start = req_start;
    rec->spend_start = spend_start;
    rec->state = NGX_HTTP_LAVA_SPK_INFLIGHT;
    rec->pid = ngx_pid;
    ngx_queue_insert_tail(&sn->pending, &rec->queue);

    sr->ref.rec = rec;
    sr->ref.gen = rec->gen;

    goto done;

nomem:

    /* served unlimited rather than refused for the gateway's own memory;
     * logged once until it works again */
    if (!sh->nomem_logged) {
        sh->nomem_logged = 1;
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "lava spend keys: lava_spend_key_zone is full, "
                      "requests are not limited until it has room");
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return LAVA_REFUSAL_COUNT;

done:

    sh->nomem_logged = 0;

    ngx_shmtx_unlock(&shpool->mutex);

    if (refusal == LAVA_REFUSAL_RATE_LIMIT_EXCEEDED) {
        ngx_http_lava_spk_headers(r, l[LAVA_AUTHSNAP_L_RPM], &tk);
    }

    return refusal;
}


static void
ngx_http_lava_spk_drop(ngx_http_lava_main_conf_t *lmcf,
    ngx_http_lava_spk_ref_t ref)
{
    ngx_slab_pool_t          *shpool;
    ngx_http_lava_spk_rec_t  *rec;

    shpool = (ngx_slab_pool_t *) lmcf->spend_key_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    rec = ngx_http_lava_spk_rec(ref);
    if (rec) {
        ngx_http_lava_spk_free_rec(shpool, rec);
    }

    ngx_shmtx_unlock(&shpool->mutex);
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
    ngx_slab_pool_t            *shpool;
    ngx_http_lava_spk_rec_t    *rec;
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

    shpool = (ngx_slab_pool_t *) lmcf->spend_key_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    rec = ngx_http_lava_spk_rec(sr->ref);
    if (rec) {
        rec->cost = cost;
        rec->state = NGX_HTTP_LAVA_SPK_DONE;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    /* the event queue says where the event went */
    ngx_http_lava_events_spend_key(sr->ref);
    sr->ref.rec = NULL;
}


/*
 * The event queue: the request's event was acknowledged with its stream id
 * (dropped once a snapshot's watermark reaches it), or spooled or lost (id
 * NULL: counted until lava_spend_key_hold from now).
 */
void
ngx_http_lava_spendkey_sent(ngx_http_lava_spk_ref_t ref, const char *id,
    size_t len)
{
    uint64_t                    ms, seq;
    const char                 *dash;
    ngx_slab_pool_t            *shpool;
    ngx_http_lava_spk_rec_t    *rec;
    ngx_http_lava_main_conf_t  *lmcf;

    if (ref.rec == NULL) {
        return;
    }

    lmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_lava_module);
    if (lmcf == NULL || lmcf->spend_key_zone == NULL
        || lmcf->spend_key_zone->shm.addr == NULL)
    {
        return;
    }

    ms = 0;
    seq = 0;
    dash = id ? memchr(id, '-', len) : NULL;

    if (dash == NULL
        || lava_authsnap_u64(id, dash - id, &ms) != LAVA_AUTHSNAP_OK
        || lava_authsnap_u64(dash + 1, id + len - dash - 1, &seq)
           != LAVA_AUTHSNAP_OK)
    {
        id = NULL;
    }

    shpool = (ngx_slab_pool_t *) lmcf->spend_key_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    rec = ngx_http_lava_spk_rec(ref);

    if (rec) {
        if (id) {
            rec->state = NGX_HTTP_LAVA_SPK_SENT;
            rec->ms = ms;
            rec->seq = seq;

        } else {
            rec->state = NGX_HTTP_LAVA_SPK_UNSENT;
            rec->expire_ms = ngx_http_lava_spk_now_ms(lmcf)
                             + (int64_t) lmcf->spend_key_hold;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


/*
 * A worker died (the in-flight scan found it): its requests never reach
 * their log phase, another worker books them as worker_lost under new
 * stream ids. They count until lava_spend_key_hold from now, like spooled
 * ones.
 */
void
ngx_http_lava_spendkey_owner_lost(ngx_pid_t pid)
{
    int64_t                     until;
    ngx_queue_t                *q, *p;
    ngx_slab_pool_t            *shpool;
    ngx_http_lava_spk_sh_t     *sh;
    ngx_http_lava_spk_rec_t    *rec;
    ngx_http_lava_spk_node_t   *sn;
    ngx_http_lava_main_conf_t  *lmcf;

    lmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_lava_module);
    if (lmcf == NULL || lmcf->spend_key_zone == NULL
        || lmcf->spend_key_zone->shm.addr == NULL)
    {
        return;
    }

    shpool = (ngx_slab_pool_t *) lmcf->spend_key_zone->shm.addr;
    sh = lmcf->spend_key_zone->data;
    until = ngx_http_lava_spk_now_ms(lmcf) + (int64_t) lmcf->spend_key_hold;

    ngx_shmtx_lock(&shpool->mutex);

    for (q = ngx_queue_head(&sh->lru);
         q != ngx_queue_sentinel(&sh->lru);
         q = ngx_queue_next(q))
    {
        sn = ngx_queue_data(q, ngx_http_lava_spk_node_t, queue);

        for (p = ngx_queue_head(&sn->pending);
             p != ngx_queue_sentinel(&sn->pending);
             p = ngx_queue_next(p))
        {
            rec = ngx_queue_data(p, ngx_http_lava_spk_rec_t, queue);

            if (rec->pid == pid
                && (rec->state == NGX_HTTP_LAVA_SPK_INFLIGHT
                    || rec->state == NGX_HTTP_LAVA_SPK_DONE))
            {
                rec->state = NGX_HTTP_LAVA_SPK_UNSENT;
                rec->expire_ms = until;
            }
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);
}
