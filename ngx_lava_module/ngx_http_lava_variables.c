/*
 * The $lava_* variables (docs/directives.md), read from the request's
 * context; $lava_events_dropped is the worker's count, in any request.
 */

#include "ngx_http_lava_module.h"


typedef enum {
    NGX_HTTP_LAVA_VAR_REQUEST_ID = 0,
    NGX_HTTP_LAVA_VAR_UPSTREAM,
    NGX_HTTP_LAVA_VAR_HOST,
    NGX_HTTP_LAVA_VAR_URI,
    NGX_HTTP_LAVA_VAR_PROVIDER,
    NGX_HTTP_LAVA_VAR_MERCHANT,
    NGX_HTTP_LAVA_VAR_CUSTOMER,
    NGX_HTTP_LAVA_VAR_MODEL,
    NGX_HTTP_LAVA_VAR_OUTCOME,
    NGX_HTTP_LAVA_VAR_ERROR,
    NGX_HTTP_LAVA_VAR_INPUT_TOKENS,
    NGX_HTTP_LAVA_VAR_OUTPUT_TOKENS,
    NGX_HTTP_LAVA_VAR_USAGE_SOURCE,
    NGX_HTTP_LAVA_VAR_EVENTS_DROPPED,
    NGX_HTTP_LAVA_VAR_UPSTREAM_SCHEME,
    NGX_HTTP_LAVA_VAR_SPEND_KEY
} ngx_http_lava_var_e;


static ngx_int_t ngx_http_lava_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_lava_vars[] = {

    { ngx_string("lava_request_id"), NULL, ngx_http_lava_variable,
      NGX_HTTP_LAVA_VAR_REQUEST_ID, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lava_upstream"), NULL, ngx_http_lava_variable,
      NGX_HTTP_LAVA_VAR_UPSTREAM, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lava_host"), NULL, ngx_http_lava_variable,
      NGX_HTTP_LAVA_VAR_HOST, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lava_uri"), NULL, ngx_http_lava_variable,
      NGX_HTTP_LAVA_VAR_URI, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lava_provider"), NULL, ngx_http_lava_variable,
      NGX_HTTP_LAVA_VAR_PROVIDER, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lava_merchant_id"), NULL, ngx_http_lava_variable,
      NGX_HTTP_LAVA_VAR_MERCHANT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lava_customer_id"), NULL, ngx_http_lava_variable,
      NGX_HTTP_LAVA_VAR_CUSTOMER, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lava_spend_key_id"), NULL, ngx_http_lava_variable,
      NGX_HTTP_LAVA_VAR_SPEND_KEY, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lava_model"), NULL, ngx_http_lava_variable,
      NGX_HTTP_LAVA_VAR_MODEL, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lava_outcome"), NULL, ngx_http_lava_variable,
      NGX_HTTP_LAVA_VAR_OUTCOME, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lava_error"), NULL, ngx_http_lava_variable,
      NGX_HTTP_LAVA_VAR_ERROR, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lava_input_tokens"), NULL, ngx_http_lava_variable,
      NGX_HTTP_LAVA_VAR_INPUT_TOKENS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lava_output_tokens"), NULL, ngx_http_lava_variable,
      NGX_HTTP_LAVA_VAR_OUTPUT_TOKENS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lava_usage_source"), NULL, ngx_http_lava_variable,
      NGX_HTTP_LAVA_VAR_USAGE_SOURCE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lava_events_dropped"), NULL, ngx_http_lava_variable,
      NGX_HTTP_LAVA_VAR_EVENTS_DROPPED, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lava_upstream_scheme"), NULL, ngx_http_lava_variable,
      NGX_HTTP_LAVA_VAR_UPSTREAM_SCHEME, 0, 0 },

      ngx_http_null_variable
};


static void
ngx_http_lava_var_str(ngx_http_variable_value_t *v, u_char *p, size_t len)
{
    if (p == NULL || len == 0) {
        v->not_found = 1;
        return;
    }

    v->data = p;
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
}


static ngx_int_t
ngx_http_lava_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char                     *p;
    int64_t                     n;
    ngx_http_lava_ctx_t        *ctx;
    ngx_http_lava_main_conf_t  *lmcf;

    if (data == NGX_HTTP_LAVA_VAR_UPSTREAM_SCHEME) {
        /* lava_upstream_tls: "http" only for a local mock provider */
        lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);

        if (lmcf->upstream_tls) {
            ngx_http_lava_var_str(v, (u_char *) "https", 5);
        } else {
            ngx_http_lava_var_str(v, (u_char *) "http", 4);
        }

        return NGX_OK;
    }

    if (data == NGX_HTTP_LAVA_VAR_EVENTS_DROPPED) {
        /* a worker's count, in any request */
        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_http_lava_var_str(v, p, ngx_sprintf(p, "%ui",
                                  ngx_http_lava_events_dropped()) - p);
        return NGX_OK;
    }

    ctx = ngx_http_lava_get_ctx(r->main);
    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_LAVA_VAR_REQUEST_ID:
        ngx_http_lava_var_str(v, ctx->request_id, NGX_HTTP_LAVA_REQID_LEN);
        break;

    case NGX_HTTP_LAVA_VAR_UPSTREAM:
        ngx_http_lava_var_str(v, ctx->upstream.data, ctx->upstream.len);
        break;

    case NGX_HTTP_LAVA_VAR_HOST:
        ngx_http_lava_var_str(v, ctx->host.data, ctx->host.len);
        break;

    case NGX_HTTP_LAVA_VAR_URI:
        ngx_http_lava_var_str(v, ctx->uri.data, ctx->uri.len);
        break;

    case NGX_HTTP_LAVA_VAR_PROVIDER:
        if (ctx->provider) {
            ngx_http_lava_var_str(v, ctx->provider->name.data,
                                  ctx->provider->name.len);
        } else {
            v->not_found = 1;
        }
        break;

    case NGX_HTTP_LAVA_VAR_MERCHANT:
        ngx_http_lava_var_str(v, ctx->merchant_id.data, ctx->merchant_id.len);
        break;

    case NGX_HTTP_LAVA_VAR_CUSTOMER:
        ngx_http_lava_var_str(v, ctx->customer_id.data, ctx->customer_id.len);
        break;

    case NGX_HTTP_LAVA_VAR_SPEND_KEY:
        ngx_http_lava_var_str(v, ctx->spend_key_id.data,
                              ctx->spend_key_id.len);
        break;

    case NGX_HTTP_LAVA_VAR_MODEL:
        if (ctx->tap && ctx->tap->usage.model[0]) {
            /* a provider key the answer echoed is never logged */
            (void) ngx_http_lava_keymask_event(ctx, &ctx->tap->usage);

            p = (u_char *) ctx->tap->usage.model;
            ngx_http_lava_var_str(v, p, ngx_strlen(p));
        } else {
            ngx_http_lava_var_str(v, ctx->model.data, ctx->model.len);
        }
        break;

    case NGX_HTTP_LAVA_VAR_OUTCOME:
        p = (u_char *) ngx_http_lava_outcome(r->main, ctx);
        ngx_http_lava_var_str(v, p, ngx_strlen(p));
        break;

    case NGX_HTTP_LAVA_VAR_ERROR:
        p = (u_char *) ctx->error;
        ngx_http_lava_var_str(v, p, p ? ngx_strlen(p) : 0);
        break;

    case NGX_HTTP_LAVA_VAR_INPUT_TOKENS:
    case NGX_HTTP_LAVA_VAR_OUTPUT_TOKENS:
        /* log phase: the usage booked, reported or estimated */
        ngx_http_lava_meter(r->main, ctx);

        if (ctx->tap == NULL || ctx->usage_source == LAVA_SOURCE_NONE) {
            v->not_found = 1;
            break;
        }

        n = (data == NGX_HTTP_LAVA_VAR_INPUT_TOKENS)
            ? ctx->tap->usage.input_tokens + ctx->tap->usage.cached_input_tokens
              + ctx->tap->usage.cache_write_tokens
              + ctx->tap->usage.cache_write_1h_tokens
              + ctx->tap->usage.audio_input_tokens
            : ctx->tap->usage.output_tokens + ctx->tap->usage.reasoning_tokens
              + ctx->tap->usage.audio_output_tokens;

        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_http_lava_var_str(v, p, ngx_sprintf(p, "%L", n) - p);
        break;

    case NGX_HTTP_LAVA_VAR_USAGE_SOURCE:
        p = (u_char *) ngx_http_lava_usage_source(r->main, ctx);
        ngx_http_lava_var_str(v, p, ngx_strlen(p));
        break;

    default:
        v->not_found = 1;
    }

    return NGX_OK;
}


/* preconfiguration */
ngx_int_t
ngx_http_lava_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_lava_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}
