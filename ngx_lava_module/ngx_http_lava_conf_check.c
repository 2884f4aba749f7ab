/*
 * Configurations that cannot serve are refused when they are loaded
 * (nginx -t, start, reload), each with a message naming the directive and
 * the fix, instead of being accepted and failing every request at run time:
 *
 *   - lava_forward without lava_auth_zone (every request 503
 *     auth_unavailable) or without any lava_provider (every request 403);
 *   - a provider name in lava_stream_include_usage_skip,
 *     lava_provider_header or lava_provider_endpoint that no lava_provider
 *     defines (a misspelling would silently do nothing);
 *   - an error_page of a lava_forward location naming a named location its
 *     server does not have (lava-forward.conf's @lava_error without
 *     lava-server.conf): nginx would answer the provider's failures with its
 *     HTML 500 instead of the JSON errors.
 *
 * Runs at postconfiguration, when the locations of every server are known
 * (cscf->named_locations) and error_page lists are merged.
 */

#include "ngx_http_lava_module.h"


static ngx_int_t ngx_http_lava_conf_check_forward(ngx_conf_t *cf,
    ngx_http_lava_main_conf_t *lmcf, ngx_http_lava_forward_loc_t *fl);
static ngx_int_t ngx_http_lava_conf_check_name(ngx_conf_t *cf,
    ngx_http_lava_main_conf_t *lmcf, const char *directive, ngx_str_t *name);


ngx_int_t
ngx_http_lava_conf_check(ngx_conf_t *cf, ngx_http_lava_main_conf_t *lmcf)
{
    ngx_str_t                        *name;
    ngx_uint_t                        i;
    ngx_http_lava_endpoint_t         *ep;
    ngx_http_lava_forward_loc_t      *fl;
    ngx_http_lava_provider_header_t  *ph;

    if (lmcf->include_usage_skip) {
        name = lmcf->include_usage_skip->elts;

        for (i = 0; i < lmcf->include_usage_skip->nelts; i++) {
            if (ngx_http_lava_conf_check_name(cf, lmcf,
                                              "lava_stream_include_usage_skip",
                                              &name[i])
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    if (lmcf->provider_headers) {
        ph = lmcf->provider_headers->elts;

        for (i = 0; i < lmcf->provider_headers->nelts; i++) {
            if (ngx_http_lava_conf_check_name(cf, lmcf, "lava_provider_header",
                                              &ph[i].provider)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    if (lmcf->provider_endpoints) {
        ep = lmcf->provider_endpoints->elts;

        for (i = 0; i < lmcf->provider_endpoints->nelts; i++) {
            if (ngx_http_lava_conf_check_name(cf, lmcf,
                                              "lava_provider_endpoint",
                                              &ep[i].provider)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    if (lmcf->forwards == NULL) {
        return NGX_OK;
    }

    fl = lmcf->forwards->elts;

    for (i = 0; i < lmcf->forwards->nelts; i++) {
        if (ngx_http_lava_conf_check_forward(cf, lmcf, &fl[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_lava_conf_check_forward(ngx_conf_t *cf,
    ngx_http_lava_main_conf_t *lmcf, ngx_http_lava_forward_loc_t *fl)
{
    ngx_str_t                  *target;
    ngx_uint_t                  i;
    ngx_http_err_page_t        *err;
    ngx_http_core_loc_conf_t  **named;

    if (lmcf->providers.nelts == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"lava_forward\" in %V:%ui has no provider to forward "
                      "to: define them with \"lava_provider\" at http level "
                      "(include providers.conf)", &fl->file, fl->line);
        return NGX_ERROR;
    }

    if (lmcf->auth_zone == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"lava_forward\" in %V:%ui needs \"lava_auth_zone\" at "
                      "http level, e.g. \"lava_auth_zone lava_auth 8m;\" "
                      "(nginx-lava.conf): without it every request is "
                      "refused 503 auth_unavailable", &fl->file, fl->line);
        return NGX_ERROR;
    }

    if (fl->clcf->error_pages == NULL) {
        return NGX_OK;
    }

    err = fl->clcf->error_pages->elts;

    for (i = 0; i < fl->clcf->error_pages->nelts; i++) {

        /* a named location, given literally ("@lava_error") */
        target = &err[i].value.value;

        if (err[i].value.lengths || target->len < 2 || target->data[0] != '@')
        {
            continue;
        }

        for (named = fl->cscf->named_locations; named && *named; named++) {
            if ((*named)->name.len == target->len
                && ngx_strncmp((*named)->name.data, target->data, target->len)
                   == 0)
            {
                break;
            }
        }

        if (named && *named) {
            continue;
        }

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"error_page %i ... %V\" of the \"lava_forward\" "
                      "location in %V:%ui names a location its server does "
                      "not define: include lava-server.conf in that server "
                      "(it defines \"location @lava_error { lava_error; }\"), "
                      "or nginx answers errors with HTML instead of JSON",
                      err[i].status, target, &fl->file, fl->line);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_lava_conf_check_name(ngx_conf_t *cf, ngx_http_lava_main_conf_t *lmcf,
    const char *directive, ngx_str_t *name)
{
    ngx_uint_t                 i;
    ngx_http_lava_provider_t  *p;

    p = lmcf->providers.elts;

    for (i = 0; i < lmcf->providers.nelts; i++) {
        if (p[i].name.len == name->len
            && ngx_strncmp(p[i].name.data, name->data, name->len) == 0)
        {
            return NGX_OK;
        }
    }

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"%s\" names provider \"%V\", which no \"lava_provider\" "
                  "defines: correct the name (provider names are lower "
                  "case, as in providers.conf) or define the provider",
                  directive, name);

    return NGX_ERROR;
}
