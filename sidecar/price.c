#include <stddef.h>

#include "money.h"
#include "price.h"

/* tokens and characters per 1M, duration (ms) per hour, requests, images
 * and tool calls each: 18e6 is the least common denominator of 1e6 and 3.6e6 */
#define BASE_DENOM        18000000LL
#define PER_1M_FACTOR     (BASE_DENOM / MONEY_PER_MILLION)      /* 18 */
#define PER_HOUR_FACTOR   (BASE_DENOM / MONEY_MS_PER_HOUR)      /* 5 */

static int64_t
sum_or_fail(const int64_t *v, size_t n)
{
    int64_t s = 0;
    size_t  i;

    for (i = 0; i < n; i++) {
        if (money_add(s, v[i], &s) != 0) {
            return -1;
        }
    }
    return s;
}

int64_t
price_basis_tokens(const usage_t *u, token_basis_e basis)
{
    int64_t all[] = {
        u->output_tokens, u->reasoning_tokens, u->audio_output_tokens,
        u->input_tokens, u->cached_input_tokens, u->cache_write_tokens,
        u->cache_write_1h_tokens, u->audio_input_tokens
    };

    /* the first three are the completion buckets */
    return sum_or_fail(all, basis == BASIS_OUTPUT ? 3 : 8);
}

int64_t
price_prompt_tokens(const usage_t *u)
{
    int64_t prompt[] = {
        u->input_tokens, u->cached_input_tokens, u->cache_write_tokens,
        u->cache_write_1h_tokens, u->audio_input_tokens
    };

    return sum_or_fail(prompt, 5);
}

int64_t
price_meter_units(const meter_t *m, const usage_t *u, int64_t requests)
{
    switch (m->unit) {
    case UNIT_CHARACTERS: return u->characters;
    case UNIT_MINUTES:    return u->usage_duration_ms;
    case UNIT_REQUESTS:   return requests;
    default:              return price_basis_tokens(u, m->basis);
    }
}

/* count * price / unit, where a missing price is an error only when the
 * count is not zero */
static int
add_priced(money_acc_t *acc, int64_t count, int64_t price, int64_t factor,
    const char *missing, const char **why)
{
    if (count == 0) {
        return 0;
    }
    if (price == PRICE_UNSET) {
        *why = missing;
        return -1;
    }
    money_acc_add3(acc, count, price, factor);
    return 0;
}

int
price_base(const usage_t *u, int64_t requests, const rate_t *r, int64_t *out,
    const char **why)
{
    money_acc_t acc;
    int64_t     cached, cw, cw1h, reasoning;

    cached = r->cached_input != PRICE_UNSET ? r->cached_input : r->input;
    cw = r->cache_write != PRICE_UNSET ? r->cache_write : r->input;
    cw1h = r->cache_write_1h != PRICE_UNSET ? r->cache_write_1h : cw;
    reasoning = r->reasoning != PRICE_UNSET ? r->reasoning : r->output;

    money_acc_init(&acc);
    if (add_priced(&acc, u->input_tokens, r->input, PER_1M_FACTOR,
                   "no input token price for the model", why) != 0
        || add_priced(&acc, u->cached_input_tokens, cached, PER_1M_FACTOR,
                      "no input token price for the model", why) != 0
        || add_priced(&acc, u->cache_write_tokens, cw, PER_1M_FACTOR,
                      "no input token price for the model", why) != 0
        || add_priced(&acc, u->cache_write_1h_tokens, cw1h, PER_1M_FACTOR,
                      "no input token price for the model", why) != 0
        || add_priced(&acc, u->output_tokens, r->output, PER_1M_FACTOR,
                      "no output token price for the model", why) != 0
        || add_priced(&acc, u->reasoning_tokens, reasoning, PER_1M_FACTOR,
                      "no output token price for the model", why) != 0
        || add_priced(&acc, u->audio_input_tokens, r->audio_input, PER_1M_FACTOR,
                      "no audio input price for the model", why) != 0
        || add_priced(&acc, u->audio_output_tokens, r->audio_output, PER_1M_FACTOR,
                      "no audio output price for the model", why) != 0
        || add_priced(&acc, u->characters, r->characters, PER_1M_FACTOR,
                      "no character price for the model", why) != 0
        || add_priced(&acc, u->usage_duration_ms, r->per_hour, PER_HOUR_FACTOR,
                      "no duration price for the model", why) != 0
        || add_priced(&acc, u->images, r->per_image, BASE_DENOM,
                      "no image price for the model", why) != 0
        || add_priced(&acc, u->web_search_calls, r->per_web_search, BASE_DENOM,
                      "no web search price for the model", why) != 0
        || add_priced(&acc, u->web_fetch_calls, r->per_web_fetch, BASE_DENOM,
                      "no web fetch price for the model", why) != 0
        || add_priced(&acc, u->grounded_prompts, r->per_grounded_prompt,
                      BASE_DENOM, "no grounded prompt price for the model",
                      why) != 0)
    {
        return -1;
    }

    /* every forwarded request counts one; without a price it costs nothing */
    if (r->per_request != PRICE_UNSET) {
        money_acc_add3(&acc, requests, r->per_request, BASE_DENOM);
    }

    if (money_acc_div(&acc, BASE_DENOM, out) != 0) {
        *why = "amount overflow";
        return -1;
    }
    return 0;
}

static int64_t
unit_divisor(meter_unit_e u)
{
    switch (u) {
    case UNIT_MINUTES:  return MONEY_MS_PER_MINUTE;
    case UNIT_REQUESTS: return 1;
    default:            return MONEY_PER_MILLION;
    }
}

/* the rate of the tier a count of `before` units is in */
static int64_t
tier_rate_at(const meter_t *m, int64_t before)
{
    size_t i;

    for (i = m->ntiers; i-- > 0; ) {
        if (m->tiers[i].start <= before) {
            return m->tiers[i].rate;
        }
    }
    return 0;
}

int
price_fee(const meter_t *m, int64_t before, int64_t units, int64_t base_nusd,
    int64_t *fee_nusd, price_split_t split[PRICE_MAX_TIERS], size_t *nsplit)
{
    money_acc_t acc;
    int64_t     end, lo, hi;
    size_t      i, n = 0;

    *nsplit = 0;
    if (m->ntiers == 0 || m->ntiers > PRICE_MAX_TIERS || before < 0 || units < 0
        || base_nusd < 0 || money_add(before, units, &end) != 0)
    {
        return -1;
    }

    /* graduated: each part of [before, before + units) at its tier's rate */
    money_acc_init(&acc);
    for (i = 0; i < m->ntiers; i++) {
        lo = before > m->tiers[i].start ? before : m->tiers[i].start;
        hi = end;
        if (i + 1 < m->ntiers && m->tiers[i + 1].start < hi) {
            hi = m->tiers[i + 1].start;
        }
        if (hi > lo) {
            split[n].start = m->tiers[i].start;
            split[n].units = hi - lo;
            split[n].rate = m->tiers[i].rate;
            money_acc_add(&acc, hi - lo, m->tiers[i].rate);
            n++;
        }
    }
    *nsplit = n;

    if (m->kind == FEE_FIXED) {
        return money_acc_div(&acc, unit_divisor(m->unit), fee_nusd);
    }

    if (units == 0) {
        /* nothing counted (a percentage meter on requests, say): the rate
         * of the tier the customer is in */
        return money_muldiv(base_nusd, tier_rate_at(m, before), MONEY_PER_MILLION,
                            fee_nusd);
    }

    /* percentage: the base cost shared out over the tiers by units */
    return money_acc_muldiv(&acc, base_nusd, (__int128) units * MONEY_PER_MILLION,
                            fee_nusd);
}

int
price_service_charge(int64_t base_nusd, int64_t fee_nusd, int64_t ppm,
    sc_basis_e basis, int64_t *out)
{
    int64_t amount;

    switch (basis) {
    case SC_BASIS_BASE:
        amount = base_nusd;
        break;
    case SC_BASIS_BASE_FEE:
        if (money_add(base_nusd, fee_nusd, &amount) != 0) {
            return -1;
        }
        break;
    default:
        amount = fee_nusd;
        break;
    }
    return money_muldiv(amount, ppm, MONEY_PER_MILLION, out);
}

/* nothing of a fee is recorded for an unpriced request: its units do not
 * count on the meter until it is priced */
static void
unpriced(price_t *out, const char *why)
{
    out->state = PRICE_UNPRICED;
    out->note = why;
    out->meter = NULL;
    out->fee_units = 0;
    out->fee_units_before = -1;
    out->fee_rate = 0;
    out->base_nusd = 0;
    out->fee_nusd = 0;
    out->service_charge_nusd = 0;
    out->nsplit = 0;
}

/* fee and service charge of a priced request, from p->fee_units_before */
static void
charge(price_t *p)
{
    int64_t before = p->fee_units_before >= 0 ? p->fee_units_before : 0;

    p->fee_nusd = 0;
    p->fee_rate = 0;
    p->nsplit = 0;
    if (p->meter != NULL) {
        if (price_fee(p->meter, before, p->fee_units, p->base_nusd, &p->fee_nusd,
                      p->split, &p->nsplit) != 0)
        {
            unpriced(p, "amount overflow");
            return;
        }
        p->fee_rate = p->nsplit > 0 ? p->split[0].rate : tier_rate_at(p->meter, before);
    }
    if (price_service_charge(p->base_nusd, p->fee_nusd, p->service_charge_ppm,
                             p->service_charge_basis, &p->service_charge_nusd) != 0)
    {
        unpriced(p, "amount overflow");
    }
}

void
price_request(const price_req_t *req, price_t *out)
{
    const usage_t *u = req->usage;
    const char    *why = NULL;
    int64_t        tokens, units;
    int            measured, per_request;

    out->state = PRICE_ZERO;
    out->note = NULL;
    out->rate = NULL;
    out->meter = NULL;
    out->requests = 0;
    out->fee_units = 0;
    out->fee_units_before = -1;
    out->fee_rate = 0;
    out->nsplit = 0;
    out->service_charge_ppm = req->service_charge_ppm;
    out->service_charge_basis = req->service_charge_basis;
    out->base_nusd = 0;
    out->fee_nusd = 0;
    out->service_charge_nusd = 0;

    if (!req->chargeable || req->payer == PAYER_NONE) {
        return;
    }

    /* a provider's error answer is not a billed request */
    out->requests = req->provider_error ? 0 : u->requests;

    tokens = price_basis_tokens(u, BASIS_INPUT_OUTPUT);
    if (tokens < 0) {
        unpriced(out, "amount overflow");
        return;
    }
    measured = tokens > 0 || u->characters > 0 || u->usage_duration_ms > 0 || u->images > 0
               || u->web_search_calls > 0 || u->web_fetch_calls > 0
               || u->grounded_prompts > 0;

    if (!measured) {
        /* no usage at all, unless something is priced per request */
        per_request = out->requests > 0
            && ((!req->meter_only && req->rate != NULL && req->rate->per_request > 0)
                || (req->payer == PAYER_CUSTOMER && req->has_meter && req->meter != NULL
                    && req->meter->unit == UNIT_REQUESTS));
        if (!per_request && req->per_request_only && out->requests > 0 && !req->meter_only
            && (req->rate == NULL || req->rate->per_request == PRICE_UNSET))
        {
            /* the request is the only billed unit: no request price is a
             * missing price, visible and re-priceable, never a free call */
            unpriced(out, req->rate == NULL
                          ? (req->rate_why != NULL ? req->rate_why
                                                   : "no rate for the provider and model")
                          : "no per-request price (request_nusd) for the provider");
            return;
        }
        if (!per_request) {
            return;
        }
    }

    if (req->meter_only) {
        /* a custom provider: no list price, the merchant's meter bills */
        if (req->payer != PAYER_CUSTOMER || !req->has_meter) {
            return;
        }
        out->base_nusd = 0;

    } else {
        /* Never zero by accident: a missing price is a visible state. */
        if (req->rate == NULL) {
            unpriced(out, req->rate_why != NULL ? req->rate_why
                                                : "no rate for the provider and model");
            return;
        }
        out->rate = req->rate;

        if (price_base(u, out->requests, req->rate, &out->base_nusd, &why) != 0) {
            unpriced(out, why);
            return;
        }
    }

    /* The merchant's fee is charged to its customer, not to itself. */
    if (req->payer == PAYER_CUSTOMER) {
        if (req->has_meter) {
            if (req->meter == NULL) {
                unpriced(out, "unknown meter");
                return;
            }
            if (req->meter_only && req->meter->kind == FEE_PERCENTAGE) {
                unpriced(out, "a percentage meter has no base cost to work on"
                         " for a provider billed on the meter alone");
                return;
            }
            units = price_meter_units(req->meter, u, out->requests);
            if (units < 0) {
                unpriced(out, "amount overflow");
                return;
            }
            out->meter = req->meter;
            out->fee_units = units;
            out->fee_units_before = req->fee_units_before;
        }
        out->state = PRICE_PRICED;
        charge(out);
        return;
    }

    out->state = PRICE_PRICED;
}

void
price_set_before(price_t *p, int64_t before)
{
    if (p->state != PRICE_PRICED || p->meter == NULL || before < 0) {
        return;
    }
    p->fee_units_before = before;
    charge(p);
}

int
price_transfers(const price_t *p, payer_e payer, int byok,
    xfer_t out[PRICE_MAX_XFERS])
{
    account_kind_e from;
    int            n = 0;

    if (p->state != PRICE_PRICED || payer == PAYER_NONE) {
        return 0;
    }

    from = payer == PAYER_CUSTOMER ? ACCOUNT_WALLET : ACCOUNT_MERCHANT;

    if (!byok && p->base_nusd > 0) {
        out[n++] = (xfer_t) { XFER_BASE, from, ACCOUNT_PROVIDER, p->base_nusd };
    }

    if (payer == PAYER_CUSTOMER) {
        if (p->fee_nusd > 0) {
            out[n++] = (xfer_t) { XFER_FEE, from, ACCOUNT_MERCHANT, p->fee_nusd };
        }
        if (p->service_charge_nusd > 0) {
            out[n++] = (xfer_t) { XFER_SERVICE_CHARGE, from, ACCOUNT_PLATFORM,
                                  p->service_charge_nusd };
        }
    }

    return n;
}

const char *
price_state_name(price_state_e s)
{
    switch (s) {
    case PRICE_PRICED:   return "priced";
    case PRICE_UNPRICED: return "unpriced";
    default:             return "zero";
    }
}

const char *
xfer_kind_name(xfer_kind_e k)
{
    switch (k) {
    case XFER_BASE: return "base";
    case XFER_FEE:  return "fee";
    default:        return "service_charge";
    }
}

const char *
price_unit_name(meter_unit_e u)
{
    switch (u) {
    case UNIT_CHARACTERS: return "characters_1m";
    case UNIT_MINUTES:    return "minutes";
    case UNIT_REQUESTS:   return "requests";
    default:              return "tokens_1m";
    }
}

const char *
price_sc_basis_name(sc_basis_e b)
{
    switch (b) {
    case SC_BASIS_BASE:     return "base";
    case SC_BASIS_BASE_FEE: return "base_fee";
    default:                return "fee";
    }
}
