/*
 * Wallet reservations (docs/security.md, class 8): a request a customer's
 * wallet pays reserves the most it can cost before it is forwarded, against
 * the wallet's published headroom (balance - minimum, the auth snapshot's
 * "w" record); one that does not fit is refused 402 insufficient_balance at
 * once. The sums live in the lava_wallet_zone shared memory, one node per
 * (merchant, customer):
 *
 *   reserved   nusd of the requests in flight (each a reservation record,
 *              owned by the worker's pid so a dead worker's can be released:
 *              ngx_http_lava_wallet_owner_lost)
 *   held       nusd released by requests that finished, still counted until
 *              the snapshot can include their booking: each release counts
 *              for lava_wallet_hold to twice that (two rolling windows)
 *
 *   admitted when   reservation <= headroom - reserved - held
 *
 * What a released request holds is the bound of the usage its event books
 * (the same rates), not its reservation: a request that asked for 100k
 * output tokens and used 50 holds the price of 50. The arithmetic is
 * lib/lava_reserve.c; the bounds are rendered by the sidecar from its rate
 * table (sidecar/authrates.c). The zone's mutex is held for a lookup and a
 * few additions only.
 */

#include "ngx_http_lava_auth.h"
#include "lava_reserve.h"


#define NGX_HTTP_LAVA_WALLET_ZONE_DEFAULT  (1024 * 1024)
#define NGX_HTTP_LAVA_WALLET_EXPIRE        2     /* nodes looked at a call */
#define NGX_HTTP_LAVA_WALLET_EXPIRE_FULL   256   /* the same, zone full */


typedef struct {
    ngx_rbtree_t                  rbtree;
    ngx_rbtree_node_t             sentinel;
    ngx_queue_t                   lru;       /* nodes, least recently used
                                                last */
    ngx_queue_t                   resv;      /* every reservation */
} ngx_http_lava_wallet_sh_t;


/* one (merchant, customer); follows its ngx_rbtree_node_t (key: hash) */
typedef struct {
    u_char                        color;     /* the rbtree node's own */
    u_char                        mlen;
    u_char                        clen;
    ngx_queue_t                   queue;     /* in lru */
    int64_t                       reserved;  /* nusd in flight */
    int64_t                       held[2];   /* nusd released in the current
                                                window, in the one before */
    ngx_msec_t                    window;    /* ngx_current_msec / hold */
    ngx_uint_t                    nresv;     /* reservation records */
    u_char                        data[1];   /* merchant id, customer id */
} ngx_http_lava_wallet_node_t;


/* one request in flight */
typedef struct {
    ngx_queue_t                   queue;     /* in sh->resv */
    ngx_pid_t                     pid;       /* the worker serving it */
    int64_t                       amount;    /* nusd reserved */
    ngx_rbtree_node_t            *node;
} ngx_http_lava_wallet_resv_t;


/* per request (r->pool) */
typedef struct {
    ngx_shm_zone_t               *zone;
    ngx_http_lava_wallet_resv_t  *resv;      /* NULL: released */
    lava_reserve_rates_t          rates;
    int64_t                       amount;
} ngx_http_lava_wallet_req_t;


static ngx_int_t ngx_http_lava_wallet_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_lava_wallet_cleanup(void *data);
static void ngx_http_lava_wallet_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);


/* configuration */

char *
ngx_http_lava_wallet_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_lava_main_conf_t *lmcf = conf;

    return ngx_http_lava_zone_conf(cf, cmd, &lmcf->wallet_zone,
                                   ngx_http_lava_wallet_init_zone, lmcf);
}


/* init_main_conf: lava_wallet_hold's default, and a zone of 1m named
 * "lava_wallet" whenever the auth snapshot is used but no zone was named:
 * reservations are never off by omission */
char *
ngx_http_lava_wallet_init_conf(ngx_conf_t *cf, ngx_http_lava_main_conf_t *lmcf)
{
    ngx_str_t  name = ngx_string("lava_wallet");

    ngx_conf_init_msec_value(lmcf->wallet_hold, 5000);

    if (lmcf->auth_zone == NULL) {
        return NGX_CONF_OK;
    }

    return ngx_http_lava_zone_default(cf, &lmcf->wallet_zone, &name,
                                      NGX_HTTP_LAVA_WALLET_ZONE_DEFAULT,
                                      "lava_wallet_zone",
                                      ngx_http_lava_wallet_init_zone, lmcf);
}


static ngx_int_t
ngx_http_lava_wallet_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_int_t                   rc;
    ngx_http_lava_wallet_sh_t  *sh;

    /* on a reload with the same zone the old workers' reservations stay
     * and are released into it as their requests end */
    rc = ngx_http_lava_zone_sh(shm_zone, data,
                               sizeof(ngx_http_lava_wallet_sh_t),
                               "lava_wallet_zone", (void **) &sh);
    if (rc != NGX_OK) {
        return rc == NGX_DONE ? NGX_OK : NGX_ERROR;
    }

    ngx_rbtree_init(&sh->rbtree, &sh->sentinel, ngx_http_lava_wallet_insert);
    ngx_queue_init(&sh->lru);
    ngx_queue_init(&sh->resv);

    return NGX_OK;
}


/* the zone, locked by the caller */

static ngx_http_lava_wallet_node_t *
ngx_http_lava_wallet_data(ngx_rbtree_node_t *node)
{
    return (ngx_http_lava_wallet_node_t *) &node->color;
}


/* moves the held windows on to now; 1 when the node is idle (nothing
 * reserved or held) */
static ngx_uint_t
ngx_http_lava_wallet_roll(ngx_http_lava_wallet_node_t *wn, ngx_msec_t hold)
{
    ngx_msec_t  w;

    w = hold ? ngx_current_msec / hold : 0;

    if (hold == 0) {
        wn->held[0] = 0;
        wn->held[1] = 0;

    } else if (w == wn->window + 1) {
        wn->held[1] = wn->held[0];
        wn->held[0] = 0;

    } else if (w != wn->window) {
        wn->held[0] = 0;
        wn->held[1] = 0;
    }

    wn->window = w;

    return wn->reserved == 0 && wn->nresv == 0
           && wn->held[0] == 0 && wn->held[1] == 0;
}


static void
ngx_http_lava_wallet_free_node(ngx_slab_pool_t *shpool,
    ngx_http_lava_wallet_sh_t *sh, ngx_rbtree_node_t *node)
{
    ngx_queue_remove(&ngx_http_lava_wallet_data(node)->queue);
    ngx_rbtree_delete(&sh->rbtree, node);
    ngx_slab_free_locked(shpool, node);
}


/* looks at up to n nodes from the least recently used end and frees the
 * idle ones (a node with a long request in flight is passed over) */
static void
ngx_http_lava_wallet_expire(ngx_slab_pool_t *shpool,
    ngx_http_lava_wallet_sh_t *sh, ngx_msec_t hold, ngx_uint_t n)
{
    ngx_queue_t                  *q, *prev;
    ngx_rbtree_node_t            *node;
    ngx_http_lava_wallet_node_t  *wn;

    for (q = ngx_queue_last(&sh->lru);
         n-- && q != ngx_queue_sentinel(&sh->lru);
         q = prev)
    {
        prev = ngx_queue_prev(q);
        wn = ngx_queue_data(q, ngx_http_lava_wallet_node_t, queue);

        if (!ngx_http_lava_wallet_roll(wn, hold)) {
            continue;
        }

        node = (ngx_rbtree_node_t *)
                   ((u_char *) wn - offsetof(ngx_rbtree_node_t, color));
        ngx_http_lava_wallet_free_node(shpool, sh, node);
    }
}


/* order of nodes of one hash: merchant id, then customer id */
static ngx_int_t
ngx_http_lava_wallet_cmp(ngx_http_lava_wallet_node_t *wn, u_char *m,
    size_t mlen, u_char *c, size_t clen)
{
    ngx_int_t  rc;

    rc = ngx_memn2cmp(m, wn->data, mlen, wn->mlen);

    return rc ? rc : ngx_memn2cmp(c, wn->data + wn->mlen, clen, wn->clen);
}


static void
ngx_http_lava_wallet_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t            **p;
    ngx_http_lava_wallet_node_t   *wn;

    wn = ngx_http_lava_wallet_data(node);

    for ( ;; ) {
        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            p = (ngx_http_lava_wallet_cmp(ngx_http_lava_wallet_data(temp),
                                          wn->data, wn->mlen,
                                          wn->data + wn->mlen, wn->clen)
                 < 0)
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
ngx_http_lava_wallet_find(ngx_http_lava_wallet_sh_t *sh, uint32_t hash,
    ngx_str_t *m, ngx_str_t *c)
{
    ngx_int_t           rc;
    ngx_rbtree_node_t  *node, *sentinel;

    node = sh->rbtree.root;
    sentinel = sh->rbtree.sentinel;

    while (node != sentinel) {
        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        rc = ngx_http_lava_wallet_cmp(ngx_http_lava_wallet_data(node),
                                      m->data, m->len, c->data, c->len);
        if (rc == 0) {
            return node;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/* request path */

/* the snapshot's numbers for this request; 0: not reserved */
static ngx_int_t
ngx_http_lava_wallet_bounds(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    ngx_http_lava_main_conf_t *lmcf, int64_t *headroom,
    lava_reserve_rates_t *rt)
{
    int                       dflt, found;
    size_t                    mlen, ulen;
    int64_t                   fee[LAVA_AUTHSNAP_FEE_VALS];
    u_char                   *model;
    lava_authsnap_t          *snap;
    ngx_slab_pool_t          *shpool;
    ngx_http_lava_auth_sh_t  *ash;

    if (lmcf->auth_zone == NULL || lmcf->auth_zone->shm.addr == NULL) {
        return 0;
    }

    /* the model the request is billed by: Gemini's path, else the body */
    if (ctx->route.model_len) {
        model = (u_char *) ctx->route.model;
        mlen = ctx->route.model_len;

    } else {
        model = ctx->model.data;
        mlen = ctx->model.len;
    }

    ulen = lava_reserve_undated((char *) model, mlen);

    shpool = (ngx_slab_pool_t *) lmcf->auth_zone->shm.addr;
    ash = lmcf->auth_zone->data;

    ngx_memzero(rt, sizeof(lava_reserve_rates_t));
    found = 0;

    ngx_shmtx_lock(&shpool->mutex);

    snap = ash->snap;

    if (snap == NULL
        || !lava_authsnap_wallet(snap, (char *) ctx->merchant_id.data,
                                 ctx->merchant_id.len,
                                 (char *) ctx->customer_id.data,
                                 ctx->customer_id.len, headroom))
    {
        goto done;
    }

    /* the model's own record, its undated name's, else the provider's */
    if (!lava_authsnap_rate(snap, (char *) ctx->provider->name.data,
                            ctx->provider->name.len, (char *) model, mlen,
                            &rt->in, &rt->out, &dflt))
    {
        /* no rate at all: booked unpriced, nothing moves until re-priced */
        goto done;
    }

    if (dflt && ulen != mlen) {
        (void) lava_authsnap_rate(snap, (char *) ctx->provider->name.data,
                                  ctx->provider->name.len, (char *) model,
                                  ulen, &rt->in, &rt->out, &dflt);
    }

    if (ctx->meter.len
        && lava_authsnap_fee(snap, (char *) ctx->merchant_id.data,
                             ctx->merchant_id.len, (char *) ctx->meter.data,
                             ctx->meter.len, fee))
    {
        rt->fee_ppm = fee[0];
        rt->fee_per_1m = fee[1];
        rt->fee_per_request = fee[2];
    }

    found = 1;

done:

    ngx_shmtx_unlock(&shpool->mutex);

    return found;
}


lava_refusal_e
ngx_http_lava_wallet_reserve(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    size_t                        n;
    int64_t                       headroom, amount, avail;
    uint32_t                      hash;
    ngx_slab_pool_t              *shpool;
    ngx_rbtree_node_t            *node;
    ngx_pool_cleanup_t           *cln;
    ngx_http_lava_wallet_sh_t    *sh;
    ngx_http_lava_wallet_req_t   *wr;
    ngx_http_lava_wallet_node_t  *wn;
    ngx_http_lava_wallet_resv_t  *resv;
    ngx_http_lava_loc_conf_t     *llcf;
    ngx_http_lava_main_conf_t    *lmcf;

    /* only what a customer's wallet pays: never BYOK, never the merchant */
    if (ctx->payer != NGX_HTTP_LAVA_PAYER_CUSTOMER || ctx->byok
        || ctx->provider == NULL || ctx->wallet != NULL)
    {
        return LAVA_REFUSAL_COUNT;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);
    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);

    if (!llcf->wallet_reserve || lmcf->wallet_zone == NULL
        || lmcf->wallet_zone->shm.addr == NULL)
    {
        return LAVA_REFUSAL_COUNT;
    }

    wr = ngx_pcalloc(r->pool, sizeof(ngx_http_lava_wallet_req_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (wr == NULL || cln == NULL) {
        return LAVA_REFUSAL_WALLET_RESERVATION;
    }

    if (!ngx_http_lava_wallet_bounds(r, ctx, lmcf, &headroom, &wr->rates)) {
        return LAVA_REFUSAL_COUNT;
    }

    amount = lava_reserve_amount(&wr->rates,
                                 lava_reserve_input_max(ctx->request_bytes),
                                 lava_meter_output_max(ctx->req,
                                                       ctx->route.fmt));

    hash = ngx_crc32_short(ctx->customer_id.data, ctx->customer_id.len);

    shpool = (ngx_slab_pool_t *) lmcf->wallet_zone->shm.addr;
    sh = lmcf->wallet_zone->data;

    ngx_shmtx_lock(&shpool->mutex);

    ngx_http_lava_wallet_expire(shpool, sh, lmcf->wallet_hold,
                                NGX_HTTP_LAVA_WALLET_EXPIRE);

    node = ngx_http_lava_wallet_find(sh, hash, &ctx->merchant_id,
                                     &ctx->customer_id);

    if (node == NULL) {
        n = offsetof(ngx_rbtree_node_t, color)
            + offsetof(ngx_http_lava_wallet_node_t, data)
            + ctx->merchant_id.len + ctx->customer_id.len;

        node = ngx_slab_alloc_locked(shpool, n);
        if (node == NULL) {
            ngx_http_lava_wallet_expire(shpool, sh, lmcf->wallet_hold,
                                        NGX_HTTP_LAVA_WALLET_EXPIRE_FULL);
            node = ngx_slab_alloc_locked(shpool, n);
        }

        if (node == NULL) {
            goto full;
        }

        wn = ngx_http_lava_wallet_data(node);
        ngx_memzero(&wn->queue, offsetof(ngx_http_lava_wallet_node_t, data)
                                - offsetof(ngx_http_lava_wallet_node_t, queue));
        wn->mlen = (u_char) ctx->merchant_id.len;
        wn->clen = (u_char) ctx->customer_id.len;
        ngx_memcpy(wn->data, ctx->merchant_id.data, ctx->merchant_id.len);
        ngx_memcpy(wn->data + wn->mlen, ctx->customer_id.data,
                   ctx->customer_id.len);
        wn->window = lmcf->wallet_hold ? ngx_current_msec / lmcf->wallet_hold
                                       : 0;

        node->key = hash;
        ngx_rbtree_insert(&sh->rbtree, node);

    } else {
        wn = ngx_http_lava_wallet_data(node);
        ngx_queue_remove(&wn->queue);
        (void) ngx_http_lava_wallet_roll(wn, lmcf->wallet_hold);
    }

    ngx_queue_insert_head(&sh->lru, &wn->queue);

    avail = lava_reserve_sub(headroom, wn->reserved);
    avail = lava_reserve_sub(avail, wn->held[0]);
    avail = lava_reserve_sub(avail, wn->held[1]);

    if (amount > avail) {
        ngx_shmtx_unlock(&shpool->mutex);

        ngx_log_debug5(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "lava wallet: %L refused: headroom %L reserved %L "
                       "held %L+%L", amount, headroom, wn->reserved,
                       wn->held[0], wn->held[1]);

        return LAVA_REFUSAL_WALLET_RESERVATION;
    }

    resv = ngx_slab_alloc_locked(shpool, sizeof(ngx_http_lava_wallet_resv_t));
    if (resv == NULL) {
        goto full;
    }

    resv->pid = ngx_pid;
    resv->amount = amount;
    resv->node = node;
    ngx_queue_insert_tail(&sh->resv, &resv->queue);

    wn->reserved = lava_reserve_add(wn->reserved, amount);
    wn->nresv++;

    ngx_shmtx_unlock(&shpool->mutex);

    wr->zone = lmcf->wallet_zone;
    wr->resv = resv;
    wr->amount = amount;
    ctx->wallet = wr;

    /* released at the log phase; the cleanup is for a request that never
     * reaches it */
    cln->handler = ngx_http_lava_wallet_cleanup;
    cln->data = wr;

    return LAVA_REFUSAL_COUNT;

full:

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "lava wallet: lava_wallet_zone \"%V\" is full, request "
                  "refused", &lmcf->wallet_zone->shm.name);

    /* fail closed: a reservation that cannot be kept is not served on the
     * wallet's account */
    return LAVA_REFUSAL_WALLET_RESERVATION;
}


/* moves a reservation to held (amount) and frees it; zone locked */
static void
ngx_http_lava_wallet_unreserve(ngx_slab_pool_t *shpool,
    ngx_http_lava_wallet_resv_t *resv, int64_t held, ngx_msec_t hold)
{
    ngx_http_lava_wallet_node_t  *wn;

    wn = ngx_http_lava_wallet_data(resv->node);

    (void) ngx_http_lava_wallet_roll(wn, hold);

    wn->reserved = lava_reserve_sub(wn->reserved, resv->amount);
    if (wn->reserved < 0) {
        wn->reserved = 0;
    }

    wn->nresv--;

    if (hold && held > 0) {
        wn->held[0] = lava_reserve_add(wn->held[0], held);
    }

    ngx_queue_remove(&resv->queue);
    ngx_slab_free_locked(shpool, resv);
}


static void
ngx_http_lava_wallet_release_amount(ngx_http_lava_wallet_req_t *wr,
    int64_t held)
{
    ngx_slab_pool_t            *shpool;
    ngx_http_lava_main_conf_t  *lmcf;

    if (wr->resv == NULL) {
        return;
    }

    lmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_lava_module);

    shpool = (ngx_slab_pool_t *) wr->zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);
    ngx_http_lava_wallet_unreserve(shpool, wr->resv, held,
                                   lmcf ? lmcf->wallet_hold : 0);
    ngx_shmtx_unlock(&shpool->mutex);

    wr->resv = NULL;
}


/*
 * Log phase: the request's reservation is released; what its event books
 * (the bound of its usage at the same rates) is held until a snapshot can
 * include the booking. usage NULL: the event books no usage; the provider
 * answered or not (answered: the whole reservation is held, the booking
 * may still price what the answer cost).
 */
void
ngx_http_lava_wallet_release(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    const lava_usage_buckets_t *usage)
{
    int                          other;
    int64_t                      in, out, held;
    ngx_http_lava_wallet_req_t  *wr;

    wr = ctx->wallet;
    if (wr == NULL || wr->resv == NULL) {
        return;
    }

    if (usage == NULL) {
        held = ctx->got_headers ? wr->amount : 0;

    } else {
        lava_reserve_usage_tokens(usage, &in, &out, &other);
        held = lava_reserve_amount(&wr->rates, in, out);

        if (other && held < wr->amount) {
            held = wr->amount;
        }
    }

    ngx_http_lava_wallet_release_amount(wr, held);
}


static void
ngx_http_lava_wallet_cleanup(void *data)
{
    ngx_http_lava_wallet_req_t  *wr = data;

    /* not logged: what it cost is unknown, the reservation is held */
    ngx_http_lava_wallet_release_amount(wr, wr->amount);
}


/*
 * A worker died (found by the in-flight records' owner check): its
 * requests never reach their log phase. Each of its reservations is
 * released and held whole: its successor books the request (worker_lost).
 */
void
ngx_http_lava_wallet_owner_lost(ngx_pid_t pid)
{
    ngx_queue_t                  *q, *next;
    ngx_slab_pool_t              *shpool;
    ngx_http_lava_wallet_sh_t    *sh;
    ngx_http_lava_wallet_resv_t  *resv;
    ngx_http_lava_main_conf_t    *lmcf;

    lmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_lava_module);

    if (lmcf == NULL || lmcf->wallet_zone == NULL
        || lmcf->wallet_zone->shm.addr == NULL)
    {
        return;
    }

    shpool = (ngx_slab_pool_t *) lmcf->wallet_zone->shm.addr;
    sh = lmcf->wallet_zone->data;

    ngx_shmtx_lock(&shpool->mutex);

    for (q = ngx_queue_head(&sh->resv);
         q != ngx_queue_sentinel(&sh->resv);
         q = next)
    {
        next = ngx_queue_next(q);
        resv = ngx_queue_data(q, ngx_http_lava_wallet_resv_t, queue);

        if (resv->pid == pid) {
            ngx_http_lava_wallet_unreserve(shpool, resv, resv->amount,
                                           lmcf->wallet_hold);
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


/*
 * init_process of every worker: reservations of workers that no longer
 * exist are released (and held). A worker that crashed is replaced by a new
 * one, whose start sweeps what it left, so a crash does not leak
 * reservations even without the in-flight records' owner check. Workers of
 * the previous cycle that still finish requests after a reload exist, and
 * keep theirs.
 */
void
ngx_http_lava_wallet_init_process(ngx_cycle_t *cycle,
    ngx_http_lava_main_conf_t *lmcf)
{
    ngx_uint_t                    n;
    ngx_queue_t                  *q, *next;
    ngx_slab_pool_t              *shpool;
    ngx_http_lava_wallet_sh_t    *sh;
    ngx_http_lava_wallet_resv_t  *resv;

    if (lmcf->wallet_zone == NULL || lmcf->wallet_zone->shm.addr == NULL) {
        return;
    }

    shpool = (ngx_slab_pool_t *) lmcf->wallet_zone->shm.addr;
    sh = lmcf->wallet_zone->data;
    n = 0;

    ngx_shmtx_lock(&shpool->mutex);

    for (q = ngx_queue_head(&sh->resv);
         q != ngx_queue_sentinel(&sh->resv);
         q = next)
    {
        next = ngx_queue_next(q);
        resv = ngx_queue_data(q, ngx_http_lava_wallet_resv_t, queue);

        /* ESRCH only: EPERM is a process that exists */
        if (resv->pid != ngx_pid && kill(resv->pid, 0) == -1
            && ngx_errno == NGX_ESRCH)
        {
            ngx_http_lava_wallet_unreserve(shpool, resv, resv->amount,
                                           lmcf->wallet_hold);
            n++;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (n) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "lava wallet: released %ui reservations of workers "
                      "that exited", n);
    }
}
