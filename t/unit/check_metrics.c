/*
 * The sidecar's metrics (sidecar/metrics.c): histogram buckets are
 * cumulative and agree with _count and _sum, /healthz names what is wrong,
 * and the responder answers /metrics, /healthz, 404, 400 and an oversized
 * request without ever waiting (driven here by metrics_serve() alone, as
 * the sidecar's loop drives it). The listen address parser refuses what
 * is not a numeric IPv4 address and port.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"
#include "config.h"
#include "metrics.h"


/* the value of one sample line "name value" in text; -1 when absent */
static double
sample(const char *text, const char *name)
{
    const char *p = text;
    size_t      len = strlen(name);

    while ((p = strstr(p, name)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[len] == ' ') {
            return atof(p + len + 1);
        }
        p += len;
    }
    return -1;
}


static void
new_sidecar(sidecar_t *s, const char *listen)
{
    char err[256];

    memset(s, 0, sizeof(*s));
    unsetenv("LAVA_REDIS_URL");
    unsetenv("LAVA_PG_DSN");
    ck_assert_int_eq(config_load(NULL, &s->cfg, err, sizeof(err)), 0);
    free(s->cfg.metrics_listen);
    s->cfg.metrics_listen = strdup(listen);
}


START_TEST(histograms_are_cumulative)
{
    sidecar_t      s;
    book_result_t  r = { .booked = 3, .duplicate = 1, .conflict = 0, .dead = 1, .poison = 1 };
    char          *text;

    new_sidecar(&s, "off");
    metrics_read(7);
    metrics_batch(7, &r, metrics_now_us());
    metrics_batch(1, &r, metrics_now_us() - 3000000);     /* 3 s ago */
    metrics_dead_lettered(2);

    text = metrics_render(&s);
    ck_assert_ptr_nonnull(text);
    ck_assert(sample(text, "lava_sidecar_events_read_total") >= 7);
    ck_assert(sample(text, "lava_sidecar_events_booked_total") >= 6);
    ck_assert(sample(text, "lava_sidecar_events_dead_lettered_total") >= 6);
    ck_assert(sample(text, "lava_sidecar_batch_size_bucket{le=\"1\"}") >= 1);
    ck_assert(sample(text, "lava_sidecar_batch_size_bucket{le=\"5\"}")
              < sample(text, "lava_sidecar_batch_size_bucket{le=\"10\"}"));
    ck_assert(sample(text, "lava_sidecar_batch_size_bucket{le=\"+Inf\"}")
              == sample(text, "lava_sidecar_batch_size_count"));
    ck_assert(sample(text, "lava_sidecar_batch_size_sum") >= 8);
    /* the 3 s batch is above 2.5 and within 5 */
    ck_assert(sample(text, "lava_sidecar_booking_duration_seconds_bucket{le=\"2.5\"}")
              < sample(text, "lava_sidecar_booking_duration_seconds_bucket{le=\"5\"}"));
    ck_assert(sample(text, "lava_sidecar_booking_duration_seconds_sum") >= 3.0);
    ck_assert(sample(text, "lava_sidecar_booking_duration_seconds_bucket{le=\"+Inf\"}")
              == sample(text, "lava_sidecar_booking_duration_seconds_count"));
    ck_assert(strstr(text, "# TYPE lava_sidecar_batch_size histogram\n") != NULL);
    ck_assert(sample(text, "lava_sidecar_postgres_up") == 0);
    ck_assert(sample(text, "lava_sidecar_redis_up") == 0);
    ck_assert(sample(text, "lava_sidecar_rate_table_version") == -1);
    free(text);
    config_free(&s.cfg);
}
END_TEST


START_TEST(health_says_why)
{
    sidecar_t  s;
    char      *text;
    int        healthy = 1;

    new_sidecar(&s, "off");
    text = metrics_health(&s, &healthy);
    ck_assert_int_eq(healthy, 0);
    ck_assert_str_eq(text, "postgres not connected\n");
    free(text);
    config_free(&s.cfg);
}
END_TEST


START_TEST(listen_addresses)
{
    char host[64];
    int  port = 0;

    ck_assert_int_eq(config_listen_addr("off", NULL, 0, NULL), 1);
    ck_assert_int_eq(config_listen_addr("127.0.0.1:9187", host, sizeof(host), &port), 0);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_int_eq(port, 9187);
    ck_assert_int_eq(config_listen_addr("0.0.0.0:1", NULL, 0, NULL), 0);
    ck_assert_int_eq(config_listen_addr("9187", NULL, 0, NULL), -1);
    ck_assert_int_eq(config_listen_addr(":9187", NULL, 0, NULL), -1);
    ck_assert_int_eq(config_listen_addr("localhost:9187", NULL, 0, NULL), -1);
    ck_assert_int_eq(config_listen_addr("127.0.0.1:", NULL, 0, NULL), -1);
    ck_assert_int_eq(config_listen_addr("127.0.0.1:65536", NULL, 0, NULL), -1);
    ck_assert_int_eq(config_listen_addr("127.0.0.1:-1", NULL, 0, NULL), -1);
    ck_assert_int_eq(config_listen_addr("[::1]:9187", NULL, 0, NULL), -1);
    ck_assert_int_eq(config_listen_addr("off ", NULL, 0, NULL), -1);
}
END_TEST


/* a free loopback port: bound to 0, then closed */
static int
free_port(void)
{
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);
    int                 fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
    port = ntohs(sin.sin_port);
    close(fd);
    return port;
}


/* sends req to the responder, serving it between reads, like the loop */
static char *
exchange(sidecar_t *s, int port, const char *req, size_t reqlen)
{
    struct sockaddr_in  sin;
    size_t              cap = 65536, n = 0, off = 0;
    ssize_t             k;
    char               *buf = calloc(1, cap);
    int                 fd, i;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t) port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert(connect(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0 || errno == EINPROGRESS);

    for (i = 0; i < 2000; i++) {
        metrics_serve(s);
        if (off < reqlen) {
            k = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);
            if (k > 0) {
                off += (size_t) k;
            }
        }
        k = recv(fd, buf + n, cap - 1 - n, 0);
        if (k == 0) {
            break;
        }
        if (k > 0) {
            n += (size_t) k;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            break;
        }
        if (off >= reqlen) {
            (void) shutdown(fd, SHUT_WR);       /* lets a lingering close end */
        }
        poll(NULL, 0, 1);
    }
    close(fd);
    buf[n] = '\0';
    return buf;
}


static char *
ask(sidecar_t *s, int port, const char *req)
{
    return exchange(s, port, req, strlen(req));
}


START_TEST(responder)
{
    sidecar_t  s;
    char       addr[64], *r, big[4096];
    int        port = free_port();

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    new_sidecar(&s, addr);
    metrics_serve(&s);                          /* opens the listener */

    r = ask(&s, port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_msg(strncmp(r, "HTTP/1.0 200 OK\r\n", 17) == 0, "%s", r);
    ck_assert(strstr(r, "Content-Type: text/plain; version=0.0.4") != NULL);
    ck_assert(strstr(r, "\r\n\r\n# HELP lava_sidecar_events_read_total ") != NULL);
    free(r);

    r = ask(&s, port, "GET /healthz?x=1 HTTP/1.0\r\n\r\n");
    ck_assert_msg(strncmp(r, "HTTP/1.0 503 ", 13) == 0, "%s", r);
    ck_assert(strstr(r, "\r\n\r\npostgres not connected\n") != NULL);
    free(r);

    r = ask(&s, port, "HEAD /metrics HTTP/1.0\r\n\r\n");
    ck_assert_msg(strncmp(r, "HTTP/1.0 200 OK\r\n", 17) == 0, "%s", r);
    ck_assert(strstr(r, "\r\n\r\n")[4] == '\0');
    free(r);

    r = ask(&s, port, "GET /metricsx HTTP/1.0\r\n\r\n");
    ck_assert_msg(strncmp(r, "HTTP/1.0 404 ", 13) == 0, "%s", r);
    free(r);

    r = ask(&s, port, "POST /metrics HTTP/1.0\r\n\r\n");
    ck_assert_msg(strncmp(r, "HTTP/1.0 400 ", 13) == 0, "%s", r);
    free(r);

    r = ask(&s, port, "GET metrics\n\n");
    ck_assert_msg(strncmp(r, "HTTP/1.0 400 ", 13) == 0, "%s", r);
    free(r);

    /* no end of headers within 2048 bytes */
    memcpy(big, "GET /metrics HTTP/1.0\r\nX: ", 26);
    memset(big + 26, 'a', sizeof(big) - 26);
    r = exchange(&s, port, big, sizeof(big));
    ck_assert_msg(strncmp(r, "HTTP/1.0 400 ", 13) == 0, "%s", r);
    ck_assert(strstr(r, "request too large") != NULL);
    free(r);

    /* off: the listener is closed */
    free(s.cfg.metrics_listen);
    s.cfg.metrics_listen = strdup("off");
    metrics_serve(&s);
    r = ask(&s, port, "GET /metrics HTTP/1.0\r\n\r\n");
    ck_assert_str_eq(r, "");
    free(r);

    metrics_close();
    config_free(&s.cfg);
}
END_TEST


Suite *
make_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("sidecar");

    tcase_add_test(tc, histograms_are_cumulative);
    tcase_add_test(tc, health_says_why);
    tcase_add_test(tc, listen_addresses);
    tcase_add_test(tc, responder);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}
