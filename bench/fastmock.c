/*
 * A fast mock provider for the benchmarks: one epoll loop, HTTP/1.1 with
 * keep-alive, on a loopback address. The Perl mock of the test stack forks a
 * process per connection, which would measure Perl, not the gateway.
 *
 *   fastmock 127.0.0.1:PORT
 *
 * Any request whose target ends in /chat/completions gets a small OpenAI chat
 * completion. With "stream": true in the body, or stream=1 in the query, it
 * gets an SSE stream instead: events=N content events (default 20), one
 * every interval_ms=M milliseconds (default 20, 0: as fast as possible),
 * pad=B bytes of content per event (default 8), then a usage chunk and
 * [DONE]. Every event carries "t":<CLOCK_REALTIME ns when it was written>,
 * so a client on the same machine can tell how long it took to arrive;
 * with tcontent=1 the content text starts with "t=<ns>;" too, so the time
 * survives a gateway that translates the stream into another shape.
 * A JSON answer waits delay_ms=M milliseconds first when asked to (a steady
 * request rate for the lag benchmark). Anything else gets a 200 JSON "{}".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_clock.h"

#define MAXCONN   65536
#define INBUF     65536

typedef struct {
    int       fd;
    char     *in;
    size_t    inlen;
    /* stream state */
    int       streaming;      /* 1: SSE stream, 2: JSON answer waiting */
    int       left;           /* content events still to send */
    int       interval_ms;
    int       pad;
    int       tcontent;     /* 1: the content text carries the time too */
    int64_t   next_ns;        /* CLOCK_MONOTONIC of the next event */
} conn_t;

static conn_t  *conns[MAXCONN];
static int      nstreams;
static int      maxfd;          /* highest fd seen: the scans stop there */
static char     padbuf[65536];

static const char json_body[] =
    "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1754551234,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"message\":"
    "{\"role\":\"assistant\",\"content\":\"Hello from the benchmark mock.\"},"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7,"
    "\"total_tokens\":19}}";

/* Blocking-ish write of a whole buffer: the sockets are non-blocking, and a
 * slow reader only happens in the memory benchmark, where waiting is fine. */
static int
write_all(int fd, const char *p, size_t n)
{
    ssize_t w;

    while (n) {
        w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                struct timespec ts = { 0, 200000 };
                nanosleep(&ts, NULL);
                continue;
            }
            return -1;
        }
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

static void
close_conn(int ep, conn_t *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->streaming) {
        nstreams--;
    }
    conns[c->fd] = NULL;
    free(c->in);
    free(c);
}

static int
query_int(const char *target, size_t tlen, const char *name, int def)
{
    char        key[32];
    const char *p, *end = target + tlen;
    size_t      kl;

    kl = (size_t) snprintf(key, sizeof(key), "%s=", name);
    for (p = target; p + kl <= end; p++) {
        if ((p[-1] == '?' || p[-1] == '&') && memcmp(p, key, kl) == 0) {
            return atoi(p + kl);
        }
    }
    return def;
}

static int
send_event(conn_t *c, const char *data, size_t n)
{
    char head[32];
    int  hl = snprintf(head, sizeof(head), "%zx\r\n", n);

    return write_all(c->fd, head, (size_t) hl) || write_all(c->fd, data, n)
           || write_all(c->fd, "\r\n", 2);
}

static int
stream_step(conn_t *c)
{
    static char  ev[65536 + 512];
    int          n;

    if (c->streaming == 2) {
        n = snprintf(ev, sizeof(ev), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nx-request-id: req_bench\r\n\r\n%s",
                     sizeof(json_body) - 1, json_body);
        c->streaming = 0;
        nstreams--;
        return write_all(c->fd, ev, (size_t) n);
    }

    if (c->left > 0) {
        long long  t = (long long) now_ns(CLOCK_REALTIME);
        char       tc[32] = "";

        if (c->tcontent) {
            snprintf(tc, sizeof(tc), "t=%lld;", t);
        }
        n = snprintf(ev, sizeof(ev),
                     "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\","
                     "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s%.*s\"},"
                     "\"finish_reason\":null}],\"usage\":null,\"t\":%lld}\n\n",
                     tc, c->pad, padbuf, t);
        c->left--;
        c->next_ns += (int64_t) c->interval_ms * 1000000;
        return send_event(c, ev, (size_t) n);
    }

    n = snprintf(ev, sizeof(ev),
                 "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\","
                 "\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,"
                 "\"completion_tokens\":20,\"total_tokens\":32},\"t\":%lld}\n\n"
                 "data: [DONE]\n\n",
                 (long long) now_ns(CLOCK_REALTIME));
    if (send_event(c, ev, (size_t) n) || write_all(c->fd, "0\r\n\r\n", 5)) {
        return -1;
    }
    c->streaming = 0;
    nstreams--;
    return 0;
}

/* One complete request in c->in: answer it. Returns bytes consumed, 0 when
 * incomplete, -1 on a broken request. */
static long
handle(conn_t *c)
{
    char       *end, *p, *target, *sp;
    size_t      hlen, clen = 0, tlen;
    int         stream;
    char        head[512];
    int         n;

    end = memmem(c->in, c->inlen, "\r\n\r\n", 4);
    if (end == NULL) {
        return c->inlen >= INBUF ? -1 : 0;
    }
    hlen = (size_t) (end - c->in) + 4;

    for (p = c->in; p < end; p++) {
        if ((*p == 'c' || *p == 'C') && p > c->in && p[-1] == '\n'
            && strncasecmp(p, "content-length:", 15) == 0)
        {
            clen = strtoul(p + 15, NULL, 10);
        }
    }
    if (hlen + clen > INBUF) {
        return -1;
    }
    if (c->inlen < hlen + clen) {
        return 0;
    }

    target = memchr(c->in, ' ', hlen);
    if (target == NULL) {
        return -1;
    }
    target++;
    sp = memchr(target, ' ', (size_t) (end - target));
    if (sp == NULL) {
        return -1;
    }
    tlen = (size_t) (sp - target);

    stream = query_int(target, tlen, "stream", 0)
             || memmem(c->in + hlen, clen, "\"stream\":true", 13) != NULL
             || memmem(c->in + hlen, clen, "\"stream\": true", 14) != NULL;

    if (memmem(target, tlen, "/chat/completions", 17) == NULL) {
        n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: 2\r\nx-request-id: req_bench\r\n\r\n{}");
        if (write_all(c->fd, head, (size_t) n)) {
            return -1;
        }
    } else if (!stream && query_int(target, tlen, "delay_ms", 0) > 0) {
        c->streaming = 2;
        nstreams++;
        c->next_ns = now_ns(CLOCK_MONOTONIC)
                     + (int64_t) query_int(target, tlen, "delay_ms", 0) * 1000000;
    } else if (!stream) {
        n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nx-request-id: req_bench\r\n\r\n",
                     sizeof(json_body) - 1);
        if (write_all(c->fd, head, (size_t) n)
            || write_all(c->fd, json_body, sizeof(json_body) - 1))
        {
            return -1;
        }
    } else {
        n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
                     "Content-Type: text/event-stream; charset=utf-8\r\n"
                     "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n"
                     "x-request-id: req_bench\r\n\r\n");
        if (write_all(c->fd, head, (size_t) n)) {
            return -1;
        }
        c->streaming = 1;
        nstreams++;
        c->left = query_int(target, tlen, "events", 20);
        c->interval_ms = query_int(target, tlen, "interval_ms", 20);
        c->pad = query_int(target, tlen, "pad", 8);
        c->tcontent = query_int(target, tlen, "tcontent", 0);
        if (c->pad < 0 || c->pad > (int) sizeof(padbuf)) {
            c->pad = 8;
        }
        /* the first event goes out at once: time to first byte */
        c->next_ns = now_ns(CLOCK_MONOTONIC);
    }
    return (long) (hlen + clen);
}

int
main(int argc, char **argv)
{
    struct sockaddr_in   sa;
    struct epoll_event   ev, evs[256];
    char                *colon, host[64];
    int                  lfd, ep, one = 1, i, n, fd, timeout;
    long                 used;
    int64_t              now, next;
    conn_t              *c;

    if (argc != 2 || (colon = strrchr(argv[1], ':')) == NULL
        || strncmp(argv[1], "127.", 4) != 0 || (size_t) (colon - argv[1]) >= sizeof(host))
    {
        fprintf(stderr, "usage: fastmock 127.x.y.z:PORT\n");
        return 2;
    }
    memcpy(host, argv[1], (size_t) (colon - argv[1]));
    host[colon - argv[1]] = '\0';
    memset(padbuf, 'x', sizeof(padbuf));
    signal(SIGPIPE, SIG_IGN);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t) atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "fastmock: bad address %s\n", host);
        return 2;
    }
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) != 0 || listen(lfd, 4096) != 0) {
        perror("fastmock: listen");
        return 1;
    }
    ep = epoll_create1(0);
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

    for (;;) {
        /* sleep until the next stream event is due */
        timeout = -1;
        if (nstreams) {
            now = now_ns(CLOCK_MONOTONIC);
            next = INT64_MAX;
            for (fd = 0; fd <= maxfd; fd++) {
                c = conns[fd];
                if (c && c->streaming && c->next_ns < next) {
                    next = c->next_ns;
                }
            }
            timeout = next <= now ? 0 : (int) ((next - now + 999999) / 1000000);
        }

        n = epoll_wait(ep, evs, 256, timeout);
        for (i = 0; i < n; i++) {
            fd = evs[i].data.fd;
            if (fd == lfd) {
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (fd >= MAXCONN) {
                        close(fd);
                        continue;
                    }
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    c = calloc(1, sizeof(*c));
                    c->fd = fd;
                    c->in = malloc(INBUF);
                    conns[fd] = c;
                    if (fd > maxfd) {
                        maxfd = fd;
                    }
                    ev.events = EPOLLIN;
                    ev.data.fd = fd;
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            c = conns[fd];
            if (c == NULL) {
                continue;
            }
            for (;;) {
                ssize_t r = read(fd, c->in + c->inlen, INBUF - c->inlen);
                if (r > 0) {
                    c->inlen += (size_t) r;
                    if (c->inlen < INBUF) {
                        continue;
                    }
                } else if (r < 0 && errno == EAGAIN) {
                    break;
                } else if (r <= 0) {
                    close_conn(ep, c);
                    c = NULL;
                }
                break;
            }
            /* pipelined requests are answered in order; a stream holds the
             * connection until it ends */
            while (c && !c->streaming && c->inlen) {
                used = handle(c);
                if (used < 0) {
                    close_conn(ep, c);
                    c = NULL;
                    break;
                }
                if (used == 0) {
                    break;
                }
                memmove(c->in, c->in + used, c->inlen - (size_t) used);
                c->inlen -= (size_t) used;
            }
        }

        if (nstreams) {
            now = now_ns(CLOCK_MONOTONIC);
            for (fd = 0; fd <= maxfd; fd++) {
                c = conns[fd];
                while (c && c->streaming && c->next_ns <= now) {
                    if (stream_step(c) != 0) {
                        close_conn(ep, c);
                        c = NULL;
                    }
                }
                /* a request pipelined behind a finished stream */
                if (c && !c->streaming && c->inlen) {
                    used = handle(c);
                    if (used > 0) {
                        memmove(c->in, c->in + used, c->inlen - (size_t) used);
                        c->inlen -= (size_t) used;
                    } else if (used < 0) {
                        close_conn(ep, c);
                    }
                }
            }
        }
    }
}
