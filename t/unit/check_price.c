/*
 * Money and pricing, with worked examples. Every expected amount is written
 * out by hand in the comment beside it (nano-USD, "nusd"; rates are nusd per
 * 1M tokens, so $0.15 per 1M tokens is 150000000).
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "unit.h"
#include "money.h"
#include "price.h"
#include "rates.h"


/* gpt-4o-mini list price: $0.15 in, $0.075 cached, $0.60 out per 1M tokens */
static rate_t
mini_rate(void)
{
    rate_t r = {
        .id = 2, .effective_from_ms = 0, .provider = "openai", .model = "gpt-4o-mini",
        .input = 150000000, .cached_input = 75000000, .cache_write = PRICE_UNSET,
        .cache_write_1h = PRICE_UNSET, .output = 600000000, .reasoning = PRICE_UNSET,
        .audio_input = PRICE_UNSET, .audio_output = PRICE_UNSET,
        .characters = PRICE_UNSET, .per_hour = PRICE_UNSET, .per_request = PRICE_UNSET,
        .per_image = PRICE_UNSET, .per_web_search = PRICE_UNSET,
        .per_web_fetch = PRICE_UNSET, .per_grounded_prompt = PRICE_UNSET
    };
    return r;
}

/* ---------------------------------------------------------------- money */

START_TEST(muldiv_rounds_half_up)
{
    int64_t v;

    /* 1 * 1 / 2 = 0.5 -> 1 */
    ck_assert_int_eq(money_muldiv(1, 1, 2, &v), 0);
    ck_assert_int_eq(v, 1);
    /* 4 / 10 = 0.4 -> 0 */
    ck_assert_int_eq(money_muldiv(4, 1, 10, &v), 0);
    ck_assert_int_eq(v, 0);
    /* 5 / 10 = 0.5 -> 1 */
    ck_assert_int_eq(money_muldiv(5, 1, 10, &v), 0);
    ck_assert_int_eq(v, 1);
    /* 25 / 10 = 2.5 -> 3 (half up, not half even) */
    ck_assert_int_eq(money_muldiv(25, 1, 10, &v), 0);
    ck_assert_int_eq(v, 3);
    /* 1 / 3 = 0.333 -> 0; 2 / 3 = 0.667 -> 1 */
    ck_assert_int_eq(money_muldiv(1, 1, 3, &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(money_muldiv(2, 1, 3, &v), 0);
    ck_assert_int_eq(v, 1);
    /* 1499999 / 1e6 = 1.499999 -> 1; 1500000 / 1e6 = 1.5 -> 2 */
    ck_assert_int_eq(money_muldiv(1499999, 1, MONEY_PER_MILLION, &v), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(money_muldiv(1500000, 1, MONEY_PER_MILLION, &v), 0);
    ck_assert_int_eq(v, 2);
    /* zero stays zero */
    ck_assert_int_eq(money_muldiv(0, 123456789, MONEY_PER_MILLION, &v), 0);
    ck_assert_int_eq(v, 0);
}
END_TEST

START_TEST(muldiv_is_exact_in_128_bits)
{
    int64_t v;

    /* (2^63-1)^2 / (2^63-1) = 2^63-1: the product never fits in 64 bits */
    ck_assert_int_eq(money_muldiv(INT64_MAX, INT64_MAX, INT64_MAX, &v), 0);
    ck_assert_int_eq(v, INT64_MAX);
    /* 3e12 tokens * $10 per 1M = $30,000,000 = 3e16 nusd */
    ck_assert_int_eq(money_muldiv(3000000000000LL, 10000000000LL, MONEY_PER_MILLION, &v), 0);
    ck_assert_int_eq(v, 30000000000000000LL);
}
END_TEST

START_TEST(muldiv_detects_overflow_and_bad_input)
{
    int64_t v = 42;

    /* 2 * (2^63-1) does not fit in int64 */
    ck_assert_int_eq(money_muldiv(INT64_MAX, 2, 1, &v), -1);
    /* (2^63-1)^2 / 1e6 does not fit either */
    ck_assert_int_eq(money_muldiv(INT64_MAX, INT64_MAX, MONEY_PER_MILLION, &v), -1);
    /* negatives and a zero divisor are refused, not computed */
    ck_assert_int_eq(money_muldiv(-1, 1, 1, &v), -1);
    ck_assert_int_eq(money_muldiv(1, -1, 1, &v), -1);
    ck_assert_int_eq(money_muldiv(1, 1, 0, &v), -1);
    ck_assert_int_eq(v, 42);   /* untouched on failure */
}
END_TEST

START_TEST(add_detects_overflow)
{
    int64_t v;

    ck_assert_int_eq(money_add(INT64_MAX - 1, 1, &v), 0);
    ck_assert_int_eq(v, INT64_MAX);
    ck_assert_int_eq(money_add(INT64_MAX, 1, &v), -1);
    ck_assert_int_eq(money_add(-1, 1, &v), -1);
}
END_TEST

START_TEST(acc_detects_sum_overflow)
{
    money_acc_t acc;
    int64_t     v;
    int         i;

    /* four products of (2^63-1)^2 exceed 2^127 */
    money_acc_init(&acc);
    for (i = 0; i < 4; i++) {
        money_acc_add(&acc, INT64_MAX, INT64_MAX);
    }
    ck_assert_int_eq(acc.bad, 1);
    ck_assert_int_eq(money_acc_div(&acc, INT64_MAX, &v), -1);

    /* rounding happens once, on the sum: 0.4 + 0.4 = 0.8 -> 1, where
     * rounding each part would give 0 + 0 */
    money_acc_init(&acc);
    money_acc_add(&acc, 400000, 1);
    money_acc_add(&acc, 400000, 1);
    ck_assert_int_eq(money_acc_div(&acc, MONEY_PER_MILLION, &v), 0);
    ck_assert_int_eq(v, 1);
}
END_TEST

/* ----------------------------------------------------------- base cost */

START_TEST(base_gpt4o_mini)
{
    rate_t      r = mini_rate();
    usage_t     u = { .input_tokens = 1000, .cached_input_tokens = 200, .output_tokens = 500 };
    const char *why = NULL;
    int64_t     v;

    /* 1000 * 150000000 / 1e6 = 150000
     *  200 *  75000000 / 1e6 =  15000
     *  500 * 600000000 / 1e6 = 300000  -> 465000 nusd = $0.000465 */
    ck_assert_int_eq(price_base(&u, 0, &r, &v, &why), 0);
    ck_assert_int_eq(v, 465000);
}
END_TEST

START_TEST(base_gpt4o_large)
{
    rate_t      r = mini_rate();
    usage_t     u = { .input_tokens = 1234567, .output_tokens = 7654321 };
    const char *why;
    int64_t     v;

    /* gpt-4o: $2.50 in, $10 out per 1M
     * 1234567 * 2500000000 / 1e6 =  3086417500
     * 7654321 * 10000000000 / 1e6 = 76543210000 -> 79629627500 */
    r.input = 2500000000LL;
    r.output = 10000000000LL;
    ck_assert_int_eq(price_base(&u, 0, &r, &v, &why), 0);
    ck_assert_int_eq(v, 79629627500LL);
}
END_TEST

START_TEST(base_rounds_once_half_up)
{
    rate_t      r = mini_rate();
    usage_t     u = { 0 };
    const char *why;
    int64_t     v;

    /* a rate of 1 nusd per 1M tokens: 500000 tokens = 0.5 nusd -> 1 */
    r.input = 1;
    r.output = 1;
    u.input_tokens = 500000;
    ck_assert_int_eq(price_base(&u, 0, &r, &v, &why), 0);
    ck_assert_int_eq(v, 1);
    /* 499999 tokens = 0.499999 -> 0 */
    u.input_tokens = 499999;
    ck_assert_int_eq(price_base(&u, 0, &r, &v, &why), 0);
    ck_assert_int_eq(v, 0);
    /* 300000 in + 300000 out = 0.3 + 0.3 = 0.6 -> 1 (one rounding of the sum) */
    u.input_tokens = 300000;
    u.output_tokens = 300000;
    ck_assert_int_eq(price_base(&u, 0, &r, &v, &why), 0);
    ck_assert_int_eq(v, 1);
}
END_TEST

START_TEST(base_fallback_prices)
{
    rate_t      r = mini_rate();
    usage_t     u = { 0 };
    const char *why;
    int64_t     v;

    /* no cached price: cache reads cost the input price, 100 * 150 = 15000 */
    r.cached_input = PRICE_UNSET;
    u.cached_input_tokens = 100;
    ck_assert_int_eq(price_base(&u, 0, &r, &v, &why), 0);
    ck_assert_int_eq(v, 15000);

    /* no reasoning price: reasoning costs the output price, 100 * 600 = 60000 */
    u.cached_input_tokens = 0;
    u.reasoning_tokens = 100;
    ck_assert_int_eq(price_base(&u, 0, &r, &v, &why), 0);
    ck_assert_int_eq(v, 60000);

    /* 1-hour cache writes fall back to cache_write, then to input */
    u.reasoning_tokens = 0;
    u.cache_write_1h_tokens = 1000;
    ck_assert_int_eq(price_base(&u, 0, &r, &v, &why), 0);
    ck_assert_int_eq(v, 150000);
    r.cache_write = 187500000;           /* $0.1875 */
    ck_assert_int_eq(price_base(&u, 0, &r, &v, &why), 0);
    ck_assert_int_eq(v, 187500);
}
END_TEST

START_TEST(base_refuses_audio_without_price)
{
    rate_t      r = mini_rate();
    usage_t     u = { .input_tokens = 10, .audio_input_tokens = 5 };
    const char *why = NULL;
    int64_t     v;

    ck_assert_int_eq(price_base(&u, 0, &r, &v, &why), -1);
    ck_assert_ptr_nonnull(why);

    /* with a price: 10 * 150 + 5 * 40000 = 1500 + 200000 */
    r.audio_input = 40000000000LL;       /* $40 per 1M */
    ck_assert_int_eq(price_base(&u, 0, &r, &v, &why), 0);
    ck_assert_int_eq(v, 201500);
}
END_TEST

START_TEST(base_detects_overflow)
{
    rate_t      r = mini_rate();
    usage_t     u = { .input_tokens = INT64_MAX, .output_tokens = INT64_MAX };
    const char *why = NULL;
    int64_t     v;

    r.input = INT64_MAX;
    r.output = INT64_MAX;
    ck_assert_int_eq(price_base(&u, 0, &r, &v, &why), -1);
    ck_assert_str_eq(why, "amount overflow");
}
END_TEST


/* --------------------------------------------- other units and tiers */

START_TEST(base_cache_write_and_read)
{
    /* Anthropic-style list price (USD per 1M): input 3, cache read 0.30,
     * 5-minute cache write 3.75, 1-hour cache write 6, output 15 */
    rate_t      r = mini_rate();
    usage_t     u = { .input_tokens = 1000, .cached_input_tokens = 20000,
                      .cache_write_tokens = 5000, .cache_write_1h_tokens = 2000,
                      .output_tokens = 700 };
    const char *why;
    int64_t     v;

    r.input = 3000000000LL;
    r.cached_input = 300000000LL;
    r.cache_write = 3750000000LL;
    r.cache_write_1h = 6000000000LL;
    r.output = 15000000000LL;

    /*  1000 * 3000  =  3000000   (input, nusd per token = rate / 1e6)
     * 20000 *  300  =  6000000   (cache reads)
     *  5000 * 3750  = 18750000   (5-minute writes)
     *  2000 * 6000  = 12000000   (1-hour writes)
     *   700 * 15000 = 10500000   (output)
     * sum 50250000 nusd = $0.05025; each bucket at its own price, a cache
     * read never charged as input too */
    ck_assert_int_eq(price_base(&u, 0, &r, &v, &why), 0);
    ck_assert_int_eq(v, 50250000);

    /* a 1-hour write without its own price costs the 5-minute price:
     * 2000 * 3750 = 7500000 instead of 12000000 */
    r.cache_write_1h = PRICE_UNSET;
    ck_assert_int_eq(price_base(&u, 0, &r, &v, &why), 0);
    ck_assert_int_eq(v, 50250000 - 12000000 + 7500000);
}
END_TEST

START_TEST(base_characters_duration_requests_images)
{
    rate_t      r = mini_rate();
    usage_t     u = { 0 };
    const char *why;
    int64_t     v;

    r.input = PRICE_UNSET;
    r.output = PRICE_UNSET;
    r.cached_input = PRICE_UNSET;

    /* text to speech, $15 per 1M characters: 1234 * 15000000000 / 1e6 = 18510000 */
    r.characters = 15000000000LL;
    u.characters = 1234;
    ck_assert_int_eq(price_base(&u, 1, &r, &v, &why), 0);
    ck_assert_int_eq(v, 18510000);

    /* transcription, $0.36 per hour ($0.006 a minute), billed on
     * milliseconds: 61500 ms * 360000000 / 3600000 = 6150000 */
    u = (usage_t) { .usage_duration_ms = 61500 };
    r.per_hour = 360000000;
    ck_assert_int_eq(price_base(&u, 1, &r, &v, &why), 0);
    ck_assert_int_eq(v, 6150000);

    /* $0.40 per hour (not a whole nano-USD per minute):
     * 90000 ms = 90000 * 400000000 / 3600000 = 10000000 ($0.01) */
    u.usage_duration_ms = 90000;
    r.per_hour = 400000000;
    ck_assert_int_eq(price_base(&u, 1, &r, &v, &why), 0);
    ck_assert_int_eq(v, 10000000);

    /* $0.006 per hour: 7 ms = 7 * 6000000 / 3600000 = 11.67 -> 12 */
    u.usage_duration_ms = 7;
    r.per_hour = 6000000;
    ck_assert_int_eq(price_base(&u, 1, &r, &v, &why), 0);
    ck_assert_int_eq(v, 12);

    /* images at $0.04 each and $0.01 per request: 2 * 40000000 + 10000000 */
    u = (usage_t) { .images = 2, .requests = 1 };
    r.per_image = 40000000;
    r.per_request = 10000000;
    ck_assert_int_eq(price_base(&u, 1, &r, &v, &why), 0);
    ck_assert_int_eq(v, 90000000);
    /* a provider error counts no request (the caller passes 0) */
    ck_assert_int_eq(price_base(&u, 0, &r, &v, &why), 0);
    ck_assert_int_eq(v, 80000000);

    /* one rounding over different units: 300000 characters at 1 nusd per
     * 1M (0.3) + 1200000 ms at 1 nusd per hour (0.333): 0.633 -> 1, where
     * rounding each would give 0 */
    u = (usage_t) { .characters = 300000, .usage_duration_ms = 1200000 };
    r.characters = 1;
    r.per_hour = 1;
    ck_assert_int_eq(price_base(&u, 0, &r, &v, &why), 0);
    ck_assert_int_eq(v, 1);
}
END_TEST

START_TEST(base_server_tool_calls)
{
    rate_t      r = mini_rate();
    usage_t     u = { 0 };
    const char *why = NULL;
    int64_t     v;

    /* tokens plus 3 web searches at $10 per 1,000 (10000000 nusd each):
     * 1000 * 150000000 / 1e6 + 3 * 10000000 */
    u = (usage_t) { .input_tokens = 1000, .web_search_calls = 3, .requests = 1 };
    ck_assert_int_eq(price_base(&u, 1, &r, &v, &why), -1);
    ck_assert_str_eq(why, "no web search price for the model");
    r.per_web_search = 10000000;
    ck_assert_int_eq(price_base(&u, 1, &r, &v, &why), 0);
    ck_assert_int_eq(v, 150000 + 30000000);

    /* web fetch: no price is unpriced, a price of 0 is free */
    u = (usage_t) { .input_tokens = 1000, .web_fetch_calls = 2 };
    ck_assert_int_eq(price_base(&u, 1, &r, &v, &why), -1);
    ck_assert_str_eq(why, "no web fetch price for the model");
    r.per_web_fetch = 0;
    ck_assert_int_eq(price_base(&u, 1, &r, &v, &why), 0);
    ck_assert_int_eq(v, 150000);

    /* Gemini 2.5: one grounded prompt at $35 per 1,000, its queries free
     * (web_search 0 on that row); Gemini 3 the other way round */
    u = (usage_t) { .grounded_prompts = 1, .web_search_calls = 4 };
    ck_assert_int_eq(price_base(&u, 1, &r, &v, &why), -1);
    ck_assert_str_eq(why, "no grounded prompt price for the model");
    r.per_grounded_prompt = 35000000;
    r.per_web_search = 0;
    ck_assert_int_eq(price_base(&u, 1, &r, &v, &why), 0);
    ck_assert_int_eq(v, 35000000);
    r.per_grounded_prompt = 0;
    r.per_web_search = 14000000;
    ck_assert_int_eq(price_base(&u, 1, &r, &v, &why), 0);
    ck_assert_int_eq(v, 56000000);
}
END_TEST

START_TEST(base_missing_unit_prices)
{
    rate_t      r = mini_rate();
    usage_t     u = { .characters = 10 };
    const char *why = NULL;
    int64_t     v;

    /* a unit with usage and no price is never free */
    ck_assert_int_eq(price_base(&u, 1, &r, &v, &why), -1);
    ck_assert_str_eq(why, "no character price for the model");
    u = (usage_t) { .usage_duration_ms = 10 };
    ck_assert_int_eq(price_base(&u, 1, &r, &v, &why), -1);
    ck_assert_str_eq(why, "no duration price for the model");
    u = (usage_t) { .images = 1 };
    ck_assert_int_eq(price_base(&u, 1, &r, &v, &why), -1);
    ck_assert_str_eq(why, "no image price for the model");
    u = (usage_t) { .output_tokens = 1 };
    r.output = PRICE_UNSET;
    ck_assert_int_eq(price_base(&u, 1, &r, &v, &why), -1);
    ck_assert_str_eq(why, "no output token price for the model");
    /* a request without a price costs nothing: chat models */
    u = (usage_t) { .input_tokens = 10, .requests = 1 };
    ck_assert_int_eq(price_base(&u, 1, &r, &v, &why), 0);
    ck_assert_int_eq(v, 1500);
}
END_TEST

/* ---------------------------------------------------- fees and charges */

static const tier_t pct10[] = { { 0, 100000 } };                 /* 10 % */

static meter_t
meter(fee_kind_e kind, meter_unit_e unit, token_basis_e basis, const tier_t *t, size_t n)
{
    meter_t m = { .merchant_id = "mer_a", .slug = "chat", .kind = kind, .unit = unit,
                  .basis = basis, .tiers = t, .ntiers = n };
    return m;
}

START_TEST(fee_percentage)
{
    meter_t       m = meter(FEE_PERCENTAGE, UNIT_TOKENS, BASIS_INPUT_OUTPUT, pct10, 1);
    tier_t        t25[] = { { 0, 25000 } };
    price_split_t sp[PRICE_MAX_TIERS];
    size_t        ns;
    int64_t       fee;

    /* 10 % of 465000 = 46500 */
    ck_assert_int_eq(price_fee(&m, 0, 1000, 465000, &fee, sp, &ns), 0);
    ck_assert_int_eq(fee, 46500);
    ck_assert_int_eq(ns, 1);
    ck_assert_int_eq(sp[0].units, 1000);
    /* 10 % of 5 = 0.5 -> 1; of 4 = 0.4 -> 0 */
    ck_assert_int_eq(price_fee(&m, 0, 1000, 5, &fee, sp, &ns), 0);
    ck_assert_int_eq(fee, 1);
    ck_assert_int_eq(price_fee(&m, 0, 1000, 4, &fee, sp, &ns), 0);
    ck_assert_int_eq(fee, 0);
    /* 2.5 % (25000 ppm) of 79629627500 = 1990740687.5 -> 1990740688 */
    m.tiers = t25;
    ck_assert_int_eq(price_fee(&m, 0, 1000, 79629627500LL, &fee, sp, &ns), 0);
    ck_assert_int_eq(fee, 1990740688LL);
    /* no units (nothing counted): the rate of the tier the customer is in */
    ck_assert_int_eq(price_fee(&m, 0, 0, 1000, &fee, sp, &ns), 0);
    ck_assert_int_eq(fee, 25);
    ck_assert_int_eq(ns, 0);
}
END_TEST

START_TEST(fee_fixed_per_million_tokens)
{
    tier_t        t[] = { { 0, 500000000 } };                    /* $0.50 per 1M */
    meter_t       m = meter(FEE_FIXED, UNIT_TOKENS, BASIS_OUTPUT, t, 1);
    usage_t       u = { .input_tokens = 1234567, .output_tokens = 7654321 };
    price_split_t sp[PRICE_MAX_TIERS];
    size_t        ns;
    int64_t       fee, units;

    /* output basis: 7654321 * 500000000 / 1e6 = 3827160500 */
    units = price_meter_units(&m, &u, 1);
    ck_assert_int_eq(units, 7654321);
    ck_assert_int_eq(price_fee(&m, 0, units, 0, &fee, sp, &ns), 0);
    ck_assert_int_eq(fee, 3827160500LL);

    /* input+output basis: 8888888 * 500 = 4444444000 */
    m.basis = BASIS_INPUT_OUTPUT;
    units = price_meter_units(&m, &u, 1);
    ck_assert_int_eq(units, 8888888);
    ck_assert_int_eq(price_fee(&m, 0, units, 0, &fee, sp, &ns), 0);
    ck_assert_int_eq(fee, 4444444000LL);

    /* reasoning and audio output count as output; cache reads as input */
    u = (usage_t) { .cached_input_tokens = 3, .output_tokens = 1, .reasoning_tokens = 2,
                    .audio_output_tokens = 4 };
    m.basis = BASIS_OUTPUT;
    units = price_meter_units(&m, &u, 1);
    ck_assert_int_eq(units, 7);
    /* 7 * 500000000 / 1e6 = 3500 */
    ck_assert_int_eq(price_fee(&m, 0, units, 0, &fee, sp, &ns), 0);
    ck_assert_int_eq(fee, 3500);
}
END_TEST

START_TEST(fee_fixed_other_units)
{
    tier_t        t[] = { { 0, 0 } };
    meter_t       m = meter(FEE_FIXED, UNIT_CHARACTERS, BASIS_INPUT_OUTPUT, t, 1);
    usage_t       u = { .characters = 2500, .usage_duration_ms = 90500, .input_tokens = 9 };
    price_split_t sp[PRICE_MAX_TIERS];
    size_t        ns;
    int64_t       fee;

    /* $2 per 1M characters: 2500 * 2000000000 / 1e6 = 5000000 */
    t[0].rate = 2000000000LL;
    ck_assert_int_eq(price_meter_units(&m, &u, 1), 2500);
    ck_assert_int_eq(price_fee(&m, 0, 2500, 0, &fee, sp, &ns), 0);
    ck_assert_int_eq(fee, 5000000);

    /* $0.10 per minute, counted in ms: 90500 * 100000000 / 60000 = 150833333.3 -> 150833333 */
    m.unit = UNIT_MINUTES;
    t[0].rate = 100000000;
    ck_assert_int_eq(price_meter_units(&m, &u, 1), 90500);
    ck_assert_int_eq(price_fee(&m, 0, 90500, 0, &fee, sp, &ns), 0);
    ck_assert_int_eq(fee, 150833333);

    /* $0.05 per request */
    m.unit = UNIT_REQUESTS;
    t[0].rate = 50000000;
    ck_assert_int_eq(price_meter_units(&m, &u, 1), 1);
    ck_assert_int_eq(price_meter_units(&m, &u, 0), 0);
    ck_assert_int_eq(price_fee(&m, 0, 1, 0, &fee, sp, &ns), 0);
    ck_assert_int_eq(fee, 50000000);
}
END_TEST

START_TEST(fee_graduated_across_a_boundary)
{
    /* $5 per 1M tokens for the first 1M, $3 up to 10M, $1 beyond */
    tier_t        t[] = { { 0, 5000000000LL }, { 1000000, 3000000000LL },
                          { 10000000, 1000000000LL } };
    meter_t       m = meter(FEE_FIXED, UNIT_TOKENS, BASIS_INPUT_OUTPUT, t, 3);
    price_split_t sp[PRICE_MAX_TIERS];
    size_t        ns;
    int64_t       fee;

    /* all inside the first tier: 300000 * 5000 = 1500000000 ($1.50) */
    ck_assert_int_eq(price_fee(&m, 0, 300000, 0, &fee, sp, &ns), 0);
    ck_assert_int_eq(fee, 1500000000LL);
    ck_assert_int_eq(ns, 1);

    /* the customer has used 900000: of 300000 more, 100000 at $5 and
     * 200000 at $3 per 1M = 500000000 + 600000000 = 1100000000 ($1.10) */
    ck_assert_int_eq(price_fee(&m, 900000, 300000, 0, &fee, sp, &ns), 0);
    ck_assert_int_eq(fee, 1100000000LL);
    ck_assert_int_eq(ns, 2);
    ck_assert_int_eq(sp[0].start, 0);
    ck_assert_int_eq(sp[0].units, 100000);
    ck_assert_int_eq(sp[0].rate, 5000000000LL);
    ck_assert_int_eq(sp[1].start, 1000000);
    ck_assert_int_eq(sp[1].units, 200000);
    ck_assert_int_eq(sp[1].rate, 3000000000LL);

    /* exactly at a boundary: 1000000 used, 1 more token at $3 per 1M = 3000 */
    ck_assert_int_eq(price_fee(&m, 1000000, 1, 0, &fee, sp, &ns), 0);
    ck_assert_int_eq(fee, 3000);
    ck_assert_int_eq(sp[0].start, 1000000);

    /* across two boundaries: 999999 used, 9000002 more:
     * 1 at $5 (5000) + 9000000 at $3 (27000000000) + 1 at $1 (1000)
     * = 27000006000 */
    ck_assert_int_eq(price_fee(&m, 999999, 9000002, 0, &fee, sp, &ns), 0);
    ck_assert_int_eq(fee, 27000006000LL);
    ck_assert_int_eq(ns, 3);

    /* one rounding for the whole split: 1 token on each side of 1M at
     * 300000 and 200000 nusd per 1M is 0.3 + 0.2 = 0.5 nusd -> 1, where
     * rounding each part would give 0 */
    t[0].rate = 300000;
    t[1].rate = 200000;
    ck_assert_int_eq(price_fee(&m, 999999, 2, 0, &fee, sp, &ns), 0);
    ck_assert_int_eq(fee, 1);
}
END_TEST

START_TEST(fee_graduated_percentage)
{
    /* 20 % for the first 1000 tokens of a customer, 10 % after */
    tier_t        t[] = { { 0, 200000 }, { 1000, 100000 } };
    meter_t       m = meter(FEE_PERCENTAGE, UNIT_TOKENS, BASIS_INPUT_OUTPUT, t, 2);
    price_split_t sp[PRICE_MAX_TIERS];
    size_t        ns;
    int64_t       fee;

    /* 800 used; 400 more at a base cost of 12345 nusd: half the units at
     * 20 %, half at 10 %: 12345 * (200 * 200000 + 200 * 100000) / (400 * 1e6)
     * = 12345 * 0.15 = 1851.75 -> 1852 */
    ck_assert_int_eq(price_fee(&m, 800, 400, 12345, &fee, sp, &ns), 0);
    ck_assert_int_eq(fee, 1852);
    ck_assert_int_eq(ns, 2);
    /* all past the boundary: 10 % of 12345 = 1234.5 -> 1235 */
    ck_assert_int_eq(price_fee(&m, 5000, 400, 12345, &fee, sp, &ns), 0);
    ck_assert_int_eq(fee, 1235);
}
END_TEST

START_TEST(fee_detects_overflow)
{
    tier_t        t[] = { { 0, INT64_MAX } };
    meter_t       m = meter(FEE_FIXED, UNIT_REQUESTS, BASIS_INPUT_OUTPUT, t, 1);
    price_split_t sp[PRICE_MAX_TIERS];
    size_t        ns;
    int64_t       fee;

    /* 2 requests at INT64_MAX each do not fit */
    ck_assert_int_eq(price_fee(&m, 0, 2, 0, &fee, sp, &ns), -1);
    /* nor does a count that passes INT64_MAX */
    ck_assert_int_eq(price_fee(&m, INT64_MAX, 1, 0, &fee, sp, &ns), -1);
    /* percentage: base * ppm * units in 128 bits, checked */
    m.kind = FEE_PERCENTAGE;
    ck_assert_int_eq(price_fee(&m, 0, INT64_MAX, INT64_MAX, &fee, sp, &ns), -1);
}
END_TEST

START_TEST(service_charge_default_rate)
{
    int64_t v;

    /* 1.9 % of the fee 46500 = 883.5 -> 884 */
    ck_assert_int_eq(price_service_charge(465000, 46500, PRICE_SERVICE_CHARGE_PPM_DEFAULT,
                                          SC_BASIS_FEE, &v), 0);
    ck_assert_int_eq(v, 884);
    /* 1.9 % of 3827160500 = 72716049.5 -> 72716050 */
    ck_assert_int_eq(price_service_charge(0, 3827160500LL, 19000, SC_BASIS_FEE, &v), 0);
    ck_assert_int_eq(v, 72716050);
    /* 1.9 % of 26 = 0.494 -> 0; of 27 = 0.513 -> 1 */
    ck_assert_int_eq(price_service_charge(0, 26, 19000, SC_BASIS_FEE, &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(price_service_charge(0, 27, 19000, SC_BASIS_FEE, &v), 0);
    ck_assert_int_eq(v, 1);
    /* a configured 0 ppm charges nothing */
    ck_assert_int_eq(price_service_charge(465000, 46500, 0, SC_BASIS_FEE, &v), 0);
    ck_assert_int_eq(v, 0);
}
END_TEST

START_TEST(service_charge_bases)
{
    int64_t v;

    /* base 465000, fee 46500, 2 % (20000 ppm):
     *   of the fee       46500 * 0.02 =  930
     *   of the base     465000 * 0.02 = 9300
     *   of base + fee   511500 * 0.02 = 10230 */
    ck_assert_int_eq(price_service_charge(465000, 46500, 20000, SC_BASIS_FEE, &v), 0);
    ck_assert_int_eq(v, 930);
    ck_assert_int_eq(price_service_charge(465000, 46500, 20000, SC_BASIS_BASE, &v), 0);
    ck_assert_int_eq(v, 9300);
    ck_assert_int_eq(price_service_charge(465000, 46500, 20000, SC_BASIS_BASE_FEE, &v), 0);
    ck_assert_int_eq(v, 10230);
    ck_assert_int_eq(price_service_charge(INT64_MAX, 1, 1, SC_BASIS_BASE_FEE, &v), -1);
}
END_TEST

/* ---------------------------------------------------- whole requests */

static price_req_t
customer_req(const usage_t *u, const rate_t *r, const meter_t *m)
{
    price_req_t q = {
        .chargeable = 1, .payer = PAYER_CUSTOMER, .usage = u, .rate = r,
        .has_meter = 1, .meter = m, .fee_units_before = -1, .service_charge_ppm = 19000,
        .service_charge_basis = SC_BASIS_FEE
    };
    return q;
}

START_TEST(request_customer_percentage)
{
    rate_t  r = mini_rate();
    meter_t m = meter(FEE_PERCENTAGE, UNIT_TOKENS, BASIS_INPUT_OUTPUT, pct10, 1);
    usage_t u = { .input_tokens = 1000, .cached_input_tokens = 200, .output_tokens = 500 };
    price_req_t q = customer_req(&u, &r, &m);
    price_t p;
    xfer_t  x[PRICE_MAX_XFERS];

    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_PRICED);
    ck_assert_int_eq(p.base_nusd, 465000);
    ck_assert_int_eq(p.fee_nusd, 46500);
    ck_assert_int_eq(p.service_charge_nusd, 884);
    ck_assert_ptr_eq(p.rate, &r);
    ck_assert_ptr_eq(p.meter, &m);
    ck_assert_int_eq(p.fee_units, 1700);
    ck_assert_int_eq(p.fee_units_before, -1);   /* learnt under lock when booking */
    ck_assert_int_eq(p.fee_rate, 100000);

    /* wallet pays all three; each transfer balances by construction */
    ck_assert_int_eq(price_transfers(&p, PAYER_CUSTOMER, 0, x), 3);
    ck_assert_int_eq(x[0].kind, XFER_BASE);
    ck_assert_int_eq(x[0].debit, ACCOUNT_WALLET);
    ck_assert_int_eq(x[0].credit, ACCOUNT_PROVIDER);
    ck_assert_int_eq(x[0].amount_nusd, 465000);
    ck_assert_int_eq(x[1].kind, XFER_FEE);
    ck_assert_int_eq(x[1].credit, ACCOUNT_MERCHANT);
    ck_assert_int_eq(x[1].amount_nusd, 46500);
    ck_assert_int_eq(x[2].kind, XFER_SERVICE_CHARGE);
    ck_assert_int_eq(x[2].credit, ACCOUNT_PLATFORM);
    ck_assert_int_eq(x[2].amount_nusd, 884);

    /* byok: base cost recorded, but the user paid the provider */
    ck_assert_int_eq(price_transfers(&p, PAYER_CUSTOMER, 1, x), 2);
    ck_assert_int_eq(x[0].kind, XFER_FEE);
    ck_assert_int_eq(x[1].kind, XFER_SERVICE_CHARGE);
}
END_TEST

START_TEST(request_graduated_from_the_customers_count)
{
    /* fixed $5 / $3 per 1M tokens, boundary at 1M; gpt-4o-mini base */
    tier_t      t[] = { { 0, 5000000000LL }, { 1000000, 3000000000LL } };
    meter_t     m = meter(FEE_FIXED, UNIT_TOKENS, BASIS_INPUT_OUTPUT, t, 2);
    rate_t      r = mini_rate();
    usage_t     u = { .input_tokens = 200000, .output_tokens = 100000 };
    price_req_t q = customer_req(&u, &r, &m);
    price_t     p;

    /* base 200000 * 150 + 100000 * 600 = 90000000 */
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_PRICED);
    ck_assert_int_eq(p.base_nusd, 90000000);
    /* provisional, from 0: 300000 * 5000 = 1500000000 */
    ck_assert_int_eq(p.fee_nusd, 1500000000LL);

    /* the booking learns the customer is at 900000: 100000 at $5 + 200000
     * at $3 = 1100000000; 1.9 % of it = 20900000 */
    price_set_before(&p, 900000);
    ck_assert_int_eq(p.fee_units_before, 900000);
    ck_assert_int_eq(p.fee_nusd, 1100000000LL);
    ck_assert_int_eq(p.service_charge_nusd, 20900000);
    ck_assert_int_eq(p.nsplit, 2);
    ck_assert_int_eq(p.fee_rate, 5000000000LL);
    ck_assert_int_eq(p.base_nusd, 90000000);    /* the base cost does not move */

    /* a count where the fee overflows: unpriced, and nothing of a fee kept
     * (its units must not count on the meter). 1 nusd per 1M for the first
     * 1M, INT64_MAX after: 1500000 tokens from 0 fit (1 + 500000 *
     * INT64_MAX / 1e6), from 1M they do not (1500000 * INT64_MAX / 1e6) */
    t[0].rate = 1;
    t[1].rate = INT64_MAX;
    u = (usage_t) { .input_tokens = 1500000 };
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_PRICED);
    price_set_before(&p, 1000000);
    ck_assert_int_eq(p.state, PRICE_UNPRICED);
    ck_assert_str_eq(p.note, "amount overflow");
    ck_assert_ptr_null(p.meter);
    ck_assert_int_eq(p.fee_units_before, -1);
    /* and an unpriced request is left as it is */
    price_set_before(&p, 0);
    ck_assert_int_eq(p.state, PRICE_UNPRICED);
}
END_TEST

START_TEST(request_long_context_tier)
{
    /* Gemini-style: $1.25 / $10 per 1M up to 200000 prompt tokens, $2.50 /
     * $15 above; the request's prompt picks the row */
    rate_t r[2];
    rates_t *t;
    const rate_t *f;
    const char *why;
    usage_t u = { .input_tokens = 250000, .output_tokens = 1000 };
    price_req_t q;
    price_t p;

    r[0] = mini_rate(); r[0].id = 1; r[0].provider = "google"; r[0].model = "gemini-2.5-pro";
    r[0].input = 1250000000LL; r[0].output = 10000000000LL; r[0].cached_input = PRICE_UNSET;
    r[1] = r[0]; r[1].id = 2; r[1].prompt_tokens_over = 200000;
    r[1].input = 2500000000LL; r[1].output = 15000000000LL;
    t = rates_from(r, 2, NULL, 0, NULL, 0, NULL, 0);
    ck_assert_ptr_nonnull(t);

    f = rates_find(t, "google", 6, "gemini-2.5-pro", 14, 5, 200000, &why);
    ck_assert_int_eq(f->id, 1);          /* at the threshold: not above it */
    f = rates_find(t, "google", 6, "gemini-2.5-pro", 14, 5, 200001, &why);
    ck_assert_int_eq(f->id, 2);

    /* 250000 * 2500 + 1000 * 15000 = 625000000 + 15000000 = 640000000 */
    q = customer_req(&u, f, NULL);
    q.has_meter = 0;
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_PRICED);
    ck_assert_int_eq(p.base_nusd, 640000000);
    ck_assert_int_eq(p.rate->id, 2);
    rates_free(t);
}
END_TEST

START_TEST(request_merchant_pays_base_only)
{
    rate_t      r = mini_rate();
    usage_t     u = { .input_tokens = 1000, .output_tokens = 1000 };
    price_req_t q = customer_req(&u, &r, NULL);   /* meter unknown: irrelevant here */
    price_t     p;
    xfer_t      x[PRICE_MAX_XFERS];

    q.payer = PAYER_MERCHANT;
    price_request(&q, &p);
    /* 1000 * 150 + 1000 * 600 = 750000 */
    ck_assert_int_eq(p.state, PRICE_PRICED);
    ck_assert_int_eq(p.base_nusd, 750000);
    ck_assert_int_eq(p.fee_nusd, 0);
    ck_assert_int_eq(p.service_charge_nusd, 0);
    ck_assert_int_eq(price_transfers(&p, PAYER_MERCHANT, 0, x), 1);
    ck_assert_int_eq(x[0].debit, ACCOUNT_MERCHANT);
    ck_assert_int_eq(x[0].credit, ACCOUNT_PROVIDER);
    ck_assert_int_eq(price_transfers(&p, PAYER_MERCHANT, 1, x), 0);

    /* tool calls alone are usage: never booked at zero */
    u = (usage_t) { .web_search_calls = 2, .requests = 1 };
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_UNPRICED);
    r.per_web_search = 10000000;
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_PRICED);
    ck_assert_int_eq(p.base_nusd, 20000000);
}
END_TEST

START_TEST(request_zero_cases)
{
    rate_t      r = mini_rate();
    usage_t     u = { .input_tokens = 1000, .output_tokens = 1000 };
    usage_t     none = { .requests = 1 };
    tier_t      per_req[] = { { 0, 50000000 } };
    meter_t     m = meter(FEE_FIXED, UNIT_REQUESTS, BASIS_INPUT_OUTPUT, per_req, 1);
    price_req_t q = customer_req(&u, &r, NULL);
    price_t     p;
    xfer_t      x[PRICE_MAX_XFERS];

    /* refused: booked at zero even with usage numbers */
    q.chargeable = 0;
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_ZERO);
    ck_assert_int_eq(p.base_nusd + p.fee_nusd + p.service_charge_nusd, 0);
    ck_assert_int_eq(price_transfers(&p, PAYER_CUSTOMER, 0, x), 0);

    /* nobody to charge */
    q = customer_req(&u, &r, NULL);
    q.payer = PAYER_NONE;
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_ZERO);

    /* no usage, even for an unknown model: a request alone is no usage
     * unless something prices requests */
    q = customer_req(&none, NULL, NULL);
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_ZERO);

    /* ... a per-request meter does: $0.05 */
    q = customer_req(&none, &r, &m);
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_PRICED);
    ck_assert_int_eq(p.fee_nusd, 50000000);
    ck_assert_int_eq(p.fee_units, 1);
    /* ... but not on a provider's error answer */
    q.provider_error = 1;
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_ZERO);
}
END_TEST

START_TEST(request_meter_only_provider)
{
    tier_t      per_req[] = { { 0, 50000000 } };           /* $0.05 per request */
    meter_t     m = meter(FEE_FIXED, UNIT_REQUESTS, BASIS_INPUT_OUTPUT, per_req, 1);
    usage_t     u = { .requests = 1 };
    price_req_t q = customer_req(&u, NULL, &m);
    price_t     p;
    xfer_t      x[PRICE_MAX_XFERS];

    /* a custom provider: no rate, base 0, the meter alone */
    q.meter_only = 1;
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_PRICED);
    ck_assert_int_eq(p.base_nusd, 0);
    ck_assert_int_eq(p.fee_nusd, 50000000);
    /* 1.9 % of 50000000 = 950000 */
    ck_assert_int_eq(p.service_charge_nusd, 950000);
    ck_assert_int_eq(price_transfers(&p, PAYER_CUSTOMER, 1, x), 2);

    /* tokens on a token meter: 1234 tokens at $2 per 1M = 2468000 */
    per_req[0].rate = 2000000000LL;
    m.unit = UNIT_TOKENS;
    u = (usage_t) { .input_tokens = 1000, .output_tokens = 234, .requests = 1 };
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_PRICED);
    ck_assert_int_eq(p.fee_nusd, 2468000);

    /* a percentage of no base cost cannot bill anything: visible, not zero */
    m.kind = FEE_PERCENTAGE;
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_UNPRICED);

    /* the merchant itself pays nothing to nobody */
    q.payer = PAYER_MERCHANT;
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_ZERO);
}
END_TEST

START_TEST(request_unpriced_never_zero)
{
    rate_t      r = mini_rate();
    tier_t      one[] = { { 0, 1 } };
    meter_t     m = meter(FEE_FIXED, UNIT_TOKENS, BASIS_INPUT_OUTPUT, one, 1);
    usage_t     u = { .input_tokens = 1000, .output_tokens = 1000 };
    price_req_t q = customer_req(&u, NULL, &m);
    price_t     p;
    xfer_t      x[PRICE_MAX_XFERS];

    /* unknown model */
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_UNPRICED);
    ck_assert_str_eq(p.note, "no rate for the provider and model");
    ck_assert_int_eq(price_transfers(&p, PAYER_CUSTOMER, 0, x), 0);

    /* the reason the lookup gave */
    q.rate_why = "no rate in force at the request's start";
    price_request(&q, &p);
    ck_assert_str_eq(p.note, "no rate in force at the request's start");

    /* unknown meter */
    q = customer_req(&u, &r, NULL);
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_UNPRICED);
    ck_assert_str_eq(p.note, "unknown meter");

    /* no meter named: priced, no fee */
    q.has_meter = 0;
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_PRICED);
    ck_assert_int_eq(p.fee_nusd, 0);
    ck_assert_int_eq(price_transfers(&p, PAYER_CUSTOMER, 0, x), 1);

    /* overflow is unpriced, never wrapped */
    u.input_tokens = INT64_MAX;
    q = customer_req(&u, &r, &m);
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_UNPRICED);
    ck_assert_str_eq(p.note, "amount overflow");
}
END_TEST

/* an endpoint billed per request alone (tap_flags per_request): no request
 * price is a missing price, never a free call */
START_TEST(request_per_request_only)
{
    rate_t      r = mini_rate();
    usage_t     u = { .requests = 1 };
    price_req_t q = customer_req(&u, &r, NULL);
    price_t     p;

    q.has_meter = 0;

    /* a rate without request_nusd: zero before, unpriced now */
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_ZERO);
    q.per_request_only = 1;
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_UNPRICED);
    ck_assert_str_eq(p.note, "no per-request price (request_nusd) for the provider");

    /* no rate at all: the lookup's reason */
    q.rate = NULL;
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_UNPRICED);
    ck_assert_str_eq(p.note, "no rate for the provider and model");

    /* a request price: priced */
    r.per_request = 1000000;
    q.rate = &r;
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_PRICED);
    ck_assert_int_eq(p.base_nusd, 1000000);

    /* an explicit request price of 0 is the operator's: zero */
    r.per_request = 0;
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_ZERO);

    /* a provider's error answer is no billed request */
    r.per_request = PRICE_UNSET;
    q.provider_error = 1;
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_ZERO);
}
END_TEST

START_TEST(transfers_skip_zero_amounts)
{
    price_t p = { .state = PRICE_PRICED, .base_nusd = 10, .fee_nusd = 0,
                  .service_charge_nusd = 0 };
    xfer_t  x[PRICE_MAX_XFERS];

    ck_assert_int_eq(price_transfers(&p, PAYER_CUSTOMER, 0, x), 1);
    ck_assert_int_eq(x[0].kind, XFER_BASE);
    p.base_nusd = 0;
    ck_assert_int_eq(price_transfers(&p, PAYER_CUSTOMER, 0, x), 0);
}
END_TEST

/* ------------------------------------------------------- rate lookup */

START_TEST(rates_effective_dates_and_dated_models)
{
    rate_t r[3];
    tier_t tb[] = { { 0, 1 } }, ta[] = { { 0, 7 } };
    meter_t m[2] = {
        { .merchant_id = "mer_b", .slug = "x", .kind = FEE_FIXED, .tiers = tb, .ntiers = 1 },
        { .merchant_id = "mer_a", .slug = "chat", .kind = FEE_PERCENTAGE, .tiers = ta,
          .ntiers = 1 },
    };
    rates_t *t;
    const rate_t *f;
    const char *why;

    r[0] = mini_rate(); r[0].id = 10; r[0].effective_from_ms = 2000;
    r[1] = mini_rate(); r[1].id = 11; r[1].effective_from_ms = 1000;
    r[2] = mini_rate(); r[2].id = 12; r[2].model = "gpt-4o"; r[2].effective_from_ms = 0;

    t = rates_from(r, 3, m, 2, NULL, 0, NULL, 0);
    ck_assert_ptr_nonnull(t);

    /* before the first row: no rate (unpriced, not zero) */
    ck_assert_ptr_null(rates_find(t, "openai", 6, "gpt-4o-mini", 11, 999, 0, &why));
    ck_assert_str_eq(why, "no rate in force at the request's start");
    /* the row in force at the request's start */
    f = rates_find(t, "openai", 6, "gpt-4o-mini", 11, 1000, 0, &why);
    ck_assert_int_eq(f->id, 11);
    f = rates_find(t, "openai", 6, "gpt-4o-mini", 11, 1999, 0, &why);
    ck_assert_int_eq(f->id, 11);
    f = rates_find(t, "openai", 6, "gpt-4o-mini", 11, 5000, 0, &why);
    ck_assert_int_eq(f->id, 10);
    /* a dated name falls back to its model, both date shapes */
    f = rates_find(t, "openai", 6, "gpt-4o-mini-2024-07-18", 22, 5000, 0, &why);
    ck_assert_int_eq(f->id, 10);
    f = rates_find(t, "openai", 6, "gpt-4o-mini-20240718", 20, 5000, 0, &why);
    ck_assert_int_eq(f->id, 10);
    f = rates_find(t, "openai", 6, "gpt-4o", 6, 5000, 0, &why);
    ck_assert_int_eq(f->id, 12);
    /* another provider, a prefix of a name, a model without date shape */
    ck_assert_ptr_null(rates_find(t, "azure", 5, "gpt-4o-mini", 11, 5000, 0, &why));
    ck_assert_str_eq(why, "no rate for the provider and model");
    ck_assert_ptr_null(rates_find(t, "openai", 6, "gpt-4", 5, 5000, 0, &why));
    ck_assert_ptr_null(rates_find(t, "openai", 6, "gpt-4o-mini-latest", 18, 5000, 0, &why));

    ck_assert_int_eq(rates_meter(t, "mer_a", 5, "chat", 4)->tiers[0].rate, 7);
    ck_assert_int_eq(rates_meter(t, "mer_b", 5, "x", 1)->tiers[0].rate, 1);
    ck_assert_ptr_null(rates_meter(t, "mer_a", 5, "x", 1));

    rates_free(t);
}
END_TEST

START_TEST(rates_aliases_and_patterns)
{
    rate_t r[3];
    alias_t a[] = {
        { .provider = "anthropic", .pattern = "claude-sonnet-4-5*", .model = "claude-sonnet-4-5" },
        { .provider = "anthropic", .pattern = "claude-*", .model = "claude-haiku-4-5" },
        { .provider = "anthropic", .pattern = "sonnet", .model = "claude-sonnet-4-5" },
        { .provider = "anthropic", .pattern = "claude-sonnet-4-5-20250929",
          .model = "claude-haiku-4-5" },
        { .provider = "openai", .pattern = "*", .model = "claude-sonnet-4-5" },
    };
    const char *mo[] = { "acme" };
    rates_t *t;
    const char *why;

    r[0] = mini_rate(); r[0].id = 1; r[0].provider = "anthropic"; r[0].model = "claude-sonnet-4-5";
    r[1] = mini_rate(); r[1].id = 2; r[1].provider = "anthropic"; r[1].model = "claude-haiku-4-5";
    r[2] = mini_rate(); r[2].id = 3; r[2].provider = "anthropic"; r[2].model = "claude-opus-4-1";
    r[2].effective_from_ms = 10000;
    t = rates_from(r, 3, NULL, 0, a, 5, mo, 1);
    ck_assert_ptr_nonnull(t);

#define FIND(name, ts)  rates_find(t, "anthropic", 9, name, sizeof(name) - 1, ts, 0, &why)
    /* the name's own rows first */
    ck_assert_int_eq(FIND("claude-sonnet-4-5", 5)->id, 1);
    /* an exact alias before the date is cut: it names this date */
    ck_assert_int_eq(FIND("claude-sonnet-4-5-20250929", 5)->id, 2);
    /* another date: cut to the name */
    ck_assert_int_eq(FIND("claude-sonnet-4-5-20251111", 5)->id, 1);
    /* an exact alias */
    ck_assert_int_eq(FIND("sonnet", 5)->id, 1);
    /* the most specific pattern wins over the shorter one */
    ck_assert_int_eq(FIND("claude-sonnet-4-5-thinking", 5)->id, 1);
    ck_assert_int_eq(FIND("claude-3-haiku", 5)->id, 2);
    /* a model with rows of its own is never re-routed by a pattern, even
     * when its rows are not in force yet: its requests are unpriced */
    ck_assert_ptr_null(FIND("claude-opus-4-1", 5));
    ck_assert_str_eq(why, "no rate in force at the request's start");
    ck_assert_int_eq(FIND("claude-opus-4-1", 10000)->id, 3);
    /* no pattern matches */
    ck_assert_ptr_null(FIND("gpt-4o", 5));
#undef FIND
    /* aliases belong to a provider: openai's '*' names an anthropic model
     * that openai has no rows for */
    ck_assert_ptr_null(rates_find(t, "openai", 6, "x", 1, 5, 0, &why));

    ck_assert_int_eq(rates_meter_only(t, "acme", 4), 1);
    ck_assert_int_eq(rates_meter_only(t, "acm", 3), 0);
    ck_assert_int_eq(rates_meter_only(t, "openai", 6), 0);
    rates_free(t);
}
END_TEST

START_TEST(rates_any_model_row)
{
    /* a voice-call provider priced per hour for any model, or none named */
    rate_t r[2];
    rates_t *t;
    const rate_t *f;
    const char *why;

    r[0] = mini_rate(); r[0].id = 1; r[0].provider = "retell"; r[0].model = "*";
    r[0].input = PRICE_UNSET; r[0].output = PRICE_UNSET; r[0].per_hour = 4200000000LL;
    r[1] = mini_rate(); r[1].id = 2; r[1].provider = "retell"; r[1].model = "special";
    t = rates_from(r, 2, NULL, 0, NULL, 0, NULL, 0);

    f = rates_find(t, "retell", 6, "", 0, 5, 0, &why);
    ck_assert_int_eq(f->id, 1);
    f = rates_find(t, "retell", 6, "whatever", 8, 5, 0, &why);
    ck_assert_int_eq(f->id, 1);
    f = rates_find(t, "retell", 6, "special", 7, 5, 0, &why);
    ck_assert_int_eq(f->id, 2);
    /* no such row for another provider */
    ck_assert_ptr_null(rates_find(t, "openai", 6, "", 0, 5, 0, &why));
    rates_free(t);
}
END_TEST

START_TEST(rates_glob)
{
    ck_assert(rates_glob_match("*", "", 0));
    ck_assert(rates_glob_match("a*c", "abbbc", 5));
    ck_assert(rates_glob_match("a*c", "ac", 2));
    ck_assert(!rates_glob_match("a*c", "acb", 3));
    ck_assert(rates_glob_match("*-mini*", "gpt-4o-mini-2024", 16));
    ck_assert(rates_glob_match("a*b*c", "axxbyybzc", 9));
    ck_assert(!rates_glob_match("abc", "ab", 2));
    ck_assert(!rates_glob_match("ab", "abc", 3));
    /* only the given bytes count: no reading past them */
    ck_assert(!rates_glob_match("abc", "abcdef", 2));
}
END_TEST

START_TEST(rates_tiers_and_versions)
{
    /* two price lists, each with a long-context tier; a later list without
     * a tier prices every prompt at its base row */
    rate_t r[5];
    rates_t *t;
    const char *why;

    r[0] = mini_rate(); r[0].id = 1; r[0].effective_from_ms = 0;
    r[1] = mini_rate(); r[1].id = 2; r[1].effective_from_ms = 0; r[1].prompt_tokens_over = 100;
    r[2] = mini_rate(); r[2].id = 3; r[2].effective_from_ms = 0; r[2].prompt_tokens_over = 1000;
    r[3] = mini_rate(); r[3].id = 4; r[3].effective_from_ms = 50;
    r[4] = mini_rate(); r[4].id = 5; r[4].effective_from_ms = 90; r[4].prompt_tokens_over = 10;
    t = rates_from(r, 5, NULL, 0, NULL, 0, NULL, 0);

#define FIND(ts, prompt)  rates_find(t, "openai", 6, "gpt-4o-mini", 11, ts, prompt, &why)
    ck_assert_int_eq(FIND(10, 0)->id, 1);
    ck_assert_int_eq(FIND(10, 100)->id, 1);
    ck_assert_int_eq(FIND(10, 101)->id, 2);
    ck_assert_int_eq(FIND(10, 5000)->id, 3);
    ck_assert_int_eq(FIND(60, 5000)->id, 4);
    /* a list with a tier and no base row prices only prompts above it */
    ck_assert_int_eq(FIND(95, 11)->id, 5);
    ck_assert_ptr_null(FIND(95, 10));
    ck_assert_str_eq(why, "no rate for the request's prompt size");
#undef FIND
    rates_free(t);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("price");
    TCase *money = tcase_create("money");
    TCase *base = tcase_create("base");
    TCase *fee = tcase_create("fee");
    TCase *req = tcase_create("request");
    TCase *rates = tcase_create("rates");

    tcase_add_test(money, muldiv_rounds_half_up);
    tcase_add_test(money, muldiv_is_exact_in_128_bits);
    tcase_add_test(money, muldiv_detects_overflow_and_bad_input);
    tcase_add_test(money, add_detects_overflow);
    tcase_add_test(money, acc_detects_sum_overflow);
    tcase_add_test(base, base_gpt4o_mini);
    tcase_add_test(base, base_gpt4o_large);
    tcase_add_test(base, base_rounds_once_half_up);
    tcase_add_test(base, base_fallback_prices);
    tcase_add_test(base, base_refuses_audio_without_price);
    tcase_add_test(base, base_detects_overflow);
    tcase_add_test(base, base_cache_write_and_read);
    tcase_add_test(base, base_characters_duration_requests_images);
    tcase_add_test(base, base_server_tool_calls);
    tcase_add_test(base, base_missing_unit_prices);
    tcase_add_test(fee, fee_percentage);
    tcase_add_test(fee, fee_fixed_per_million_tokens);
    tcase_add_test(fee, fee_fixed_other_units);
    tcase_add_test(fee, fee_graduated_across_a_boundary);
    tcase_add_test(fee, fee_graduated_percentage);
    tcase_add_test(fee, fee_detects_overflow);
    tcase_add_test(fee, service_charge_default_rate);
    tcase_add_test(fee, service_charge_bases);
    tcase_add_test(req, request_customer_percentage);
    tcase_add_test(req, request_graduated_from_the_customers_count);
    tcase_add_test(req, request_long_context_tier);
    tcase_add_test(req, request_merchant_pays_base_only);
    tcase_add_test(req, request_zero_cases);
    tcase_add_test(req, request_meter_only_provider);
    tcase_add_test(req, request_unpriced_never_zero);
    tcase_add_test(req, request_per_request_only);
    tcase_add_test(req, transfers_skip_zero_amounts);
    tcase_add_test(rates, rates_effective_dates_and_dated_models);
    tcase_add_test(rates, rates_aliases_and_patterns);
    tcase_add_test(rates, rates_glob);
    tcase_add_test(rates, rates_any_model_row);
    tcase_add_test(rates, rates_tiers_and_versions);

    suite_add_tcase(s, money);
    suite_add_tcase(s, base);
    suite_add_tcase(s, fee);
    suite_add_tcase(s, req);
    suite_add_tcase(s, rates);
    return s;
}
