/*
 * Header and body filters. The header filter stamps x-lava-request-id on every
 * response of a forward location (errors included) and decides how to tap
 * the provider's answer; the body filter shows each buffer to the tap and
 * passes the chain on untouched, at once: nothing is held or copied here
 * except what the tap keeps within its bounds.
 */

#include "ngx_http_lava_module.h"


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_str_t  ngx_http_lava_reqid_header = ngx_string("x-lava-request-id");


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


static ngx_int_t
ngx_http_lava_header_filter(ngx_http_request_t *r)
{
    int                        sse;
    ngx_str_t                 *ct;
    ngx_table_elt_t           *ce;
    ngx_http_upstream_t       *u;
    ngx_http_lava_ctx_t       *ctx;
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

    if (ctx->provider == NULL || ctx->provider->usage == LAVA_USAGE_NONE) {
        return ngx_http_next_header_filter(r);
    }

    if (!sse && ngx_strlcasestrn(ct->data, ct->data + ct->len,
                                 (u_char *) "json", 4 - 1) == NULL)
    {
        /* audio, images, HTML error pages: nothing to parse */
        return ngx_http_next_header_filter(r);
    }

    ctx->tap = ngx_pcalloc(r->pool, sizeof(lava_tap_t));
    if (ctx->tap == NULL) {
        return NGX_ERROR;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);

    if (lava_tap_init(ctx->tap, sse, ctx->provider->usage,
                      llcf->tap_event_max, llcf->tap_json_max, 0)
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "lava tap init failed, usage of this request is "
                      "not read");
        ctx->tap = NULL;
        return ngx_http_next_header_filter(r);
    }

    ce = r->headers_out.content_encoding;
    if (ce && ce->value.len
        && !(ce->value.len == 8
             && ngx_strncasecmp(ce->value.data, (u_char *) "identity", 8) == 0))
    {
        /* we asked for identity; a provider that compresses anyway is
         * flagged so the sidecar books the request as estimated */
        ctx->tap->flags |= LAVA_TAP_F_COMPRESSED;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_lava_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    off_t                 size;
    ngx_buf_t            *b;
    ngx_chain_t          *cl;
    ngx_http_lava_ctx_t  *ctx;

    if (r != r->main || in == NULL) {
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

            if (ctx->tap && size
                && !(ctx->tap->flags & LAVA_TAP_F_COMPRESSED))
            {
                lava_tap_feed(ctx->tap, (char *) b->pos, (size_t) size);
            }

        } else {
            size = b->file_last - b->file_pos;

            if (ctx->tap && size) {
                ctx->tap->flags |= LAVA_TAP_F_BODY_IN_FILE;
            }
        }

        ctx->bytes_out += size;

        if (b->last_buf) {
            ctx->last_buf = 1;

            if (ctx->tap) {
                lava_tap_finish(ctx->tap);
            }
        }
    }

    return ngx_http_next_body_filter(r, in);
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
