/*
 * The sidecar's own counters and its tiny HTTP/1.0 responder:
 *   GET /metrics  Prometheus text exposition format (text/plain; version=0.0.4)
 *   GET /healthz  200 "ok", or 503 and the reason: Postgres or Redis not
 *                 connected, the stream not sampled lately, or booking
 *                 behind by more than healthz_max_lag_ms
 * on metrics_listen (config.h; "off": none). docs/operations.md lists the
 * series and what to alert on.
 *
 * Never blocking booking: the listener and its connections are non-blocking
 * and served only between the loop's steps (main loop, backoff waits,
 * loop.h's loop_watch), so an answer waits at most one step (a stream read
 * of up to block_ms, or one transaction). A request is at most
 * METRICS_REQUEST_MAX bytes and METRICS_TIMEOUT_MS long; at most
 * METRICS_CONNS at once, the others wait in the listen backlog.
 */
#ifndef SIDECAR_METRICS_H
#define SIDECAR_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "book.h"
#include "sidecar.h"

#define METRICS_REQUEST_MAX  2048
#define METRICS_TIMEOUT_MS   5000
#define METRICS_CONNS        8

/* What the stream job (lag.c) last saw; the job and /metrics share it. */
typedef struct {
    int64_t    sampled_ms;           /* monotonic; 0: never */
    long long  undelivered;          /* entries the group has not read */
    long long  pending;              /* read by the group, not acknowledged */
    int64_t    lag_ms;               /* age of the oldest entry not booked; 0 none */
} metrics_stream_t;

extern metrics_stream_t  metrics_stream;

/* ---- counters: called where the work is done ---- */

int64_t metrics_now_us(void);                   /* monotonic, microseconds */
void metrics_read(size_t n);                    /* entries read from the stream */
/* a batch of n entries read at t0_us (metrics_now_us) is committed */
void metrics_batch(size_t n, const book_result_t *r, int64_t t0_us);
void metrics_dead_lettered(size_t n);           /* over-delivered, unread */

/* ---- the responder ---- */

/* Opens, moves or closes the listener as s->cfg.metrics_listen says; then
 * accepts, reads and answers what is ready. Never waits. */
void metrics_serve(sidecar_t *s);
void metrics_close(void);

/* Serves the responder during the loop's waits too (loop_watch). */
void metrics_watch(sidecar_t *s);

/* The text of GET /metrics and of GET /healthz (malloc()ed, NUL-terminated;
 * NULL out of memory); *healthy for /healthz. For tests. */
char *metrics_render(sidecar_t *s);
char *metrics_health(sidecar_t *s, int *healthy);

#endif
