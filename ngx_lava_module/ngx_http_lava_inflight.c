/*
 * In-flight records in shared memory (lava_inflight_zone): a request a worker
 * forwards is recorded there, so that when the worker dies (kill -9, a crash)
 * another books it as outcome worker_lost instead of losing it
 * (docs/security.md, class 12). The table is lib/lava_inflight.c; this file
 * is the zone, the claim before forwarding, the updates as the answer
 * streams, the release once the event has left the worker, and the scan for
 * records of dead workers.
 *
 * - Claimed in the precontent phase of a forward location: the request was
 *   routed, authenticated and its body read, and goes to the provider.
 * - Updated in place by the body filter (ngx_http_lava_inflight_update): a
 *   few stores, no lock; nobody reads a record while its owner lives.
 * - At the log phase the final usage goes into the record (DONE) and the
 *   record goes with the event to the queue (ngx_http_lava_event_push),
 *   which releases it once Redis acknowledged the XADD or the spool wrote
 *   it, or when the event could not be kept (a drop the queue counts).
 * - Every worker looks, when it starts (the master respawns a killed worker)
 *   and once a second, for records whose owner is gone: kill(pid, 0) fails
 *   with ESRCH, or /proc/<pid>/stat says zombie or another process start
 *   time (the pid was reused). Old workers of a reload are alive and drain
 *   their own. Each such record is taken under the zone's mutex (so two
 *   workers never book it twice), and its event (ngx_http_lava_log_lost())
 *   takes the same way out as any other.
 * - A full table serves the request without a record (counted, logged once
 *   a second): such a request is lost with its worker, as without the zone.
 * - The zone survives a reload when its size is unchanged (records of old
 *   and new workers side by side); with a new size the new workers start an
 *   empty table, and the old workers' records stay in the old one, where
 *   nobody scans them.
 */

#include "ngx_http_lava_module.h"


#define NGX_HTTP_LAVA_INFLIGHT_ZONE      "lava_inflight"
#define NGX_HTTP_LAVA_INFLIGHT_DEFAULT   (8 * 1024 * 1024)
#define NGX_HTTP_LAVA_INFLIGHT_SCAN_MS   1000
#define NGX_HTTP_LAVA_INFLIGHT_FIRST_MS  1      /* right after start */
#define NGX_HTTP_LAVA_INFLIGHT_REPORT_MS 1000   /* "table full" at most */
#define NGX_HTTP_LAVA_INFLIGHT_BATCH     64     /* records taken per lock */
/* owners looked at per scan: every worker of this nginx and of the one
 * before a reload */
#define NGX_HTTP_LAVA_INFLIGHT_OWNERS    1024


typedef struct {
    lava_inflight_table_t  *table;      /* NULL: no zone in this process */
    ngx_slab_pool_t        *shpool;
    lava_inflight_owner_t   self;
    ngx_event_t             scan;
    ngx_log_t              *log;
    ngx_uint_t              full;       /* served without a record, not
                                           reported yet */
    ngx_msec_t              full_at;    /* last report */
    unsigned                proc:1;     /* /proc/<pid>/stat is readable */
    lava_inflight_owner_t   owners[NGX_HTTP_LAVA_INFLIGHT_OWNERS];
} ngx_http_lava_inflight_t;


static ngx_int_t ngx_http_lava_inflight_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_lava_inflight_handler(ngx_http_request_t *r);
static void ngx_http_lava_inflight_cleanup(void *data);
static void ngx_http_lava_inflight_scan_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_lava_inflight_stat(int64_t pid, char *state,
    uint64_t *start);


/* this worker's; from the cycle pool (NULL: no zone, or not a worker) */
static ngx_http_lava_inflight_t  *ngx_http_lava_inflight;


/* ---- configuration ---- */

static ngx_shm_zone_t *
ngx_http_lava_inflight_add(ngx_conf_t *cf, size_t size)
{
    ngx_str_t        name = ngx_string(NGX_HTTP_LAVA_INFLIGHT_ZONE);
    ngx_shm_zone_t  *zone;

    zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_lava_module);
    if (zone == NULL) {
        return NULL;
    }

    if (zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "shared memory zone \"%V\" is already used",
                           &name);
        return NULL;
    }

    zone->init = ngx_http_lava_inflight_init_zone;
    zone->data = (void *) 1;    /* taken; the table once initialized */

    return zone;
}


/* lava_inflight_zone <size> */
char *
ngx_http_lava_inflight_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_lava_main_conf_t *lmcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (lmcf->inflight_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[1]);
    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid lava_inflight_zone size \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    lmcf->inflight_zone = ngx_http_lava_inflight_add(cf, size);

    return lmcf->inflight_zone ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/* init_main_conf: the default zone wherever lava forwards */
char *
ngx_http_lava_inflight_conf(ngx_conf_t *cf, ngx_http_lava_main_conf_t *lmcf)
{
    if (lmcf->inflight_zone || lmcf->providers.nelts == 0) {
        return NGX_CONF_OK;
    }

    lmcf->inflight_zone = ngx_http_lava_inflight_add(cf,
                                               NGX_HTTP_LAVA_INFLIGHT_DEFAULT);

    return lmcf->inflight_zone ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/* postconfiguration: records are claimed in the precontent phase */
ngx_int_t
ngx_http_lava_inflight_postconf(ngx_conf_t *cf,
    ngx_http_lava_main_conf_t *lmcf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    if (lmcf->inflight_zone == NULL) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_lava_inflight_handler;

    return NGX_OK;
}


static ngx_int_t
ngx_http_lava_inflight_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    uint32_t                n;
    ngx_uint_t              nomem;
    ngx_slab_pool_t        *shpool;
    lava_inflight_table_t  *t;

    if (data) {
        /* a reload with the same size: the records of the old workers,
         * which are still draining, stay where the new ones find them */
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    /* as many slots as the slab allocator gives in one block */
    n = lava_inflight_slots(shm_zone->shm.size);
    t = NULL;

    nomem = shpool->log_nomem;
    shpool->log_nomem = 0;

    while (n) {
        t = ngx_slab_alloc(shpool, lava_inflight_size(n));
        if (t) {
            break;
        }

        n -= (n / 32) ? n / 32 : 1;
    }

    shpool->log_nomem = nomem;

    if (t == NULL || lava_inflight_init(t, n) == NULL) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "lava_inflight_zone \"%V\" is too small for one "
                      "in-flight record", &shm_zone->shm.name);
        return NGX_ERROR;
    }

    shpool->data = t;
    shm_zone->data = t;

    ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                  "lava inflight: zone \"%V\" holds %uD in-flight records",
                  &shm_zone->shm.name, n);

    return NGX_OK;
}


/* ---- process ---- */

ngx_int_t
ngx_http_lava_inflight_init_process(ngx_cycle_t *cycle,
    ngx_http_lava_main_conf_t *lmcf)
{
    char                       st;
    ngx_http_lava_inflight_t  *in;

    ngx_http_lava_inflight = NULL;

    if (lmcf->inflight_zone == NULL || lmcf->inflight_zone->shm.addr == NULL) {
        return NGX_OK;
    }

    in = ngx_pcalloc(cycle->pool, sizeof(ngx_http_lava_inflight_t));
    if (in == NULL) {
        return NGX_ERROR;
    }

    in->table = lmcf->inflight_zone->data;
    in->shpool = (ngx_slab_pool_t *) lmcf->inflight_zone->shm.addr;
    in->log = cycle->log;
    in->self.pid = ngx_pid;

    /* the start time tells this process from a later one with its pid;
     * without /proc only the pid does */
    in->proc = (ngx_http_lava_inflight_stat(ngx_pid, &st, &in->self.start)
                == NGX_OK);
    if (!in->proc) {
        in->self.start = 0;
    }

    ngx_http_lava_timer_init(&in->scan, ngx_http_lava_inflight_scan_handler,
                             in, cycle->log);

    ngx_http_lava_inflight = in;

    /* a respawned worker books its predecessor's requests at once */
    ngx_add_timer(&in->scan, NGX_HTTP_LAVA_INFLIGHT_FIRST_MS);

    return NGX_OK;
}


void
ngx_http_lava_inflight_exit_process(ngx_cycle_t *cycle)
{
    uint32_t                   i;
    ngx_uint_t                 left;
    lava_inflight_rec_t       *r;
    ngx_http_lava_inflight_t  *in = ngx_http_lava_inflight;

    if (in == NULL) {
        return;
    }

    if (in->scan.timer_set) {
        ngx_del_timer(&in->scan);
    }

    /* after the event queue's exit: what is left had no event that left
     * this worker (not acknowledged nor spooled) */
    left = 0;

    ngx_shmtx_lock(&in->shpool->mutex);

    for (i = 0; i < in->table->hwm; i++) {
        r = &in->table->slot[i];

        if (r->state != LAVA_INFLIGHT_FREE
            && r->owner.pid == in->self.pid
            && r->owner.start == in->self.start)
        {
            left++;
        }
    }

    ngx_shmtx_unlock(&in->shpool->mutex);

    if (left) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "lava inflight: %ui requests of this worker have no "
                      "event that left it; another worker books them as "
                      "worker_lost", left);
    }
}


/* ---- the request ---- */

static int64_t
ngx_http_lava_inflight_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}


static void
ngx_http_lava_inflight_str(char *dst, size_t size, ngx_str_t *s)
{
    (void) lava_inflight_copy(dst, size, (const char *) s->data, s->len);
}


static void
ngx_http_lava_inflight_fill(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    lava_inflight_rec_t *rec)
{
    lava_request_t  *rq;

    ngx_memcpy(rec->request_id, ctx->request_id, NGX_HTTP_LAVA_REQID_LEN);
    rec->request_id[NGX_HTTP_LAVA_REQID_LEN] = '\0';

    rec->ts_ms = (int64_t) ctx->start_sec * 1000 + ctx->start_msec_part;
    rec->updated_ms = ngx_http_lava_inflight_now();

    ngx_http_lava_inflight_str(rec->merchant_id, sizeof(rec->merchant_id),
                               &ctx->merchant_id);
    ngx_http_lava_inflight_str(rec->customer_id, sizeof(rec->customer_id),
                               &ctx->customer_id);
    ngx_http_lava_inflight_str(rec->meter, sizeof(rec->meter), &ctx->meter);
    ngx_http_lava_inflight_str(rec->spend_key_id, sizeof(rec->spend_key_id),
                               &ctx->spend_key_id);

    if (ctx->provider) {
        ngx_http_lava_inflight_str(rec->provider, sizeof(rec->provider),
                                   &ctx->provider->name);
    }

    ngx_http_lava_inflight_str(rec->host, sizeof(rec->host), &ctx->host);
    ngx_http_lava_inflight_str(rec->endpoint, sizeof(rec->endpoint),
                               &ctx->path);
    ngx_http_lava_inflight_str(rec->method, sizeof(rec->method),
                               &r->method_name);
    ngx_http_lava_inflight_str(rec->model, sizeof(rec->model), &ctx->model);

    /* metadata too long for the record is left out, never cut (it is a JSON
     * object) */
    if (ctx->metadata.len < sizeof(rec->metadata)) {
        ngx_http_lava_inflight_str(rec->metadata, sizeof(rec->metadata),
                                   &ctx->metadata);
    }

    rec->payer = ctx->payer == NGX_HTTP_LAVA_PAYER_CUSTOMER
                 ? LAVA_INFLIGHT_PAYER_CUSTOMER
                 : ctx->payer == NGX_HTTP_LAVA_PAYER_MERCHANT
                   ? LAVA_INFLIGHT_PAYER_MERCHANT : LAVA_INFLIGHT_PAYER_NONE;
    rec->key_source = ctx->merchant_id.len == 0 ? LAVA_INFLIGHT_KEY_NONE
                      : ctx->byok ? LAVA_INFLIGHT_KEY_BYOK
                                  : LAVA_INFLIGHT_KEY_MANAGED;
    rec->stream = ctx->stream;
    rec->ep = ctx->route.ep;
    rec->fmt = ctx->route.fmt;
    rec->request_bytes = ctx->request_bytes;
    rec->rq_characters = -1;

    rq = ctx->req;

    if (rq) {
        rec->rq_parsed = rq->parsed;
        rec->rq_model_default = rq->model_default;
        rec->rq_n = rq->n;
        rec->rq_characters = rq->characters;
        rec->rq_text_bytes = rq->text_bytes;
        rec->rq_max_output = rq->max_output;
    }
}


static ngx_int_t
ngx_http_lava_inflight_handler(ngx_http_request_t *r)
{
    ngx_msec_t                 now;
    ngx_pool_cleanup_t        *cln;
    lava_inflight_rec_t       *rec;
    ngx_http_lava_ctx_t       *ctx;
    ngx_http_lava_loc_conf_t  *llcf;
    ngx_http_lava_inflight_t  *in = ngx_http_lava_inflight;

    if (r != r->main || in == NULL) {
        return NGX_DECLINED;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);
    if (!llcf->forward) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_lava_get_ctx(r);

    /* forwarded from here on: routed, its body read and accepted */
    if (ctx == NULL || !ctx->routed || !ctx->body_done || ctx->refused
        || ctx->body_refused || ctx->inflight.gen)
    {
        return NGX_DECLINED;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_shmtx_lock(&in->shpool->mutex);
    rec = lava_inflight_claim(in->table, &in->self, &ctx->inflight);
    ngx_shmtx_unlock(&in->shpool->mutex);

    if (rec == NULL) {
        /* served all the same: a full table must not refuse traffic */
        in->full++;
        now = ngx_current_msec;

        if (in->full_at == 0
            || now - in->full_at >= NGX_HTTP_LAVA_INFLIGHT_REPORT_MS)
        {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "lava inflight: table full (%uD records), %ui "
                          "requests served without an in-flight record "
                          "(lava_inflight_zone)", in->table->nslots,
                          in->full);
            in->full = 0;
            in->full_at = now ? now : 1;
        }

        return NGX_DECLINED;
    }

    ngx_http_lava_inflight_fill(r, ctx, rec);

    /* normally handed to the event at the log phase; a request that ends
     * without one gives its record back here */
    cln->handler = ngx_http_lava_inflight_cleanup;
    cln->data = ctx;

    return NGX_DECLINED;
}


static void
ngx_http_lava_inflight_cleanup(void *data)
{
    ngx_http_lava_ctx_t  *ctx = data;

    if (ctx->inflight.gen) {
        ngx_http_lava_inflight_release(ctx->inflight);
        ctx->inflight.gen = 0;
    }
}


lava_inflight_rec_t *
ngx_http_lava_inflight_rec(ngx_http_lava_ctx_t *ctx)
{
    return ngx_http_lava_inflight
           ? lava_inflight_get(ngx_http_lava_inflight->table, ctx->inflight)
           : NULL;
}


/* the body filter, per buffer: counters in place, no lock */
void
ngx_http_lava_inflight_update(ngx_http_lava_ctx_t *ctx)
{
    lava_tap_t           *t;
    lava_inflight_rec_t  *rec;

    rec = ngx_http_lava_inflight_rec(ctx);
    if (rec == NULL) {
        return;
    }

    rec->updated_ms = (int64_t) ngx_cached_time->sec * 1000
                      + ngx_cached_time->msec;

    if (ctx->got_headers) {
        rec->status = ctx->upstream_status;
        rec->ttfb_ms = ctx->ttfb_ms;
    }

    rec->bytes_out = ctx->bytes_out;
    rec->sse = ctx->sse;
    rec->character_cost = ctx->character_cost;

    t = ctx->tap;

    if (t) {
        rec->content_bytes = t->content_bytes;
        rec->tap_flags = t->flags;

        if (t->usage.seen) {
            rec->usage = t->usage.buckets;
            rec->usage_final = t->usage.final;
            rec->error_event = t->usage.error_event;
            rec->usage_seen = 1;
        }
    }
}


/* the log phase: the event is built; the record says what it says */
void
ngx_http_lava_inflight_done(ngx_http_lava_ctx_t *ctx,
    const lava_usage_buckets_t *usage, ngx_str_t *model, int64_t status,
    int64_t duration_ms)
{
    lava_inflight_rec_t  *rec;

    rec = ngx_http_lava_inflight_rec(ctx);
    if (rec == NULL) {
        return;
    }

    ngx_http_lava_inflight_update(ctx);

    rec->usage = *usage;
    rec->done_source = (int32_t) ctx->usage_source;
    rec->done_meter_flags = ctx->meter_flags;
    rec->done_status = status;
    rec->done_duration_ms = duration_ms;
    ngx_http_lava_inflight_str(rec->model, sizeof(rec->model), model);

    /* a worker that dies before the state is set leaves an estimate */
    ngx_memory_barrier();
    rec->state = LAVA_INFLIGHT_DONE;
}


void
ngx_http_lava_inflight_release(lava_inflight_ref_t ref)
{
    ngx_http_lava_inflight_t  *in = ngx_http_lava_inflight;

    if (in == NULL || ref.gen == 0) {
        return;
    }

    ngx_shmtx_lock(&in->shpool->mutex);
    (void) lava_inflight_release(in->table, ref);
    ngx_shmtx_unlock(&in->shpool->mutex);
}


/* ---- dead workers ---- */

static ngx_int_t
ngx_http_lava_inflight_stat(int64_t pid, char *state, uint64_t *start)
{
    int      fd;
    char     path[64], buf[1024];
    ssize_t  n;

    ngx_sprintf((u_char *) path, "/proc/%L/stat%Z", pid);

    fd = open(path, O_RDONLY);
    if (fd == -1) {
        return NGX_ERROR;
    }

    n = read(fd, buf, sizeof(buf));
    (void) close(fd);

    if (n <= 0 || lava_inflight_proc_stat(buf, (size_t) n, state, start) != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_http_lava_inflight_alive(ngx_http_lava_inflight_t *in,
    const lava_inflight_owner_t *o)
{
    char       state;
    uint64_t   start;
    ngx_int_t  rc;

    if (o->pid <= 0) {
        return 0;
    }

    if (kill((ngx_pid_t) o->pid, 0) == -1 && ngx_errno == NGX_ESRCH) {
        return 0;
    }

    if (!in->proc) {
        return 1;
    }

    rc = ngx_http_lava_inflight_stat(o->pid, &state, &start);

    if (rc == NGX_ERROR) {
        /* gone between the two looks, or not ours to read: alive unless
         * it is gone */
        return ngx_errno != NGX_ENOENT;
    }

    if (rc != NGX_OK) {
        return 1;
    }

    /* a zombie the master has not reaped yet, or the pid of a later
     * process */
    if (state == 'Z' || state == 'X' || state == 'x'
        || (o->start && start != o->start))
    {
        return 0;
    }

    return 1;
}


static void
ngx_http_lava_inflight_scan(ngx_http_lava_inflight_t *in)
{
    size_t                  n, nd, k, i, j;
    ngx_uint_t              booked;
    lava_inflight_rec_t    *rec;
    lava_inflight_ref_t     refs[NGX_HTTP_LAVA_INFLIGHT_BATCH];
    lava_inflight_owner_t  *owners = in->owners;

    ngx_shmtx_lock(&in->shpool->mutex);
    n = lava_inflight_owners(in->table, &in->self, owners,
                             NGX_HTTP_LAVA_INFLIGHT_OWNERS);
    ngx_shmtx_unlock(&in->shpool->mutex);

    /* outside the lock: kill() and /proc */
    nd = 0;

    for (i = 0; i < n; i++) {
        if (!ngx_http_lava_inflight_alive(in, &owners[i])) {
            owners[nd++] = owners[i];
        }
    }

    for (i = 0; i < nd; i++) {
        booked = 0;

        do {
            ngx_shmtx_lock(&in->shpool->mutex);
            k = lava_inflight_take(in->table, &owners[i], &in->self, refs,
                                   NGX_HTTP_LAVA_INFLIGHT_BATCH);
            ngx_shmtx_unlock(&in->shpool->mutex);

            /* this worker owns them now: if it dies too, the next one
             * books them */
            for (j = 0; j < k; j++) {
                rec = lava_inflight_get(in->table, refs[j]);
                if (rec == NULL) {
                    continue;
                }

                (void) ngx_http_lava_log_lost(rec, refs[j], in->log);
                booked++;
            }

        } while (k == NGX_HTTP_LAVA_INFLIGHT_BATCH);

        /* the dead worker's wallet reservations go too, held whole
         * until the worker_lost events are booked */
        ngx_http_lava_wallet_owner_lost((ngx_pid_t) owners[i].pid);
        ngx_http_lava_spendkey_owner_lost((ngx_pid_t) owners[i].pid);

        ngx_log_error(NGX_LOG_NOTICE, in->log, 0,
                      "lava inflight: worker %L is gone, %ui of its "
                      "requests booked as worker_lost", owners[i].pid,
                      booked);
    }
}


static void
ngx_http_lava_inflight_scan_handler(ngx_event_t *ev)
{
    ngx_http_lava_inflight_t  *in = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_http_lava_inflight_scan(in);

    ngx_add_timer(&in->scan, NGX_HTTP_LAVA_INFLIGHT_SCAN_MS);
}
