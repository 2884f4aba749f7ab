/*
 * One request at a time on one keep-alive connection, each request's latency
 * kept (wrk -c1 keeps a histogram only): the tail of single requests, and
 * when each slow one happened, to set against a trace of the same seconds.
 *
 *   reqlat HOST:PORT PATH SECONDS BODY [HEADER]...
 *
 * POSTs BODY to PATH for SECONDS, then prints one line:
 *   n=<requests> p50=<us> p90= p99= p99.5= p99.9= max= gt250=<count> gt500= gt1000=
 * (microseconds; gtN: requests slower than N us). With REQLAT_SLOW=<file>,
 * every request slower than REQLAT_SLOW_US (default 400) is written there as
 * "<CLOCK_MONOTONIC ns at its start> <latency ns>", the clock of perf's
 * traces. Any answer but a 200, or a broken connection, ends the run with
 * status 1.
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
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_clock.h"

#define MAXREQ  (1 << 24)
#define INBUF   (1 << 16)

static char  in[INBUF];
static int   closing;       /* the last answer said Connection: close */


static int
cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}


/* reads one answer; 0: a 200 read whole, -1: anything else */
static int
read_answer(int fd)
{
    size_t   have = 0, need;
    ssize_t  n;
    char    *end, *cl, *te;
    long     len;

    for ( ;; ) {
        n = read(fd, in + have, sizeof(in) - 1 - have);
        if (n <= 0) {
            return -1;
        }

        have += (size_t) n;
        in[have] = '\0';
        end = strstr(in, "\r\n\r\n");
        if (end != NULL) {
            break;
        }

        if (have == sizeof(in) - 1) {
            return -1;
        }
    }

    if (strncmp(in, "HTTP/1.1 200", 12) != 0) {
        return -1;
    }

    end += 4;
    *(end - 2) = '\0';
    cl = strcasestr(in, "\r\ncontent-length:");
    te = strcasestr(in, "\r\ntransfer-encoding: chunked");
    closing = strcasestr(in, "\r\nconnection: close") != NULL;

    if (cl != NULL) {
        len = strtol(cl + 17, NULL, 10);
        need = (size_t) (end - in) + (size_t) len;

        while (have < need) {
            n = read(fd, in + have, sizeof(in) - have);
            if (n <= 0) {
                return -1;
            }
            have += (size_t) n;
        }

        return have == need ? 0 : -1;
    }

    if (te == NULL) {
        return -1;
    }

    /* chunked: the last chunk ends the answer (small answers only) */
    for ( ;; ) {
        if (have >= 5 && memmem(end, (size_t) (in + have - end), "0\r\n\r\n", 5)) {
            return 0;
        }
        if (have == sizeof(in)) {
            return -1;
        }
        n = read(fd, in + have, sizeof(in) - have);
        if (n <= 0) {
            return -1;
        }
        have += (size_t) n;
    }
}


int
main(int argc, char **argv)
{
    int                  fd, one = 1, i;
    char                *req, *host, *colon;
    size_t               reqlen, k, n = 0;
    int64_t             *lat, *t0s, start, t0, t1, until, slow_ns;
    FILE                *slow = NULL;
    struct sockaddr_in   sa;
    size_t               cap = 1 << 20, off = 0;
    long                 gt[3] = { 0, 0, 0 };
    const char          *path;

    if (argc < 5) {
        fprintf(stderr, "usage: reqlat HOST:PORT PATH SECONDS BODY [HEADER]...\n");
        return 2;
    }

    host = argv[1];
    colon = strchr(host, ':');
    if (colon == NULL) {
        return 2;
    }
    *colon = '\0';
    path = argv[2];

    req = malloc(cap);
    lat = malloc(MAXREQ * sizeof(int64_t));
    t0s = malloc(MAXREQ * sizeof(int64_t));
    if (req == NULL || lat == NULL || t0s == NULL) {
        return 2;
    }

    off += snprintf(req + off, cap - off,
                    "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                    "Content-Length: %zu\r\n", path, host, strlen(argv[4]));
    for (i = 5; i < argc; i++) {
        off += snprintf(req + off, cap - off, "%s\r\n", argv[i]);
    }
    off += snprintf(req + off, cap - off, "\r\n%s", argv[4]);
    reqlen = off;

    if (getenv("REQLAT_SLOW") != NULL) {
        slow = fopen(getenv("REQLAT_SLOW"), "w");
        if (slow == NULL) {
            perror("REQLAT_SLOW");
            return 2;
        }
    }
    slow_ns = (getenv("REQLAT_SLOW_US") ? atol(getenv("REQLAT_SLOW_US")) : 400) * 1000;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t) atoi(colon + 1));
    inet_pton(AF_INET, host, &sa.sin_addr);

    fd = -1;
    start = now_ns(CLOCK_MONOTONIC);
    until = start + (int64_t) (atof(argv[3]) * 1e9);

    for (t0 = start; t0 < until && n < MAXREQ; t0 = now_ns(CLOCK_MONOTONIC)) {
        /* nginx closes a connection after keepalive_requests (1000), as
         * wrk sees it: a new one, outside the request's time */
        if (fd == -1) {
            fd = socket(AF_INET, SOCK_STREAM, 0);
            if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
                perror("connect");
                return 1;
            }
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            t0 = now_ns(CLOCK_MONOTONIC);
        }

        for (k = 0; k < reqlen; ) {
            ssize_t w = write(fd, req + k, reqlen - k);
            if (w <= 0) {
                perror("write");
                return 1;
            }
            k += (size_t) w;
        }

        if (read_answer(fd) != 0) {
            fprintf(stderr, "reqlat: request %zu: not a 200 answer read whole\n", n);
            return 1;
        }

        t1 = now_ns(CLOCK_MONOTONIC);
        if (closing) {
            close(fd);
            fd = -1;
        }
        lat[n] = t1 - t0;
        t0s[n] = t0;
        if (slow && lat[n] > slow_ns) {
            fprintf(slow, "%lld %lld\n", (long long) t0, (long long) lat[n]);
        }
        n++;
    }

    if (slow) {
        fclose(slow);
    }

    for (k = 0; k < n; k++) {
        gt[0] += lat[k] > 250000;
        gt[1] += lat[k] > 500000;
        gt[2] += lat[k] > 1000000;
    }

    qsort(lat, n, sizeof(int64_t), cmp64);

#define PCT(p) (lat[(size_t) ((double) (n - 1) * (p) / 100.0)] / 1000)
    printf("n=%zu p50=%lld p90=%lld p99=%lld p99.5=%lld p99.9=%lld max=%lld"
           " gt250=%ld gt500=%ld gt1000=%ld\n",
           n, (long long) PCT(50), (long long) PCT(90), (long long) PCT(99),
           (long long) PCT(99.5), (long long) PCT(99.9),
           (long long) (lat[n - 1] / 1000), gt[0], gt[1], gt[2]);

    return 0;
}
