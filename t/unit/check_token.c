/*
 * Forward token decoding: the Lava-compatible base64 JSON token in its
 * encodings, the bare secret key, and forged, truncated, oversized and
 * wrongly typed tokens.
 */

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "lava_token.h"


static const char  SECRET[] = "aks_live_7Hq2Zp9LmW4xR8vT1nB6cY3d";


/* base64 of s; url: URL-safe alphabet; pad: with '=' */
static char *
b64(const char *s, size_t n, int url, int pad)
{
    char        *out, *o;
    size_t       i;
    uint32_t     v;
    const char  *a;

    a = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    out = o = malloc(4 * (n / 3 + 1) + 1);

    for (i = 0; i + 2 < n; i += 3) {
        v = ((uint32_t) (unsigned char) s[i] << 16)
            | ((uint32_t) (unsigned char) s[i + 1] << 8)
            | (unsigned char) s[i + 2];
        *o++ = a[v >> 18];
        *o++ = a[(v >> 12) & 63];
        *o++ = a[(v >> 6) & 63];
        *o++ = a[v & 63];
    }

    if (n - i == 1) {
        v = (uint32_t) (unsigned char) s[i] << 16;
        *o++ = a[v >> 18];
        *o++ = a[(v >> 12) & 63];
        if (pad) {
            *o++ = '=';
            *o++ = '=';
        }

    } else if (n - i == 2) {
        v = ((uint32_t) (unsigned char) s[i] << 16)
            | ((uint32_t) (unsigned char) s[i + 1] << 8);
        *o++ = a[v >> 18];
        *o++ = a[(v >> 12) & 63];
        *o++ = a[(v >> 6) & 63];
        if (pad) {
            *o++ = '=';
        }
    }

    *o = '\0';

    return out;
}


/* decodes a token with a buffer of exactly len bytes (the contract) */
static int
decode(const char *tok, lava_token_t *t, char **buf)
{
    size_t  len = strlen(tok);

    *buf = malloc(len ? len : 1);
    return lava_token_decode(tok, len, *buf, len, t);
}


/*
 * base64 (standard, padded) of a JSON text, decoded. Trailing spaces make
 * the length 1 mod 3, so the token ends in "==" and can never pass for a
 * bare key: the result code is the JSON's own.
 */
static int
decode_json(const char *json, lava_token_t *t, char **buf)
{
    int     rc;
    char   *tok, *padded;
    size_t  n;

    n = strlen(json);
    padded = malloc(n + 3);
    memcpy(padded, json, n);

    while (n % 3 != 1) {
        padded[n++] = ' ';
    }

    tok = b64(padded, n, 0, 1);
    ck_assert(tok[strlen(tok) - 1] == '=' && tok[strlen(tok) - 2] == '=');
    rc = decode(tok, t, buf);
    free(tok);
    free(padded);

    return rc;
}


static void
assert_field(const char *p, size_t len, const char *want)
{
    if (want == NULL) {
        ck_assert_ptr_null(p);
        ck_assert_uint_eq(len, 0);
        return;
    }

    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert(memcmp(p, want, len) == 0);
}


START_TEST(test_full_token_all_encodings)
{
    int           url, pad;
    char         *tok, *buf;
    lava_token_t  t;
    const char   *json =
        "{\"secret_key\":\"aks_live_7Hq2Zp9LmW4xR8vT1nB6cY3d\","
        "\"customer_id\":\"cus_01JDZ8X4\",\"meter_slug\":\"chat-tokens.v2\","
        "\"provider_key\":\"sk-proj-Ab+/=x~\",\"disable_billing\":false}";

    for (url = 0; url < 2; url++) {
        for (pad = 0; pad < 2; pad++) {
            tok = b64(json, strlen(json), url, pad);
            ck_assert_int_eq(decode(tok, &t, &buf), LAVA_TOKEN_OK);

            assert_field(t.secret_key, t.secret_key_len, SECRET);
            assert_field(t.customer_id, t.customer_id_len, "cus_01JDZ8X4");
            assert_field(t.meter_slug, t.meter_slug_len, "chat-tokens.v2");
            assert_field(t.provider_key, t.provider_key_len,
                         "sk-proj-Ab+/=x~");
            ck_assert_int_eq(t.disable_billing, 0);
            ck_assert_int_eq(t.bare, 0);

            /* fields of a JSON token are NUL-terminated */
            ck_assert_int_eq(t.secret_key[t.secret_key_len], '\0');
            ck_assert_int_eq(t.customer_id[t.customer_id_len], '\0');
            ck_assert_int_eq(t.meter_slug[t.meter_slug_len], '\0');
            ck_assert_int_eq(t.provider_key[t.provider_key_len], '\0');

            /* the output lives in the caller's buffer */
            ck_assert(t.secret_key >= buf
                      && t.secret_key + t.secret_key_len < buf + strlen(tok));
            ck_assert(t.provider_key >= buf
                      && t.provider_key + t.provider_key_len
                         < buf + strlen(tok));

            free(tok);
            free(buf);
        }
    }
}
END_TEST


START_TEST(test_minimal_and_optional)
{
    char         *buf;
    lava_token_t  t;

    ck_assert_int_eq(decode_json("{\"secret_key\":\"aks_live_x\"}", &t, &buf),
                     LAVA_TOKEN_OK);
    assert_field(t.secret_key, t.secret_key_len, "aks_live_x");
    assert_field(t.customer_id, t.customer_id_len, NULL);
    assert_field(t.meter_slug, t.meter_slug_len, NULL);
    assert_field(t.provider_key, t.provider_key_len, NULL);
    ck_assert_int_eq(t.disable_billing, 0);
    free(buf);

    /* null and "" mean absent; unknown fields are ignored; whitespace */
    ck_assert_int_eq(decode_json(" { \"secret_key\" : \"k1\", \"customer_id\""
                                 ":null,\"meter_slug\":\"\",\"provider_key\":"
                                 "null,\"disable_billing\":null,\"future\":"
                                 "{\"x\":[1,2]} }\n", &t, &buf),
                     LAVA_TOKEN_OK);
    assert_field(t.customer_id, t.customer_id_len, NULL);
    assert_field(t.meter_slug, t.meter_slug_len, NULL);
    free(buf);

    ck_assert_int_eq(decode_json("{\"secret_key\":\"k1\",\"disable_billing\""
                                 ":true}", &t, &buf), LAVA_TOKEN_OK);
    ck_assert_int_eq(t.disable_billing, 1);
    free(buf);

    /* JSON escapes are decoded before the character checks */
    ck_assert_int_eq(decode_json("{\"secret_key\":\"k\\u0031\",\"customer_id\""
                                 ":\"a\\u002eb\"}", &t, &buf), LAVA_TOKEN_OK);
    assert_field(t.secret_key, t.secret_key_len, "k1");
    assert_field(t.customer_id, t.customer_id_len, "a.b");
    free(buf);
}
END_TEST


START_TEST(test_bare_key)
{
    char         *buf;
    lava_token_t  t;

    ck_assert_int_eq(decode(SECRET, &t, &buf), LAVA_TOKEN_OK);
    ck_assert_int_eq(t.bare, 1);
    assert_field(t.secret_key, t.secret_key_len, SECRET);
    assert_field(t.customer_id, t.customer_id_len, NULL);
    free(buf);

    /* 16 and 128 characters are keys, 15 and 129 are not */
    ck_assert_int_eq(decode("abcdefghijklmnop", &t, &buf), LAVA_TOKEN_OK);
    ck_assert_int_eq(t.bare, 1);
    free(buf);

    ck_assert_int_ne(decode("abcdefghijklmno", &t, &buf), LAVA_TOKEN_OK);
    free(buf);

    {
        char  k[200];

        memset(k, 'k', 128);
        k[128] = '\0';
        ck_assert_int_eq(decode(k, &t, &buf), LAVA_TOKEN_OK);
        ck_assert_int_eq(t.bare, 1);
        free(buf);

        memset(k, 'k', 129);
        k[129] = '\0';
        ck_assert_int_ne(decode(k, &t, &buf), LAVA_TOKEN_OK);
        free(buf);

        memset(k, '_', 20);
        k[20] = '\0';
        ck_assert_int_eq(decode(k, &t, &buf), LAVA_TOKEN_OK);
        free(buf);
    }

    /* a key that happens to decode to '{' followed by garbage is a key */
    ck_assert_int_eq(decode("eyJhbGciOiJIUzI1NiJ9abc", &t, &buf),
                     LAVA_TOKEN_OK);
    ck_assert_int_eq(t.bare, 1);
    free(buf);

    /* characters a bare key never has */
    ck_assert_int_eq(decode("aks_live_7Hq2Zp9L.mW4", &t, &buf),
                     LAVA_TOKEN_BAD_BASE64);
    free(buf);
    ck_assert_int_eq(decode("aks live 7Hq2Zp9LmW4", &t, &buf),
                     LAVA_TOKEN_BAD_BASE64);
    free(buf);
    ck_assert_int_eq(decode("aks_live_7Hq2Zp9LmW4\n", &t, &buf),
                     LAVA_TOKEN_BAD_BASE64);
    free(buf);
}
END_TEST


/* a restricted key's token: a customer through a meter, nothing else */
START_TEST(test_restricted)
{
    char         *buf;
    size_t        i;
    lava_token_t  t;

    static const struct {
        const char  *json;
        int          want;
    } cases[] = {
        { "{\"secret_key\":\"k1\",\"customer_id\":\"c\",\"meter_slug\":\"m\"}",
          LAVA_TOKEN_RESTRICTED_OK },
        { "{\"secret_key\":\"k1\",\"customer_id\":\"c\",\"meter_slug\":\"m\","
          "\"provider_key\":\"pk\",\"disable_billing\":false}",
          LAVA_TOKEN_RESTRICTED_OK },
        { "{\"secret_key\":\"k1\",\"customer_id\":\"c\",\"meter_slug\":\"m\","
          "\"disable_billing\":true}", LAVA_TOKEN_RESTRICTED_BILLING },
        { "{\"secret_key\":\"k1\",\"disable_billing\":true}",
          LAVA_TOKEN_RESTRICTED_BILLING },
        { "{\"secret_key\":\"k1\"}", LAVA_TOKEN_RESTRICTED_CUSTOMER },
        { "{\"secret_key\":\"k1\",\"meter_slug\":\"m\"}",
          LAVA_TOKEN_RESTRICTED_CUSTOMER },
        { "{\"secret_key\":\"k1\",\"customer_id\":\"c\"}",
          LAVA_TOKEN_RESTRICTED_CUSTOMER },
        { "{\"secret_key\":\"k1\",\"customer_id\":null,\"meter_slug\":\"m\"}",
          LAVA_TOKEN_RESTRICTED_CUSTOMER },
        { "{\"secret_key\":\"k1\",\"customer_id\":\"c\",\"meter_slug\":\"\"}",
          LAVA_TOKEN_RESTRICTED_CUSTOMER },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(decode_json(cases[i].json, &t, &buf), LAVA_TOKEN_OK);
        ck_assert_msg(lava_token_restricted(&t) == cases[i].want,
                      "case %zu: %d", i, lava_token_restricted(&t));
        free(buf);
    }

    /* a bare key: the merchant would pay */
    ck_assert_int_eq(decode(SECRET, &t, &buf), LAVA_TOKEN_OK);
    ck_assert_int_eq(lava_token_restricted(&t),
                     LAVA_TOKEN_RESTRICTED_CUSTOMER);
    free(buf);
}
END_TEST



START_TEST(test_empty_and_too_long)
{
    char          *big, buf[8];
    lava_token_t   t;

    ck_assert_int_eq(lava_token_decode("", 0, buf, sizeof(buf), &t),
                     LAVA_TOKEN_EMPTY);

    big = malloc(LAVA_TOKEN_MAX + 2);
    memset(big, 'A', LAVA_TOKEN_MAX + 1);
    ck_assert_int_eq(lava_token_decode(big, LAVA_TOKEN_MAX + 1, big,
                                       LAVA_TOKEN_MAX + 2, &t),
                     LAVA_TOKEN_TOO_LONG);
    free(big);

    /* a buffer smaller than the token is refused, not overrun */
    ck_assert_int_eq(lava_token_decode(SECRET, strlen(SECRET), buf,
                                       sizeof(buf), &t),
                     LAVA_TOKEN_TOO_LONG);
}
END_TEST


START_TEST(test_wrong_types_and_limits)
{
    int           i;
    char         *buf, json[4096], longv[2048];
    lava_token_t  t;

    static const char  *bad[] = {
        "{\"secret_key\":12345678901234567}",
        "{\"secret_key\":[\"k\"]}",
        "{\"secret_key\":{\"k\":1}}",
        "{\"secret_key\":true}",
        "{\"secret_key\":\"k\",\"customer_id\":42}",
        "{\"secret_key\":\"k\",\"meter_slug\":false}",
        "{\"secret_key\":\"k\",\"provider_key\":[]}",
        "{\"secret_key\":\"k\",\"disable_billing\":\"true\"}",
        "{\"secret_key\":\"k\",\"disable_billing\":1}",
        "{\"secret_key\":\"k\",\"disable_billing\":\"false\"}",
        /* characters */
        "{\"secret_key\":\"k.1\"}",
        "{\"secret_key\":\"k 1\"}",
        "{\"secret_key\":\"k\\n\"}",
        "{\"secret_key\":\"k\",\"customer_id\":\"a/b\"}",
        "{\"secret_key\":\"k\",\"customer_id\":\"a b\"}",
        "{\"secret_key\":\"k\",\"customer_id\":\"caf\\u00e9\"}",
        "{\"secret_key\":\"k\",\"meter_slug\":\"m\\r\\nX-Evil: 1\"}",
        "{\"secret_key\":\"k\",\"meter_slug\":\"m'--\"}",
        "{\"secret_key\":\"k\",\"provider_key\":\"sk abc\"}",
        "{\"secret_key\":\"k\",\"provider_key\":\"sk\\r\\nHost: x\"}",
        "{\"secret_key\":\"k\",\"provider_key\":\"sk\\u007f\"}",
        NULL
    };

    for (i = 0; bad[i]; i++) {
        ck_assert_msg(decode_json(bad[i], &t, &buf) == LAVA_TOKEN_BAD_FIELD,
                      "accepted %s", bad[i]);
        /* nothing of a refused token is handed out */
        ck_assert_ptr_null(t.secret_key);
        ck_assert_ptr_null(t.provider_key);
        free(buf);
    }

    /* jansson refuses \u0000 itself */
    ck_assert_int_eq(decode_json("{\"secret_key\":\"k\\u0000\"}", &t, &buf),
                     LAVA_TOKEN_BAD_JSON);
    free(buf);

    /* lengths: at the limit accepted, one more refused */
    memset(longv, 'a', sizeof(longv));

    snprintf(json, sizeof(json), "{\"secret_key\":\"%.*s\"}",
             LAVA_TOKEN_SECRET_MAX, longv);
    ck_assert_int_eq(decode_json(json, &t, &buf), LAVA_TOKEN_OK);
    free(buf);
    snprintf(json, sizeof(json), "{\"secret_key\":\"%.*s\"}",
             LAVA_TOKEN_SECRET_MAX + 1, longv);
    ck_assert_int_eq(decode_json(json, &t, &buf), LAVA_TOKEN_BAD_FIELD);
    free(buf);

    snprintf(json, sizeof(json), "{\"secret_key\":\"k\",\"customer_id\":"
             "\"%.*s\"}", LAVA_TOKEN_ID_MAX, longv);
    ck_assert_int_eq(decode_json(json, &t, &buf), LAVA_TOKEN_OK);
    free(buf);
    snprintf(json, sizeof(json), "{\"secret_key\":\"k\",\"meter_slug\":"
             "\"%.*s\"}", LAVA_TOKEN_ID_MAX + 1, longv);
    ck_assert_int_eq(decode_json(json, &t, &buf), LAVA_TOKEN_BAD_FIELD);
    free(buf);

    snprintf(json, sizeof(json), "{\"secret_key\":\"k\",\"provider_key\":"
             "\"%.*s\"}", LAVA_TOKEN_PKEY_MAX, longv);
    ck_assert_int_eq(decode_json(json, &t, &buf), LAVA_TOKEN_OK);
    ck_assert_uint_eq(t.provider_key_len, LAVA_TOKEN_PKEY_MAX);
    free(buf);
    snprintf(json, sizeof(json), "{\"secret_key\":\"k\",\"provider_key\":"
             "\"%.*s\"}", LAVA_TOKEN_PKEY_MAX + 1, longv);
    ck_assert_int_eq(decode_json(json, &t, &buf), LAVA_TOKEN_BAD_FIELD);
    free(buf);
}
END_TEST


START_TEST(test_forged_and_malformed)
{
    char         *buf, *tok;
    lava_token_t  t;
    /* 40 bytes: the token ends in "==" */
    const char   *json = "{\"secret_key\":\"k-k\",\"customer_id\":\"c1\"} ";

    /* no secret */
    ck_assert_int_eq(decode_json("{\"customer_id\":\"c1\"}", &t, &buf),
                     LAVA_TOKEN_NO_SECRET);
    free(buf);
    ck_assert_int_eq(decode_json("{\"secret_key\":\"\"}", &t, &buf),
                     LAVA_TOKEN_NO_SECRET);
    free(buf);
    ck_assert_int_eq(decode_json("{}", &t, &buf), LAVA_TOKEN_NO_SECRET);
    free(buf);

    /* a second secret_key must not override the first */
    ck_assert_int_eq(decode_json("{\"secret_key\":\"a\",\"secret_key\":\"b\"}",
                                 &t, &buf), LAVA_TOKEN_BAD_JSON);
    free(buf);

    /* not an object, or not JSON */
    ck_assert_int_eq(decode_json("[\"secret_key\"]", &t, &buf),
                     LAVA_TOKEN_BAD_JSON);
    free(buf);
    ck_assert_int_eq(decode_json("\"aks_live_1\"", &t, &buf),
                     LAVA_TOKEN_BAD_JSON);
    free(buf);
    ck_assert_int_eq(decode_json("{\"secret_key\":\"k\"", &t, &buf),
                     LAVA_TOKEN_BAD_JSON);
    free(buf);
    ck_assert_int_eq(decode_json("{\"secret_key\":\"k\"} {}", &t, &buf),
                     LAVA_TOKEN_BAD_JSON);
    free(buf);

    {
        /* a NUL inside the JSON text */
        /* 22 bytes: padded, so it cannot pass for a bare key */
        static const char  nul[] = "{\"secret_key\":\"k\"}\0{} ";

        tok = b64(nul, sizeof(nul) - 1, 0, 1);
        ck_assert_int_eq(decode(tok, &t, &buf), LAVA_TOKEN_BAD_JSON);
        free(buf);
        free(tok);
    }

    /* truncated: every prefix of a padded standard token is refused */
    tok = b64(json, strlen(json), 0, 1);
    ck_assert(strchr(tok, '+') || strchr(tok, '/') || strchr(tok, '='));
    ck_assert_int_eq(decode(tok, &t, &buf), LAVA_TOKEN_OK);
    free(buf);

    {
        size_t  n;
        char    cut[256];

        for (n = 1; n < strlen(tok); n++) {
            memcpy(cut, tok, n);
            cut[n] = '\0';
            if (decode(cut, &t, &buf) == LAVA_TOKEN_OK) {
                if (t.bare) {
                    /* a prefix that passes as a bare key holds no fields */
                    ck_assert_ptr_null(t.customer_id);

                } else {
                    /* only the prefixes that drop the padding or the
                     * trailing space are still the whole object */
                    ck_assert(n == strlen(tok) - 4 || n == strlen(tok) - 2);
                    assert_field(t.secret_key, t.secret_key_len, "k-k");
                    assert_field(t.customer_id, t.customer_id_len, "c1");
                }
            }

            free(buf);
        }
    }

    /* bad base64: stray characters, bad padding, mixed alphabets */
    {
        char  bad[256];

        snprintf(bad, sizeof(bad), "%s=", tok);
        ck_assert_int_ne(decode(bad, &t, &buf), LAVA_TOKEN_OK);
        free(buf);

        snprintf(bad, sizeof(bad), " %s", tok);
        ck_assert_int_ne(decode(bad, &t, &buf), LAVA_TOKEN_OK);
        free(buf);

        snprintf(bad, sizeof(bad), "%.8s*%s", tok, tok + 8);
        ck_assert_int_ne(decode(bad, &t, &buf), LAVA_TOKEN_OK);
        free(buf);

        snprintf(bad, sizeof(bad), "%.8s=%s", tok, tok + 8);
        ck_assert_int_ne(decode(bad, &t, &buf), LAVA_TOKEN_OK);
        free(buf);

        ck_assert_int_eq(decode("A===", &t, &buf), LAVA_TOKEN_BAD_BASE64);
        free(buf);
        ck_assert_int_eq(decode("====", &t, &buf), LAVA_TOKEN_BAD_BASE64);
        free(buf);
        ck_assert_int_eq(decode("eyJ+-A", &t, &buf), LAVA_TOKEN_BAD_BASE64);
        free(buf);
    }

    free(tok);
}
END_TEST


START_TEST(test_no_secret_in_errors)
{
    int           rc;
    const char   *msg;

    for (rc = LAVA_TOKEN_OK; rc <= LAVA_TOKEN_NO_SECRET + 1; rc++) {
        msg = lava_token_strerror(rc);
        ck_assert_ptr_nonnull(msg);
        ck_assert_uint_gt(strlen(msg), 0);
        ck_assert_ptr_null(strstr(msg, SECRET));
        ck_assert_ptr_null(strstr(msg, "aks_"));
    }

    ck_assert_str_ne(lava_token_strerror(LAVA_TOKEN_BAD_JSON),
                     lava_token_strerror(LAVA_TOKEN_BAD_FIELD));
}
END_TEST


/* xorshift */
static uint32_t
rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}


START_TEST(test_random_input_never_overruns)
{
    int           i;
    char         *in, *buf;
    size_t        n, j;
    uint32_t      seed;
    lava_token_t  t;

    seed = 12345;

    for (i = 0; i < 200000; i++) {
        n = rnd(&seed) % 200;
        in = malloc(n + 1);
        buf = malloc(n + 1);

        for (j = 0; j < n; j++) {
            /* mostly base64 characters, sometimes anything */
            in[j] = (rnd(&seed) % 8)
                    ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789+/=-_{}\""[rnd(&seed) % 70]
                    : (char) rnd(&seed);
        }

        if (lava_token_decode(in, n, buf, n, &t) == LAVA_TOKEN_OK) {
            if (t.secret_key == NULL || t.secret_key_len == 0
                || t.secret_key < buf || t.secret_key + t.secret_key_len
                                         > buf + n)
            {
                ck_abort_msg("bad output for random input %d", i);
            }
        }

        free(in);
        free(buf);
    }
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("token");
    tc = tcase_create("core");
    tcase_set_timeout(tc, 300);

    tcase_add_test(tc, test_full_token_all_encodings);
    tcase_add_test(tc, test_minimal_and_optional);
    tcase_add_test(tc, test_bare_key);
    tcase_add_test(tc, test_restricted);
    tcase_add_test(tc, test_empty_and_too_long);
    tcase_add_test(tc, test_wrong_types_and_limits);
    tcase_add_test(tc, test_forged_and_malformed);
    tcase_add_test(tc, test_no_secret_in_errors);
    tcase_add_test(tc, test_random_input_never_overruns);
    suite_add_tcase(s, tc);

    return s;
}
