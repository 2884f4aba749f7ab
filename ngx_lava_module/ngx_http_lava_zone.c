/*
 * What the module's shared memory zones (lava_auth_zone, lava_wallet_zone,
 * lava_spend_key_zone) do alike: the "<directive> name size" directive, the
 * zone added by default when none was named, and the slab preamble of a
 * zone's init. Each zone's own file keeps its structure and its init.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lava_module.h"


/* the directive: a zone of its own name, at least 8 pages */
char *
ngx_http_lava_zone_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_shm_zone_t **zone, ngx_shm_zone_init_pt init, void *data)
{
    ssize_t     size;
    ngx_str_t  *value;

    if (*zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[2]);
    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %V size \"%V\"", &cmd->name, &value[2]);
        return NGX_CONF_ERROR;
    }

    *zone = ngx_shared_memory_add(cf, &value[1], size, &ngx_http_lava_module);
    if (*zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if ((*zone)->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%V \"%V\" is already used", &cmd->name,
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    (*zone)->init = init;
    (*zone)->data = data;

    return NGX_CONF_OK;
}


/* init_main_conf: the zone "name" of size bytes when the directive named
 * none; a feature is never off by omission */
char *
ngx_http_lava_zone_default(ngx_conf_t *cf, ngx_shm_zone_t **zone,
    ngx_str_t *name, size_t size, const char *directive,
    ngx_shm_zone_init_pt init, void *data)
{
    if (*zone) {
        return NGX_CONF_OK;
    }

    *zone = ngx_shared_memory_add(cf, name, size, &ngx_http_lava_module);
    if (*zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if ((*zone)->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used: name another with %s",
                           name, directive);
        return NGX_CONF_ERROR;
    }

    (*zone)->init = init;
    (*zone)->data = data;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_lava_zone_sh(ngx_shm_zone_t *shm_zone, void *data, size_t size,
    const char *directive, void **sh)
{
    size_t            len;
    ngx_slab_pool_t  *shpool;

    if (data) {
        /* a reload with the same zone: the old cycle's structure stays */
        shm_zone->data = data;
        return NGX_DONE;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_DONE;
    }

    *sh = ngx_slab_calloc(shpool, size);
    if (*sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = *sh;
    shm_zone->data = *sh;

    len = sizeof(" in  \"\"") + ngx_strlen(directive) + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in %s \"%V\"%Z", directive,
                &shm_zone->shm.name);

    /* a zone that is full is logged by its owner, in its own words, not
     * once per failed allocation by the slab */
    shpool->log_nomem = 0;

    return NGX_OK;
}
