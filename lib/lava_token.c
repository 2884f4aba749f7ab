/*
 * Forward token decoding (see lava_token.h).
 *
 * The token is untrusted and carries a secret: nothing here logs or echoes
 * any of it, and error strings name only what was wrong.
 */

#include <string.h>

#include <jansson.h>

#include "lava_token.h"
#include "lava_json.h"


#define LAVA_TOKEN_BARE_MIN  16


static int
lava_token_b64(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    switch (c) {
    case '+':
    case '-':
        return 62;
    case '/':
    case '_':
        return 63;
    default:
        return -1;
    }
}


/*
 * Standard or URL-safe base64 (one alphabet per token), padded or not.
 * Returns the decoded length, or -1.
 */
static long
lava_token_base64(const char *s, size_t len, char *out)
{
    int            v, std, url;
    size_t         i, n, pad;
    unsigned long  acc;

    pad = 0;

    while (pad < len && pad < 2 && s[len - 1 - pad] == '=') {
        pad++;
    }

    if (pad && len % 4 != 0) {
        return -1;
    }

    len -= pad;

    if (len % 4 == 1) {
        return -1;
    }

    std = url = 0;
    acc = 0;
    n = 0;

    for (i = 0; i < len; i++) {
        v = lava_token_b64((unsigned char) s[i]);
        if (v < 0) {
            return -1;
        }

        std |= (s[i] == '+' || s[i] == '/');
        url |= (s[i] == '-' || s[i] == '_');

        acc = (acc << 6) | (unsigned long) v;

        if (i % 4 == 3) {
            out[n++] = (char) (acc >> 16);
            out[n++] = (char) (acc >> 8);
            out[n++] = (char) acc;
            acc = 0;
        }
    }

    if (std && url) {
        return -1;
    }

    switch (len % 4) {
    case 2:
        out[n++] = (char) (acc >> 4);
        break;
    case 3:
        out[n++] = (char) (acc >> 10);
        out[n++] = (char) (acc >> 2);
        break;
    default:
        break;
    }

    return (long) n;
}


static int
lava_token_is_secret_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '_' || c == '-';
}


static int
lava_token_is_bare(const char *s, size_t len)
{
    size_t  i;

    if (len < LAVA_TOKEN_BARE_MIN || len > LAVA_TOKEN_SECRET_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!lava_token_is_secret_char((unsigned char) s[i])) {
            return 0;
        }
    }

    return 1;
}


typedef int (*lava_token_charset_pt)(unsigned char c);


/*
 * Copies the string member `key` into out (NUL-terminated). Absent, null or
 * "" leave *v NULL. LAVA_TOKEN_BAD_FIELD on any other type, on an overlong
 * value or a character outside the set.
 */
static int
lava_token_field(json_t *root, const char *key, size_t max,
    lava_token_charset_pt ok, char **out, const char **v, size_t *vlen)
{
    size_t       i, n;
    json_t      *j;
    const char  *s;

    *v = NULL;
    *vlen = 0;

    j = json_object_get(root, key);
    if (j == NULL || json_is_null(j)) {
        return LAVA_TOKEN_OK;
    }

    if (!json_is_string(j)) {
        return LAVA_TOKEN_BAD_FIELD;
    }

    s = json_string_value(j);
    n = json_string_length(j);

    if (n == 0) {
        return LAVA_TOKEN_OK;
    }

    if (n > max) {
        return LAVA_TOKEN_BAD_FIELD;
    }

    for (i = 0; i < n; i++) {
        if (!ok((unsigned char) s[i])) {
            return LAVA_TOKEN_BAD_FIELD;
        }
    }

    /* the JSON text held the value with its quotes, so it fits where the
     * text was */
    memcpy(*out, s, n);
    (*out)[n] = '\0';
    *v = *out;
    *vlen = n;
    *out += n + 1;

    return LAVA_TOKEN_OK;
}


static int
lava_token_is_pkey_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}


/* root: the parsed token, released here */
static int
lava_token_json(json_t *root, char *buf, lava_token_t *t)
{
    int      rc;
    char    *out;
    json_t  *j;

    if (!json_is_object(root)) {
        json_decref(root);
        return LAVA_TOKEN_BAD_JSON;
    }

    /* jansson holds its own copies: the decoded text can be overwritten */
    out = buf;

    rc = lava_token_field(root, "secret_key", LAVA_TOKEN_SECRET_MAX,
                          lava_token_is_secret_char, &out, &t->secret_key,
                          &t->secret_key_len);
    if (rc == LAVA_TOKEN_OK) {
        rc = lava_token_field(root, "customer_id", LAVA_TOKEN_ID_MAX,
                              lava_id_char, &out, &t->customer_id,
                              &t->customer_id_len);
    }

    if (rc == LAVA_TOKEN_OK) {
        rc = lava_token_field(root, "meter_slug", LAVA_TOKEN_ID_MAX,
                              lava_id_char, &out, &t->meter_slug,
                              &t->meter_slug_len);
    }

    if (rc == LAVA_TOKEN_OK) {
        rc = lava_token_field(root, "provider_key", LAVA_TOKEN_PKEY_MAX,
                              lava_token_is_pkey_char, &out, &t->provider_key,
                              &t->provider_key_len);
    }

    if (rc == LAVA_TOKEN_OK) {
        j = json_object_get(root, "disable_billing");

        if (j && !json_is_null(j)) {
            if (!json_is_boolean(j)) {
                rc = LAVA_TOKEN_BAD_FIELD;

            } else {
                t->disable_billing = json_is_true(j);
            }
        }
    }

    json_decref(root);

    if (rc == LAVA_TOKEN_OK && t->secret_key == NULL) {
        rc = LAVA_TOKEN_NO_SECRET;
    }

    if (rc != LAVA_TOKEN_OK) {
        /* leave nothing of a rejected token behind */
        memset(t, 0, sizeof(lava_token_t));
    }

    return rc;
}


int
lava_token_decode(const char *s, size_t len, char *buf, size_t size,
    lava_token_t *t)
{
    long     n;
    size_t   i;
    json_t  *root;

    memset(t, 0, sizeof(lava_token_t));

    if (len == 0) {
        return LAVA_TOKEN_EMPTY;
    }

    if (len > LAVA_TOKEN_MAX) {
        return LAVA_TOKEN_TOO_LONG;
    }

    if (size < len) {
        /* the contract: buf holds at least len bytes */
        return LAVA_TOKEN_TOO_LONG;
    }

    n = lava_token_base64(s, len, buf);

    if (n > 0) {
        for (i = 0; i < (size_t) n; i++) {
            if (!lava_json_is_ws(buf[i])) {
                break;
            }
        }

        if (i < (size_t) n && buf[i] == '{') {
            /*
             * Looks like a JSON object. A bare key may happen to decode to
             * a '{' too ("ey..."-like keys): when the JSON is not valid, a
             * string that fits the bare key syntax is taken as one.
             */
            /* jansson stops at a NUL: whatever follows would go unread */
            root = memchr(buf, '\0', (size_t) n)
                   ? NULL
                   : json_loadb(buf, (size_t) n, JSON_REJECT_DUPLICATES, NULL);

            if (root == NULL) {
                if (lava_token_is_bare(s, len)) {
                    goto bare;
                }

                return LAVA_TOKEN_BAD_JSON;
            }

            return lava_token_json(root, buf, t);
        }
    }

    if (lava_token_is_bare(s, len)) {
        goto bare;
    }

    return n > 0 ? LAVA_TOKEN_BAD_JSON : LAVA_TOKEN_BAD_BASE64;

bare:

    memcpy(buf, s, len);
    if (size > len) {
        buf[len] = '\0';
    }

    t->secret_key = buf;
    t->secret_key_len = len;
    t->bare = 1;

    return LAVA_TOKEN_OK;
}


const char *
lava_token_strerror(int rc)
{
    switch (rc) {
    case LAVA_TOKEN_OK:
        return "ok";
    case LAVA_TOKEN_EMPTY:
        return "the forward token is empty";
    case LAVA_TOKEN_TOO_LONG:
        return "the forward token is too long";
    case LAVA_TOKEN_BAD_BASE64:
        return "the forward token is neither base64 nor a secret key";
    case LAVA_TOKEN_BAD_JSON:
        return "the forward token does not decode to a JSON object";
    case LAVA_TOKEN_BAD_FIELD:
        return "a field of the forward token has a wrong type, length or "
               "character";
    case LAVA_TOKEN_NO_SECRET:
        return "the forward token has no secret_key";
    default:
        return "the forward token is invalid";
    }
}


int
lava_token_restricted(const lava_token_t *t)
{
    if (t->disable_billing) {
        return LAVA_TOKEN_RESTRICTED_BILLING;
    }

    if (t->bare || t->customer_id_len == 0 || t->meter_slug_len == 0) {
        return LAVA_TOKEN_RESTRICTED_CUSTOMER;
    }

    return LAVA_TOKEN_RESTRICTED_OK;
}
