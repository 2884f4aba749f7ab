/*
 * Pricing of one request, pure: no I/O, no allocation.
 *
 *   base cost      = round(sum(tokens_bucket * rate_bucket) / 1e6)
 *   fee (fixed)    = round(basis_tokens * fee_nusd_per_1m / 1e6)
 *   fee (percent)  = round(base_cost_nusd * fee_ppm / 1e6)
 *   service charge = round(fee_nusd * service_charge_ppm / 1e6)
 *
 * Each amount is rounded half up to 1 nano-USD once, and the next one is
 * computed from the rounded amount before it, so every line of the ledger
 * can be recomputed from the lines above it (docs/ledger.md).
 */
#ifndef SIDECAR_PRICE_H
#define SIDECAR_PRICE_H

#include <stdint.h>

#define PRICE_UNSET  (-1)   /* rate column without a separate price */
#define PRICE_SERVICE_CHARGE_PPM_DEFAULT  19000   /* 1.9 % of the fee */

/* Normalised usage buckets, docs/events.md; never overlapping. */
typedef struct {
    int64_t  input_tokens;
    int64_t  cached_input_tokens;
    int64_t  cache_write_tokens;
    int64_t  cache_write_1h_tokens;
    int64_t  output_tokens;
    int64_t  reasoning_tokens;
    int64_t  audio_input_tokens;
    int64_t  audio_output_tokens;
    int64_t  characters;
    int64_t  usage_duration_ms;
    int64_t  requests;
    int64_t  images;
} usage_t;

/* One provider_rates row; prices in nano-USD per 1M tokens. */
typedef struct {
    int64_t  id;
    int64_t  effective_from_ms;
    char    *provider;             /* owned by the rate table */
    char    *model;
    int64_t  input;
    int64_t  cached_input;         /* PRICE_UNSET: the input price */
    int64_t  cache_write;          /* PRICE_UNSET: the input price */
    int64_t  cache_write_1h;       /* PRICE_UNSET: cache_write, else input */
    int64_t  output;
    int64_t  reasoning;            /* PRICE_UNSET: the output price */
    int64_t  audio_input;          /* PRICE_UNSET: not priceable */
    int64_t  audio_output;         /* PRICE_UNSET: not priceable */
} rate_t;

typedef enum {
    FEE_FIXED = 0,                 /* amount: nano-USD per 1M basis tokens */
    FEE_PERCENTAGE                 /* amount: ppm of the base cost */
} fee_kind_e;

typedef enum {
    BASIS_INPUT_OUTPUT = 0,        /* every prompt and completion bucket */
    BASIS_OUTPUT                   /* completion buckets only */
} token_basis_e;

typedef struct {
    char          *merchant_id;    /* owned by the rate table */
    char          *slug;
    fee_kind_e     kind;
    int64_t        amount;
    token_basis_e  basis;
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
    const rate_t   *rate;          /* NULL: no rate for the provider and model */
    int             has_meter;     /* the token named a meter */
    const meter_t  *meter;         /* NULL: the named meter is unknown */
    int64_t         service_charge_ppm;
} price_req_t;

typedef struct {
    price_state_e   state;
    const char     *note;          /* static string, NULL when priced */
    const rate_t   *rate;          /* the rate row used, or NULL */
    const meter_t  *meter;         /* the meter whose fee applied, or NULL */
    int64_t         fee_tokens;    /* tokens a fixed fee was computed on */
    int64_t         service_charge_ppm;
    int64_t         base_nusd;     /* the three amounts: valid when priced or zero */
    int64_t         fee_nusd;
    int64_t         service_charge_nusd;
} price_t;

/* Prompt + completion tokens, or completion only; -1 on overflow. */
int64_t price_basis_tokens(const usage_t *u, token_basis_e basis);

/* 0 with *out set, or -1 with *why set (static string). */
int price_base(const usage_t *u, const rate_t *r, int64_t *out, const char **why);
int price_fee(const meter_t *m, const usage_t *u, int64_t base_nusd,
    int64_t *fee_nusd, int64_t *fee_tokens);
int price_service_charge(int64_t fee_nusd, int64_t ppm, int64_t *out);

void price_request(const price_req_t *req, price_t *out);

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

#endif
