/*
 * ngx_http_lava_module: usage-billing forward gateway inside nginx.
 *
 * Shared declarations of the module's files:
 *   ngx_http_lava_module.c     directives, configuration, phase setup, process init
 *   ngx_http_lava_variables.c  the $lava_* variables
 *   ngx_http_lava_ctx.c        per-request context, request ids, header lookup
 *   ngx_http_lava_providers.c  provider table and managed key file
 *   ngx_http_lava_conf_check.c configurations that cannot serve, refused
 *   ngx_http_lava_access.c     access phase: token, routing, header rewrite, body read
 *   ngx_http_lava_filter.c     header/body filters: request id header, usage tap
 *   ngx_http_lava_strip.c      body filter: removes the include_usage chunk
 *   ngx_http_lava_drain.c      reading the answer on after the client left
 *   ngx_http_lava_error.c      JSON error responses, refusals (lib/lava_refusal.h)
 *   ngx_http_lava_log.c        log phase: one usage event per request
 *   ngx_http_lava_redis.c      hiredis async connection driven by the nginx event loop
 *   ngx_http_lava_events.c     per-worker bounded event queue, XADD to the stream
 *   ngx_http_lava_spool.c      disk spool of the event queue
 *   ngx_http_lava_fsync.c      the spool's fdatasync() in nginx's thread pool
 *   ngx_http_lava_auth.c       auth snapshot in shared memory, lookup
 *   ngx_http_lava_auth_sync.c  auth snapshot poller (worker 0), lava_auth_file
 *   ngx_http_lava_wallet.c     wallet reservations (lava_wallet_zone)
 *   ngx_http_lava_spendkey.c   spend keys on the request path
 *   ngx_http_lava_spendkey_zone.c  lava_spend_key_zone: buckets, pending
 *   ngx_http_lava_inflight.c   in-flight records in shared memory, booked as
 *                              worker_lost when their worker dies
 *   ngx_http_lava_status.c     lava_status: shared counters, Prometheus text
 * Pure C parts without nginx types live in lib/ and are unit tested with Check.
 */

#ifndef NGX_HTTP_LAVA_MODULE_H
#define NGX_HTTP_LAVA_MODULE_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "lava_id.h"
#include "lava_inflight.h"
#include "lava_meter.h"
#include "lava_refusal.h"
#include "lava_tap.h"
#include "lava_token.h"
#include "lava_url.h"


#define NGX_HTTP_LAVA_REQID_LEN      LAVA_REQID_LEN  /* "req_" + 26 base32 */
#define NGX_HTTP_LAVA_ID_MAX         LAVA_ID_MAX     /* merchant/customer ids,
                                                        meter slugs */

/* lava_event_spool_full: what happens when no event can be kept any more */
#define NGX_HTTP_LAVA_SPOOL_FULL_REFUSE  1   /* 503 to new forward requests */
#define NGX_HTTP_LAVA_SPOOL_FULL_SERVE   2   /* serve, count the drops */


typedef enum {
    NGX_HTTP_LAVA_AUTH_BEARER = 0,      /* Authorization: Bearer <key> */
    NGX_HTTP_LAVA_AUTH_X_API_KEY,       /* x-api-key: <key> */
    NGX_HTTP_LAVA_AUTH_X_GOOG_API_KEY,  /* x-goog-api-key: <key> */
    NGX_HTTP_LAVA_AUTH_XI_API_KEY,      /* xi-api-key: <key> */
    NGX_HTTP_LAVA_AUTH_NONE             /* custom providers: the user's key only */
} ngx_http_lava_auth_format_e;


/* One row of the provider table (lava_provider directive). Owned by cf->pool. */
typedef struct {
    ngx_str_t                    name;       /* "openai" */
    ngx_array_t                 *hosts;      /* of ngx_str_t, lower case */
    ngx_str_t                    upstream;   /* name of its upstream{} block */
    ngx_http_upstream_srv_conf_t *uscf;      /* resolved at init */
    ngx_uint_t                   auth;       /* ngx_http_lava_auth_format_e */
    ngx_uint_t                   usage;      /* lava_usage_format_e */
    ngx_str_t                    key;        /* managed key; empty: BYOK only */
    ngx_array_t                 *headers;    /* of ngx_table_elt_t, sent with
                                                the managed key
                                                (lava_provider_header); NULL
                                                none */
    ngx_array_t                 *endpoints;  /* of ngx_http_lava_endpoint_t,
                                                served with the managed key
                                                beyond the metered ones
                                                (lava_provider_endpoint);
                                                NULL none */
    unsigned                     custom:1;   /* operator-declared "other" */
} ngx_http_lava_provider_t;


/* lava_provider_endpoint: an endpoint the meter does not know, served with
 * the managed key and billed per request. Owned by cf->pool. */
typedef struct {
    ngx_str_t                    provider;   /* provider name */
    ngx_str_t                    method;     /* "GET" */
    ngx_str_t                    pattern;    /* "/v1/models", "*" a segment */
} ngx_http_lava_endpoint_t;


/* lava_provider_header: a header requests with the managed key of a
 * provider carry (the client's own of that name removed). Owned by cf->pool. */
typedef struct {
    ngx_str_t                    provider;   /* provider name */
    ngx_table_elt_t              header;     /* key, lowcase_key, hash, value */
} ngx_http_lava_provider_header_t;


typedef struct {
    /* provider table */
    ngx_array_t                  providers;  /* of ngx_http_lava_provider_t */
    ngx_hash_t                   hosts;      /* host -> provider */
    ngx_hash_keys_arrays_t      *hosts_keys; /* config time only */
    ngx_str_t                    keys_file;
    ngx_flag_t                   allow_private_upstreams;
    ngx_flag_t                   upstream_tls;   /* lava_upstream_tls:
                                                    $lava_upstream_scheme */

    /* redis: the address is numeric (hiredis resolves names blocking) */
    ngx_addr_t                  *redis_addr;
    ngx_str_t                    redis_host;     /* "127.0.0.1", NUL-terminated */
    in_port_t                    redis_port;
    ngx_str_t                    redis_password; /* empty: no AUTH */
    ngx_msec_t                   redis_timeout;  /* connect and reply, ms */

    /* events */
    ngx_str_t                    stream;         /* "lava:usage", NUL-terminated */
    ngx_uint_t                   queue_max;      /* events kept per worker */

    /* event spool (ngx_http_lava_spool.h) */
    ngx_str_t                    spool_dir;      /* empty: no spool; absolute,
                                                    NUL-terminated after init */
    ngx_str_t                    spool_thread_pool; /* fdatasync() there;
                                                    "off" or no threads: in
                                                    the event loop */
    off_t                        spool_max;      /* bytes of own files, per
                                                    worker */
    ngx_uint_t                   spool_full;     /* NGX_HTTP_LAVA_SPOOL_FULL_* */
    ngx_uint_t                   event_version;  /* lava_event_version: 1, 2 */
    ngx_uint_t                   event_batch;    /* events per entry at most
                                                    (version 3), 1: one */
    ngx_msec_t                   event_batch_wait; /* ms an event waits for
                                                    others to share its
                                                    entry */

    /* auth snapshot */
    ngx_shm_zone_t              *auth_zone;
    ngx_str_t                    auth_prefix;    /* "lava:auth" */
    ngx_msec_t                   auth_poll;      /* ms */
    ngx_str_t                    auth_file;      /* lava_auth_file, full
                                                    path, NUL-terminated;
                                                    len 0: none */

    /* providers that refuse stream_options (lava_stream_include_usage_skip),
     * of ngx_str_t names; NULL none */
    ngx_array_t                 *include_usage_skip;
    /* of ngx_http_lava_provider_header_t (lava_provider_header); NULL none */
    ngx_array_t                 *provider_headers;
    /* of ngx_http_lava_endpoint_t (lava_provider_endpoint); NULL none */
    ngx_array_t                 *provider_endpoints;
    ngx_uint_t                   drain_max;      /* drains at once, per worker */
    ngx_uint_t                   drain_per_payer;  /* of them, of one merchant
                                                      and customer */
    /* of ngx_http_lava_forward_loc_t, the lava_forward locations, checked
     * by ngx_http_lava_conf_check(); NULL none */
    ngx_array_t                 *forwards;

    /* wallet reservations (ngx_http_lava_wallet.c) */
    ngx_shm_zone_t              *wallet_zone;
    ngx_msec_t                   wallet_hold;    /* lava_wallet_hold, ms */
    ngx_shm_zone_t              *inflight_zone;  /* lava_inflight_zone */

    /* spend keys (ngx_http_lava_spendkey.c) */
    ngx_shm_zone_t              *spend_key_zone; /* lava_spend_key_zone */
    ngx_msec_t                   spend_key_hold; /* lava_spend_key_hold */
    time_t                       clock_offset;   /* lava_test_clock_offset,
                                                    s added to "now" */
} ngx_http_lava_main_conf_t;


/* A lava_forward location, as parsed: config time only (cf->pool). */
typedef struct {
    ngx_str_t                    file;       /* where lava_forward is */
    ngx_uint_t                   line;
    ngx_http_core_loc_conf_t    *clcf;       /* its location */
    ngx_http_core_srv_conf_t    *cscf;       /* its server */
} ngx_http_lava_forward_loc_t;


typedef struct {
    ngx_flag_t                   forward;        /* lava_forward */
    ngx_str_t                    prefix;         /* location prefix stripped */
    size_t                       body_inspect_max;
    size_t                       tap_event_max;
    size_t                       tap_json_max;
    ngx_flag_t                   error_page;     /* lava_error (content) */
    ngx_flag_t                   include_usage;  /* lava_stream_include_usage */
    ngx_msec_t                   drain_timeout;  /* lava_drain_timeout, 0 off */
    size_t                       drain_bytes;    /* lava_drain_bytes */
    size_t                       gunzip_max;     /* lava_tap_gunzip_max */
    ngx_flag_t                   wallet_reserve; /* lava_wallet_reserve */
    ngx_uint_t                   api;            /* lava_api: NGX_HTTP_LAVA_
                                                    API_* (ngx_http_lava_api.h),
                                                    not inherited */
    ngx_uint_t                   fallback_attempts; /* lava_fallback_attempts */
    ngx_msec_t                   fallback_timeout;  /* lava_fallback_timeout,
                                                       ms */
} ngx_http_lava_loc_conf_t;


typedef enum {
    NGX_HTTP_LAVA_PAYER_NONE = 0,
    NGX_HTTP_LAVA_PAYER_CUSTOMER,
    NGX_HTTP_LAVA_PAYER_MERCHANT
} ngx_http_lava_payer_e;


/*
 * Per-request state. Allocated from r->pool and also registered as a pool
 * cleanup so that it survives internal redirects (error_page wipes r->ctx).
 */
typedef struct {
    u_char                       request_id[NGX_HTTP_LAVA_REQID_LEN + 1];
    ngx_msec_t                   start_ms;       /* ngx_current_msec at access */
    time_t                       start_sec;
    ngx_msec_t                   start_msec_part;
    ngx_msec_t                   ttfb_ms;        /* 0: no upstream byte yet */

    ngx_http_lava_provider_t    *provider;
    ngx_str_t                    upstream;       /* $lava_upstream */
    ngx_str_t                    host;           /* $lava_host */
    ngx_str_t                    uri;            /* $lava_uri: path?query */
    ngx_str_t                    path;           /* for the event */

    ngx_str_t                    merchant_id;
    ngx_str_t                    customer_id;
    ngx_str_t                    meter;
    ngx_uint_t                   payer;          /* ngx_http_lava_payer_e */
    unsigned                     byok:1;
    ngx_str_t                    provider_key;   /* the key sent to the
                                                    provider (managed or the
                                                    user's): masked in what
                                                    the answer brings back
                                                    (ngx_http_lava_keymask.c) */

    ngx_str_t                    model;          /* from the request body */
    ngx_str_t                    metadata;
    ngx_str_t                    spend_key_id;   /* authenticated by a spend
                                                    key (also when refused) */
    void                        *spend_key;      /* its state, NULL none
                                                    (ngx_http_lava_auth.h) */

    const char                  *error;          /* machine code when refused */
    ngx_uint_t                   upstream_status;
    off_t                        bytes_out;

    lava_route_t                 route;          /* endpoint, usage format */
    lava_request_t              *req;            /* request body, NULL unread */
    off_t                        request_bytes;  /* request body size */
    lava_refusal_e               body_refusal;   /* when body_refused */
    const char                  *body_refusal_msg; /* NULL: the row's */
    int64_t                      character_cost; /* ElevenLabs header, -1 */
    void                        *body;           /* body filter state
                                                    (ngx_http_lava_body.h) */
    ngx_uint_t                   usage_source;   /* lava_source_e, metered */
    unsigned                     meter_flags;    /* LAVA_METER_F_* */

    void                        *wallet;         /* reservation, NULL none
                                                    (ngx_http_lava_wallet.c) */
    lava_tap_t                  *tap;            /* NULL: not tapping */
    void                        *api;            /* lava_api state, NULL
                                                    none (ngx_http_lava_api.h) */
    lava_inflight_ref_t          inflight;       /* its in-flight record
                                                    until the event takes it
                                                    (gen 0: none) */
    void                        *fallback;       /* its fallbacks, NULL none
                                                    (ngx_http_lava_fallback.h) */
    ngx_uint_t                   attempt;        /* 1.. with fallbacks, else
                                                    0: the event's attempt */
    unsigned                     stream:1;       /* body said "stream": true */
    unsigned                     sse:1;          /* response is text/event-stream */
    unsigned                     refused:1;
    unsigned                     got_headers:1;  /* upstream response headers seen */
    unsigned                     last_buf:1;     /* body filter saw last_buf */
    unsigned                     body_done:1;
    unsigned                     body_waiting:1;
    unsigned                     body_refused:1; /* the body cannot be
                                                    metered */
    unsigned                     routed:1;
    unsigned                     identified:1;   /* routed and authenticated
                                                    (rewrite phase) */
    unsigned                     logged:1;
    unsigned                     include_usage_added:1;  /* the body asks for
                                                            the usage chunk
                                                            because we said so */
    unsigned                     metered:1;      /* lava_meter_finish done */
    unsigned                     draining:1;     /* the client left; reading
                                                    on to the final usage */
    unsigned                     final_relayed:1; /* the stream's last event
                                                    was written to the
                                                    client (tap->ended) */
} ngx_http_lava_ctx_t;


extern ngx_module_t  ngx_http_lava_module;


/*
 * A worker timer of the module (Redis retries and timeouts, event queue
 * flush and reports, spool sync, auth poll): cancelable, so that it never
 * holds back a graceful worker exit.
 */
static ngx_inline void
ngx_http_lava_timer_init(ngx_event_t *ev, ngx_event_handler_pt handler,
    void *data, ngx_log_t *log)
{
    ev->handler = handler;
    ev->data = data;
    ev->log = log;
    ev->cancelable = 1;
}


/* ngx_http_lava_ctx.c */
ngx_http_lava_ctx_t *ngx_http_lava_get_ctx(ngx_http_request_t *r);
ngx_http_lava_ctx_t *ngx_http_lava_create_ctx(ngx_http_request_t *r);
/* a fresh request id into id (NGX_HTTP_LAVA_REQID_LEN + 1 bytes) */
void ngx_http_lava_reqid_new(u_char *id);
/* init_process: seeds this worker's request id randomness */
void ngx_http_lava_ctx_init_process(ngx_cycle_t *cycle);
ngx_table_elt_t *ngx_http_lava_header(ngx_list_t *headers, const char *lname,
    size_t len);

/* ngx_http_lava_variables.c: preconfiguration */
ngx_int_t ngx_http_lava_add_variables(ngx_conf_t *cf);

/* ngx_http_lava_providers.c */
char *ngx_http_lava_provider_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_lava_providers_init(ngx_conf_t *cf,
    ngx_http_lava_main_conf_t *lmcf);
ngx_http_lava_provider_t *ngx_http_lava_provider_find(
    ngx_http_lava_main_conf_t *lmcf, u_char *host, size_t len);

/* ngx_http_lava_conf_check.c: postconfiguration, refuses a configuration
 * that cannot serve (docs/directives.md) */
ngx_int_t ngx_http_lava_conf_check(ngx_conf_t *cf,
    ngx_http_lava_main_conf_t *lmcf);

/* ngx_http_lava_access.c */
ngx_int_t ngx_http_lava_access_handler(ngx_http_request_t *r);
/* the request body as one buffer of len bytes (a copy unless it is one
 * buffer in memory); NULL no memory or the file could not be read */
u_char *ngx_http_lava_body_bytes(ngx_http_request_t *r, size_t len);
/* rewrite phase (and access, if it did not run): route and authenticate,
 * so that $lava_* identities key preaccess limits; NGX_OK or answered */
ngx_int_t ngx_http_lava_identify(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);

/* ngx_http_lava_policy.c */
char *ngx_http_lava_provider_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_lava_provider_endpoints_init(ngx_conf_t *cf,
    ngx_http_lava_main_conf_t *lmcf);
ngx_int_t ngx_http_lava_policy_check(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);
/* ngx_http_lava_keymask.c: the key sent, masked in the answer's model and
 * raw usage before the event is written; 1 something was masked */
ngx_uint_t ngx_http_lava_keymask_event(ngx_http_lava_ctx_t *ctx,
    lava_usage_t *u);
/* ngx_http_lava_keymask.c: the managed key masked in the connection's error
 * log while the request runs; NGX_ERROR no memory */
ngx_int_t ngx_http_lava_keymask_log(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);
lava_refusal_e ngx_http_lava_policy_body(ngx_http_lava_ctx_t *ctx);
ngx_int_t ngx_http_lava_mask_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_lava_mask_log_handler(ngx_http_request_t *r);

/* ngx_http_lava_filter.c */
ngx_int_t ngx_http_lava_filter_init(ngx_conf_t *cf);

/* ngx_http_lava_drain.c: r->read_event_handler once the body is read: a
 * client that left starts the drain (or the upstream is closed) */
void ngx_http_lava_client_check(ngx_http_request_t *r);

/* ngx_http_lava_error.c: sends {"error":{"message","code","status"}} */
ngx_int_t ngx_http_lava_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message);
/*
 * Answers a forward request with one row of lib/lava_refusal.h (message
 * NULL: the row's own) and marks it refused; returns NGX_DONE, the request
 * is finalized.
 */
ngx_int_t ngx_http_lava_refuse(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx,
    lava_refusal_e refusal, const char *message);
ngx_int_t ngx_http_lava_error_handler(ngx_http_request_t *r);
void ngx_http_lava_error_unanswered(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);

/* ngx_http_lava_log.c */
ngx_int_t ngx_http_lava_log_handler(ngx_http_request_t *r);
/* "complete" | "client_abort" | "upstream_error" | "refused" */
const char *ngx_http_lava_outcome(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);
/* "reported" | "estimated" | "none"; meters the request on first use */
const char *ngx_http_lava_usage_source(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);
void ngx_http_lava_meter(ngx_http_request_t *r, ngx_http_lava_ctx_t *ctx);
/* the event of a failed attempt of a request with fallbacks: its own
 * request id, attempt_of the request's (ngx_http_lava_fallback.c) */
ngx_int_t ngx_http_lava_log_attempt(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, ngx_uint_t status, u_char *request_id,
    int64_t ts_ms, ngx_msec_t start_ms);
/* the event of a record taken from a dead worker (outcome worker_lost),
 * queued with the record (ngx_http_lava_inflight.c) */
ngx_int_t ngx_http_lava_log_lost(lava_inflight_rec_t *rec,
    lava_inflight_ref_t ref, ngx_log_t *log);

/* ngx_http_lava_inflight.c */
char *ngx_http_lava_inflight_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_lava_inflight_conf(ngx_conf_t *cf,
    ngx_http_lava_main_conf_t *lmcf);
ngx_int_t ngx_http_lava_inflight_postconf(ngx_conf_t *cf,
    ngx_http_lava_main_conf_t *lmcf);
ngx_int_t ngx_http_lava_inflight_init_process(ngx_cycle_t *cycle,
    ngx_http_lava_main_conf_t *lmcf);
void ngx_http_lava_inflight_exit_process(ngx_cycle_t *cycle);
/* the record of a request (its owner may change it in place), NULL none */
lava_inflight_rec_t *ngx_http_lava_inflight_rec(ngx_http_lava_ctx_t *ctx);
/* body filter: the counters of the answer so far, in place */
void ngx_http_lava_inflight_update(ngx_http_lava_ctx_t *ctx);
/* log phase: the final usage, status and model of the event being queued */
void ngx_http_lava_inflight_done(ngx_http_lava_ctx_t *ctx,
    const lava_usage_buckets_t *usage, ngx_str_t *model, int64_t status,
    int64_t duration_ms);
void ngx_http_lava_inflight_release(lava_inflight_ref_t ref);

/* ngx_http_lava_zone.c: the shared zones' directive, default zone and
 * init preamble. ngx_http_lava_zone_sh(): NGX_DONE when the zone's structure
 * exists already (a reload with the same zone, or an inherited zone;
 * shm_zone->data points at it), NGX_OK with *sh a new zeroed structure of
 * size bytes (shpool->data and shm_zone->data point at it, the slab's
 * messages name the directive and the zone), or NGX_ERROR */
char *ngx_http_lava_zone_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_shm_zone_t **zone, ngx_shm_zone_init_pt init, void *data);
char *ngx_http_lava_zone_default(ngx_conf_t *cf, ngx_shm_zone_t **zone,
    ngx_str_t *name, size_t size, const char *directive,
    ngx_shm_zone_init_pt init, void *data);
ngx_int_t ngx_http_lava_zone_sh(ngx_shm_zone_t *shm_zone, void *data,
    size_t size, const char *directive, void **sh);

/* ngx_http_lava_wallet.c */
char *ngx_http_lava_wallet_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_lava_wallet_init_conf(ngx_conf_t *cf,
    ngx_http_lava_main_conf_t *lmcf);
/* after the body is read: LAVA_REFUSAL_COUNT reserved or not reserved
 * (not a wallet under the block policy), else the refusal */
lava_refusal_e ngx_http_lava_wallet_reserve(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);
/* log phase: usage the event books, NULL none */
void ngx_http_lava_wallet_release(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, const lava_usage_buckets_t *usage);
/* releases (and holds) every reservation of a dead worker */
void ngx_http_lava_wallet_owner_lost(ngx_pid_t pid);
/* init_process: the same for every worker that no longer exists */
void ngx_http_lava_wallet_init_process(ngx_cycle_t *cycle,
    ngx_http_lava_main_conf_t *lmcf);

/* a spend key's not-yet-booked request in lava_spend_key_zone; rec NULL:
 * none (ngx_http_lava_spendkey.c) */
typedef struct {
    void                        *rec;
    uint64_t                     gen;
} ngx_http_lava_spk_ref_t;

/* the log phase names the request's record for the next
 * ngx_http_lava_event_push(); the event queue reports where the entry went:
 * id the stream entry id Redis returned, NULL spooled or lost */
void ngx_http_lava_events_spend_key(ngx_http_lava_spk_ref_t ref);
void ngx_http_lava_spendkey_sent(ngx_http_lava_spk_ref_t ref,
    const char *id, size_t len);
/* a dead worker's requests count until lava_spend_key_hold from now */
void ngx_http_lava_spendkey_owner_lost(ngx_pid_t pid);

/* ngx_http_lava_redis.c + ngx_http_lava_events.c (per worker) */
ngx_int_t ngx_http_lava_events_init_process(ngx_cycle_t *cycle,
    ngx_http_lava_main_conf_t *lmcf);
void ngx_http_lava_events_exit_process(ngx_cycle_t *cycle);
/*
 * Queues one stream entry (field/value pairs, argc even) and returns at once.
 * The values are copied. NGX_OK queued; NGX_DECLINED dropped because the queue
 * is full (counted and logged); NGX_ERROR out of memory. held (gen 0: none)
 * is the request's in-flight record, released once the entry has left the
 * worker for good (XADD acknowledged, or written to the spool) or was
 * dropped; an entry lost at worker exit leaves it for another worker.
 */
ngx_int_t ngx_http_lava_event_push(ngx_uint_t argc, const char **argv,
    const size_t *argvlen, lava_inflight_ref_t held);
/* the entry in the lava_event_version format, then ngx_http_lava_event_push()
 * (ngx_http_lava_event_v2.c) */
ngx_int_t ngx_http_lava_event_queue(ngx_uint_t argc, const char **argv,
    const size_t *argvlen, lava_inflight_ref_t held);
/*
 * Rewrite phase of a forward location: NGX_DECLINED go on; NGX_DONE the
 * request was answered 503 "event_spool_full" (lava_event_spool_full refuse
 * and neither the queue nor the spool can keep another event).
 */
ngx_int_t ngx_http_lava_events_admit(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);
/* events this worker could not keep, since it started ($lava_events_dropped) */
ngx_uint_t ngx_http_lava_events_dropped(void);
/* init_main_conf: checks and registers lava_event_spool (ngx_http_lava_spool.c) */
char *ngx_http_lava_spool_conf(ngx_conf_t *cf, ngx_http_lava_main_conf_t *lmcf);

/* ngx_http_lava_auth.c; init_process: ngx_http_lava_auth_sync.c */
ngx_int_t ngx_http_lava_auth_init_zone(ngx_shm_zone_t *shm_zone, void *data);
ngx_int_t ngx_http_lava_auth_init_process(ngx_cycle_t *cycle,
    ngx_http_lava_main_conf_t *lmcf);

typedef enum {
    NGX_HTTP_LAVA_AUTH_OK = 0,
    NGX_HTTP_LAVA_AUTH_UNKNOWN_KEY,
    NGX_HTTP_LAVA_AUTH_MERCHANT_DISABLED,
    NGX_HTTP_LAVA_AUTH_UNKNOWN_CUSTOMER,
    NGX_HTTP_LAVA_AUTH_CUSTOMER_DISABLED,
    NGX_HTTP_LAVA_AUTH_UNKNOWN_METER,
    NGX_HTTP_LAVA_AUTH_NOT_LOADED,      /* no snapshot seen yet */
    NGX_HTTP_LAVA_AUTH_CUSTOMER_BLOCKED /* all known and valid, but the
                                           customer's wallet is at or below
                                           its minimum (docs/auth-sync.md) */
} ngx_http_lava_auth_rc_e;

/* flags of ngx_http_lava_auth_check(), docs/security.md (class 11) */
#define NGX_HTTP_LAVA_AUTH_F_RESTRICTED  0x1 /* the key of an active merchant
                                                is restricted to customer
                                                billing ("k" record) */
#define NGX_HTTP_LAVA_AUTH_F_UNFUNDED    0x2 /* restricted keys only: the
                                                customer's wallet is at or
                                                below its minimum ("u") */

/*
 * Checks a secret key, given as its SHA-256 (ngx_http_lava_token_get), and
 * optionally a customer id and meter slug (empty: not checked). On
 * NGX_HTTP_LAVA_AUTH_OK merchant_id is set to a copy in r->pool. flags gets
 * NGX_HTTP_LAVA_AUTH_F_* bits.
 */
ngx_http_lava_auth_rc_e ngx_http_lava_auth_check(ngx_http_request_t *r,
    const u_char *secret_hash, ngx_str_t *customer_id, ngx_str_t *meter,
    ngx_str_t *merchant_id, ngx_uint_t *flags);


/*
 * ---- Redis side: ngx_http_lava_redis.c, ngx_http_lava_events.c,
 * ---- ngx_http_lava_auth.c (additions to the declarations above)
 *
 * - ngx_http_lava_events_exit_process() flushes the queue (bounded, ~300 ms)
 *   and then closes every Redis connection of the worker, the auth poller's
 *   included: nginx alerts on sockets left open at a graceful exit.
 * - lava_auth_zone: ngx_http_lava_auth_init_zone() replaces shm_zone->data
 *   with the zone's shared state; it is handed to the next cycle on reload,
 *   which keeps the loaded snapshot.
 * - ngx_http_lava_auth_check() also sets merchant_id (r->pool) when the key
 *   is known but the request is refused (merchant or customer disabled,
 *   unknown customer or meter), for the event's merchant_id field.
 */

/* counters of this worker since it started */
typedef struct {
    ngx_uint_t                   pushed;     /* accepted (queue or spool) */
    ngx_uint_t                   sent;       /* XADD acknowledged */
    ngx_uint_t                   dropped;    /* not kept: queue and spool full */
    ngx_uint_t                   refused;    /* requests answered 503 for it */
    ngx_uint_t                   spooled;    /* appended to the spool */
    ngx_uint_t                   replayed;   /* read back from the spool */
    ngx_uint_t                   queued;     /* waiting now, in flight too */
    ngx_uint_t                   in_flight;  /* XADD written, no reply yet */
    ngx_uint_t                   redis_ready; /* the connection is usable */
    off_t                        spool_bytes; /* own spool files on disk */
} ngx_http_lava_events_stats_t;

void ngx_http_lava_events_stats(ngx_http_lava_events_stats_t *st);

/* ngx_http_lava_drain.c: drains of this worker now */
ngx_uint_t ngx_http_lava_drains_active(void);

/* ngx_http_lava_status.c: lava_status and its counters (one-line hooks) */
char *ngx_http_lava_status_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_lava_status_conf(ngx_conf_t *cf,
    ngx_http_lava_main_conf_t *lmcf);
void ngx_http_lava_status_init_process(ngx_cycle_t *cycle);
void ngx_http_lava_status_exit_process(ngx_cycle_t *cycle);
void ngx_http_lava_status_request(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, ngx_uint_t status);
void ngx_http_lava_status_token(ngx_uint_t hit);
void ngx_http_lava_status_auth_loaded(uint64_t version);

#endif /* NGX_HTTP_LAVA_MODULE_H */
