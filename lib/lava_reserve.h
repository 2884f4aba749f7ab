/*
 * Wallet reservations (docs/security.md, class 8): the most a request can
 * cost its customer's wallet, reserved before it is forwarded. Pure
 * arithmetic, no I/O: 128-bit integers, saturating at INT64_MAX, never a
 * double.
 *
 * The rates are the auth snapshot's bounds (docs/auth-sync.md):
 *   r record: in, out    nusd per 1M tokens, the highest of the model's rate
 *                        columns, service charge included
 *   f record: ppm        the meter's highest percentage (0: fixed meter)
 *             per_1m     its highest fixed rate per 1M tokens or characters,
 *                        service charge included
 *             per_req    its highest fixed rate per request, the same
 *
 *   amount = ceil( (in_tokens * in + out_tokens * out) * (1e6 + ppm) / 1e12
 *                  + (in_tokens + out_tokens) * per_1m / 1e6 )
 *            + per_req + LAVA_RESERVE_ROUNDING
 */
#ifndef LAVA_RESERVE_H
#define LAVA_RESERVE_H

#include <stddef.h>
#include <stdint.h>

#include "lava_meter.h"

/* the three amounts of a request (base, fee, service charge) are each
 * rounded half up once: at most 1.5 nusd above the exact bound */
#define LAVA_RESERVE_ROUNDING  2

typedef struct {
    int64_t  in;          /* nusd per 1M input tokens (r record) */
    int64_t  out;         /* nusd per 1M output tokens */
    int64_t  fee_ppm;     /* f record; 0 when the token names no meter */
    int64_t  fee_per_1m;
    int64_t  fee_per_request;
} lava_reserve_rates_t;

/* nusd, at most INT64_MAX; negative counts are taken as 0 */
int64_t lava_reserve_amount(const lava_reserve_rates_t *rt, int64_t in_tokens,
    int64_t out_tokens);

/*
 * The most input tokens a request body of request_bytes can carry: one per
 * byte (byte-level tokenizers never produce more tokens than bytes of text;
 * docs/security.md names the inputs this does not bound).
 */
int64_t lava_reserve_input_max(int64_t request_bytes);

/* The input and output tokens a booked usage is priced on (the buckets the
 * r record bounds); *other 1 when it holds units the r record does not
 * bound (duration, images, ...): then the reservation is kept whole. */
void lava_reserve_usage_tokens(const lava_usage_buckets_t *u,
    int64_t *in_tokens, int64_t *out_tokens, int *other);

/* The length of model without a date suffix ("-2024-07-18", "-20240718"),
 * the sidecar's third lookup (rates_find); len when it has none. */
size_t lava_reserve_undated(const char *model, size_t len);

/* a + b and a - b within [INT64_MIN, INT64_MAX] */
int64_t lava_reserve_add(int64_t a, int64_t b);
int64_t lava_reserve_sub(int64_t a, int64_t b);

#endif /* LAVA_RESERVE_H */
