/*
 * Forward token decoding (lib/lava_token.c): the bytes of an
 * Authorization/x-api-key/... header value or ?key=, as a client sent them.
 * The output buffer is exactly as large as the input (what the module
 * allocates plus its NUL, and once without it): any write past it is caught
 * by the sanitizer. On success every decoded field must keep to the
 * character set and length the header documents, since the module puts
 * them into headers, events and log lines.
 */
#include <string.h>

#include "fuzz.h"
#include "lava_id.h"
#include "lava_token.h"

static int
secret_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '_' || c == '-';
}

static void
field(const char *p, size_t n, size_t max, int (*ok)(unsigned char),
    const char *buf, size_t size, const char *what)
{
    size_t  i;

    if (n == 0) {
        return;
    }
    FUZZ_CHECK(p != NULL, what);
    FUZZ_CHECK(p >= buf && p + n <= buf + size, what);
    FUZZ_CHECK(n <= max, what);
    for (i = 0; i < n; i++) {
        FUZZ_CHECK(ok((unsigned char) p[i]), what);
    }
}

static int
pkey_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

static void
decode(const uint8_t *data, size_t size, size_t bufsize)
{
    lava_token_t  t;
    char         *buf;
    int           rc;

    buf = malloc(bufsize ? bufsize : 1);
    FUZZ_CHECK(buf != NULL, "malloc");
    memset(&t, 0, sizeof(t));

    rc = lava_token_decode((const char *) data, size, buf, bufsize, &t);
    FUZZ_CHECK(lava_token_strerror(rc) != NULL, "strerror");

    if (rc == LAVA_TOKEN_OK) {
        FUZZ_CHECK(t.secret_key_len > 0, "no secret key");
        field(t.secret_key, t.secret_key_len, LAVA_TOKEN_SECRET_MAX, secret_char,
              buf, bufsize, "secret_key");
        field(t.customer_id, t.customer_id_len, LAVA_TOKEN_ID_MAX, lava_id_char,
              buf, bufsize, "customer_id");
        field(t.meter_slug, t.meter_slug_len, LAVA_TOKEN_ID_MAX, lava_id_char,
              buf, bufsize, "meter_slug");
        field(t.provider_key, t.provider_key_len, LAVA_TOKEN_PKEY_MAX, pkey_char,
              buf, bufsize, "provider_key");
        FUZZ_CHECK(t.disable_billing == 0 || t.disable_billing == 1, "disable_billing");
        FUZZ_CHECK(!t.bare || (t.customer_id_len == 0 && t.provider_key_len == 0),
                   "bare key with fields");
    }

    free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode(data, size, size + 1);       /* as the module calls it */
    decode(data, size, size);           /* the documented minimum */
    return 0;
}
