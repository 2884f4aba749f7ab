/*
 * Removes the include_usage chunk from an OpenAI-compatible stream.
 *
 * When the gateway itself asked the stream for its usage
 * (stream_options.include_usage, see ngx_http_lava_access.c), the usage-only
 * chunk is removed from what the client receives: the client did not ask
 * for it. Events are cut at their blank line; an event is held (copied, at
 * most LAVA_USAGE_CHUNK_MAX bytes) only until its end shows what it is, so
 * nothing reaches the client later than its event would be complete. Bytes
 * passed on point into the upstream buffer and release it only once sent
 * (as the sub filter does). Where events end and which one is the usage
 * chunk is decided by lib/lava_usage_chunk.c.
 */

#include "ngx_http_lava_module.h"
#include "ngx_http_lava_body.h"


static ngx_int_t ngx_http_lava_strip_buf(ngx_http_request_t *r,
    ngx_http_lava_body_t *body, ngx_buf_t *in);
static ngx_int_t ngx_http_lava_strip_emit_hold(ngx_http_request_t *r,
    ngx_http_lava_body_t *body);
static void ngx_http_lava_strip_update(ngx_http_request_t *r,
    ngx_http_lava_body_t *body);


ngx_int_t
ngx_http_lava_strip_filter(ngx_http_request_t *r, ngx_http_lava_body_t *body,
    ngx_chain_t *in, ngx_http_output_body_filter_pt next)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_uint_t    flush;
    ngx_chain_t  *cl, *ln;

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

    rc = next(r, body->out);

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


/* the client left (ngx_http_lava_drain.c): nothing queued will be sent */
void
ngx_http_lava_strip_abandon(ngx_http_request_t *r, ngx_http_lava_body_t *body)
{
    ngx_chain_t  *cl;

    if (!body->strip) {
        return;
    }

    for (cl = body->busy; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
    }

    ngx_http_lava_strip_update(r, body);
    body->strip = 0;
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
            b = ngx_create_temp_buf(r->pool, LAVA_USAGE_CHUNK_MAX);
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

        if (lava_usage_chunk_only((char *) body->hold->pos,
                                  body->hold->last - body->hold->pos))
        {
            body->dropped += body->hold->last - body->hold->pos;
            body->hold->last = body->hold->pos;
            return NGX_OK;
        }

        return ngx_http_lava_strip_emit_hold(r, body);
    }

    if (lava_usage_chunk_only((char *) from, to - from)) {
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
    size_t      n;
    ngx_int_t   rc;
    ngx_buf_t  *slice;

    slice = NULL;
    from = in->pos;

    for (p = in->pos; p < in->last; p += n) {

        n = lava_usage_chunk_cut(&body->cut, (char *) p, in->last - p);
        if (n == 0) {
            break;
        }

        /* a blank line: the event ends at p + n */
        if (ngx_http_lava_strip_event(r, body, from, p + n, &slice)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        body->pass = 0;
        from = p + n;
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
