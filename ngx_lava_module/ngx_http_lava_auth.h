/*
 * Auth snapshot in the lava_auth_zone shared memory (docs/auth-sync.md),
 * shared by its two halves:
 *   ngx_http_lava_auth.c       the zone and the lookup on the request path
 *   ngx_http_lava_auth_sync.c  worker 0's Redis poller and lava_auth_file
 *   ngx_http_lava_auth_boot.c  the master's first load, before the workers
 * The snapshot text, its tables and their lookups are lib/lava_authsnap.c.
 */

#ifndef NGX_HTTP_LAVA_AUTH_H
#define NGX_HTTP_LAVA_AUTH_H

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lava_module.h"
#include "ngx_http_lava_token.h"
#include "lava_authsnap.h"


#if (NGX_HTTP_LAVA_SECRET_HASH_LEN != LAVA_AUTHSNAP_HASH_LEN                 \
     || NGX_HTTP_LAVA_ID_MAX != LAVA_AUTHSNAP_ID_MAX)
#error "the auth snapshot and the module disagree on hash or id sizes"
#endif


/* shared state of the zone */
typedef struct {
    lava_authsnap_t             *snap;       /* NULL: never loaded;
                                                guarded by the slab mutex */
} ngx_http_lava_auth_sh_t;


/* ngx_http_lava_auth_sync.c: a snapshot text into the zone (version 0: the
 * text's own); the lava_auth_file snapshot into the zone (the master) */
ngx_int_t ngx_http_lava_auth_load(ngx_shm_zone_t *zone, ngx_log_t *log,
    uint64_t version, u_char *text, size_t len);
void ngx_http_lava_auth_restore(ngx_shm_zone_t *zone, ngx_log_t *log,
    ngx_str_t *file);
/* ngx_http_lava_auth_boot.c: the master fills a new zone (lava_auth_file,
 * else Redis) before the workers start; not for nginx -t */
void ngx_http_lava_auth_boot(ngx_shm_zone_t *zone,
    ngx_http_lava_main_conf_t *lmcf);


/*
 * ngx_http_lava_spendkey.c: spend keys (docs/spend-keys.md). The request
 * path, in the order of the refusals:
 *   _auth      rewrite phase: a "lava_spk_" credential; sets merchant,
 *              customer, meter, payer and spend_key_id of ctx; refuses an
 *              unknown, revoked, expired or paused key (401), the
 *              customer's own refusals, a provider off the allow-list (403)
 *   _check     the body read: the model allow-list and model_not_priced
 *              (403; the merchant's "p" setting applies to every
 *              credential), the rate limit (429), the request limit (429),
 *              the spend limit (402); LAVA_REFUSAL_COUNT: admitted, the
 *              request counts as not yet booked from then on
 *   _cancel    a later refusal (wallet reservation): it counts for nothing
 *   _done      log phase: what it may cost, and its event's ref for
 *              ngx_http_lava_events_spend_key()
 * _shape: the key's request_shape (lava_spk_shape_e), -1 no spend key.
 * _auth with ctx->provider NULL (GET /v1/models): no provider allow-list,
 * a blocked wallet is not refused (the list reaches no provider); the list
 * asks _allows, under the auth zone's lock, whether the key's allow-lists
 * take a (provider, model) (1 too when ctx has no spend key).
 */
ngx_int_t ngx_http_lava_spendkey_auth(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, ngx_str_t *key);
lava_refusal_e ngx_http_lava_spendkey_check(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx);
void ngx_http_lava_spendkey_cancel(ngx_http_lava_ctx_t *ctx);
void ngx_http_lava_spendkey_done(ngx_http_request_t *r,
    ngx_http_lava_ctx_t *ctx, const lava_usage_buckets_t *usage);
ngx_int_t ngx_http_lava_spendkey_shape(ngx_http_lava_ctx_t *ctx);
ngx_uint_t ngx_http_lava_spendkey_allows(ngx_http_lava_ctx_t *ctx,
    const lava_authsnap_t *snap, ngx_str_t *provider, ngx_str_t *model);
/* a fallback's provider and model, under the auth zone's lock: the
 * allow-lists and refuse_unpriced (ngx_http_lava_fallback.c) */
lava_refusal_e ngx_http_lava_spendkey_fallback(ngx_http_lava_ctx_t *ctx,
    const lava_authsnap_t *snap, ngx_http_lava_provider_t *provider,
    ngx_str_t *model);

/* configuration: lava_spend_key_zone; init_main_conf creates the default
 * zone and the hold */
char *ngx_http_lava_spend_key_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_lava_spendkey_init_conf(ngx_conf_t *cf,
    ngx_http_lava_main_conf_t *lmcf);


#endif /* NGX_HTTP_LAVA_AUTH_H */
