/*
 * A compressed answer must not blind the tap: the provider's gzip or deflate
 * body is inflated into a small reused buffer for the tap only, while the
 * original bytes go to the client untouched. Bounded: the output buffer is
 * NGX_HTTP_LAVA_GUNZIP_OUT bytes and zlib's window (~40 KB); past `max`
 * inflated bytes the tap stops (a compression bomb costs at most that much
 * CPU), and so it does past NGX_HTTP_LAVA_GUNZIP_FREE bytes once the answer
 * inflates more than NGX_HTTP_LAVA_GUNZIP_RATIO times its compressed size
 * (text and JSON deflate a few times over, a bomb a thousand): either way
 * the request is booked with an estimate, which never bills more than the
 * request could cost (lava_meter_finish).
 */
#ifndef NGX_HTTP_LAVA_GUNZIP_H
#define NGX_HTTP_LAVA_GUNZIP_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "lava_tap.h"

#define NGX_HTTP_LAVA_GUNZIP_OUT    16384
#define NGX_HTTP_LAVA_GUNZIP_FREE   (1024 * 1024)   /* bytes inflated before
                                                       the ratio counts */
#define NGX_HTTP_LAVA_GUNZIP_RATIO  100


typedef struct ngx_http_lava_gunzip_s  ngx_http_lava_gunzip_t;

/* NULL on failure; the zlib state is released with r->pool */
ngx_http_lava_gunzip_t *ngx_http_lava_gunzip_create(ngx_http_request_t *r,
    size_t max);

/* Inflates p/n (read only) and feeds the tap. NGX_OK, or NGX_DECLINED when
 * the body is not inflatable or passed max: the caller stops feeding and
 * flags the tap. */
ngx_int_t ngx_http_lava_gunzip_feed(ngx_http_lava_gunzip_t *g, u_char *p,
    size_t n, lava_tap_t *tap);

#endif
