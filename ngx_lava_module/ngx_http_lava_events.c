/*
 * Per-worker event queue: usage events wait here, in order, until Redis has
 * acknowledged their XADD (docs/events.md).
 *
 * - ngx_http_lava_event_push() copies the entry into one malloc()ed block
 *   and returns at once; it never waits for Redis.
 * - Up to NGX_HTTP_LAVA_EVENTS_IN_FLIGHT XADDs are pipelined on this worker's
 *   own Redis connection. An entry leaves the queue only when its XADD got a
 *   stream id back. If the connection drops, or an XADD gets an error reply,
 *   the entries in flight stay where they are and the whole queue is sent
 *   again, oldest first, after the reconnect: delivery is at-least-once and
 *   request_id is the de-duplication key downstream.
 * - The memory queue holds lava_event_queue entries. With a disk spool
 *   (lava_event_spool, ngx_http_lava_spool.h) the events beyond that are
 *   appended to it, every event while Redis is unreachable too (so that a
 *   worker that dies then loses nothing), and every new event while the
 *   spool holds unread ones, so that the order stays the order of the
 *   requests. While Redis
 *   takes events, the spool is read back into the queue, a bounded number at
 *   a time; a record read back is acknowledged to its spool file once Redis
 *   stored it.
 * - Consecutive version 2 entries travel together, up to lava_event_batch
 *   in one XADD of version 3 (ngx_http_lava_event_v3.c): the queue keeps
 *   one entry per event (the spool, the in-flight records and the spend
 *   key records stay per event), only the command is shared, and its
 *   stream id is every member's. The last, not full group waits for
 *   company for at most lava_event_batch_wait (the flush timer).
 * - When neither the queue nor the spool can take an event, the operator's
 *   lava_event_spool_full decides: "refuse" answers new forward requests 503
 *   (ngx_http_lava_events_admit(), before any work is done) and "serve" goes
 *   on serving. Either way each event that could not be kept is counted, the
 *   count is logged at most once a second and shown in $lava_events_dropped.
 * - At process exit a bounded flush to Redis runs; then what is still in
 *   memory is written to the spool, to be replayed by another worker (or by
 *   the next nginx). Without a spool it is counted and logged as lost.
 * - An entry carries the request's in-flight record (ngx_http_lava_inflight.c)
 *   and releases it once it has left the worker for good: acknowledged by
 *   Redis, written to the spool, or dropped (counted). An entry lost at
 *   process exit keeps it: another worker books it as worker_lost.
 * - Every worker looks for spool files nobody holds (left by workers that
 *   exited or died, or by a previous nginx) when Redis is ready and its own
 *   backlog is empty, and replays them one at a time.
 */

#include "ngx_http_lava_redis.h"
#include "ngx_http_lava_spool.h"
#include "ngx_http_lava_event_v3.h"


#define NGX_HTTP_LAVA_EVENTS_IN_FLIGHT   256   /* XADDs awaiting a reply */
#define NGX_HTTP_LAVA_EVENTS_EXIT_MS     300   /* flush budget at exit */
#define NGX_HTTP_LAVA_EVENTS_REPORT_MS   1000  /* drop warnings at most */
#define NGX_HTTP_LAVA_EVENTS_CMD_ARGS    3     /* XADD <stream> * */
/* spool records held in memory at a time while replaying */
#define NGX_HTTP_LAVA_EVENTS_REFILL      1024
#define NGX_HTTP_LAVA_EVENTS_CLAIM_MS    2000  /* look for orphaned files */
#define NGX_HTTP_LAVA_EVENTS_CLAIM_NEXT_MS  100 /* after one was claimed */
/* the spool counts as full below this room (a few large events) */
#define NGX_HTTP_LAVA_EVENTS_ROOM_MIN    (16 * 1024)


/* One queued stream entry; argv and the bytes follow in the same block. */
typedef struct {
    ngx_queue_t     queue;
    ngx_uint_t      argc;        /* XADD, stream, "*", then field/value */
    const char    **argv;
    size_t         *argvlen;
    uint64_t        born_ms;     /* wall clock when queued, ms */
    /* read back from this spool file; NULL: never written to the spool */
    ngx_http_lava_spool_seg_t  *seg;
    /* the request's in-flight record, released when the entry has left the
     * worker for good (gen 0: none, e.g. read back from the spool) */
    lava_inflight_ref_t         held;
    /* the request's spend key record, told the stream id (or that there
     * is none) when the entry left the worker (rec NULL: none) */
    ngx_http_lava_spk_ref_t     spk;
    /* sent first in its XADD: the events the XADD carries, this one and
     * the group-1 entries after it in the queue */
    ngx_uint_t      group;
    unsigned        sent:1;      /* XADD written, reply pending */
} ngx_http_lava_events_entry_t;


typedef struct {
    ngx_http_lava_redis_t        *redis;
    ngx_queue_t                   queue;      /* oldest first */
    ngx_queue_t                  *next;       /* first unsent, or &queue */
    ngx_uint_t                    queued;     /* in flight included */
    ngx_uint_t                    in_flight;
    ngx_uint_t                    max;        /* lava_event_queue */
    ngx_uint_t                    batch;      /* lava_event_batch */
    ngx_msec_t                    wait;       /* lava_event_batch_wait */
    ngx_str_t                     stream;     /* NUL-terminated; lmcf's */
    ngx_log_t                    *log;

    ngx_http_lava_spool_t        *spool;      /* NULL: no spool */
    ngx_uint_t                    refuse;     /* lava_event_spool_full */
    ngx_event_t                   claim;      /* orphaned spool files */
    ngx_event_t                   flush;      /* sends what was pushed */

    ngx_http_lava_events_stats_t  stats;
    ngx_uint_t                    spool_run;  /* events spooled since the
                                                 spool was last empty */
    ngx_uint_t                    unreported; /* drops not logged yet */
    ngx_uint_t                    refused_unreported;
    ngx_event_t                   report;

    unsigned                      active:1;
    unsigned                      spooling:1; /* spool_run > 0, logged */
    unsigned                      draining:1; /* exit: no refill, no claim */
    unsigned                      claiming:1; /* took a file over lately */
    unsigned                      exiting:1;
    unsigned                      xadd_error_logged:1;
    unsigned                      nomem_logged:1;
} ngx_http_lava_events_t;


static void ngx_http_lava_events_ready(ngx_http_lava_redis_t *rd);
static void ngx_http_lava_events_reply(ngx_http_lava_redis_t *rd,
    redisReply *reply, void *privdata);
static void ngx_http_lava_events_send(ngx_http_lava_events_t *ev,
    ngx_uint_t force);
static ngx_http_lava_events_entry_t *ngx_http_lava_events_entry(
    ngx_http_lava_events_t *ev, ngx_uint_t argc, const char **argv,
    const size_t *argvlen);
static void ngx_http_lava_events_refill(ngx_http_lava_events_t *ev);
static ngx_int_t ngx_http_lava_events_claim(ngx_http_lava_events_t *ev);
static void ngx_http_lava_events_claim_handler(ngx_event_t *rev);
static void ngx_http_lava_events_exit_spool(ngx_http_lava_events_t *ev);
static uint64_t ngx_http_lava_events_now(void);
static void ngx_http_lava_events_drop(ngx_http_lava_events_t *ev);
static void ngx_http_lava_events_report(ngx_http_lava_events_t *ev);
static void ngx_http_lava_events_report_one(ngx_http_lava_events_t *ev,
    ngx_uint_t n, const char *what, ngx_uint_t total);
static void ngx_http_lava_events_report_handler(ngx_event_t *rev);
static void ngx_http_lava_events_flush_handler(ngx_event_t *rev);


static ngx_http_lava_events_t  ngx_http_lava_events;

/* the XADD of a group being sent; hiredis formats it at once */
static ngx_http_lava_event_v3_cmd_t  ngx_http_lava_events_cmd;
static const char   **ngx_http_lava_events_margv[LAVA_EVENT_V3_WRITE_MAX];
static const size_t  *ngx_http_lava_events_margvlen[LAVA_EVENT_V3_WRITE_MAX];

/* one record read back from the spool; copied into an entry at once */
static ngx_http_lava_spool_rec_t  ngx_http_lava_events_rec;


ngx_int_t
ngx_http_lava_events_init_process(ngx_cycle_t *cycle,
    ngx_http_lava_main_conf_t *lmcf)
{
    ngx_http_lava_events_t  *ev = &ngx_http_lava_events;

    ngx_memzero(ev, sizeof(ngx_http_lava_events_t));

    ngx_queue_init(&ev->queue);
    ev->next = &ev->queue;
    ev->max = lmcf->queue_max;
    /* version 1 entries cannot be gathered: one per XADD */
    ev->batch = lmcf->event_version == 2 ? lmcf->event_batch : 1;
    ev->wait = lmcf->event_batch_wait;
    ngx_http_lava_events_cmd.log = cycle->log;
    ev->stream = lmcf->stream;
    ev->log = cycle->log;

    ngx_http_lava_timer_init(&ev->report, ngx_http_lava_events_report_handler,
                             ev, cycle->log);

    ngx_http_lava_timer_init(&ev->claim, ngx_http_lava_events_claim_handler,
                             ev, cycle->log);

    ngx_http_lava_timer_init(&ev->flush, ngx_http_lava_events_flush_handler,
                             ev, cycle->log);

    ev->refuse = (lmcf->spool_full == NGX_HTTP_LAVA_SPOOL_FULL_REFUSE);

    if (lmcf->spool_dir.len) {
        ev->spool = ngx_http_lava_spool_create(cycle, lmcf);
        if (ev->spool == NULL) {
            return NGX_ERROR;
        }

        ngx_add_timer(&ev->claim, NGX_HTTP_LAVA_EVENTS_CLAIM_MS);
    }

    ev->active = 1;

    ev->redis = ngx_http_lava_redis_create(cycle, lmcf, "events",
                                           ngx_http_lava_events_ready,
                                           ngx_http_lava_events_reply, ev);
    if (ev->redis == NULL) {
        ev->active = 0;
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* set by the log phase for the next push (ngx_http_lava_spendkey.c) */
static ngx_http_lava_spk_ref_t  ngx_http_lava_events_spk;


void
ngx_http_lava_events_spend_key(ngx_http_lava_spk_ref_t ref)
{
    ngx_http_lava_events_spk = ref;
}


/* an entry that leaves the worker without a stream id: released */
static void
ngx_http_lava_events_gone(lava_inflight_ref_t held,
    ngx_http_lava_spk_ref_t spk)
{
    ngx_http_lava_inflight_release(held);
    ngx_http_lava_spendkey_sent(spk, NULL, 0);
}


ngx_int_t
ngx_http_lava_event_push(ngx_uint_t argc, const char **argv,
    const size_t *argvlen, lava_inflight_ref_t held)
{
    uint64_t                       now;
    ngx_int_t                      rc;
    ngx_http_lava_events_t        *ev = &ngx_http_lava_events;
    ngx_http_lava_events_entry_t  *e;
    ngx_http_lava_spk_ref_t        spk;

    spk = ngx_http_lava_events_spk;
    ngx_http_lava_events_spk.rec = NULL;

    if (argc == 0 || argc % 2) {
        ngx_http_lava_events_gone(held, spk);
        return NGX_ERROR;
    }

    if (!ev->active || ev->exiting) {
        ev->stats.dropped++;
        ngx_http_lava_events_gone(held, spk);
        return NGX_DECLINED;
    }

    now = ngx_http_lava_events_now();

    if (ev->spool
        && (ev->queued >= ev->max || ngx_http_lava_spool_unread(ev->spool)
            || !ngx_http_lava_redis_ready(ev->redis)))
    {
        /*
         * Beyond the memory bound, behind the events already on disk, or
         * Redis unreachable: then straight to disk, where a worker that dies
         * loses nothing (memory only holds what waits for a working Redis).
         */
        rc = ngx_http_lava_spool_append(ev->spool, argc, argv, argvlen, now);

        if (rc == NGX_OK) {
            /* on disk: it survives this worker */
            ngx_http_lava_events_gone(held, spk);

            ev->stats.pushed++;
            ev->stats.spooled++;
            ev->spool_run++;

            if (!ev->spooling) {
                ev->spooling = 1;
                ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                              "lava events: writing events to the spool (%s)",
                              !ngx_http_lava_redis_ready(ev->redis)
                              ? "redis not connected"
                              : ev->queued >= ev->max ? "queue full"
                                                      : "behind spooled events");
            }

            ngx_http_lava_events_refill(ev);
            return NGX_OK;
        }

        /* the spool is full or failing: memory, while it has room */
    }

    if (ev->queued >= ev->max) {
        /* counted and logged as the loss it is */
        ngx_http_lava_events_gone(held, spk);
        ngx_http_lava_events_drop(ev);
        return NGX_DECLINED;
    }

    e = ngx_http_lava_events_entry(ev, argc, argv, argvlen);
    if (e == NULL) {
        ngx_http_lava_events_gone(held, spk);
        return NGX_ERROR;
    }

    e->born_ms = now;
    e->held = held;
    e->spk = spk;

    ngx_queue_insert_tail(&ev->queue, &e->queue);

    if (ev->next == &ev->queue) {
        ev->next = &e->queue;
    }

    ev->queued++;
    ev->stats.pushed++;

    /*
     * Not sent at once: the events of the requests that end within the next
     * lava_event_batch_wait go with it, as one write to Redis (and, up to
     * lava_event_batch, as one entry), which then reads and answers them as
     * one batch. Per request that saves a write here and a read, a reply
     * write, a wake-up and (in one entry) the command's own work in Redis,
     * for at most that wait more on the way to the ledger.
     */
    if (!ev->flush.timer_set) {
        ngx_add_timer(&ev->flush, ev->wait);
    }

    return NGX_OK;
}


static void
ngx_http_lava_events_flush_handler(ngx_event_t *rev)
{
    ngx_http_lava_events_send(rev->data, 1);
}


ngx_int_t
ngx_http_lava_events_admit(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_http_lava_events_t  *ev = &ngx_http_lava_events;

    if (!ev->active || !ev->refuse || ev->queued < ev->max) {
        return NGX_DECLINED;
    }

    if (ev->spool
        && ngx_http_lava_spool_room(ev->spool) >= NGX_HTTP_LAVA_EVENTS_ROOM_MIN)
    {
        return NGX_DECLINED;
    }

    /* nothing is done that would have to be billed */
    ev->stats.refused++;
    ev->refused_unreported++;

    if (!ev->report.timer_set) {
        ngx_http_lava_events_report(ev);
        ngx_add_timer(&ev->report, NGX_HTTP_LAVA_EVENTS_REPORT_MS);
    }

    return ngx_http_lava_refuse(r, ctx, LAVA_REFUSAL_EVENT_SPOOL_FULL, NULL);
}


static ngx_http_lava_events_entry_t *
ngx_http_lava_events_entry(ngx_http_lava_events_t *ev, ngx_uint_t argc,
    const char **argv, const size_t *argvlen)
{
    u_char                        *p;
    size_t                         size;
    ngx_uint_t                     i, n;
    ngx_http_lava_events_entry_t  *e;

    n = NGX_HTTP_LAVA_EVENTS_CMD_ARGS + argc;

    size = sizeof(ngx_http_lava_events_entry_t)
           + n * (sizeof(const char *) + sizeof(size_t));

    for (i = 0; i < argc; i++) {
        size += argvlen[i];
    }

    /* the worker's heap, not a request pool: entries outlive requests */
    e = malloc(size);
    if (e == NULL) {
        if (!ev->nomem_logged) {
            ngx_log_error(NGX_LOG_ERR, ev->log, ngx_errno,
                          "lava events: malloc(%uz) failed, event not queued",
                          size);
            ev->nomem_logged = 1;
        }

        return NULL;
    }

    ev->nomem_logged = 0;

    e->argc = n;
    e->group = 1;
    e->sent = 0;
    e->seg = NULL;
    e->held.idx = 0;
    e->held.gen = 0;
    e->spk.rec = NULL;
    e->born_ms = 0;
    e->argv = (const char **) (e + 1);
    e->argvlen = (size_t *) (e->argv + n);

    e->argv[0] = "XADD";
    e->argvlen[0] = sizeof("XADD") - 1;
    e->argv[1] = (const char *) ev->stream.data;
    e->argvlen[1] = ev->stream.len;
    e->argv[2] = "*";
    e->argvlen[2] = 1;

    p = (u_char *) (e->argvlen + n);

    for (i = 0; i < argc; i++) {
        e->argv[NGX_HTTP_LAVA_EVENTS_CMD_ARGS + i] = (const char *) p;
        e->argvlen[NGX_HTTP_LAVA_EVENTS_CMD_ARGS + i] = argvlen[i];
        p = ngx_cpymem(p, argv[i], argvlen[i]);
    }

    return e;
}


/*
 * Moves spool records into the queue, oldest first, while Redis takes
 * events: a bounded number at a time, topped up as XADDs are acknowledged.
 */
static void
ngx_http_lava_events_refill(ngx_http_lava_events_t *ev)
{
    ngx_uint_t                     n;
    ngx_http_lava_spool_rec_t     *rec = &ngx_http_lava_events_rec;
    ngx_http_lava_events_entry_t  *e;

    if (ev->spool == NULL || ev->draining || ev->exiting
        || !ngx_http_lava_redis_ready(ev->redis))
    {
        return;
    }

    n = 0;

    while (ev->queued < ngx_min(ev->max, NGX_HTTP_LAVA_EVENTS_REFILL)) {

        if (ngx_http_lava_spool_next(ev->spool, rec) != NGX_OK) {
            break;
        }

        e = ngx_http_lava_events_entry(ev, rec->argc, rec->argv,
                                       rec->argvlen);
        if (e == NULL) {
            /* left unacknowledged in its file, which therefore stays on
             * disk and is replayed after this worker exits */
            break;
        }

        e->seg = rec->seg;

        ngx_queue_insert_tail(&ev->queue, &e->queue);

        if (ev->next == &ev->queue) {
            ev->next = &e->queue;
        }

        ev->queued++;
        ev->stats.replayed++;
        n++;
    }

    if (n) {
        ngx_http_lava_events_send(ev, 1);
    }

    if (ev->spooling && !ngx_http_lava_spool_unread(ev->spool)) {
        ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                      "lava events: the spool is read back (%ui events "
                      "spooled since it was last empty)", ev->spool_run);
        ev->spooling = 0;
        ev->spool_run = 0;
    }
}


/*
 * Takes over one orphaned spool file when this worker has nothing to do.
 * NGX_OK one was claimed; NGX_AGAIN busy (Redis away, or events of its own
 * to send), nothing looked at; NGX_DECLINED none is left.
 */
static ngx_int_t
ngx_http_lava_events_claim(ngx_http_lava_events_t *ev)
{
    if (ev->spool == NULL || ev->draining || ev->exiting) {
        return NGX_DECLINED;
    }

    if (!ngx_http_lava_redis_ready(ev->redis)
        || ngx_http_lava_spool_unread(ev->spool)
        || ev->queued >= NGX_HTTP_LAVA_EVENTS_IN_FLIGHT)
    {
        return NGX_AGAIN;
    }

    if (ngx_http_lava_spool_claim(ev->spool) != NGX_OK) {
        ev->claiming = 0;
        return NGX_DECLINED;
    }

    ev->claiming = 1;
    ngx_http_lava_events_refill(ev);

    return NGX_OK;
}


static void
ngx_http_lava_events_claim_handler(ngx_event_t *rev)
{
    ngx_http_lava_events_t  *ev = rev->data;

    if (ev->draining || ev->exiting) {
        return;
    }

    (void) ngx_http_lava_events_claim(ev);

    /* while files are being taken over, the next one follows promptly */
    ngx_add_timer(&ev->claim, ev->claiming ? NGX_HTTP_LAVA_EVENTS_CLAIM_NEXT_MS
                                           : NGX_HTTP_LAVA_EVENTS_CLAIM_MS);
}


static uint64_t
ngx_http_lava_events_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


void
ngx_http_lava_events_stats(ngx_http_lava_events_stats_t *st)
{
    ngx_http_lava_events_t  *ev = &ngx_http_lava_events;

    *st = ev->stats;
    st->queued = ev->queued;
    st->in_flight = ev->in_flight;
    st->redis_ready = ev->redis && ngx_http_lava_redis_ready(ev->redis);
    st->spool_bytes = 0;

    if (ev->spool) {
        ngx_http_lava_spool_stats_t  ss;

        ngx_http_lava_spool_stats(ev->spool, &ss);
        st->spool_bytes = ss.bytes;
    }
}


ngx_uint_t
ngx_http_lava_events_dropped(void)
{
    return ngx_http_lava_events.stats.dropped;
}


void
ngx_http_lava_events_exit_process(ngx_cycle_t *cycle)
{
    ngx_msec_t                     deadline;
    ngx_queue_t                   *q;
    ngx_http_lava_events_t        *ev = &ngx_http_lava_events;
    ngx_http_lava_events_entry_t  *e;

    /* from here on nothing more is read from the spool */
    ev->draining = 1;

    if (ev->claim.timer_set) {
        ngx_del_timer(&ev->claim);
    }

    if (ev->flush.timer_set) {
        ngx_del_timer(&ev->flush);
    }

    /* what the flush timer was to send */
    if (ev->active && ev->redis) {
        ngx_http_lava_events_send(ev, 1);
    }

    /*
     * nginx's event loop no longer runs here: drive the connection directly,
     * for a bounded time, so that a graceful exit or a reload with Redis up
     * leaves nothing behind.
     */
    if (ev->active && ev->queued && ev->redis) {
        ngx_time_update();
        deadline = ngx_current_msec + NGX_HTTP_LAVA_EVENTS_EXIT_MS;

        while (ev->queued
               && (ngx_msec_int_t) (deadline - ngx_current_msec) > 0)
        {
            if (ngx_http_lava_redis_drive(ev->redis,
                                          deadline - ngx_current_msec)
                != NGX_OK)
            {
                break;
            }
        }
    }

    ev->exiting = 1;

    if (ev->report.timer_set) {
        ngx_del_timer(&ev->report);
    }

    if (ev->unreported || ev->refused_unreported) {
        ngx_http_lava_events_report(ev);
    }

    /* also closes the auth poller's connection: no socket may stay open */
    ngx_http_lava_redis_destroy_all();
    ev->redis = NULL;

    if (!ev->active) {
        return;
    }

    if (ev->spool) {
        ngx_http_lava_events_exit_spool(ev);

    } else if (ev->queued) {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "lava events: %ui events not acknowledged by redis "
                      "are lost at worker exit (%ui sent, %ui dropped "
                      "since start; lava_event_spool keeps them)",
                      ev->queued, ev->stats.sent, ev->stats.dropped);
    }

    while (!ngx_queue_empty(&ev->queue)) {
        q = ngx_queue_head(&ev->queue);
        ngx_queue_remove(q);
        e = ngx_queue_data(q, ngx_http_lava_events_entry_t, queue);
        free(e);
    }

    ev->queued = 0;
    ev->in_flight = 0;
    ev->next = &ev->queue;
    ev->active = 0;
}


/*
 * Exit with a spool: events that only exist in memory go to this worker's
 * exit file, in queue order; events read back from spool files are still in
 * those files, which are released (unlocked) for another worker to replay.
 */
static void
ngx_http_lava_events_exit_spool(ngx_http_lava_events_t *ev)
{
    ngx_uint_t                     kept, lost, left;
    ngx_queue_t                   *q;
    ngx_http_lava_events_entry_t  *e;

    kept = 0;
    lost = 0;
    left = 0;

    for (q = ngx_queue_head(&ev->queue);
         q != ngx_queue_sentinel(&ev->queue);
         q = ngx_queue_next(q))
    {
        e = ngx_queue_data(q, ngx_http_lava_events_entry_t, queue);

        if (e->seg) {
            left++;
            continue;
        }

        if (ngx_http_lava_spool_exit_append(ev->spool,
                                            e->argc - NGX_HTTP_LAVA_EVENTS_CMD_ARGS,
                                            e->argv + NGX_HTTP_LAVA_EVENTS_CMD_ARGS,
                                            e->argvlen + NGX_HTTP_LAVA_EVENTS_CMD_ARGS,
                                            e->born_ms)
            == NGX_OK)
        {
            ngx_http_lava_events_gone(e->held, e->spk);
            e->held.gen = 0;
            e->spk.rec = NULL;
            kept++;

        } else {
            lost++;
        }
    }

    if (lost) {
        ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                      "lava events: %ui events not acknowledged by redis "
                      "could not be written to the spool and are lost at "
                      "worker exit", lost);
    }

    if (kept || left || ngx_http_lava_spool_unread(ev->spool)) {
        ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                      "lava events: worker exit with %ui events written to "
                      "the spool now; %ui read back and not acknowledged, "
                      "and %s unread, stay in their spool files for the "
                      "other workers", kept, left,
                      ngx_http_lava_spool_unread(ev->spool) ? "more" : "none");
    }

    ngx_http_lava_spool_close(ev->spool);
    ev->spool = NULL;
}


static void
ngx_http_lava_events_ready(ngx_http_lava_redis_t *rd)
{
    ngx_http_lava_events_t  *ev = ngx_http_lava_redis_data(rd);

    /*
     * Every XADD of the previous connection got its reply or its NULL before
     * this one became ready: the whole queue is unsent, oldest first.
     */
    ev->in_flight = 0;
    ev->next = ngx_queue_head(&ev->queue);

    ngx_http_lava_events_send(ev, 1);

    /* what waits on disk, then what others left behind */
    ngx_http_lava_events_refill(ev);
    (void) ngx_http_lava_events_claim(ev);
}


/* 1 when the entry may travel in an XADD of version 3 */
static ngx_uint_t
ngx_http_lava_events_member(ngx_http_lava_events_entry_t *e)
{
    return ngx_http_lava_event_v3_member(
               e->argc - NGX_HTTP_LAVA_EVENTS_CMD_ARGS,
               e->argv + NGX_HTTP_LAVA_EVENTS_CMD_ARGS,
               e->argvlen + NGX_HTTP_LAVA_EVENTS_CMD_ARGS);
}


/*
 * Sends the unsent entries, oldest first, each alone or with the version 2
 * entries that follow it (up to lava_event_batch in one XADD). Unless
 * forced (the flush timer, a reconnect, a refill, the exit), a group that
 * reaches the end of the queue without being full waits for the flush
 * timer: the next events may still join it.
 */
static void
ngx_http_lava_events_send(ngx_http_lava_events_t *ev, ngx_uint_t force)
{
    ngx_int_t                      rc;
    ngx_uint_t                     k, i;
    ngx_queue_t                   *q, *last;
    ngx_http_lava_events_entry_t  *e, *m;
    ngx_http_lava_event_v3_cmd_t  *cmd = &ngx_http_lava_events_cmd;

    while (ev->next != &ev->queue
           && ev->in_flight < NGX_HTTP_LAVA_EVENTS_IN_FLIGHT)
    {
        e = ngx_queue_data(ev->next, ngx_http_lava_events_entry_t, queue);

        last = ev->next;
        k = 1;

        if (ev->batch > 1 && ngx_http_lava_events_member(e)) {

            for (q = ngx_queue_next(last);
                 k < ev->batch && q != ngx_queue_sentinel(&ev->queue);
                 q = ngx_queue_next(q))
            {
                m = ngx_queue_data(q, ngx_http_lava_events_entry_t, queue);

                if (!ngx_http_lava_events_member(m)) {
                    break;
                }

                last = q;
                k++;
            }

            if (k < ev->batch && !force
                && ngx_queue_next(last) == ngx_queue_sentinel(&ev->queue))
            {
                if (!ev->flush.timer_set) {
                    ngx_add_timer(&ev->flush, ev->wait);
                }

                return;
            }
        }

        if (k == 1) {
            rc = ngx_http_lava_redis_command(ev->redis, e, (int) e->argc,
                                             e->argv, e->argvlen);

        } else {
            for (q = ev->next, i = 0; i < k; q = ngx_queue_next(q), i++) {
                m = ngx_queue_data(q, ngx_http_lava_events_entry_t, queue);
                ngx_http_lava_events_margv[i] =
                                   m->argv + NGX_HTTP_LAVA_EVENTS_CMD_ARGS;
                ngx_http_lava_events_margvlen[i] =
                                   m->argvlen + NGX_HTTP_LAVA_EVENTS_CMD_ARGS;
            }

            if (ngx_http_lava_event_v3_build(cmd, &ev->stream, k,
                                             ngx_http_lava_events_margv,
                                             ngx_http_lava_events_margvlen)
                == NGX_OK)
            {
                rc = ngx_http_lava_redis_command(ev->redis, e, cmd->argc,
                                                 cmd->argv, cmd->argvlen);
                ngx_http_lava_event_v3_done(cmd);

            } else {
                /* no memory for the payload: this one alone */
                k = 1;
                last = ev->next;
                rc = ngx_http_lava_redis_command(ev->redis, e, (int) e->argc,
                                                 e->argv, e->argvlen);
            }
        }

        if (rc == NGX_DECLINED) {
            return;                 /* not connected: sent once ready */
        }

        if (rc != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                          "lava events: xadd could not be queued in hiredis, "
                          "reconnecting");
            ngx_http_lava_redis_fail(ev->redis);
            return;
        }

        e->group = k;

        for (q = ev->next, i = 0; i < k; q = ngx_queue_next(q), i++) {
            m = ngx_queue_data(q, ngx_http_lava_events_entry_t, queue);
            m->sent = 1;
        }

        ev->in_flight++;
        ev->next = ngx_queue_next(last);
    }
}


static void
ngx_http_lava_events_reply(ngx_http_lava_redis_t *rd, redisReply *reply,
    void *privdata)
{
    size_t                         n;
    u_char                         err[128];
    ngx_uint_t                     i, k;
    ngx_queue_t                   *q;
    ngx_http_lava_events_t        *ev = ngx_http_lava_redis_data(rd);
    ngx_http_lava_events_entry_t  *e = privdata, *m;

    ev->in_flight--;

    /* the XADD's events: e and the group - 1 entries after it, still at the
     * head of the queue in the order they were sent */
    k = e->group;

    if (reply
        && (reply->type == REDIS_REPLY_STRING
            || reply->type == REDIS_REPLY_STATUS))
    {
        /* the stream entry id: stored, and every member's */
        q = &e->queue;

        for (i = 0; i < k; i++) {
            m = ngx_queue_data(q, ngx_http_lava_events_entry_t, queue);
            q = ngx_queue_next(q);

            if (m->seg && ev->spool) {
                ngx_http_lava_spool_ack(ev->spool, m->seg);
            }

            ngx_http_lava_inflight_release(m->held);
            ngx_http_lava_spendkey_sent(m->spk, reply->str,
                                        (size_t) reply->len);

            ngx_queue_remove(&m->queue);
            free(m);
        }

        ev->queued -= k;
        ev->stats.sent += k;

        if (ev->xadd_error_logged) {
            ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                          "lava events: xadd to \"%V\" works again",
                          &ev->stream);
            ev->xadd_error_logged = 0;
        }

        if (!ev->exiting) {
            /* at exit no timer runs: nothing waits for company then */
            ngx_http_lava_events_send(ev, ev->draining);
            ngx_http_lava_events_refill(ev);
        }

        return;
    }

    /* not stored: the members wait in the queue to be sent again */
    for (q = &e->queue, i = 0; i < k; q = ngx_queue_next(q), i++) {
        m = ngx_queue_data(q, ngx_http_lava_events_entry_t, queue);
        m->sent = 0;
    }

    if (reply == NULL) {
        return;             /* connection gone: sent again after reconnect */
    }

    /*
     * An error reply (OOM, READONLY, WRONGTYPE, NOAUTH, LOADING...) is about
     * Redis, not about this entry. Keep it and reconnect after the backoff:
     * dropping the connection also cancels the entries pipelined after it,
     * which are then sent again in queue order.
     */
    if (!ev->xadd_error_logged) {
        n = ngx_http_lava_redis_errstr(reply, err, sizeof(err));
        ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                      "lava events: xadd to \"%V\" failed (%*s), "
                      "events stay queued and are retried",
                      &ev->stream, n, err);
        ev->xadd_error_logged = 1;
    }

    ngx_http_lava_redis_fail(rd);
}


static void
ngx_http_lava_events_drop(ngx_http_lava_events_t *ev)
{
    ev->stats.dropped++;
    ev->unreported++;

    if (ev->report.timer_set) {
        return;                 /* reported when the timer fires */
    }

    ngx_http_lava_events_report(ev);
    ngx_add_timer(&ev->report, NGX_HTTP_LAVA_EVENTS_REPORT_MS);
}


static void
ngx_http_lava_events_report(ngx_http_lava_events_t *ev)
{
    ngx_http_lava_events_report_one(ev, ev->unreported, "events dropped",
                                    ev->stats.dropped);
    ngx_http_lava_events_report_one(ev, ev->refused_unreported,
                                    "requests refused with 503",
                                    ev->stats.refused);

    ev->unreported = 0;
    ev->refused_unreported = 0;
}


/* what: "events dropped" or "requests refused with 503", n since the last
 * report, total since start */
static void
ngx_http_lava_events_report_one(ngx_http_lava_events_t *ev, ngx_uint_t n,
    const char *what, ngx_uint_t total)
{
    if (n) {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "lava events: queue (%ui events) %s, %ui %s, "
                      "%ui since start", ev->max,
                      ev->spool ? "and spool full" : "full", n, what, total);
    }
}


static void
ngx_http_lava_events_report_handler(ngx_event_t *rev)
{
    ngx_http_lava_events_t  *ev = rev->data;

    if (ev->unreported || ev->refused_unreported) {
        ngx_http_lava_events_report(ev);
        ngx_add_timer(&ev->report, NGX_HTTP_LAVA_EVENTS_REPORT_MS);
    }
}
