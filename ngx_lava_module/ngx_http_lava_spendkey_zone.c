/*
 * Spend keys: the lava_spend_key_zone shared memory (docs/spend-keys.md).
 * One node per key in use, keyed by the key id:
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
 * The zone's mutex is held for a lookup, a few records and a few additions.
 */

#include "ngx_http_lava_spendkey.h"
#include "lava_reserve.h"


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


static ngx_int_t ngx_http_lava_spk_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_lava_spk_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);


/* "now" of expiry and cycles: wall clock plus lava_test_clock_offset */
int64_t
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

    return ngx_http_lava_zone_conf(cf, cmd, &lmcf->spend_key_zone,
                                   ngx_http_lava_spk_init_zone, lmcf);
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

    if (lmcf->auth_zone == NULL) {
        return NGX_CONF_OK;
    }

    return ngx_http_lava_zone_default(cf, &lmcf->spend_key_zone, &name,
                                      NGX_HTTP_LAVA_SPK_ZONE_DEFAULT,
                                      "lava_spend_key_zone",
                                      ngx_http_lava_spk_init_zone, lmcf);
}


static ngx_int_t
ngx_http_lava_spk_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_int_t                rc;
    ngx_http_lava_spk_sh_t  *sh;

    /* on a reload with the same zone buckets and pending records stay */
    rc = ngx_http_lava_zone_sh(shm_zone, data, sizeof(ngx_http_lava_spk_sh_t),
                               "lava_spend_key_zone", (void **) &sh);
    if (rc != NGX_OK) {
        return rc == NGX_DONE ? NGX_OK : NGX_ERROR;
    }

    ngx_rbtree_init(&sh->rbtree, &sh->sentinel, ngx_http_lava_spk_insert);
    ngx_queue_init(&sh->lru);

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


/*
 * Under the zone's lock: the key's bucket and its not-yet-booked requests
 * against the snapshot's limits and counts (lim). LAVA_REFUSAL_COUNT: let
 * through, *ref names its new record (rec NULL when the zone is full: not
 * limited, logged once). tk: the bucket's numbers for a rate refusal.
 */
lava_refusal_e
ngx_http_lava_spk_admit(ngx_http_request_t *r, ngx_http_lava_main_conf_t *lmcf,
    ngx_str_t *id, ngx_http_lava_spk_limits_t *lim, lava_spk_take_t *tk,
    ngx_http_lava_spk_ref_t *ref)
{
    int64_t                    now, now_s, req_start, spend_start;
    int64_t                    reqs, spend, *l;
    ngx_queue_t               *q;
    ngx_slab_pool_t           *shpool;
    lava_refusal_e             refusal;
    ngx_http_lava_spk_sh_t    *sh;
    ngx_http_lava_spk_rec_t   *rec;
    ngx_http_lava_spk_node_t  *sn;

    l = lim->l;

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

    ngx_http_lava_spk_prune(shpool, sn, lim->marked, lim->ms, lim->seq, now);

    sn->rpm = l[LAVA_AUTHSNAP_L_RPM];
    sn->burst = l[LAVA_AUTHSNAP_L_BURST];
    sn->used_ms = now;

    if (!lava_spk_bucket_take(&sn->bucket, sn->rpm, sn->burst, now, 0, tk)) {
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

    ref->rec = rec;
    ref->gen = rec->gen;

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

    return refusal;
}




/* a record that will not be booked (a later refusal) */
void
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


/* log phase: the request finished, what it may cost; its event is queued */
void
ngx_http_lava_spk_finish(ngx_http_lava_main_conf_t *lmcf,
    ngx_http_lava_spk_ref_t ref, int64_t cost)
{
    ngx_slab_pool_t          *shpool;
    ngx_http_lava_spk_rec_t  *rec;

    shpool = (ngx_slab_pool_t *) lmcf->spend_key_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    rec = ngx_http_lava_spk_rec(ref);
    if (rec) {
        rec->cost = cost;
        rec->state = NGX_HTTP_LAVA_SPK_DONE;
    }

    ngx_shmtx_unlock(&shpool->mutex);
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
