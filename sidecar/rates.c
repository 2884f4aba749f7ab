#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "rates.h"

/* memcmp order of (a, alen) against NUL-terminated b */
static int
cmp_sv(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b), n = alen < blen ? alen : blen;
    int    c = memcmp(a, b, n);

    if (c != 0) {
        return c;
    }
    return (alen > blen) - (alen < blen);
}

static int
rate_cmp(const void *x, const void *y)
{
    const rate_t *a = x, *b = y;
    int           c;

    c = strcmp(a->provider, b->provider);
    if (c == 0) {
        c = strcmp(a->model, b->model);
    }
    if (c == 0) {
        c = (a->effective_from_ms > b->effective_from_ms)
            - (a->effective_from_ms < b->effective_from_ms);
    }
    return c;
}

static int
meter_cmp(const void *x, const void *y)
{
    const meter_t *a = x, *b = y;
    int            c = strcmp(a->merchant_id, b->merchant_id);

    return c != 0 ? c : strcmp(a->slug, b->slug);
}

void
rates_free(rates_t *t)
{
    size_t i;

    if (t == NULL) {
        return;
    }
    for (i = 0; i < t->nrates; i++) {
        free(t->rates[i].provider);
        free(t->rates[i].model);
    }
    for (i = 0; i < t->nmeters; i++) {
        free(t->meters[i].merchant_id);
        free(t->meters[i].slug);
    }
    free(t->rates);
    free(t->meters);
    free(t);
}

static int64_t
col_i64(PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) {
        return PRICE_UNSET;
    }
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

rates_t *
rates_load(PGconn *conn)
{
    PGresult *res = NULL;
    rates_t  *t;
    int       i, n;

    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        goto oom;
    }

    /* floor(): effective_from may carry microseconds; a rate applies from
     * the millisecond it starts in */
    res = PQexec(conn,
        "SELECT id, provider, model,"
        " floor(extract(epoch FROM effective_from) * 1000)::bigint,"
        " input_nusd_per_1m, cached_input_nusd_per_1m, cache_write_nusd_per_1m,"
        " cache_write_1h_nusd_per_1m, output_nusd_per_1m, reasoning_nusd_per_1m,"
        " audio_input_nusd_per_1m, audio_output_nusd_per_1m"
        " FROM provider_rates");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        slog(SLOG_ERROR, "loading provider_rates failed: %s", db_error(conn));
        goto fail;
    }
    n = PQntuples(res);
    t->rates = calloc((size_t) n + 1, sizeof(rate_t));
    if (t->rates == NULL) {
        goto oom;
    }
    for (i = 0; i < n; i++) {
        rate_t *r = &t->rates[i];

        r->id = col_i64(res, i, 0);
        r->provider = strdup(PQgetvalue(res, i, 1));
        r->model = strdup(PQgetvalue(res, i, 2));
        t->nrates++;
        if (r->provider == NULL || r->model == NULL) {
            goto oom;
        }
        r->effective_from_ms = col_i64(res, i, 3);
        r->input = col_i64(res, i, 4);
        r->cached_input = col_i64(res, i, 5);
        r->cache_write = col_i64(res, i, 6);
        r->cache_write_1h = col_i64(res, i, 7);
        r->output = col_i64(res, i, 8);
        r->reasoning = col_i64(res, i, 9);
        r->audio_input = col_i64(res, i, 10);
        r->audio_output = col_i64(res, i, 11);
    }
    PQclear(res);

    res = PQexec(conn,
        "SELECT merchant_id, slug, fee_kind, coalesce(fee_nusd_per_1m, fee_ppm),"
        " token_basis FROM meters");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        slog(SLOG_ERROR, "loading meters failed: %s", db_error(conn));
        goto fail;
    }
    n = PQntuples(res);
    t->meters = calloc((size_t) n + 1, sizeof(meter_t));
    if (t->meters == NULL) {
        goto oom;
    }
    for (i = 0; i < n; i++) {
        meter_t *m = &t->meters[i];

        m->merchant_id = strdup(PQgetvalue(res, i, 0));
        m->slug = strdup(PQgetvalue(res, i, 1));
        t->nmeters++;
        if (m->merchant_id == NULL || m->slug == NULL) {
            goto oom;
        }
        m->kind = strcmp(PQgetvalue(res, i, 2), "percentage") == 0
                  ? FEE_PERCENTAGE : FEE_FIXED;
        m->amount = col_i64(res, i, 3);
        m->basis = strcmp(PQgetvalue(res, i, 4), "output") == 0
                   ? BASIS_OUTPUT : BASIS_INPUT_OUTPUT;
    }
    PQclear(res);

    qsort(t->rates, t->nrates, sizeof(rate_t), rate_cmp);
    qsort(t->meters, t->nmeters, sizeof(meter_t), meter_cmp);
    return t;

oom:
    slog(SLOG_ERROR, "loading rates failed: out of memory");
fail:
    PQclear(res);
    rates_free(t);
    return NULL;
}

rates_t *
rates_from(const rate_t *rates, size_t nrates, const meter_t *meters, size_t nmeters)
{
    rates_t *t = calloc(1, sizeof(*t));
    size_t   i;

    if (t == NULL) {
        return NULL;
    }
    t->rates = calloc(nrates + 1, sizeof(rate_t));
    t->meters = calloc(nmeters + 1, sizeof(meter_t));
    if (t->rates == NULL || t->meters == NULL) {
        rates_free(t);
        return NULL;
    }
    for (i = 0; i < nrates; i++) {
        t->rates[i] = rates[i];
        t->rates[i].provider = strdup(rates[i].provider);
        t->rates[i].model = strdup(rates[i].model);
        t->nrates++;
    }
    for (i = 0; i < nmeters; i++) {
        t->meters[i] = meters[i];
        t->meters[i].merchant_id = strdup(meters[i].merchant_id);
        t->meters[i].slug = strdup(meters[i].slug);
        t->nmeters++;
    }
    qsort(t->rates, t->nrates, sizeof(rate_t), rate_cmp);
    qsort(t->meters, t->nmeters, sizeof(meter_t), meter_cmp);
    return t;
}

static const rate_t *
find_exact(const rates_t *t, const char *p, size_t plen, const char *m, size_t mlen,
    int64_t ts_ms)
{
    const rate_t *best = NULL;
    size_t        lo = 0, hi = t->nrates, mid;
    int           c;

    /* first row >= (provider, model) */
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = cmp_sv(p, plen, t->rates[mid].provider);
        if (c == 0) {
            c = cmp_sv(m, mlen, t->rates[mid].model);
        }
        if (c > 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }

    /* rows of this model come in effective_from order: keep the last in force */
    for (; lo < t->nrates; lo++) {
        const rate_t *r = &t->rates[lo];

        if (cmp_sv(p, plen, r->provider) != 0 || cmp_sv(m, mlen, r->model) != 0
            || r->effective_from_ms > ts_ms)
        {
            break;
        }
        best = r;
    }
    return best;
}

/* "-YYYY-MM-DD" at the end of a model name */
static int
dated_suffix(const char *m, size_t mlen)
{
    static const char shape[] = "-dddd-dd-dd";
    size_t            i, n = sizeof(shape) - 1;

    if (mlen <= n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = m[mlen - n + i];

        if (shape[i] == 'd' ? (c < '0' || c > '9') : c != shape[i]) {
            return 0;
        }
    }
    return 1;
}

const rate_t *
rates_find(const rates_t *t, const char *provider, size_t plen, const char *model,
    size_t mlen, int64_t ts_ms)
{
    const rate_t *r;

    if (t == NULL || plen == 0 || mlen == 0) {
        return NULL;
    }
    r = find_exact(t, provider, plen, model, mlen, ts_ms);
    if (r == NULL && dated_suffix(model, mlen)) {
        r = find_exact(t, provider, plen, model, mlen - 11, ts_ms);
    }
    return r;
}

const meter_t *
rates_meter(const rates_t *t, const char *merchant, size_t mlen, const char *slug,
    size_t slen)
{
    size_t lo = 0, hi, mid;
    int    c;

    if (t == NULL) {
        return NULL;
    }
    hi = t->nmeters;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = cmp_sv(merchant, mlen, t->meters[mid].merchant_id);
        if (c == 0) {
            c = cmp_sv(slug, slen, t->meters[mid].slug);
        }
        if (c == 0) {
            return &t->meters[mid];
        }
        if (c > 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}
