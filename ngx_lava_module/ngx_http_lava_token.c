/*
 * Per-worker cache of decoded forward tokens (see ngx_http_lava_token.h).
 *
 * Direct-mapped: a token goes to one slot chosen by a hash of its bytes and
 * replaces what was there. Only tokens that decoded without error and are at
 * most NGX_HTTP_LAVA_TOKEN_CACHE_LEN bytes long are kept, so the cache holds
 * at most SLOTS x (2 x LEN + a few) bytes per worker (~256 KiB). The slots
 * are malloc()ed, owned by this worker, and zeroed before they are freed:
 * they hold secret keys.
 */

#include <openssl/evp.h>

#include "ngx_http_lava_module.h"
#include "ngx_http_lava_token.h"


#define NGX_HTTP_LAVA_TOKEN_CACHE_SLOTS  256       /* a power of two */
#define NGX_HTTP_LAVA_TOKEN_CACHE_LEN    512       /* longest token kept */


typedef struct {
    u_char         *token;      /* len bytes, then the decoded buf (len + 1) */
    size_t          len;        /* 0: empty slot */
    lava_token_t    tk;         /* strings point into the decoded buf */
    u_char          hash[NGX_HTTP_LAVA_SECRET_HASH_LEN];
} ngx_http_lava_token_slot_t;


static ngx_http_lava_token_slot_t
    ngx_http_lava_token_cache[NGX_HTTP_LAVA_TOKEN_CACHE_SLOTS];


/* moves a string pointer of a lava_token_t from the buffer at from to the
 * copy of that buffer at to */
static void
ngx_http_lava_token_move(const char **p, const u_char *from, u_char *to)
{
    if (*p) {
        *p = (const char *) to + ((const u_char *) *p - from);
    }
}


static void
ngx_http_lava_token_rebase(lava_token_t *tk, const u_char *from, u_char *to)
{
    ngx_http_lava_token_move(&tk->secret_key, from, to);
    ngx_http_lava_token_move(&tk->customer_id, from, to);
    ngx_http_lava_token_move(&tk->meter_slug, from, to);
    ngx_http_lava_token_move(&tk->provider_key, from, to);
}


static void
ngx_http_lava_token_store(ngx_http_lava_token_slot_t *slot, ngx_str_t *token,
    lava_token_t *tk, u_char *buf, u_char *hash, ngx_log_t *log)
{
    u_char  *p;

    if (slot->len) {
        ngx_explicit_memzero(slot->token, 2 * slot->len + 1);
        ngx_free(slot->token);
        slot->len = 0;
    }

    /* not cached when memory is short: the request goes on decoded */
    p = ngx_alloc(2 * token->len + 1, log);
    if (p == NULL) {
        return;
    }

    ngx_memcpy(p, token->data, token->len);
    ngx_memcpy(p + token->len, buf, token->len + 1);

    slot->token = p;
    slot->len = token->len;
    slot->tk = *tk;
    ngx_http_lava_token_rebase(&slot->tk, buf, p + token->len);
    ngx_memcpy(slot->hash, hash, NGX_HTTP_LAVA_SECRET_HASH_LEN);
}


ngx_int_t
ngx_http_lava_token_get(ngx_http_request_t *r, ngx_str_t *token,
    lava_token_t *tk, u_char *secret_hash)
{
    int                          rc;
    u_char                      *buf;
    unsigned int                 mdlen;
    ngx_uint_t                   key;
    ngx_http_lava_token_slot_t  *slot;

    /* lava_token_decode() wants len + 1 bytes of room */
    buf = ngx_pnalloc(r->pool, token->len + 1);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    key = ngx_hash_key(token->data, token->len);
    slot = &ngx_http_lava_token_cache[key & (NGX_HTTP_LAVA_TOKEN_CACHE_SLOTS - 1)];

    if (slot->len == token->len && slot->len
        && ngx_memcmp(slot->token, token->data, token->len) == 0)
    {
        ngx_memcpy(buf, slot->token + slot->len, slot->len + 1);
        *tk = slot->tk;
        ngx_http_lava_token_rebase(tk, slot->token + slot->len, buf);
        ngx_memcpy(secret_hash, slot->hash, NGX_HTTP_LAVA_SECRET_HASH_LEN);
        ngx_http_lava_status_token(1);
        return LAVA_TOKEN_OK;
    }

    ngx_http_lava_status_token(0);

    rc = lava_token_decode((char *) token->data, token->len, (char *) buf,
                           token->len + 1, tk);
    if (rc != LAVA_TOKEN_OK) {
        return rc;
    }

    if (EVP_Digest(tk->secret_key, tk->secret_key_len, secret_hash, &mdlen,
                   EVP_sha256(), NULL)
        != 1
        || mdlen != NGX_HTTP_LAVA_SECRET_HASH_LEN)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "lava token: sha-256 of the secret key failed");
        return NGX_ERROR;
    }

    if (token->len <= NGX_HTTP_LAVA_TOKEN_CACHE_LEN) {
        ngx_http_lava_token_store(slot, token, tk, buf, secret_hash,
                                  r->connection->log);
    }

    return LAVA_TOKEN_OK;
}
