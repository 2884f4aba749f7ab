/*
 * In-memory copy of the pricing tables (provider_rates, model_aliases,
 * meter_only_providers, meters, meter_tiers), read from Postgres in one
 * repeatable-read snapshot. A load builds a complete new table; the caller
 * swaps it in and frees the old one, so pricing never sees a half-loaded
 * table. pricing_state.version moves with every change of those tables:
 * rates_changed() tells when to load again.
 */
#ifndef SIDECAR_RATES_H
#define SIDECAR_RATES_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "event.h"
#include "price.h"

/* model_aliases row: a model name (or a '*' pattern) priced as another. */
typedef struct {
    char    *provider;
    char    *pattern;
    char    *model;
    int      glob;             /* the pattern has a '*' */
    size_t   literal;          /* bytes that are not '*': more is more specific */
} alias_t;

typedef struct {
    rate_t   *rates;           /* sorted by provider, model, effective_from,
                                  prompt_tokens_over */
    size_t    nrates;
    meter_t  *meters;          /* sorted by merchant_id, slug */
    size_t    nmeters;
    tier_t   *tiers;           /* what meters[].tiers point into */
    size_t    ntiers;
    alias_t  *aliases;         /* sorted by provider, exact before '*',
                                  most literal bytes first, pattern */
    size_t    naliases;
    char    **meter_only;      /* providers billed on the meter alone, sorted */
    size_t    nmeter_only;
    int64_t   version;         /* pricing_state.version loaded; -1 in tests */
} rates_t;

/* NULL on failure (logged). */
rates_t *rates_load(PGconn *conn);
void rates_free(rates_t *t);

/* 1 when pricing_state.version differs from the loaded one, 0 when not,
 * -1 when it cannot be read (logged). */
int rates_changed(PGconn *conn, const rates_t *t);

/*
 * The rate row for a request: the model name is resolved to the first of
 *   1. the name itself, 2. an exact alias, 3. the name without a date suffix
 *   ("-2024-07-18", "-20240718") and its exact alias, 4. '*' patterns, most
 *   specific first, 5. the provider's rows for model "*" (any model, no
 *   model named)
 * that has rate rows; then the rows in force at ts_ms (the latest
 * effective_from not after it) are taken, and among them the long-context
 * tier for prompt_tokens (the highest prompt_tokens_over below it, else the
 * base row). NULL with *why (static) when none.
 */
const rate_t *rates_find(const rates_t *t, const char *provider, size_t plen,
    const char *model, size_t mlen, int64_t ts_ms, int64_t prompt_tokens,
    const char **why);

const meter_t *rates_meter(const rates_t *t, const char *merchant, size_t mlen,
    const char *slug, size_t slen);

int rates_meter_only(const rates_t *t, const char *provider, size_t plen);

/* '*' matches any run of bytes, everything else itself. */
int rates_glob_match(const char *pat, const char *s, size_t slen);

/*
 * Prices one decoded event against the table. Returns 1 when a rate or the
 * meter was missing (worth loading the table again), else 0.
 */
int rates_price_event(const rates_t *t, const event_t *ev, int64_t service_charge_ppm,
    sc_basis_e service_charge_basis, price_t *out);

/* Adds the pricing columns of the events row to a JSON object; 0 or -1. */
int rates_price_json(json_t *o, const price_t *p);

/* For tests: build a table from arrays (copied), sorting them. */
rates_t *rates_from(const rate_t *rates, size_t nrates, const meter_t *meters,
    size_t nmeters, const alias_t *aliases, size_t naliases,
    const char *const *meter_only, size_t nmeter_only);

#endif
