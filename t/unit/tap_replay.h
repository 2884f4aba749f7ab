/*
 * A body through the response tap at every split point and byte by byte:
 * the usage read must not depend on how the bytes arrive. Shared by
 * check_tap.c (usage of the fixtures) and check_usage.c (the metered usage
 * of the provider fixtures); each brings its own check of the result.
 * Include after lava_tap.h and lava_fixture.h.
 */
#ifndef LAVA_TAP_REPLAY_H
#define LAVA_TAP_REPLAY_H

#include <stdio.h>

typedef struct {
    int                  sse;
    lava_usage_format_e  fmt;
    int                  endpoint;      /* lava_endpoint_e */
    size_t               max_json;      /* 0: the tap's defaults */
    size_t               tail_max;
} fx_tap_opts_t;

/* checks the finished tap t; what names the case in failure messages */
typedef void (*fx_tap_check_pt)(void *data, lava_tap_t *t, const char *what);


/* feeds p[0..n) cut at `cut`, or in `step`-byte pieces when step > 0 */
static void
fx_tap_run(const fx_tap_opts_t *o, lava_tap_t *t, const char *p, size_t n,
    size_t cut, size_t step)
{
    size_t  off, k;

    FX_CHECK(lava_tap_init(t, o->sse, o->fmt, 0, o->max_json, o->tail_max)
             == 0, "init");
    t->endpoint = o->endpoint;

    if (step) {
        for (off = 0; off < n; off += k) {
            k = (off + step > n) ? n - off : step;
            lava_tap_feed(t, p + off, k);
        }

    } else {
        lava_tap_feed(t, p, cut);
        lava_tap_feed(t, p + cut, n - cut);
    }

    lava_tap_finish(t);
}


/* every split of p[0..n), then byte by byte, each checked by check() */
static void
fx_tap_replay(const fx_tap_opts_t *o, const char *name, const char *variant,
    const char *p, size_t n, fx_tap_check_pt check, void *data)
{
    char        what[640];
    size_t      k;
    lava_tap_t  t;

    for (k = 0; k <= n; k++) {
        snprintf(what, sizeof(what), "%.300s %s split at %zu", name, variant,
                 k);
        fx_tap_run(o, &t, p, n, k, 0);
        check(data, &t, what);
        lava_tap_free(&t);
    }

    snprintf(what, sizeof(what), "%.300s %s byte by byte", name, variant);
    fx_tap_run(o, &t, p, n, 0, 1);
    check(data, &t, what);
    lava_tap_free(&t);
}

#endif
