/*
 * Fallbacks across providers (docs/endpoints.md, "Fallbacks"): a request of
 * a lava_api endpoint may name an ordered list of {url, model}, tried in
 * turn when an attempt fails before any byte of its answer reached the
 * client (a provider 5xx or 429, nginx's 502/504 of a connect, TLS or
 * timeout error).
 *
 *   parse and check   every fallback up front, before anything is
 *                     forwarded (access phase; the body's translations
 *                     once it is read)
 *   intercept         the proxy's content handler is wrapped, and the
 *                     upstream's header parser after it: a failed status is
 *                     intercepted (error_page -> @lava_error) only when a
 *                     next attempt exists and the deadline allows, else the
 *                     provider's answer reaches the client as without
 *                     fallbacks
 *   next attempt      @lava_error books the failed attempt's own event,
 *                     releases what it held and redirects the request to
 *                     its own URI; the access phase routes it to the next
 *                     provider with the client's body translated again
 */

#ifndef NGX_HTTP_LAVA_FALLBACK_H
#define NGX_HTTP_LAVA_FALLBACK_H

#include "ngx_http_lava_module.h"


/*
 * Attempts of one request at most: each fallback costs two of nginx's
 * NGX_HTTP_MAX_URI_CHANGES (10): the error_page to @lava_error and the
 * redirect back; the last attempt's own error_page needs one more.
 */
#define NGX_HTTP_LAVA_FALLBACK_MAX        5

#define NGX_HTTP_LAVA_FALLBACK_ATTEMPTS   3         /* default */
#define NGX_HTTP_LAVA_FALLBACK_TIMEOUT    60000     /* ms, default */


typedef struct {
    ngx_str_t                    url;        /* "https://host/path?query" */
    ngx_str_t                    model;      /* the provider's model name */
} ngx_http_lava_fallback_t;


/* Per-request state (ctx->fallback), r->pool. */
typedef struct {
    ngx_http_lava_fallback_t     items[NGX_HTTP_LAVA_FALLBACK_MAX - 1];
    ngx_uint_t                   n;          /* fallbacks given */
    ngx_uint_t                   attempt;    /* the current one, 1.. */
    ngx_msec_t                   deadline;   /* ngx_current_msec: no
                                                attempt starts after it */

    ngx_str_t                    body;       /* the client's body (without
                                                "fallbacks"), unset until
                                                read */
    ngx_list_t                   headers;    /* the client's request
                                                headers as received */

    ngx_http_handler_pt          content;    /* proxy_pass's handler */
    ngx_http_upstream_t         *u;          /* the attempt's, wrapped */
    ngx_int_t                  (*process_header)(ngx_http_request_t *r);
    ngx_msec_t                   read_timeout; /* the location's */

    ngx_msec_t                   attempt_ms; /* ngx_current_msec at its
                                                start */
    int64_t                      attempt_ts; /* Unix ms at its start */
    ngx_uint_t                   status;     /* the provider's status of an
                                                intercepted answer */
    unsigned                     next:1;     /* the access phase routes to
                                                the next attempt */
    unsigned                     intercepted:1;
} ngx_http_lava_fb_t;


/* directives (docs/directives.md) */
char *ngx_http_lava_fallback_attempts(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_lava_fallback_timeout(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * Access phase, the first attempt, before the headers are rewritten: the
 * request's fallbacks (the unified body's "fallbacks", the rewrite
 * endpoint's x-lava-fallbacks header) read and checked. NGX_OK, else the
 * request was refused (NGX_DONE) or an HTTP code.
 */
ngx_int_t ngx_http_lava_fallback_start(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);

/*
 * Access phase, on entry: after a redirect to the next attempt, the request
 * routed to its provider (ctx reset for the attempt); NGX_OK go on through
 * the access phase as for a first request, else refused.
 */
ngx_int_t ngx_http_lava_fallback_access(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);

/* the body handler, before the body is translated: the client's body kept
 * and every fallback's translation tried; LAVA_REFUSAL_COUNT or refused */
lava_refusal_e ngx_http_lava_fallback_body(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, const char **msg);

/* 1: an attempt after the first (the spend key was counted once) */
ngx_uint_t ngx_http_lava_fallback_retry(ngx_http_lava_ctx_t *ctx);

/* access phase, accepted: the content handler wrapped when a next attempt
 * exists */
void ngx_http_lava_fallback_arm(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);

/* lava_error: the failed attempt booked and the next one started
 * (NGX_DONE), or NGX_DECLINED answer the error as without fallbacks */
ngx_int_t ngx_http_lava_fallback_error(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, ngx_uint_t status, const char *code);

/* header filter: x-lava-provider and x-lava-attempt */
ngx_int_t ngx_http_lava_fallback_headers(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);

#endif /* NGX_HTTP_LAVA_FALLBACK_H */
