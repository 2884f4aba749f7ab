#include <stdio.h>
#include <string.h>

#include "authrates.h"

int64_t
authrates_with_charge(int64_t x, int64_t sc_ppm)
{
    unsigned __int128 v;

    if (x <= 0) {
        return 0;
    }
    v = (unsigned __int128) x * (unsigned __int128) (1000000 + (sc_ppm > 0 ? sc_ppm : 0));
    v = (v + 999999) / 1000000;
    return v > INT64_MAX ? INT64_MAX : (int64_t) v;
}

static int64_t
max2(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* the same charset the module's parser takes (lib/lava_authsnap.c) */
static int
is_id(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64) {
        return 0;
    }
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '_' || c == '.' || c == ':' || c == '-'))
        {
            return 0;
        }
    }
    return 1;
}

static int
is_model(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 255) {
        return 0;
    }
    for (; *s; s++) {
        if ((unsigned char) *s <= 0x20 || (unsigned char) *s >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

static int
line(authrates_add_pt add, void *arg, const char *fmt, const char *a, const char *b,
     int64_t x, int64_t y, int64_t z, int three)
{
    char buf[512];
    int  n;

    n = three ? snprintf(buf, sizeof(buf), fmt, a, b, (long long) x, (long long) y, (long long) z)
              : snprintf(buf, sizeof(buf), fmt, a, b, (long long) x, (long long) y);
    if (n < 0 || (size_t) n >= sizeof(buf)) {
        return 0;                   /* cannot happen with checked names */
    }
    return add(arg, buf, (size_t) n);
}

/* the bounds of one row */
static void
row_bound(const rate_t *r, int64_t *in, int64_t *out)
{
    *in = max2(*in, max2(max2(r->input, r->cached_input),
                         max2(max2(r->cache_write, r->cache_write_1h),
                              max2(r->audio_input, r->characters))));
    *out = max2(*out, max2(r->output, max2(r->reasoning, r->audio_output)));
}

/* rows [first, end) of one model: those in force at now_ms or later */
static void
model_bound(const rates_t *t, size_t first, size_t end, int64_t now_ms, int64_t *in,
            int64_t *out)
{
    int64_t current = INT64_MIN;
    size_t  i;

    for (i = first; i < end; i++) {
        if (t->rates[i].effective_from_ms <= now_ms) {
            current = t->rates[i].effective_from_ms;
        }
    }
    for (i = first; i < end; i++) {
        if (t->rates[i].effective_from_ms >= current) {
            row_bound(&t->rates[i], in, out);
        }
    }
}

static size_t
model_end(const rates_t *t, size_t i)
{
    size_t j = i + 1;

    while (j < t->nrates && strcmp(t->rates[j].provider, t->rates[i].provider) == 0
           && strcmp(t->rates[j].model, t->rates[i].model) == 0)
    {
        j++;
    }
    return j;
}

/*
 * "d <provider> <model> <unix_s>": the earliest effective_from of the
 * model's rows (rows [first, ...) sorted by effective_from), the "created"
 * of GET /v1/models: the ledger keeps no other date for a model. None
 * before 1970-01-01 00:00:01 (0 means unknown).
 */
static int
date_line(authrates_add_pt add, void *arg, const char *p, const char *m,
          const rate_t *first)
{
    if (first == NULL || first->effective_from_ms < 1000) {
        return 0;                   /* 0 is "unknown" to the reader */
    }
    return line(add, arg, "d %s %s %lld\n", p, m, first->effective_from_ms / 1000, 0, 0, 0);
}

/* the first row of (provider, model), or NULL */
static const rate_t *
first_row(const rates_t *t, const char *p, const char *m)
{
    size_t i;

    for (i = 0; i < t->nrates; i = model_end(t, i)) {
        if (strcmp(t->rates[i].provider, p) == 0 && strcmp(t->rates[i].model, m) == 0) {
            return &t->rates[i];
        }
    }
    return NULL;
}

/* the bound of (provider, model) own rows; 0 when it has none */
static int
find_bound(const rates_t *t, const char *p, const char *m, int64_t now_ms, int64_t *in,
           int64_t *out)
{
    size_t i;

    for (i = 0; i < t->nrates; i = model_end(t, i)) {
        if (strcmp(t->rates[i].provider, p) == 0 && strcmp(t->rates[i].model, m) == 0) {
            *in = *out = 0;
            model_bound(t, i, model_end(t, i), now_ms, in, out);
            return 1;
        }
    }
    return 0;
}

int
authrates_render(const rates_t *t, int64_t now_ms, int64_t sc_ppm, authrates_add_pt add,
                 void *arg)
{
    size_t  i, j, end, pend;
    int64_t in, out, pin, pout, rate;

    /* rates sorted by provider, model: one provider at a time */
    for (i = 0; i < t->nrates; i = pend) {
        const char *p = t->rates[i].provider;

        pin = pout = 0;
        for (pend = i; pend < t->nrates && strcmp(t->rates[pend].provider, p) == 0;
             pend = end)
        {
            end = model_end(t, pend);
            in = out = 0;
            model_bound(t, pend, end, now_ms, &in, &out);
            pin = max2(pin, in);
            pout = max2(pout, out);
            if (is_id(p) && is_model(t->rates[pend].model)
                && strcmp(t->rates[pend].model, "*") != 0
                && (line(add, arg, "r %s %s %lld %lld\n", p, t->rates[pend].model,
                         authrates_with_charge(in, sc_ppm),
                         authrates_with_charge(out, sc_ppm), 0, 0) != 0
                    || date_line(add, arg, p, t->rates[pend].model, &t->rates[pend]) != 0))
            {
                return -1;
            }
        }
        /* exact aliases without rows of their own: their model's bound */
        for (j = 0; j < t->naliases; j++) {
            const alias_t *a = &t->aliases[j];
            int64_t        own_in, own_out;

            if (a->glob || strcmp(a->provider, p) != 0 || !is_id(p) || !is_model(a->pattern)
                || strcmp(a->pattern, "*") == 0
                || find_bound(t, p, a->pattern, now_ms, &own_in, &own_out)
                || !find_bound(t, p, a->model, now_ms, &in, &out))
            {
                continue;
            }
            if (line(add, arg, "r %s %s %lld %lld\n", p, a->pattern,
                     authrates_with_charge(in, sc_ppm), authrates_with_charge(out, sc_ppm),
                     0, 0) != 0
                || date_line(add, arg, p, a->pattern, first_row(t, p, a->model)) != 0)
            {
                return -1;
            }
        }
        /* a provider billed on the meter alone has no base cost whatever
         * rows it has (sidecar/price.c): "* 0 0", which nginx reads as
         * "priced by the meter" (docs/auth-sync.md) */
        if (rates_meter_only(t, p, strlen(p))) {
            pin = pout = 0;
        }
        if (is_id(p)
            && line(add, arg, "r %s %s %lld %lld\n", p, "*", authrates_with_charge(pin, sc_ppm),
                    authrates_with_charge(pout, sc_ppm), 0, 0) != 0)
        {
            return -1;
        }
    }

    /* meter-only providers: no base, the meter's fee only */
    for (i = 0; i < t->nmeter_only; i++) {
        const char *p = t->meter_only[i];
        int         has_rows = 0;

        for (j = 0; j < t->nrates; j++) {
            if (strcmp(t->rates[j].provider, p) == 0) {
                has_rows = 1;
                break;
            }
        }
        if (!has_rows && is_id(p) && line(add, arg, "r %s %s %lld %lld\n", p, "*", 0, 0, 0, 0) != 0) {
            return -1;
        }
    }

    for (i = 0; i < t->nmeters; i++) {
        const meter_t *m = &t->meters[i];
        int64_t        ppm = 0, per_1m = 0, per_req = 0;

        if (!is_id(m->merchant_id) || !is_id(m->slug)) {
            continue;
        }
        for (j = 0; j < m->ntiers; j++) {
            rate = m->tiers[j].rate;
            if (m->kind == FEE_PERCENTAGE) {
                ppm = max2(ppm, rate);
            } else if (m->unit == UNIT_TOKENS || m->unit == UNIT_CHARACTERS) {
                per_1m = max2(per_1m, rate);
            } else if (m->unit == UNIT_REQUESTS) {
                per_req = max2(per_req, rate);
            }
        }
        if (line(add, arg, "f %s %s %lld %lld %lld\n", m->merchant_id, m->slug, ppm,
                 authrates_with_charge(per_1m, sc_ppm), authrates_with_charge(per_req, sc_ppm),
                 1) != 0)
        {
            return -1;
        }
    }
    return 0;
}
