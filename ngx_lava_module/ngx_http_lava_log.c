/*
 * Log phase: one usage event per finished main request of a forward location
 * (docs/events.md), queued for XADD without ever waiting on Redis.
 */

#include "ngx_http_lava_module.h"


#define NGX_HTTP_LAVA_EVENT_FIELDS  48     /* field/value pairs, upper bound */


typedef struct {
    ngx_uint_t   argc;
    const char  *argv[2 * NGX_HTTP_LAVA_EVENT_FIELDS];
    size_t       argvlen[2 * NGX_HTTP_LAVA_EVENT_FIELDS];
    u_char      *num;                  /* scratch for numbers, r->pool */
    u_char      *num_end;
} ngx_http_lava_event_t;


static void
ngx_http_lava_ev_str(ngx_http_lava_event_t *ev, const char *field, u_char *v,
    size_t len)
{
    if (len == 0 || ev->argc + 2 > 2 * NGX_HTTP_LAVA_EVENT_FIELDS) {
        return;
    }

    ev->argv[ev->argc] = field;
    ev->argvlen[ev->argc] = ngx_strlen(field);
    ev->argv[ev->argc + 1] = (const char *) v;
    ev->argvlen[ev->argc + 1] = len;
    ev->argc += 2;
}


static void
ngx_http_lava_ev_cstr(ngx_http_lava_event_t *ev, const char *field,
    const char *v)
{
    if (v) {
        ngx_http_lava_ev_str(ev, field, (u_char *) v, ngx_strlen(v));
    }
}


/* always written, zero included */
static void
ngx_http_lava_ev_num(ngx_http_lava_event_t *ev, const char *field, int64_t n)
{
    u_char  *p;

    if ((size_t) (ev->num_end - ev->num) < NGX_INT64_LEN) {
        return;
    }

    p = ev->num;
    ev->num = ngx_sprintf(ev->num, "%L", n);
    ngx_http_lava_ev_str(ev, field, p, ev->num - p);
}


/* usage buckets: only non-zero ones, an absent field means zero */
static void
ngx_http_lava_ev_usage(ngx_http_lava_event_t *ev, const char *field,
    int64_t n)
{
    if (n > 0) {
        ngx_http_lava_ev_num(ev, field, n);
    }
}


const char *
ngx_http_lava_outcome(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    if (ctx->refused) {
        return "refused";
    }

    if (r->connection->error
        || r->headers_out.status == NGX_HTTP_CLIENT_CLOSED_REQUEST)
    {
        return "client_abort";
    }

    /* nginx sends last_buf only when the upstream finished cleanly; a cut
     * stream finalizes without it */
    if (ctx->got_headers && (ctx->last_buf || r->header_only)) {
        return "complete";
    }

    return "upstream_error";
}


/*
 * The usage to book, once the answer is over (log phase): what the provider
 * reported, the billed unit read from the request (TTS text, images asked
 * for), or an estimate flagged as such (lava_meter_finish). Idempotent.
 */
void
ngx_http_lava_meter(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    unsigned          flags;
    lava_tap_t       *t;
    lava_meter_in_t   in;

    if (ctx->metered) {
        return;
    }

    ctx->metered = 1;
    ctx->usage_source = LAVA_SOURCE_NONE;

    if (ctx->refused || ctx->provider == NULL) {
        return;
    }

    if (ctx->tap == NULL) {
        /* audio answers and the like: the request holds the billed unit */
        t = ngx_pcalloc(r->pool, sizeof(lava_tap_t));
        if (t == NULL || lava_tap_init(t, 0, LAVA_USAGE_NONE, 0, 0, 0) != 0) {
            return;
        }

        ctx->tap = t;
    }

    t = ctx->tap;

    /* a stream cut short may hold a last event without its blank line */
    lava_tap_finish(t);

    ngx_memzero(&in, sizeof(lava_meter_in_t));
    in.ep = ctx->route.ep;
    in.rq = ctx->req;
    in.request_bytes = (size_t) ctx->request_bytes;
    in.status = ctx->got_headers ? ctx->upstream_status : 0;
    in.complete = ctx->last_buf && !r->connection->error;
    in.content_bytes = t->content_bytes;
    in.character_cost = ctx->character_cost;

    if (!t->usage.seen
        && (t->flags & (LAVA_TAP_F_COMPRESSED | LAVA_TAP_F_BODY_IN_FILE))
        && (size_t) ctx->bytes_out > in.content_bytes)
    {
        /* the text was not readable: its size on the wire bounds it */
        in.content_bytes = (size_t) ctx->bytes_out;
    }

    flags = 0;
    ctx->usage_source = lava_meter_finish(&t->usage, &in, &flags);
    ctx->meter_flags = flags;
}


const char *
ngx_http_lava_usage_source(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_http_lava_meter(r, ctx);

    return lava_meter_source_name((lava_source_e) ctx->usage_source);
}


ngx_int_t
ngx_http_lava_log_handler(ngx_http_request_t *r)
{
    char                   flags[128];
    size_t                 n;
    ngx_uint_t             status;
    const char            *outcome;
    lava_usage_t          *u;
    ngx_http_lava_ctx_t   *ctx;
    ngx_http_lava_event_t  ev;

    if (r != r->main) {
        return NGX_OK;
    }

    ctx = ngx_http_lava_get_ctx(r);
    if (ctx == NULL || ctx->logged) {
        return NGX_OK;
    }

    ctx->logged = 1;

    ngx_http_lava_meter(r, ctx);

    ev.argc = 0;
    ev.num = ngx_pnalloc(r->pool, 24 * NGX_INT64_LEN);
    if (ev.num == NULL) {
        return NGX_ERROR;
    }

    ev.num_end = ev.num + 24 * NGX_INT64_LEN;

    outcome = ngx_http_lava_outcome(r, ctx);

    status = r->headers_out.status;
    if (status == 0) {
        status = r->connection->error ? NGX_HTTP_CLIENT_CLOSED_REQUEST
                                      : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_lava_ev_cstr(&ev, "v", "1");
    ngx_http_lava_ev_str(&ev, "request_id", ctx->request_id,
                         NGX_HTTP_LAVA_REQID_LEN);
    ngx_http_lava_ev_num(&ev, "ts_ms", (int64_t) ctx->start_sec * 1000
                                       + ctx->start_msec_part);
    ngx_http_lava_ev_num(&ev, "duration_ms",
                         (int64_t) (ngx_current_msec - ctx->start_ms));

    if (ctx->got_headers) {
        ngx_http_lava_ev_num(&ev, "ttfb_ms", (int64_t) ctx->ttfb_ms);
    }

    ngx_http_lava_ev_str(&ev, "merchant_id", ctx->merchant_id.data,
                         ctx->merchant_id.len);
    ngx_http_lava_ev_str(&ev, "customer_id", ctx->customer_id.data,
                         ctx->customer_id.len);
    ngx_http_lava_ev_str(&ev, "meter", ctx->meter.data, ctx->meter.len);
    ngx_http_lava_ev_cstr(&ev, "payer",
                          ctx->payer == NGX_HTTP_LAVA_PAYER_CUSTOMER
                          ? "customer"
                          : ctx->payer == NGX_HTTP_LAVA_PAYER_MERCHANT
                            ? "merchant" : "none");
    ngx_http_lava_ev_cstr(&ev, "key_source",
                          ctx->merchant_id.len == 0 || ctx->refused ? "none"
                          : ctx->byok ? "byok" : "managed");

    if (ctx->provider) {
        ngx_http_lava_ev_str(&ev, "provider", ctx->provider->name.data,
                             ctx->provider->name.len);
    }

    ngx_http_lava_ev_str(&ev, "host", ctx->host.data, ctx->host.len);
    ngx_http_lava_ev_str(&ev, "endpoint", ctx->path.data, ctx->path.len);
    ngx_http_lava_ev_str(&ev, "method", r->method_name.data,
                         r->method_name.len);

    u = ctx->tap ? &ctx->tap->usage : NULL;

    if (u && u->model[0]) {
        ngx_http_lava_ev_cstr(&ev, "model", u->model);

    } else {
        ngx_http_lava_ev_str(&ev, "model", ctx->model.data, ctx->model.len);
    }

    ngx_http_lava_ev_num(&ev, "status", (int64_t) status);
    ngx_http_lava_ev_cstr(&ev, "outcome", outcome);
    ngx_http_lava_ev_cstr(&ev, "error", ctx->error);
    ngx_http_lava_ev_cstr(&ev, "stream", (ctx->stream || ctx->sse) ? "1" : "0");
    ngx_http_lava_ev_cstr(&ev, "usage_source",
                          ngx_http_lava_usage_source(r, ctx));

    if (u && ctx->usage_source != LAVA_SOURCE_NONE) {
        ngx_http_lava_ev_usage(&ev, "input_tokens", u->input_tokens);
        ngx_http_lava_ev_usage(&ev, "cached_input_tokens",
                               u->cached_input_tokens);
        ngx_http_lava_ev_usage(&ev, "cache_write_tokens",
                               u->cache_write_tokens);
        ngx_http_lava_ev_usage(&ev, "cache_write_1h_tokens",
                               u->cache_write_1h_tokens);
        ngx_http_lava_ev_usage(&ev, "output_tokens", u->output_tokens);
        ngx_http_lava_ev_usage(&ev, "reasoning_tokens", u->reasoning_tokens);
        ngx_http_lava_ev_usage(&ev, "audio_input_tokens",
                               u->audio_input_tokens);
        ngx_http_lava_ev_usage(&ev, "audio_output_tokens",
                               u->audio_output_tokens);
        ngx_http_lava_ev_usage(&ev, "characters", u->characters);
        ngx_http_lava_ev_usage(&ev, "usage_duration_ms", u->duration_ms);
        ngx_http_lava_ev_usage(&ev, "images", u->images);
        ngx_http_lava_ev_str(&ev, "usage_raw", (u_char *) u->raw, u->raw_len);
    }

    if (ctx->got_headers) {
        ngx_http_lava_ev_num(&ev, "requests",
                             (u && u->requests > 0) ? u->requests : 1);
    }

    ngx_http_lava_ev_str(&ev, "metadata", ctx->metadata.data,
                         ctx->metadata.len);
    ngx_http_lava_ev_num(&ev, "bytes_out", (int64_t) ctx->bytes_out);

    if ((ctx->tap && ctx->tap->flags) || ctx->meter_flags) {
        n = ctx->tap ? lava_tap_flags_str(ctx->tap->flags, flags,
                                          sizeof(flags))
                     : 0;
        n = lava_meter_flags_str(ctx->meter_flags, flags, n, sizeof(flags));
        ngx_http_lava_ev_str(&ev, "tap_flags", (u_char *) flags, n);
    }

    if (ngx_http_lava_event_push(ev.argc, ev.argv, ev.argvlen) == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "lava usage event of %s could not be queued",
                      ctx->request_id);
    }

    return NGX_OK;
}
