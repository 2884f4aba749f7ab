/*
 * Entries of several events, version 3 (sidecar/entry3.c, docs/events.md
 * "Version 3"): which entries are of version 3, how many events they carry,
 * each event split out as the version 2 entry it stands for, its own stream
 * id, and its own partition (sidecar/partition.c). A malformed version 3
 * entry is poison as a whole; any other entry is one event, as before.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "entry3.h"
#include "partition.h"

#define SV(s)  { (s), sizeof(s) - 1 }

static const sv_t three[] = {
    SV("v"), SV("3"),
    SV("request_id"), SV("req_000000000000000000000000a1"), SV("e"), SV("customer_id:2:c1\n"),
    SV("request_id"), SV("req_000000000000000000000000a2"), SV("e"), SV("merchant_id:2:m1\n"),
    SV("request_id"), SV("req_000000000000000000000000a3"), SV("e"), SV("model:1:x\n"),
};

START_TEST(counts_the_events)
{
    char err[128];

    ck_assert_int_eq(entry3_count(three, 7, err, sizeof(err)), 3);
    ck_assert_int_eq(entry3_count(three, 3, err, sizeof(err)), 1);
}
END_TEST

START_TEST(other_versions_are_one_event)
{
    static const sv_t v2[] = { SV("v"), SV("2"), SV("request_id"), SV("r"), SV("e"), SV("") };
    static const sv_t v1[] = { SV("request_id"), SV("r"), SV("v"), SV("1") };
    static const sv_t v33[] = { SV("v"), SV("33"), SV("request_id"), SV("r"), SV("e"), SV("") };
    static const sv_t nov[] = { SV("request_id"), SV("r"), SV("e"), SV("") };
    char err[128];

    ck_assert_int_eq(entry3_count(v2, 3, err, sizeof(err)), 0);
    ck_assert_int_eq(entry3_count(v1, 2, err, sizeof(err)), 0);
    ck_assert_int_eq(entry3_count(v33, 3, err, sizeof(err)), 0);
    ck_assert_int_eq(entry3_count(nov, 2, err, sizeof(err)), 0);
}
END_TEST

START_TEST(malformed_is_poison)
{
    static const sv_t notfirst[] = { SV("request_id"), SV("r"), SV("v"), SV("3"), SV("e"),
                                     SV("") };
    static const sv_t noevents[] = { SV("v"), SV("3") };
    static const sv_t half[] = { SV("v"), SV("3"), SV("request_id"), SV("r") };
    static const sv_t swapped[] = { SV("v"), SV("3"), SV("e"), SV(""), SV("request_id"),
                                    SV("r") };
    static const sv_t extra[] = { SV("v"), SV("3"), SV("request_id"), SV("r"), SV("e"), SV(""),
                                  SV("x"), SV("y"), SV("e"), SV("") };
    char err[128];

    err[0] = '\0';
    ck_assert_int_eq(entry3_count(notfirst, 3, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "v is not its first field"));
    ck_assert_int_eq(entry3_count(noevents, 1, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "couples"));
    ck_assert_int_eq(entry3_count(half, 2, err, sizeof(err)), -1);
    ck_assert_int_eq(entry3_count(swapped, 3, err, sizeof(err)), -1);
    ck_assert_int_eq(entry3_count(extra, 5, err, sizeof(err)), -1);
}
END_TEST

START_TEST(too_many_events_is_poison)
{
    static sv_t kv[2 * (1 + 2 * (LAVA_EVENT_V3_READ_MAX + 1))];
    char        err[128];
    size_t      i, n;

    kv[0] = (sv_t) SV("v");
    kv[1] = (sv_t) SV("3");
    for (n = LAVA_EVENT_V3_READ_MAX; n <= LAVA_EVENT_V3_READ_MAX + 1; n++) {
        for (i = 0; i < n; i++) {
            kv[2 * (1 + 2 * i)] = (sv_t) SV("request_id");
            kv[2 * (1 + 2 * i) + 1] = (sv_t) SV("r");
            kv[2 * (2 + 2 * i)] = (sv_t) SV("e");
            kv[2 * (2 + 2 * i) + 1] = (sv_t) SV("");
        }
        ck_assert_int_eq(entry3_count(kv, 1 + 2 * n, err, sizeof(err)),
                         n <= LAVA_EVENT_V3_READ_MAX ? (long) n : -1);
    }
    ck_assert_ptr_nonnull(strstr(err, "more than 1024 events"));
}
END_TEST

START_TEST(each_event_as_version_2)
{
    sv_t out[2 * ENTRY3_PAIRS];

    entry3_event(three, 1, out);
    ck_assert_int_eq(out[0].n, 1);
    ck_assert(memcmp(out[0].p, "v", 1) == 0);
    ck_assert_int_eq(out[1].n, 1);
    ck_assert(memcmp(out[1].p, "2", 1) == 0);
    ck_assert(out[2].p == three[6].p && out[3].p == three[7].p);
    ck_assert(out[4].p == three[8].p && out[5].p == three[9].p);
    ck_assert(entry3_payload(three, 2) == &three[13]);
}
END_TEST

START_TEST(own_stream_id)
{
    sv_t   id = SV("1733600000000-12");
    char   sid[ENTRY3_SID_MAX];
    size_t n;

    n = entry3_stream_id(&id, 0, sid);
    ck_assert_str_eq(sid, "1733600000000-12/1");
    ck_assert_int_eq(n, strlen(sid));
    n = entry3_stream_id(&id, 1023, sid);
    ck_assert_str_eq(sid, "1733600000000-12/1024");
    ck_assert_int_eq(n, strlen(sid));

    /* the longest id there is: two uint64 */
    id = (sv_t) SV("18446744073709551615-18446744073709551615");
    n = entry3_stream_id(&id, 1023, sid);
    ck_assert_str_eq(sid, "18446744073709551615-18446744073709551615/1024");
    ck_assert_int_eq(n, strlen(sid));
}
END_TEST

START_TEST(partition_per_event)
{
    const char *p = "customer_id:2:c1\n";
    const char *q = "merchant_id:2:m1\n";
    const char *none = "model:1:x\n";
    uint32_t    n = 7;

    /* as partition_of() keys a version 2 entry: customer, merchant, id */
    ck_assert_int_eq(partition_of_event(p, strlen(p), "1-0/1", 5, (int) n),
                     (int) (partition_hash("c1", 2) % n));
    ck_assert_int_eq(partition_of_event(q, strlen(q), "1-0/2", 5, (int) n),
                     (int) (partition_hash("m1", 2) % n));
    ck_assert_int_eq(partition_of_event(none, strlen(none), "1-0/3", 5, (int) n),
                     (int) (partition_hash("1-0/3", 5) % n));
    ck_assert_int_eq(partition_of_event(p, strlen(p), "1-0/1", 5, 1), 0);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("entry3");
    TCase *tc = tcase_create("entry3");

    tcase_add_test(tc, counts_the_events);
    tcase_add_test(tc, other_versions_are_one_event);
    tcase_add_test(tc, malformed_is_poison);
    tcase_add_test(tc, too_many_events_is_poison);
    tcase_add_test(tc, each_event_as_version_2);
    tcase_add_test(tc, own_stream_id);
    tcase_add_test(tc, partition_per_event);
    suite_add_tcase(s, tc);
    return s;
}
