/*
 * hiredis async connection on the nginx event loop (ngx_http_lava_redis.h).
 *
 * Life of a connection:
 *   IDLE -> CONNECTING (non-blocking connect(2), timer) -> HANDSHAKE (AUTH or
 *   PING, timer) -> READY (reply timer while commands wait) -> CLOSING ->
 *   IDLE, and a retry timer with backoff brings it back to CONNECTING.
 *
 * hiredis owns the socket: the ngx_connection_t made for its fd only carries
 * the read/write events, and the cleanup hook gives it back to nginx without
 * closing the fd (redisFree() closes it right after). hiredis frees the
 * context itself on I/O errors; every teardown therefore ends in the cleanup
 * hook, which is the one place that schedules the reconnect.
 *
 * Logging: a failure is logged once when an outage starts, and once more when
 * the connection works again; the attempts in between log at debug level.
 */

#include <poll.h>

#include "ngx_http_lava_redis.h"


#define NGX_HTTP_LAVA_REDIS_BACKOFF_MIN_MS   100
#define NGX_HTTP_LAVA_REDIS_BACKOFF_MAX_MS   5000
/* a connection that stayed ready this long starts the backoff over */
#define NGX_HTTP_LAVA_REDIS_STABLE_MS        5000
#define NGX_HTTP_LAVA_REDIS_REASON_LEN       128


typedef enum {
    NGX_HTTP_LAVA_REDIS_IDLE = 0,       /* no context; retry timer pending */
    NGX_HTTP_LAVA_REDIS_CONNECTING,
    NGX_HTTP_LAVA_REDIS_HANDSHAKE,      /* AUTH or PING sent */
    NGX_HTTP_LAVA_REDIS_READY,
    NGX_HTTP_LAVA_REDIS_CLOSING         /* hiredis is freeing the context */
} ngx_http_lava_redis_state_e;


struct ngx_http_lava_redis_s {
    ngx_queue_t                    link;       /* ngx_http_lava_redis_all */
    redisAsyncContext             *ac;         /* NULL when IDLE */
    ngx_connection_t              *conn;       /* events of ac's fd */
    ngx_event_t                    timer;      /* connect/handshake/reply */
    ngx_event_t                    retry;      /* reconnect backoff */
    ngx_uint_t                     state;      /* ..._redis_state_e */
    ngx_uint_t                     pending;    /* replies awaited */
    ngx_uint_t                     fails;      /* consecutive failures */
    ngx_msec_t                     ready_at;
    ngx_msec_t                     progress_at; /* last reply, or start */
    ngx_msec_t                     down_at;    /* start of the logged outage */

    const char                    *name;       /* for log messages */
    ngx_log_t                     *log;
    const char                    *host;       /* numeric; lmcf owns it */
    int                            port;
    ngx_str_t                      password;   /* lmcf owns it; never logged */
    ngx_msec_t                     timeout;

    ngx_http_lava_redis_ready_pt   ready_handler;
    ngx_http_lava_redis_reply_pt   reply_handler;
    void                          *data;

    u_char                         reason[NGX_HTTP_LAVA_REDIS_REASON_LEN];
    size_t                         reason_len; /* why the context ended */

    unsigned                       was_ready:1;   /* this context */
    unsigned                       quiet:1;       /* the user logged why */
    unsigned                       down_logged:1;
    unsigned                       ever_ready:1;
    unsigned                       drove:1;
    unsigned                       destroyed:1;
};


static void ngx_http_lava_redis_connect(ngx_http_lava_redis_t *rd);
static void ngx_http_lava_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_lava_redis_on_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_lava_redis_handshake_reply(ngx_http_lava_redis_t *rd,
    redisReply *reply);
static void ngx_http_lava_redis_close(ngx_http_lava_redis_t *rd);
static void ngx_http_lava_redis_ended(ngx_http_lava_redis_t *rd);
static void ngx_http_lava_redis_reason(ngx_http_lava_redis_t *rd,
    const char *fmt, ...);

static void ngx_http_lava_redis_read_handler(ngx_event_t *rev);
static void ngx_http_lava_redis_write_handler(ngx_event_t *wev);
static void ngx_http_lava_redis_timeout_handler(ngx_event_t *ev);
static void ngx_http_lava_redis_retry_handler(ngx_event_t *ev);

static void ngx_http_lava_redis_add_read(void *data);
static void ngx_http_lava_redis_del_read(void *data);
static void ngx_http_lava_redis_add_write(void *data);
static void ngx_http_lava_redis_del_write(void *data);
static void ngx_http_lava_redis_cleanup(void *data);


/* all connections of this worker, for ngx_http_lava_redis_destroy_all() */
static ngx_queue_t  ngx_http_lava_redis_all;
static ngx_uint_t   ngx_http_lava_redis_all_init;

/* privdata of the handshake command: its reply is not the user's */
static char  ngx_http_lava_redis_handshake;


ngx_http_lava_redis_t *
ngx_http_lava_redis_create(ngx_cycle_t *cycle,
    ngx_http_lava_main_conf_t *lmcf, const char *name,
    ngx_http_lava_redis_ready_pt ready, ngx_http_lava_redis_reply_pt reply,
    void *data)
{
    ngx_http_lava_redis_t  *rd;

    rd = ngx_calloc(sizeof(ngx_http_lava_redis_t), cycle->log);
    if (rd == NULL) {
        return NULL;
    }

    if (!ngx_http_lava_redis_all_init) {
        ngx_queue_init(&ngx_http_lava_redis_all);
        ngx_http_lava_redis_all_init = 1;
    }

    rd->name = name;
    rd->log = cycle->log;
    rd->host = (const char *) lmcf->redis_host.data;
    rd->port = lmcf->redis_port;
    rd->password = lmcf->redis_password;
    rd->timeout = lmcf->redis_timeout ? lmcf->redis_timeout : 1000;
    rd->ready_handler = ready;
    rd->reply_handler = reply;
    rd->data = data;

    ngx_http_lava_timer_init(&rd->timer, ngx_http_lava_redis_timeout_handler,
                             rd, rd->log);
    ngx_http_lava_timer_init(&rd->retry, ngx_http_lava_redis_retry_handler,
                             rd, rd->log);

    ngx_queue_insert_tail(&ngx_http_lava_redis_all, &rd->link);

    ngx_http_lava_redis_connect(rd);

    return rd;
}


void *
ngx_http_lava_redis_data(ngx_http_lava_redis_t *rd)
{
    return rd->data;
}


ngx_uint_t
ngx_http_lava_redis_ready(ngx_http_lava_redis_t *rd)
{
    return rd != NULL && rd->state == NGX_HTTP_LAVA_REDIS_READY;
}


ngx_int_t
ngx_http_lava_redis_command(ngx_http_lava_redis_t *rd, void *privdata,
    int argc, const char **argv, const size_t *argvlen)
{
    if (rd->state != NGX_HTTP_LAVA_REDIS_READY) {
        return NGX_DECLINED;
    }

    if (redisAsyncCommandArgv(rd->ac, ngx_http_lava_redis_on_reply, privdata,
                              argc, argv, argvlen)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

    /* the reply timer measures the time without any reply while some wait */
    if (rd->pending++ == 0) {
        rd->progress_at = ngx_current_msec;
        ngx_add_timer(&rd->timer, rd->timeout);
    }

    return NGX_OK;
}


void
ngx_http_lava_redis_fail(ngx_http_lava_redis_t *rd)
{
    if (rd->ac == NULL || rd->state == NGX_HTTP_LAVA_REDIS_CLOSING) {
        return;
    }

    rd->quiet = 1;
    ngx_http_lava_redis_reason(rd, "closed after a command failed");
    ngx_http_lava_redis_close(rd);
}


ngx_int_t
ngx_http_lava_redis_drive(ngx_http_lava_redis_t *rd, ngx_msec_t timeout)
{
    int               n;
    struct pollfd     pfd;
    ngx_connection_t  *c;

    if (rd->ac == NULL) {
        if (rd->drove || rd->destroyed) {
            return NGX_DONE;
        }

        rd->drove = 1;

        if (rd->retry.timer_set) {
            ngx_del_timer(&rd->retry);
        }

        ngx_http_lava_redis_connect(rd);

        if (rd->ac == NULL) {
            return NGX_DONE;
        }
    }

    c = rd->conn;

    pfd.fd = c->fd;
    pfd.events = POLLIN;
    pfd.revents = 0;

    if (c->write->active) {
        pfd.events |= POLLOUT;
    }

    n = poll(&pfd, 1, (int) ngx_min(timeout, 60000));

    ngx_time_update();

    if (n == -1) {
        return (ngx_errno == NGX_EINTR) ? NGX_OK : NGX_DONE;
    }

    if (n == 0) {
        return NGX_OK;
    }

    if ((pfd.revents & (POLLOUT|POLLERR|POLLHUP)) && c->write->active) {
        redisAsyncHandleWrite(rd->ac);
    }

    /* the write handler may have ended the context (cleanup ran) */

    if (rd->ac && (pfd.revents & (POLLIN|POLLERR|POLLHUP))) {
        redisAsyncHandleRead(rd->ac);
    }

    return NGX_OK;
}


void
ngx_http_lava_redis_destroy_all(void)
{
    ngx_queue_t            *q;
    ngx_http_lava_redis_t  *rd;

    if (!ngx_http_lava_redis_all_init) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_lava_redis_all)) {
        q = ngx_queue_head(&ngx_http_lava_redis_all);
        rd = ngx_queue_data(q, ngx_http_lava_redis_t, link);
        ngx_queue_remove(q);

        rd->destroyed = 1;

        if (rd->retry.timer_set) {
            ngx_del_timer(&rd->retry);
        }

        if (rd->timer.timer_set) {
            ngx_del_timer(&rd->timer);
        }

        /*
         * Not inside a hiredis callback here, so the context is freed now:
         * waiting callbacks get NULL, the cleanup hook releases the nginx
         * connection and hiredis closes the socket, so that nginx finds no
         * socket left open at exit.
         */
        if (rd->ac) {
            rd->state = NGX_HTTP_LAVA_REDIS_CLOSING;
            redisAsyncFree(rd->ac);
        }

        ngx_free(rd);
    }
}


size_t
ngx_http_lava_redis_errstr(redisReply *reply, u_char *buf, size_t size)
{
    size_t   i, n;
    u_char   ch;

    if (reply == NULL || reply->str == NULL || size == 0) {
        return 0;
    }

    n = ngx_min((size_t) reply->len, size);

    for (i = 0; i < n; i++) {
        ch = (u_char) reply->str[i];
        buf[i] = (ch >= 0x20 && ch < 0x7f) ? ch : '?';
    }

    return n;
}


static void
ngx_http_lava_redis_connect(ngx_http_lava_redis_t *rd)
{
    redisAsyncContext  *ac;
    ngx_connection_t   *c;

    rd->reason_len = 0;
    rd->quiet = 0;
    rd->was_ready = 0;
    rd->pending = 0;

    /* the host is numeric: getaddrinfo() inside hiredis does not block */
    ac = redisAsyncConnect(rd->host, rd->port);
    if (ac == NULL) {
        ngx_http_lava_redis_reason(rd, "out of memory");
        ngx_http_lava_redis_ended(rd);
        return;
    }

    if (ac->err) {
        ngx_http_lava_redis_reason(rd, "%s", ac->errstr);
        redisAsyncFree(ac);
        ngx_http_lava_redis_ended(rd);
        return;
    }

    c = ngx_get_connection(ac->c.fd, rd->log);
    if (c == NULL) {
        ngx_http_lava_redis_reason(rd, "no free nginx connection");
        redisAsyncFree(ac);
        ngx_http_lava_redis_ended(rd);
        return;
    }

    c->data = rd;
    c->read->handler = ngx_http_lava_redis_read_handler;
    c->write->handler = ngx_http_lava_redis_write_handler;
    c->read->log = rd->log;
    c->write->log = rd->log;
    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);

    rd->ac = ac;
    rd->conn = c;
    rd->state = NGX_HTTP_LAVA_REDIS_CONNECTING;

    ac->data = rd;
    ac->ev.data = rd;
    ac->ev.addRead = ngx_http_lava_redis_add_read;
    ac->ev.delRead = ngx_http_lava_redis_del_read;
    ac->ev.addWrite = ngx_http_lava_redis_add_write;
    ac->ev.delWrite = ngx_http_lava_redis_del_write;
    ac->ev.cleanup = ngx_http_lava_redis_cleanup;

    /*
     * The end of a non-blocking connect(2) shows as writability: setting
     * the callback makes hiredis ask for the write event.
     */
    redisAsyncSetConnectCallback(ac, ngx_http_lava_redis_connected);

    ngx_add_timer(&rd->timer, rd->timeout);

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, rd->log, 0,
                   "lava redis %s: connecting to %s:%d",
                   rd->name, rd->host, rd->port);
}


static void
ngx_http_lava_redis_connected(const redisAsyncContext *cac, int status)
{
    int                     argc;
    size_t                  argvlen[2];
    const char             *argv[2];
    redisAsyncContext      *ac;
    ngx_http_lava_redis_t  *rd;

    ac = (redisAsyncContext *) cac;
    rd = ac->data;

    if (status != REDIS_OK) {
        /* hiredis frees the context next; the cleanup hook records why */
        return;
    }

    /*
     * Ready only once Redis has answered: a frozen server accepts TCP
     * connections from its backlog but never replies.
     */
    rd->state = NGX_HTTP_LAVA_REDIS_HANDSHAKE;

    if (rd->password.len) {
        argv[0] = "AUTH";
        argvlen[0] = sizeof("AUTH") - 1;
        argv[1] = (const char *) rd->password.data;
        argvlen[1] = rd->password.len;
        argc = 2;

    } else {
        argv[0] = "PING";
        argvlen[0] = sizeof("PING") - 1;
        argc = 1;
    }

    if (redisAsyncCommandArgv(ac, ngx_http_lava_redis_on_reply,
                              &ngx_http_lava_redis_handshake,
                              argc, argv, argvlen)
        != REDIS_OK)
    {
        /* the running timer ends this attempt */
        ngx_http_lava_redis_reason(rd, "handshake could not be sent");
        return;
    }

    rd->pending++;

    /* from connect timeout to handshake timeout */
    rd->progress_at = ngx_current_msec;
    ngx_add_timer(&rd->timer, rd->timeout);
}


static void
ngx_http_lava_redis_on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply             *reply = r;
    ngx_http_lava_redis_t  *rd;

    rd = ac->data;

    if (rd->pending) {
        rd->pending--;
    }

    if (reply == NULL) {
        /* hiredis is freeing the context and flushes the waiting callbacks */
        rd->state = NGX_HTTP_LAVA_REDIS_CLOSING;

    } else if (rd->state != NGX_HTTP_LAVA_REDIS_CLOSING) {
        /* the timer handler re-arms itself while replies keep coming */
        rd->progress_at = ngx_current_msec;

        if (rd->pending == 0 && rd->timer.timer_set) {
            ngx_del_timer(&rd->timer);
        }
    }

    if (privdata == &ngx_http_lava_redis_handshake) {
        ngx_http_lava_redis_handshake_reply(rd, reply);
        return;
    }

    if (reply && reply->type != REDIS_REPLY_ERROR) {
        rd->fails = 0;
    }

    rd->reply_handler(rd, reply, privdata);
}


static void
ngx_http_lava_redis_handshake_reply(ngx_http_lava_redis_t *rd,
    redisReply *reply)
{
    size_t  n;
    u_char  err[64];

    if (reply == NULL) {
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        /* Redis error texts never echo the password */
        n = ngx_http_lava_redis_errstr(reply, err, sizeof(err));
        ngx_http_lava_redis_reason(rd, "%s failed: %*s",
                                   rd->password.len ? "auth" : "ping",
                                   n, err);
        ngx_http_lava_redis_close(rd);
        return;
    }

    rd->state = NGX_HTTP_LAVA_REDIS_READY;
    rd->was_ready = 1;
    rd->ready_at = ngx_current_msec;

    if (rd->down_logged) {
        ngx_log_error(NGX_LOG_NOTICE, rd->log, 0,
                      "lava redis %s: connected to %s:%d again after %M ms",
                      rd->name, rd->host, rd->port,
                      (ngx_msec_t) (ngx_current_msec - rd->down_at));
        rd->down_logged = 0;

    } else if (!rd->ever_ready) {
        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "lava redis %s: connected to %s:%d",
                      rd->name, rd->host, rd->port);
    }

    rd->ever_ready = 1;

    rd->ready_handler(rd);
}


static void
ngx_http_lava_redis_close(ngx_http_lava_redis_t *rd)
{
    if (rd->ac == NULL || rd->state == NGX_HTTP_LAVA_REDIS_CLOSING) {
        return;
    }

    rd->state = NGX_HTTP_LAVA_REDIS_CLOSING;

    /*
     * Inside a reply callback hiredis only marks the context and frees it
     * when the callback returns; either way the cleanup hook follows.
     */
    redisAsyncFree(rd->ac);
}


/* an attempt or a connection is over: log (once per outage), then retry */
static void
ngx_http_lava_redis_ended(ngx_http_lava_redis_t *rd)
{
    ngx_uint_t  shift;
    ngx_msec_t  delay;

    rd->state = NGX_HTTP_LAVA_REDIS_IDLE;

    if (rd->destroyed) {
        return;
    }

    if (rd->was_ready
        && ngx_current_msec - rd->ready_at >= NGX_HTTP_LAVA_REDIS_STABLE_MS)
    {
        rd->fails = 0;
    }

    shift = ngx_min(rd->fails, 6);
    rd->fails++;

    delay = ngx_min((ngx_msec_t) NGX_HTTP_LAVA_REDIS_BACKOFF_MIN_MS << shift,
                    (ngx_msec_t) NGX_HTTP_LAVA_REDIS_BACKOFF_MAX_MS);

    if (!rd->quiet && !rd->down_logged) {
        if (rd->was_ready) {
            ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                          "lava redis %s: connection to %s:%d lost (%*s), "
                          "reconnecting", rd->name, rd->host, rd->port,
                          rd->reason_len, rd->reason);
        } else {
            ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                          "lava redis %s: cannot connect to %s:%d (%*s), "
                          "retrying", rd->name, rd->host, rd->port,
                          rd->reason_len, rd->reason);
        }

        rd->down_logged = 1;
        rd->down_at = ngx_current_msec;

    } else {
        ngx_log_debug5(NGX_LOG_DEBUG_EVENT, rd->log, 0,
                       "lava redis %s: %s:%d: %*s",
                       rd->name, rd->host, rd->port,
                       rd->reason_len, rd->reason);
    }

    ngx_add_timer(&rd->retry, delay);
}


static void
ngx_http_lava_redis_reason(ngx_http_lava_redis_t *rd, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(rd->reason, rd->reason + sizeof(rd->reason), fmt, args);
    va_end(args);

    rd->reason_len = p - rd->reason;
}


static void
ngx_http_lava_redis_read_handler(ngx_event_t *rev)
{
    ngx_connection_t       *c;
    ngx_http_lava_redis_t  *rd;

    c = rev->data;
    rd = c->data;

    if (rd->ac) {
        redisAsyncHandleRead(rd->ac);
    }
}


static void
ngx_http_lava_redis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t       *c;
    ngx_http_lava_redis_t  *rd;

    c = wev->data;
    rd = c->data;

    if (rd->ac) {
        redisAsyncHandleWrite(rd->ac);
    }
}


static void
ngx_http_lava_redis_timeout_handler(ngx_event_t *ev)
{
    ngx_http_lava_redis_t  *rd = ev->data;

    ngx_msec_t  idle;

    if (rd->ac == NULL || rd->state == NGX_HTTP_LAVA_REDIS_CLOSING) {
        return;
    }

    idle = ngx_current_msec - rd->progress_at;

    if (rd->state != NGX_HTTP_LAVA_REDIS_CONNECTING && idle < rd->timeout) {
        /* a reply came meanwhile: wait out the rest from the last one */
        ngx_add_timer(&rd->timer, rd->timeout - idle);
        return;
    }

    if (rd->state == NGX_HTTP_LAVA_REDIS_CONNECTING) {
        ngx_http_lava_redis_reason(rd, "connect timed out after %M ms",
                                   rd->timeout);
    } else {
        ngx_http_lava_redis_reason(rd, "no reply within %M ms", rd->timeout);
    }

    ngx_http_lava_redis_close(rd);
}


static void
ngx_http_lava_redis_retry_handler(ngx_event_t *ev)
{
    ngx_http_lava_redis_t  *rd = ev->data;

    if (rd->destroyed || rd->ac) {
        return;
    }

    ngx_http_lava_redis_connect(rd);
}


/*
 * Event hooks. Level-triggered: redisBufferRead() reads at most 16 KiB per
 * call, so an edge-triggered read event could leave a reply unread.
 */

static void
ngx_http_lava_redis_add_read(void *data)
{
    ngx_http_lava_redis_t  *rd = data;

    if (rd->conn && !rd->conn->read->active) {
        (void) ngx_add_event(rd->conn->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_lava_redis_del_read(void *data)
{
    ngx_http_lava_redis_t  *rd = data;

    if (rd->conn && rd->conn->read->active) {
        (void) ngx_del_event(rd->conn->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_lava_redis_add_write(void *data)
{
    ngx_http_lava_redis_t  *rd = data;

    if (rd->conn && !rd->conn->write->active) {
        (void) ngx_add_event(rd->conn->write, NGX_WRITE_EVENT,
                             NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_lava_redis_del_write(void *data)
{
    ngx_http_lava_redis_t  *rd = data;

    if (rd->conn && rd->conn->write->active) {
        (void) ngx_del_event(rd->conn->write, NGX_WRITE_EVENT, 0);
    }
}


/*
 * hiredis calls this once per context, after the waiting callbacks got their
 * NULL replies and before redisFree() closes the fd: give the connection
 * back to nginx, but leave the fd to hiredis.
 */
static void
ngx_http_lava_redis_cleanup(void *data)
{
    ngx_http_lava_redis_t  *rd = data;

    ngx_connection_t  *c;

    c = rd->conn;

    if (c) {
        ngx_http_lava_redis_del_read(rd);
        ngx_http_lava_redis_del_write(rd);

        if (c->read->posted) {
            ngx_delete_posted_event(c->read);
        }

        if (c->write->posted) {
            ngx_delete_posted_event(c->write);
        }

        c->read->closed = 1;
        c->write->closed = 1;

        ngx_free_connection(c);

        /* marks events still queued in this epoll round as stale */
        c->fd = (ngx_socket_t) -1;

        rd->conn = NULL;
    }

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    if (rd->reason_len == 0) {
        if (rd->ac && rd->ac->err && rd->ac->errstr) {
            ngx_http_lava_redis_reason(rd, "%s", rd->ac->errstr);
        } else {
            ngx_http_lava_redis_reason(rd, "connection closed");
        }
    }

    rd->ac = NULL;
    rd->pending = 0;

    ngx_http_lava_redis_ended(rd);
}
