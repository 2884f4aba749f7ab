/*
 * The id formats (lib/lava_id.h): request ids as the module makes them
 * (known vectors, validity, time order) and the charset of ids and slugs,
 * byte by byte against the documented sets.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "lava_id.h"


/* the sets as docs/events.md and docs/auth-sync.md spell them */
#define REQID_SET  "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#define ID_SET     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
                   "0123456789_.:-"


START_TEST(test_reqid_vectors)
{
    char  id[LAVA_REQID_LEN + 1];

    /* 2024-12-07 12:00:00 UTC: time first, then the random bits */
    lava_reqid_make(id, 1733572800000ULL, 0, 0, 0);
    ck_assert_str_eq(id, "req_069T1ZDE000000000000000000");

    lava_reqid_make(id, 1733572800000ULL, ~0ULL, ~0ULL, ~0ULL);
    ck_assert_str_eq(id, "req_069T1ZDE03ZZZZZZZZZZZZZZZZ");

    lava_reqid_make(id, 0x0123456789ABULL, 0x8000000000000000ULL,
                    0x0123456789ABCDEFULL, 0xFEDCBA9876543210ULL);
    ck_assert_str_eq(id, "req_04HMASW9NE8CGG28T5CY4TQKFF");

    /* only 48 bits of time are kept */
    lava_reqid_make(id, 0xFFFF000000000000ULL, 0, 0, 0);
    ck_assert_str_eq(id, "req_00000000000000000000000000");
}
END_TEST


START_TEST(test_reqid_made_valid_and_ordered)
{
    char      a[LAVA_REQID_LEN + 1], b[LAVA_REQID_LEN + 1];
    uint64_t  s, t, r[3];
    int       i, j;

    s = 88172645463325252ULL;
    t = 1733572800000ULL;

    for (i = 0; i < 10000; i++) {
        for (j = 0; j < 3; j++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            r[j] = s;
        }

        lava_reqid_make(a, t, r[0], r[1], r[2]);
        ck_assert_uint_eq(strlen(a), LAVA_REQID_LEN);
        ck_assert(lava_reqid_valid(a, LAVA_REQID_LEN));

        /* a later millisecond sorts after, whatever the random bits */
        lava_reqid_make(b, t + 1, ~r[0], ~r[1], ~r[2]);
        ck_assert_int_lt(strcmp(a, b), 0);

        t += (s & 0xffff);
    }
}
END_TEST


START_TEST(test_reqid_invalid)
{
    const char  *ok = "req_01JDQ8ZK7X9M4V2T6R3N5P8W0C";

    ck_assert(lava_reqid_valid(ok, strlen(ok)));
    ck_assert(!lava_reqid_valid(ok, strlen(ok) - 1));
    ck_assert(!lava_reqid_valid("req_01JDQ8ZK7X9M4V2T6R3N5P8W0CX", 31));
    ck_assert(!lava_reqid_valid("req_01JDQ8ZK7X9M4V2T6R3N5P8W0U", 30));
    ck_assert(!lava_reqid_valid("req_01JDQ8ZK7X9M4V2T6R3N5P8W0I", 30));
    ck_assert(!lava_reqid_valid("req_01JDQ8ZK7X9M4V2T6R3N5P8W0L", 30));
    ck_assert(!lava_reqid_valid("req_01JDQ8ZK7X9M4V2T6R3N5P8W0O", 30));
    ck_assert(!lava_reqid_valid("req_01jdq8zk7x9m4v2t6r3n5p8w0c", 30));
    ck_assert(!lava_reqid_valid("REQ_01JDQ8ZK7X9M4V2T6R3N5P8W0C", 30));
    ck_assert(!lava_reqid_valid("rid_01JDQ8ZK7X9M4V2T6R3N5P8W0C", 30));
    ck_assert(!lava_reqid_valid("req_01JDQ8ZK7X9M4V2T6R3N5P8W\0C", 30));
    ck_assert(!lava_reqid_valid("", 0));
}
END_TEST


START_TEST(test_charsets)
{
    int  c;

    ck_assert_uint_eq(strlen(LAVA_REQID_ALPHABET), 32);
    ck_assert_str_eq(LAVA_REQID_ALPHABET, REQID_SET);
    ck_assert_uint_eq(LAVA_REQID_LEN,
                      LAVA_REQID_PREFIX_LEN + LAVA_REQID_CHARS);
    ck_assert_uint_eq(strlen(LAVA_REQID_PREFIX), LAVA_REQID_PREFIX_LEN);

    for (c = 0; c < 256; c++) {
        ck_assert_msg(lava_reqid_char((unsigned char) c)
                      == (c != 0 && strchr(REQID_SET, c) != NULL),
                      "request id byte %d", c);
        ck_assert_msg(lava_id_char((unsigned char) c)
                      == (c != 0 && strchr(ID_SET, c) != NULL),
                      "id byte %d", c);
    }
}
END_TEST


START_TEST(test_id_valid)
{
    char  s[LAVA_ID_MAX + 2];

    memset(s, 'k', sizeof(s));

    ck_assert(!lava_id_valid(s, 0));
    ck_assert(lava_id_valid(s, 1));
    ck_assert(lava_id_valid(s, LAVA_ID_MAX));
    ck_assert(!lava_id_valid(s, LAVA_ID_MAX + 1));

    ck_assert(lava_id_valid("cus_alice.b:c-d", 15));
    ck_assert(!lava_id_valid("cus alice", 9));
    ck_assert(!lava_id_valid("cus\0alice", 9));
    ck_assert(!lava_id_valid("caf\xc3\xa9", 5));
    ck_assert(!lava_id_valid("a/b", 3));
}
END_TEST


/* the pattern error messages show is the one lava_id_valid() checks */
START_TEST(test_id_pattern)
{
    char  want[64];

    snprintf(want, sizeof(want), "[A-Za-z0-9_.:-]{1,%d}", LAVA_ID_MAX);
    ck_assert_str_eq(LAVA_ID_PATTERN, want);
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s = suite_create("id");
    TCase  *tc = tcase_create("id");

    tcase_add_test(tc, test_reqid_vectors);
    tcase_add_test(tc, test_reqid_made_valid_and_ordered);
    tcase_add_test(tc, test_reqid_invalid);
    tcase_add_test(tc, test_charsets);
    tcase_add_test(tc, test_id_valid);
    tcase_add_test(tc, test_id_pattern);
    suite_add_tcase(s, tc);

    return s;
}
