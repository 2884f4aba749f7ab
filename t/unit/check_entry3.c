/*
 * Entries of several events, version 3 (sidecar/entry3.c, docs/events.md
 * "Version 3"): which entries are of version 3, their events (a request_id
 * pair, then the event's version 2 payload, each), each event as the
 * version 2 entry it stands for, its own stream id, and its own partition
 * (sidecar/partition.c). A malformed version 3 entry is poison as a whole;
 * any other entry is one event, as before.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "entry3.h"
#include "partition.h"

#define SV(s)  { (s), sizeof(s) - 1 }

#define RID1  "req_000000000000000000000000a1"
#define RID2  "req_000000000000000000000000a2"
#define RID3  "req_000000000000000000000000a3"
#define P1    "customer_id:2:c1\nmodel:1:x\n"
#define P2    "merchant_id:2:m1\n"
#define P3    "model:3:a:b\n"

static const char e3[] =
    "request_id:30:" RID1 "\n" P1
    "request_id:30:" RID2 "\n" P2
    "request_id:30:" RID3 "\n" P3;

static int
eq(const sv_t *s, const char *lit)
{
    return s->n == strlen(lit) && memcmp(s->p, lit, s->n) == 0;
}

START_TEST(splits_the_events)
{
    sv_t  kv[4] = { SV("v"), SV("3"), SV("e"), SV(e3) };
    sv_t  ev[6];
    char  err[128];

    ck_assert_int_eq(entry3_split(kv, 2, NULL, err, sizeof(err)), 3);
    ck_assert_int_eq(entry3_split(kv, 2, ev, err, sizeof(err)), 3);
    ck_assert(eq(&ev[0], RID1) && eq(&ev[1], P1));
    ck_assert(eq(&ev[2], RID2) && eq(&ev[3], P2));
    ck_assert(eq(&ev[4], RID3) && eq(&ev[5], P3));
}
END_TEST

START_TEST(an_event_without_fields)
{
    static const char one[] = "request_id:30:" RID1 "\n" "request_id:30:" RID2 "\n" P2;
    sv_t  kv[4] = { SV("v"), SV("3"), SV("e"), SV(one) };
    sv_t  ev[4];
    char  err[128];

    /* split as two; the first then fails to decode on its own (no fields) */
    ck_assert_int_eq(entry3_split(kv, 2, ev, err, sizeof(err)), 2);
    ck_assert(eq(&ev[0], RID1) && ev[1].n == 0);
    ck_assert(eq(&ev[2], RID2) && eq(&ev[3], P2));
}
END_TEST

START_TEST(other_versions_are_one_event)
{
    static const sv_t v2[] = { SV("v"), SV("2"), SV("request_id"), SV("r"), SV("e"), SV("") };
    static const sv_t v1[] = { SV("request_id"), SV("r"), SV("v"), SV("1") };
    static const sv_t v33[] = { SV("v"), SV("33"), SV("e"), SV("") };
    static const sv_t nov[] = { SV("request_id"), SV("r"), SV("e"), SV("") };
    char err[128];

    ck_assert_int_eq(entry3_split(v2, 3, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(entry3_split(v1, 2, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(entry3_split(v33, 2, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(entry3_split(nov, 2, NULL, err, sizeof(err)), 0);
}
END_TEST

START_TEST(malformed_is_poison)
{
    static const sv_t notfirst[] = { SV("e"), SV(e3), SV("v"), SV("3") };
    static const sv_t noe[] = { SV("v"), SV("3") };
    static const sv_t extra[] = { SV("v"), SV("3"), SV("e"), SV(e3), SV("x"), SV("y") };
    static const sv_t empty[] = { SV("v"), SV("3"), SV("e"), SV("") };
    static const sv_t norid[] = { SV("v"), SV("3"), SV("e"), SV(P1 "request_id:30:" RID1 "\n") };
    static const sv_t cut[] = { SV("v"), SV("3"), SV("e"), { e3, sizeof(e3) - 3 } };
    char err[128];

    ck_assert_int_eq(entry3_split(notfirst, 2, NULL, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "not v, then e"));
    ck_assert_int_eq(entry3_split(noe, 1, NULL, err, sizeof(err)), -1);
    ck_assert_int_eq(entry3_split(extra, 3, NULL, err, sizeof(err)), -1);
    ck_assert_int_eq(entry3_split(empty, 2, NULL, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "no events"));
    ck_assert_int_eq(entry3_split(norid, 2, NULL, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "does not start with a request_id"));
    ck_assert_int_eq(entry3_split(cut, 2, NULL, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "field e: "));
}
END_TEST

START_TEST(too_many_events_is_poison)
{
    static const char one[] = "request_id:1:r\n";
    size_t  n, i, len = sizeof(one) - 1;
    char   *p = malloc((LAVA_EVENT_V3_READ_MAX + 1) * len);
    sv_t    kv[4] = { SV("v"), SV("3"), SV("e"), { p, 0 } };
    char    err[128];

    ck_assert_ptr_nonnull(p);
    for (i = 0; i <= LAVA_EVENT_V3_READ_MAX; i++) {
        memcpy(p + i * len, one, len);
    }
    for (n = LAVA_EVENT_V3_READ_MAX; n <= LAVA_EVENT_V3_READ_MAX + 1; n++) {
        kv[3].n = n * len;
        ck_assert_int_eq(entry3_split(kv, 2, NULL, err, sizeof(err)),
                         n <= LAVA_EVENT_V3_READ_MAX ? (long) n : -1);
    }
    ck_assert_ptr_nonnull(strstr(err, "more than 1024 events"));
    free(p);
}
END_TEST

START_TEST(each_event_as_version_2)
{
    sv_t rid = SV(RID2), payload = SV(P2);
    sv_t out[2 * ENTRY3_PAIRS];

    entry3_event(&rid, &payload, out);
    ck_assert(eq(&out[0], "v") && eq(&out[1], "2"));
    ck_assert(eq(&out[2], "request_id") && out[3].p == rid.p && out[3].n == rid.n);
    ck_assert(eq(&out[4], "e") && out[5].p == payload.p && out[5].n == payload.n);
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
    uint32_t n = 7;

    /* as partition_of() keys a version 2 entry: customer, merchant, id */
    ck_assert_int_eq(partition_of_event(P1, strlen(P1), "1-0/1", 5, (int) n),
                     (int) (partition_hash("c1", 2) % n));
    ck_assert_int_eq(partition_of_event(P2, strlen(P2), "1-0/2", 5, (int) n),
                     (int) (partition_hash("m1", 2) % n));
    ck_assert_int_eq(partition_of_event(P3, strlen(P3), "1-0/3", 5, (int) n),
                     (int) (partition_hash("1-0/3", 5) % n));
    ck_assert_int_eq(partition_of_event(P1, strlen(P1), "1-0/1", 5, 1), 0);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("entry3");
    TCase *tc = tcase_create("entry3");

    tcase_add_test(tc, splits_the_events);
    tcase_add_test(tc, an_event_without_fields);
    tcase_add_test(tc, other_versions_are_one_event);
    tcase_add_test(tc, malformed_is_poison);
    tcase_add_test(tc, too_many_events_is_poison);
    tcase_add_test(tc, each_event_as_version_2);
    tcase_add_test(tc, own_stream_id);
    tcase_add_test(tc, partition_per_event);
    suite_add_tcase(s, tc);
    return s;
}
