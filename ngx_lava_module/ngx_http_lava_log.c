/*
 * Log phase: one usage event per finished main request of a forward location
 * (docs/events.md), queued for XADD without ever waiting on Redis.
 */

#include "ngx_http_lava_module.h"
#include "ngx_http_lava_auth.h"


/*
 * One event's values, a member per field of lib/lava_event_fields.h (whose
 * order, names and omission rules ngx_http_lava_event_write() applies):
 * texts as ngx_str_t, left out when empty; integers as int64_t, optional ones
 * left out when negative; buckets in usage, left out when not positive. The
 * texts point into memory that lives until the entry is pushed.
 */
#define NGX_HTTP_LAVA_EV_MEMBER(a, name, column, kind, req, max)              \
    LAVA_EVENT_KIND(kind, NGX_HTTP_LAVA_EV_MEMBER)(name)
#define NGX_HTTP_LAVA_EV_MEMBER_VERSION(name)
#define NGX_HTTP_LAVA_EV_MEMBER_REQID(name)   ngx_str_t  name;
#define NGX_HTTP_LAVA_EV_MEMBER_INT(name)     int64_t    name;
#define NGX_HTTP_LAVA_EV_MEMBER_ID(name)      ngx_str_t  name;
#define NGX_HTTP_LAVA_EV_MEMBER_TEXT(name)    ngx_str_t  name;
#define NGX_HTTP_LAVA_EV_MEMBER_JSON(name)    ngx_str_t  name;
#define NGX_HTTP_LAVA_EV_MEMBER_ENUM(name)    ngx_str_t  name;
#define NGX_HTTP_LAVA_EV_MEMBER_BOOL(name)    ngx_str_t  name;
#define NGX_HTTP_LAVA_EV_MEMBER_BUCKET(name)

typedef struct {
    LAVA_EVENT_FIELDS(NGX_HTTP_LAVA_EV_MEMBER, _)
    lava_usage_buckets_t  usage;
} ngx_http_lava_event_values_t;


/* The XADD arguments: field, value, ...; numbers printed into num. */
typedef struct {
    ngx_uint_t   argc;
    const char  *argv[2 * LAVA_EVENT_NFIELDS];
    size_t       argvlen[2 * LAVA_EVENT_NFIELDS];
    u_char      *num;                  /* scratch for numbers */
    u_char      *num_end;
} ngx_http_lava_event_t;


static ngx_inline void
ngx_http_lava_ev_str(ngx_http_lava_event_t *ev, const char *field,
    size_t flen, u_char *v, size_t len)
{
    if (len == 0 || ev->argc + 2 > 2 * LAVA_EVENT_NFIELDS) {
        return;
    }

    ev->argv[ev->argc] = field;
    ev->argvlen[ev->argc] = flen;
    ev->argv[ev->argc + 1] = (const char *) v;
    ev->argvlen[ev->argc + 1] = len;
    ev->argc += 2;
}


static ngx_inline void
ngx_http_lava_ev_num(ngx_http_lava_event_t *ev, const char *field,
    size_t flen, int64_t n)
{
    u_char  *p;

    if ((size_t) (ev->num_end - ev->num) < NGX_INT64_LEN) {
        return;
    }

    p = ev->num;
    ev->num = ngx_sprintf(ev->num, "%L", n);
    ngx_http_lava_ev_str(ev, field, flen, p, ev->num - p);
}


/*
 * A TEXT or JSON value is cut to its row's max (at a UTF-8 character
 * boundary): the access handler refuses what is longer before forwarding,
 * and the event of that refusal (or of any other) must still be bookable.
 */
static ngx_inline void
ngx_http_lava_ev_text(ngx_http_lava_event_t *ev, const char *field,
    size_t flen, u_char *v, size_t len, size_t max)
{
    if (len > max) {
        len = max;

        while (len && (v[len] & 0xc0) == 0x80) {
            len--;
        }
    }

    ngx_http_lava_ev_str(ev, field, flen, v, len);
}


/* one call per row of the table, in its order; field names are constants */
#define NGX_HTTP_LAVA_EV_PUT(a, name, column, kind, req, max)                 \
    LAVA_EVENT_KIND(kind, NGX_HTTP_LAVA_EV_PUT)(name, #name,                  \
                                                sizeof(#name) - 1, req, max)
#define NGX_HTTP_LAVA_EV_PUT_VERSION(n, f, fl, req, max)                      \
    ngx_http_lava_ev_str(ev, f, fl, (u_char *) LAVA_EVENT_VERSION,            \
                         sizeof(LAVA_EVENT_VERSION) - 1);
#define NGX_HTTP_LAVA_EV_PUT_STR(n, f, fl, req, max)                          \
    ngx_http_lava_ev_str(ev, f, fl, val->n.data, val->n.len);
#define NGX_HTTP_LAVA_EV_PUT_REQID  NGX_HTTP_LAVA_EV_PUT_STR
#define NGX_HTTP_LAVA_EV_PUT_ID     NGX_HTTP_LAVA_EV_PUT_STR
#define NGX_HTTP_LAVA_EV_PUT_TEXT(n, f, fl, req, max)                         \
    ngx_http_lava_ev_text(ev, f, fl, val->n.data, val->n.len, max);
#define NGX_HTTP_LAVA_EV_PUT_JSON   NGX_HTTP_LAVA_EV_PUT_TEXT
#define NGX_HTTP_LAVA_EV_PUT_ENUM   NGX_HTTP_LAVA_EV_PUT_STR
#define NGX_HTTP_LAVA_EV_PUT_BOOL   NGX_HTTP_LAVA_EV_PUT_STR
#define NGX_HTTP_LAVA_EV_PUT_INT(n, f, fl, req, max)                          \
    if (req || val->n >= 0) {                                                 \
        ngx_http_lava_ev_num(ev, f, fl, val->n);                              \
    }
#define NGX_HTTP_LAVA_EV_PUT_BUCKET(n, f, fl, req, max)                       \
    if (val->usage.n > 0) {                                                   \
        ngx_http_lava_ev_num(ev, f, fl, val->usage.n);                        \
    }

static void
ngx_http_lava_event_write(ngx_http_lava_event_t *ev,
    ngx_http_lava_event_values_t *val)
{
    LAVA_EVENT_FIELDS(NGX_HTTP_LAVA_EV_PUT, _)
}


/* a C string as an ngx_str_t value; NULL is empty */
static ngx_inline void
ngx_http_lava_ev_cstr(ngx_str_t *s, const char *v)
{
    s->data = (u_char *) v;
    s->len = v ? ngx_strlen(v) : 0;
}


const char *
ngx_http_lava_outcome(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    if (ctx->refused) {
        return "refused";
    }

    /* a client that closed once the stream's last event reached it (nginx
     * failed only to write the end of the body) left nothing unread */
    if (ctx->got_headers && ctx->final_relayed) {
        return "complete";
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
    in.fmt = ctx->route.fmt;
    in.rq = ctx->req;
    in.request_bytes = (size_t) ctx->request_bytes;
    in.status = ctx->got_headers ? ctx->upstream_status : 0;
    in.complete = (ctx->last_buf && !r->connection->error)
                  || ctx->final_relayed;
    /* the client left and the answer was not read to its end (no drain
     * slot, past a drain bound): the abort rule */
    in.abandoned = r->connection->error && !ctx->last_buf;
    in.request_sent = r->upstream && r->upstream->request_sent;
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
    ctx->meter_flags |= flags;      /* beside the access phase's */

    /* a key the provider echoed is never stored (nor logged: the access
     * log may run first and read $lava_model) */
    (void) ngx_http_lava_keymask_event(ctx, &t->usage);
}


const char *
ngx_http_lava_usage_source(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx)
{
    ngx_http_lava_meter(r, ctx);

    return lava_meter_source_name((lava_source_e) ctx->usage_source);
}


/* a failed attempt's event (attempt NULL: the request's own) */
typedef struct {
    u_char                        *request_id;
    int64_t                        ts_ms;
    ngx_msec_t                     start_ms;
} ngx_http_lava_log_attempt_t;


static ngx_int_t ngx_http_lava_log_event(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, ngx_uint_t status,
    ngx_http_lava_log_attempt_t *attempt);


ngx_int_t
ngx_http_lava_log_handler(ngx_http_request_t *r)
{
    ngx_uint_t                     status;
    ngx_http_lava_ctx_t           *ctx;

    if (r != r->main) {
        return NGX_OK;
    }

    ctx = ngx_http_lava_get_ctx(r);
    if (ctx == NULL || ctx->logged) {
        return NGX_OK;
    }

    ctx->logged = 1;

    ngx_http_lava_error_unanswered(r, ctx);

    status = r->headers_out.status;
    if (status == 0) {
        status = r->connection->error ? NGX_HTTP_CLIENT_CLOSED_REQUEST
                                      : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_lava_log_event(r, ctx, status, NULL);
}


/*
 * A failed attempt of a request with fallbacks (ngx_http_lava_fallback.c):
 * its own event now, under its own request id, attempt_of the request's.
 * What it held is released (wallet reservation, in-flight record); the
 * spend key counts the request once, by its final event.
 */
ngx_int_t
ngx_http_lava_log_attempt(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    ngx_uint_t status, u_char *request_id, int64_t ts_ms, ngx_msec_t start_ms)
{
    lava_inflight_rec_t          *rec;
    ngx_http_lava_log_attempt_t   a;

    a.request_id = request_id;
    a.ts_ms = ts_ms;
    a.start_ms = start_ms;

    /* a worker that dies before the entry leaves books it as this one */
    rec = ngx_http_lava_inflight_rec(ctx);
    if (rec) {
        (void) lava_inflight_copy(rec->request_id, sizeof(rec->request_id),
                                  (char *) request_id,
                                  NGX_HTTP_LAVA_REQID_LEN);
    }

    return ngx_http_lava_log_event(r, ctx, status, &a);
}


static ngx_int_t
ngx_http_lava_log_event(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    ngx_uint_t status, ngx_http_lava_log_attempt_t *attempt)
{
    char                           flags[LAVA_EVENT_MAX_tap_flags + 1];
    u_char                         num[LAVA_EVENT_NFIELDS * NGX_INT64_LEN];
    size_t                         n;
    ngx_int_t                      rc;
    lava_usage_t                  *u;
    ngx_http_lava_event_t          ev;
    ngx_http_lava_event_values_t   val;

    ngx_http_lava_meter(r, ctx);

    ngx_memzero(&val, sizeof(ngx_http_lava_event_values_t));

    val.request_id.data = ctx->request_id;
    val.request_id.len = NGX_HTTP_LAVA_REQID_LEN;
    val.ts_ms = (int64_t) ctx->start_sec * 1000 + ctx->start_msec_part;
    val.duration_ms = (int64_t) (ngx_current_msec - ctx->start_ms);
    val.ttfb_ms = ctx->got_headers ? (int64_t) ctx->ttfb_ms : -1;
    /* written only for a request with fallbacks: the attempt that
     * answered, or a failed one of the request (docs/events.md) */
    val.attempt = ctx->attempt ? (int64_t) ctx->attempt : -1;

    if (attempt) {
        val.request_id.data = attempt->request_id;
        val.attempt_of.data = ctx->request_id;
        val.attempt_of.len = NGX_HTTP_LAVA_REQID_LEN;
        val.ts_ms = attempt->ts_ms;
        val.duration_ms = (int64_t) (ngx_current_msec - attempt->start_ms);
    }

    val.merchant_id = ctx->merchant_id;
    val.customer_id = ctx->customer_id;
    val.meter = ctx->meter;
    val.spend_key_id = ctx->spend_key_id;
    ngx_http_lava_ev_cstr(&val.payer,
                          ctx->payer == NGX_HTTP_LAVA_PAYER_CUSTOMER
                          ? "customer"
                          : ctx->payer == NGX_HTTP_LAVA_PAYER_MERCHANT
                            ? "merchant" : "none");
    ngx_http_lava_ev_cstr(&val.key_source,
                          ctx->merchant_id.len == 0 || ctx->refused ? "none"
                          : ctx->byok ? "byok" : "managed");

    if (ctx->provider) {
        val.provider = ctx->provider->name;
    }

    val.host = ctx->host;
    val.endpoint = ctx->path;
    val.method = r->method_name;

    u = ctx->tap ? &ctx->tap->usage : NULL;

    if (u && u->model[0]) {
        ngx_http_lava_ev_cstr(&val.model, u->model);

    } else {
        val.model = ctx->model;
    }

    val.status = (int64_t) status;
    ngx_http_lava_ev_cstr(&val.outcome, ngx_http_lava_outcome(r, ctx));
    ngx_http_lava_ev_cstr(&val.error, ctx->error);
    ngx_http_lava_ev_cstr(&val.stream, (ctx->stream || ctx->sse) ? "1" : "0");
    ngx_http_lava_ev_cstr(&val.usage_source,
                          ngx_http_lava_usage_source(r, ctx));

    if (u && ctx->usage_source != LAVA_SOURCE_NONE) {
        val.usage = u->buckets;
        val.usage_raw.data = (u_char *) u->raw;
        val.usage_raw.len = u->raw_len;
    }

    /* billed requests: whenever the provider answered, usage or not */
    val.usage.requests = !ctx->got_headers ? 0
                         : (u && u->requests > 0) ? u->requests : 1;

    /* the wallet's reservation ends; what the event books stays held */
    ngx_http_lava_wallet_release(r, ctx, (u && ctx->usage_source
                                          != LAVA_SOURCE_NONE)
                                         ? &val.usage : NULL);

    /* a spend key's request: what it may cost counts until booked (by
     * the request's own event, not a failed attempt's) */
    if (attempt == NULL) {
        ngx_http_lava_spendkey_done(r, ctx, (u && ctx->usage_source
                                             != LAVA_SOURCE_NONE)
                                            ? &val.usage : NULL);
    }

    val.metadata = ctx->metadata;
    val.bytes_out = (int64_t) ctx->bytes_out;

    if ((ctx->tap && ctx->tap->flags) || ctx->meter_flags) {
        n = ctx->tap ? lava_tap_flags_str(ctx->tap->flags, flags,
                                          sizeof(flags))
                     : 0;
        n = lava_meter_flags_str(ctx->meter_flags, flags, n, sizeof(flags));
        val.tap_flags.data = (u_char *) flags;
        val.tap_flags.len = n;
    }

    ev.argc = 0;
    ev.num = num;
    ev.num_end = num + sizeof(num);

    ngx_http_lava_event_write(&ev, &val);

    /* should the worker die before the event leaves it, another books
     * what it says */
    ngx_http_lava_inflight_done(ctx, &val.usage, &val.model, val.status,
                                val.duration_ms);

    /* the entry is copied: num, flags and val may go; the in-flight record
     * goes with it */
    rc = ngx_http_lava_event_queue(ev.argc, ev.argv, ev.argvlen, ctx->inflight);
    ctx->inflight.gen = 0;

    if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "lava usage event of %s could not be queued",
                      val.request_id.data);
    }

    if (attempt == NULL) {
        ngx_http_lava_status_request(r, ctx, status);
    }

    return NGX_OK;
}


/*
 * The event of a request whose worker died (docs/events.md, "Worker lost"):
 * what its in-flight record holds, outcome worker_lost, the usage of
 * lava_inflight_usage() flagged worker_lost. Every value comes from the
 * record, so that a second worker that books it again (the first died too)
 * writes the same entry, a plain duplicate for the sidecar.
 */
ngx_int_t
ngx_http_lava_log_lost(lava_inflight_rec_t *rec, lava_inflight_ref_t ref,
    ngx_log_t *log)
{
    char                           flags[LAVA_EVENT_MAX_tap_flags + 1];
    u_char                         num[LAVA_EVENT_NFIELDS * NGX_INT64_LEN];
    u_char                         id[NGX_HTTP_LAVA_REQID_LEN + 1];
    size_t                         n;
    int64_t                        status, end_ms;
    unsigned                       tap_flags, meter_flags;
    ngx_int_t                      rc;
    lava_source_e                  src;
    lava_usage_t                   u;
    ngx_http_lava_event_t          ev;
    ngx_http_lava_event_values_t   val;

    src = lava_inflight_usage(rec, &u, &tap_flags, &meter_flags, &status);

    ngx_memzero(&val, sizeof(ngx_http_lava_event_values_t));

    val.request_id.data = (u_char *) rec->request_id;
    val.request_id.len = ngx_strlen(rec->request_id);
    val.ts_ms = rec->ts_ms;

    if (rec->state == LAVA_INFLIGHT_DONE) {
        val.duration_ms = rec->done_duration_ms;

    } else {
        /* until the last sign of life */
        end_ms = rec->updated_ms > rec->ts_ms ? rec->updated_ms : rec->ts_ms;
        val.duration_ms = end_ms - rec->ts_ms;
    }

    val.ttfb_ms = rec->ttfb_ms;
    val.attempt = -1;

    ngx_http_lava_ev_cstr(&val.merchant_id, rec->merchant_id);
    ngx_http_lava_ev_cstr(&val.customer_id, rec->customer_id);
    ngx_http_lava_ev_cstr(&val.meter, rec->meter);
    ngx_http_lava_ev_cstr(&val.spend_key_id, rec->spend_key_id);
    ngx_http_lava_ev_cstr(&val.payer,
                          rec->payer == LAVA_INFLIGHT_PAYER_CUSTOMER
                          ? "customer"
                          : rec->payer == LAVA_INFLIGHT_PAYER_MERCHANT
                            ? "merchant" : "none");
    ngx_http_lava_ev_cstr(&val.key_source,
                          rec->key_source == LAVA_INFLIGHT_KEY_BYOK ? "byok"
                          : rec->key_source == LAVA_INFLIGHT_KEY_MANAGED
                            ? "managed" : "none");
    ngx_http_lava_ev_cstr(&val.provider, rec->provider);
    ngx_http_lava_ev_cstr(&val.host, rec->host);
    ngx_http_lava_ev_cstr(&val.endpoint, rec->endpoint);
    ngx_http_lava_ev_cstr(&val.method, rec->method);

    if (u.model[0]) {
        ngx_http_lava_ev_cstr(&val.model, u.model);

    } else {
        ngx_http_lava_ev_cstr(&val.model, rec->model);
    }

    val.status = status;
    ngx_http_lava_ev_cstr(&val.outcome, "worker_lost");
    ngx_http_lava_ev_cstr(&val.stream, (rec->stream || rec->sse) ? "1" : "0");
    ngx_http_lava_ev_cstr(&val.usage_source, lava_meter_source_name(src));

    if (src != LAVA_SOURCE_NONE) {
        val.usage = u.buckets;
        val.usage_raw.data = (u_char *) u.raw;
        val.usage_raw.len = u.raw_len;
    }

    if (rec->state != LAVA_INFLIGHT_DONE) {
        /* billed requests: whenever the provider answered */
        val.usage.requests = rec->status == 0 ? 0
                             : u.requests > 0 ? u.requests : 1;
    }

    ngx_http_lava_ev_cstr(&val.metadata, rec->metadata);
    val.bytes_out = rec->bytes_out;

    n = lava_tap_flags_str(tap_flags, flags, sizeof(flags));
    n = lava_meter_flags_str(meter_flags, flags, n, sizeof(flags));
    val.tap_flags.data = (u_char *) flags;
    val.tap_flags.len = n;

    ev.argc = 0;
    ev.num = num;
    ev.num_end = num + sizeof(num);

    ngx_http_lava_event_write(&ev, &val);

    /* the record may be gone once the entry is pushed */
    (void) lava_inflight_copy((char *) id, sizeof(id), rec->request_id,
                              ngx_strlen(rec->request_id));

    rc = ngx_http_lava_event_queue(ev.argc, ev.argv, ev.argvlen, ref);

    if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "lava usage event of %s (worker lost) could not be "
                      "queued", id);
    }

    return rc;
}
