/*
 * Wallet reservation arithmetic (see lava_reserve.h).
 */

#include "lava_reserve.h"


typedef unsigned __int128  lava_u128_t;


static int64_t
lava_reserve_sat(lava_u128_t v)
{
    return v > (lava_u128_t) INT64_MAX ? INT64_MAX : (int64_t) v;
}


static uint64_t
lava_reserve_pos(int64_t v)
{
    return v > 0 ? (uint64_t) v : 0;
}


int64_t
lava_reserve_amount(const lava_reserve_rates_t *rt, int64_t in_tokens,
    int64_t out_tokens)
{
    uint64_t     tin, tout;
    lava_u128_t  base, fixed, total, q, m;

    tin = lava_reserve_pos(in_tokens);
    tout = lava_reserve_pos(out_tokens);

    /* each product below 2^63 * 2^63 = 2^126: no 128-bit overflow */
    base = (lava_u128_t) tin * lava_reserve_pos(rt->in)
           + (lava_u128_t) tout * lava_reserve_pos(rt->out);

    /* base nusd, rounded up (< 2^108), then the percentage fee: rounded
     * up again, an upper bound still; saturated past 64 bits */
    q = (base + 999999) / 1000000;
    m = 1000000 + (lava_u128_t) lava_reserve_pos(rt->fee_ppm);

    if (q > ((lava_u128_t) 1 << 64) || m > ((lava_u128_t) 1 << 63)) {
        return INT64_MAX;
    }

    total = (q * m + 999999) / 1000000;

    fixed = ((lava_u128_t) tin + tout) * lava_reserve_pos(rt->fee_per_1m);
    fixed = (fixed + 999999) / 1000000;

    total += fixed;
    total += lava_reserve_pos(rt->fee_per_request);
    total += LAVA_RESERVE_ROUNDING;

    return lava_reserve_sat(total);
}


int64_t
lava_reserve_input_max(int64_t request_bytes)
{
    return request_bytes > 0 ? request_bytes : 0;
}


void
lava_reserve_usage_tokens(const lava_usage_buckets_t *u, int64_t *in_tokens,
    int64_t *out_tokens, int *other)
{
    int64_t  in, out;

    in = 0;
    in = lava_reserve_add(in, (int64_t) lava_reserve_pos(u->input_tokens));
    in = lava_reserve_add(in, (int64_t) lava_reserve_pos(u->cached_input_tokens));
    in = lava_reserve_add(in, (int64_t) lava_reserve_pos(u->cache_write_tokens));
    in = lava_reserve_add(in,
                          (int64_t) lava_reserve_pos(u->cache_write_1h_tokens));
    in = lava_reserve_add(in, (int64_t) lava_reserve_pos(u->audio_input_tokens));
    in = lava_reserve_add(in, (int64_t) lava_reserve_pos(u->characters));

    out = 0;
    out = lava_reserve_add(out, (int64_t) lava_reserve_pos(u->output_tokens));
    out = lava_reserve_add(out, (int64_t) lava_reserve_pos(u->reasoning_tokens));
    out = lava_reserve_add(out,
                           (int64_t) lava_reserve_pos(u->audio_output_tokens));

    *in_tokens = in;
    *out_tokens = out;
    *other = (u->usage_duration_ms > 0 || u->images > 0);
}


int64_t
lava_reserve_add(int64_t a, int64_t b)
{
    int64_t  r;

    if (__builtin_add_overflow(a, b, &r)) {
        return b > 0 ? INT64_MAX : INT64_MIN;
    }

    return r;
}


int64_t
lava_reserve_sub(int64_t a, int64_t b)
{
    int64_t  r;

    if (__builtin_sub_overflow(a, b, &r)) {
        return b < 0 ? INT64_MAX : INT64_MIN;
    }

    return r;
}


static int
lava_reserve_digits(const char *s, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }

    return 1;
}


size_t
lava_reserve_undated(const char *model, size_t len)
{
    const char  *s;

    /* -YYYY-MM-DD */
    if (len > 11) {
        s = model + len - 11;

        if (s[0] == '-' && lava_reserve_digits(s + 1, 4) && s[5] == '-'
            && lava_reserve_digits(s + 6, 2) && s[8] == '-'
            && lava_reserve_digits(s + 9, 2))
        {
            return len - 11;
        }
    }

    /* -YYYYMMDD */
    if (len > 9) {
        s = model + len - 9;

        if (s[0] == '-' && lava_reserve_digits(s + 1, 8)) {
            return len - 9;
        }
    }

    return len;
}
