/*
 * State of the body filters of one forward request (ctx->body), shared by
 * the files under the header and body filters of ngx_http_lava_filter.c:
 *   ngx_http_lava_strip.c   removes the include_usage chunk
 *   ngx_http_lava_drain.c   reads the answer on after the client left
 * Allocated from r->pool on first use (ngx_http_lava_ctx.c); most requests
 * never need it.
 */

#ifndef NGX_HTTP_LAVA_BODY_H
#define NGX_HTTP_LAVA_BODY_H

#include "ngx_http_lava_module.h"
#include "ngx_http_lava_gunzip.h"
#include "lava_usage_chunk.h"


typedef struct {
    /* gzip/deflate answer: inflated for the tap only */
    ngx_http_lava_gunzip_t  *gz;

    /* removing the usage-only chunk (ngx_http_lava_strip.c) */
    unsigned                 strip:1;
    unsigned                 pass:1;         /* current event goes through */
    lava_usage_chunk_t       cut;            /* where events end */
    ngx_buf_t               *hold;           /* current event so far (own) */
    ngx_chain_t             *out;
    ngx_chain_t            **last_out;
    ngx_chain_t             *busy;
    ngx_chain_t             *free_slices;    /* bufs pointing into upstream */
    ngx_chain_t             *free_holds;     /* bufs with own memory */
    off_t                    dropped;        /* bytes, since the last call */

    /* the managed key masked in a non-2xx answer (ngx_http_lava_keymask.c) */
    unsigned                 keymask:1;
    unsigned                 keymask_drop:1; /* compressed: not relayed */
    unsigned                 keymask_cut:1;  /* over the bound: cut */
    u_char                  *keymask_hold;   /* last key length - 1 bytes */
    size_t                   keymask_held;
    size_t                   keymask_sent;   /* bytes passed on */

    /* reading on after the client left (ngx_http_lava_drain.c) */
    ngx_event_t              drain_ev;
    ngx_queue_t              drain_q;        /* the worker's drains */
    ngx_http_lava_ctx_t     *drain_ctx;      /* its payer */
    off_t                    drained;        /* bytes */
    ngx_http_request_t      *request;

    /* nginx's own error page of a forward location, replaced by JSON
     * (ngx_http_lava_error.c); NULL none */
    ngx_buf_t               *json_error;
    unsigned                 json_error_sent:1;
} ngx_http_lava_body_t;


/* ngx_http_lava_ctx.c: ctx->body, created on first use; NULL no memory */
ngx_http_lava_body_t *ngx_http_lava_body_state(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);

/*
 * ngx_http_lava_strip.c: passes the chain on through next without the
 * usage-only chunk; body->dropped counts the bytes removed.
 */
ngx_int_t ngx_http_lava_strip_filter(ngx_http_request_t *r,
    ngx_http_lava_body_t *body, ngx_chain_t *in,
    ngx_http_output_body_filter_pt next);
/* the client is gone: what is queued is consumed and stripping stops */
void ngx_http_lava_strip_abandon(ngx_http_request_t *r,
    ngx_http_lava_body_t *body);

/*
 * ngx_http_lava_keymask.c: the managed key in the provider's answer headers
 * is masked, and the body of a non-2xx answer is set to be scanned
 * (body->keymask); NGX_ERROR no memory. The filter passes the chain on
 * through next, masked.
 */
ngx_int_t ngx_http_lava_keymask_headers(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);
ngx_int_t ngx_http_lava_keymask_filter(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, ngx_http_lava_body_t *body, ngx_chain_t *in,
    ngx_http_output_body_filter_pt next);

/*
 * ngx_http_lava_drain.c: the client left or writing to it failed. NGX_OK
 * reading on to the usage, NGX_ERROR not worth it or not allowed (nginx
 * closes the upstream).
 */
ngx_int_t ngx_http_lava_drain_start(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);
/* the answer after the client left: consumed; NGX_ERROR past the bound */
ngx_int_t ngx_http_lava_drain(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    ngx_chain_t *in);

/*
 * ngx_http_lava_error.c: nginx's own answer to an error of a forward
 * location with no error_page for it becomes the JSON error (header filter:
 * headers set, body->json_error kept); the body filter then sends that
 * instead of nginx's page.
 */
ngx_int_t ngx_http_lava_error_replace(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);
ngx_int_t ngx_http_lava_error_body(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, ngx_chain_t *in,
    ngx_http_output_body_filter_pt next);

#endif /* NGX_HTTP_LAVA_BODY_H */
