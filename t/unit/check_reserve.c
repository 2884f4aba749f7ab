/*
 * Wallet reservation arithmetic (lib/lava_reserve.c): the amount is an
 * upper bound of what the sidecar books for the same usage (each amount
 * rounded half up once), computed in 128-bit integers and saturated, never
 * wrapped; the token bounds of a request; the buckets a booked usage is
 * held for.
 */

#include <stdint.h>
#include <string.h>

#include "unit.h"
#include "lava_reserve.h"


/* gpt-4o-mini list prices with a 1.9 % service charge folded in, as the
 * sidecar renders them: ceil(150000000 * 1.019), ceil(600000000 * 1.019) */
static const lava_reserve_rates_t  mini = { 152850000, 611400000, 0, 0, 0 };


START_TEST(test_amount)
{
    lava_reserve_rates_t  rt;

    /* 1000 in + 1000 out: 152850 + 611400 = 764250, plus the rounding */
    ck_assert_int_eq(lava_reserve_amount(&mini, 1000, 1000),
                     764250 + LAVA_RESERVE_ROUNDING);

    /* nothing: the rounding only */
    ck_assert_int_eq(lava_reserve_amount(&mini, 0, 0), LAVA_RESERVE_ROUNDING);
    ck_assert_int_eq(lava_reserve_amount(&mini, -5, -5),
                     LAVA_RESERVE_ROUNDING);

    /* one token: 152.85 nusd rounds up to 153 */
    ck_assert_int_eq(lava_reserve_amount(&mini, 1, 0),
                     153 + LAVA_RESERVE_ROUNDING);

    /* a 20 % meter: base times 1.2, rounded up */
    rt = mini;
    rt.fee_ppm = 200000;
    ck_assert_int_eq(lava_reserve_amount(&rt, 1000, 1000),
                     917100 + LAVA_RESERVE_ROUNDING);
    ck_assert_int_eq(lava_reserve_amount(&rt, 1, 0),
                     184 + LAVA_RESERVE_ROUNDING);    /* 153 * 1.2 = 183.6 */

    /* a fixed meter per 1M tokens and one per request */
    rt = mini;
    rt.fee_per_1m = 5095000000;                 /* $5 per 1M, charge in */
    rt.fee_per_request = 1019;
    ck_assert_int_eq(lava_reserve_amount(&rt, 1000, 1000),
                     764250 + 10190000 + 1019 + LAVA_RESERVE_ROUNDING);
}
END_TEST


START_TEST(test_overflow)
{
    lava_reserve_rates_t  rt;

    memset(&rt, 0, sizeof(rt));
    rt.in = INT64_MAX;
    rt.out = INT64_MAX;

    /* 2^63 * 2^63 * 2 does not wrap: saturates */
    ck_assert(lava_reserve_amount(&rt, INT64_MAX, INT64_MAX) == INT64_MAX);
    ck_assert(lava_reserve_amount(&rt, 1000000, 0) == INT64_MAX);

    /* just below 2^63 nusd: exact */
    rt.in = 1000000;
    rt.out = 0;
    ck_assert(lava_reserve_amount(&rt, INT64_MAX - 10, 0)
              == INT64_MAX - 10 + LAVA_RESERVE_ROUNDING);
    ck_assert(lava_reserve_amount(&rt, INT64_MAX, 0) == INT64_MAX);

    /* a huge percentage */
    rt.in = 1000000;
    rt.fee_ppm = INT64_MAX;
    ck_assert(lava_reserve_amount(&rt, 1, 0) == INT64_MAX);
    rt.fee_ppm = 0;
    rt.fee_per_1m = INT64_MAX;
    ck_assert(lava_reserve_amount(&rt, INT64_MAX, INT64_MAX) == INT64_MAX);
    rt.fee_per_1m = 0;
    rt.fee_per_request = INT64_MAX;
    ck_assert(lava_reserve_amount(&rt, 1, 0) == INT64_MAX);

    ck_assert(lava_reserve_add(INT64_MAX, 1) == INT64_MAX);
    ck_assert(lava_reserve_add(INT64_MIN, -1) == INT64_MIN);
    ck_assert(lava_reserve_sub(INT64_MIN, 1) == INT64_MIN);
    ck_assert(lava_reserve_sub(INT64_MAX, -1) == INT64_MAX);
    ck_assert(lava_reserve_sub(-250, 1000) == -1250);
}
END_TEST


static int
inspect(lava_request_t *rq, const char *body)
{
    return lava_request_inspect(rq, LAVA_EP_CHAT, body, strlen(body));
}


START_TEST(test_tokens)
{
    lava_request_t  rq;

    ck_assert_int_eq(lava_reserve_input_max(1234), 1234);
    ck_assert_int_eq(lava_reserve_input_max(-1), 0);

    /* no body read: the family's default */
    ck_assert_int_eq(lava_meter_output_max(NULL, LAVA_USAGE_OPENAI),
                     LAVA_METER_OUTPUT_MAX_OPENAI);
    ck_assert_int_eq(lava_meter_output_max(NULL, LAVA_USAGE_GEMINI),
                     LAVA_METER_OUTPUT_MAX_GEMINI);
    ck_assert_int_eq(lava_meter_output_max(NULL, LAVA_USAGE_ANTHROPIC),
                     LAVA_METER_OUTPUT_MAX_ANTHROPIC);

    /* the request's own bound, as lava_request_inspect reads it */
    ck_assert_int_eq(inspect(&rq,
                         "{\"model\":\"m\",\"max_tokens\":50}"), 0);
    ck_assert_int_eq(lava_meter_output_max(&rq, LAVA_USAGE_OPENAI), 50);

    ck_assert_int_eq(inspect(&rq,
                         "{\"model\":\"m\",\"max_completion_tokens\":70,"
                         "\"max_tokens\":20}"), 0);
    ck_assert_int_eq(lava_meter_output_max(&rq, LAVA_USAGE_OPENAI), 70);

    ck_assert_int_eq(inspect(&rq,
                         "{\"generationConfig\":{\"maxOutputTokens\":33}}"),
                     0);
    ck_assert_int_eq(lava_meter_output_max(&rq, LAVA_USAGE_GEMINI), 33);

    /* absent, zero or beyond what any model answers: the default */
    ck_assert_int_eq(inspect(&rq, "{\"model\":\"m\",\"max_tokens\":0}"), 0);
    ck_assert_int_eq(lava_meter_output_max(&rq, LAVA_USAGE_ANTHROPIC),
                     LAVA_METER_OUTPUT_MAX_ANTHROPIC);

    /* n answers of it */
    ck_assert_int_eq(inspect(&rq,
                         "{\"model\":\"m\",\"max_tokens\":10,\"n\":4}"), 0);
    ck_assert_int_eq(lava_meter_output_max(&rq, LAVA_USAGE_OPENAI), 40);
}
END_TEST


START_TEST(test_usage)
{
    int                   other;
    int64_t               in, out;
    lava_usage_buckets_t  u;

    memset(&u, 0, sizeof(u));
    u.input_tokens = 10;
    u.cached_input_tokens = 20;
    u.cache_write_tokens = 30;
    u.cache_write_1h_tokens = 40;
    u.audio_input_tokens = 50;
    u.characters = 60;
    u.output_tokens = 1;
    u.reasoning_tokens = 2;
    u.audio_output_tokens = 3;
    u.requests = 1;

    lava_reserve_usage_tokens(&u, &in, &out, &other);
    ck_assert_int_eq(in, 210);
    ck_assert_int_eq(out, 6);
    ck_assert_int_eq(other, 0);

    u.images = 1;
    lava_reserve_usage_tokens(&u, &in, &out, &other);
    ck_assert_int_eq(other, 1);

    memset(&u, 0, sizeof(u));
    u.usage_duration_ms = 1;
    u.input_tokens = INT64_MAX;
    u.cached_input_tokens = INT64_MAX;
    lava_reserve_usage_tokens(&u, &in, &out, &other);
    ck_assert(in == INT64_MAX);
    ck_assert_int_eq(other, 1);
}
END_TEST


START_TEST(test_undated)
{
    ck_assert_uint_eq(lava_reserve_undated("gpt-4o-2024-08-06", 17), 6);
    ck_assert_uint_eq(lava_reserve_undated("claude-sonnet-4-5-20250929", 26),
                      17);
    ck_assert_uint_eq(lava_reserve_undated("gpt-4o", 6), 6);
    ck_assert_uint_eq(lava_reserve_undated("-20250929", 9), 9);
    ck_assert_uint_eq(lava_reserve_undated("x-2024-0806", 11), 11);
    ck_assert_uint_eq(lava_reserve_undated("", 0), 0);
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("reserve");
    tc = tcase_create("core");
    tcase_add_test(tc, test_amount);
    tcase_add_test(tc, test_overflow);
    tcase_add_test(tc, test_tokens);
    tcase_add_test(tc, test_usage);
    tcase_add_test(tc, test_undated);
    suite_add_tcase(s, tc);

    return s;
}
