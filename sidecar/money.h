/*
 * Exact money arithmetic. Amounts are int64 nano-USD (`_nusd`, 1 USD = 1e9);
 * counts (tokens, characters, milliseconds) and rates (nano-USD per unit,
 * ppm) are int64 too. Products are formed in 128 bits, so nothing is lost
 * before the one division, which rounds half up (docs/ledger.md). Every
 * function checks its inputs and reports overflow instead of wrapping: all
 * values here are non-negative, and a negative input is an error as well.
 */
#ifndef SIDECAR_MONEY_H
#define SIDECAR_MONEY_H

#include <stdint.h>

#define MONEY_NUSD_PER_USD  1000000000LL
#define MONEY_PER_MILLION   1000000LL       /* "per 1M tokens" and ppm */
#define MONEY_MS_PER_MINUTE 60000LL
#define MONEY_MS_PER_HOUR   3600000LL

/* Exact sum of products a_i * b_i (* k_i), divided once at the end. */
typedef struct {
    __int128  sum;
    int       bad;      /* overflow or negative input seen */
} money_acc_t;

void money_acc_init(money_acc_t *acc);
void money_acc_add(money_acc_t *acc, int64_t a, int64_t b);

/* acc += a * b * k, every factor >= 0, the product checked in 128 bits. */
void money_acc_add3(money_acc_t *acc, int64_t a, int64_t b, int64_t k);

/* *out = round_half_up(acc / d). 0, or -1 when bad, d <= 0 or the result
 * does not fit in int64. */
int money_acc_div(const money_acc_t *acc, int64_t d, int64_t *out);

/* *out = round_half_up(acc * m / d), m and d 128-bit, m >= 0, d > 0; the
 * product is checked. 0 or -1. */
int money_acc_muldiv(const money_acc_t *acc, __int128 m, __int128 d, int64_t *out);

/* *out = round_half_up(a * b / d); 0 or -1 as above. */
int money_muldiv(int64_t a, int64_t b, int64_t d, int64_t *out);

/* *out = a + b; 0, or -1 on overflow or a negative input. */
int money_add(int64_t a, int64_t b, int64_t *out);

#endif
