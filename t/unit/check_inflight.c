/*
 * In-flight records (lib/lava_inflight.h): the slot table (claim, stale
 * references, release, a full table, the owners of used records and taking
 * a dead owner's), the usage booked for a record whose worker died, and the
 * /proc/<pid>/stat reader.
 */

#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "lava_inflight.h"


static lava_inflight_table_t *
table(uint32_t n)
{
    void  *mem;

    mem = calloc(1, lava_inflight_size(n));
    ck_assert_ptr_nonnull(mem);

    return lava_inflight_init(mem, n);
}


START_TEST(test_size)
{
    ck_assert_uint_eq(lava_inflight_slots(lava_inflight_size(7)), 7);
    ck_assert_uint_eq(lava_inflight_slots(lava_inflight_size(7) - 1), 6);
    ck_assert_uint_eq(lava_inflight_slots(sizeof(lava_inflight_table_t)), 0);
    {
        void  *mem = malloc(lava_inflight_size(1));

        ck_assert_ptr_nonnull(mem);
        ck_assert_ptr_null(lava_inflight_init(mem, 0));
        free(mem);
    }
    /* a slot is a few kilobytes at most: 8m holds thousands */
    ck_assert_uint_lt(sizeof(lava_inflight_rec_t), 3000);
}
END_TEST


START_TEST(test_claim_release)
{
    lava_inflight_table_t  *t = table(3);
    lava_inflight_owner_t   me = { 100, 5 };
    lava_inflight_ref_t     a, b, c, d, stale;
    lava_inflight_rec_t    *r;

    r = lava_inflight_claim(t, &me, &a);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->state, LAVA_INFLIGHT_LIVE);
    ck_assert_int_eq(r->ttfb_ms, -1);
    ck_assert_int_eq(r->character_cost, -1);
    ck_assert_uint_ne(a.gen, 0);
    ck_assert_ptr_eq(lava_inflight_get(t, a), r);

    ck_assert_ptr_nonnull(lava_inflight_claim(t, &me, &b));
    ck_assert_ptr_nonnull(lava_inflight_claim(t, &me, &c));
    ck_assert_uint_eq(t->used, 3);
    ck_assert_uint_eq(t->hwm, 3);

    /* full: refused and counted, never a slot of someone else */
    ck_assert_ptr_null(lava_inflight_claim(t, &me, &d));
    ck_assert_uint_eq(d.gen, 0);
    ck_assert_uint_eq(t->full, 1);
    ck_assert_ptr_null(lava_inflight_get(t, d));

    /* released once; the reference is stale after */
    ck_assert_int_eq(lava_inflight_release(t, b), 1);
    ck_assert_int_eq(lava_inflight_release(t, b), 0);
    ck_assert_ptr_null(lava_inflight_get(t, b));

    /* the slot again, under a new generation: the old reference finds
     * nothing */
    stale = b;
    r = lava_inflight_claim(t, &me, &d);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(d.idx, stale.idx);
    ck_assert_uint_ne(d.gen, stale.gen);
    ck_assert_ptr_null(lava_inflight_get(t, stale));
    ck_assert_int_eq(lava_inflight_release(t, stale), 0);
    ck_assert_ptr_eq(lava_inflight_get(t, d), r);

    /* an empty or out of range reference */
    stale.gen = 0;
    ck_assert_ptr_null(lava_inflight_get(t, stale));
    stale.idx = 99;
    stale.gen = a.gen;
    ck_assert_ptr_null(lava_inflight_get(t, stale));

    /* the high water mark comes down as the top slots are freed */
    ck_assert_int_eq(lava_inflight_release(t, c), 1);
    ck_assert_uint_eq(t->hwm, 3 - (c.idx == 2));
    ck_assert_int_eq(lava_inflight_release(t, d), 1);
    ck_assert_int_eq(lava_inflight_release(t, a), 1);
    ck_assert_uint_eq(t->used, 0);
    ck_assert_uint_eq(t->hwm, 0);
    ck_assert_uint_eq(t->claimed, 4);

    free(t);
}
END_TEST


START_TEST(test_owners_take)
{
    size_t                  n;
    lava_inflight_table_t  *t = table(8);
    lava_inflight_owner_t   me = { 100, 5 }, w1 = { 200, 6 }, w2 = { 300, 7 };
    lava_inflight_owner_t   reused = { 100, 9 };    /* my pid, another life */
    lava_inflight_owner_t   out[8];
    lava_inflight_ref_t     ref[8], got[8];
    lava_inflight_rec_t    *r;

    ck_assert_ptr_nonnull(lava_inflight_claim(t, &me, &ref[0]));
    ck_assert_ptr_nonnull(lava_inflight_claim(t, &w1, &ref[1]));
    ck_assert_ptr_nonnull(lava_inflight_claim(t, &w1, &ref[2]));
    ck_assert_ptr_nonnull(lava_inflight_claim(t, &w2, &ref[3]));
    ck_assert_ptr_nonnull(lava_inflight_claim(t, &reused, &ref[4]));
    ck_assert_ptr_nonnull(lava_inflight_claim(t, &w1, &ref[5]));

    /* distinct, without me; a reused pid is another owner */
    n = lava_inflight_owners(t, &me, out, 8);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(out[0].pid, 200);
    ck_assert_int_eq(out[1].pid, 300);
    ck_assert_int_eq(out[2].pid, 100);
    ck_assert_uint_eq(out[2].start, 9);
    ck_assert_uint_eq(lava_inflight_owners(t, &me, out, 1), 1);

    /* taken in batches: fewer than asked means none left */
    n = lava_inflight_take(t, &w1, &me, got, 2);
    ck_assert_uint_eq(n, 2);
    n += lava_inflight_take(t, &w1, &me, got + 2, 2);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(lava_inflight_take(t, &w1, &me, got, 2), 0);
    ck_assert_uint_eq(t->taken, 3);

    /* the same references still name them, now mine */
    r = lava_inflight_get(t, ref[2]);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->owner.pid, 100);
    ck_assert_uint_eq(r->owner.start, 5);
    ck_assert_uint_eq(r->taken, 1);
    ck_assert_uint_eq(got[0].idx, ref[1].idx);
    ck_assert_uint_eq(got[0].gen, ref[1].gen);

    /* w2's untouched; once w1's are mine only w2 and the reused pid are
     * others */
    ck_assert_int_eq(lava_inflight_get(t, ref[3])->owner.pid, 300);
    ck_assert_uint_eq(lava_inflight_owners(t, &me, out, 8), 2);

    /* a free slot is never taken */
    ck_assert_int_eq(lava_inflight_release(t, ref[3]), 1);
    ck_assert_uint_eq(lava_inflight_take(t, &w2, &me, got, 8), 0);

    free(t);
}
END_TEST


static lava_inflight_rec_t *
chat(lava_inflight_table_t *t, lava_inflight_ref_t *ref)
{
    lava_inflight_owner_t   w = { 200, 6 };
    lava_inflight_rec_t    *r;

    r = lava_inflight_claim(t, &w, ref);
    ck_assert_ptr_nonnull(r);

    r->ep = LAVA_EP_CHAT;
    r->fmt = LAVA_USAGE_OPENAI;
    r->rq_parsed = 1;
    r->rq_text_bytes = 4000;            /* 1000 tokens of prompt */
    r->request_bytes = 4200;
    r->stream = 1;

    return r;
}


START_TEST(test_usage_live)
{
    int64_t                 status;
    unsigned                tf, mf;
    lava_usage_t            u;
    lava_inflight_ref_t     ref;
    lava_inflight_rec_t    *r;
    lava_inflight_table_t  *t = table(2);

    /* not answered yet: the prompt, as the provider may have it */
    r = chat(t, &ref);
    ck_assert_int_eq(lava_inflight_usage(r, &u, &tf, &mf, &status),
                     LAVA_SOURCE_ESTIMATED);
    ck_assert_int_eq(u.input_tokens, 1000);
    ck_assert_int_eq(u.output_tokens, 0);
    ck_assert_uint_eq(mf, LAVA_METER_F_ABORT | LAVA_METER_F_WORKER_LOST);
    ck_assert_int_eq(status, 500);

    /* streaming: the text relayed so far counts as output */
    r->status = 200;
    r->content_bytes = 401;
    ck_assert_int_eq(lava_inflight_usage(r, &u, &tf, &mf, &status),
                     LAVA_SOURCE_ESTIMATED);
    ck_assert_int_eq(u.input_tokens, 1000);
    ck_assert_int_eq(u.output_tokens, 101);
    ck_assert_int_eq(status, 200);

    /* capped by the request's own bound */
    r->rq_max_output = 50;
    ck_assert_int_eq(lava_inflight_usage(r, &u, &tf, &mf, &status),
                     LAVA_SOURCE_ESTIMATED);
    ck_assert_int_eq(u.output_tokens, 50);
    ck_assert_uint_eq(mf, LAVA_METER_F_ABORT | LAVA_METER_F_CAPPED
                          | LAVA_METER_F_WORKER_LOST);
    r->rq_max_output = 0;

    /* partial usage seen (Anthropic message_start): a floor */
    r->usage_seen = 1;
    r->usage.input_tokens = 1200;
    r->usage.output_tokens = 3;
    ck_assert_int_eq(lava_inflight_usage(r, &u, &tf, &mf, &status),
                     LAVA_SOURCE_ESTIMATED);
    ck_assert_int_eq(u.input_tokens, 1200);
    ck_assert_int_eq(u.output_tokens, 101);
    ck_assert(mf & LAVA_METER_F_PARTIAL);

    /* the final usage seen before the worker died: booked as reported */
    r->usage_final = 1;
    r->usage.output_tokens = 140;
    ck_assert_int_eq(lava_inflight_usage(r, &u, &tf, &mf, &status),
                     LAVA_SOURCE_REPORTED);
    ck_assert_int_eq(u.output_tokens, 140);
    ck_assert_uint_eq(mf, LAVA_METER_F_WORKER_LOST);

    /* a provider error books nothing */
    r = chat(t, &ref);
    r->status = 429;
    ck_assert_int_eq(lava_inflight_usage(r, &u, &tf, &mf, &status),
                     LAVA_SOURCE_NONE);
    ck_assert_int_eq(u.input_tokens, 0);
    ck_assert_int_eq(status, 429);

    free(t);
}
END_TEST


START_TEST(test_usage_done)
{
    int64_t                 status;
    unsigned                tf, mf;
    lava_usage_t            u;
    lava_inflight_ref_t     ref;
    lava_inflight_rec_t    *r;
    lava_inflight_table_t  *t = table(1);

    /* the event was queued: its usage, not an estimate */
    r = chat(t, &ref);
    r->status = 200;
    r->content_bytes = 99999;
    r->usage.input_tokens = 12;
    r->usage.output_tokens = 34;
    r->usage.requests = 1;
    r->tap_flags = 0x04;
    r->done_source = LAVA_SOURCE_REPORTED;
    r->done_meter_flags = LAVA_METER_F_MODEL_DEFAULT;
    r->done_status = 201;
    r->state = LAVA_INFLIGHT_DONE;

    ck_assert_int_eq(lava_inflight_usage(r, &u, &tf, &mf, &status),
                     LAVA_SOURCE_REPORTED);
    ck_assert_int_eq(u.input_tokens, 12);
    ck_assert_int_eq(u.output_tokens, 34);
    ck_assert_int_eq(u.requests, 1);
    ck_assert_uint_eq(tf, 0x04);
    ck_assert_uint_eq(mf, LAVA_METER_F_MODEL_DEFAULT
                          | LAVA_METER_F_WORKER_LOST);
    ck_assert_int_eq(status, 201);

    {
        char  buf[64];

        (void) lava_meter_flags_str(mf, buf, 0, sizeof(buf));
        ck_assert_str_eq(buf, "model_default,worker_lost");
    }

    free(t);
}
END_TEST


START_TEST(test_copy)
{
    char  buf[5];

    ck_assert_uint_eq(lava_inflight_copy(buf, sizeof(buf), "abc", 3), 3);
    ck_assert_str_eq(buf, "abc");
    ck_assert_uint_eq(lava_inflight_copy(buf, sizeof(buf), "abcdef", 6), 4);
    ck_assert_str_eq(buf, "abcd");
    /* "ab" + U+00E9 + U+00E9: not cut inside the second character */
    ck_assert_uint_eq(lava_inflight_copy(buf, sizeof(buf),
                                         "ab\xc3\xa9\xc3\xa9", 6), 4);
    ck_assert_str_eq(buf, "ab\xc3\xa9");
    ck_assert_uint_eq(lava_inflight_copy(buf, sizeof(buf),
                                         "abc\xc3\xa9", 5), 3);
    ck_assert_str_eq(buf, "abc");
    ck_assert_uint_eq(lava_inflight_copy(buf, sizeof(buf), "", 0), 0);
    ck_assert_str_eq(buf, "");
}
END_TEST


START_TEST(test_proc_stat)
{
    char         st;
    uint64_t     start;
    const char  *ok = "4242 (nginx: worker (x) ) S 4240 4240 4240 0 -1 "
                      "4194624 100 0 0 0 1 2 0 0 20 0 1 0 987654321 "
                      "123456 789 18446744073709551615";
    const char  *zombie = "7 (a) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
                          "55 0 0";

    ck_assert_int_eq(lava_inflight_proc_stat(ok, strlen(ok), &st, &start),
                     0);
    ck_assert_int_eq(st, 'S');
    ck_assert_uint_eq(start, 987654321ULL);

    ck_assert_int_eq(lava_inflight_proc_stat(zombie, strlen(zombie), &st,
                                             &start), 0);
    ck_assert_int_eq(st, 'Z');
    ck_assert_uint_eq(start, 55);

    ck_assert_int_eq(lava_inflight_proc_stat("", 0, &st, &start), -1);
    ck_assert_int_eq(lava_inflight_proc_stat("1 (a) S 1 2", 11, &st, &start),
                     -1);
    ck_assert_int_eq(lava_inflight_proc_stat("1 (a)", 5, &st, &start), -1);
    ck_assert_int_eq(lava_inflight_proc_stat("no parenthesis", 14, &st,
                                             &start), -1);
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s = suite_create("inflight");
    TCase  *tc = tcase_create("inflight");

    tcase_add_test(tc, test_size);
    tcase_add_test(tc, test_claim_release);
    tcase_add_test(tc, test_owners_take);
    tcase_add_test(tc, test_usage_live);
    tcase_add_test(tc, test_usage_done);
    tcase_add_test(tc, test_copy);
    tcase_add_test(tc, test_proc_stat);
    suite_add_tcase(s, tc);

    return s;
}
