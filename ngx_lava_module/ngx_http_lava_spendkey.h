/*
 * Spend keys inside the module: the request path
 * (ngx_http_lava_spendkey.c) and the lava_spend_key_zone shared memory
 * (ngx_http_lava_spendkey_zone.c). The module's other files use
 * ngx_http_lava_auth.h.
 */

#ifndef NGX_HTTP_LAVA_SPENDKEY_H
#define NGX_HTTP_LAVA_SPENDKEY_H

#include "ngx_http_lava_auth.h"
#include "lava_spendkey.h"


/* what the snapshot says of a key's limits and of our stream */
typedef struct {
    int64_t                      l[LAVA_AUTHSNAP_LIMIT_VALS];  /* "l" */
    ngx_uint_t                   marked;     /* a "b" record for our stream */
    uint64_t                     ms;         /* its booked-through id */
    uint64_t                     seq;
} ngx_http_lava_spk_limits_t;


/* "now" of expiry and cycles, ms: wall clock plus lava_test_clock_offset */
int64_t ngx_http_lava_spk_now_ms(ngx_http_lava_main_conf_t *lmcf);

lava_refusal_e ngx_http_lava_spk_admit(ngx_http_request_t *r,
    ngx_http_lava_main_conf_t *lmcf, ngx_str_t *id,
    ngx_http_lava_spk_limits_t *lim, lava_spk_take_t *tk,
    ngx_http_lava_spk_ref_t *ref);
void ngx_http_lava_spk_drop(ngx_http_lava_main_conf_t *lmcf,
    ngx_http_lava_spk_ref_t ref);
void ngx_http_lava_spk_finish(ngx_http_lava_main_conf_t *lmcf,
    ngx_http_lava_spk_ref_t ref, int64_t cost);


#endif /* NGX_HTTP_LAVA_SPENDKEY_H */
