/*
 * Forward token decoding. A token is either the standard base64 of a JSON
 * object {"secret_key","customer_id","meter_slug","provider_key",
 * "disable_billing"} (any field may be absent) or a bare merchant secret key.
 * No I/O, explicit limits; the output points into a caller-owned buffer.
 */
#ifndef LAVA_TOKEN_H
#define LAVA_TOKEN_H

#include <stddef.h>

#include "lava_id.h"

#define LAVA_TOKEN_MAX        8192   /* encoded token bytes */
#define LAVA_TOKEN_ID_MAX       LAVA_ID_MAX  /* customer_id, meter_slug */
#define LAVA_TOKEN_SECRET_MAX  128
#define LAVA_TOKEN_PKEY_MAX   1024   /* provider_key */

enum {
    LAVA_TOKEN_OK = 0,
    LAVA_TOKEN_EMPTY,          /* no token at all */
    LAVA_TOKEN_TOO_LONG,
    LAVA_TOKEN_BAD_BASE64,     /* not base64 and not a bare key */
    LAVA_TOKEN_BAD_JSON,       /* base64 of something not a JSON object */
    LAVA_TOKEN_BAD_FIELD,      /* wrong type, too long, bad characters */
    LAVA_TOKEN_NO_SECRET       /* JSON without secret_key */
};

typedef struct {
    const char *secret_key;     size_t secret_key_len;
    const char *customer_id;    size_t customer_id_len;    /* 0: absent */
    const char *meter_slug;     size_t meter_slug_len;     /* 0: absent */
    const char *provider_key;   size_t provider_key_len;   /* 0: absent */
    int         disable_billing;
    int         bare;           /* the token was a bare secret key */
} lava_token_t;

/*
 * buf must hold at least len bytes; decoded strings are copied there
 * (NUL-terminated, except a bare key when size == len).
 * Ids and slugs must match [A-Za-z0-9_.:-]; secret keys [A-Za-z0-9_-];
 * provider keys are printable ASCII without spaces.
 */
int lava_token_decode(const char *s, size_t len, char *buf, size_t size,
    lava_token_t *t);
const char *lava_token_strerror(int rc);

/*
 * What a token built from a restricted secret key may not ask (the key is
 * for customer billing only; docs/security.md, class 11): the merchant as
 * payer (disable_billing, or no customer_id: a bare key included) or no
 * merchant fee (no meter_slug).
 */
enum {
    LAVA_TOKEN_RESTRICTED_OK = 0,
    LAVA_TOKEN_RESTRICTED_BILLING,     /* disable_billing set */
    LAVA_TOKEN_RESTRICTED_CUSTOMER     /* no customer_id or no meter_slug */
};

int lava_token_restricted(const lava_token_t *t);

#endif
