/*
 * Forward target URL: the four shapes real SDKs send, extra arguments, the
 * `key` argument, and every refusal, smuggling attempts included.
 */

#define _GNU_SOURCE

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "lava_url.h"


#define CANARY  0xA5

static char          *buf;
static size_t         bufsize;
static lava_target_t  t;


/* parses with the documented minimum buffer, canary bytes after it */
static int
parse2(const char *extra, const char *args)
{
    int     rc;
    size_t  i;

    bufsize = 3 * (strlen(extra) + strlen(args)) + 16;
    buf = realloc(buf, bufsize + 64);
    memset(buf, CANARY, bufsize + 64);

    rc = lava_url_parse(extra, strlen(extra), args, strlen(args), buf, bufsize,
                        &t);

    for (i = bufsize; i < bufsize + 64; i++) {
        if ((unsigned char) buf[i] != CANARY) {
            ck_abort_msg("output buffer overrun");
        }
    }

    return rc;
}


static int
parse(const char *args)
{
    return parse2("", args);
}


static void
eq(const char *p, size_t len, const char *want)
{
    ck_assert_msg(p != NULL, "NULL, expected \"%s\"", want);
    ck_assert_msg(len == strlen(want) && memcmp(p, want, len) == 0,
                  "\"%.*s\", expected \"%s\"", (int) len, p, want);
}


static void
ok(const char *extra, const char *args, const char *host, const char *uri)
{
    int  rc;

    rc = parse2(extra, args);
    ck_assert_msg(rc == LAVA_URL_OK, "%s ? %s: %s", extra, args,
                  lava_url_strerror(rc));
    eq(t.host, t.host_len, host);
    eq(t.uri, t.uri_len, uri);

    /* path is the uri up to its query */
    ck_assert(t.path == t.uri);
    ck_assert(t.path_len <= t.uri_len);
    ck_assert(t.path_len == t.uri_len || t.uri[t.path_len] == '?');
    ck_assert(memchr(t.path, '?', t.path_len) == NULL);
    ck_assert_int_eq(t.path[0], '/');
}


static void
refused(const char *extra, const char *args, int want)
{
    int  rc;

    rc = parse2(extra, args);
    ck_assert_msg(rc == want, "%s ? %s: got \"%s\", expected \"%s\"", extra,
                  args, lava_url_strerror(rc), lava_url_strerror(want));
    ck_assert_ptr_null(t.host);
    ck_assert_ptr_null(t.uri);
    ck_assert_ptr_null(t.key);
}


START_TEST(test_sdk_shapes)
{
    /* openai >= 7.24: path before the query, base URL encoded */
    ok("/chat/completions", "u=https%3A%2F%2Fapi.openai.com%2Fv1",
       "api.openai.com", "/v1/chat/completions");

    /* openai 6.28-7.23, @anthropic-ai/sdk >= 0.79: whole URL encoded */
    ok("", "u=https%3A%2F%2Fapi.anthropic.com%2Fv1%2Fmessages",
       "api.anthropic.com", "/v1/messages");

    /* openai <= 6.27, @anthropic-ai/sdk <= 0.78: raw */
    ok("", "u=https://api.openai.com/v1/chat/completions", "api.openai.com",
       "/v1/chat/completions");

    /* half encoded */
    ok("", "u=https%3A%2F%2Fapi.openai.com%2Fv1/chat/completions",
       "api.openai.com", "/v1/chat/completions");

    /* Lava's own SDK: encodeURIComponent of the whole URL */
    ok("", "u=https%3A%2F%2Fgenerativelanguage.googleapis.com%2Fv1beta%2F"
       "models%2Fgemini-2.5-flash%3AstreamGenerateContent%3Falt%3Dsse",
       "generativelanguage.googleapis.com",
       "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
}
END_TEST


START_TEST(test_paths)
{
    /* no double slash when u ends in '/' */
    ok("/chat/completions", "u=https%3A%2F%2Fapi.openai.com%2Fv1%2F",
       "api.openai.com", "/v1/chat/completions");
    ok("/models", "u=https://api.openai.com/v1/", "api.openai.com",
       "/v1/models");

    /* u without a path */
    ok("", "u=https://api.openai.com", "api.openai.com", "/");
    ok("", "u=https://api.openai.com/", "api.openai.com", "/");
    ok("/v1/models", "u=https://api.openai.com", "api.openai.com",
       "/v1/models");
    ok("/v1/models", "u=https://api.openai.com/", "api.openai.com",
       "/v1/models");
    ok("", "u=https://api.openai.com?x=1", "api.openai.com", "/?x=1");
    ok("/", "u=https://api.openai.com/v1", "api.openai.com", "/v1/");

    /* extra path keeps its own escapes and pchars */
    ok("/models/gemini-2.5-flash:generateContent",
       "u=https://generativelanguage.googleapis.com/v1beta",
       "generativelanguage.googleapis.com",
       "/v1beta/models/gemini-2.5-flash:generateContent");
    ok("/files/a%2Fb", "u=https://api.openai.com/v1", "api.openai.com",
       "/v1/files/a%2Fb");

    /* u's path with its own escapes: valid escapes are kept, a lone '%' and
     * bytes outside the path set are encoded */
    ok("", "u=https%3A%2F%2Fapi.openai.com%2Fa%2520b", "api.openai.com",
       "/a%20b");
    ok("", "u=https%3A%2F%2Fapi.openai.com%2Fa%25zz", "api.openai.com",
       "/a%25zz");
    ok("", "u=https%3A%2F%2Fapi.openai.com%2Fa%22%3C%3E%5E%60%7B%7C%7D%5C",
       "api.openai.com", "/a%22%3C%3E%5E%60%7B%7C%7D%5C");
    ok("", "u=https%3A%2F%2Fapi.openai.com%2Fcaf%C3%A9", "api.openai.com",
       "/caf%C3%A9");
    ok("", "u=https://api.openai.com/v1/a:b@c!$&'()*+,;=~", "api.openai.com",
       "/v1/a:b@c!$?'()*+,;=~");
}
END_TEST


START_TEST(test_query)
{
    /* other arguments go after u's own query, in order */
    ok("", "u=https://api.openai.com/v1/models?x=1&limit=2", "api.openai.com",
       "/v1/models?x=1&limit=2");
    ok("/models", "u=https%3A%2F%2Fapi.openai.com%2Fv1&limit=2&after=m1",
       "api.openai.com", "/v1/models?limit=2&after=m1");
    ok("", "limit=2&u=https%3A%2F%2Fh.example.com%2Fp%3Fa%3D1%26b%3D2&c=3",
       "h.example.com", "/p?a=1&b=2&limit=2&c=3");

    /* empty arguments dropped, flags kept, '+' is not a space */
    ok("", "&&u=https://h.example.com/p&&stream&q=a+b&", "h.example.com",
       "/p?stream&q=a+b");
    ok("", "u=https://h.example.com/p?q=a+b%2Bc", "h.example.com",
       "/p?q=a+b+c");
    ok("", "u=https%3A%2F%2Fh.example.com%2Fp%3Fq%3Da%252Bb", "h.example.com",
       "/p?q=a%2Bb");

    /* query set: '/' and '?' allowed, the rest encoded */
    ok("", "u=https%3A%2F%2Fh.example.com%2Fp%3Fr%3D%2Fx%3Fy%22", "h.example.com",
       "/p?r=/x?y%22");
    ok("", "u=https://h.example.com/p&x=%7B%22a%22%7D&y=<", "h.example.com",
       "/p?x=%7B%22a%22%7D&y=%3C");

    /* an empty query in u disappears */
    ok("", "u=https://h.example.com/p?", "h.example.com", "/p");

    /* a "u" that is only a prefix of a name is another argument */
    ok("", "uu=1&u=https://h.example.com/p&u2=3", "h.example.com",
       "/p?uu=1&u2=3");
}
END_TEST


START_TEST(test_key)
{
    ck_assert_int_eq(parse("u=https://generativelanguage.googleapis.com/v1"
                           "&key=eyJzZWNyZXQ%3D&alt=sse"), LAVA_URL_OK);
    eq(t.key, t.key_len, "eyJzZWNyZXQ=");
    eq(t.uri, t.uri_len, "/v1?alt=sse");

    /* key inside a raw u's own query: removed there too */
    ck_assert_int_eq(parse("u=https://generativelanguage.googleapis.com/v1beta"
                           "/models/g:generateContent?key=tok%2Bx+y&alt=sse"),
                     LAVA_URL_OK);
    eq(t.key, t.key_len, "tok+x+y");
    eq(t.uri, t.uri_len, "/v1beta/models/g:generateContent?alt=sse");

    /* key inside an encoded u */
    ck_assert_int_eq(parse("u=https%3A%2F%2Fh.example.com%2Fp%3Fkey%3Dabc%26"
                           "z%3D1"), LAVA_URL_OK);
    eq(t.key, t.key_len, "abc");
    eq(t.uri, t.uri_len, "/p?z=1");

    /* a key name written with escapes is still the key */
    ck_assert_int_eq(parse("u=https://h.example.com/p&k%65y=abc"),
                     LAVA_URL_OK);
    eq(t.key, t.key_len, "abc");
    eq(t.uri, t.uri_len, "/p");

    /* key-like arguments are not the token but never reach the provider */
    ck_assert_int_eq(parse("u=https://h.example.com/p?KEY=abc&Key=d&x=1"
                           "&key%3Defg&k%2565y=h"), LAVA_URL_OK);
    ck_assert_ptr_null(t.key);
    eq(t.uri, t.uri_len, "/p?x=1");
    ck_assert_int_eq(parse("u=https%3A%2F%2Fh.example.com%2Fp%3FKEY%3Dabc%26"
                           "z%3D1&Key=q"), LAVA_URL_OK);
    ck_assert_ptr_null(t.key);
    eq(t.uri, t.uri_len, "/p?z=1");

    /* every credential argument name is removed too, also inside u */
    ck_assert_int_eq(parse("u=https://h.example.com/p?api_key=a&x=1"
                           "&access_token=b&pageToken=c&token=d&apikey=e"
                           "&API-KEY=f"), LAVA_URL_OK);
    ck_assert_ptr_null(t.key);
    eq(t.uri, t.uri_len, "/p?x=1&pageToken=c");
    ck_assert_int_eq(parse("u=https%3A%2F%2Fh.example.com%2Fp%3Fapi%5Fkey%3D"
                           "abc%26z%3D1&Token=q"), LAVA_URL_OK);
    eq(t.uri, t.uri_len, "/p?z=1");

    /* empty key: present, empty; no key: NULL */
    ck_assert_int_eq(parse("u=https://h.example.com/p&key="), LAVA_URL_OK);
    ck_assert_ptr_nonnull(t.key);
    ck_assert_uint_eq(t.key_len, 0);
    ck_assert_int_eq(parse("u=https://h.example.com/p&keys=1"), LAVA_URL_OK);
    ck_assert_ptr_null(t.key);
    eq(t.uri, t.uri_len, "/p?keys=1");

    /* two keys: which one is the token? neither */
    refused("", "u=https://h.example.com/p&key=a&key=b", LAVA_URL_DUPLICATE);
    refused("", "u=https://h.example.com/p?key=a&key=b", LAVA_URL_DUPLICATE);
    refused("", "u=https%3A%2F%2Fh.example.com%2Fp%3Fkey%3Da&key=b",
            LAVA_URL_DUPLICATE);
    refused("", "u=https://h.example.com/p&key=a%zz", LAVA_URL_BAD_ESCAPE);
    refused("", "u=https://h.example.com/p&key=a%0d%0a", LAVA_URL_BAD_CHAR);
}
END_TEST


START_TEST(test_host_and_port)
{
    ok("", "u=HTTPS://API.OpenAI.COM/V1", "api.openai.com", "/V1");
    ok("", "u=hTtPs%3A%2F%2Fapi.openai.com%2Fv1", "api.openai.com", "/v1");
    ok("", "u=https://api.openai.com:443/v1", "api.openai.com", "/v1");
    ok("", "u=https%3A%2F%2Fapi.openai.com%3A443", "api.openai.com", "/");

    /* IP literals pass here; the provider table refuses them */
    ok("", "u=https://127.0.0.1/v1", "127.0.0.1", "/v1");
    ok("", "u=https://[::1]:443/v1", "[::1]", "/v1");
    ok("", "u=https://[2001:DB8::1]/v1", "[2001:db8::1]", "/v1");

    refused("", "u=https://api.openai.com:8443/v1", LAVA_URL_BAD_PORT);
    refused("", "u=https://api.openai.com:80/v1", LAVA_URL_BAD_PORT);
    refused("", "u=https://api.openai.com:/v1", LAVA_URL_BAD_PORT);
    refused("", "u=https://api.openai.com:0443/v1", LAVA_URL_BAD_PORT);
    refused("", "u=https://api.openai.com:443:443/v1", LAVA_URL_BAD_PORT);
    refused("", "u=https://api.openai.com:443x", LAVA_URL_BAD_PORT);
    refused("", "u=https://[::1]:8443/", LAVA_URL_BAD_PORT);

    refused("", "u=https:///v1", LAVA_URL_BAD_HOST);
    refused("", "u=https://", LAVA_URL_BAD_HOST);
    refused("", "u=https://:443/v1", LAVA_URL_BAD_HOST);
    refused("", "u=https://api_openai.com/", LAVA_URL_BAD_HOST);
    refused("", "u=https://.openai.com/", LAVA_URL_BAD_HOST);
    refused("", "u=https://api..openai.com/", LAVA_URL_BAD_HOST);
    refused("", "u=https://api.openai.com%5C.evil.com/", LAVA_URL_BAD_HOST);
    refused("", "u=https://evil.com\\api.openai.com/", LAVA_URL_BAD_HOST);
    refused("", "u=https://api.openai.com%2Cevil.com/", LAVA_URL_BAD_HOST);
    refused("", "u=https://%D0%B0pi.openai.com/", LAVA_URL_BAD_HOST);
    refused("", "u=https://[::1/", LAVA_URL_BAD_HOST);
    refused("", "u=https://[]/", LAVA_URL_BAD_HOST);
    refused("", "u=https://[::g]/", LAVA_URL_BAD_HOST);
    refused("", "u=https://[::1]x/", LAVA_URL_BAD_HOST);
    refused("", "u=https://api.openai.com%25/", LAVA_URL_BAD_HOST);

    {
        char  big[400];

        strcpy(big, "u=https://");
        memset(big + 10, 'a', 254);
        strcpy(big + 264, "/v1");
        refused("", big, LAVA_URL_BAD_HOST);
    }
}
END_TEST


START_TEST(test_scheme_and_userinfo)
{
    refused("", "u=http://api.openai.com/v1", LAVA_URL_NOT_HTTPS);
    refused("", "u=http%3A%2F%2Fapi.openai.com", LAVA_URL_NOT_HTTPS);
    refused("", "u=//api.openai.com/v1", LAVA_URL_NOT_HTTPS);
    refused("", "u=api.openai.com/v1", LAVA_URL_NOT_HTTPS);
    refused("", "u=https:/api.openai.com/v1", LAVA_URL_NOT_HTTPS);
    refused("", "u=https:\\\\api.openai.com/v1", LAVA_URL_NOT_HTTPS);
    refused("", "u=ftp://api.openai.com/", LAVA_URL_NOT_HTTPS);
    refused("", "u=file:///etc/passwd", LAVA_URL_NOT_HTTPS);
    refused("", "u=javascript:alert(1)", LAVA_URL_NOT_HTTPS);
    refused("", "u=httpsx://api.openai.com/", LAVA_URL_NOT_HTTPS);

    refused("", "u=https://user@api.openai.com/v1", LAVA_URL_USERINFO);
    refused("", "u=https://user:pw@api.openai.com/v1", LAVA_URL_USERINFO);
    refused("", "u=https://api.openai.com@evil.com/v1", LAVA_URL_USERINFO);
    refused("", "u=https://api.openai.com:443@evil.com/", LAVA_URL_USERINFO);
    refused("", "u=https%3A%2F%2Fapi.openai.com%40evil.com", LAVA_URL_USERINFO);
    refused("", "u=https://api.openai.com%5C@evil.com/", LAVA_URL_USERINFO);

    /* '@' after the authority is path or query, not userinfo */
    ok("", "u=https://api.openai.com/v1/@me?x=a@b", "api.openai.com",
       "/v1/@me?x=a@b");
}
END_TEST


START_TEST(test_missing_u)
{
    refused("", "", LAVA_URL_MISSING_U);
    refused("/chat/completions", "", LAVA_URL_MISSING_U);
    refused("", "u=", LAVA_URL_MISSING_U);
    refused("", "u", LAVA_URL_MISSING_U);
    refused("", "limit=2&after=x", LAVA_URL_MISSING_U);
    refused("", "U=https://api.openai.com/v1", LAVA_URL_MISSING_U);
    refused("", "uu=https://api.openai.com/v1", LAVA_URL_MISSING_U);

    /* an escaped name is still u; given twice it is refused */
    ok("", "%75=https://api.openai.com/v1", "api.openai.com", "/v1");
    refused("", "u=https://api.openai.com/v1&u=https://evil.com/",
            LAVA_URL_DUPLICATE);
    refused("", "u=https://api.openai.com/v1&%75=https://evil.com/",
            LAVA_URL_DUPLICATE);
}
END_TEST


START_TEST(test_bad_chars)
{
    static const char  *bad[] = {
        /* CR LF header injection, encoded once and twice */
        "u=https%3A%2F%2Fapi.openai.com%2Fv1%0d%0aHost:%20evil",
        "u=https://api.openai.com/v1%0d%0aX-Evil:%201",
        "u=https://api.openai.com/v1%0a",
        "u=https://api.openai.com/v1%0d",
        "u=https://api.openai.com/v1%250d%250a",
        "u=https%3A%2F%2Fapi.openai.com%2Fv1%250A",
        "u=https://api.openai.com/v1?x=%0d%0a",
        "u=https://api.openai.com/v1?x=%250d",
        "u=https://api.openai.com%0d%0a/v1",
        /* NUL, DEL, tab, space, other controls */
        "u=https://api.openai.com%00.evil.com/",
        "u=https://api.openai.com/v1%00",
        "u=https://api.openai.com/v1%7f",
        "u=https://api.openai.com/v1%257F",
        "u=https://api.openai.com/v1%09",
        "u=https://api.openai.com/v1%20x",
        "u=https://api.openai.com/v1?q=a%20b",
        "u=%20https://api.openai.com/v1",
        "u=https://api.openai.com/v1%1b",
        /* fragments: refused, never dropped */
        "u=https://api.openai.com/v1%23frag",
        "u=https://api.openai.com%23@evil.com/",
        "u=https://api.openai.com/v1&x=a#b",
        /* raw bytes in the other arguments */
        "u=https://api.openai.com/v1&x=a\r\nb",
        "u=https://api.openai.com/v1&x=a b",
        "u=https://api.openai.com/v1&x=%00",
        NULL
    };
    int  i;

    for (i = 0; bad[i]; i++) {
        refused("", bad[i], LAVA_URL_BAD_CHAR);
    }

    refused("/v1\r\n", "u=https://api.openai.com", LAVA_URL_BAD_CHAR);
    refused("/v1%0d%0a", "u=https://api.openai.com", LAVA_URL_BAD_CHAR);
    refused("/v1 x", "u=https://api.openai.com", LAVA_URL_BAD_CHAR);
    refused("/v1#x", "u=https://api.openai.com", LAVA_URL_BAD_CHAR);
}
END_TEST


START_TEST(test_escapes)
{
    refused("", "u=https%3A%2F%2Fapi.openai.com%2Fv1%ZZ", LAVA_URL_BAD_ESCAPE);
    refused("", "u=https%3A%2F%2Fapi.openai.com%2Fv1%", LAVA_URL_BAD_ESCAPE);
    refused("", "u=https%3A%2F%2Fapi.openai.com%2Fv1%4", LAVA_URL_BAD_ESCAPE);
    refused("/a%zz", "u=https://api.openai.com", LAVA_URL_BAD_ESCAPE);
    refused("/a%", "u=https://api.openai.com", LAVA_URL_BAD_ESCAPE);

    /* lower-case escapes are escapes */
    ok("", "u=https%3a%2f%2fapi.openai.com%2fv1", "api.openai.com", "/v1");

    /* a lone '%' in another argument is encoded, not passed on */
    ok("", "u=https://api.openai.com/v1&x=100%", "api.openai.com",
       "/v1?x=100%25");
}
END_TEST


START_TEST(test_dot_segments)
{
    static const char  *bad[] = {
        "u=https://api.openai.com/v1/../admin",
        "u=https://api.openai.com/v1/./models",
        "u=https://api.openai.com/..",
        "u=https://api.openai.com/v1/..",
        "u=https://api.openai.com/v1/.",
        "u=https%3A%2F%2Fapi.openai.com%2Fv1%2F..%2Fadmin",
        "u=https://api.openai.com/v1/%2e%2e/admin",
        "u=https://api.openai.com/v1/%2E%2e/admin",
        "u=https://api.openai.com/v1/.%2E/admin",
        "u=https://api.openai.com/v1/%2e/admin",
        "u=https://api.openai.com/v1/%252e%252e/admin",
        "u=https://api.openai.com/v1/..?x=1",
        NULL
    };
    int  i;

    for (i = 0; bad[i]; i++) {
        /* %252e decodes to %2e in u, which is a dot for the provider */
        refused("", bad[i], LAVA_URL_DOT_SEGMENT);
    }

    refused("/../admin", "u=https://api.openai.com/v1", LAVA_URL_DOT_SEGMENT);
    refused("/%2e%2e/admin", "u=https://api.openai.com/v1",
            LAVA_URL_DOT_SEGMENT);
    refused("/..", "u=https://api.openai.com/v1/", LAVA_URL_DOT_SEGMENT);

    /* dots inside names are fine; so are dots in the query */
    ok("", "u=https://api.openai.com/v1/..foo/a.b/.../x?p=../..",
       "api.openai.com", "/v1/..foo/a.b/.../x?p=../..");
}
END_TEST


START_TEST(test_too_long)
{
    char    *big;
    size_t   n;

    n = LAVA_URL_MAX + 1;
    big = malloc(n + 64);
    strcpy(big, "u=https://api.openai.com/v1/");
    memset(big + 28, 'a', n - 28);
    big[n] = '\0';
    refused("", big, LAVA_URL_TOO_LONG);

    big[n - 1] = '\0';
    ok("", big, "api.openai.com", big + 24);

    /* small output buffer: refused, not overrun */
    memset(buf, CANARY, bufsize);
    ck_assert_int_eq(lava_url_parse("", 0, big, n - 1, buf, 100, &t),
                     LAVA_URL_TOO_LONG);

    free(big);

    {
        char  extra[LAVA_URL_MAX + 2];

        memset(extra, 'a', sizeof(extra) - 1);
        extra[0] = '/';
        extra[sizeof(extra) - 1] = '\0';
        refused(extra, "u=https://api.openai.com", LAVA_URL_TOO_LONG);
    }
}
END_TEST


START_TEST(test_worst_case_buffer)
{
    char     *args, *p;
    size_t    i;

    /* every byte of u expands to three: the documented size still fits
     * (parse2 checks the canary) */
    args = malloc(LAVA_URL_MAX + 1);
    p = args + sprintf(args, "u=https://h.example.com/");

    for (i = 0; (size_t) (p - args) < LAVA_URL_MAX - 40; i++) {
        *p++ = '^';
    }

    p += sprintf(p, "&key=abc&x=^^");
    *p = '\0';

    ck_assert_int_eq(parse(args), LAVA_URL_OK);
    ck_assert_uint_le(t.uri_len + t.host_len + t.key_len, bufsize);
    free(args);
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


static int
is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')
           || (c >= 'a' && c <= 'f');
}


/*
 * Random inputs built from URL pieces: whatever is accepted is safe to put
 * in a request line (printable, no space, every '%' a valid escape of a
 * non-control byte, no dot segment) and host is a plain name.
 */
START_TEST(test_random_inputs_safe)
{
    int          i, j, k, accepted;
    char         args[512], extra[128];
    size_t       n, m, q;
    uint32_t     seed;

    static const char  *pieces[] = {
        "u=", "https://", "https%3A%2F%2F", "api.openai.com", "/", "%2F", "?",
        "%3F", "&", "%26", "=", "%3D", "key", "%0d", "%0a", "%25", "%", "..",
        "%2e", ".", "@", "%40", ":443", ":", "#", "%23", "\\", "%5C", "a",
        "v1", "+", " ", "\r", "\n", "%00", "%7f", "%252e", "%250d", "[::1]",
        "\xc3\xa9", "\x01", "u", "%75", "x=1", "limit=2", "%2", "A",
    };
    const int  np = sizeof(pieces) / sizeof(pieces[0]);

    seed = 4242;
    accepted = 0;

    for (i = 0; i < 300000; i++) {
        n = 0;
        strcpy(args, (rnd(&seed) % 4) ? "u=https://api.openai.com/" : "");
        n = strlen(args);
        k = 1 + rnd(&seed) % 12;

        for (j = 0; j < k; j++) {
            const char  *pc = pieces[rnd(&seed) % np];
            if (n + strlen(pc) < sizeof(args) - 1) {
                strcpy(args + n, pc);
                n += strlen(pc);
            }
        }

        m = 0;
        extra[0] = '\0';

        if (rnd(&seed) % 3 == 0) {
            strcpy(extra, "/");
            m = 1;
            k = rnd(&seed) % 4;

            for (j = 0; j < k; j++) {
                const char  *pc = pieces[rnd(&seed) % np];
                if (m + strlen(pc) < sizeof(extra) - 1) {
                    strcpy(extra + m, pc);
                    m += strlen(pc);
                }
            }
        }

        if (parse2(extra, args) != LAVA_URL_OK) {
            continue;
        }

        accepted++;

        for (q = 0; q < t.uri_len; q++) {
            unsigned char  c = (unsigned char) t.uri[q];

            if (c <= 0x20 || c >= 0x7f || c == '#' || c == '\\') {
                ck_abort_msg("byte %02x in uri for %s ? %s", c, extra, args);
            }

            if (c == '%') {
                if (q + 2 >= t.uri_len) {
                    ck_abort_msg("cut escape in uri for %s", args);
                }

                if (!is_hex(t.uri[q + 1]) || !is_hex(t.uri[q + 2])) {
                    ck_abort_msg("bad escape in uri for %s", args);
                }
            }
        }

        for (q = 0; q < t.host_len; q++) {
            char  c = t.host[q];

            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.'
                  || c == '-' || c == '[' || c == ']' || c == ':'))
            {
                ck_abort_msg("host byte %02x for %s", (unsigned char) c, args);
            }
        }

        if (memmem(t.uri, t.path_len, "/../", 4)
            || memmem(t.uri, t.path_len, "/./", 3)
            || (t.path_len >= 3
                && memcmp(t.uri + t.path_len - 3, "/..", 3) == 0)
            || (t.path_len >= 2
                && memcmp(t.uri + t.path_len - 2, "/.", 2) == 0))
        {
            ck_abort_msg("dot segment in %.*s", (int) t.uri_len, t.uri);
        }
    }

    /* the generator must produce accepted inputs too, or this proves nothing */
    ck_assert_int_gt(accepted, 10000);
}
END_TEST


START_TEST(test_strerror)
{
    int  rc;

    for (rc = LAVA_URL_OK; rc <= LAVA_URL_DUPLICATE + 1; rc++) {
        ck_assert_ptr_nonnull(lava_url_strerror(rc));
        ck_assert_uint_gt(strlen(lava_url_strerror(rc)), 0);
    }
}
END_TEST


/* parse2()'s buffer, grown by the tests run in this process (CK_FORK=no) */
static void
free_buf(void)
{
    free(buf);
    buf = NULL;
    bufsize = 0;
}


/* masks a copy of args and compares it with want */
static void
mask_eq(const char *args, const char *want)
{
    char    tmp[1024];
    size_t  len, n, again;

    len = strlen(args);
    ck_assert(len < sizeof(tmp));
    memcpy(tmp, args, len + 1);

    n = lava_url_mask_keys(tmp, len, 0);
    ck_assert_msg(strcmp(tmp, args) == 0, "counting wrote to the input");

    ck_assert_uint_eq(lava_url_mask_keys(tmp, len, 1), n);
    ck_assert_msg(strcmp(tmp, want) == 0, "mask \"%s\": got \"%s\", want \"%s\"",
                  args, tmp, want);

    /* a masked string has nothing left to mask */
    again = lava_url_mask_keys(tmp, len, 1);
    ck_assert_uint_eq(again, 0);
}


START_TEST(test_mask_keys)
{
    /* top level, as before */
    mask_eq("u=https%3A%2F%2Fapi.openai.com%2Fv1&key=abc%2Bdef",
            "u=https%3A%2F%2Fapi.openai.com%2Fv1&key=*********");
    mask_eq("key=abc&u=x", "key=***&u=x");
    mask_eq("key=", "key=");
    mask_eq("keys=abc&monkey=abc&akey=abc", "keys=abc&monkey=abc&akey=abc");

    /* inside u, percent-encoded: up to the encoded '&' */
    mask_eq("u=https%3A%2F%2Fh.example%2Fp%3Fkey%3Dsecret%26alt%3Dsse",
            "u=https%3A%2F%2Fh.example%2Fp%3Fkey%3D******%26alt%3Dsse");
    mask_eq("u=https%3A%2F%2Fh.example%2Fp%3Falt%3Dsse%26key%3Dsecret&x=1",
            "u=https%3A%2F%2Fh.example%2Fp%3Falt%3Dsse%26key%3D******&x=1");
    /* lower-case escapes, escaped letters of the name, '=' escaped twice */
    mask_eq("u=https%3a%2f%2fh%2fp%3fk%65y%3dsecret",
            "u=https%3a%2f%2fh%2fp%3fk%65y%3d******");
    mask_eq("u=https%3A%2F%2Fh%2Fp%3Fk%2565y%3Dsecret",
            "u=https%3A%2F%2Fh%2Fp%3Fk%2565y%3D******");
    mask_eq("u=https%3A%2F%2Fh%2Fp%3Fkey%253Dsecret",
            "u=https%3A%2F%2Fh%2Fp%3Fkey%253D******");
    mask_eq("u=https%3A%2F%2Fh%2Fp%3F%25%36%42ey%3Dsecret",
            "u=https%3A%2F%2Fh%2Fp%3F%25%36%42ey%3D******");
    /* an '&' escaped twice belongs to the value inside u */
    mask_eq("u=https%3A%2F%2Fh%2Fp%3Fkey%3Dse%2526cret%26a%3D1",
            "u=https%3A%2F%2Fh%2Fp%3Fkey%3D***********%26a%3D1");

    /* inside a raw u */
    mask_eq("u=https://h.example/p?key=secret&x=1",
            "u=https://h.example/p?key=******&x=1");
    mask_eq("u=https://h.example/p?a=1&key=secret",
            "u=https://h.example/p?a=1&key=******");

    /* any case, top-level name escaped, several keys */
    mask_eq("KEY=abc&Key=def&k%65y=ghi", "KEY=***&Key=***&k%65y=***");
    mask_eq("%6bey%3Dabc&x=1", "%6bey%3D***&x=1");

    /* the other credential names, in any case, top level and inside u */
    mask_eq("api_key=abc&apikey=def&API-KEY=ghi&access_token=jk&token=lm",
            "api_key=***&apikey=***&API-KEY=***&access_token=**&token=**");
    mask_eq("u=https%3A%2F%2Fh%2Fp%3Faccess%5Ftoken%3Dsecret%26a%3D1",
            "u=https%3A%2F%2Fh%2Fp%3Faccess%5Ftoken%3D******%26a%3D1");
    mask_eq("u=https://h/p?x=1&Api_Key=secret", "u=https://h/p?x=1&Api_Key=******");
    mask_eq("pageToken=abc&tokens=1&my_token=2&api_keys=3",
            "pageToken=abc&tokens=1&my_token=2&api_keys=3");

    /* invalid escapes are taken as they are */
    mask_eq("key=%zz%&u=%", "key=****&u=%");
    mask_eq("%", "%");
    mask_eq("%25", "%25");
    mask_eq("%25%", "%25%");
}
END_TEST


START_TEST(test_mask_random_safe)
{
    char    tmp[64], copy[64];
    size_t  i, j, len;
    static const char alphabet[] = "key=%&?23456DFdf";

    srand(11);

    for (i = 0; i < 200000; i++) {
        len = (size_t) rand() % sizeof(tmp);
        for (j = 0; j < len; j++) {
            tmp[j] = alphabet[rand() % (sizeof(alphabet) - 1)];
        }

        memcpy(copy, tmp, len);
        (void) lava_url_mask_keys(tmp, len, 1);

        for (j = 0; j < len; j++) {
            ck_assert(tmp[j] == copy[j] || tmp[j] == '*');
        }

        ck_assert_uint_eq(lava_url_mask_keys(tmp, len, 0), 0);
    }
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("url");
    tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, NULL, free_buf);

    tcase_add_test(tc, test_sdk_shapes);
    tcase_add_test(tc, test_paths);
    tcase_add_test(tc, test_query);
    tcase_add_test(tc, test_key);
    tcase_add_test(tc, test_host_and_port);
    tcase_add_test(tc, test_scheme_and_userinfo);
    tcase_add_test(tc, test_missing_u);
    tcase_add_test(tc, test_bad_chars);
    tcase_add_test(tc, test_escapes);
    tcase_add_test(tc, test_dot_segments);
    tcase_add_test(tc, test_too_long);
    tcase_add_test(tc, test_worst_case_buffer);
    tcase_add_test(tc, test_random_inputs_safe);
    tcase_add_test(tc, test_strerror);
    tcase_add_test(tc, test_mask_keys);
    tcase_add_test(tc, test_mask_random_safe);
    suite_add_tcase(s, tc);

    return s;
}
