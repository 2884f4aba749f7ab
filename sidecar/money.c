#include "money.h"

#define I128_MAX  ((__int128) (((unsigned __int128) 1 << 127) - 1))

void
money_acc_init(money_acc_t *acc)
{
    acc->sum = 0;
    acc->bad = 0;
}

void
money_acc_add(money_acc_t *acc, int64_t a, int64_t b)
{
    __int128 p;

    if (a < 0 || b < 0) {
        acc->bad = 1;
        return;
    }

    /* (2^63-1)^2 < 2^126: one product always fits; the sum may not */
    p = (__int128) a * b;

    if (acc->sum > I128_MAX - p) {
        acc->bad = 1;
        return;
    }

    acc->sum += p;
}

int
money_acc_div(const money_acc_t *acc, int64_t d, int64_t *out)
{
    __int128 q, r;

    if (acc->bad || d <= 0 || acc->sum < 0) {
        return -1;
    }

    q = acc->sum / d;
    r = acc->sum % d;

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
