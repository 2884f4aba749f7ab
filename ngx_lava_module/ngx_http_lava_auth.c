/*
 * Auth snapshot (docs/auth-sync.md) in the lava_auth_zone shared memory:
 * the zone and the lookup on the request path. Worker 0 keeps the snapshot
 * current (ngx_http_lava_auth_sync.c); the text and its tables are
 * lib/lava_authsnap.c.
 *
 * The request path (every worker) hashes the key with SHA-256 and looks it
 * up: no network round trip. Only hashes are stored; key bytes are neither
 * kept nor logged. The snapshot block is swapped and freed under the zone's
 * slab mutex, which the lookup holds: a reader sees the old snapshot or the
 * new one, never a mix, and never a freed block.
 */


#include "ngx_http_lava_auth.h"


/* request path */

ngx_http_lava_auth_rc_e
ngx_http_lava_auth_check(ngx_http_request_t *r, const u_char *secret_hash,
    ngx_str_t *customer_id, ngx_str_t *meter, ngx_str_t *merchant_id,
    ngx_uint_t *flags)
{
    u_char                          *id;
    size_t                           id_len;
    uint32_t                         chash, thash;
    ngx_uint_t                       blocked;
    ngx_shm_zone_t                  *zone;
    lava_authsnap_t                 *snap;
    ngx_slab_pool_t                 *shpool;
    ngx_http_lava_auth_sh_t         *sh;
    ngx_http_lava_auth_rc_e          rc;
    ngx_http_lava_main_conf_t       *lmcf;
    const lava_authsnap_pair_t      *pair;
    const lava_authsnap_merchant_t  *m;

    merchant_id->len = 0;
    merchant_id->data = NULL;
    *flags = 0;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);

    zone = lmcf->auth_zone;
    if (zone == NULL || zone->shm.addr == NULL) {
        return NGX_HTTP_LAVA_AUTH_NOT_LOADED;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;
    sh = zone->data;

    /* allocated before taking the lock */
    id = ngx_pnalloc(r->pool, NGX_HTTP_LAVA_ID_MAX);
    if (id == NULL) {
        return NGX_HTTP_LAVA_AUTH_NOT_LOADED;
    }

    chash = lava_authsnap_pair_hash((char *) customer_id->data,
                                    customer_id->len);
    thash = lava_authsnap_pair_hash((char *) meter->data, meter->len);

    id_len = 0;
    m = NULL;
    blocked = 0;

    ngx_shmtx_lock(&shpool->mutex);

    snap = sh->snap;

    if (snap == NULL) {
        rc = NGX_HTTP_LAVA_AUTH_NOT_LOADED;
        goto done;
    }

    m = lava_authsnap_find_merchant(snap, secret_hash);

    if (m == NULL) {
        rc = NGX_HTTP_LAVA_AUTH_UNKNOWN_KEY;
        goto done;
    }

    id_len = m->id_len;
    ngx_memcpy(id, snap->strings + m->id, id_len);

    if (m->status != LAVA_AUTHSNAP_ACTIVE) {
        rc = NGX_HTTP_LAVA_AUTH_MERCHANT_DISABLED;
        goto done;
    }

    rc = NGX_HTTP_LAVA_AUTH_OK;

    if (m->restricted) {
        *flags |= NGX_HTTP_LAVA_AUTH_F_RESTRICTED;
    }

    if (customer_id->len) {
        pair = lava_authsnap_find_pair(snap, &snap->customers, chash,
                                       (char *) id, id_len,
                                       (char *) customer_id->data,
                                       customer_id->len);
        if (pair == NULL) {
            rc = NGX_HTTP_LAVA_AUTH_UNKNOWN_CUSTOMER;
            goto done;
        }

        if (pair->status == LAVA_AUTHSNAP_DISABLED) {
            rc = NGX_HTTP_LAVA_AUTH_CUSTOMER_DISABLED;
            goto done;
        }

        blocked = (pair->status == LAVA_AUTHSNAP_BLOCKED);

        /* the same hash: "u" records are keyed like "c" records; looked
         * up for restricted keys only, which serve funded customers only */
        if (m->restricted
            && lava_authsnap_find_pair(snap, &snap->unfunded, chash,
                                       (char *) id, id_len,
                                       (char *) customer_id->data,
                                       customer_id->len))
        {
            *flags |= NGX_HTTP_LAVA_AUTH_F_UNFUNDED;
        }
    }

    if (meter->len) {
        pair = lava_authsnap_find_pair(snap, &snap->meters, thash,
                                       (char *) id, id_len,
                                       (char *) meter->data, meter->len);
        if (pair == NULL) {
            rc = NGX_HTTP_LAVA_AUTH_UNKNOWN_METER;
            goto done;
        }
    }

    /* known and valid in every other way: the caller decides whether the
     * customer's wallet pays for this request */
    if (blocked) {
        rc = NGX_HTTP_LAVA_AUTH_CUSTOMER_BLOCKED;
    }

done:

    ngx_shmtx_unlock(&shpool->mutex);

    if (m) {
        merchant_id->data = id;
        merchant_id->len = id_len;
    }

    return rc;
}


/* zone */

ngx_int_t
ngx_http_lava_auth_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_int_t                   rc;
    ngx_http_lava_auth_sh_t    *sh;
    ngx_http_lava_main_conf_t  *lmcf;

    /* set by the lava_auth_zone directive, replaced below */
    lmcf = shm_zone->data;

    rc = ngx_http_lava_zone_sh(shm_zone, data,
                               sizeof(ngx_http_lava_auth_sh_t),
                               "lava_auth_zone", (void **) &sh);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DONE) {
        /* a reload with the same zone keeps the old cycle's snapshot */
        sh = data;

        if (sh && sh->snap == NULL) {
            ngx_http_lava_auth_boot(shm_zone, lmcf);
        }

        return NGX_OK;
    }

    /* a snapshot too big for the zone is logged by the boot, not the slab */
    ngx_http_lava_auth_boot(shm_zone, lmcf);

    return NGX_OK;
}

