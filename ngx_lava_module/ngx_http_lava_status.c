/*
 * lava_status: the gateway's counters in Prometheus text exposition format
 * (text/plain; version=0.0.4), like stub_status but for every worker at
 * once (docs/operations.md lists the series).
 *
 * The counters live in a small shared memory zone, "lava_status", sized at
 * configuration time from the provider table and the refusal table (fixed
 * arrays, no allocation after start). The request path only adds to them
 * with ngx_atomic_fetch_add: no lock, a few atomic adds per request, in the
 * log phase.
 *
 * What a worker counts on its own (events sent, spooled, dropped ..., its
 * Redis connection, its drains) is published from its own counters every
 * NGX_HTTP_LAVA_STATUS_PUBLISH_MS, as the growth since the last publication
 * (counters) or as the value now in the worker's slot (gauges), and once
 * more at exit; so nothing is added to the event queue's own code. A slot
 * belongs to a live pid: a worker takes a free slot or the slot of a pid
 * that is gone, and frees it at exit.
 *
 * The zone is kept across reloads when its size is the same (counters go
 * on); the request counters start again at 0 when the provider names
 * changed, which Prometheus reads as a counter reset.
 */

#include "ngx_http_lava_module.h"
#include "ngx_http_lava_auth.h"


#define NGX_HTTP_LAVA_STATUS_ZONE        "lava_status"
#define NGX_HTTP_LAVA_STATUS_WORKERS     64      /* slots, live workers */
#define NGX_HTTP_LAVA_STATUS_CLASSES     6       /* 1xx .. 5xx, then none */
#define NGX_HTTP_LAVA_STATUS_OUTCOMES    5
#define NGX_HTTP_LAVA_STATUS_PUBLISH_MS  500


/* ngx_http_lava_outcome()'s names, and "other" for any later one */
static ngx_str_t  ngx_http_lava_status_outcomes[] = {
    ngx_string("complete"),
    ngx_string("client_abort"),
    ngx_string("upstream_error"),
    ngx_string("refused"),
    ngx_string("other")
};

static const char  *ngx_http_lava_status_classes[] = {
    "1xx", "2xx", "3xx", "4xx", "5xx", "none"
};


/* the refusal table's codes and statuses, in its order */
typedef struct {
    const char                  *code;
    ngx_uint_t                   status;
} ngx_http_lava_status_refusal_t;

#define NGX_HTTP_LAVA_STATUS_REFUSAL(name, status, code, message)             \
    { code, status },

static ngx_http_lava_status_refusal_t  ngx_http_lava_status_refusals[] = {
    LAVA_REFUSALS(NGX_HTTP_LAVA_STATUS_REFUSAL)
};


/* events counted by ngx_http_lava_events.c per worker, published as sums */
enum {
    NGX_HTTP_LAVA_STATUS_EV_QUEUED = 0,   /* stats.pushed */
    NGX_HTTP_LAVA_STATUS_EV_SENT,
    NGX_HTTP_LAVA_STATUS_EV_SPOOLED,
    NGX_HTTP_LAVA_STATUS_EV_REPLAYED,
    NGX_HTTP_LAVA_STATUS_EV_DROPPED,
    NGX_HTTP_LAVA_STATUS_EV_REFUSED,
    NGX_HTTP_LAVA_STATUS_EV_N
};

/* their counters, in the order above: name and HELP text */
static const char  *ngx_http_lava_status_ev_series[][2] = {
    { "lava_events_queued_total",
      "Usage events accepted for the stream (queue or spool)." },
    { "lava_events_sent_total",
      "Usage events Redis acknowledged (XADD)." },
    { "lava_events_spooled_total",
      "Usage events written to the disk spool." },
    { "lava_events_replayed_total",
      "Usage events read back from the disk spool." },
    { "lava_events_dropped_total",
      "Usage events lost: the queue and the spool were full." },
    { "lava_events_full_refusals_total",
      "Requests answered 503 because no event could be kept." },
};


/* one live worker's gauges; pid 0: free */
typedef struct {
    ngx_atomic_t                 pid;
    ngx_atomic_t                 redis_up;       /* 0 or 1 */
    ngx_atomic_t                 queued;         /* events waiting, in
                                                    flight included */
    ngx_atomic_t                 in_flight;
    ngx_atomic_t                 spool_bytes;
    ngx_atomic_t                 drains;
} ngx_http_lava_status_worker_t;


/* the zone: owned by the slab pool of "lava_status", all workers add to it */
typedef struct {
    ngx_atomic_t                 layout;         /* crc32 of the provider
                                                    names */
    ngx_atomic_t                 auth_version;
    ngx_atomic_t                 auth_loaded;    /* unix seconds; 0 never */
    ngx_atomic_t                 token_hits;
    ngx_atomic_t                 token_misses;
    ngx_atomic_t                 events[NGX_HTTP_LAVA_STATUS_EV_N];
    ngx_http_lava_status_worker_t  workers[NGX_HTTP_LAVA_STATUS_WORKERS];
    ngx_atomic_t                 refusals[LAVA_REFUSAL_COUNT];
    /* [provider (the table's order, then none)][class][outcome] */
    ngx_atomic_t                 requests[1];
} ngx_http_lava_status_sh_t;


/* this worker's view */
typedef struct {
    ngx_http_lava_status_sh_t     *sh;           /* NULL: no zone */
    ngx_http_lava_status_worker_t *slot;         /* NULL: no slot free */
    ngx_uint_t                     nproviders;
    ngx_uint_t                     published[NGX_HTTP_LAVA_STATUS_EV_N];
    ngx_event_t                    publish;
    ngx_connection_t               ident;        /* the timer's ev->data:
                                                    debug lines print its
                                                    fd (-1) */
} ngx_http_lava_status_t;


static ngx_http_lava_status_t  ngx_http_lava_status;

/* set by the directive while the configuration is read */
static ngx_uint_t  ngx_http_lava_status_used;


static ngx_int_t ngx_http_lava_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_lava_status_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);


static size_t
ngx_http_lava_status_nrequests(ngx_uint_t nproviders)
{
    return (nproviders + 1) * NGX_HTTP_LAVA_STATUS_CLASSES
           * NGX_HTTP_LAVA_STATUS_OUTCOMES;
}


static size_t
ngx_http_lava_status_size(ngx_uint_t nproviders)
{
    return sizeof(ngx_http_lava_status_sh_t)
           + (ngx_http_lava_status_nrequests(nproviders) - 1)
             * sizeof(ngx_atomic_t);
}


static uint32_t
ngx_http_lava_status_layout(ngx_http_lava_main_conf_t *lmcf)
{
    uint32_t                   crc;
    ngx_uint_t                 i;
    ngx_http_lava_provider_t  *p;

    ngx_crc32_init(crc);

    p = lmcf->providers.elts;
    for (i = 0; i < lmcf->providers.nelts; i++) {
        ngx_crc32_update(&crc, p[i].name.data, p[i].name.len);
        ngx_crc32_update(&crc, (u_char *) "\n", 1);
    }

    ngx_crc32_final(crc);

    return crc;
}


/* lava_status; (location): this location answers with the counters */
char *
ngx_http_lava_status_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_lava_status_handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_lava_status_handler;
    ngx_http_lava_status_used = 1;

    return NGX_CONF_OK;
}


/*
 * postconfiguration, after the provider table: the zone, when the module
 * forwards anything or a location shows the counters
 */
ngx_int_t
ngx_http_lava_status_conf(ngx_conf_t *cf, ngx_http_lava_main_conf_t *lmcf)
{
    size_t           size;
    ngx_str_t        name;
    ngx_shm_zone_t  *zone;

    if (lmcf->providers.nelts == 0 && !ngx_http_lava_status_used) {
        return NGX_OK;
    }

    ngx_http_lava_status_used = 0;

    /* the slab pool's own header and one page of slack; whole pages */
    size = ngx_http_lava_status_size(lmcf->providers.nelts) + 8 * ngx_pagesize;
    size = ngx_align(size, ngx_pagesize);

    ngx_str_set(&name, NGX_HTTP_LAVA_STATUS_ZONE);

    zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_lava_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    if (zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "shared memory zone \"%V\" is already used", &name);
        return NGX_ERROR;
    }

    zone->init = ngx_http_lava_status_init_zone;
    zone->data = lmcf;

    return NGX_OK;
}


static ngx_int_t
ngx_http_lava_status_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_lava_main_conf_t *lmcf = shm_zone->data;

    size_t                      size;
    uint32_t                    layout;
    ngx_slab_pool_t            *shpool;
    ngx_http_lava_status_sh_t  *sh;

    layout = ngx_http_lava_status_layout(lmcf);
    size = ngx_http_lava_status_size(lmcf->providers.nelts);

    if (data) {
        /* a reload with a zone of the same size: the counters go on */
        sh = data;
        shm_zone->data = sh;

        if (sh->layout != layout) {
            ngx_memzero((void *) sh->requests,
                        ngx_http_lava_status_nrequests(lmcf->providers.nelts)
                        * sizeof(ngx_atomic_t));
            sh->layout = layout;
        }

        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    sh = ngx_slab_alloc(shpool, size);
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(sh, size);
    sh->layout = layout;
    shm_zone->data = sh;

    return NGX_OK;
}


/* ---- worker side ---- */

static void
ngx_http_lava_status_publish(void)
{
    ngx_uint_t                      i, now[NGX_HTTP_LAVA_STATUS_EV_N];
    ngx_http_lava_status_t         *st = &ngx_http_lava_status;
    ngx_http_lava_events_stats_t    es;
    ngx_http_lava_status_worker_t  *w;

    if (st->sh == NULL) {
        return;
    }

    ngx_http_lava_events_stats(&es);

    now[NGX_HTTP_LAVA_STATUS_EV_QUEUED] = es.pushed;
    now[NGX_HTTP_LAVA_STATUS_EV_SENT] = es.sent;
    now[NGX_HTTP_LAVA_STATUS_EV_SPOOLED] = es.spooled;
    now[NGX_HTTP_LAVA_STATUS_EV_REPLAYED] = es.replayed;
    now[NGX_HTTP_LAVA_STATUS_EV_DROPPED] = es.dropped;
    now[NGX_HTTP_LAVA_STATUS_EV_REFUSED] = es.refused;

    for (i = 0; i < NGX_HTTP_LAVA_STATUS_EV_N; i++) {
        if (now[i] != st->published[i]) {
            (void) ngx_atomic_fetch_add(&st->sh->events[i],
                                        now[i] - st->published[i]);
            st->published[i] = now[i];
        }
    }

    w = st->slot;
    if (w == NULL) {
        return;
    }

    w->redis_up = es.redis_ready ? 1 : 0;
    w->queued = es.queued;
    w->in_flight = es.in_flight;
    w->spool_bytes = (ngx_atomic_uint_t) es.spool_bytes;
    w->drains = ngx_http_lava_drains_active();
}


static void
ngx_http_lava_status_publish_handler(ngx_event_t *ev)
{
    ngx_http_lava_status_publish();

    if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
        ngx_add_timer(ev, NGX_HTTP_LAVA_STATUS_PUBLISH_MS);
    }
}


/* the zone of this cycle, by name and tag */
static ngx_shm_zone_t *
ngx_http_lava_status_zone(ngx_cycle_t *cycle)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *zone;

    part = &cycle->shared_memory.part;
    zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            zone = part->elts;
            i = 0;
        }

        if (zone[i].tag == &ngx_http_lava_module
            && zone[i].shm.name.len == sizeof(NGX_HTTP_LAVA_STATUS_ZONE) - 1
            && ngx_strncmp(zone[i].shm.name.data, NGX_HTTP_LAVA_STATUS_ZONE,
                           zone[i].shm.name.len)
               == 0)
        {
            return &zone[i];
        }
    }
}


void
ngx_http_lava_status_init_process(ngx_cycle_t *cycle)
{
    ngx_pid_t                       pid;
    ngx_uint_t                      i;
    ngx_shm_zone_t                 *zone;
    ngx_http_lava_status_t         *st = &ngx_http_lava_status;
    ngx_http_lava_main_conf_t      *lmcf;
    ngx_http_lava_status_worker_t  *w;

    ngx_memzero(st, sizeof(ngx_http_lava_status_t));

    lmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_lava_module);
    zone = ngx_http_lava_status_zone(cycle);

    if (lmcf == NULL || zone == NULL || zone->shm.addr == NULL) {
        return;
    }

    st->sh = zone->data;
    st->nproviders = lmcf->providers.nelts;

    /* a free slot, or one whose worker is gone (crashed, killed) */
    for (i = 0; i < NGX_HTTP_LAVA_STATUS_WORKERS; i++) {
        w = &st->sh->workers[i];
        pid = (ngx_pid_t) w->pid;

        if (pid != 0 && (kill(pid, 0) == 0 || ngx_errno != NGX_ESRCH)) {
            continue;
        }

        if (ngx_atomic_cmp_set(&w->pid, (ngx_atomic_uint_t) pid,
                               (ngx_atomic_uint_t) ngx_pid))
        {
            w->redis_up = 0;
            w->queued = 0;
            w->in_flight = 0;
            w->spool_bytes = 0;
            w->drains = 0;
            st->slot = w;
            break;
        }
    }

    if (st->slot == NULL) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "lava_status: no free worker slot of %d, this "
                      "worker's gauges are not shown",
                      NGX_HTTP_LAVA_STATUS_WORKERS);
    }

    if (lmcf->providers.nelts) {
        st->ident.fd = (ngx_socket_t) -1;
        ngx_http_lava_timer_init(&st->publish,
                                 ngx_http_lava_status_publish_handler,
                                 &st->ident, cycle->log);
        ngx_add_timer(&st->publish, NGX_HTTP_LAVA_STATUS_PUBLISH_MS);
    }
}


/* after ngx_http_lava_events_exit_process(): what the last flush sent */
void
ngx_http_lava_status_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_lava_status_t  *st = &ngx_http_lava_status;

    if (st->sh == NULL) {
        return;
    }

    if (st->nproviders) {
        ngx_http_lava_status_publish();
    }

    if (st->slot) {
        (void) ngx_atomic_cmp_set(&st->slot->pid, (ngx_atomic_uint_t) ngx_pid,
                                  0);
        st->slot = NULL;
    }

    st->sh = NULL;
}


/* ---- the request path: a few atomic adds ---- */

/* log phase of a forward request; status as its event says */
void
ngx_http_lava_status_request(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    ngx_uint_t status)
{
    size_t                      n;
    const char                 *o;
    ngx_uint_t                  p, c, k, i;
    ngx_http_lava_status_sh_t  *sh;
    ngx_http_lava_main_conf_t  *lmcf;

    sh = ngx_http_lava_status.sh;
    if (sh == NULL) {
        return;
    }

    p = ngx_http_lava_status.nproviders;

    if (ctx->provider) {
        lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);
        i = ctx->provider - (ngx_http_lava_provider_t *) lmcf->providers.elts;
        if (i < p) {
            p = i;
        }
    }

    c = (status >= 100 && status < 600) ? status / 100 - 1
                                        : NGX_HTTP_LAVA_STATUS_CLASSES - 1;

    o = ngx_http_lava_outcome(r, ctx);
    n = ngx_strlen(o);

    for (k = 0; k < NGX_HTTP_LAVA_STATUS_OUTCOMES - 1; k++) {
        if (ngx_http_lava_status_outcomes[k].len == n
            && ngx_strncmp(ngx_http_lava_status_outcomes[k].data, o, n) == 0)
        {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(
        &sh->requests[(p * NGX_HTTP_LAVA_STATUS_CLASSES + c)
                      * NGX_HTTP_LAVA_STATUS_OUTCOMES + k], 1);

    if (ctx->error == NULL) {
        return;
    }

    /* the code of an answer of the gateway's own: counted on the first row
     * with that code (rows may share one) */
    for (i = 0; i < LAVA_REFUSAL_COUNT; i++) {
        if (ngx_strcmp(ngx_http_lava_status_refusals[i].code, ctx->error)
            == 0)
        {
            (void) ngx_atomic_fetch_add(&sh->refusals[i], 1);
            break;
        }
    }
}


/* a forward token found in the worker's cache (hit 1) or decoded (hit 0) */
void
ngx_http_lava_status_token(ngx_uint_t hit)
{
    ngx_http_lava_status_sh_t  *sh = ngx_http_lava_status.sh;

    if (sh) {
        (void) ngx_atomic_fetch_add(hit ? &sh->token_hits : &sh->token_misses,
                                    1);
    }
}


/* a snapshot of this version is now in the auth zone */
void
ngx_http_lava_status_auth_loaded(uint64_t version)
{
    ngx_http_lava_status_sh_t  *sh = ngx_http_lava_status.sh;

    if (sh) {
        sh->auth_version = (ngx_atomic_uint_t) version;
        sh->auth_loaded = (ngx_atomic_uint_t) ngx_time();
    }
}


/* ---- the answer ---- */

/* version of the snapshot in the auth zone; 0 none loaded */
static ngx_uint_t
ngx_http_lava_status_auth(ngx_http_request_t *r, uint64_t *version)
{
    ngx_uint_t                  loaded;
    ngx_slab_pool_t            *shpool;
    ngx_http_lava_auth_sh_t    *ash;
    ngx_http_lava_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);

    if (lmcf->auth_zone == NULL || lmcf->auth_zone->shm.addr == NULL
        || lmcf->auth_zone->data == lmcf)
    {
        return 0;
    }

    shpool = (ngx_slab_pool_t *) lmcf->auth_zone->shm.addr;
    ash = lmcf->auth_zone->data;

    ngx_shmtx_lock(&shpool->mutex);

    loaded = (ash->snap != NULL);
    *version = loaded ? ash->snap->version : 0;

    ngx_shmtx_unlock(&shpool->mutex);

    return loaded;
}


/* one unlabelled series with its HELP and TYPE lines */
#define ngx_http_lava_status_one(b, name, type, help, v)                      \
    b->last = ngx_slprintf(b->last, b->end,                                   \
                           "# HELP " name " " help "\n# TYPE " name " " type  \
                           "\n" name " %uL\n", (uint64_t) (v))

#define ngx_http_lava_status_head(b, name, type, help)                        \
    b->last = ngx_slprintf(b->last, b->end,                                   \
                           "# HELP " name " " help "\n# TYPE " name " " type  \
                           "\n")


static ngx_int_t
ngx_http_lava_status_handler(ngx_http_request_t *r)
{
    size_t                          size;
    time_t                          age;
    uint64_t                        version;
    ngx_int_t                       rc;
    ngx_uint_t                      i, j, p, c, k, nworkers, nup, loaded;
    ngx_uint_t                      queued, in_flight, drains;
    ngx_buf_t                      *b;
    ngx_str_t                      *name;
    ngx_chain_t                     out;
    ngx_atomic_uint_t               n, spool;
    ngx_http_lava_status_sh_t      *sh;
    ngx_http_lava_main_conf_t      *lmcf;
    ngx_http_lava_provider_t       *prov;
    ngx_http_lava_status_worker_t  *w;

    static ngx_str_t  none = ngx_string("none");

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    sh = ngx_http_lava_status.sh;
    if (sh == NULL) {
        /* this worker found no zone at its start: nothing to show */
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    ngx_http_lava_status_publish();

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);
    prov = lmcf->providers.elts;
    p = ngx_http_lava_status.nproviders;

    /* the fixed series with their HELP and TYPE lines, then a line per
     * request series and refusal code: a name, labels of at most 128 bytes
     * besides the provider name, a number (ngx_slprintf: never past end) */
    size = 8192
           + ((p + 1) * NGX_HTTP_LAVA_STATUS_CLASSES
              * NGX_HTTP_LAVA_STATUS_OUTCOMES + LAVA_REFUSAL_COUNT)
             * (128 + NGX_ATOMIC_T_LEN);
    for (i = 0; i < p; i++) {
        size += prov[i].name.len * NGX_HTTP_LAVA_STATUS_CLASSES
                * NGX_HTTP_LAVA_STATUS_OUTCOMES;
    }

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* requests: only the series that moved, so the list stays short */
    ngx_http_lava_status_head(b, "lava_requests_total", "counter",
        "Forward requests finished, by provider, status class and outcome.");

    for (i = 0; i <= p; i++) {
        name = (i < p) ? &prov[i].name : &none;

        for (c = 0; c < NGX_HTTP_LAVA_STATUS_CLASSES; c++) {
            for (k = 0; k < NGX_HTTP_LAVA_STATUS_OUTCOMES; k++) {
                n = sh->requests[(i * NGX_HTTP_LAVA_STATUS_CLASSES + c)
                                 * NGX_HTTP_LAVA_STATUS_OUTCOMES + k];
                if (n == 0) {
                    continue;
                }

                b->last = ngx_slprintf(b->last, b->end,
                            "lava_requests_total{provider=\"%V\","
                            "status=\"%s\",outcome=\"%V\"} %uA\n",
                            name, ngx_http_lava_status_classes[c],
                            &ngx_http_lava_status_outcomes[k], n);
            }
        }
    }

    /* every code, 0 included: alert rules can rely on the series */
    ngx_http_lava_status_head(b, "lava_refusals_total", "counter",
        "Answers of the gateway's own (lib/lava_refusal.h), by code.");

    for (i = 0; i < LAVA_REFUSAL_COUNT; i++) {
        for (j = 0; j < i; j++) {
            if (ngx_strcmp(ngx_http_lava_status_refusals[j].code,
                           ngx_http_lava_status_refusals[i].code)
                == 0)
            {
                break;
            }
        }

        if (j < i) {
            continue;       /* counted on the first row of its code */
        }

        b->last = ngx_slprintf(b->last, b->end,
                              "lava_refusals_total{code=\"%s\",status=\"%ui\"}"
                              " %uA\n",
                              ngx_http_lava_status_refusals[i].code,
                              ngx_http_lava_status_refusals[i].status,
                              sh->refusals[i]);
    }

    for (i = 0; i < NGX_HTTP_LAVA_STATUS_EV_N; i++) {
        b->last = ngx_slprintf(b->last, b->end,
                               "# HELP %s %s\n# TYPE %s counter\n%s %uA\n",
                               ngx_http_lava_status_ev_series[i][0],
                               ngx_http_lava_status_ev_series[i][1],
                               ngx_http_lava_status_ev_series[i][0],
                               ngx_http_lava_status_ev_series[i][0],
                               sh->events[i]);
    }

    nworkers = 0;
    nup = 0;
    queued = 0;
    in_flight = 0;
    spool = 0;
    drains = 0;

    for (i = 0; i < NGX_HTTP_LAVA_STATUS_WORKERS; i++) {
        w = &sh->workers[i];
        if (w->pid == 0) {
            continue;
        }

        nworkers++;
        nup += w->redis_up;
        queued += w->queued;
        in_flight += w->in_flight;
        spool += w->spool_bytes;
        drains += w->drains;
    }

    ngx_http_lava_status_one(b, "lava_event_queue_length", "gauge",
        "Usage events waiting for Redis in the workers' queues.", queued);
    ngx_http_lava_status_one(b, "lava_events_in_flight", "gauge",
        "Usage events sent to Redis and not acknowledged yet.", in_flight);
    ngx_http_lava_status_one(b, "lava_event_spool_bytes", "gauge",
        "Bytes of the workers' own spool files on disk.", spool);
    ngx_http_lava_status_one(b, "lava_workers", "gauge",
        "Worker processes counting.", nworkers);
    ngx_http_lava_status_one(b, "lava_redis_connected_workers", "gauge",
        "Workers whose event connection to Redis is ready.", nup);
    ngx_http_lava_status_one(b, "lava_redis_up", "gauge",
        "1 when every worker's event connection to Redis is ready.",
        nworkers && nup == nworkers);
    ngx_http_lava_status_one(b, "lava_drains_in_progress", "gauge",
        "Answers read on after their client left, to meter them.", drains);

    version = 0;
    loaded = ngx_http_lava_status_auth(r, &version);

    if (loaded && (sh->auth_loaded == 0 || sh->auth_version != version)) {
        /* loaded before this zone existed (a reload): age from now on */
        sh->auth_version = (ngx_atomic_uint_t) version;
        sh->auth_loaded = (ngx_atomic_uint_t) ngx_time();
    }

    age = loaded ? ngx_time() - (time_t) sh->auth_loaded : 0;

    ngx_http_lava_status_one(b, "lava_auth_snapshot_loaded", "gauge",
        "1 when an auth snapshot is loaded.", loaded);
    ngx_http_lava_status_one(b, "lava_auth_snapshot_version", "gauge",
        "Version of the loaded auth snapshot.", version);
    ngx_http_lava_status_one(b, "lava_auth_snapshot_age_seconds", "gauge",
        "Seconds since the loaded auth snapshot was loaded.",
        age < 0 ? 0 : age);
    ngx_http_lava_status_one(b, "lava_token_cache_hits_total", "counter",
        "Forward tokens found in a worker's decoded-token cache.",
        sh->token_hits);
    ngx_http_lava_status_one(b, "lava_token_cache_misses_total", "counter",
        "Forward tokens decoded (not in the cache).", sh->token_misses);

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
