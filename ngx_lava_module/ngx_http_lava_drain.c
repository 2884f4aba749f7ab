/*
 * Reading the answer on after the client left.
 *
 * When the client goes away mid-answer, the provider still bills what it
 * generates: with lava_drain_timeout set, the answer is read on (and thrown
 * away) to its final usage, within a time, a byte and a concurrency bound;
 * past them the upstream is closed and the request is booked with an
 * estimate. This needs proxy_ignore_client_abort on (else nginx closes the
 * upstream the moment it notices the client left).
 */

#include "ngx_http_lava_module.h"
#include "ngx_http_lava_body.h"


static void ngx_http_lava_client_left(ngx_http_request_t *r);


/* drains in progress in this worker (lava_drain_max), and their queue
 * (of ngx_http_lava_body_t, drain_q) to count those of one payer
 * (lava_drain_per_payer) */
static ngx_uint_t  ngx_http_lava_drains;
static ngx_queue_t ngx_http_lava_drain_queue;


/* drains of this payer (merchant and customer) in progress in this worker */
static ngx_uint_t
ngx_http_lava_drains_of(ngx_http_lava_ctx_t *ctx)
{
    ngx_uint_t             n;
    ngx_queue_t           *q;
    ngx_http_lava_ctx_t   *o;
    ngx_http_lava_body_t  *body;

    if (ngx_http_lava_drain_queue.next == NULL) {
        ngx_queue_init(&ngx_http_lava_drain_queue);
    }

    n = 0;

    for (q = ngx_queue_head(&ngx_http_lava_drain_queue);
         q != ngx_queue_sentinel(&ngx_http_lava_drain_queue);
         q = ngx_queue_next(q))
    {
        body = ngx_queue_data(q, ngx_http_lava_body_t, drain_q);
        o = body->drain_ctx;

        if (o->merchant_id.len == ctx->merchant_id.len
            && o->customer_id.len == ctx->customer_id.len
            && ngx_strncmp(o->merchant_id.data, ctx->merchant_id.data,
                           ctx->merchant_id.len) == 0
            && ngx_strncmp(o->customer_id.data, ctx->customer_id.data,
                           ctx->customer_id.len) == 0)
        {
            n++;
        }
    }

    return n;
}


/* worth reading on: nothing known yet, or a 2xx answer whose final usage is
 * still to come */
static ngx_int_t
ngx_http_lava_drain_worth(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    if (r->upstream == NULL) {
        return 0;
    }

    if (!ctx->got_headers) {
        /* the answer has not begun: awaited within the drain bounds */
        return 1;
    }

    return ctx->tap && !ctx->tap->finished && !ctx->tap->usage.final
           && ctx->upstream_status >= 200 && ctx->upstream_status < 300;
}



ngx_uint_t
ngx_http_lava_drains_active(void)
{
    return ngx_http_lava_drains;
}

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

    ngx_queue_remove(&body->drain_q);
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


/* Called when the client was found gone (ngx_http_lava_client_check) or
 * writing to it failed: 1) worth it, and a slot free? 2) let go of everything
 * queued for the client, so that the upstream buffer is free to read on; the
 * lava_drain_timeout deadline runs from here, whether the provider says
 * more or not. NGX_OK draining, NGX_ERROR not (the upstream is to be
 * closed). */
ngx_int_t
ngx_http_lava_drain_start(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_uint_t                  mine;
    ngx_buf_t                  *b;
    ngx_chain_t                *cl;
    ngx_pool_cleanup_t         *cln;
    ngx_http_lava_body_t       *body;
    ngx_http_lava_loc_conf_t   *llcf;
    ngx_http_lava_main_conf_t  *lmcf;

    if (ctx->draining) {
        /* begun before the answer did: still worth it now it has? */
        return ngx_http_lava_drain_worth(r, ctx) ? NGX_OK : NGX_ERROR;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);
    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);

    if (llcf->drain_timeout == 0 || !ngx_http_lava_drain_worth(r, ctx)) {
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

    /* one payer leaving many answers does not take the slots of others */
    mine = ngx_http_lava_drains_of(ctx);

    if (mine >= lmcf->drain_per_payer) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "lava: %ui answers of this payer are already read on "
                      "after their client left (lava_drain_per_payer), this "
                      "one is booked with an estimate", mine);
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
    body->drain_ctx = ctx;
    ngx_queue_insert_tail(&ngx_http_lava_drain_queue, &body->drain_q);
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

    ngx_http_lava_strip_abandon(r, body);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "lava: the client left, reading the answer on to its "
                  "usage (at most %M ms, %uz bytes)", llcf->drain_timeout,
                  llcf->drain_bytes);

    return NGX_OK;
}


/* the answer after the client left: tapped (before this), then dropped */
ngx_int_t
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
 * the answer is read on to its usage (ngx_http_lava_drain_start) instead of
 * being dropped, from now on (ngx_http_lava_client_left).
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

    ngx_http_lava_client_left(r);
}


/*
 * The client is gone: the drain (and its deadline) starts now, not at the
 * next write, which a provider silent from here on would put off until
 * proxy_read_timeout. Not drained: the upstream is closed now, and the
 * request booked by the abort rule.
 */
static void
ngx_http_lava_client_left(ngx_http_request_t *r)
{
    ngx_connection_t     *c;
    ngx_http_lava_ctx_t  *ctx;

    c = r->connection;

    ctx = ngx_http_lava_get_ctx(r);
    if (ctx == NULL || ctx->draining || r->upstream == NULL) {
        /* not forwarded yet: the access phase notices the error */
        return;
    }

    if (ngx_http_lava_drain_start(r, ctx) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    if (ctx->got_headers) {
        /* what was queued for the client was let go of: the upstream reads
         * on as after a write (buffers freed, the next read started) */
        ngx_post_event(c->write, &ngx_posted_events);
    }
}
