/*
 * Pricing of one request, pure: no I/O, no allocation.
 *
 *   base cost      = round( sum(tokens_bucket * rate_bucket) / 1e6
 *                         + characters * rate_per_1m_chars / 1e6
 *                         + duration_ms * rate_per_hour / 3600000
 *                         + requests * rate_per_request + images * rate_per_image
 *                         + tool calls * rate_per_call )
 *   fee (fixed)    = round( sum over tiers(units_in_tier * tier_rate) / unit_divisor )
 *   fee (percent)  = round( base_cost * sum(units_in_tier * tier_ppm) / (units * 1e6) )
 *   service charge = round( basis_amount * service_charge_ppm / 1e6 )
 *
 * Each amount is rounded half up to 1 nano-USD once, and the next one is
 * computed from the rounded amount before it, so every line of the ledger
 * can be recomputed from the lines above it (docs/ledger.md, docs/pricing.md).
 */
#ifndef SIDECAR_PRICE_H
#define SIDECAR_PRICE_H

#include <stddef.h>
#include <stdint.h>

#include "lava_event_fields.h"

#define PRICE_UNSET  (-1)   /* rate column without a price */
#define PRICE_SERVICE_CHARGE_PPM_DEFAULT  19000   /* 1.9 % of the fee */
#define PRICE_MAX_TIERS  16 /* graduated tiers of one meter (SQL enforces it) */

/* Normalised usage buckets, docs/events.md; never overlapping. The
 * module's own struct (lib/lava_event_fields.h). */
typedef lava_usage_buckets_t usage_t;

/*
 * One provider_rates row. Token prices are nano-USD per 1M tokens,
 * characters nano-USD per 1M characters, duration nano-USD per hour,
 * requests, images and server-side tool calls nano-USD each. PRICE_UNSET: no
 * price (see price_base).
 */
typedef struct {
    int64_t  id;
    int64_t  effective_from_ms;
    char    *provider;             /* owned by the rate table */
    char    *model;
    int64_t  prompt_tokens_over;   /* long-context tier: applies above this
                                      many prompt tokens; 0: the base row */
    int64_t  input;                /* PRICE_UNSET: input tokens unpriceable */
    int64_t  cached_input;         /* PRICE_UNSET: the input price */
    int64_t  cache_write;          /* PRICE_UNSET: the input price */
    int64_t  cache_write_1h;       /* PRICE_UNSET: cache_write, else input */
    int64_t  output;               /* PRICE_UNSET: output tokens unpriceable */
    int64_t  reasoning;            /* PRICE_UNSET: the output price */
    int64_t  audio_input;          /* PRICE_UNSET: not priceable */
    int64_t  audio_output;         /* PRICE_UNSET: not priceable */
    int64_t  characters;           /* PRICE_UNSET: not priceable */
    int64_t  per_hour;             /* of usage_duration_ms; PRICE_UNSET: not
                                      priceable (per hour: $0.40 an hour is
                                      a whole number of nano-USD) */
    int64_t  per_request;          /* PRICE_UNSET: requests cost nothing */
    int64_t  per_image;            /* PRICE_UNSET: not priceable */
    int64_t  per_web_search;       /* per web_search_calls; PRICE_UNSET: not
                                      priceable */
    int64_t  per_web_fetch;        /* per web_fetch_calls; PRICE_UNSET: not
                                      priceable */
    int64_t  per_grounded_prompt;  /* per grounded_prompts; PRICE_UNSET: not
                                      priceable */
} rate_t;

typedef enum {
    FEE_FIXED = 0,                 /* tier rate: nano-USD per unit */
    FEE_PERCENTAGE                 /* tier rate: ppm of the base cost */
} fee_kind_e;

/* What a meter counts; tier starts are in the counted base units. */
typedef enum {
    UNIT_TOKENS = 0,               /* tokens; rate per 1M tokens */
    UNIT_CHARACTERS,               /* characters; rate per 1M characters */
    UNIT_MINUTES,                  /* milliseconds; rate per minute */
    UNIT_REQUESTS                  /* requests; rate per request */
} meter_unit_e;

typedef enum {
    BASIS_INPUT_OUTPUT = 0,        /* every prompt and completion bucket */
    BASIS_OUTPUT                   /* completion buckets only */
} token_basis_e;

typedef enum {
    SC_BASIS_FEE = 0,              /* % of the merchant's fee (default) */
    SC_BASIS_BASE,                 /* % of the base cost */
    SC_BASIS_BASE_FEE              /* % of base cost + fee */
} sc_basis_e;

typedef struct {
    int64_t  start;                /* units already counted for the customer */
    int64_t  rate;                 /* FEE_FIXED: nusd per unit; else ppm */
} tier_t;

typedef struct {
    char          *merchant_id;    /* owned by the rate table */
    char          *slug;
    fee_kind_e     kind;
    meter_unit_e   unit;
    token_basis_e  basis;          /* UNIT_TOKENS only */
    const tier_t  *tiers;          /* ascending start, tiers[0].start == 0 */
    size_t         ntiers;         /* 1..PRICE_MAX_TIERS */
} meter_t;

typedef enum {
    PAYER_NONE = 0,
    PAYER_CUSTOMER,
    PAYER_MERCHANT
} payer_e;

typedef enum {
    PRICE_PRICED = 0,              /* amounts known */
    PRICE_UNPRICED,                /* something missing (note); amounts unknown */
    PRICE_ZERO                     /* nothing to charge */
} price_state_e;

/* What price_request() needs to know about one request. */
typedef struct {
    int             chargeable;    /* 0: refused, or nobody to charge */
    payer_e         payer;
    const usage_t  *usage;
    int             provider_error;/* status >= 400: no request is counted */
    int             meter_only;    /* the provider bills on the meter alone */
    int             per_request_only; /* an endpoint billed per request alone
                                      (tap_flags "per_request"): without a
                                      request price it is unpriced, not zero */
    const rate_t   *rate;          /* NULL: no rate (rate_why says why) */
    const char     *rate_why;
    int             has_meter;     /* the token named a meter */
    const meter_t  *meter;         /* NULL: the named meter is unknown */
    int64_t         fee_units_before;   /* the customer's count on the meter */
    int64_t         service_charge_ppm;
    sc_basis_e      service_charge_basis;
} price_req_t;

/* The part of a request's units that fell in one tier. */
typedef struct {
    int64_t  start;
    int64_t  units;
    int64_t  rate;
} price_split_t;

typedef struct {
    price_state_e   state;
    const char     *note;          /* static string, NULL when priced */
    const rate_t   *rate;          /* the rate row used, or NULL */
    const meter_t  *meter;         /* the meter whose fee applied, or NULL */
    int64_t         requests;      /* requests counted (0 for provider errors) */
    int64_t         fee_units;     /* the request's units on the meter */
    int64_t         fee_units_before;   /* -1: not tracked */
    int64_t         fee_rate;      /* rate of the first tier touched */
    price_split_t   split[PRICE_MAX_TIERS];
    size_t          nsplit;
    int64_t         service_charge_ppm;
    sc_basis_e      service_charge_basis;
    int64_t         base_nusd;     /* the three amounts: valid when priced or zero */
    int64_t         fee_nusd;
    int64_t         service_charge_nusd;
} price_t;

/* Prompt + completion tokens, or completion only; -1 on overflow. */
int64_t price_basis_tokens(const usage_t *u, token_basis_e basis);

/* Every prompt bucket (what a long-context tier is chosen on); -1 on overflow. */
int64_t price_prompt_tokens(const usage_t *u);

/* The request's count in a meter's unit; -1 on overflow. */
int64_t price_meter_units(const meter_t *m, const usage_t *u, int64_t requests);

/* 0 with *out set, or -1 with *why set (static string). */
int price_base(const usage_t *u, int64_t requests, const rate_t *r, int64_t *out,
    const char **why);

/*
 * Graduated fee of `units` counted from `before` (the customer's total on
 * the meter so far). Fills split[] and *nsplit; 0, or -1 on overflow.
 */
int price_fee(const meter_t *m, int64_t before, int64_t units, int64_t base_nusd,
    int64_t *fee_nusd, price_split_t split[PRICE_MAX_TIERS], size_t *nsplit);

int price_service_charge(int64_t base_nusd, int64_t fee_nusd, int64_t ppm,
    sc_basis_e basis, int64_t *out);

void price_request(const price_req_t *req, price_t *out);

/*
 * The fee and service charge again, counted from `before`: the booking
 * transaction learns the customer's count on the meter under a lock and
 * calls this. A priced request with a meter only; it may become unpriced
 * (overflow).
 */
void price_set_before(price_t *p, int64_t before);

/* Double-entry plan for a priced request. */
typedef enum {
    XFER_BASE = 0,
    XFER_FEE,
    XFER_SERVICE_CHARGE
} xfer_kind_e;

typedef enum {
    ACCOUNT_WALLET = 0,            /* the customer's wallet */
    ACCOUNT_MERCHANT,
    ACCOUNT_PROVIDER,
    ACCOUNT_PLATFORM
} account_kind_e;

typedef struct {
    xfer_kind_e     kind;
    account_kind_e  debit;
    account_kind_e  credit;
    int64_t         amount_nusd;   /* > 0 */
} xfer_t;

#define PRICE_MAX_XFERS  3

/*
 * Fills out[] with the transfers a request books and returns how many.
 * Customer payer: wallet -> provider (base), wallet -> merchant (fee),
 * wallet -> platform (service charge). Merchant payer: merchant -> provider
 * (base). byok: the user paid the provider, no base transfer. Zero amounts,
 * zero and unpriced requests book nothing.
 */
int price_transfers(const price_t *p, payer_e payer, int byok,
    xfer_t out[PRICE_MAX_XFERS]);

const char *price_state_name(price_state_e s);
const char *xfer_kind_name(xfer_kind_e k);
const char *price_unit_name(meter_unit_e u);
const char *price_sc_basis_name(sc_basis_e b);

#endif
