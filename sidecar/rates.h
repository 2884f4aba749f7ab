/*
 * In-memory copy of provider_rates and meters, read from Postgres. A load
 * builds a complete new table; the caller swaps it in and frees the old
 * one, so pricing never sees a half-loaded table.
 */
#ifndef SIDECAR_RATES_H
#define SIDECAR_RATES_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "price.h"

typedef struct {
    rate_t   *rates;           /* sorted by provider, model, effective_from */
    size_t    nrates;
    meter_t  *meters;          /* sorted by merchant_id, slug */
    size_t    nmeters;
} rates_t;

/* NULL on failure (logged). */
rates_t *rates_load(PGconn *conn);
void rates_free(rates_t *t);

/*
 * The rate row in force at ts_ms for provider and model. A dated model name
 * ("gpt-4o-mini-2024-07-18", as providers answer) falls back to its
 * undated name when it has no rows of its own. NULL when none.
 */
const rate_t *rates_find(const rates_t *t, const char *provider, size_t plen,
    const char *model, size_t mlen, int64_t ts_ms);

const meter_t *rates_meter(const rates_t *t, const char *merchant, size_t mlen,
    const char *slug, size_t slen);

/* For tests: build a table from arrays (copied), sorting them. */
rates_t *rates_from(const rate_t *rates, size_t nrates, const meter_t *meters,
    size_t nmeters);

#endif
