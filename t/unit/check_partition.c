/*
 * Partitions of a stream by paying customer (sidecar/partition.c): the
 * hash is FNV-1a and must never change (two versions of the sidecar
 * running side by side must agree on every entry's partition); the key is
 * customer_id, else merchant_id, else the entry id; each partition has its
 * own consumer group; a partition outside partitions is refused.
 */
#define _GNU_SOURCE

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "config.h"
#include "partition.h"

/* an entry [id, [k, v, ...]] as XREADGROUP returns it, on the heap */
static redisReply *
str(const char *s)
{
    redisReply *r = calloc(1, sizeof(*r));

    r->type = REDIS_REPLY_STRING;
    r->str = strdup(s);
    r->len = strlen(s);
    return r;
}

static redisReply *
entry(const char *id, const char *const *kv, size_t nkv)
{
    redisReply *e = calloc(1, sizeof(*e)), *f = calloc(1, sizeof(*f));
    size_t      i;

    e->type = REDIS_REPLY_ARRAY;
    e->elements = 2;
    e->element = calloc(2, sizeof(redisReply *));
    e->element[0] = str(id);
    e->element[1] = f;
    f->type = REDIS_REPLY_ARRAY;
    f->elements = nkv;
    f->element = calloc(nkv + 1, sizeof(redisReply *));
    for (i = 0; i < nkv; i++) {
        f->element[i] = str(kv[i]);
    }
    return e;
}

static void
entry_free(redisReply *r)
{
    size_t i;

    if (r->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i < r->elements; i++) {
            entry_free(r->element[i]);
        }
        free(r->element);
    }
    free(r->str);
    free(r);
}

START_TEST(hash_is_fnv1a)
{
    /* the published FNV-1a 32-bit test vectors */
    ck_assert_uint_eq(partition_hash("", 0), 0x811c9dc5u);
    ck_assert_uint_eq(partition_hash("a", 1), 0xe40c292cu);
    ck_assert_uint_eq(partition_hash("foobar", 6), 0xbf9cf968u);
}
END_TEST

START_TEST(key_is_customer_then_merchant_then_id)
{
    const char *const with_cust[] = { "v", "1", "merchant_id", "mer_A", "customer_id", "cus_B" };
    const char *const merchant_only[] = { "v", "1", "merchant_id", "mer_A" };
    const char *const empty_cust[] = { "customer_id", "", "merchant_id", "mer_A" };
    const char *const none[] = { "v", "1" };
    const char *const odd[] = { "customer_id", "cus_B", "v" };
    redisReply *e;
    int         n;

    for (n = 1; n <= 7; n++) {
        e = entry("1-1", with_cust, 6);
        ck_assert_int_eq(partition_of(e, n), n == 1 ? 0 : (int) (partition_hash("cus_B", 5) % n));
        entry_free(e);
        e = entry("1-1", merchant_only, 4);
        ck_assert_int_eq(partition_of(e, n), n == 1 ? 0 : (int) (partition_hash("mer_A", 5) % n));
        entry_free(e);
        e = entry("1-1", empty_cust, 4);
        ck_assert_int_eq(partition_of(e, n), n == 1 ? 0 : (int) (partition_hash("mer_A", 5) % n));
        entry_free(e);
        e = entry("1700000000000-7", none, 2);
        ck_assert_int_eq(partition_of(e, n),
                         n == 1 ? 0 : (int) (partition_hash("1700000000000-7", 15) % n));
        entry_free(e);
        /* malformed fields: by the id, like an entry without a customer */
        e = entry("1700000000000-7", odd, 3);
        ck_assert_int_eq(partition_of(e, n),
                         n == 1 ? 0 : (int) (partition_hash("1700000000000-7", 15) % n));
        entry_free(e);
    }
}
END_TEST

START_TEST(version_2_packed)
{
    /* docs/events.md, version 2: the fields packed in e, "<name>:<length>:<value>\n" */
    const char *const v2[] = { "v", "2", "request_id", "req_X",
        "e", "metadata:7:a:b\nc:d\nmerchant_id:5:mer_A\ncustomer_idx:1:x\ncustomer_id:5:cus_B\n" };
    const char *const v2_merchant[] = { "v", "2", "e", "payer:8:merchant\nmerchant_id:5:mer_A\n" };
    const char *const v2_bad_len[] = { "v", "2", "e", "customer_id:9:cus_B\n" };
    const char *const v2_cut[] = { "v", "2", "e", "customer_id:5:cus_B" };
    const char *const v2_long_len[] = { "v", "2", "e", "customer_id:0000005:cus_B\n" };
    const char *v;
    size_t      vn;
    redisReply *e;
    int         n;

    ck_assert_int_eq(partition_packed_field("a:1:x\nbb:2:yz\n", 14, "bb", &v, &vn), 0);
    ck_assert_uint_eq(vn, 2);
    ck_assert_int_eq(memcmp(v, "yz", 2), 0);
    ck_assert_int_eq(partition_packed_field("a:1:x\nbb:2:yz\n", 14, "b", &v, &vn), -1);
    ck_assert_int_eq(partition_packed_field("a:1:x\nbb:2:yz", 13, "bb", &v, &vn), -1);
    ck_assert_int_eq(partition_packed_field(":1:x\n", 5, "a", &v, &vn), -1);
    ck_assert_int_eq(partition_packed_field("a::x\n", 5, "a", &v, &vn), -1);
    ck_assert_int_eq(partition_packed_field("a:99:x\n", 7, "a", &v, &vn), -1);

    for (n = 2; n <= 7; n++) {
        /* the same customer in either version: the same partition */
        e = entry("1-1", v2, 6);
        ck_assert_int_eq(partition_of(e, n), (int) (partition_hash("cus_B", 5) % n));
        entry_free(e);
        e = entry("1-1", v2_merchant, 4);
        ck_assert_int_eq(partition_of(e, n), (int) (partition_hash("mer_A", 5) % n));
        entry_free(e);
        e = entry("1700000000000-7", v2_bad_len, 4);
        ck_assert_int_eq(partition_of(e, n),
                         (int) (partition_hash("1700000000000-7", 15) % n));
        entry_free(e);
        e = entry("1700000000000-7", v2_cut, 4);
        ck_assert_int_eq(partition_of(e, n),
                         (int) (partition_hash("1700000000000-7", 15) % n));
        entry_free(e);
        e = entry("1700000000000-7", v2_long_len, 4);
        ck_assert_int_eq(partition_of(e, n),
                         (int) (partition_hash("1700000000000-7", 15) % n));
        entry_free(e);
    }
}
END_TEST

START_TEST(customers_spread)
{
    /* 1000 customer ids over 4 partitions: each gets a fair share */
    const char *kv[2] = { "customer_id", NULL };
    char        id[32];
    int         count[4] = { 0 }, i;
    redisReply *e;

    for (i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "cus_%026d", i * 7919);
        kv[1] = id;
        e = entry("1-1", kv, 2);
        count[partition_of(e, 4)]++;
        entry_free(e);
    }
    for (i = 0; i < 4; i++) {
        ck_assert_int_gt(count[i], 180);
        ck_assert_int_lt(count[i], 320);
    }
}
END_TEST

START_TEST(group_per_partition)
{
    char *g;

    g = partition_group("lava-sidecar", 0, 1);
    ck_assert_str_eq(g, "lava-sidecar");
    free(g);
    g = partition_group("lava-sidecar", 1, 2);
    ck_assert_str_eq(g, "lava-sidecar.p1of2");
    free(g);
}
END_TEST

static int
load(const char *text, config_t *c, char *err, size_t errsize)
{
    char  path[] = "/tmp/check_partition_XXXXXX";
    int   fd = mkstemp(path), rc;
    FILE *f = fdopen(fd, "w");

    fputs(text, f);
    fclose(f);
    rc = config_load(path, c, err, errsize);
    unlink(path);
    return rc;
}

START_TEST(config_derives_the_group)
{
    config_t c;
    char     err[256];

    unsetenv("LAVA_REDIS_URL");
    unsetenv("LAVA_PG_DSN");
    ck_assert_int_eq(load("group = g\n", &c, err, sizeof(err)), 0);
    ck_assert_int_eq(c.partitions, 1);
    ck_assert_int_eq(c.partition, 0);
    ck_assert_str_eq(c.group, "g");
    config_free(&c);

    ck_assert_int_eq(load("group = g\npartitions = 3\npartition = 2\n", &c, err, sizeof(err)), 0);
    ck_assert_str_eq(c.group, "g.p2of3");
    config_free(&c);

    ck_assert_int_eq(load("partitions = 2\npartition = 2\n", &c, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "partition 2 is not below partitions 2"));
    ck_assert_int_eq(load("partitions = 65\n", &c, err, sizeof(err)), -1);
    ck_assert_int_eq(load("partitions = 0\n", &c, err, sizeof(err)), -1);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("partition");
    TCase *tc = tcase_create("partition");

    tcase_add_test(tc, hash_is_fnv1a);
    tcase_add_test(tc, key_is_customer_then_merchant_then_id);
    tcase_add_test(tc, version_2_packed);
    tcase_add_test(tc, customers_spread);
    tcase_add_test(tc, group_per_partition);
    tcase_add_test(tc, config_derives_the_group);
    suite_add_tcase(s, tc);
    return s;
}
