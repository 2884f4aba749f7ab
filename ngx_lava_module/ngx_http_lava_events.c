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
 * - A full queue refuses new entries: counted, and logged at most once a
 *   second with the count.
 * - At process exit a bounded flush runs; what is still queued is counted and
 *   logged as lost.
 *
 * The queue is a self-contained piece (entries, order, acknowledgement) so
 * that a disk spool can later take the overflow and replay it.
 */

#include "ngx_http_lava_redis.h"


#define NGX_HTTP_LAVA_EVENTS_IN_FLIGHT   256   /* XADDs awaiting a reply */
#define NGX_HTTP_LAVA_EVENTS_EXIT_MS     300   /* flush budget at exit */
#define NGX_HTTP_LAVA_EVENTS_REPORT_MS   1000  /* drop warnings at most */
#define NGX_HTTP_LAVA_EVENTS_CMD_ARGS    3     /* XADD <stream> * */


/* One queued stream entry; argv and the bytes follow in the same block. */
typedef struct {
    ngx_queue_t     queue;
    ngx_uint_t      argc;        /* XADD, stream, "*", then field/value */
    const char    **argv;
    size_t         *argvlen;
    unsigned        sent:1;      /* XADD written, reply pending */
} ngx_http_lava_events_entry_t;


typedef struct {
    ngx_http_lava_redis_t        *redis;
    ngx_queue_t                   queue;      /* oldest first */
    ngx_queue_t                  *next;       /* first unsent, or &queue */
    ngx_uint_t                    queued;     /* in flight included */
    ngx_uint_t                    in_flight;
    ngx_uint_t                    max;        /* lava_event_queue */
    ngx_str_t                     stream;     /* NUL-terminated; lmcf's */
    ngx_log_t                    *log;

    ngx_http_lava_events_stats_t  stats;
    ngx_uint_t                    unreported; /* drops not logged yet */
    ngx_event_t                   report;

    unsigned                      active:1;
    unsigned                      exiting:1;
    unsigned                      xadd_error_logged:1;
    unsigned                      nomem_logged:1;
} ngx_http_lava_events_t;


static void ngx_http_lava_events_ready(ngx_http_lava_redis_t *rd);
static void ngx_http_lava_events_reply(ngx_http_lava_redis_t *rd,
    redisReply *reply, void *privdata);
static void ngx_http_lava_events_send(ngx_http_lava_events_t *ev);
static void ngx_http_lava_events_drop(ngx_http_lava_events_t *ev);
static void ngx_http_lava_events_report(ngx_http_lava_events_t *ev);
static void ngx_http_lava_events_report_handler(ngx_event_t *rev);


static ngx_http_lava_events_t  ngx_http_lava_events;


ngx_int_t
ngx_http_lava_events_init_process(ngx_cycle_t *cycle,
    ngx_http_lava_main_conf_t *lmcf)
{
    ngx_http_lava_events_t  *ev = &ngx_http_lava_events;

    ngx_memzero(ev, sizeof(ngx_http_lava_events_t));

    ngx_queue_init(&ev->queue);
    ev->next = &ev->queue;
    ev->max = lmcf->queue_max;
    ev->stream = lmcf->stream;
    ev->log = cycle->log;

    ev->report.handler = ngx_http_lava_events_report_handler;
    ev->report.data = ev;
    ev->report.log = cycle->log;
    ev->report.cancelable = 1;

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


ngx_int_t
ngx_http_lava_event_push(ngx_uint_t argc, const char **argv,
    const size_t *argvlen)
{
    u_char                        *p;
    size_t                         size;
    ngx_uint_t                     i, n;
    ngx_http_lava_events_t        *ev = &ngx_http_lava_events;
    ngx_http_lava_events_entry_t  *e;

    if (argc == 0 || argc % 2) {
        return NGX_ERROR;
    }

    if (!ev->active || ev->exiting) {
        ev->stats.dropped++;
        return NGX_DECLINED;
    }

    if (ev->queued >= ev->max) {
        ngx_http_lava_events_drop(ev);
        return NGX_DECLINED;
    }

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

        return NGX_ERROR;
    }

    ev->nomem_logged = 0;

    e->argc = n;
    e->sent = 0;
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

    ngx_queue_insert_tail(&ev->queue, &e->queue);

    if (ev->next == &ev->queue) {
        ev->next = &e->queue;
    }

    ev->queued++;
    ev->stats.pushed++;

    ngx_http_lava_events_send(ev);

    return NGX_OK;
}


void
ngx_http_lava_events_stats(ngx_http_lava_events_stats_t *st)
{
    ngx_http_lava_events_t  *ev = &ngx_http_lava_events;

    *st = ev->stats;
    st->queued = ev->queued;
    st->in_flight = ev->in_flight;
}


void
ngx_http_lava_events_exit_process(ngx_cycle_t *cycle)
{
    ngx_msec_t                     deadline;
    ngx_queue_t                   *q;
    ngx_http_lava_events_t        *ev = &ngx_http_lava_events;
    ngx_http_lava_events_entry_t  *e;

    /*
     * nginx's event loop no longer runs here: drive the connection directly,
     * for a bounded time, so that a graceful exit or a reload with Redis up
     * loses nothing.
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

    if (ev->unreported) {
        ngx_http_lava_events_report(ev);
    }

    /* also closes the auth poller's connection: no socket may stay open */
    ngx_http_lava_redis_destroy_all();
    ev->redis = NULL;

    if (!ev->active) {
        return;
    }

    if (ev->queued) {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "lava events: %ui events not acknowledged by redis "
                      "are lost at worker exit (%ui sent, %ui dropped "
                      "since start)", ev->queued, ev->stats.sent,
                      ev->stats.dropped);
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

    ngx_http_lava_events_send(ev);
}


static void
ngx_http_lava_events_send(ngx_http_lava_events_t *ev)
{
    ngx_int_t                      rc;
    ngx_http_lava_events_entry_t  *e;

    while (ev->next != &ev->queue
           && ev->in_flight < NGX_HTTP_LAVA_EVENTS_IN_FLIGHT)
    {
        e = ngx_queue_data(ev->next, ngx_http_lava_events_entry_t, queue);

        rc = ngx_http_lava_redis_command(ev->redis, e, (int) e->argc,
                                         e->argv, e->argvlen);

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

        e->sent = 1;
        ev->in_flight++;
        ev->next = ngx_queue_next(ev->next);
    }
}


static void
ngx_http_lava_events_reply(ngx_http_lava_redis_t *rd, redisReply *reply,
    void *privdata)
{
    size_t                         n;
    u_char                         err[128];
    ngx_http_lava_events_t        *ev = ngx_http_lava_redis_data(rd);
    ngx_http_lava_events_entry_t  *e = privdata;

    ev->in_flight--;
    e->sent = 0;

    if (reply
        && (reply->type == REDIS_REPLY_STRING
            || reply->type == REDIS_REPLY_STATUS))
    {
        /* the stream entry id: stored */
        ngx_queue_remove(&e->queue);
        free(e);
        ev->queued--;
        ev->stats.sent++;

        if (ev->xadd_error_logged) {
            ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                          "lava events: xadd to \"%V\" works again",
                          &ev->stream);
            ev->xadd_error_logged = 0;
        }

        if (!ev->exiting) {
            ngx_http_lava_events_send(ev);
        }

        return;
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
    ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                  "lava events: queue full (%ui events), %ui events "
                  "dropped, %ui since start",
                  ev->max, ev->unreported, ev->stats.dropped);

    ev->unreported = 0;
}


static void
ngx_http_lava_events_report_handler(ngx_event_t *rev)
{
    ngx_http_lava_events_t  *ev = rev->data;

    if (ev->unreported) {
        ngx_http_lava_events_report(ev);
        ngx_add_timer(&ev->report, NGX_HTTP_LAVA_EVENTS_REPORT_MS);
    }
}
