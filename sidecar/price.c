#include <stddef.h>

#include "money.h"
#include "price.h"

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

int
price_base(const usage_t *u, const rate_t *r, int64_t *out, const char **why)
{
    money_acc_t acc;
    int64_t     cached, cw, cw1h, reasoning;

    cached = r->cached_input != PRICE_UNSET ? r->cached_input : r->input;
    cw = r->cache_write != PRICE_UNSET ? r->cache_write : r->input;
    cw1h = r->cache_write_1h != PRICE_UNSET ? r->cache_write_1h : cw;
    reasoning = r->reasoning != PRICE_UNSET ? r->reasoning : r->output;

    if (u->audio_input_tokens > 0 && r->audio_input == PRICE_UNSET) {
        *why = "no audio input price for the model";
        return -1;
    }
    if (u->audio_output_tokens > 0 && r->audio_output == PRICE_UNSET) {
        *why = "no audio output price for the model";
        return -1;
    }

    money_acc_init(&acc);
    money_acc_add(&acc, u->input_tokens, r->input);
    money_acc_add(&acc, u->cached_input_tokens, cached);
    money_acc_add(&acc, u->cache_write_tokens, cw);
    money_acc_add(&acc, u->cache_write_1h_tokens, cw1h);
    money_acc_add(&acc, u->output_tokens, r->output);
    money_acc_add(&acc, u->reasoning_tokens, reasoning);
    if (u->audio_input_tokens > 0) {
        money_acc_add(&acc, u->audio_input_tokens, r->audio_input);
    }
    if (u->audio_output_tokens > 0) {
        money_acc_add(&acc, u->audio_output_tokens, r->audio_output);
    }

    if (money_acc_div(&acc, MONEY_PER_MILLION, out) != 0) {
        *why = "amount overflow";
        return -1;
    }
    return 0;
}

int
price_fee(const meter_t *m, const usage_t *u, int64_t base_nusd,
    int64_t *fee_nusd, int64_t *fee_tokens)
{
    int64_t tokens;

    if (m->kind == FEE_PERCENTAGE) {
        *fee_tokens = 0;
        return money_muldiv(base_nusd, m->amount, MONEY_PER_MILLION, fee_nusd);
    }

    tokens = price_basis_tokens(u, m->basis);
    if (tokens < 0) {
        return -1;
    }
    *fee_tokens = tokens;
    return money_muldiv(tokens, m->amount, MONEY_PER_MILLION, fee_nusd);
}

int
price_service_charge(int64_t fee_nusd, int64_t ppm, int64_t *out)
{
    return money_muldiv(fee_nusd, ppm, MONEY_PER_MILLION, out);
}

static void
unpriced(price_t *out, const char *why)
{
    out->state = PRICE_UNPRICED;
    out->note = why;
    out->base_nusd = 0;
    out->fee_nusd = 0;
    out->service_charge_nusd = 0;
    out->fee_tokens = 0;
}

void
price_request(const price_req_t *req, price_t *out)
{
    const char *why;
    int64_t     tokens;

    out->state = PRICE_ZERO;
    out->note = NULL;
    out->rate = NULL;
    out->meter = NULL;
    out->fee_tokens = 0;
    out->service_charge_ppm = req->service_charge_ppm;
    out->base_nusd = 0;
    out->fee_nusd = 0;
    out->service_charge_nusd = 0;

    if (!req->chargeable || req->payer == PAYER_NONE) {
        return;
    }

    tokens = price_basis_tokens(req->usage, BASIS_INPUT_OUTPUT);
    if (tokens < 0) {
        unpriced(out, "amount overflow");
        return;
    }
    if (tokens == 0) {
        /* no usage: a provider error without usage, an abort before any */
        return;
    }

    /* Never zero by accident: a missing price is a visible state. */
    if (req->rate == NULL) {
        unpriced(out, "no rate for the provider and model");
        return;
    }
    out->rate = req->rate;

    if (price_base(req->usage, req->rate, &out->base_nusd, &why) != 0) {
        unpriced(out, why);
        return;
    }

    /* The merchant's fee is charged to its customer, not to itself. */
    if (req->payer == PAYER_CUSTOMER && req->has_meter) {
        if (req->meter == NULL) {
            unpriced(out, "unknown meter");
            return;
        }
        out->meter = req->meter;
        if (price_fee(req->meter, req->usage, out->base_nusd, &out->fee_nusd,
                      &out->fee_tokens) != 0
            || price_service_charge(out->fee_nusd, req->service_charge_ppm,
                                    &out->service_charge_nusd) != 0)
        {
            unpriced(out, "amount overflow");
            return;
        }
    }

    out->state = PRICE_PRICED;
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
