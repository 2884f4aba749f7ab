/*
 * Header and body filters. The header filter stamps x-lava-request-id on every
 * response of a forward location (errors included) and decides how to tap
 * the provider's answer; the body filter shows each buffer to the tap (a
 * compressed body through an inflated copy) and passes the chain on
 * untouched, at once: nothing is held or copied here except what the tap
 * keeps within its bounds.
 *
 * Two exceptions, both about usage:
 *  - When the gateway itself asked an OpenAI-compatible stream for its usage
 *    (stream_options.include_usage, see ngx_http_lava_access.c), the
 *    usage-only chunk is removed from what the client receives: the client
 *    did not ask for it. Events are cut at their blank line; an event is
 *    held (copied, at most NGX_HTTP_LAVA_STRIP_HOLD bytes) only until its end
 *    shows what it is, so nothing reaches the client later than its event
 *    would be complete. Bytes passed on point into the upstream buffer and
 *    release it only once sent (as the sub filter does).
 *  - When the client goes away mid-answer, the provider still bills what it
 *    generates: with lava_drain_timeout set, the answer is read on (and
 *    thrown away) to its final usage, within a time, a byte and a
 *    concurrency bound; past them the upstream is closed and the request is
 *    booked with an estimate. This needs proxy_ignore_client_abort on (else
 *    nginx closes the upstream the moment it notices the client left).
 */

#include "ngx_http_lava_module.h"
#include "ngx_http_lava_gunzip.h"


#define NGX_HTTP_LAVA_STRIP_HOLD  4096


typedef struct {
    /* gzip/deflate answer: inflated for the tap only */
    ngx_http_lava_gunzip_t  *gz;

    /* removing the usage-only chunk */
    unsigned                 strip:1;
    unsigned                 bol:1;          /* at the start of a line */
    unsigned                 cr:1;           /* last byte was CR */
    unsigned                 pass:1;         /* current event goes through */
    ngx_buf_t               *hold;           /* current event so far (own) */
    ngx_chain_t             *out;
    ngx_chain_t            **last_out;
    ngx_chain_t             *busy;
    ngx_chain_t             *free_slices;    /* bufs pointing into upstream */
    ngx_chain_t             *free_holds;     /* bufs with own memory */
    off_t                    dropped;

    /* reading on after the client left */
    ngx_event_t              drain_ev;
    off_t                    drained;
    ngx_http_request_t      *request;
} ngx_http_lava_body_t;


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_str_t  ngx_http_lava_reqid_header = ngx_string("x-lava-request-id");

/* drains in progress in this worker (lava_drain_max) */
static ngx_uint_t  ngx_http_lava_drains;


static ngx_int_t ngx_http_lava_drain_start(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);


static ngx_int_t
ngx_http_lava_add_request_id(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    /* an error_page redirect sends headers a second time: add it once */
    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash && h[i].key.len == ngx_http_lava_reqid_header.len
            && ngx_strncasecmp(h[i].key.data, ngx_http_lava_reqid_header.data,
                               h[i].key.len) == 0)
        {
            return NGX_OK;
        }
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key = ngx_http_lava_reqid_header;
    h->value.data = ctx->request_id;
    h->value.len = NGX_HTTP_LAVA_REQID_LEN;

    return NGX_OK;
}


static ngx_http_lava_body_t *
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

    body->bol = 1;
    body->last_out = &body->out;
    body->request = r;
    ctx->body = body;

    return body;
}


/* ElevenLabs reports the characters it billed in a response header */
static void
ngx_http_lava_character_cost(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_int_t         n;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->upstream->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == 14
            && ngx_strncasecmp(h[i].key.data, (u_char *) "character-cost", 14)
               == 0)
        {
            n = ngx_atoi(h[i].value.data, h[i].value.len);
            if (n != NGX_ERROR) {
                ctx->character_cost = n;
            }

            return;
        }
    }
}


static ngx_int_t
ngx_http_lava_header_filter(ngx_http_request_t *r)
{
    int                        sse;
    ngx_int_t                  rc;
    ngx_str_t                 *ct;
    ngx_table_elt_t           *ce;
    ngx_http_upstream_t       *u;
    ngx_http_lava_ctx_t       *ctx;
    ngx_http_lava_body_t      *body;
    ngx_http_lava_loc_conf_t  *llcf;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_lava_get_ctx(r);
    if (ctx == NULL) {
        return ngx_http_next_header_filter(r);
    }

    if (ngx_http_lava_add_request_id(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    u = r->upstream;

    if (ctx->got_headers || ctx->refused || u == NULL
        || u->headers_in.status_n == 0)
    {
        /* our own answers and nginx's errors are not tapped */
        return ngx_http_next_header_filter(r);
    }

    ctx->got_headers = 1;
    ctx->upstream_status = u->headers_in.status_n;
    ctx->ttfb_ms = ngx_current_msec - ctx->start_ms;

    ct = &r->headers_out.content_type;
    sse = (ct->len >= 17
           && ngx_strncasecmp(ct->data, (u_char *) "text/event-stream", 17)
              == 0);
    ctx->sse = sse;

    if (ctx->provider && ctx->provider->usage == LAVA_USAGE_ELEVENLABS) {
        ngx_http_lava_character_cost(r, ctx);
    }

    if (ctx->provider == NULL || ctx->route.fmt == LAVA_USAGE_NONE
        || (!sse && ngx_strlcasestrn(ct->data, ct->data + ct->len,
                                     (u_char *) "json", 4 - 1) == NULL))
    {
        /* audio, images, HTML error pages, request-billed endpoints:
         * nothing to parse */
        goto next;
    }

    ctx->tap = ngx_pcalloc(r->pool, sizeof(lava_tap_t));
    if (ctx->tap == NULL) {
        return NGX_ERROR;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);

    if (lava_tap_init(ctx->tap, sse, ctx->route.fmt, llcf->tap_event_max,
                      llcf->tap_json_max, 0)
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "lava tap init failed, usage of this request is "
                      "not read");
        ctx->tap = NULL;
        goto next;
    }

    ctx->tap->endpoint = ctx->route.ep;

    ce = r->headers_out.content_encoding;

    if (ce && ce->value.len
        && !(ce->value.len == 8
             && ngx_strncasecmp(ce->value.data, (u_char *) "identity", 8) == 0))
    {
        /* we asked for identity; a provider that compresses anyway is read
         * through an inflated copy */
        body = NULL;

        if ((ce->value.len == 4
             && ngx_strncasecmp(ce->value.data, (u_char *) "gzip", 4) == 0)
            || (ce->value.len == 6
                && ngx_strncasecmp(ce->value.data, (u_char *) "x-gzip", 6)
                   == 0)
            || (ce->value.len == 7
                && ngx_strncasecmp(ce->value.data, (u_char *) "deflate", 7)
                   == 0))
        {
            body = ngx_http_lava_body_state(r, ctx);
            if (body) {
                body->gz = ngx_http_lava_gunzip_create(r, llcf->gunzip_max);
            }
        }

        if (body == NULL || body->gz == NULL) {
            /* br, zstd...: flagged, the request is booked as estimated */
            ctx->tap->flags |= LAVA_TAP_F_COMPRESSED;
        }

    } else if (sse && ctx->include_usage_added) {
        body = ngx_http_lava_body_state(r, ctx);
        if (body == NULL) {
            return NGX_ERROR;
        }

        body->strip = 1;
    }

next:

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR && r->connection->error) {
        /* the client left before the answer began */
        return ngx_http_lava_drain_start(r, ctx);
    }

    return rc;
}


/* ---- the usage-only chunk ---- */

/* skips JSON whitespace */
static u_char *
ngx_http_lava_ws(u_char *p, u_char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
    }

    return p;
}


/* `"key" : <c>` at k (k at the opening quote of "key") */
static ngx_int_t
ngx_http_lava_key_then(u_char *k, u_char *end, size_t klen, u_char c)
{
    u_char  *p;

    p = ngx_http_lava_ws(k + klen, end);
    if (p == end || *p != ':') {
        return 0;
    }

    p = ngx_http_lava_ws(p + 1, end);

    return p < end && *p == c;
}


/*
 * The include_usage chunk: "choices" is an empty array and "usage" an
 * object. Inside JSON strings quotes are escaped, so "choices" and "usage"
 * with both quotes only occur as keys.
 */
static ngx_int_t
ngx_http_lava_usage_only(u_char *p, size_t n)
{
    u_char  *end, *k, *q;

    end = p + n;

    k = ngx_strlcasestrn(p, end, (u_char *) "\"choices\"", 9 - 1);
    if (k == NULL || !ngx_http_lava_key_then(k, end, 9, '[')) {
        return 0;
    }

    q = ngx_http_lava_ws(ngx_strlchr(k + 9, end, '[') + 1, end);
    if (q == end || *q != ']') {
        return 0;
    }

    for (k = p; k < end; k++) {
        k = ngx_strlcasestrn(k, end, (u_char *) "\"usage\"", 7 - 1);
        if (k == NULL) {
            return 0;
        }

        if (ngx_http_lava_key_then(k, end, 7, '{')) {
            return 1;
        }
    }

    return 0;
}


static ngx_chain_t *
ngx_http_lava_strip_link(ngx_http_request_t *r, ngx_http_lava_body_t *body,
    ngx_chain_t **free)
{
    ngx_chain_t  *cl;

    cl = ngx_chain_get_free_buf(r->pool, free);
    if (cl == NULL) {
        return NULL;
    }

    *body->last_out = cl;
    body->last_out = &cl->next;

    return cl;
}


/* bytes of the upstream buffer b, passed on in place */
static ngx_buf_t *
ngx_http_lava_strip_slice(ngx_http_request_t *r, ngx_http_lava_body_t *body,
    u_char *from, u_char *to)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    cl = ngx_http_lava_strip_link(r, body, &body->free_slices);
    if (cl == NULL) {
        return NULL;
    }

    b = cl->buf;
    ngx_memzero(b, sizeof(ngx_buf_t));
    b->memory = 1;
    b->pos = from;
    b->last = to;
    b->tag = (ngx_buf_tag_t) &ngx_http_lava_module;

    return b;
}


/* the held bytes go out in their own buffer; a new one holds the next */
static ngx_int_t
ngx_http_lava_strip_emit_hold(ngx_http_request_t *r,
    ngx_http_lava_body_t *body)
{
    ngx_chain_t  *cl;

    if (body->hold == NULL || body->hold->pos == body->hold->last) {
        return NGX_OK;
    }

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = body->hold;
    cl->next = NULL;
    *body->last_out = cl;
    body->last_out = &cl->next;

    body->hold = NULL;

    return NGX_OK;
}


static ngx_int_t
ngx_http_lava_strip_append(ngx_http_request_t *r, ngx_http_lava_body_t *body,
    u_char *from, u_char *to)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (body->hold == NULL) {
        if (body->free_holds) {
            cl = body->free_holds;
            body->free_holds = cl->next;
            b = cl->buf;
            ngx_free_chain(r->pool, cl);

        } else {
            b = ngx_create_temp_buf(r->pool, NGX_HTTP_LAVA_STRIP_HOLD);
            if (b == NULL) {
                return NGX_ERROR;
            }

            b->tag = (ngx_buf_tag_t) &ngx_http_lava_module;
        }

        b->pos = b->start;
        b->last = b->start;
        b->flush = 0;
        body->hold = b;
    }

    b = body->hold;

    if ((size_t) (to - from) > (size_t) (b->end - b->last)) {
        return NGX_DECLINED;
    }

    b->last = ngx_cpymem(b->last, from, to - from);

    return NGX_OK;
}


/* an event ends at from..to: pass it or drop it */
static ngx_int_t
ngx_http_lava_strip_event(ngx_http_request_t *r, ngx_http_lava_body_t *body,
    u_char *from, u_char *to, ngx_buf_t **slice)
{
    ngx_int_t  rc;

    if (body->pass) {
        *slice = ngx_http_lava_strip_slice(r, body, from, to);
        return *slice ? NGX_OK : NGX_ERROR;
    }

    if (body->hold && body->hold->last > body->hold->pos) {
        rc = ngx_http_lava_strip_append(r, body, from, to);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED) {
            /* too big to be the usage chunk */
            if (ngx_http_lava_strip_emit_hold(r, body) != NGX_OK) {
                return NGX_ERROR;
            }

            *slice = ngx_http_lava_strip_slice(r, body, from, to);
            return *slice ? NGX_OK : NGX_ERROR;
        }

        if (ngx_http_lava_usage_only(body->hold->pos,
                                     body->hold->last - body->hold->pos))
        {
            body->dropped += body->hold->last - body->hold->pos;
            body->hold->last = body->hold->pos;
            return NGX_OK;
        }

        return ngx_http_lava_strip_emit_hold(r, body);
    }

    if (ngx_http_lava_usage_only(from, to - from)) {
        body->dropped += to - from;
        return NGX_OK;
    }

    *slice = ngx_http_lava_strip_slice(r, body, from, to);
    return *slice ? NGX_OK : NGX_ERROR;
}


/* one buffer of the stream, cut into events */
static ngx_int_t
ngx_http_lava_strip_buf(ngx_http_request_t *r, ngx_http_lava_body_t *body,
    ngx_buf_t *in)
{
    u_char     *p, *from;
    ngx_int_t   rc;
    ngx_buf_t  *slice;

    slice = NULL;
    from = in->pos;

    for (p = in->pos; p < in->last; p++) {

        if (body->cr && *p == '\n') {
            /* the LF of a CRLF */
            body->cr = 0;
            continue;
        }

        body->cr = 0;

        if (*p != '\r' && *p != '\n') {
            body->bol = 0;
            continue;
        }

        body->cr = (*p == '\r');

        if (!body->bol) {
            body->bol = 1;
            continue;
        }

        /* a blank line: the event ends here */
        if (ngx_http_lava_strip_event(r, body, from, p + 1, &slice)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        body->pass = 0;
        from = p + 1;
    }

    if (from < in->last) {
        /* the start of an event that ends in a later buffer */
        if (body->pass) {
            slice = ngx_http_lava_strip_slice(r, body, from, in->last);
            if (slice == NULL) {
                return NGX_ERROR;
            }

        } else {
            rc = ngx_http_lava_strip_append(r, body, from, in->last);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc == NGX_DECLINED) {
                /* a big event is never the usage chunk: it goes through */
                body->pass = 1;

                if (ngx_http_lava_strip_emit_hold(r, body) != NGX_OK) {
                    return NGX_ERROR;
                }

                slice = ngx_http_lava_strip_slice(r, body, from, in->last);
                if (slice == NULL) {
                    return NGX_ERROR;
                }
            }
        }
    }

    if (slice) {
        /* the upstream buffer is released once its last slice is sent */
        slice->shadow = in;
        slice->flush = in->flush;

    } else {
        /* copied or dropped: nothing points into it any more */
        in->pos = in->last;
    }

    return NGX_OK;
}


/* frees what was sent: upstream buffers behind sent slices, our own bufs */
static void
ngx_http_lava_strip_update(ngx_http_request_t *r, ngx_http_lava_body_t *body)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    while (body->busy) {
        cl = body->busy;
        b = cl->buf;

        if (ngx_buf_size(b) != 0) {
            break;
        }

        body->busy = cl->next;

        if (b->shadow) {
            b->shadow->pos = b->shadow->last;
            b->shadow = NULL;
        }

        if (b->tag != (ngx_buf_tag_t) &ngx_http_lava_module) {
            /* special bufs passed on as they came */
            ngx_free_chain(r->pool, cl);

        } else if (b->start) {
            cl->next = body->free_holds;
            body->free_holds = cl;

        } else {
            cl->next = body->free_slices;
            body->free_slices = cl;
        }
    }
}


static ngx_int_t
ngx_http_lava_strip_filter(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    ngx_chain_t *in)
{
    ngx_int_t              rc;
    ngx_buf_t             *b;
    ngx_uint_t             flush;
    ngx_chain_t           *cl, *ln;
    ngx_http_lava_body_t  *body;

    body = ctx->body;
    flush = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;
        flush |= b->flush;

        if (ngx_buf_in_memory(b) && ngx_buf_size(b)) {
            if (ngx_http_lava_strip_buf(r, body, b) != NGX_OK) {
                return NGX_ERROR;
            }

            continue;
        }

        if (b->last_buf && ngx_http_lava_strip_emit_hold(r, body) != NGX_OK) {
            /* a last event without its blank line goes out as it came */
            return NGX_ERROR;
        }

        /* last_buf, flush and other special bufs, passed on as they are */
        ln = ngx_alloc_chain_link(r->pool);
        if (ln == NULL) {
            return NGX_ERROR;
        }

        ln->buf = b;
        ln->next = NULL;
        *body->last_out = ln;
        body->last_out = &ln->next;
    }

    if (body->out == NULL && body->busy == NULL) {
        return NGX_OK;
    }

    if (flush && body->out) {
        /* each event is written as soon as it is whole, as upstream asked */
        for (ln = body->out; ln->next; ln = ln->next) { /* void */ }
        ln->buf->flush = 1;
    }

    rc = ngx_http_next_body_filter(r, body->out);

    if (body->busy == NULL) {
        body->busy = body->out;

    } else {
        for (cl = body->busy; cl->next; cl = cl->next) { /* void */ }
        cl->next = body->out;
    }

    body->out = NULL;
    body->last_out = &body->out;

    ngx_http_lava_strip_update(r, body);

    return rc;
}


/* ---- reading on after the client left ---- */

static void
ngx_http_lava_drain_cleanup(void *data)
{
    ngx_http_lava_body_t  *body = data;

    if (body->drain_ev.timer_set) {
        ngx_del_timer(&body->drain_ev);
    }

    if (ngx_http_lava_drains) {
        ngx_http_lava_drains--;
    }
}


static void
ngx_http_lava_drain_expired(ngx_event_t *ev)
{
    ngx_connection_t      *c;
    ngx_http_request_t    *r;
    ngx_http_lava_body_t  *body;

    body = ev->data;
    r = body->request;
    c = r->connection;

    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "lava: reading on after the client left took too long, "
                  "the request is booked with an estimate");

    /* closes the upstream (its request cleanup) and the request */
    ngx_http_finalize_request(r, NGX_ERROR);
    ngx_http_run_posted_requests(c);
}


/* Called when writing to the client failed: 1) worth it? 2) let go of
 * everything queued for the client, so that the upstream buffer is free to
 * read on. NGX_OK draining, NGX_ERROR not (nginx closes the upstream). */
static ngx_int_t
ngx_http_lava_drain_start(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_buf_t                  *b;
    ngx_chain_t                *cl;
    ngx_pool_cleanup_t         *cln;
    ngx_http_lava_body_t       *body;
    ngx_http_lava_loc_conf_t   *llcf;
    ngx_http_lava_main_conf_t  *lmcf;

    if (ctx->draining) {
        return NGX_OK;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);
    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);

    if (llcf->drain_timeout == 0 || r->upstream == NULL || ctx->tap == NULL
        || ctx->tap->finished || ctx->tap->usage.final
        || ctx->upstream_status < 200 || ctx->upstream_status >= 300)
    {
        /* nothing more to learn from the rest of the answer */
        return NGX_ERROR;
    }

    if (ngx_http_lava_drains >= lmcf->drain_max) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "lava: %ui answers are already read on after their "
                      "client left (lava_drain_max), this one is booked "
                      "with an estimate", ngx_http_lava_drains);
        return NGX_ERROR;
    }

    body = ngx_http_lava_body_state(r, ctx);
    if (body == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_lava_drain_cleanup;
    cln->data = body;

    body->drain_ev.handler = ngx_http_lava_drain_expired;
    body->drain_ev.data = body;
    body->drain_ev.log = r->connection->log;
    ngx_add_timer(&body->drain_ev, llcf->drain_timeout);

    ngx_http_lava_drains++;
    ctx->draining = 1;

    /* what the write filter still held for the client will never be sent:
     * consumed, so that the upstream buffers behind it are free again */
    for (cl = r->out; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            b->pos = b->last;
        }

        if (b->in_file) {
            b->file_pos = b->file_last;
        }
    }

    r->out = NULL;
    r->connection->buffered &= ~NGX_HTTP_WRITE_BUFFERED;

    if (body->strip) {
        for (cl = body->busy; cl; cl = cl->next) {
            cl->buf->pos = cl->buf->last;
        }

        ngx_http_lava_strip_update(r, body);
        body->strip = 0;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "lava: the client left, reading the answer on to its "
                  "usage (at most %M ms, %uz bytes)", llcf->drain_timeout,
                  llcf->drain_bytes);

    return NGX_OK;
}


/* the answer after the client left: tapped (before this), then dropped */
static ngx_int_t
ngx_http_lava_drain(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    ngx_chain_t *in)
{
    ngx_buf_t                 *b;
    ngx_chain_t               *cl;
    ngx_http_lava_body_t      *body;
    ngx_http_lava_loc_conf_t  *llcf;

    body = ctx->body;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;
        body->drained += ngx_buf_size(b);

        if (ngx_buf_in_memory(b)) {
            b->pos = b->last;
        }

        if (b->in_file) {
            b->file_pos = b->file_last;
        }
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);

    if (body->drained > (off_t) llcf->drain_bytes) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "lava: %O bytes read on after the client left "
                      "(lava_drain_bytes), the request is booked with an "
                      "estimate", body->drained);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The client's read event while the answer is awaited or relayed (set after
 * the request body was read; proxy leaves it alone with
 * proxy_ignore_client_abort on). Like nginx's broken connection check, but
 * it only marks the connection: the next write fails, and the answer is read
 * on to its usage (ngx_http_lava_drain_start) instead of being dropped.
 */
void
ngx_http_lava_client_check(ngx_http_request_t *r)
{
    int                n;
    char               buf[1];
    ngx_err_t          err;
    ngx_event_t       *ev;
    ngx_connection_t  *c;

    c = r->connection;
    ev = c->read;

    if (c->error) {
        return;
    }

#if (NGX_HTTP_V2)
    if (r->stream) {
        return;
    }
#endif

#if (NGX_HAVE_EPOLLRDHUP)

    if ((ngx_event_flags & NGX_USE_EPOLL_EVENT) && ngx_use_epoll_rdhup) {
        if (!ev->pending_eof) {
            return;
        }

        goto gone;
    }

#endif

    n = recv(c->fd, buf, 1, MSG_PEEK);
    err = ngx_socket_errno;

    if (n > 0 || (n == -1 && err == NGX_EAGAIN)) {
        /* a pipelined request waits its turn; not readable after all */
        if (n > 0 && (ngx_event_flags & NGX_USE_LEVEL_EVENT) && ev->active) {
            (void) ngx_del_event(ev, NGX_READ_EVENT, 0);
        }

        return;
    }

#if (NGX_HAVE_EPOLLRDHUP)
gone:
#endif

    ev->eof = 1;
    c->error = 1;

    if ((ngx_event_flags & NGX_USE_LEVEL_EVENT) && ev->active) {
        (void) ngx_del_event(ev, NGX_READ_EVENT, 0);
    }

    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "lava: the client closed the connection before the answer "
                  "ended");
}


/* ---- the body filter ---- */

static void
ngx_http_lava_tap_buf(ngx_http_lava_ctx_t *ctx, ngx_buf_t *b, off_t size)
{
    ngx_http_lava_body_t  *body;

    if (ctx->tap == NULL || size == 0
        || (ctx->tap->flags & LAVA_TAP_F_COMPRESSED))
    {
        return;
    }

    body = ctx->body;

    if (body && body->gz) {
        if (ngx_http_lava_gunzip_feed(body->gz, b->pos, (size_t) size,
                                      ctx->tap)
            != NGX_OK)
        {
            ctx->tap->flags |= LAVA_TAP_F_COMPRESSED;
        }

        return;
    }

    lava_tap_feed(ctx->tap, (char *) b->pos, (size_t) size);
}


static ngx_int_t
ngx_http_lava_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    off_t                  size;
    ngx_int_t              rc;
    ngx_buf_t             *b;
    ngx_chain_t           *cl;
    ngx_http_lava_ctx_t   *ctx;
    ngx_http_lava_body_t  *body;

    if (r != r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_lava_get_ctx(r);
    if (ctx == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            size = b->last - b->pos;
            ngx_http_lava_tap_buf(ctx, b, size);

        } else {
            size = b->file_last - b->file_pos;

            if (ctx->tap && size) {
                ctx->tap->flags |= LAVA_TAP_F_BODY_IN_FILE;
            }
        }

        if (!ctx->draining) {
            ctx->bytes_out += size;
        }

        if (b->last_buf) {
            ctx->last_buf = 1;

            if (ctx->tap) {
                lava_tap_finish(ctx->tap);
            }
        }
    }

    if (ctx->draining) {
        return ngx_http_lava_drain(r, ctx, in);
    }

    body = ctx->body;

    if (body && body->strip) {
        rc = ngx_http_lava_strip_filter(r, ctx, in);
        ctx->bytes_out -= body->dropped;
        body->dropped = 0;

    } else {
        rc = ngx_http_next_body_filter(r, in);
    }

    if (rc == NGX_ERROR && r->connection->error && ctx->got_headers
        && ngx_http_lava_drain_start(r, ctx) == NGX_OK)
    {
        /* a write filter that found the connection broken did not even
         * queue these: consumed here, or the upstream would wait on them */
        for (cl = in; cl; cl = cl->next) {
            b = cl->buf;

            if (ngx_buf_in_memory(b)) {
                b->pos = b->last;
            }

            if (b->in_file) {
                b->file_pos = b->file_last;
            }
        }

        return NGX_OK;
    }

    return rc;
}


ngx_int_t
ngx_http_lava_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_lava_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_lava_body_filter;

    return NGX_OK;
}
