/*
 * The forward token on the request path: lava_token_decode() (base64, JSON,
 * field checks) and the SHA-256 of its secret key, behind a small per-worker
 * cache keyed by the token's exact bytes.
 *
 * Clients send the same token on every request, so decoding it again each
 * time is wasted work (a JSON parse with allocations and a digest). The cache
 * keeps only the decode: whether the key, the merchant, the customer and the
 * meter are valid is still checked against the current auth snapshot on
 * every request (ngx_http_lava_auth_check), so disabling or blocking takes
 * effect exactly as without the cache.
 */

#ifndef NGX_HTTP_LAVA_TOKEN_H
#define NGX_HTTP_LAVA_TOKEN_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "lava_token.h"


#define NGX_HTTP_LAVA_SECRET_HASH_LEN  32          /* SHA-256 */


/*
 * Decodes the token into *tk, whose strings are a copy in r->pool, and puts
 * the SHA-256 of tk->secret_key in secret_hash. Returns a LAVA_TOKEN_* code;
 * NGX_ERROR when memory or the digest failed.
 */
ngx_int_t ngx_http_lava_token_get(ngx_http_request_t *r, ngx_str_t *token,
    lava_token_t *tk, u_char *secret_hash);

#endif /* NGX_HTTP_LAVA_TOKEN_H */
