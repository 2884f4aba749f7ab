/*
 * Inflating a copy of a compressed answer for the tap (see
 * ngx_http_lava_gunzip.h). Modelled on nginx's gunzip filter, but read-only:
 * the client gets the provider's bytes as they came.
 */

#include <zlib.h>

#include "ngx_http_lava_module.h"
#include "ngx_http_lava_gunzip.h"


struct ngx_http_lava_gunzip_s {
    z_stream     zs;
    u_char      *out;            /* NGX_HTTP_LAVA_GUNZIP_OUT bytes, r->pool */
    size_t       total;          /* bytes inflated so far */
    size_t       total_in;       /* compressed bytes fed so far */
    size_t       max;
    ngx_log_t   *log;
    unsigned     init:1;
    unsigned     raw_tried:1;    /* "deflate" sent without its zlib header */
    unsigned     produced:1;     /* anything inflated yet */
    unsigned     failed:1;
};


static void
ngx_http_lava_gunzip_cleanup(void *data)
{
    ngx_http_lava_gunzip_t  *g = data;

    if (g->init) {
        inflateEnd(&g->zs);
        g->init = 0;
    }
}


ngx_http_lava_gunzip_t *
ngx_http_lava_gunzip_create(ngx_http_request_t *r, size_t max)
{
    ngx_pool_cleanup_t      *cln;
    ngx_http_lava_gunzip_t  *g;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_lava_gunzip_t));
    if (cln == NULL) {
        return NULL;
    }

    g = cln->data;
    ngx_memzero(g, sizeof(ngx_http_lava_gunzip_t));

    g->out = ngx_palloc(r->pool, NGX_HTTP_LAVA_GUNZIP_OUT);
    if (g->out == NULL) {
        return NULL;
    }

    /* 32 + 15: a gzip or a zlib header, whichever comes */
    if (inflateInit2(&g->zs, MAX_WBITS + 32) != Z_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "lava tap: inflateInit2() failed, the compressed "
                      "answer is not read");
        return NULL;
    }

    g->init = 1;
    g->max = max;
    g->log = r->connection->log;
    cln->handler = ngx_http_lava_gunzip_cleanup;

    return g;
}


ngx_int_t
ngx_http_lava_gunzip_feed(ngx_http_lava_gunzip_t *g, u_char *p, size_t n,
    lava_tap_t *tap)
{
    int     rc;
    size_t  size;

    if (g->failed) {
        return NGX_DECLINED;
    }

    /* zlib reads next_in only; it is not const in zlib's own declaration */
    g->zs.next_in = p;
    g->zs.avail_in = n;
    g->total_in += n;

    for ( ;; ) {
        g->zs.next_out = g->out;
        g->zs.avail_out = NGX_HTTP_LAVA_GUNZIP_OUT;

        rc = inflate(&g->zs, Z_NO_FLUSH);

        size = NGX_HTTP_LAVA_GUNZIP_OUT - g->zs.avail_out;

        if (size) {
            g->produced = 1;
            g->total += size;

            if (g->total > g->max) {
                ngx_log_error(NGX_LOG_WARN, g->log, 0,
                              "lava tap: compressed answer inflates past "
                              "%uz bytes, the rest is not read", g->max);
                g->failed = 1;
                return NGX_DECLINED;
            }

            if (g->total > NGX_HTTP_LAVA_GUNZIP_FREE
                && g->total / NGX_HTTP_LAVA_GUNZIP_RATIO > g->total_in)
            {
                ngx_log_error(NGX_LOG_WARN, g->log, 0,
                              "lava tap: compressed answer inflates more "
                              "than %d times its size (%uz of %uz bytes), "
                              "the rest is not read",
                              NGX_HTTP_LAVA_GUNZIP_RATIO, g->total,
                              g->total_in);
                g->failed = 1;
                return NGX_DECLINED;
            }

            lava_tap_feed(tap, (char *) g->out, size);
        }

        if (rc == Z_STREAM_END) {
            if (g->zs.avail_in == 0) {
                break;
            }

            /* concatenated gzip members are legal: go on with the next */
            if (inflateReset(&g->zs) != Z_OK) {
                g->failed = 1;
                return NGX_DECLINED;
            }

            continue;
        }

        if (rc == Z_DATA_ERROR && !g->produced && !g->raw_tried) {
            /* "deflate" is sometimes raw deflate: start again without a
             * header, on the same input */
            g->raw_tried = 1;

            if (inflateReset2(&g->zs, -MAX_WBITS) != Z_OK) {
                g->failed = 1;
                return NGX_DECLINED;
            }

            g->zs.next_in = p;
            g->zs.avail_in = n;
            continue;
        }

        if (rc == Z_BUF_ERROR) {
            /* no progress possible: more input needed */
            break;
        }

        if (rc != Z_OK) {
            ngx_log_error(NGX_LOG_WARN, g->log, 0,
                          "lava tap: inflate() failed: %d, the compressed "
                          "answer is not read", rc);
            g->failed = 1;
            return NGX_DECLINED;
        }

        if (g->zs.avail_in == 0 && g->zs.avail_out != 0) {
            /* all input taken and nothing more pending */
            break;
        }
    }

    return NGX_OK;
}
