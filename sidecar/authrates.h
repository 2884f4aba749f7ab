/*
 * The wallet reservation bounds of the auth snapshot (docs/auth-sync.md):
 * "r" and "f" records rendered from the sidecar's rate table, the one
 * pricing engine, so nginx can reserve what a request may cost before it
 * is forwarded (docs/security.md, class 8).
 *
 *   r <provider> <model> <in_nusd_per_1m> <out_nusd_per_1m>
 *       the highest input-side column (input, cache reads and writes, audio
 *       input, characters) and output-side column (output, reasoning, audio
 *       output) of the model's rows in force now or later (every tier),
 *       times (1e6 + service_charge_ppm) / 1e6, rounded up
 *   r <provider> * ...   the same over every row of the provider (models
 *       without rows of their own, glob aliases); meter-only providers 0 0
 *   r <provider> <alias> ...  an exact alias: its model's bound
 *   f <merchant_id> <meter_slug> <ppm> <nusd_per_1m> <nusd_per_request>
 *       the meter's highest tier: a percentage (ppm), a fixed rate per 1M
 *       tokens or characters, or per request, fixed rates times the service
 *       charge factor; minute meters are not bounded (0 0 0)
 */
#ifndef SIDECAR_AUTHRATES_H
#define SIDECAR_AUTHRATES_H

#include <stddef.h>
#include <stdint.h>

#include "rates.h"

/* appends n bytes; 0 or -1 (out of memory) */
typedef int (*authrates_add_pt)(void *arg, const char *s, size_t n);

/* Lines of the records, each ending in '\n', in a stable order; 0 or -1. */
int authrates_render(const rates_t *t, int64_t now_ms, int64_t sc_ppm,
    authrates_add_pt add, void *arg);

/* x * (1e6 + sc_ppm) / 1e6 rounded up, saturating at INT64_MAX */
int64_t authrates_with_charge(int64_t x, int64_t sc_ppm);

#endif
