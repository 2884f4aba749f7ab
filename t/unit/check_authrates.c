/*
 * The reservation bounds the sidecar publishes (sidecar/authrates.c): per
 * model the highest input-side and output-side column of the rows in force
 * now or later, every long-context tier; per provider the highest of all;
 * exact aliases; meter-only providers; meters' highest tiers; the service
 * charge folded in, rounded up.
 */

#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "authrates.h"


typedef struct {
    char    buf[8192];
    size_t  len;
} out_t;


static int
add(void *arg, const char *s, size_t n)
{
    out_t  *o = arg;

    ck_assert_uint_lt(o->len + n, sizeof(o->buf));
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
    return 0;
}


static rate_t
row(const char *provider, const char *model, int64_t from_ms, int64_t in, int64_t out)
{
    rate_t r = {
        .id = 1, .effective_from_ms = from_ms, .provider = (char *) provider,
        .model = (char *) model, .input = in, .cached_input = PRICE_UNSET,
        .cache_write = PRICE_UNSET, .cache_write_1h = PRICE_UNSET, .output = out,
        .reasoning = PRICE_UNSET, .audio_input = PRICE_UNSET, .audio_output = PRICE_UNSET,
        .characters = PRICE_UNSET, .per_hour = PRICE_UNSET, .per_request = PRICE_UNSET,
        .per_image = PRICE_UNSET
    };
    return r;
}


START_TEST(test_render)
{
    out_t    o;
    rate_t   r[8];
    rates_t *t;
    tier_t   pct[] = { { 0, 200000 }, { 1000000, 100000 } };
    tier_t   fixed[] = { { 0, 5000000000 }, { 1000000, 3000000000 } };
    tier_t   req[] = { { 0, 50000000 } };
    tier_t   mins[] = { { 0, 100000000 } };
    meter_t  m[] = {
        { .merchant_id = "mer_a", .slug = "chat", .kind = FEE_PERCENTAGE,
          .unit = UNIT_TOKENS, .tiers = pct, .ntiers = 2 },
        { .merchant_id = "mer_a", .slug = "tokens", .kind = FEE_FIXED,
          .unit = UNIT_TOKENS, .tiers = fixed, .ntiers = 2 },
        { .merchant_id = "mer_a", .slug = "calls", .kind = FEE_FIXED,
          .unit = UNIT_REQUESTS, .tiers = req, .ntiers = 1 },
        { .merchant_id = "mer_b", .slug = "voice", .kind = FEE_FIXED,
          .unit = UNIT_MINUTES, .tiers = mins, .ntiers = 1 },
    };
    alias_t  a[] = {
        { .provider = "openai", .pattern = "mini", .model = "gpt-4o-mini" },
        { .provider = "openai", .pattern = "gpt-*", .model = "gpt-4o-mini" },
        { .provider = "openai", .pattern = "4o", .model = "gpt-4o" },
    };
    /* acme: billed on the meter alone, no rows; elevenlabs: with rows */
    const char *mo[] = { "acme", "elevenlabs" };

    /* gpt-4o-mini: an old row (superseded), the current one, a dearer one
     * from tomorrow; gpt-4o: reasoning dearer than output, cache writes
     * dearer than input; a long-context tier; a model with a space */
    r[0] = row("openai", "gpt-4o-mini", 0, 900000000, 900000000);
    r[1] = row("openai", "gpt-4o-mini", 1000, 150000000, 600000000);
    r[2] = row("openai", "gpt-4o-mini", 5000, 200000000, 700000000);
    /* from 2025-01-01: its "d" record; rows from 0 have none */
    r[3] = row("openai", "gpt-4o", 1735689600000, 2500000000, 10000000000);
    r[3].reasoning = 12000000000;
    r[3].cache_write_1h = 3000000000;
    r[4] = row("anthropic", "claude-sonnet-4-5", 0, 3000000000, 15000000000);
    r[5] = row("anthropic", "claude-sonnet-4-5", 0, 6000000000, 22500000000);
    r[5].prompt_tokens_over = 200000;
    r[6] = row("anthropic", "bad model", 0, 1, 1);
    r[7] = row("elevenlabs", "eleven_v3", 0, PRICE_UNSET, PRICE_UNSET);
    r[7].characters = 100000000000;

    t = rates_from(r, 8, m, 4, a, 3, mo, 2);
    ck_assert_ptr_nonnull(t);

    memset(&o, 0, sizeof(o));
    ck_assert_int_eq(authrates_render(t, 2000, 19000, add, &o), 0);

    ck_assert_str_eq(o.buf,
        "r anthropic claude-sonnet-4-5 6114000000 22927500000\n"
        "r anthropic * 6114000000 22927500000\n"
        "r elevenlabs eleven_v3 101900000000 0\n"
        "r elevenlabs * 0 0\n"
        "r openai gpt-4o 3057000000 12228000000\n"
        "d openai gpt-4o 1735689600\n"
        "r openai gpt-4o-mini 203800000 713300000\n"
        "r openai mini 203800000 713300000\n"
        "r openai 4o 3057000000 12228000000\n"
        "d openai 4o 1735689600\n"
        "r openai * 3057000000 12228000000\n"
        "r acme * 0 0\n"
        "f mer_a calls 0 0 50950000\n"
        "f mer_a chat 200000 0 0\n"
        "f mer_a tokens 0 5095000000 0\n"
        "f mer_b voice 0 0 0\n");

    /* before the current row took effect: the old one still counts */
    memset(&o, 0, sizeof(o));
    ck_assert_int_eq(authrates_render(t, 500, 0, add, &o), 0);
    ck_assert_ptr_nonnull(strstr(o.buf, "r openai gpt-4o-mini 900000000 900000000\n"));

    rates_free(t);

    ck_assert_int_eq(authrates_with_charge(1, 19000), 2);
    ck_assert_int_eq(authrates_with_charge(1000000, 19000), 1019000);
    ck_assert_int_eq(authrates_with_charge(-1, 19000), 0);
    ck_assert(authrates_with_charge(INT64_MAX, 19000) == INT64_MAX);
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("authrates");
    tc = tcase_create("core");
    tcase_add_test(tc, test_render);
    suite_add_tcase(s, tc);

    return s;
}
