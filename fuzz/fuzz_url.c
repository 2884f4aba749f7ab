/*
 * Forward target parsing (lib/lava_url.c): the request path
 * after /v1/forward and the query string, as a client sent them. Input: one
 * byte n, then the path extra (n % 64 bytes, fewer if the input is short),
 * then the query. The output buffer has exactly the documented minimum size.
 * On success the result goes verbatim into the request line to a provider,
 * so it must hold nothing that could end or split that line, raw or after
 * one more decoding, and the host must be a plain host name or IP literal.
 */
#include <string.h>

#include "fuzz.h"
#include "lava_url.h"

static int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

static int
uri_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || (c && strchr("-._~!$&'()*+,;=:@/?%", c) != NULL);
}

static void
check_target(const lava_target_t *t, const char *buf, size_t size)
{
    size_t  i;
    int     h, l, c, bracket;

    FUZZ_CHECK(t->host && t->host_len > 0 && t->host >= buf
               && t->host + t->host_len <= buf + size, "host in buffer");
    FUZZ_CHECK(t->uri && t->uri >= buf && t->uri + t->uri_len <= buf + size,
               "uri in buffer");
    FUZZ_CHECK(t->path == t->uri && t->path_len <= t->uri_len, "path is the uri's start");
    FUZZ_CHECK(t->path_len > 0 && t->path[0] == '/', "path starts with /");
    FUZZ_CHECK(memchr(t->path, '?', t->path_len) == NULL, "? in path");
    FUZZ_CHECK(t->path_len == t->uri_len || t->uri[t->path_len] == '?', "query after path");

    bracket = t->host[0] == '[';
    for (i = 0; i < t->host_len; i++) {
        c = (unsigned char) t->host[i];
        if (bracket) {
            FUZZ_CHECK((i == 0 && c == '[') || (i == t->host_len - 1 && c == ']')
                       || hexval(c) >= 0 || c == ':' || c == '.', "IP literal host");
        } else {
            FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.',
                       "host name characters, lower case");
        }
    }

    for (i = 0; i < t->uri_len; i++) {
        c = (unsigned char) t->uri[i];
        FUZZ_CHECK(uri_char(c), "raw byte outside the RFC 3986 sets in the uri");
        if (c != '%') {
            continue;
        }
        FUZZ_CHECK(i + 2 < t->uri_len, "truncated escape in the uri");
        h = hexval((unsigned char) t->uri[i + 1]);
        l = hexval((unsigned char) t->uri[i + 2]);
        FUZZ_CHECK(h >= 0 && l >= 0, "bad escape in the uri");
        c = h << 4 | l;
        /* what the provider sees after its own decoding: no line breaks */
        FUZZ_CHECK(c >= 0x20 && c != 0x7f, "escaped control byte in the uri");
    }
}

/*
 * lava_url_mask_keys on the arguments: only '*' written, nothing left to
 * mask after it, and every key the parser reads is then all '*'.
 */
static void
check_mask(const char *extra, size_t extra_len, const char *args,
    size_t args_len, int had_key)
{
    char           *m, *buf;
    size_t          i, n, bufsize;
    lava_target_t   t;

    m = malloc(args_len + 1);
    FUZZ_CHECK(m != NULL, "malloc");
    memcpy(m, args, args_len);

    n = lava_url_mask_keys(m, args_len, 0);
    FUZZ_CHECK(memcmp(m, args, args_len) == 0, "counting wrote");
    FUZZ_CHECK(lava_url_mask_keys(m, args_len, 1) == n, "count differs");

    for (i = 0; i < args_len; i++) {
        FUZZ_CHECK(m[i] == args[i] || m[i] == '*', "mask wrote other than '*'");
    }

    FUZZ_CHECK(lava_url_mask_keys(m, args_len, 0) == 0, "masked twice");

    if (had_key) {
        bufsize = 3 * (extra_len + args_len) + 16;
        buf = malloc(bufsize);
        FUZZ_CHECK(buf != NULL, "malloc");

        if (lava_url_parse(extra, extra_len, m, args_len, buf, bufsize, &t)
            == LAVA_URL_OK && t.key)
        {
            for (i = 0; i < t.key_len; i++) {
                FUZZ_CHECK(t.key[i] == '*', "a key the parser reads is left unmasked");
            }
        }

        free(buf);
    }

    free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lava_target_t  t;
    const char    *extra, *args;
    size_t         extra_len, args_len, bufsize;
    char          *buf;
    int            rc;

    if (size < 1) {
        return 0;
    }

    extra_len = data[0] % 64;
    if (extra_len > size - 1) {
        extra_len = size - 1;
    }
    extra = (const char *) data + 1;
    args = extra + extra_len;
    args_len = size - 1 - extra_len;

    bufsize = 3 * (extra_len + args_len) + 16;
    buf = malloc(bufsize);
    FUZZ_CHECK(buf != NULL, "malloc");
    memset(&t, 0, sizeof(t));

    rc = lava_url_parse(extra, extra_len, args, args_len, buf, bufsize, &t);
    FUZZ_CHECK(lava_url_strerror(rc) != NULL, "strerror");
    if (rc == LAVA_URL_OK) {
        check_target(&t, buf, bufsize);
        FUZZ_CHECK(t.key == NULL || (t.key >= buf && t.key + t.key_len <= buf + bufsize),
                   "key in buffer");
    }

    check_mask(extra, extra_len, args, args_len, rc == LAVA_URL_OK && t.key);

    free(buf);
    return 0;
}
