/*
 * JSON error responses, in the shape the provider SDKs parse:
 *   {"error":{"message":"...","code":"...","status":401}}
 * Used for the gateway's own refusals and, through `error_page ... @lava_error`
 * or in place of nginx's HTML page on a forward location without one, for
 * the errors nginx produces when a provider cannot be reached. Status,
 * code and message of each come from one table, lib/lava_refusal.h.
 */

#include "ngx_http_lava_module.h"
#include "ngx_http_lava_body.h"
#include "ngx_http_lava_fallback.h"


typedef struct {
    ngx_uint_t   status;
    const char  *code;
    const char  *message;        /* NULL: the sender's */
} ngx_http_lava_refusal_t;


static ngx_http_lava_refusal_t  ngx_http_lava_refusals[] = {
#define NGX_HTTP_LAVA_REFUSAL(name, status, code, message)                    \
    { status, code, message },
    LAVA_REFUSALS(NGX_HTTP_LAVA_REFUSAL)
#undef NGX_HTTP_LAVA_REFUSAL
};


/* {"error":{"message","code","status"}}\n in r->pool, last_buf set */
static ngx_buf_t *
ngx_http_lava_error_buf(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    u_char     *p;
    size_t      len, mlen, clen;
    ngx_buf_t  *b;

    mlen = ngx_strlen(message);
    clen = ngx_strlen(code);

    len = sizeof("{\"error\":{\"message\":\"\",\"code\":\"\",\"status\":}}\n")
          - 1 + mlen + ngx_escape_json(NULL, (u_char *) message, mlen)
          + clen + ngx_escape_json(NULL, (u_char *) code, clen)
          + NGX_INT_T_LEN;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    p = ngx_cpymem(b->last, "{\"error\":{\"message\":\"", 21);
    p = (u_char *) ngx_escape_json(p, (u_char *) message, mlen);
    p = ngx_cpymem(p, "\",\"code\":\"", 10);
    p = (u_char *) ngx_escape_json(p, (u_char *) code, clen);
    p = ngx_sprintf(p, "\",\"status\":%ui}}\n", status);
    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    return b;
}


/* the headers of a JSON error of b's length */
static void
ngx_http_lava_error_headers(ngx_http_request_t *r, ngx_uint_t status,
    ngx_buf_t *b)
{
    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);
}


ngx_int_t
ngx_http_lava_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    /* the body of a refused request is never read: drop it cleanly */
    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    b = ngx_http_lava_error_buf(r, status, code, message);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_lava_error_headers(r, status, b);

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_lava_refuse(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    lava_refusal_e refusal, const char *message)
{
    ngx_int_t                 rc;
    ngx_http_lava_refusal_t  *rf;

    rf = &ngx_http_lava_refusals[refusal];

    ctx->refused = 1;
    ctx->error = rf->code;

    rc = ngx_http_lava_send_error(r, rf->status, rf->code,
                                  message ? message : rf->message);

    ngx_http_finalize_request(r, rc);
    return NGX_DONE;
}


/*
 * The method of a request nginx refused before it had a location: a
 * redirect to a URI (error_page of conf/lava-server.conf, for errors of the
 * request line, which have no URI to keep for a named location) made it
 * GET; the request line as read says what the client sent. NGX_DECLINED
 * when it starts with no method (a garbled line).
 */
static ngx_int_t
ngx_http_lava_error_method(ngx_http_request_t *r)
{
    u_char  *p, *end;

    p = r->request_line.data;
    end = p + ngx_min(r->request_line.len, LAVA_EVENT_MAX_method + 1);

    if (p == NULL) {
        return NGX_DECLINED;
    }

    for ( /* void */ ; p < end; p++) {
        if (*p == ' ') {
            break;
        }

        if ((*p < 'A' || *p > 'Z') && *p != '_' && *p != '-') {
            return NGX_DECLINED;
        }
    }

    if (p == end || p == r->request_line.data) {
        return NGX_DECLINED;
    }

    r->method_name.data = r->request_line.data;
    r->method_name.len = p - r->request_line.data;

    return NGX_OK;
}


/*
 * The row of lib/lava_refusal.h for a status nginx chose itself (*status:
 * nginx's 494-497, which have no status line, become 400); *client: nginx
 * refused the client's request (4xx, 501, 505), as opposed to a failure of
 * its own or of the provider.
 */
static ngx_http_lava_refusal_t *
ngx_http_lava_error_row(ngx_http_request_t *r, ngx_uint_t *status,
    ngx_uint_t *client)
{
    ngx_uint_t                s;
    ngx_http_lava_refusal_t  *rf;

    s = *status;

    *client = (s < NGX_HTTP_INTERNAL_SERVER_ERROR
               || s == NGX_HTTP_NOT_IMPLEMENTED
               || s == NGX_HTTP_VERSION_NOT_SUPPORTED);

    switch (s) {

    case NGX_HTTP_GATEWAY_TIME_OUT:
        rf = &ngx_http_lava_refusals[LAVA_REFUSAL_PROVIDER_TIMEOUT];
        break;

    case NGX_HTTP_BAD_GATEWAY:
        rf = &ngx_http_lava_refusals[LAVA_REFUSAL_PROVIDER_UNREACHABLE];
        break;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        rf = &ngx_http_lava_refusals[LAVA_REFUSAL_UNAVAILABLE];
        break;

    case NGX_HTTP_REQUEST_HEADER_TOO_LARGE:
        rf = &ngx_http_lava_refusals[LAVA_REFUSAL_HEADER_TOO_LARGE];
        break;

    case NGX_HTTP_REQUEST_URI_TOO_LARGE:
        rf = &ngx_http_lava_refusals[LAVA_REFUSAL_URI_TOO_LARGE];
        break;

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        rf = &ngx_http_lava_refusals[LAVA_REFUSAL_BODY_TOO_LARGE];
        break;

    case NGX_HTTP_REQUEST_TIME_OUT:
        rf = &ngx_http_lava_refusals[LAVA_REFUSAL_REQUEST_TIMEOUT];
        break;

    case NGX_HTTP_NOT_FOUND:
        rf = &ngx_http_lava_refusals[LAVA_REFUSAL_NOT_FOUND];
        break;

    case NGX_HTTP_NOT_ALLOWED:
        rf = &ngx_http_lava_refusals[LAVA_REFUSAL_METHOD_NOT_ALLOWED];
        break;

    case NGX_HTTP_LENGTH_REQUIRED:
        rf = &ngx_http_lava_refusals[LAVA_REFUSAL_LENGTH_REQUIRED];
        break;

    case NGX_HTTP_NOT_IMPLEMENTED:
        rf = &ngx_http_lava_refusals[LAVA_REFUSAL_NOT_IMPLEMENTED];
        break;

    case NGX_HTTP_VERSION_NOT_SUPPORTED:
        rf = &ngx_http_lava_refusals[LAVA_REFUSAL_VERSION_NOT_SUPPORTED];
        break;

    default:
        rf = &ngx_http_lava_refusals[s < NGX_HTTP_INTERNAL_SERVER_ERROR
                                     ? LAVA_REFUSAL_BAD_REQUEST
                                     : LAVA_REFUSAL_GATEWAY_ERROR];
    }

    /* nginx's own codes for what it sends as 400 (494 header too large,
     * 495-497 client certificate, plain HTTP to an https port): no status
     * line exists for them; ngx_http_send_header() sends err_status */
    if (s >= NGX_HTTP_REQUEST_HEADER_TOO_LARGE && s <= NGX_HTTP_TO_HTTPS) {
        *status = NGX_HTTP_BAD_REQUEST;
        r->err_status = NGX_HTTP_BAD_REQUEST;
    }

    return rf;
}


/* the event of a request nginx answered itself: its code, and refused when
 * the client's request was refused before it left */
static void
ngx_http_lava_error_book(ngx_http_lava_ctx_t *ctx, ngx_http_lava_refusal_t *rf,
    ngx_uint_t client)
{
    if (ctx->error == NULL) {
        ctx->error = rf->code;
    }

    if (client && !ctx->got_headers) {
        ctx->refused = 1;
    }
}


/*
 * Content handler of the location named by error_page (lava_error): nginx's
 * own errors on a forward location (provider unreachable, timeout, a body
 * too large or too slow) and, through the server-level error_page of
 * conf/lava-server.conf, the refusals nginx makes before any location is
 * chosen (header or request line too large, bad Transfer-Encoding). A
 * request that never reached the forward location has no context yet: it
 * gets one here, so that the answer carries a request id and the log phase
 * books the refusal, once, like the gateway's own.
 */
ngx_int_t
ngx_http_lava_error_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_uint_t                status, client;
    ngx_http_lava_ctx_t      *ctx;
    ngx_http_lava_refusal_t  *rf;

    status = r->err_status ? r->err_status : NGX_HTTP_BAD_GATEWAY;

    rf = ngx_http_lava_error_row(r, &status, &client);

    ctx = ngx_http_lava_get_ctx(r->main);

    if (ctx == NULL && r == r->main) {
        ctx = ngx_http_lava_create_ctx(r);

        if (ctx && client && ngx_http_lava_error_method(r) != NGX_OK) {
            /* no method could be read: nothing the ledger could book (the
             * event's method is required); answered all the same */
            ctx->logged = 1;
        }
    }

    /* a failed attempt with a fallback left: booked, the next one tried */
    if (ctx && ctx->fallback) {
        rc = ngx_http_lava_fallback_error(r, ctx, status, rf->code);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    if (ctx) {
        ngx_http_lava_error_book(ctx, rf, client);
    }

    /* the status nginx chose is kept (gateway_error covers several) */
    return ngx_http_lava_send_error(r, status, rf->code, rf->message);
}


/*
 * Header filter of a forward location, for nginx's own answer to one of its
 * errors with no error_page for it (r->err_status: nginx's HTML page is on
 * its way): the same JSON as lava_error's, in its place. So a forward
 * location answers JSON without any error_page or named location; the body
 * filter sends the JSON instead of the page (ngx_http_lava_error_body()).
 */
ngx_int_t
ngx_http_lava_error_replace(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_uint_t                status, client;
    ngx_http_lava_body_t     *body;
    ngx_http_lava_refusal_t  *rf;

    body = ngx_http_lava_body_state(r, ctx);
    if (body == NULL) {
        return NGX_ERROR;
    }

    status = r->err_status;

    rf = ngx_http_lava_error_row(r, &status, &client);

    ngx_http_lava_error_book(ctx, rf, client);

    body->json_error = ngx_http_lava_error_buf(r, status, rf->code,
                                               rf->message);
    if (body->json_error == NULL) {
        return NGX_ERROR;
    }

    ngx_http_lava_error_headers(r, status, body->json_error);

    return NGX_OK;
}


/* Body filter side: nginx's page is consumed, the JSON sent once. */
ngx_int_t
ngx_http_lava_error_body(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    ngx_chain_t *in, ngx_http_output_body_filter_pt next)
{
    ngx_buf_t             *b;
    ngx_chain_t           *cl, out;
    ngx_http_lava_body_t  *body;

    body = ctx->body;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;
        b->pos = b->last;

        if (b->in_file) {
            b->file_pos = b->file_last;
        }
    }

    if (body->json_error_sent) {
        return next(r, NULL);
    }

    body->json_error_sent = 1;
    ctx->bytes_out += body->json_error->last - body->json_error->pos;

    out.buf = body->json_error;
    out.next = NULL;

    return next(r, &out);
}


/*
 * Log phase: a request nginx gave up on without answering (its body did
 * not arrive within client_body_timeout: nginx terminates a 408, error_page
 * never runs) before anything was forwarded is the client's failure, booked
 * as refused like the ones lava_error answers.
 */
void
ngx_http_lava_error_unanswered(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    if (ctx->refused || ctx->got_headers
        || r->headers_out.status != NGX_HTTP_REQUEST_TIME_OUT)
    {
        return;
    }

    ctx->refused = 1;

    if (ctx->error == NULL) {
        ctx->error = ngx_http_lava_refusals[LAVA_REFUSAL_REQUEST_TIMEOUT].code;
    }
}
