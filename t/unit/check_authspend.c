/*
 * The stream watermark of the auth snapshot's b records (sidecar/authspend.c):
 * the id just before a pending one, and W from the replies of XINFO GROUPS
 * and the XPENDING summary: last-delivered-id when nothing is pending, the
 * smallest pending id minus one otherwise, "0-0" without stream or group.
 */

#include <string.h>

#include "unit.h"
#include "authspend.h"


START_TEST(test_id_before)
{
    static const struct { const char *in, *out; } ok[] = {
        { "5-3", "5-2" },
        { "5-0", "4-18446744073709551615" },
        { "0-0", "0-0" },
        { "0-7", "0-6" },
        { "1796662486852-0", "1796662486851-18446744073709551615" },
        { "18446744073709551615-18446744073709551615", "18446744073709551615-18446744073709551614" },
    };
    static const char *bad[] = { "", "5", "-3", "5-", "a-1", "5-3x", "5--3", "5-+3", " 5-3",
                                 "18446744073709551616-0" };
    char   out[AUTHSPEND_ID_MAX];
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ck_assert_int_eq(authspend_id_before(ok[i].in, strlen(ok[i].in), out, sizeof(out)), 0);
        ck_assert_str_eq(out, ok[i].out);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(authspend_id_before(bad[i], strlen(bad[i]), out, sizeof(out)) == -1,
                      "accepted \"%s\"", bad[i]);
    }
}
END_TEST


/* replies built by hand, as hiredis hands them over */
static redisReply  str_r[16], int_r[4], arr_r[8], err_r;
static redisReply *elems[8][16];
static int         nstr, nint, narr;

static redisReply *
S(const char *s)
{
    redisReply *r = &str_r[nstr++];

    r->type = REDIS_REPLY_STRING;
    r->str = (char *) s;
    r->len = strlen(s);
    return r;
}

static redisReply *
I(long long v)
{
    redisReply *r = &int_r[nint++];

    r->type = REDIS_REPLY_INTEGER;
    r->integer = v;
    return r;
}

static redisReply *
A(size_t n, redisReply **e)
{
    redisReply *r = &arr_r[narr];

    memcpy(elems[narr], e, n * sizeof(e[0]));
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    r->element = elems[narr++];
    return r;
}

static redisReply *
group(const char *name, long long pending, const char *last)
{
    redisReply *e[] = { S("name"), S(name), S("consumers"), I(1), S("pending"), I(pending),
                        S("last-delivered-id"), S(last) };

    return A(8, e);
}

static void
reset(void)
{
    nstr = nint = narr = 0;
    memset(str_r, 0, sizeof(str_r));
    memset(int_r, 0, sizeof(int_r));
    memset(arr_r, 0, sizeof(arr_r));
    err_r.type = REDIS_REPLY_ERROR;
    err_r.str = (char *) "ERR no such key";
    err_r.len = strlen(err_r.str);
}


START_TEST(test_nothing_pending)
{
    char        w[AUTHSPEND_ID_MAX];
    int         held = 0;
    redisReply *g[2], *groups, *pending;

    reset();
    g[0] = group("other", 3, "1-0");
    g[1] = group("lava-sidecar", 0, "1700-4");
    groups = A(2, g);
    pending = A(4, (redisReply *[]) { I(0), &(redisReply) { .type = REDIS_REPLY_NIL },
                                      &(redisReply) { .type = REDIS_REPLY_NIL },
                                      &(redisReply) { .type = REDIS_REPLY_NIL } });
    ck_assert_int_eq(authspend_compute(groups, pending, "lava-sidecar", w, sizeof(w), &held), 0);
    ck_assert_str_eq(w, "1700-4");      /* the last delivered entry is booked */
    ck_assert_int_eq(held, 0);
}
END_TEST


START_TEST(test_pending)
{
    char        w[AUTHSPEND_ID_MAX];
    int         held = 0;
    redisReply *g[1], *groups, *pending, *cons[1];

    reset();
    g[0] = group("lava-sidecar", 2, "1700-9");
    groups = A(1, g);
    cons[0] = A(2, (redisReply *[]) { S("c1"), S("2") });
    pending = A(4, (redisReply *[]) { I(2), S("1700-5"), S("1700-9"), A(1, cons) });
    ck_assert_int_eq(authspend_compute(groups, pending, "lava-sidecar", w, sizeof(w), &held), 0);
    ck_assert_str_eq(w, "1700-4");      /* below the smallest pending */
    ck_assert_int_eq(held, 1);
}
END_TEST


START_TEST(test_no_stream_or_group)
{
    char        w[AUTHSPEND_ID_MAX];
    int         held = 0;
    redisReply *g[1], *groups;

    reset();
    ck_assert_int_eq(authspend_compute(&err_r, &err_r, "lava-sidecar", w, sizeof(w), &held), 0);
    ck_assert_str_eq(w, "0-0");

    reset();
    g[0] = group("other", 0, "1700-4");
    groups = A(1, g);
    ck_assert_int_eq(authspend_compute(groups, &err_r, "lava-sidecar", w, sizeof(w), &held), 0);
    ck_assert_str_eq(w, "0-0");
    ck_assert_int_eq(held, 0);
}
END_TEST


START_TEST(test_bad_shape)
{
    char        w[AUTHSPEND_ID_MAX];
    int         held = 0;
    redisReply *g[1], *groups, *pending;

    reset();
    g[0] = group("lava-sidecar", 0, "garbage");
    groups = A(1, g);
    pending = A(1, (redisReply *[]) { I(0) });
    ck_assert_int_eq(authspend_compute(groups, pending, "lava-sidecar", w, sizeof(w), &held), -1);
}
END_TEST


Suite *
make_suite(void)
{
    Suite *s = suite_create("authspend");
    TCase *tc = tcase_create("watermark");

    tcase_add_test(tc, test_id_before);
    tcase_add_test(tc, test_nothing_pending);
    tcase_add_test(tc, test_pending);
    tcase_add_test(tc, test_no_stream_or_group);
    tcase_add_test(tc, test_bad_shape);
    suite_add_tcase(s, tc);
    return s;
}
