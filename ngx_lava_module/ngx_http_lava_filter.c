/*
 * Header and body filters. The header filter stamps x-lava-request-id on every
 * response of a forward location (errors included) and decides how to tap
 * the provider's answer; the body filter shows each buffer to the tap (a
 * compressed body through an inflated copy) and passes the chain on
 * untouched, at once: nothing is held or copied here except what the tap
 * keeps within its bounds.
 *
 * Two exceptions, both about usage, each in its own file:
 *  - ngx_http_lava_strip.c: when the gateway itself asked an
 *    OpenAI-compatible stream for its usage, the usage-only chunk is removed
 *    from what the client receives.
 *  - ngx_http_lava_drain.c: when the client goes away mid-answer, the answer
 *    is read on (and thrown away) to its final usage, within bounds.
 */

#include "ngx_http_lava_module.h"
#include "ngx_http_lava_body.h"
#include "ngx_http_lava_api.h"
#include "ngx_http_lava_fallback.h"


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_str_t  ngx_http_lava_reqid_header = ngx_string("x-lava-request-id");


/*
 * The gateway's request id is the client's ledger key: a provider's own
 * x-lava-request-id (any case, any number) is removed (hash 0: nginx does not
 * send it), so the client sees exactly one, the gateway's.
 */
static ngx_int_t
ngx_http_lava_add_request_id(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_uint_t        i, found;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    /* an error_page redirect sends headers a second time: add it once */
    found = 0;
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
            if (!found && h[i].value.data == ctx->request_id
                && h[i].value.len == NGX_HTTP_LAVA_REQID_LEN)
            {
                found = 1;
                continue;
            }

            h[i].hash = 0;
        }
    }

    if (found) {
        return NGX_OK;
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


/* ElevenLabs reports the characters it billed in a response header */
static void
ngx_http_lava_character_cost(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_int_t         n;
    ngx_table_elt_t  *h;

    h = ngx_http_lava_header(&r->upstream->headers_in.headers,
                             "character-cost", 14);
    if (h == NULL) {
        return;
    }

    n = ngx_atoi(h->value.data, h->value.len);
    if (n != NGX_ERROR) {
        ctx->character_cost = n;
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

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);

    ctx = ngx_http_lava_get_ctx(r);

    if (ctx == NULL) {
        if (!(r->err_status >= NGX_HTTP_BAD_REQUEST && llcf->forward)) {
            return ngx_http_next_header_filter(r);
        }

        /* refused by nginx before the rewrite phase (a Content-Length over
         * client_max_body_size): the request gets its id and its event
         * here, as lava_error gives them */
        ctx = ngx_http_lava_create_ctx(r);
        if (ctx == NULL) {
            return NGX_ERROR;
        }
    }

    if (ngx_http_lava_add_request_id(r, ctx) != NGX_OK
        || ngx_http_lava_fallback_headers(r, ctx) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (r->err_status >= NGX_HTTP_BAD_REQUEST && llcf->forward
        && !ctx->got_headers)
    {
        /* nginx's own error page, no error_page for it: JSON instead */
        if (ngx_http_lava_error_replace(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        return ngx_http_next_header_filter(r);
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

    if (r->headers_out.status < LAVA_EVENT_STATUS_MIN
        || r->headers_out.status > LAVA_EVENT_STATUS_MAX)
    {
        /* nginx relays any three digits; the event (and the client) gets
         * an HTTP status the ledger can book */
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "lava provider answered status %ui, sent as 502",
                      r->headers_out.status);
        r->headers_out.status = NGX_HTTP_BAD_GATEWAY;
        ngx_str_null(&r->headers_out.status_line);
    }

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

    /* not zeroed here: lava_tap_init() zeroes its ~5 KiB itself */
    ctx->tap = ngx_palloc(r->pool, sizeof(lava_tap_t));
    if (ctx->tap == NULL) {
        return NGX_ERROR;
    }

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

    /* the managed key echoed by the provider never reaches the client */
    if (ngx_http_lava_keymask_headers(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR && r->connection->error) {
        /* the client left before the answer began */
        return ngx_http_lava_drain_start(r, ctx);
    }

    return rc;
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

    body = ctx->body;

    if (body && body->json_error) {
        return ngx_http_lava_error_body(r, ctx, in, ngx_http_next_body_filter);
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

    if (ctx->inflight.gen) {
        ngx_http_lava_inflight_update(ctx);
    }

    if (ctx->draining) {
        return ngx_http_lava_drain(r, ctx, in);
    }

    body = ctx->body;

    if (body && body->keymask) {
        rc = ngx_http_lava_keymask_filter(r, ctx, body, in,
                                          ngx_http_next_body_filter);

    } else if (body && body->strip) {
        rc = ngx_http_lava_strip_filter(r, body, in,
                                        ngx_http_next_body_filter);
        ctx->bytes_out -= body->dropped;
        body->dropped = 0;

    } else {
        rc = ngx_http_next_body_filter(r, in);
    }

    /*
     * The stream's last event is out of nginx (nothing left in its write
     * buffers): a client that stops reading there (openai-node at [DONE])
     * and closes before the provider's body ends has had the whole answer.
     */
    if (rc != NGX_ERROR && ctx->tap && ctx->tap->ended && !ctx->final_relayed
        && r->out == NULL && !r->buffered && !r->connection->buffered
        && !r->connection->error)
    {
        ctx->final_relayed = 1;
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
    /* registered first, so called after the tap: the translation of a
     * lava_api answer (ngx_http_lava_xlate_filter.c) */
    if (ngx_http_lava_xlate_filter_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_lava_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_lava_body_filter;

    return NGX_OK;
}
