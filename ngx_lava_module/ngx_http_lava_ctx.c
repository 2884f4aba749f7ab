/*
 * Per-request state: the context of a forward request (created in the
 * rewrite or access phase, kept across error_page redirects), the body
 * filter state hanging from it, and the request id it is born with
 * (format: lib/lava_id.h); the header lookup of the handlers and filters.
 */

#include <sys/random.h>

#include "ngx_http_lava_module.h"
#include "ngx_http_lava_body.h"


/* this worker's request id generator (splitmix64), seeded at init_process */
static uint64_t  ngx_http_lava_rnd_state;


static uint64_t ngx_http_lava_rnd(void);
static void ngx_http_lava_ctx_cleanup(void *data);


ngx_http_lava_ctx_t *
ngx_http_lava_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t   *cln;
    ngx_http_lava_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_lava_module);
    if (ctx || !r->internal) {
        return ctx;
    }

    /*
     * an internal redirect (error_page) zeroes r->ctx and marks the request
     * internal; the context lives on in the pool cleanup registered when it
     * was created
     */
    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_lava_ctx_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r, ctx, ngx_http_lava_module);
            return ctx;
        }
    }

    return NULL;
}


ngx_http_lava_ctx_t *
ngx_http_lava_create_ctx(ngx_http_request_t *r)
{
    uint64_t              rnd1, rnd2, rnd3;
    ngx_time_t           *tp;
    ngx_pool_cleanup_t   *cln;
    ngx_http_lava_ctx_t  *ctx;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_lava_ctx_t));
    if (cln == NULL) {
        return NULL;
    }

    ctx = cln->data;
    ngx_memzero(ctx, sizeof(ngx_http_lava_ctx_t));
    cln->handler = ngx_http_lava_ctx_cleanup;

    tp = ngx_timeofday();
    ctx->start_sec = tp->sec;
    ctx->start_msec_part = tp->msec;
    ctx->start_ms = ngx_current_msec;

    rnd1 = ngx_http_lava_rnd();
    rnd2 = ngx_http_lava_rnd();
    rnd3 = ngx_http_lava_rnd();

    lava_reqid_make((char *) ctx->request_id,
                    (uint64_t) tp->sec * 1000 + tp->msec, rnd1, rnd2, rnd3);

    ngx_http_set_ctx(r, ctx, ngx_http_lava_module);

    return ctx;
}


/* a fresh request id (a failed attempt's own, ngx_http_lava_fallback.c):
 * id holds NGX_HTTP_LAVA_REQID_LEN + 1 bytes */
void
ngx_http_lava_reqid_new(u_char *id)
{
    uint64_t     rnd1, rnd2, rnd3;
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    rnd1 = ngx_http_lava_rnd();
    rnd2 = ngx_http_lava_rnd();
    rnd3 = ngx_http_lava_rnd();

    lava_reqid_make((char *) id, (uint64_t) tp->sec * 1000 + tp->msec, rnd1,
                    rnd2, rnd3);
}


/* the body filters' state, from r->pool on first use */
ngx_http_lava_body_t *
ngx_http_lava_body_state(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_http_lava_body_t  *body;

    if (ctx->body) {
        return ctx->body;
    }

    body = ngx_pcalloc(r->pool, sizeof(ngx_http_lava_body_t));
    if (body == NULL) {
        return NULL;
    }

    lava_usage_chunk_init(&body->cut);
    body->last_out = &body->out;
    body->request = r;
    ctx->body = body;

    return body;
}


static void
ngx_http_lava_ctx_cleanup(void *data)
{
    ngx_http_lava_ctx_t  *ctx = data;

    if (ctx->tap) {
        lava_tap_free(ctx->tap);
        ctx->tap = NULL;
    }
}


/* splitmix64: fast, and seeded per worker from the kernel's randomness */
static uint64_t
ngx_http_lava_rnd(void)
{
    uint64_t  z;

    z = (ngx_http_lava_rnd_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


void
ngx_http_lava_ctx_init_process(ngx_cycle_t *cycle)
{
    uint64_t  seed;

    /* each worker draws its own request id randomness */
    if (getrandom(&seed, sizeof(uint64_t), GRND_NONBLOCK)
        != (ssize_t) sizeof(uint64_t))
    {
        /* the address of a stack variable adds what ASLR randomized */
        seed = ((uint64_t) ngx_pid << 32) ^ (uint64_t) ngx_time()
               ^ (uint64_t) (uintptr_t) &seed;
    }

    ngx_http_lava_rnd_state = seed;
}


/*
 * The first header of a list (request, upstream or response headers) named
 * lname (lower case, len bytes), or NULL. An entry with hash 0 is deleted,
 * as everywhere in nginx, and skipped.
 */
ngx_table_elt_t *
ngx_http_lava_header(ngx_list_t *headers, const char *lname, size_t len)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &headers->part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash && h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) lname, len) == 0)
        {
            return &h[i];
        }
    }
}
