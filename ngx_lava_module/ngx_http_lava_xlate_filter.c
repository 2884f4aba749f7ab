/*
 * The answer of a translated request (lava_api, ngx_http_lava_api.c) in the
 * client's shape. These filters are registered before the module's own
 * (ngx_http_lava_filter.c), so nginx calls them after: the usage tap and the
 * key mask have read the provider's own bytes when they get here, and the
 * ledger is billed from the provider's usage exactly as on the forward
 * endpoint.
 *
 *   SSE     each buffer fed to lib/lava_xlate_stream.c, whatever it gives
 *           sent on at once (no buffering of the whole answer); the client
 *           bytes are copied from the translator's own buffer into ours, so
 *           a call allocates nothing once both have grown
 *   JSON    collected (lava_tap_json_max bounds it), translated at its end
 *   error   a provider's non-2xx answer: the same, into the client's error
 *           shape with the provider's status kept
 *
 * nginx's own answers and the gateway's refusals are not translated: they
 * are the gateway's JSON errors whatever the client's shape.
 */

#include "ngx_http_lava_api.h"
#include "ngx_http_lava_body.h"


/* bytes of an output buffer at least (reused while the answer lasts) */
#define NGX_HTTP_LAVA_XLATE_BUF  4096


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static void
ngx_http_lava_xlate_cleanup(void *data)
{
    ngx_http_lava_api_t  *api = data;

    if (api->stream) {
        lava_xlate_stream_free(api->stream);
        api->stream = NULL;
    }
}


static ngx_int_t
ngx_http_lava_xlate_header_filter(ngx_http_request_t *r)
{
    ngx_str_t                 *ct;
    ngx_table_elt_t           *ce;
    ngx_pool_cleanup_t        *cln;
    ngx_http_lava_ctx_t       *ctx;
    ngx_http_lava_api_t       *api;
    ngx_http_lava_loc_conf_t  *llcf;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_lava_get_ctx(r);
    api = ctx ? ctx->api : NULL;

    if (api == NULL || !api->xlate || api->mode != NGX_HTTP_LAVA_XLATE_NONE
        || ctx->refused || !ctx->got_headers || r->upstream == NULL
        || r->upstream->headers_in.status_n == 0
        || (ctx->body && ((ngx_http_lava_body_t *) ctx->body)->json_error))
    {
        return ngx_http_next_header_filter(r);
    }

    ce = r->headers_out.content_encoding;
    if (ce && ce->value.len
        && !(ce->value.len == 8
             && ngx_strncasecmp(ce->value.data, (u_char *) "identity", 8)
                == 0))
    {
        /* asked for identity, got a coding: relayed as the provider sent
         * it, in its own shape */
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "lava: a compressed answer is not translated");
        return ngx_http_next_header_filter(r);
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);
    ct = &r->headers_out.content_type;

    api->status = r->headers_out.status;

    if (api->status >= NGX_HTTP_BAD_REQUEST) {
        api->mode = NGX_HTTP_LAVA_XLATE_ERROR;

    } else if (ctx->sse) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        /* the client is shown the model the provider names */
        api->stream = lava_xlate_stream_new(api->provider_fmt,
                                            api->client_fmt, NULL);
        if (api->stream == NULL) {
            return NGX_ERROR;
        }

        if (api->no_usage) {
            lava_xlate_stream_set_opts(api->stream,
                                       LAVA_XLATE_STREAM_NO_USAGE);
        }

        cln->handler = ngx_http_lava_xlate_cleanup;
        cln->data = api;

        api->mode = NGX_HTTP_LAVA_XLATE_SSE;

    } else if (ct->len
               && ngx_strlcasestrn(ct->data, ct->data + ct->len,
                                   (u_char *) "json", 4 - 1))
    {
        api->mode = NGX_HTTP_LAVA_XLATE_JSON;

    } else {
        return ngx_http_next_header_filter(r);
    }

    if (api->mode != NGX_HTTP_LAVA_XLATE_SSE) {
        api->hold_max = llcf->tap_json_max;
        ngx_str_set(&r->headers_out.content_type, "application/json");
        r->headers_out.content_type_len = r->headers_out.content_type.len;
        r->headers_out.content_type_lowcase = NULL;
    }

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_etag(r);

    if (api->mode != NGX_HTTP_LAVA_XLATE_SSE) {
        /* sent with the translated body, its length and, when it cannot be
         * translated, 502 (as the image filter holds its header) */
        api->header_held = 1;
        return NGX_OK;
    }

    return ngx_http_next_header_filter(r);
}


/* bytes kept of a JSON answer, within hold_max */
static void
ngx_http_lava_xlate_hold(ngx_http_request_t *r, ngx_http_lava_api_t *api,
    u_char *p, size_t n)
{
    size_t   size;
    u_char  *nh;

    if (api->over || n == 0) {
        return;
    }

    if (api->held + n > api->hold_max) {
        api->over = 1;
        return;
    }

    if (api->held + n > api->hold_size) {
        /* doubled, at least 4k, at most hold_max */
        size = ngx_max(api->hold_size * 2, 4096);
        size = ngx_max(size, api->held + n);
        size = ngx_min(size, api->hold_max);

        nh = ngx_pnalloc(r->pool, size);
        if (nh == NULL) {
            api->over = 1;
            return;
        }

        if (api->held) {
            ngx_memcpy(nh, api->hold, api->held);
        }

        api->hold = nh;
        api->hold_size = size;
    }

    ngx_memcpy(api->hold + api->held, p, n);
    api->held += n;
}


/* the translated JSON (or the gateway's error when it cannot be) */
static ngx_int_t
ngx_http_lava_xlate_json_end(ngx_http_request_t *r, ngx_http_lava_api_t *api,
    lava_xlate_buf_t *out)
{
    int          rc;
    size_t       len;
    const char  *why;
    char         err[256];

    err[0] = '\0';
    why = NULL;

    if (api->over) {
        why = "the provider's answer is larger than the gateway translates";

    } else if (api->mode == NGX_HTTP_LAVA_XLATE_ERROR) {
        rc = lava_xlate_error(api->provider_fmt, api->client_fmt,
                              (int) api->status, (char *) api->hold,
                              api->held, out);
        if (rc != 0) {
            /* not the provider's error shape: relayed as it came */
            free(out->data);
            out->data = malloc(api->held ? api->held : 1);
            if (out->data == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(out->data, api->hold, api->held);
            out->len = api->held;
        }

        return NGX_OK;

    } else {
        rc = lava_xlate_response(api->provider_fmt, api->client_fmt,
                                 (char *) api->hold, api->held, out, err,
                                 sizeof(err));
        if (rc == 0) {
            return NGX_OK;
        }

        why = err[0] ? err : "the provider's answer cannot be translated";
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "lava: answer not translated: %s", why);

    api->failed = 1;

    free(out->data);

    len = sizeof("{\"error\":{\"message\":\"\",\"code\":\"translation_failed\","
                 "\"status\":502}}") + ngx_strlen(why);
    out->data = malloc(len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    /* why is the translator's fixed text or ours: no quotes in it */
    out->len = ngx_snprintf((u_char *) out->data, len,
                            "{\"error\":{\"message\":\"%s\",\"code\":"
                            "\"translation_failed\",\"status\":502}}", why)
               - (u_char *) out->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_lava_xlate_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    size_t                 n, len;
    ngx_int_t              rc;
    ngx_buf_t             *b, *ob;
    ngx_uint_t             last;
    ngx_chain_t           *cl, *out;
    const char            *data;
    lava_xlate_buf_t       xb;
    ngx_http_lava_ctx_t   *ctx;
    ngx_http_lava_api_t   *api;

    if (r != r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_lava_get_ctx(r);
    api = ctx ? ctx->api : NULL;

    if (api == NULL || api->mode == NGX_HTTP_LAVA_XLATE_NONE) {
        return ngx_http_next_body_filter(r, in);
    }

    if (api->done) {
        /* after our last buffer: consumed */
        for (cl = in; cl; cl = cl->next) {
            cl->buf->pos = cl->buf->last;
        }

        return ngx_http_next_body_filter(r, NULL);
    }

    xb.data = NULL;
    xb.len = 0;
    last = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            n = b->last - b->pos;

            if (api->mode == NGX_HTTP_LAVA_XLATE_SSE) {
                /* kept in the stream's buffer, taken below */
                if (n && lava_xlate_stream_feed(api->stream, (char *) b->pos,
                                                n, NULL)
                         != 0)
                {
                    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                                  "lava: stream translation failed");
                }

            } else {
                ngx_http_lava_xlate_hold(r, api, b->pos, n);
            }

            b->pos = b->last;
        }

        if (b->in_file) {
            b->file_pos = b->file_last;
        }

        if (b->last_buf) {
            last = 1;
        }
    }

    if (last) {
        if (api->mode == NGX_HTTP_LAVA_XLATE_SSE) {
            (void) lava_xlate_stream_finish(api->stream, NULL);

        } else if (ngx_http_lava_xlate_json_end(r, api, &xb) != NGX_OK) {
            free(xb.data);
            return NGX_ERROR;
        }

        api->done = 1;
    }

    /* the client bytes: the stream's own (valid until its next call), or
     * the translated JSON in xb (malloc'd, freed below) */
    if (api->mode == NGX_HTTP_LAVA_XLATE_SSE) {
        data = lava_xlate_stream_take(api->stream, &len);

    } else {
        data = xb.data;
        len = xb.len;
    }

    if (len == 0 && !last) {
        free(xb.data);
        return api->header_held ? NGX_OK : ngx_http_next_body_filter(r, NULL);
    }

    if (api->header_held) {
        api->header_held = 0;

        if (api->failed) {
            r->headers_out.status = NGX_HTTP_BAD_GATEWAY;
            ngx_str_null(&r->headers_out.status_line);
        }

        r->headers_out.content_length_n = len;

        rc = ngx_http_next_header_filter(r);

        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            free(xb.data);
            return rc;
        }
    }

    /* a buffer written out before is used again: a long stream does not
     * grow the request's pool by what it sends */
    out = ngx_chain_get_free_buf(r->pool, &api->free);
    if (out == NULL) {
        free(xb.data);
        return NGX_ERROR;
    }

    ob = out->buf;

    if (len && (ob->start == NULL || (size_t) (ob->end - ob->start) < len)) {
        n = ngx_max(len, NGX_HTTP_LAVA_XLATE_BUF);
        ob->start = ngx_palloc(r->pool, n);
        if (ob->start == NULL) {
            free(xb.data);
            return NGX_ERROR;
        }

        ob->end = ob->start + n;
    }

    ob->pos = ob->start;
    ob->last = len ? ngx_cpymem(ob->pos, data, len) : ob->pos;
    /* an empty last buffer is a special one, not a zero-size memory one */
    ob->memory = len ? 1 : 0;
    ob->temporary = 0;

    free(xb.data);

    ob->flush = 1;
    ob->last_buf = last;
    ob->last_in_chain = 1;
    ob->tag = (ngx_buf_tag_t) &ngx_http_lava_xlate_filter_init;

    out->next = NULL;

    rc = ngx_http_next_body_filter(r, out);

    ngx_chain_update_chains(r->pool, &api->free, &api->busy, &out,
                            (ngx_buf_tag_t) &ngx_http_lava_xlate_filter_init);

    return rc;
}


ngx_int_t
ngx_http_lava_xlate_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_lava_xlate_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_lava_xlate_body_filter;

    return NGX_OK;
}
