/*
 * x-lava-metadata: the size bound, JSON objects only, and the key charset
 * and length, each at its edge.
 */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "lava_metadata.h"


static int
check(const char *s)
{
    return lava_metadata_check(s, strlen(s));
}


/* {"<key>":1} with a key of n copies of c */
static int
check_key(size_t n, char c)
{
    int    rc;
    char  *s;

    s = malloc(n + 8);
    ck_assert_ptr_nonnull(s);
    s[0] = '{';
    s[1] = '"';
    memset(s + 2, c, n);
    strcpy(s + 2 + n, "\":1}");
    rc = check(s);
    free(s);

    return rc;
}


START_TEST(test_objects)
{
    ck_assert_int_eq(check("{}"), LAVA_METADATA_OK);
    ck_assert_int_eq(check("{\"user_id\":\"u-42\",\"feature.name\":\"chat\",\"n\":3}"),
                     LAVA_METADATA_OK);
    ck_assert_int_eq(check(" {\"a:b-c_d.e\": {\"nested\": [1, 2]}} "), LAVA_METADATA_OK);
}
END_TEST


START_TEST(test_not_objects)
{
    ck_assert_int_eq(check(""), LAVA_METADATA_NOT_OBJECT);
    ck_assert_int_eq(check("[1,2]"), LAVA_METADATA_NOT_OBJECT);
    ck_assert_int_eq(check("\"text\""), LAVA_METADATA_NOT_OBJECT);
    ck_assert_int_eq(check("{\"a\":1"), LAVA_METADATA_NOT_OBJECT);
    ck_assert_int_eq(check("{\"a\":1} x"), LAVA_METADATA_NOT_OBJECT);
    ck_assert_int_eq(lava_metadata_check("{\"a\":1}\0", 8), LAVA_METADATA_NOT_OBJECT);
}
END_TEST


START_TEST(test_keys)
{
    ck_assert_int_eq(check_key(1, 'k'), LAVA_METADATA_OK);
    ck_assert_int_eq(check_key(64, 'k'), LAVA_METADATA_OK);
    ck_assert_int_eq(check_key(65, 'k'), LAVA_METADATA_BAD_KEY);
    ck_assert_int_eq(check("{\"\":1}"), LAVA_METADATA_BAD_KEY);
    ck_assert_int_eq(check("{\"a b\":1}"), LAVA_METADATA_BAD_KEY);
    ck_assert_int_eq(check("{\"a'b\":1}"), LAVA_METADATA_BAD_KEY);
    ck_assert_int_eq(check("{\"caf\\u00e9\":1}"), LAVA_METADATA_BAD_KEY);
    ck_assert_int_eq(check("{\"ok\":1,\"a\\nb\":2}"), LAVA_METADATA_BAD_KEY);
}
END_TEST


START_TEST(test_size)
{
    char  *s;

    /* {"k":"xxx...x"} of exactly LAVA_METADATA_MAX bytes, then one more */
    s = malloc(LAVA_METADATA_MAX + 2);
    ck_assert_ptr_nonnull(s);
    memcpy(s, "{\"k\":\"", 6);
    memset(s + 6, 'x', LAVA_METADATA_MAX - 8);
    memcpy(s + LAVA_METADATA_MAX - 2, "\"}", 3);
    ck_assert_uint_eq(strlen(s), LAVA_METADATA_MAX);
    ck_assert_int_eq(check(s), LAVA_METADATA_OK);

    memcpy(s + LAVA_METADATA_MAX - 2, "x\"}", 4);
    ck_assert_int_eq(check(s), LAVA_METADATA_TOO_LARGE);
    free(s);
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s = suite_create("metadata");
    TCase  *tc = tcase_create("check");

    tcase_add_test(tc, test_objects);
    tcase_add_test(tc, test_not_objects);
    tcase_add_test(tc, test_keys);
    tcase_add_test(tc, test_size);
    suite_add_tcase(s, tc);

    return s;
}
