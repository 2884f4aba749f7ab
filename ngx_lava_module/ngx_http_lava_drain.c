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


/* drains in progress in this worker (lava_drain_max) */
static ngx_uint_t  ngx_http_lava_drains;


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
ngx_int_t
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
