/*
 * Money and pricing, with worked examples. Every expected amount is written
 * out by hand in the comment beside it (nano-USD, "nusd"; rates are nusd per
 * 1M tokens, so $0.15 per 1M tokens is 150000000).
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

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
        .audio_input = PRICE_UNSET, .audio_output = PRICE_UNSET
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
    ck_assert_int_eq(price_base(&u, &r, &v, &why), 0);
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
    ck_assert_int_eq(price_base(&u, &r, &v, &why), 0);
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
    ck_assert_int_eq(price_base(&u, &r, &v, &why), 0);
    ck_assert_int_eq(v, 1);
    /* 499999 tokens = 0.499999 -> 0 */
    u.input_tokens = 499999;
    ck_assert_int_eq(price_base(&u, &r, &v, &why), 0);
    ck_assert_int_eq(v, 0);
    /* 300000 in + 300000 out = 0.3 + 0.3 = 0.6 -> 1 (one rounding of the sum) */
    u.input_tokens = 300000;
    u.output_tokens = 300000;
    ck_assert_int_eq(price_base(&u, &r, &v, &why), 0);
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
    ck_assert_int_eq(price_base(&u, &r, &v, &why), 0);
    ck_assert_int_eq(v, 15000);

    /* no reasoning price: reasoning costs the output price, 100 * 600 = 60000 */
    u.cached_input_tokens = 0;
    u.reasoning_tokens = 100;
    ck_assert_int_eq(price_base(&u, &r, &v, &why), 0);
    ck_assert_int_eq(v, 60000);

    /* 1-hour cache writes fall back to cache_write, then to input */
    u.reasoning_tokens = 0;
    u.cache_write_1h_tokens = 1000;
    ck_assert_int_eq(price_base(&u, &r, &v, &why), 0);
    ck_assert_int_eq(v, 150000);
    r.cache_write = 187500000;           /* $0.1875 */
    ck_assert_int_eq(price_base(&u, &r, &v, &why), 0);
    ck_assert_int_eq(v, 187500);
}
END_TEST

START_TEST(base_refuses_audio_without_price)
{
    rate_t      r = mini_rate();
    usage_t     u = { .input_tokens = 10, .audio_input_tokens = 5 };
    const char *why = NULL;
    int64_t     v;

    ck_assert_int_eq(price_base(&u, &r, &v, &why), -1);
    ck_assert_ptr_nonnull(why);

    /* with a price: 10 * 150 + 5 * 40000 = 1500 + 200000 */
    r.audio_input = 40000000000LL;       /* $40 per 1M */
    ck_assert_int_eq(price_base(&u, &r, &v, &why), 0);
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
    ck_assert_int_eq(price_base(&u, &r, &v, &why), -1);
    ck_assert_str_eq(why, "amount overflow");
}
END_TEST

/* ---------------------------------------------------- fees and charges */

START_TEST(fee_percentage)
{
    meter_t m = { .merchant_id = "mer_a", .slug = "chat", .kind = FEE_PERCENTAGE,
                  .amount = 100000, .basis = BASIS_INPUT_OUTPUT };   /* 10 % */
    usage_t u = { .input_tokens = 1000 };
    int64_t fee, tokens;

    /* 10 % of 465000 = 46500 */
    ck_assert_int_eq(price_fee(&m, &u, 465000, &fee, &tokens), 0);
    ck_assert_int_eq(fee, 46500);
    /* 10 % of 5 = 0.5 -> 1; of 4 = 0.4 -> 0 */
    ck_assert_int_eq(price_fee(&m, &u, 5, &fee, &tokens), 0);
    ck_assert_int_eq(fee, 1);
    ck_assert_int_eq(price_fee(&m, &u, 4, &fee, &tokens), 0);
    ck_assert_int_eq(fee, 0);
    /* 2.5 % (25000 ppm) of 79629627500 = 1990740687.5 -> 1990740688 */
    m.amount = 25000;
    ck_assert_int_eq(price_fee(&m, &u, 79629627500LL, &fee, &tokens), 0);
    ck_assert_int_eq(fee, 1990740688LL);
}
END_TEST

START_TEST(fee_fixed_per_million_tokens)
{
    meter_t m = { .merchant_id = "mer_a", .slug = "per-token", .kind = FEE_FIXED,
                  .amount = 500000000, .basis = BASIS_OUTPUT };      /* $0.50 per 1M */
    usage_t u = { .input_tokens = 1234567, .output_tokens = 7654321 };
    int64_t fee, tokens;

    /* output basis: 7654321 * 500000000 / 1e6 = 3827160500 */
    ck_assert_int_eq(price_fee(&m, &u, 0, &fee, &tokens), 0);
    ck_assert_int_eq(tokens, 7654321);
    ck_assert_int_eq(fee, 3827160500LL);

    /* input+output basis: 8888888 * 500 = 4444444000 */
    m.basis = BASIS_INPUT_OUTPUT;
    ck_assert_int_eq(price_fee(&m, &u, 0, &fee, &tokens), 0);
    ck_assert_int_eq(tokens, 8888888);
    ck_assert_int_eq(fee, 4444444000LL);

    /* reasoning and audio output count as output; cache reads as input */
    u = (usage_t) { .cached_input_tokens = 3, .output_tokens = 1, .reasoning_tokens = 2,
                    .audio_output_tokens = 4 };
    m.basis = BASIS_OUTPUT;
    ck_assert_int_eq(price_fee(&m, &u, 0, &fee, &tokens), 0);
    ck_assert_int_eq(tokens, 7);
    /* 7 * 500000000 / 1e6 = 3500 */
    ck_assert_int_eq(fee, 3500);
}
END_TEST

START_TEST(service_charge_default_rate)
{
    int64_t v;

    /* 1.9 % of 46500 = 883.5 -> 884 */
    ck_assert_int_eq(price_service_charge(46500, PRICE_SERVICE_CHARGE_PPM_DEFAULT, &v), 0);
    ck_assert_int_eq(v, 884);
    /* 1.9 % of 3827160500 = 72716049.5 -> 72716050 */
    ck_assert_int_eq(price_service_charge(3827160500LL, 19000, &v), 0);
    ck_assert_int_eq(v, 72716050);
    /* 1.9 % of 26 = 0.494 -> 0; of 27 = 0.513 -> 1 */
    ck_assert_int_eq(price_service_charge(26, 19000, &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(price_service_charge(27, 19000, &v), 0);
    ck_assert_int_eq(v, 1);
    /* a configured 0 ppm charges nothing */
    ck_assert_int_eq(price_service_charge(46500, 0, &v), 0);
    ck_assert_int_eq(v, 0);
}
END_TEST

/* ---------------------------------------------------- whole requests */

static price_req_t
customer_req(const usage_t *u, const rate_t *r, const meter_t *m)
{
    price_req_t q = {
        .chargeable = 1, .payer = PAYER_CUSTOMER, .usage = u, .rate = r,
        .has_meter = 1, .meter = m, .service_charge_ppm = 19000
    };
    return q;
}

START_TEST(request_customer_percentage)
{
    rate_t  r = mini_rate();
    meter_t m = { .merchant_id = "mer_a", .slug = "chat", .kind = FEE_PERCENTAGE,
                  .amount = 100000, .basis = BASIS_INPUT_OUTPUT };
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
}
END_TEST

START_TEST(request_zero_cases)
{
    rate_t      r = mini_rate();
    usage_t     u = { .input_tokens = 1000, .output_tokens = 1000 };
    usage_t     none = { 0 };
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

    /* a provider error without usage, even for an unknown model */
    q = customer_req(&none, NULL, NULL);
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_ZERO);
}
END_TEST

START_TEST(request_unpriced_never_zero)
{
    rate_t      r = mini_rate();
    meter_t     m = { .merchant_id = "mer_a", .slug = "chat", .kind = FEE_FIXED,
                      .amount = 1, .basis = BASIS_INPUT_OUTPUT };
    usage_t     u = { .input_tokens = 1000, .output_tokens = 1000 };
    price_req_t q = customer_req(&u, NULL, &m);
    price_t     p;
    xfer_t      x[PRICE_MAX_XFERS];

    /* unknown model */
    price_request(&q, &p);
    ck_assert_int_eq(p.state, PRICE_UNPRICED);
    ck_assert_str_eq(p.note, "no rate for the provider and model");
    ck_assert_int_eq(price_transfers(&p, PAYER_CUSTOMER, 0, x), 0);

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
    meter_t m[2] = {
        { .merchant_id = "mer_b", .slug = "x", .kind = FEE_FIXED, .amount = 1 },
        { .merchant_id = "mer_a", .slug = "chat", .kind = FEE_PERCENTAGE, .amount = 7 },
    };
    rates_t *t;
    const rate_t *f;

    r[0] = mini_rate(); r[0].id = 10; r[0].effective_from_ms = 2000;
    r[1] = mini_rate(); r[1].id = 11; r[1].effective_from_ms = 1000;
    r[2] = mini_rate(); r[2].id = 12; r[2].model = "gpt-4o"; r[2].effective_from_ms = 0;

    t = rates_from(r, 3, m, 2);
    ck_assert_ptr_nonnull(t);

    /* before the first row: no rate (unpriced, not zero) */
    ck_assert_ptr_null(rates_find(t, "openai", 6, "gpt-4o-mini", 11, 999));
    /* the row in force at the request's start */
    f = rates_find(t, "openai", 6, "gpt-4o-mini", 11, 1000);
    ck_assert_int_eq(f->id, 11);
    f = rates_find(t, "openai", 6, "gpt-4o-mini", 11, 1999);
    ck_assert_int_eq(f->id, 11);
    f = rates_find(t, "openai", 6, "gpt-4o-mini", 11, 5000);
    ck_assert_int_eq(f->id, 10);
    /* a dated name falls back to its model */
    f = rates_find(t, "openai", 6, "gpt-4o-mini-2024-07-18", 22, 5000);
    ck_assert_int_eq(f->id, 10);
    f = rates_find(t, "openai", 6, "gpt-4o", 6, 5000);
    ck_assert_int_eq(f->id, 12);
    /* another provider, a prefix of a name, a model without date shape */
    ck_assert_ptr_null(rates_find(t, "azure", 5, "gpt-4o-mini", 11, 5000));
    ck_assert_ptr_null(rates_find(t, "openai", 6, "gpt-4", 5, 5000));
    ck_assert_ptr_null(rates_find(t, "openai", 6, "gpt-4o-mini-latest", 18, 5000));

    ck_assert_int_eq(rates_meter(t, "mer_a", 5, "chat", 4)->amount, 7);
    ck_assert_int_eq(rates_meter(t, "mer_b", 5, "x", 1)->amount, 1);
    ck_assert_ptr_null(rates_meter(t, "mer_a", 5, "x", 1));

    rates_free(t);
}
END_TEST

static Suite *
price_suite(void)
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
    tcase_add_test(fee, fee_percentage);
    tcase_add_test(fee, fee_fixed_per_million_tokens);
    tcase_add_test(fee, service_charge_default_rate);
    tcase_add_test(req, request_customer_percentage);
    tcase_add_test(req, request_merchant_pays_base_only);
    tcase_add_test(req, request_zero_cases);
    tcase_add_test(req, request_unpriced_never_zero);
    tcase_add_test(req, transfers_skip_zero_amounts);
    tcase_add_test(rates, rates_effective_dates_and_dated_models);

    suite_add_tcase(s, money);
    suite_add_tcase(s, base);
    suite_add_tcase(s, fee);
    suite_add_tcase(s, req);
    suite_add_tcase(s, rates);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(price_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
