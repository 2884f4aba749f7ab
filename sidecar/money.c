#include "money.h"

#define I128_MAX  ((__int128) (((unsigned __int128) 1 << 127) - 1))

void
money_acc_init(money_acc_t *acc)
{
    acc->sum = 0;
    acc->bad = 0;
}

static void
acc_put(money_acc_t *acc, __int128 p)
{
    if (acc->sum > I128_MAX - p) {
        acc->bad = 1;
        return;
    }
    acc->sum += p;
}

void
money_acc_add(money_acc_t *acc, int64_t a, int64_t b)
{
    if (a < 0 || b < 0) {
        acc->bad = 1;
        return;
    }

    /* (2^63-1)^2 < 2^126: one product always fits; the sum may not */
    acc_put(acc, (__int128) a * b);
}

void
money_acc_add3(money_acc_t *acc, int64_t a, int64_t b, int64_t k)
{
    __int128 p;

    if (a < 0 || b < 0 || k < 0
        || __builtin_mul_overflow((__int128) a * b, (__int128) k, &p))
    {
        acc->bad = 1;
        return;
    }
    acc_put(acc, p);
}

/* round_half_up(n / d) for n >= 0, d > 0 */
static int
div_half_up(__int128 n, __int128 d, int64_t *out)
{
    __int128 q, r;

    if (n < 0 || d <= 0) {
        return -1;
    }

    q = n / d;
    r = n % d;

    /* half up: a remainder of at least half the divisor rounds up */
    if (r >= d - r) {
        q++;
    }

    if (q > INT64_MAX) {
        return -1;
    }

    *out = (int64_t) q;
    return 0;
}

int
money_acc_div(const money_acc_t *acc, int64_t d, int64_t *out)
{
    if (acc->bad) {
        return -1;
    }
    return div_half_up(acc->sum, d, out);
}

int
money_acc_muldiv(const money_acc_t *acc, __int128 m, __int128 d, int64_t *out)
{
    __int128 n;

    if (acc->bad || m < 0 || __builtin_mul_overflow(acc->sum, m, &n)) {
        return -1;
    }
    return div_half_up(n, d, out);
}

int
money_muldiv(int64_t a, int64_t b, int64_t d, int64_t *out)
{
    money_acc_t acc;

    money_acc_init(&acc);
    money_acc_add(&acc, a, b);
    return money_acc_div(&acc, d, out);
}

int
money_add(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0 || __builtin_add_overflow(a, b, out)) {
        return -1;
    }
    return 0;
}
