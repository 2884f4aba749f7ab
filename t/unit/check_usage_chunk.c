/*
 * The include_usage chunk (lib/lava_usage_chunk.c): where SSE events end,
 * in any split of the bytes, and which event is the usage-only chunk, on
 * hostile input: escaped quotes, truncation at every byte, nested objects,
 * whitespace, case. Every scan is given an exactly sized heap copy, so a
 * read past n shows under the sanitizers (make test-asan).
 */

#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "lava_usage_chunk.h"


#define USAGE_CHUNK                                                          \
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","     \
    "\"created\":1733572800,\"model\":\"gpt-4o-mini\",\"choices\":[],"       \
    "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7,"               \
    "\"total_tokens\":19,\"prompt_tokens_details\":{\"cached_tokens\":0}}}"  \
    "\n\n"

#define CONTENT_CHUNK                                                        \
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","     \
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},"              \
    "\"finish_reason\":null}],\"usage\":null}\n\n"


/* lava_usage_chunk_only on an exactly sized copy of s[0..n) */
static int
only_n(const char *s, size_t n)
{
    int    rc;
    char  *p;

    p = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(p);
    memcpy(p, s, n);
    rc = lava_usage_chunk_only(p, n);
    free(p);

    return rc;
}


static int
only(const char *s)
{
    return only_n(s, strlen(s));
}


/* the event ends of s fed in pieces of `step` bytes (0: whole), as offsets
 * one past each end; returns how many */
static size_t
cuts(const char *s, size_t step, size_t *ends, size_t max)
{
    char                *p;
    size_t               len, off, piece, k, n, ne;
    lava_usage_chunk_t   c;

    len = strlen(s);
    p = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(p);
    memcpy(p, s, len);

    lava_usage_chunk_init(&c);
    ne = 0;

    for (off = 0; off < len; off += piece) {
        piece = (step == 0 || len - off < step) ? len - off : step;

        for (k = 0; k < piece; k += n) {
            n = lava_usage_chunk_cut(&c, p + off + k, piece - k);
            if (n == 0) {
                break;
            }

            ck_assert_uint_le(n, piece - k);
            ck_assert_uint_lt(ne, max);
            ends[ne++] = off + k + n;
        }
    }

    free(p);

    return ne;
}


static void
assert_cuts(const char *s, const size_t *want, size_t nwant)
{
    size_t  step, i, n, got[64];

    for (step = 0; step <= strlen(s); step++) {
        n = cuts(s, step, got, 64);
        ck_assert_msg(n == nwant, "step %zu: %zu events, want %zu", step, n,
                      nwant);

        for (i = 0; i < n; i++) {
            ck_assert_msg(got[i] == want[i], "step %zu: event %zu ends at "
                          "%zu, want %zu", step, i, got[i], want[i]);
        }
    }
}


START_TEST(test_cut_line_ends)
{
    static const size_t  lf[] = { 9, 18 };
    /* an event ends at the CR of its blank line; the LF after it starts
     * the next one (nothing is lost: every byte is in some event) */
    static const size_t  crlf[] = { 10, 21 };
    static const size_t  cr[] = { 9, 18 };
    static const size_t  mixed[] = { 10, 19 };

    /* every split of the bytes gives the same ends */
    assert_cuts("data: a\n\ndata: b\n\n", lf, 2);
    assert_cuts("data: a\r\n\r\ndata: b\r\n\r\n", crlf, 2);
    assert_cuts("data: a\r\rdata: b\r\r", cr, 2);
    assert_cuts("data: a\r\n\ndata: b\n\r\n", mixed, 2);
}
END_TEST


START_TEST(test_cut_blank_lines)
{
    static const size_t  lead[] = { 1, 10 };
    static const size_t  extra[] = { 9, 10, 11 };
    static const size_t  none[] = { 0 };

    /* a line end at the start of the stream is an event of its own */
    assert_cuts("\ndata: a\n\n", lead, 2);

    /* each further line end after a blank line too */
    assert_cuts("data: a\n\n\n\n", extra, 3);

    /* no blank line: the event goes on */
    assert_cuts("data: a\ndata: b\n", none, 0);
    assert_cuts("data: a", none, 0);

    /* an empty feed scans nothing */
    {
        lava_usage_chunk_t  c;

        lava_usage_chunk_init(&c);
        ck_assert_uint_eq(lava_usage_chunk_cut(&c, "", 0), 0);
    }
}
END_TEST


START_TEST(test_only_shapes)
{
    ck_assert_int_eq(only(USAGE_CHUNK), 1);
    ck_assert_int_eq(only(CONTENT_CHUNK), 0);

    /* whitespace around the colons and inside the brackets */
    ck_assert_int_eq(only("data: {\"choices\" :\t[ \r\n ] , \"usage\"\n:\n{}}"),
                     1);
    ck_assert_int_eq(only("{\"usage\":{\"total_tokens\":3},\"choices\":[]}"), 1);

    /* not the chunk */
    ck_assert_int_eq(only("data: {\"choices\":[],\"usage\":null}\n\n"), 0);
    ck_assert_int_eq(only("data: {\"choices\":[],\"usage\":[1]}\n\n"), 0);
    ck_assert_int_eq(only("data: {\"choices\":[]}\n\n"), 0);
    ck_assert_int_eq(only("data: {\"usage\":{\"total_tokens\":3}}\n\n"), 0);
    ck_assert_int_eq(only("data: {\"choices\":[0],\"usage\":{}}\n\n"), 0);
    ck_assert_int_eq(only("data: {\"choices\":{},\"usage\":{}}\n\n"), 0);
    ck_assert_int_eq(only("data: {\"choices\"[],\"usage\":{}}\n\n"), 0);
    ck_assert_int_eq(only("data: [DONE]\n\n"), 0);
    ck_assert_int_eq(only(""), 0);
    ck_assert_int_eq(only("\n"), 0);

    /* keys are matched without regard to ASCII case (as nginx's
     * ngx_strlcasestrn did for this filter) */
    ck_assert_int_eq(only("{\"CHOICES\":[],\"Usage\":{}}"), 1);
}
END_TEST


START_TEST(test_only_escapes)
{
    /* quoted names inside strings are escaped: not keys */
    ck_assert_int_eq(only("{\"choices\":[],\"text\":\"\\\"usage\\\": {\"}"), 0);
    ck_assert_int_eq(only("{\"text\":\"\\\"choices\\\":[]\",\"usage\":{}}"), 0);

    /* a later "usage" key counts when an earlier one is not an object */
    ck_assert_int_eq(only("{\"choices\":[],\"usage\":1,\"x\":{\"usage\":{}}}"),
                     1);

    /* an unterminated string or object after the markers does not matter */
    ck_assert_int_eq(only("{\"choices\":[],\"usage\":{\"a\":\"\\"), 1);
}
END_TEST


START_TEST(test_only_nested)
{
    /* usage with nested objects */
    ck_assert_int_eq(only("{\"choices\":[],\"usage\":{\"a\":{\"b\":{\"c\":"
                          "{\"d\":1}}},\"e\":[{\"f\":{}}]}}"), 1);

    /* a non-empty choices array with a usage inside it */
    ck_assert_int_eq(only("{\"choices\":[{\"usage\":{}}],\"usage\":{}}"), 0);

    /* only the first "choices" key decides */
    ck_assert_int_eq(only("{\"x\":{\"choices\":[1]},\"choices\":[],"
                          "\"usage\":{}}"), 0);
    ck_assert_int_eq(only("{\"x\":{\"choices\":[]},\"choices\":[1],"
                          "\"usage\":{}}"), 1);
}
END_TEST


START_TEST(test_only_truncated)
{
    const char  *s, *close, *brace;
    size_t       len, k, need;

    /* every prefix: the chunk only once both "[]" and "usage":{ are in */
    s = USAGE_CHUNK;
    len = strlen(s);
    close = strstr(s, "\"choices\":[]") + sizeof("\"choices\":[]") - 1;
    brace = strstr(s, "\"usage\":{") + sizeof("\"usage\":{") - 1;
    need = (size_t) ((close > brace ? close : brace) - s);

    for (k = 0; k <= len; k++) {
        ck_assert_msg(only_n(s, k) == (k >= need), "prefix of %zu bytes", k);
    }

    /* every suffix: the chunk while both are still whole */
    need = (size_t) (strstr(s, "\"choices\"") - s);

    for (k = 0; k <= len; k++) {
        ck_assert_msg(only_n(s + k, len - k) == (k <= need),
                      "suffix from byte %zu", k);
    }

    /* and the content chunk is never one, whatever its cut */
    s = CONTENT_CHUNK;
    len = strlen(s);

    for (k = 0; k <= len; k++) {
        ck_assert_int_eq(only_n(s, k), 0);
        ck_assert_int_eq(only_n(s + k, len - k), 0);
    }
}
END_TEST


START_TEST(test_only_limits)
{
    char    *s;
    size_t   n;

    /* whitespace at the very end: the scans stop at n */
    ck_assert_int_eq(only("{\"choices\"   "), 0);
    ck_assert_int_eq(only("{\"choices\":[   "), 0);
    ck_assert_int_eq(only("{\"choices\":[],\"usage\"  :  "), 0);
    ck_assert_int_eq(only("\"choices\""), 0);
    ck_assert_int_eq(only("\"choice"), 0);

    /* NUL bytes are bytes */
    ck_assert_int_eq(only_n("{\"choices\":[],\0\"usage\":{}}", 25), 1);
    ck_assert_int_eq(only_n("{\"choices\":[\0],\"usage\":{}}", 25), 0);

    /* a big event is scanned whole, in linear time */
    n = 1024 * 1024;
    s = malloc(n);
    ck_assert_ptr_nonnull(s);
    memset(s, ' ', n);
    memcpy(s, "{\"choices\":[]", 13);
    memcpy(s + n - 10, "\"usage\":{}", 10);
    ck_assert_int_eq(lava_usage_chunk_only(s, n), 1);

    /* many "usage" keys, none an object */
    for (size_t i = 13; i + 9 <= n - 10; i += 9) {
        memcpy(s + i, "\"usage\":1", 9);
    }
    ck_assert_int_eq(lava_usage_chunk_only(s, n), 1);
    memcpy(s + n - 10, "\"usage\":1 ", 10);
    ck_assert_int_eq(lava_usage_chunk_only(s, n), 0);
    free(s);
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s = suite_create("usage_chunk");
    TCase  *tc = tcase_create("cut");
    TCase  *to = tcase_create("only");

    tcase_add_test(tc, test_cut_line_ends);
    tcase_add_test(tc, test_cut_blank_lines);
    suite_add_tcase(s, tc);

    tcase_add_test(to, test_only_shapes);
    tcase_add_test(to, test_only_escapes);
    tcase_add_test(to, test_only_nested);
    tcase_add_test(to, test_only_truncated);
    tcase_add_test(to, test_only_limits);
    suite_add_tcase(s, to);

    return s;
}
