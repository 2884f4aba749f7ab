#define _GNU_SOURCE                 /* accept4 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "metrics.h"

#define NBATCH    13
#define NLATENCY  13

/* bucket bounds: entries per batch; booking time in microseconds */
static const long long batch_le[NBATCH] = {
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000
};
static const long long latency_le_us[NLATENCY] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000
};

/* since start; owned by this file, written by the one thread */
static struct {
    unsigned long long  read;
    unsigned long long  booked;
    unsigned long long  duplicate;
    unsigned long long  conflict;
    unsigned long long  dead;
    unsigned long long  batches;
    unsigned long long  batch_bucket[NBATCH];
    unsigned long long  batch_sum;
    unsigned long long  latency_bucket[NLATENCY];
    unsigned long long  latency_sum_us;
} m;

metrics_stream_t  metrics_stream;

typedef enum {
    CONN_FREE = 0,
    CONN_READ,
    CONN_WRITE,
    CONN_LINGER                              /* answered: reading what the
                                                client still sends, so that
                                                closing does not reset the
                                                answer away (an oversized
                                                request) */
} conn_state_e;

typedef struct {
    int            fd;
    conn_state_e   state;
    int64_t        deadline_ms;              /* monotonic */
    char           req[METRICS_REQUEST_MAX];
    size_t         nreq;
    char          *resp;                     /* malloc()ed */
    size_t         nresp, sent;
} conn_t;

static struct {
    int      fd;                             /* listener; -1 none */
    char     addr[64];                       /* what it listens on */
    int64_t  retry_ms;                       /* bind failed: not before */
    conn_t   conns[METRICS_CONNS];
} srv = { .fd = -1 };

/* ---- counters ---- */

int64_t
metrics_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
metrics_read(size_t n)
{
    m.read += n;
}

void
metrics_batch(size_t n, const book_result_t *r, int64_t t0_us)
{
    int64_t  us = metrics_now_us() - t0_us;
    int      i;

    m.booked += r->booked;
    m.duplicate += r->duplicate;
    m.conflict += r->conflict;
    m.dead += r->dead + r->poison;
    m.batches++;
    m.batch_sum += n;
    for (i = 0; i < NBATCH; i++) {
        if ((long long) n <= batch_le[i]) {
            m.batch_bucket[i]++;
        }
    }
    m.latency_sum_us += (unsigned long long) (us < 0 ? 0 : us);
    for (i = 0; i < NLATENCY; i++) {
        if (us <= latency_le_us[i]) {
            m.latency_bucket[i]++;
        }
    }
}

void
metrics_dead_lettered(size_t n)
{
    m.dead += n;
}

/* ---- text ---- */

typedef struct {
    char    *p;
    size_t   len, cap;
    int      failed;
} text_t;

static void
out(text_t *t, const char *fmt, ...)
{
    va_list  ap;
    int      n;
    char    *np;

    if (t->failed) {
        return;
    }
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t) n < t->cap - t->len) {
            t->len += (size_t) n;
            return;
        }
        np = realloc(t->p, t->cap * 2 + (size_t) n);
        if (np == NULL) {
            t->failed = 1;
            return;
        }
        t->p = np;
        t->cap = t->cap * 2 + (size_t) n;
    }
}

static char *
text_done(text_t *t)
{
    if (t->failed) {
        free(t->p);
        return NULL;
    }
    return t->p;
}

static int
text_init(text_t *t)
{
    t->cap = 4096;
    t->len = 0;
    t->failed = 0;
    t->p = malloc(t->cap);
    if (t->p == NULL) {
        return -1;
    }
    t->p[0] = '\0';
    return 0;
}

static void
head(text_t *t, const char *name, const char *type, const char *help)
{
    out(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
counter(text_t *t, const char *name, const char *help, unsigned long long v)
{
    head(t, name, "counter", help);
    out(t, "%s %llu\n", name, v);
}

static void
gauge(text_t *t, const char *name, const char *help, long long v)
{
    head(t, name, "gauge", help);
    out(t, "%s %lld\n", name, v);
}

static int
redis_up(const sidecar_t *s)
{
    return s->redis != NULL && s->redis->err == 0;
}

static int
pg_up(const sidecar_t *s)
{
    return s->db != NULL && PQstatus(s->db) == CONNECTION_OK;
}

char *
metrics_render(sidecar_t *s)
{
    text_t   t;
    int      i;
    int64_t  now = loop_now_ms();

    if (text_init(&t) != 0) {
        return NULL;
    }

    counter(&t, "lava_sidecar_events_read_total",
            "Stream entries read (new, redelivered and claimed).", m.read);
    counter(&t, "lava_sidecar_events_booked_total",
            "Events booked in the ledger.", m.booked);
    counter(&t, "lava_sidecar_events_duplicate_total",
            "Events already booked (same request id, same content).", m.duplicate);
    counter(&t, "lava_sidecar_events_conflict_total",
            "Events whose request id was booked with other content.", m.conflict);
    counter(&t, "lava_sidecar_events_dead_lettered_total",
            "Entries stored in dead_letters instead of being booked.", m.dead);

    head(&t, "lava_sidecar_batch_size", "histogram", "Entries per booked batch.");
    for (i = 0; i < NBATCH; i++) {
        out(&t, "lava_sidecar_batch_size_bucket{le=\"%lld\"} %llu\n", batch_le[i],
            m.batch_bucket[i]);
    }
    out(&t, "lava_sidecar_batch_size_bucket{le=\"+Inf\"} %llu\n", m.batches);
    out(&t, "lava_sidecar_batch_size_sum %llu\n", m.batch_sum);
    out(&t, "lava_sidecar_batch_size_count %llu\n", m.batches);

    head(&t, "lava_sidecar_booking_duration_seconds", "histogram",
         "Time from reading a batch to its commit, waits for Postgres included.");
    for (i = 0; i < NLATENCY; i++) {
        /* a bucket bound, not money: %g prints 0.0025 as Prometheus clients do */
        out(&t, "lava_sidecar_booking_duration_seconds_bucket{le=\"%g\"} %llu\n",
            (double) latency_le_us[i] / 1e6, m.latency_bucket[i]);
    }
    out(&t, "lava_sidecar_booking_duration_seconds_bucket{le=\"+Inf\"} %llu\n", m.batches);
    out(&t, "lava_sidecar_booking_duration_seconds_sum %llu.%06llu\n",
        m.latency_sum_us / 1000000, m.latency_sum_us % 1000000);
    out(&t, "lava_sidecar_booking_duration_seconds_count %llu\n", m.batches);

    gauge(&t, "lava_sidecar_stream_undelivered",
          "Stream entries the consumer group has not read yet.", metrics_stream.undelivered);
    gauge(&t, "lava_sidecar_stream_pending",
          "Stream entries read by the group and not acknowledged.", metrics_stream.pending);
    gauge(&t, "lava_sidecar_stream_backlog",
          "Stream entries not booked yet: undelivered plus pending.",
          metrics_stream.undelivered + metrics_stream.pending);
    head(&t, "lava_sidecar_ledger_lag_seconds", "gauge",
         "Age of the oldest stream entry not booked yet; 0 when none waits.");
    out(&t, "lava_sidecar_ledger_lag_seconds %lld.%03lld\n",
        (long long) metrics_stream.lag_ms / 1000, (long long) metrics_stream.lag_ms % 1000);
    gauge(&t, "lava_sidecar_stream_sample_age_seconds",
          "Seconds since the stream was last sampled; -1 never.",
          metrics_stream.sampled_ms ? (long long) (now - metrics_stream.sampled_ms) / 1000 : -1);

    gauge(&t, "lava_sidecar_redis_up", "1 when connected to Redis.", redis_up(s));
    gauge(&t, "lava_sidecar_postgres_up", "1 when connected to Postgres.", pg_up(s));
    gauge(&t, "lava_sidecar_rate_table_loaded", "1 when a rate table is loaded.",
          s->rates != NULL);
    gauge(&t, "lava_sidecar_rate_table_version",
          "pricing_state.version of the loaded rate table; -1 none.",
          s->rates != NULL ? (long long) s->rates->version : -1);
    gauge(&t, "lava_sidecar_rate_table_rates", "Rates in the loaded rate table.",
          s->rates != NULL ? (long long) s->rates->nrates : 0);

    return text_done(&t);
}

char *
metrics_health(sidecar_t *s, int *healthy)
{
    text_t   t;
    int64_t  now = loop_now_ms(), stale;

    if (text_init(&t) != 0) {
        return NULL;
    }
    /* the job runs every auth_publish_interval_ms; a few missed runs and a
     * slow transaction are not yet unhealthy */
    stale = 3 * (int64_t) s->cfg.auth_publish_interval_ms + 10000;

    *healthy = 0;
    if (!pg_up(s)) {
        out(&t, "postgres not connected\n");
    } else if (!redis_up(s)) {
        out(&t, "redis not connected\n");
    } else if (metrics_stream.sampled_ms == 0 || now - metrics_stream.sampled_ms > stale) {
        out(&t, "stream not sampled for %lld ms\n",
            metrics_stream.sampled_ms == 0 ? -1LL : (long long) (now - metrics_stream.sampled_ms));
    } else if (metrics_stream.lag_ms > s->cfg.healthz_max_lag_ms) {
        out(&t, "booking behind: the oldest entry not booked is %lld ms old"
            " (healthz_max_lag_ms %d)\n", (long long) metrics_stream.lag_ms,
            s->cfg.healthz_max_lag_ms);
    } else {
        out(&t, "ok\n");
        *healthy = 1;
    }
    return text_done(&t);
}

/* ---- the responder ---- */

static void
conn_close(conn_t *c)
{
    close(c->fd);
    free(c->resp);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

void
metrics_close(void)
{
    int i;

    for (i = 0; i < METRICS_CONNS; i++) {
        if (srv.conns[i].state != CONN_FREE) {
            conn_close(&srv.conns[i]);
        }
    }
    if (srv.fd >= 0) {
        close(srv.fd);
        srv.fd = -1;
    }
    srv.addr[0] = '\0';
}

static void
listen_on(const char *addr)
{
    struct sockaddr_in  sin;
    char                host[INET_ADDRSTRLEN];
    int                 port, fd, one = 1;

    metrics_close();
    if (config_listen_addr(addr, host, sizeof(host), &port) != 0) {
        snprintf(srv.addr, sizeof(srv.addr), "%s", addr);
        return;                                 /* off */
    }
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t) port);
    (void) inet_pton(AF_INET, host, &sin.sin_addr);

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0
        || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0
        || bind(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || listen(fd, 16) != 0)
    {
        slog(SLOG_ERROR, "metrics_listen %s: %s; trying again in 5 s", addr, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        snprintf(srv.addr, sizeof(srv.addr), "%s", addr);
        srv.retry_ms = loop_now_ms() + 5000;
        return;
    }
    srv.fd = fd;
    snprintf(srv.addr, sizeof(srv.addr), "%s", addr);
    slog(SLOG_INFO, "metrics and health on http://%s/metrics, /healthz", addr);
}

static void
respond(conn_t *c, int status, const char *reason, const char *type, const char *body,
    int head_only)
{
    size_t  blen = body != NULL ? strlen(body) : 0;
    size_t  cap = blen + 256;
    int     n;

    c->resp = malloc(cap);
    if (c->resp == NULL) {
        conn_close(c);
        return;
    }
    n = snprintf(c->resp, cap,
                 "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                 "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                 status, reason, type, blen);
    if (n < 0 || (size_t) n >= cap) {
        conn_close(c);
        return;
    }
    if (!head_only && blen > 0) {
        memcpy(c->resp + n, body, blen);
        n += (int) blen;
    }
    c->nresp = (size_t) n;
    c->sent = 0;
    c->state = CONN_WRITE;
}

/* "GET /path[?query] HTTP/1.x" and the headers, which are not read */
static void
handle(sidecar_t *s, conn_t *c)
{
    char   *sp1, *sp2, *q, *body;
    int     head_only, healthy;
    size_t  plen;

    c->req[c->nreq] = '\0';
    sp1 = strchr(c->req, ' ');
    sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
    if (sp1 == NULL || sp2 == NULL || strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp1[1] != '/') {
        respond(c, 400, "Bad Request", "text/plain", "bad request\n", 0);
        return;
    }
    head_only = (size_t) (sp1 - c->req) == 4 && memcmp(c->req, "HEAD", 4) == 0;
    if (!head_only && !((size_t) (sp1 - c->req) == 3 && memcmp(c->req, "GET", 3) == 0)) {
        respond(c, 400, "Bad Request", "text/plain", "only GET and HEAD\n", 0);
        return;
    }
    q = memchr(sp1 + 1, '?', (size_t) (sp2 - sp1 - 1));
    plen = (size_t) ((q != NULL ? q : sp2) - (sp1 + 1));

    if (plen == 8 && memcmp(sp1 + 1, "/metrics", 8) == 0) {
        body = metrics_render(s);
        if (body == NULL) {
            respond(c, 500, "Internal Server Error", "text/plain", "out of memory\n", 0);
            return;
        }
        respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body, head_only);
        free(body);
        return;
    }
    if (plen == 8 && memcmp(sp1 + 1, "/healthz", 8) == 0) {
        body = metrics_health(s, &healthy);
        if (body == NULL) {
            respond(c, 500, "Internal Server Error", "text/plain", "out of memory\n", 0);
            return;
        }
        respond(c, healthy ? 200 : 503, healthy ? "OK" : "Service Unavailable",
                "text/plain", body, head_only);
        free(body);
        return;
    }
    respond(c, 404, "Not Found", "text/plain", "not found\n", head_only);
}

static void
conn_read(sidecar_t *s, conn_t *c)
{
    ssize_t  n;

    for (;;) {
        n = read(c->fd, c->req + c->nreq, sizeof(c->req) - 1 - c->nreq);
        if (n > 0) {
            c->nreq += (size_t) n;
            c->req[c->nreq] = '\0';
            if (strstr(c->req, "\r\n\r\n") != NULL || strstr(c->req, "\n\n") != NULL) {
                handle(s, c);
                return;
            }
            if (c->nreq == sizeof(c->req) - 1) {
                respond(c, 400, "Bad Request", "text/plain", "request too large\n", 0);
                return;
            }
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        conn_close(c);                          /* closed or failed before a request */
        return;
    }
}

static void
conn_write(conn_t *c)
{
    ssize_t  n;

    while (c->sent < c->nresp) {
        n = send(c->fd, c->resp + c->sent, c->nresp - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t) n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        conn_close(c);                          /* the client is gone */
        return;
    }
    /* all sent: no more from us; the client's rest is read and dropped */
    (void) shutdown(c->fd, SHUT_WR);
    c->state = CONN_LINGER;
    c->deadline_ms = loop_now_ms() + 1000;
}

static void
conn_linger(conn_t *c)
{
    char     buf[4096];
    ssize_t  n;
    int      i;

    /* bounded per call, and by the deadline: a client that keeps sending
     * cannot keep the loop here */
    for (i = 0; i < 16; i++) {
        n = read(c->fd, buf, sizeof(buf));
        if (n > 0 || (n < 0 && errno == EINTR)) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        conn_close(c);                          /* end of input, or failed */
        return;
    }
}

static int
nconns(void)
{
    int i, n = 0;

    for (i = 0; i < METRICS_CONNS; i++) {
        n += srv.conns[i].state != CONN_FREE;
    }
    return n;
}

void
metrics_serve(sidecar_t *s)
{
    conn_t   *c;
    int64_t   now = loop_now_ms();
    int       i, fd;

    /* a new address at once; a failed bind again after a while */
    if (strcmp(srv.addr, s->cfg.metrics_listen) != 0
        || (srv.fd < 0 && strcmp(s->cfg.metrics_listen, "off") != 0 && now >= srv.retry_ms))
    {
        listen_on(s->cfg.metrics_listen);
    }
    if (srv.fd < 0) {
        return;
    }

    while (nconns() < METRICS_CONNS) {
        fd = accept4(srv.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            break;                              /* EAGAIN, or try at the next call */
        }
        for (i = 0; i < METRICS_CONNS; i++) {
            c = &srv.conns[i];
            if (c->state == CONN_FREE) {
                c->fd = fd;
                c->state = CONN_READ;
                c->deadline_ms = now + METRICS_TIMEOUT_MS;
                break;
            }
        }
    }

    for (i = 0; i < METRICS_CONNS; i++) {
        c = &srv.conns[i];
        if (c->state == CONN_READ) {
            conn_read(s, c);
        }
        if (c->state == CONN_WRITE) {
            conn_write(c);
        }
        if (c->state == CONN_LINGER) {
            conn_linger(c);
        }
        if (c->state != CONN_FREE && now > c->deadline_ms) {
            conn_close(c);
        }
    }
}

/* loop_watch: what to wake a wait for */
static int
metrics_fill(struct pollfd *pfd, int max, void *data)
{
    int i, n = 0;

    if (srv.fd >= 0 && n < max && nconns() < METRICS_CONNS) {
        pfd[n].fd = srv.fd;
        pfd[n++].events = POLLIN;
    }
    for (i = 0; i < METRICS_CONNS && n < max; i++) {
        if (srv.conns[i].state == CONN_READ || srv.conns[i].state == CONN_LINGER) {
            pfd[n].fd = srv.conns[i].fd;
            pfd[n++].events = POLLIN;
        } else if (srv.conns[i].state == CONN_WRITE) {
            pfd[n].fd = srv.conns[i].fd;
            pfd[n++].events = POLLOUT;
        }
    }
    return n;
}

static void
metrics_ready(void *data)
{
    metrics_serve(data);
}

void
metrics_watch(sidecar_t *s)
{
    loop_watch(metrics_fill, metrics_ready, s);
}
