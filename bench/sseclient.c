/*
 * Streaming load client for the benchmarks: opens C concurrent connections to
 * a loopback HTTP server, sends one request on each (R rounds per connection,
 * kept alive), de-chunks the SSE answers and, for every event that carries
 * "t":<CLOCK_REALTIME ns> (bench/fastmock writes it), records how long the
 * event took from the mock's write to this client's read (or, in a stream
 * the gateway translated into another shape, "t=<ns>;" at the start of the
 * event's text: fastmock's tcontent=1). Prints one line
 * of results: time to first event and per-event delay percentiles.
 *
 *   sseclient -a 127.0.0.1:PORT -p TARGET [-H 'Name: value']... [-b BODY]
 *             [-c CONNECTIONS] [-r ROUNDS] [-t SECONDS]
 *
 * -t stops after that many seconds whatever is in flight (memory benchmark:
 * long streams held open). Output: key=value pairs on one line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_clock.h"

typedef struct {
    int64_t  *v;
    size_t    n, cap;
} vec_t;

enum { S_HEAD, S_SIZE, S_DATA, S_DATA_CRLF, S_DONE };

typedef struct {
    int       fd;
    int       state;
    int       rounds_left;
    char      head[8192];
    size_t    headlen;
    size_t    chunk_left;
    char      sizebuf[32];
    size_t    sizelen;
    char      ev[8192];      /* tail of the current SSE event */
    size_t    evlen;
    int64_t   sent_ns;       /* CLOCK_MONOTONIC at request write */
    int       got_first;
} conn_t;

static struct sockaddr_in  addr;
static char                *request;
static size_t               reqlen;
static vec_t                ttfb, delay;
static long                 errors, events, done_streams;

static void
push(vec_t *v, int64_t x)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 4096;
        v->v = realloc(v->v, v->cap * sizeof(int64_t));
    }
    v->v[v->n++] = x;
}

static int
cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}

static double
pct(vec_t *v, double p)
{
    size_t i;

    if (v->n == 0) {
        return -1;
    }
    i = (size_t) (p / 100.0 * (double) (v->n - 1) + 0.5);
    return (double) v->v[i];
}

static int
send_request(conn_t *c)
{
    size_t  off = 0;
    ssize_t w;

    c->state = S_HEAD;
    c->headlen = 0;
    c->evlen = 0;
    c->got_first = 0;
    c->sent_ns = now_ns(CLOCK_MONOTONIC);
    while (off < reqlen) {
        w = write(c->fd, request + off, reqlen - off);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue;
            }
            return -1;
        }
        off += (size_t) w;
    }
    return 0;
}

static int
open_conn(int ep, conn_t *c)
{
    struct epoll_event ev;
    int                one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *) &addr, sizeof(addr)) != 0) {
        return -1;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    return send_request(c);
}

/* SSE bytes of the body: events end at a blank line */
static void
sse_bytes(conn_t *c, const char *p, size_t n, int64_t arrival_rt)
{
    size_t  i;
    char   *t;

    for (i = 0; i < n; i++) {
        if (c->evlen < sizeof(c->ev) - 1) {
            c->ev[c->evlen++] = p[i];
        }
        if (p[i] == '\n' && c->evlen >= 2 && c->ev[c->evlen - 2] == '\n') {
            c->ev[c->evlen] = '\0';
            t = strstr(c->ev, "\"t\":");
            if (t) {
                t += 4;
            } else if ((t = strstr(c->ev, "\"t=")) != NULL) {
                t += 3;
            }
            if (t) {
                events++;
                push(&delay, arrival_rt - strtoll(t, NULL, 10));
                if (!c->got_first) {
                    c->got_first = 1;
                    push(&ttfb, now_ns(CLOCK_MONOTONIC) - c->sent_ns);
                }
            }
            c->evlen = 0;
        }
    }
}

/* Returns 1 when the response ended, 0 to go on, -1 on an error. */
static int
body_bytes(conn_t *c, const char *p, size_t n, int64_t arrival_rt)
{
    size_t k;

    while (n) {
        switch (c->state) {
        case S_SIZE:
            if (*p == '\n') {
                c->sizebuf[c->sizelen] = '\0';
                c->chunk_left = strtoul(c->sizebuf, NULL, 16);
                c->sizelen = 0;
                if (c->chunk_left == 0) {
                    c->state = S_DONE;
                    return 1;       /* trailers are not used here */
                }
                c->state = S_DATA;
            } else if (c->sizelen < sizeof(c->sizebuf) - 1 && *p != '\r') {
                c->sizebuf[c->sizelen++] = *p;
            }
            p++;
            n--;
            break;
        case S_DATA:
            k = n < c->chunk_left ? n : c->chunk_left;
            sse_bytes(c, p, k, arrival_rt);
            p += k;
            n -= k;
            c->chunk_left -= k;
            if (c->chunk_left == 0) {
                c->state = S_DATA_CRLF;
            }
            break;
        case S_DATA_CRLF:
            if (*p == '\n') {
                c->state = S_SIZE;
            }
            p++;
            n--;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

static int
on_read(conn_t *c)
{
    char     buf[65536], *end;
    ssize_t  r;
    size_t   hl, rest;
    int64_t  rt;
    int      rc;

    r = read(c->fd, buf, sizeof(buf));
    if (r <= 0) {
        return r < 0 && errno == EAGAIN ? 0 : -1;
    }
    rt = now_ns(CLOCK_REALTIME);

    if (c->state == S_HEAD) {
        hl = (size_t) r < sizeof(c->head) - c->headlen ? (size_t) r : sizeof(c->head) - c->headlen;
        memcpy(c->head + c->headlen, buf, hl);
        c->headlen += hl;
        end = memmem(c->head, c->headlen, "\r\n\r\n", 4);
        if (end == NULL) {
            return c->headlen < sizeof(c->head) ? 0 : -1;
        }
        if (c->headlen < 12 || memcmp(c->head + 9, "200", 3) != 0
            || memmem(c->head, (size_t) (end - c->head), "hunked", 6) == NULL)
        {
            return -1;      /* only chunked 200 streams are measured */
        }
        rest = c->headlen - (size_t) (end + 4 - c->head);
        c->state = S_SIZE;
        c->sizelen = 0;
        rc = body_bytes(c, buf + ((size_t) r - rest), rest, rt);
    } else {
        rc = body_bytes(c, buf, (size_t) r, rt);
    }
    return rc;
}

int
main(int argc, char **argv)
{
    const char          *target = NULL, *body = NULL, *a = NULL;
    char                 host[64], *colon, hdrs[16384] = "";
    int                  conns = 10, rounds = 1, secs = 0, i, n, opt, ep, active;
    struct epoll_event   evs[256];
    conn_t              *cs, *c;
    int64_t              t0, deadline;

    while ((opt = getopt(argc, argv, "a:p:H:b:c:r:t:")) != -1) {
        switch (opt) {
        case 'a': a = optarg; break;
        case 'p': target = optarg; break;
        case 'H': strncat(hdrs, optarg, sizeof(hdrs) - strlen(hdrs) - 3); strcat(hdrs, "\r\n"); break;
        case 'b': body = optarg; break;
        case 'c': conns = atoi(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        case 't': secs = atoi(optarg); break;
        default: return 2;
        }
    }
    if (a == NULL || target == NULL || (colon = strrchr(a, ':')) == NULL
        || strncmp(a, "127.", 4) != 0 || (size_t) (colon - a) >= sizeof(host))
    {
        fprintf(stderr, "usage: sseclient -a 127.x.y.z:PORT -p TARGET [-H h]... [-b body] "
                "[-c conns] [-r rounds] [-t secs]\n");
        return 2;
    }
    memcpy(host, a, (size_t) (colon - a));
    host[colon - a] = '\0';
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t) atoi(colon + 1));
    inet_pton(AF_INET, host, &addr.sin_addr);

    reqlen = (size_t) asprintf(&request,
        "%s %s HTTP/1.1\r\nHost: %s\r\n%s%s%zu\r\n\r\n%s",
        body ? "POST" : "GET", target, a, hdrs,
        body ? "Content-Type: application/json\r\nContent-Length: " : "Content-Length: ",
        body ? strlen(body) : 0, body ? body : "");

    ep = epoll_create1(0);
    cs = calloc((size_t) conns, sizeof(conn_t));
    t0 = now_ns(CLOCK_MONOTONIC);
    deadline = secs ? t0 + (int64_t) secs * 1000000000 : INT64_MAX;
    active = 0;
    for (i = 0; i < conns; i++) {
        cs[i].rounds_left = rounds;
        if (open_conn(ep, &cs[i]) != 0) {
            errors++;
            continue;
        }
        active++;
    }

    while (active > 0 && now_ns(CLOCK_MONOTONIC) < deadline) {
        n = epoll_wait(ep, evs, 256, 100);
        for (i = 0; i < n; i++) {
            c = evs[i].data.ptr;
            int rc = on_read(c);
            if (rc == 0) {
                continue;
            }
            if (rc == 1) {
                done_streams++;
                if (--c->rounds_left > 0 && send_request(c) == 0) {
                    continue;
                }
            } else {
                errors++;
            }
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            active--;
        }
    }

    qsort(ttfb.v, ttfb.n, sizeof(int64_t), cmp64);
    qsort(delay.v, delay.n, sizeof(int64_t), cmp64);
    printf("streams=%ld events=%ld errors=%ld secs=%.2f ttfb_p50_ms=%.3f ttfb_p99_ms=%.3f "
           "delay_p50_us=%.1f delay_p90_us=%.1f delay_p99_us=%.1f delay_max_us=%.1f\n",
           done_streams, events, errors, (double) (now_ns(CLOCK_MONOTONIC) - t0) / 1e9,
           pct(&ttfb, 50) / 1e6, pct(&ttfb, 99) / 1e6,
           pct(&delay, 50) / 1e3, pct(&delay, 90) / 1e3, pct(&delay, 99) / 1e3,
           delay.n ? (double) delay.v[delay.n - 1] / 1e3 : -1);
    return errors ? 1 : 0;
}
