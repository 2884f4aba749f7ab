/*
 * The endpoints that speak one API shape to every provider (lava_api):
 *   ngx_http_lava_api.c     lava_api; the target of /v1/rewrite/<format>/<URL>
 *                           and of the unified endpoints (the model picks
 *                           the provider); the request body translated
 *   ngx_http_lava_xlate_filter.c  the answer translated into the client's
 *                           shape, after the usage tap read the provider's
 *                           own bytes
 *   ngx_http_lava_models.c  GET /v1/models
 * Translation itself is lib/lava_xlate.c (JSON) and lib/lava_xlate_stream.c
 * (SSE).
 */

#ifndef NGX_HTTP_LAVA_API_H
#define NGX_HTTP_LAVA_API_H

#include "ngx_http_lava_module.h"
#include "lava_xlate.h"
#include "lava_xlate_stream.h"


/* lava_api: what a location serves (llcf->api) */
#define NGX_HTTP_LAVA_API_NONE      0   /* the forward endpoint */
#define NGX_HTTP_LAVA_API_REWRITE   1   /* /v1/rewrite/<format>/<URL> */
#define NGX_HTTP_LAVA_API_CHAT      2   /* POST /v1/chat/completions */
#define NGX_HTTP_LAVA_API_MESSAGES  3   /* POST /v1/messages */
#define NGX_HTTP_LAVA_API_MODELS    4   /* GET /v1/models */

/* how the answer is translated (ngx_http_lava_xlate_filter.c) */
#define NGX_HTTP_LAVA_XLATE_NONE    0
#define NGX_HTTP_LAVA_XLATE_JSON    1   /* collected, translated at its end */
#define NGX_HTTP_LAVA_XLATE_ERROR   2   /* a provider error, the same */
#define NGX_HTTP_LAVA_XLATE_SSE     3   /* event by event */


/* Per-request state of an lava_api location (ctx->api), r->pool. */
typedef struct {
    lava_fmt_e                   client_fmt;     /* the shape the client
                                                    speaks */
    lava_fmt_e                   provider_fmt;   /* the provider endpoint's
                                                    shape; (lava_fmt_e) -1:
                                                    none known */
    ngx_str_t                    target;         /* unified: the provider
                                                    URL the model picked */
    ngx_str_t                    model;          /* unified: the provider's
                                                    model name */
    lava_refusal_e               refusal;        /* unified: refused while
                                                    its body was read */
    unsigned                     xlate:1;        /* bodies are translated */
    unsigned                     body_read:1;    /* unified: body seen */
    unsigned                     body_waiting:1;
    unsigned                     refused:1;
    unsigned                     no_usage:1;     /* an OpenAI client that
                                                    asked no usage chunk */
    unsigned                     client_stream:1; /* a Gemini client
                                                    asked for a stream:
                                                    alt=sse in its query */

    /* the answer (ngx_http_lava_xlate_filter.c) */
    ngx_uint_t                   mode;           /* NGX_HTTP_LAVA_XLATE_* */
    ngx_uint_t                   status;         /* the provider's */
    lava_xlate_stream_t         *stream;         /* SSE; freed by a pool
                                                    cleanup */
    u_char                      *hold;           /* JSON so far */
    size_t                       held;
    size_t                       hold_size;      /* bytes allocated */
    size_t                       hold_max;
    ngx_chain_t                 *free;           /* output buffers sent and */
    ngx_chain_t                 *busy;           /* not yet written */
    unsigned                     over:1;         /* JSON over hold_max */
    unsigned                     done:1;         /* last_buf sent */
    unsigned                     header_held:1;  /* JSON: the header goes
                                                    with the body */
    unsigned                     failed:1;       /* JSON not translated:
                                                    502 translation_failed */
} ngx_http_lava_api_t;


/* ngx_http_lava_api.c */
char *ngx_http_lava_api_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/* access phase, before routing: the unified endpoints read the body for
 * the model (NGX_OK go on, NGX_DONE waiting or refused, or an HTTP code) */
ngx_int_t ngx_http_lava_api_prepare(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);
/* authenticated: a spend key on the unified endpoint of the other
 * request_shape is refused (NGX_OK go on, else the request was refused) */
ngx_int_t ngx_http_lava_api_shape(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);
/* routing: the provider URL as lava_url_parse() takes it (extra path and
 * arguments with u=); NGX_OK, else the request was refused */
ngx_int_t ngx_http_lava_api_target(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, ngx_str_t *extra, ngx_str_t *args);
/* the body read: translated into the provider's shape in place (the
 * request's body buffers and Content-Length replaced). LAVA_REFUSAL_COUNT
 * on success, else the refusal (*msg its message, NULL the row's) */
lava_refusal_e ngx_http_lava_api_request(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, const char **msg);

/* the request body the proxy sends replaced by one buffer, Content-Length
 * too: wrap_body points at data (r->pool memory the caller keeps for the
 * request's life), set_body copies data (malloc'd or static) into r->pool
 * first. NGX_OK or NGX_ERROR */
ngx_int_t ngx_http_lava_api_wrap_body(ngx_http_request_t *r, u_char *data,
    size_t len);
ngx_int_t ngx_http_lava_api_set_body(ngx_http_request_t *r, const char *data,
    size_t len);

/* ngx_http_lava_xlate_filter.c: registered before the usage tap's filters
 * (so called after them) */
ngx_int_t ngx_http_lava_xlate_filter_init(ngx_conf_t *cf);

/* ngx_http_lava_models.c: the content handler of lava_api models */
ngx_int_t ngx_http_lava_models_handler(ngx_http_request_t *r);

#endif /* NGX_HTTP_LAVA_API_H */
