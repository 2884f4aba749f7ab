/*
 * ngx_http_lava_module: the top of the module. Directives, configuration,
 * phase and filter setup, worker start and exit. Everything else is called
 * from here or from the phases set up here; nothing calls back up:
 * variables in ngx_http_lava_variables.c, the per-request context and
 * request ids in ngx_http_lava_ctx.c.
 */

#include "ngx_http_lava_module.h"
#include "ngx_http_lava_api.h"
#include "ngx_http_lava_auth.h"
#include "ngx_http_lava_event_v3.h"
#include "ngx_http_lava_fallback.h"


static ngx_int_t ngx_http_lava_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_lava_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_lava_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_lava_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_lava_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_lava_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_lava_init_process(ngx_cycle_t *cycle);
static void ngx_http_lava_exit_process(ngx_cycle_t *cycle);

static char *ngx_http_lava_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_lava_auth_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_lava_forward(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_lava_error(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_lava_include_usage_skip(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_lava_provider_header(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_lava_rewrite_handler(ngx_http_request_t *r);


static ngx_conf_enum_t  ngx_http_lava_spool_full[] = {
    { ngx_string("refuse"), NGX_HTTP_LAVA_SPOOL_FULL_REFUSE },
    { ngx_string("serve"), NGX_HTTP_LAVA_SPOOL_FULL_SERVE },
    { ngx_null_string, 0 }
};


/* lava_event_version: how stream entries are written (docs/events.md) */
static ngx_conf_enum_t  ngx_http_lava_event_versions[] = {
    { ngx_string("1"), 1 },
    { ngx_string("2"), 2 },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_lava_commands[] = {

    { ngx_string("lava_provider"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_lava_provider_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lava_provider_keys"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, keys_file),
      NULL },

    { ngx_string("lava_allow_private_upstreams"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, allow_private_upstreams),
      NULL },

    { ngx_string("lava_upstream_tls"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, upstream_tls),
      NULL },

    { ngx_string("lava_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_lava_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lava_redis_password"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, redis_password),
      NULL },

    { ngx_string("lava_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, redis_timeout),
      NULL },

    { ngx_string("lava_stream"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, stream),
      NULL },

    { ngx_string("lava_event_queue"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, queue_max),
      NULL },

    { ngx_string("lava_event_spool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, spool_dir),
      NULL },

    { ngx_string("lava_event_spool_max"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, spool_max),
      NULL },

    { ngx_string("lava_event_spool_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, spool_thread_pool),
      NULL },

    { ngx_string("lava_event_spool_full"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, spool_full),
      &ngx_http_lava_spool_full },

    { ngx_string("lava_event_version"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, event_version),
      &ngx_http_lava_event_versions },

    { ngx_string("lava_event_batch"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, event_batch),
      NULL },

    { ngx_string("lava_event_batch_wait"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, event_batch_wait),
      NULL },

    { ngx_string("lava_auth_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_lava_auth_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lava_auth_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, auth_prefix),
      NULL },

    { ngx_string("lava_auth_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, auth_file),
      NULL },

    { ngx_string("lava_auth_poll"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, auth_poll),
      NULL },

    { ngx_string("lava_wallet_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_lava_wallet_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lava_wallet_hold"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, wallet_hold),
      NULL },

    { ngx_string("lava_wallet_reserve"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_lava_loc_conf_t, wallet_reserve),
      NULL },

    { ngx_string("lava_spend_key_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_lava_spend_key_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lava_spend_key_hold"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, spend_key_hold),
      NULL },

    { ngx_string("lava_test_clock_offset"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, clock_offset),
      NULL },

    { ngx_string("lava_forward"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_lava_forward,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lava_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_lava_api_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lava_fallback_attempts"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_lava_fallback_attempts,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lava_fallback_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_lava_fallback_timeout,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lava_body_inspect_max"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_lava_loc_conf_t, body_inspect_max),
      NULL },

    { ngx_string("lava_tap_event_max"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_lava_loc_conf_t, tap_event_max),
      NULL },

    { ngx_string("lava_tap_json_max"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_lava_loc_conf_t, tap_json_max),
      NULL },

    { ngx_string("lava_error"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_lava_error,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lava_stream_include_usage"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_lava_loc_conf_t, include_usage),
      NULL },

    { ngx_string("lava_stream_include_usage_skip"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_lava_include_usage_skip,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lava_provider_header"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE3,
      ngx_http_lava_provider_header,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lava_provider_endpoint"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE4,
      ngx_http_lava_provider_endpoint,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lava_drain_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_lava_loc_conf_t, drain_timeout),
      NULL },

    { ngx_string("lava_drain_bytes"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_lava_loc_conf_t, drain_bytes),
      NULL },

    { ngx_string("lava_drain_max"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, drain_max),
      NULL },

    { ngx_string("lava_drain_per_payer"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lava_main_conf_t, drain_per_payer),
      NULL },

    { ngx_string("lava_tap_gunzip_max"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_lava_loc_conf_t, gunzip_max),
      NULL },

    { ngx_string("lava_inflight_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_lava_inflight_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lava_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_lava_status_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_lava_module_ctx = {
    ngx_http_lava_preconfiguration,        /* preconfiguration */
    ngx_http_lava_postconfiguration,       /* postconfiguration */

    ngx_http_lava_create_main_conf,        /* create main configuration */
    ngx_http_lava_init_main_conf,          /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_lava_create_loc_conf,         /* create location configuration */
    ngx_http_lava_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_http_lava_module = {
    NGX_MODULE_V1,
    &ngx_http_lava_module_ctx,             /* module context */
    ngx_http_lava_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_lava_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_lava_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* handlers */

static ngx_int_t
ngx_http_lava_rewrite_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_http_lava_ctx_t       *ctx;
    ngx_http_lava_loc_conf_t  *llcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lava_module);
    if (!llcf->forward) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_lava_get_ctx(r);

    if (ctx != NULL) {
        /* again after a unified endpoint's body was read (lava_api):
         * identify it now, still before preaccess */
        if (ctx->identified || ctx->refused || ctx->api == NULL) {
            return NGX_DECLINED;
        }

    } else {
        ctx = ngx_http_lava_create_ctx(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* no request is served that could not be billed
         * (lava_event_spool_full) */
        rc = ngx_http_lava_events_admit(r, ctx);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    /* identity before preaccess: limit_req and limit_conn zones and maps
     * can be keyed on $lava_merchant_id, $lava_customer_id and
     * $lava_spend_key_id */
    rc = ngx_http_lava_identify(r, ctx);

    return (rc == NGX_OK) ? NGX_DECLINED : rc;
}


/* configuration */

static void *
ngx_http_lava_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_lava_main_conf_t  *lmcf;

    lmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_lava_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&lmcf->providers, cf->pool, 32,
                       sizeof(ngx_http_lava_provider_t))
        != NGX_OK)
    {
        return NULL;
    }

    lmcf->allow_private_upstreams = NGX_CONF_UNSET;
    lmcf->upstream_tls = NGX_CONF_UNSET;
    lmcf->redis_timeout = NGX_CONF_UNSET_MSEC;
    lmcf->queue_max = NGX_CONF_UNSET_UINT;
    lmcf->spool_max = NGX_CONF_UNSET;
    lmcf->spool_full = NGX_CONF_UNSET_UINT;
    lmcf->event_version = NGX_CONF_UNSET_UINT;
    lmcf->event_batch = NGX_CONF_UNSET_UINT;
    lmcf->event_batch_wait = NGX_CONF_UNSET_MSEC;
    lmcf->auth_poll = NGX_CONF_UNSET_MSEC;
    lmcf->drain_max = NGX_CONF_UNSET_UINT;
    lmcf->drain_per_payer = NGX_CONF_UNSET_UINT;
    lmcf->wallet_hold = NGX_CONF_UNSET_MSEC;
    lmcf->spend_key_hold = NGX_CONF_UNSET_MSEC;
    lmcf->clock_offset = NGX_CONF_UNSET;

    return lmcf;
}


/* nginx strings are not NUL-terminated; hiredis wants C strings */
static ngx_int_t
ngx_http_lava_cstr(ngx_conf_t *cf, ngx_str_t *s)
{
    u_char  *p;

    p = ngx_pnalloc(cf->pool, s->len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    /* an unset string is (0, NULL): memcpy must not be given NULL */
    if (s->len) {
        ngx_memcpy(p, s->data, s->len);
    }

    p[s->len] = '\0';
    s->data = p;

    return NGX_OK;
}


static char *
ngx_http_lava_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_lava_main_conf_t *lmcf = conf;

    ngx_conf_init_value(lmcf->allow_private_upstreams, 0);
    ngx_conf_init_value(lmcf->upstream_tls, 1);

    /* managed keys in clear text go to loopback or private addresses only */
    if (!lmcf->upstream_tls && !lmcf->allow_private_upstreams) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"lava_upstream_tls off\" is for a local mock "
                           "provider only and needs "
                           "\"lava_allow_private_upstreams on\"; remove it "
                           "to reach the providers over TLS");
        return NGX_CONF_ERROR;
    }
    ngx_conf_init_msec_value(lmcf->redis_timeout, 1000);
    ngx_conf_init_uint_value(lmcf->queue_max, 10000);
    ngx_conf_init_value(lmcf->spool_max, 256 * 1024 * 1024);
    ngx_conf_init_uint_value(lmcf->spool_full, NGX_HTTP_LAVA_SPOOL_FULL_REFUSE);
    ngx_conf_init_uint_value(lmcf->event_version, 2);
    ngx_conf_init_msec_value(lmcf->auth_poll, 1000);
    ngx_conf_init_uint_value(lmcf->drain_max, 64);
    /* a quarter of the slots: one payer's aborts leave three quarters to
     * everyone else */
    ngx_conf_init_uint_value(lmcf->drain_per_payer,
                             lmcf->drain_max / 4 ? lmcf->drain_max / 4 : 1);

    if (ngx_http_lava_spendkey_init_conf(cf, lmcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_lava_wallet_init_conf(cf, lmcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /* relative to the prefix, like nginx's own paths; a C string for open() */
    if (lmcf->auth_file.len
        && (ngx_conf_full_name(cf->cycle, &lmcf->auth_file, 0) != NGX_OK
            || ngx_http_lava_cstr(cf, &lmcf->auth_file) != NGX_OK))
    {
        return NGX_CONF_ERROR;
    }

    if (lmcf->stream.len == 0) {
        ngx_str_set(&lmcf->stream, "lava:usage");
    }

    if (lmcf->auth_prefix.len == 0) {
        ngx_str_set(&lmcf->auth_prefix, "lava:auth");
    }

    if (lmcf->redis_host.len == 0) {
        ngx_str_set(&lmcf->redis_host, "127.0.0.1");
        lmcf->redis_port = 6379;
    }

    if (ngx_http_lava_cstr(cf, &lmcf->stream) != NGX_OK
        || ngx_http_lava_cstr(cf, &lmcf->auth_prefix) != NGX_OK
        || ngx_http_lava_cstr(cf, &lmcf->redis_host) != NGX_OK
        || ngx_http_lava_cstr(cf, &lmcf->redis_password) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (lmcf->queue_max == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"lava_event_queue\" must be at least 1");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_lava_event_v3_conf(cf, lmcf) != NGX_CONF_OK
        || ngx_http_lava_spool_conf(cf, lmcf) != NGX_CONF_OK
        || ngx_http_lava_inflight_conf(cf, lmcf) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_lava_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_lava_loc_conf_t  *llcf;

    llcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_lava_loc_conf_t));
    if (llcf == NULL) {
        return NULL;
    }

    /* set by ngx_pcalloc(): llcf->prefix = { 0, NULL } */

    llcf->forward = NGX_CONF_UNSET;
    llcf->error_page = NGX_CONF_UNSET;
    llcf->body_inspect_max = NGX_CONF_UNSET_SIZE;
    llcf->tap_event_max = NGX_CONF_UNSET_SIZE;
    llcf->tap_json_max = NGX_CONF_UNSET_SIZE;
    llcf->include_usage = NGX_CONF_UNSET;
    llcf->wallet_reserve = NGX_CONF_UNSET;
    llcf->drain_timeout = NGX_CONF_UNSET_MSEC;
    llcf->drain_bytes = NGX_CONF_UNSET_SIZE;
    llcf->gunzip_max = NGX_CONF_UNSET_SIZE;
    llcf->fallback_attempts = NGX_CONF_UNSET_UINT;
    llcf->fallback_timeout = NGX_CONF_UNSET_MSEC;

    return llcf;
}


static char *
ngx_http_lava_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_lava_loc_conf_t *prev = parent;
    ngx_http_lava_loc_conf_t *conf = child;

    /* lava_forward and lava_error are not inherited into nested locations
     * on purpose: each forward location says so itself */
    ngx_conf_init_value(conf->forward, 0);
    ngx_conf_init_value(conf->error_page, 0);

    /* lava_api rewrite/chat/messages only change a forward location */
    if (conf->api && conf->api != NGX_HTTP_LAVA_API_MODELS && !conf->forward) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"lava_api\" rewrite, chat and messages need "
                           "\"lava_forward\" in the same location (include "
                           "lava-forward.conf there)");
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_size_value(conf->body_inspect_max, prev->body_inspect_max,
                              1024 * 1024);
    ngx_conf_merge_size_value(conf->tap_event_max, prev->tap_event_max,
                              64 * 1024);
    ngx_conf_merge_size_value(conf->tap_json_max, prev->tap_json_max,
                              1024 * 1024);
    ngx_conf_merge_value(conf->include_usage, prev->include_usage, 1);
    ngx_conf_merge_value(conf->wallet_reserve, prev->wallet_reserve, 1);
    ngx_conf_merge_msec_value(conf->drain_timeout, prev->drain_timeout,
                              30000);
    ngx_conf_merge_size_value(conf->drain_bytes, prev->drain_bytes,
                              8 * 1024 * 1024);
    ngx_conf_merge_size_value(conf->gunzip_max, prev->gunzip_max,
                              64 * 1024 * 1024);
    ngx_conf_merge_uint_value(conf->fallback_attempts,
                              prev->fallback_attempts,
                              NGX_HTTP_LAVA_FALLBACK_ATTEMPTS);
    ngx_conf_merge_msec_value(conf->fallback_timeout, prev->fallback_timeout,
                              NGX_HTTP_LAVA_FALLBACK_TIMEOUT);

    return NGX_CONF_OK;
}


static char *
ngx_http_lava_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_lava_main_conf_t *lmcf = conf;

    u_char     *p;
    ngx_str_t  *value;
    ngx_url_t   u;

    if (lmcf->redis_host.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* the sidecar's redis_url is a URL; this is an address */
    if (ngx_strlchr(value[1].data, value[1].data + value[1].len, '/')) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"lava_redis\" address \"%V\": "
                           "expected <ipv4>:<port> without a scheme or a "
                           "path, e.g. \"lava_redis 127.0.0.1:6379;\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url = value[1];
    u.default_port = 6379;
    u.no_resolve = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.host.len == 0
        || u.uri.len)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"lava_redis\" address \"%V\"%s%s: "
                           "expected <ipv4>:<port>, e.g. "
                           "\"lava_redis 127.0.0.1:6379;\"", &value[1],
                           u.err ? ": " : "", u.err ? u.err : "");
        return NGX_CONF_ERROR;
    }

    /*
     * hiredis resolves host names with a blocking getaddrinfo(): only a
     * numeric address keeps the worker from ever blocking on DNS
     */
    if (ngx_inet_addr(u.host.data, u.host.len) == INADDR_NONE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"lava_redis\" needs a numeric IPv4 address, "
                           "not \"%V\" (hiredis would resolve a name "
                           "blocking the worker), e.g. "
                           "\"lava_redis 127.0.0.1:6379;\"", &u.host);
        return NGX_CONF_ERROR;
    }

    p = ngx_pnalloc(cf->pool, u.host.len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(p, u.host.data, u.host.len);
    lmcf->redis_host.data = p;
    lmcf->redis_host.len = u.host.len;
    lmcf->redis_port = u.port;

    return NGX_CONF_OK;
}


static char *
ngx_http_lava_auth_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_lava_main_conf_t *lmcf = conf;

    return ngx_http_lava_zone_conf(cf, cmd, &lmcf->auth_zone,
                                   ngx_http_lava_auth_init_zone, lmcf);
}


static char *
ngx_http_lava_forward(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_lava_loc_conf_t *llcf = conf;

    ngx_str_t                    *value;
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_lava_main_conf_t    *lmcf;
    ngx_http_lava_forward_loc_t  *fl;

    if (llcf->forward != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    llcf->forward = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    /* kept for ngx_http_lava_conf_check(): what this location needs */
    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_lava_module);

    if (lmcf->forwards == NULL) {
        lmcf->forwards = ngx_array_create(cf->pool, 2,
                                          sizeof(ngx_http_lava_forward_loc_t));
        if (lmcf->forwards == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    fl = ngx_array_push(lmcf->forwards);
    if (fl == NULL) {
        return NGX_CONF_ERROR;
    }

    fl->file = cf->conf_file->file.name;
    fl->line = cf->conf_file->line;
    fl->clcf = clcf;
    fl->cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);

    if (cf->args->nelts == 2) {
        value = cf->args->elts;
        llcf->prefix = value[1];

    } else {
#if (NGX_PCRE)
        if (clcf->regex) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"lava_forward\" in a regex location needs "
                               "the path prefix as its argument");
            return NGX_CONF_ERROR;
        }
#endif
        llcf->prefix = clcf->name;
    }

    /* "/v1/forward/" and "/v1/forward" both serve "/v1/forward/<path>" */
    while (llcf->prefix.len > 1
           && llcf->prefix.data[llcf->prefix.len - 1] == '/')
    {
        llcf->prefix.len--;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_lava_error(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_lava_loc_conf_t *llcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (llcf->error_page != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    llcf->error_page = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_lava_error_handler;

    return NGX_CONF_OK;
}


/* lava_stream_include_usage_skip <provider>...: their APIs refuse the
 * stream_options member (Mistral answers 422) */
static char *
ngx_http_lava_include_usage_skip(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_lava_main_conf_t *lmcf = conf;

    ngx_str_t   *value, *name;
    ngx_uint_t   i;

    if (lmcf->include_usage_skip == NULL) {
        lmcf->include_usage_skip = ngx_array_create(cf->pool, 4,
                                                    sizeof(ngx_str_t));
        if (lmcf->include_usage_skip == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        name = ngx_array_push(lmcf->include_usage_skip);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = value[i];
    }

    return NGX_CONF_OK;
}


/*
 * lava_provider_header <provider> <name> <value>: with the managed key of
 * <provider>, requests carry "<name>: <value>" (e.g. the operator's own
 * OpenAI-Organization). Not for the gateway's own headers: credentials,
 * x-lava-*, and what nginx or lava-forward.conf sets.
 */
static char *
ngx_http_lava_provider_header(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_lava_main_conf_t *lmcf = conf;

    u_char                           c;
    ngx_str_t                       *value, *name;
    ngx_uint_t                       i;
    ngx_http_lava_provider_header_t *ph;

    static ngx_str_t  reserved[] = {
        ngx_string("authorization"), ngx_string("proxy-authorization"),
        ngx_string("x-api-key"), ngx_string("x-goog-api-key"),
        ngx_string("xi-api-key"), ngx_string("x-provider-api-key"),
        ngx_string("host"), ngx_string("connection"),
        ngx_string("content-length"), ngx_string("transfer-encoding"),
        ngx_string("accept-encoding"), ngx_string("x-forwarded-for"),
        ngx_string("x-real-ip"), ngx_null_string
    };

    value = cf->args->elts;
    name = &value[2];

    for (i = 0; i < name->len; i++) {
        c = name->data[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-'))
        {
            return "has a header name other than A-Z a-z 0-9 -";
        }
    }

    if (name->len == 0
        || (name->len >= 7 && ngx_strncasecmp(name->data,
                                              (u_char *) "x-lava-", 7) == 0))
    {
        return "cannot set an x-lava-* header";
    }

    for (i = 0; reserved[i].len; i++) {
        if (name->len == reserved[i].len
            && ngx_strncasecmp(name->data, reserved[i].data, name->len) == 0)
        {
            return "cannot set a header the gateway sets itself";
        }
    }

    for (i = 0; i < value[3].len; i++) {
        c = value[3].data[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return "has a control character in the header value";
        }
    }

    if (lmcf->provider_headers == NULL) {
        lmcf->provider_headers = ngx_array_create(cf->pool, 4,
                                      sizeof(ngx_http_lava_provider_header_t));
        if (lmcf->provider_headers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    ph = ngx_array_push(lmcf->provider_headers);
    if (ph == NULL) {
        return NGX_CONF_ERROR;
    }

    ph->provider = value[1];
    ph->header.key = *name;
    ph->header.value = value[3];

    ph->header.lowcase_key = ngx_pnalloc(cf->pool, name->len);
    if (ph->header.lowcase_key == NULL) {
        return NGX_CONF_ERROR;
    }

    ph->header.hash = ngx_hash_strlow(ph->header.lowcase_key, name->data,
                                      name->len);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_lava_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_lava_add_variables(cf);
}


static ngx_int_t
ngx_http_lava_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;
    ngx_http_lava_main_conf_t  *lmcf;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_lava_module);

    if (ngx_http_lava_conf_check(cf, lmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_lava_providers_init(cf, lmcf) != NGX_OK
        || ngx_http_lava_status_conf(cf, lmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    /*
     * key= values leave the logged request line before anything can log it
     * (a 413 of the find-config phase, a refusal in rewrite), and again
     * first thing in the log phase, for requests nginx refused while reading
     * their headers: before the access log module's handler
     */
    if (lmcf->providers.nelts) {
        h = ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_http_lava_mask_handler;

        h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h = cmcf->phases[NGX_HTTP_LOG_PHASE].handlers.elts;
        ngx_memmove(&h[1], &h[0], (cmcf->phases[NGX_HTTP_LOG_PHASE].handlers.nelts
                                  - 1) * sizeof(ngx_http_handler_pt));
        h[0] = ngx_http_lava_mask_log_handler;
    }

    /* the request id exists before any refusal, preaccess ones included */
    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_lava_rewrite_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_lava_access_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_lava_log_handler;

    if (ngx_http_lava_inflight_postconf(cf, lmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_lava_filter_init(cf);
}


/* process */

static ngx_int_t
ngx_http_lava_init_process(ngx_cycle_t *cycle)
{
    ngx_http_lava_main_conf_t  *lmcf;

    ngx_http_lava_ctx_init_process(cycle);

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    ngx_http_lava_status_init_process(cycle);

    lmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_lava_module);
    if (lmcf == NULL || lmcf->providers.nelts == 0) {
        return NGX_OK;
    }

    if (ngx_http_lava_events_init_process(cycle, lmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_lava_wallet_init_process(cycle, lmcf);

    if (lmcf->auth_zone
        && ngx_http_lava_auth_init_process(cycle, lmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* after the event queue: a dead predecessor's requests are queued */
    return ngx_http_lava_inflight_init_process(cycle, lmcf);
}


static void
ngx_http_lava_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_lava_main_conf_t  *lmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return;
    }

    lmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_lava_module);
    if (lmcf == NULL || lmcf->providers.nelts == 0) {
        ngx_http_lava_status_exit_process(cycle);
        return;
    }

    ngx_http_lava_events_exit_process(cycle);
    ngx_http_lava_inflight_exit_process(cycle);
    ngx_http_lava_status_exit_process(cycle);
}
