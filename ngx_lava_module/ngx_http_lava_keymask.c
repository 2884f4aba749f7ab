/*
 * The provider key never leaves through the provider's answer.
 *
 * A provider (or whatever answers in its name) may echo the key it was sent:
 * "Incorrect API key provided: sk-..." in a 401, a debugging header, a
 * usage object or a model name. The operator's managed key must then reach
 * neither the client nor anything the gateway stores, and no key (managed
 * or the user's own) is ever stored.
 *
 *  - Response headers and the status line, with the managed key: every copy
 *    of the key is overwritten with '*' in place (a few short strings).
 *  - The body of an answer that is not 2xx, with the managed key: scanned
 *    as it passes (ngx_http_lava_keymask_filter). Each buffer is copied
 *    behind the last key length - 1 bytes of the one before, so a key cut
 *    over two buffers is found too; those bytes are held back until the
 *    next buffer or the end. Content-Length is removed (the answer goes out
 *    chunked, or to its close), at most NGX_HTTP_LAVA_KEYMASK_MAX bytes are
 *    relayed (an error body is a few hundred bytes; a longer one is cut),
 *    and a compressed error body, which cannot be scanned, is not relayed.
 *    2xx answers are relayed untouched: scanning every byte of every answer
 *    costs more than the case is worth, and a provider that answers the key
 *    with a 200 answers it to a request it served (docs/security.md).
 *  - The event (ngx_http_lava_keymask_event): the answer's model and raw
 *    usage, from the tap, with whichever key was sent.
 *  - nginx's error log, with the managed key: nginx quotes what a provider
 *    sent in some of its error lines ("upstream sent invalid header:
 *    "x-...: sk-..."), so while the request runs its connection's log gets a
 *    writer that masks the key in every line before writing it
 *    (ngx_http_lava_keymask_log). It covers the first error_log of the
 *    location (the shipped configuration has one); further error_log
 *    directives of the same level are shared, not the request's, and are
 *    written unmasked.
 *
 * A key shorter than NGX_HTTP_LAVA_KEYMASK_MIN bytes is not looked for:
 * masking it would damage answers and no real key is that short.
 */

#include "ngx_http_lava_module.h"
#include "ngx_http_lava_body.h"


#define NGX_HTTP_LAVA_KEYMASK_MIN  8
#define NGX_HTTP_LAVA_KEYMASK_MAX  (1024 * 1024)    /* bytes relayed */


/* overwrites every copy of key in p with '*'; the number of copies */
static ngx_uint_t
ngx_http_lava_keymask_mem(u_char *p, size_t len, ngx_str_t *key)
{
    u_char      *q, *end;
    ngx_uint_t   n;

    if (key->len < NGX_HTTP_LAVA_KEYMASK_MIN || len < key->len) {
        return 0;
    }

    n = 0;
    end = p + len - key->len;

    for (q = p; q <= end; q++) {
        q = ngx_strlchr(q, end + 1, key->data[0]);
        if (q == NULL) {
            break;
        }

        if (ngx_memcmp(q, key->data, key->len) == 0) {
            ngx_memset(q, '*', key->len);
            q += key->len - 1;
            n++;
        }
    }

    return n;
}


/* the connection log's own writer while a managed-key request runs */
typedef struct {
    ngx_log_t          *log;
    ngx_log_writer_pt   writer;          /* what it had (syslog), or NULL */
    void               *wdata;
    ngx_str_t           key;
} ngx_http_lava_keylog_t;


static void
ngx_http_lava_keylog_write(ngx_log_t *log, ngx_uint_t level, u_char *buf,
    size_t len)
{
    ngx_http_lava_keylog_t  *kl = log->wdata;

    /* buf is ngx_log_error_core's own line: masked in place */
    (void) ngx_http_lava_keymask_mem(buf, len, &kl->key);

    if (kl->writer) {
        log->wdata = kl->wdata;
        kl->writer(log, level, buf, len);
        log->wdata = kl;
        return;
    }

    (void) ngx_write_fd(log->file->fd, buf, len);
}


/* the request's pool goes: the connection (keepalive) keeps its log */
static void
ngx_http_lava_keylog_restore(void *data)
{
    ngx_http_lava_keylog_t  *kl = data;

    if (kl->log->writer == ngx_http_lava_keylog_write
        && kl->log->wdata == kl)
    {
        kl->log->writer = kl->writer;
        kl->log->wdata = kl->wdata;
    }
}


static ngx_uint_t
ngx_http_lava_keymask_managed(ngx_http_lava_ctx_t *ctx)
{
    return !ctx->byok && ctx->provider_key.len >= NGX_HTTP_LAVA_KEYMASK_MIN;
}


/*
 * Access phase, once the managed key is chosen: the connection's error log
 * masks it until the request is freed (an internal redirect gives the
 * connection the location's log again). NGX_ERROR: no memory.
 */
ngx_int_t
ngx_http_lava_keymask_log(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_log_t               *log;
    ngx_pool_cleanup_t      *cln;
    ngx_http_lava_keylog_t  *kl;

    log = r->connection->log;

    if (!ngx_http_lava_keymask_managed(ctx)) {
        return NGX_OK;
    }

    if (log->writer == ngx_http_lava_keylog_write) {
        /* a fallback's provider: its key from now on */
        kl = log->wdata;
        kl->key = ctx->provider_key;
        return NGX_OK;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_lava_keylog_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    kl = cln->data;
    kl->log = log;
    kl->writer = log->writer;
    kl->wdata = log->wdata;
    kl->key = ctx->provider_key;

    cln->handler = ngx_http_lava_keylog_restore;

    log->writer = ngx_http_lava_keylog_write;
    log->wdata = kl;

    return NGX_OK;
}


/*
 * Header filter, after the provider's answer headers: masks the managed key
 * in them and decides whether the body is scanned. NGX_ERROR: no memory.
 */
ngx_int_t
ngx_http_lava_keymask_headers(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_uint_t             i, n;
    ngx_list_part_t       *part;
    ngx_table_elt_t       *h, *ce;
    ngx_http_lava_body_t  *body;

    if (!ngx_http_lava_keymask_managed(ctx)) {
        return NGX_OK;
    }

    n = ngx_http_lava_keymask_mem(r->headers_out.status_line.data,
                                  r->headers_out.status_line.len,
                                  &ctx->provider_key);

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

        if (h[i].hash) {
            n += ngx_http_lava_keymask_mem(h[i].value.data, h[i].value.len,
                                           &ctx->provider_key);
        }
    }

    if (n) {
        ctx->meter_flags |= LAVA_METER_F_KEY_MASKED;
    }

    if (r->headers_out.status >= NGX_HTTP_OK
        && r->headers_out.status < NGX_HTTP_SPECIAL_RESPONSE)
    {
        return NGX_OK;
    }

    body = ngx_http_lava_body_state(r, ctx);
    if (body == NULL) {
        return NGX_ERROR;
    }

    body->keymask = 1;
    body->strip = 0;

    /* masked bytes keep their length, but a cut body would not */
    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);

    ce = r->headers_out.content_encoding;

    if (ce && ce->value.len
        && !(ce->value.len == 8
             && ngx_strncasecmp(ce->value.data, (u_char *) "identity", 8) == 0))
    {
        /* we asked for identity; a compressed error body cannot be scanned
         * for the key: it is not relayed */
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "lava provider answered status %ui with a compressed "
                      "body, not relayed: it cannot be checked for the "
                      "provider key", r->headers_out.status);
        ce->hash = 0;
        r->headers_out.content_encoding = NULL;
        body->keymask_drop = 1;
    }

    return NGX_OK;
}


/* the bytes of b after what is held, masked; NGX_ERROR no memory */
static ngx_int_t
ngx_http_lava_keymask_buf(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    ngx_http_lava_body_t *body, ngx_buf_t *in, ngx_uint_t last,
    ngx_chain_t ***ll)
{
    u_char       *p;
    size_t        size, keep, out;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    size = in ? (size_t) (in->last - in->pos) : 0;

    if (body->keymask_sent + body->keymask_held + size
        > NGX_HTTP_LAVA_KEYMASK_MAX)
    {
        if (!body->keymask_cut) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "lava provider error body longer than %uz bytes, "
                          "cut", (size_t) NGX_HTTP_LAVA_KEYMASK_MAX);
            body->keymask_cut = 1;
        }

        size = 0;
    }

    if (size == 0 && !last) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, body->keymask_held + size);
    if (p == NULL && body->keymask_held + size) {
        return NGX_ERROR;
    }

    if (body->keymask_held) {
        ngx_memcpy(p, body->keymask_hold, body->keymask_held);
    }

    if (size) {
        ngx_memcpy(p + body->keymask_held, in->pos, size);
    }

    size += body->keymask_held;

    if (ngx_http_lava_keymask_mem(p, size, &ctx->provider_key)) {
        ctx->meter_flags |= LAVA_METER_F_KEY_MASKED;
    }

    /* a key may begin in the last key length - 1 bytes: held back */
    keep = last ? 0 : ngx_min(size, ctx->provider_key.len - 1);
    out = size - keep;

    if (body->keymask_hold == NULL) {
        body->keymask_hold = ngx_pnalloc(r->pool, ctx->provider_key.len);
        if (body->keymask_hold == NULL) {
            return NGX_ERROR;
        }
    }

    ngx_memcpy(body->keymask_hold, p + out, keep);
    body->keymask_held = keep;

    if (out == 0) {
        return NGX_OK;
    }

    b = ngx_calloc_buf(r->pool);
    cl = ngx_alloc_chain_link(r->pool);
    if (b == NULL || cl == NULL) {
        return NGX_ERROR;
    }

    b->pos = p;
    b->last = p + out;
    b->start = p;
    b->end = p + out;
    b->memory = 1;
    b->flush = 1;

    cl->buf = b;
    cl->next = NULL;
    **ll = cl;
    *ll = &cl->next;

    body->keymask_sent += out;

    return NGX_OK;
}


/*
 * Body filter of a non-2xx answer with the managed key: the chain is
 * consumed (copied and masked) and the copy passed on through next.
 */
ngx_int_t
ngx_http_lava_keymask_filter(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    ngx_http_lava_body_t *body, ngx_chain_t *in,
    ngx_http_output_body_filter_pt next)
{
    ngx_buf_t     *b;
    ngx_chain_t   *cl, *out, **ll, *ln;

    out = NULL;
    ll = &out;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if ((ngx_buf_in_memory(b) || b->last_buf) && !body->keymask_drop
            && ngx_http_lava_keymask_buf(r, ctx, body,
                                         ngx_buf_in_memory(b) ? b : NULL,
                                         b->last_buf, &ll)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* consumed: the upstream buffer is free again at once */
        if (ngx_buf_in_memory(b)) {
            b->pos = b->last;
        }

        if (b->in_file) {
            b->file_pos = b->file_last;
        }

        if (b->last_buf) {
            ln = ngx_alloc_chain_link(r->pool);
            b = ngx_calloc_buf(r->pool);
            if (ln == NULL || b == NULL) {
                return NGX_ERROR;
            }

            b->last_buf = 1;
            b->last_in_chain = 1;
            ln->buf = b;
            ln->next = NULL;
            *ll = ln;
            ll = &ln->next;
        }
    }

    if (out == NULL) {
        return NGX_OK;
    }

    return next(r, out);
}


/*
 * Log phase: the key sent (managed or the user's own) is overwritten in what
 * the event stores from the answer. 1: something was masked.
 */
ngx_uint_t
ngx_http_lava_keymask_event(ngx_http_lava_ctx_t *ctx, lava_usage_t *u)
{
    ngx_uint_t  n;

    if (u == NULL || ctx->provider_key.len < NGX_HTTP_LAVA_KEYMASK_MIN) {
        return 0;
    }

    n = ngx_http_lava_keymask_mem((u_char *) u->model, ngx_strlen(u->model),
                                  &ctx->provider_key)
        + ngx_http_lava_keymask_mem((u_char *) u->raw, u->raw_len,
                                    &ctx->provider_key);

    if (n) {
        ctx->meter_flags |= LAVA_METER_F_KEY_MASKED;
    }

    return n != 0;
}
