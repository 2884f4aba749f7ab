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
cmp_i64(int64_t a, int64_t b)
{
    return (a > b) - (a < b);
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
        c = cmp_i64(a->effective_from_ms, b->effective_from_ms);
    }
    if (c == 0) {
        c = cmp_i64(a->prompt_tokens_over, b->prompt_tokens_over);
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

static int
alias_cmp(const void *x, const void *y)
{
    const alias_t *a = x, *b = y;
    int            c = strcmp(a->provider, b->provider);

    if (c == 0) {
        c = a->glob - b->glob;
    }
    if (c == 0) {
        c = (a->literal < b->literal) - (a->literal > b->literal);
    }
    return c != 0 ? c : strcmp(a->pattern, b->pattern);
}

static int
str_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *) x, *(char *const *) y);
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
    for (i = 0; i < t->naliases; i++) {
        free(t->aliases[i].provider);
        free(t->aliases[i].pattern);
        free(t->aliases[i].model);
    }
    for (i = 0; i < t->nmeter_only; i++) {
        free(t->meter_only[i]);
    }
    free(t->rates);
    free(t->meters);
    free(t->tiers);
    free(t->aliases);
    free(t->meter_only);
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

static int
set_alias(alias_t *a)
{
    const char *p;

    a->glob = strchr(a->pattern, '*') != NULL;
    a->literal = 0;
    for (p = a->pattern; *p; p++) {
        a->literal += *p != '*';
    }
    return 0;
}

static void
sort_all(rates_t *t)
{
    qsort(t->rates, t->nrates, sizeof(rate_t), rate_cmp);
    qsort(t->meters, t->nmeters, sizeof(meter_t), meter_cmp);
    qsort(t->aliases, t->naliases, sizeof(alias_t), alias_cmp);
    qsort(t->meter_only, t->nmeter_only, sizeof(char *), str_cmp);
}

static PGresult *
query(PGconn *conn, const char *sql, const char *what)
{
    PGresult *res = PQexec(conn, sql);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        slog(SLOG_ERROR, "loading %s failed: %s", what, db_error(conn));
        PQclear(res);
        return NULL;
    }
    return res;
}

static int
load_rates(PGconn *conn, rates_t *t)
{
    PGresult *res;
    int       i, n;

    /* floor(): effective_from may carry microseconds; a rate applies from
     * the millisecond it starts in */
    res = query(conn,
        "SELECT id, provider, model,"
        " floor(extract(epoch FROM effective_from) * 1000)::bigint, prompt_tokens_over,"
        " input_nusd_per_1m, cached_input_nusd_per_1m, cache_write_nusd_per_1m,"
        " cache_write_1h_nusd_per_1m, output_nusd_per_1m, reasoning_nusd_per_1m,"
        " audio_input_nusd_per_1m, audio_output_nusd_per_1m, characters_nusd_per_1m,"
        " duration_nusd_per_hour, request_nusd, image_nusd,"
        " web_search_nusd, web_fetch_nusd, grounded_prompt_nusd"
        " FROM provider_rates", "provider_rates");
    if (res == NULL) {
        return -1;
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
        r->prompt_tokens_over = col_i64(res, i, 4);
        r->input = col_i64(res, i, 5);
        r->cached_input = col_i64(res, i, 6);
        r->cache_write = col_i64(res, i, 7);
        r->cache_write_1h = col_i64(res, i, 8);
        r->output = col_i64(res, i, 9);
        r->reasoning = col_i64(res, i, 10);
        r->audio_input = col_i64(res, i, 11);
        r->audio_output = col_i64(res, i, 12);
        r->characters = col_i64(res, i, 13);
        r->per_hour = col_i64(res, i, 14);
        r->per_request = col_i64(res, i, 15);
        r->per_image = col_i64(res, i, 16);
        r->per_web_search = col_i64(res, i, 17);
        r->per_web_fetch = col_i64(res, i, 18);
        r->per_grounded_prompt = col_i64(res, i, 19);
    }
    PQclear(res);
    return 0;

oom:
    PQclear(res);
    slog(SLOG_ERROR, "loading rates failed: out of memory");
    return -1;
}

static meter_unit_e
unit_of(const char *s)
{
    if (strcmp(s, "characters_1m") == 0) {
        return UNIT_CHARACTERS;
    }
    if (strcmp(s, "minutes") == 0) {
        return UNIT_MINUTES;
    }
    if (strcmp(s, "requests") == 0) {
        return UNIT_REQUESTS;
    }
    return UNIT_TOKENS;
}

/* One row per tier, grouped by meter, tiers in ascending start. */
static int
load_meters(PGconn *conn, rates_t *t)
{
    PGresult *res;
    meter_t  *m = NULL;
    int       i, n;

    res = query(conn,
        "SELECT m.merchant_id, m.slug, m.fee_kind, m.unit, m.token_basis,"
        " t.start_units, t.fee_rate"
        " FROM meters m JOIN meter_tiers t USING (merchant_id, slug)"
        " ORDER BY m.merchant_id, m.slug, t.start_units", "meters");
    if (res == NULL) {
        return -1;
    }
    n = PQntuples(res);
    t->meters = calloc((size_t) n + 1, sizeof(meter_t));
    t->tiers = calloc((size_t) n + 1, sizeof(tier_t));
    if (t->meters == NULL || t->tiers == NULL) {
        goto oom;
    }
    for (i = 0; i < n; i++) {
        const char *mid = PQgetvalue(res, i, 0), *slug = PQgetvalue(res, i, 1);

        if (m == NULL || strcmp(m->merchant_id, mid) != 0 || strcmp(m->slug, slug) != 0) {
            m = &t->meters[t->nmeters];
            m->merchant_id = strdup(mid);
            m->slug = strdup(slug);
            t->nmeters++;
            if (m->merchant_id == NULL || m->slug == NULL) {
                goto oom;
            }
            m->kind = strcmp(PQgetvalue(res, i, 2), "percentage") == 0
                      ? FEE_PERCENTAGE : FEE_FIXED;
            m->unit = unit_of(PQgetvalue(res, i, 3));
            m->basis = strcmp(PQgetvalue(res, i, 4), "output") == 0
                       ? BASIS_OUTPUT : BASIS_INPUT_OUTPUT;
            m->tiers = &t->tiers[t->ntiers];
            m->ntiers = 0;
        }
        t->tiers[t->ntiers].start = col_i64(res, i, 5);
        t->tiers[t->ntiers].rate = col_i64(res, i, 6);
        t->ntiers++;
        m->ntiers++;
    }
    PQclear(res);

    /* what the schema refuses cannot be priced: such a meter is unknown */
    for (i = 0; i < (int) t->nmeters; i++) {
        m = &t->meters[i];
        if (m->ntiers > PRICE_MAX_TIERS || m->tiers[0].start != 0) {
            slog(SLOG_WARN, "meter %s/%s has tiers the sidecar cannot use (more than"
                 " %d, or none from 0); its requests are booked unpriced",
                 m->merchant_id, m->slug, PRICE_MAX_TIERS);
            m->ntiers = 0;
        }
    }
    return 0;

oom:
    PQclear(res);
    slog(SLOG_ERROR, "loading meters failed: out of memory");
    return -1;
}

static int
load_aliases(PGconn *conn, rates_t *t)
{
    PGresult *res;
    int       i, n;

    res = query(conn, "SELECT provider, pattern, model FROM model_aliases", "model_aliases");
    if (res == NULL) {
        return -1;
    }
    n = PQntuples(res);
    t->aliases = calloc((size_t) n + 1, sizeof(alias_t));
    if (t->aliases == NULL) {
        goto oom;
    }
    for (i = 0; i < n; i++) {
        alias_t *a = &t->aliases[i];

        a->provider = strdup(PQgetvalue(res, i, 0));
        a->pattern = strdup(PQgetvalue(res, i, 1));
        a->model = strdup(PQgetvalue(res, i, 2));
        t->naliases++;
        if (a->provider == NULL || a->pattern == NULL || a->model == NULL) {
            goto oom;
        }
        set_alias(a);
    }
    PQclear(res);

    res = query(conn, "SELECT provider FROM meter_only_providers", "meter_only_providers");
    if (res == NULL) {
        return -1;
    }
    n = PQntuples(res);
    t->meter_only = calloc((size_t) n + 1, sizeof(char *));
    if (t->meter_only == NULL) {
        goto oom;
    }
    for (i = 0; i < n; i++) {
        t->meter_only[i] = strdup(PQgetvalue(res, i, 0));
        if (t->meter_only[i] == NULL) {
            goto oom;
        }
        t->nmeter_only++;
    }
    PQclear(res);
    return 0;

oom:
    PQclear(res);
    slog(SLOG_ERROR, "loading model aliases failed: out of memory");
    return -1;
}

static int64_t
read_version(PGconn *conn)
{
    PGresult *res = query(conn, "SELECT version FROM pricing_state", "pricing_state");
    int64_t   v = -1;

    if (res != NULL) {
        if (PQntuples(res) == 1) {
            v = col_i64(res, 0, 0);
        }
        PQclear(res);
    }
    return v;
}

rates_t *
rates_load(PGconn *conn)
{
    rates_t *t;
    int      ok;

    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        slog(SLOG_ERROR, "loading rates failed: out of memory");
        return NULL;
    }

    /* one snapshot: the version names exactly the rows read with it */
    if (db_command(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                   "rates load begin") != 0)
    {
        rates_free(t);
        return NULL;
    }
    t->version = read_version(conn);
    ok = t->version >= 0 && load_rates(conn, t) == 0 && load_meters(conn, t) == 0
         && load_aliases(conn, t) == 0;
    if (db_command(conn, ok ? "COMMIT" : "ROLLBACK", "rates load end") != 0 || !ok) {
        rates_free(t);
        return NULL;
    }

    sort_all(t);
    return t;
}

int
rates_changed(PGconn *conn, const rates_t *t)
{
    int64_t v = read_version(conn);

    if (v < 0) {
        return -1;
    }
    return t == NULL || v != t->version;
}

rates_t *
rates_from(const rate_t *rates, size_t nrates, const meter_t *meters, size_t nmeters,
    const alias_t *aliases, size_t naliases, const char *const *meter_only,
    size_t nmeter_only)
{
    rates_t *t = calloc(1, sizeof(*t));
    size_t   i, j, ntiers = 0;

    if (t == NULL) {
        return NULL;
    }
    t->version = -1;
    for (i = 0; i < nmeters; i++) {
        ntiers += meters[i].ntiers;
    }
    t->rates = calloc(nrates + 1, sizeof(rate_t));
    t->meters = calloc(nmeters + 1, sizeof(meter_t));
    t->tiers = calloc(ntiers + 1, sizeof(tier_t));
    t->aliases = calloc(naliases + 1, sizeof(alias_t));
    t->meter_only = calloc(nmeter_only + 1, sizeof(char *));
    if (t->rates == NULL || t->meters == NULL || t->tiers == NULL || t->aliases == NULL
        || t->meter_only == NULL)
    {
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
        t->meters[i].tiers = &t->tiers[t->ntiers];
        for (j = 0; j < meters[i].ntiers; j++) {
            t->tiers[t->ntiers++] = meters[i].tiers[j];
        }
        t->nmeters++;
    }
    for (i = 0; i < naliases; i++) {
        t->aliases[i].provider = strdup(aliases[i].provider);
        t->aliases[i].pattern = strdup(aliases[i].pattern);
        t->aliases[i].model = strdup(aliases[i].model);
        set_alias(&t->aliases[i]);
        t->naliases++;
    }
    for (i = 0; i < nmeter_only; i++) {
        t->meter_only[i] = strdup(meter_only[i]);
        t->nmeter_only++;
    }
    sort_all(t);
    return t;
}

/* ------------------------------------------------------------ lookup */

/* index of the first row of (provider, model), or -1 */
static long
first_row(const rates_t *t, const char *p, size_t plen, const char *m, size_t mlen)
{
    size_t lo = 0, hi = t->nrates, mid;
    int    c;

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
    if (lo < t->nrates && cmp_sv(p, plen, t->rates[lo].provider) == 0
        && cmp_sv(m, mlen, t->rates[lo].model) == 0)
    {
        return (long) lo;
    }
    return -1;
}

/* rows of one model come in (effective_from, prompt_tokens_over) order */
static const rate_t *
pick(const rates_t *t, size_t first, int64_t ts_ms, int64_t prompt, const char **why)
{
    const rate_t *r0 = &t->rates[first], *best = NULL;
    int64_t       version = -1;
    int           found = 0;
    size_t        i;

    for (i = first; i < t->nrates; i++) {
        const rate_t *r = &t->rates[i];

        if (strcmp(r->provider, r0->provider) != 0 || strcmp(r->model, r0->model) != 0
            || r->effective_from_ms > ts_ms)
        {
            break;
        }
        if (!found || r->effective_from_ms != version) {
            version = r->effective_from_ms;
            found = 1;
            best = NULL;
        }
        /* the base row, or a long-context tier the prompt is above */
        if (r->prompt_tokens_over == 0 || prompt > r->prompt_tokens_over) {
            best = r;
        }
    }
    if (!found) {
        *why = "no rate in force at the request's start";
        return NULL;
    }
    if (best == NULL) {
        *why = "no rate for the request's prompt size";
    }
    return best;
}

/* the first alias of a provider (aliases sorted by provider first) */
static size_t
aliases_of(const rates_t *t, const char *p, size_t plen)
{
    size_t lo = 0, hi = t->naliases, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (cmp_sv(p, plen, t->aliases[mid].provider) > 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* the name itself, else its exact alias */
static long
resolve_exact(const rates_t *t, const char *p, size_t plen, const char *m, size_t mlen)
{
    long   row = first_row(t, p, plen, m, mlen);
    size_t i;

    if (row >= 0) {
        return row;
    }
    for (i = aliases_of(t, p, plen); i < t->naliases; i++) {
        const alias_t *a = &t->aliases[i];

        if (cmp_sv(p, plen, a->provider) != 0 || a->glob) {
            break;              /* exact aliases come first */
        }
        if (cmp_sv(m, mlen, a->pattern) == 0) {
            return first_row(t, p, plen, a->model, strlen(a->model));
        }
    }
    return -1;
}

static int
digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

/* bytes of a "-YYYY-MM-DD" or "-YYYYMMDD" suffix, else 0 */
static size_t
dated_suffix(const char *m, size_t mlen)
{
    const char *s;

    if (mlen > 11) {
        s = m + mlen - 11;
        if (s[0] == '-' && digits(s + 1, 4) && s[5] == '-' && digits(s + 6, 2)
            && s[8] == '-' && digits(s + 9, 2))
        {
            return 11;
        }
    }
    if (mlen > 9) {
        s = m + mlen - 9;
        if (s[0] == '-' && digits(s + 1, 8)) {
            return 9;
        }
    }
    return 0;
}

int
rates_glob_match(const char *pat, const char *s, size_t slen)
{
    const char *star = NULL;
    size_t      i = 0, mark = 0;

    /* greedy with one backtrack point: the classic '*'-only matcher */
    while (i < slen) {
        if (*pat == '*') {
            star = ++pat;
            mark = i;
        } else if (*pat != '\0' && *pat == s[i]) {
            pat++;
            i++;
        } else if (star != NULL) {
            pat = star;
            i = ++mark;
        } else {
            return 0;
        }
    }
    while (*pat == '*') {
        pat++;
    }
    return *pat == '\0';
}

const rate_t *
rates_find(const rates_t *t, const char *provider, size_t plen, const char *model,
    size_t mlen, int64_t ts_ms, int64_t prompt_tokens, const char **why)
{
    long   row = -1;
    size_t i, cut;

    *why = "no rate for the provider and model";
    if (t == NULL || plen == 0) {
        return NULL;
    }

    if (mlen > 0) {
        row = resolve_exact(t, provider, plen, model, mlen);
    }
    if (row < 0 && mlen > 0 && (cut = dated_suffix(model, mlen)) > 0) {
        row = resolve_exact(t, provider, plen, model, mlen - cut);
    }
    for (i = aliases_of(t, provider, plen); row < 0 && mlen > 0 && i < t->naliases; i++) {
        const alias_t *a = &t->aliases[i];

        if (cmp_sv(provider, plen, a->provider) != 0) {
            break;
        }
        if (a->glob && rates_glob_match(a->pattern, model, mlen)) {
            row = first_row(t, provider, plen, a->model, strlen(a->model));
        }
    }
    /* the provider's rows for any model ("*"): per-minute or per-request
     * services whose requests name no model */
    if (row < 0) {
        row = first_row(t, provider, plen, "*", 1);
    }
    if (row < 0) {
        return NULL;
    }
    return pick(t, (size_t) row, ts_ms, prompt_tokens, why);
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
            return t->meters[mid].ntiers > 0 ? &t->meters[mid] : NULL;
        }
        if (c > 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

int
rates_meter_only(const rates_t *t, const char *provider, size_t plen)
{
    size_t lo = 0, hi, mid;
    int    c;

    if (t == NULL || plen == 0) {
        return 0;
    }
    hi = t->nmeter_only;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = cmp_sv(provider, plen, t->meter_only[mid]);
        if (c == 0) {
            return 1;
        }
        if (c > 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return 0;
}

/* ----------------------------------------------------------- pricing */

/* 1: the comma-separated list s holds the whole name */
static int
flag_in(sv_t s, const char *name)
{
    size_t      n = strlen(name), i = 0, j;

    while (i < s.n) {
        for (j = i; j < s.n && s.p[j] != ','; j++) {
            /* void */
        }
        if (j - i == n && memcmp(s.p + i, name, n) == 0) {
            return 1;
        }
        i = j + 1;
    }
    return 0;
}

int
rates_price_event(const rates_t *t, const event_t *ev, int64_t service_charge_ppm,
    sc_basis_e service_charge_basis, price_t *out)
{
    price_req_t req;
    int64_t     prompt;

    memset(&req, 0, sizeof(req));
    req.chargeable = ev->outcome != OUTCOME_REFUSED;
    req.payer = ev->payer;
    req.usage = &ev->usage;
    req.provider_error = ev->status >= 400;
    req.meter_only = rates_meter_only(t, ev->provider.p, ev->provider.n);
    req.per_request_only = flag_in(ev->tap_flags, "per_request");
    if (!req.meter_only) {
        prompt = price_prompt_tokens(&ev->usage);
        req.rate = rates_find(t, ev->provider.p, ev->provider.n, ev->model.p, ev->model.n,
                              ev->ts_ms, prompt < 0 ? INT64_MAX : prompt, &req.rate_why);
    }
    req.has_meter = ev->meter.n > 0;
    if (req.has_meter) {
        req.meter = rates_meter(t, ev->merchant_id.p, ev->merchant_id.n, ev->meter.p,
                                ev->meter.n);
    }
    req.fee_units_before = -1;      /* learnt under lock when booking */
    req.service_charge_ppm = service_charge_ppm;
    req.service_charge_basis = service_charge_basis;

    price_request(&req, out);

    /* counted for the batch's warning: a missing rate, meter or request
     * price (an endpoint billed per request alone) */
    return out->state == PRICE_UNPRICED
           && ((!req.meter_only && req.rate == NULL) || (req.has_meter && req.meter == NULL)
               || req.per_request_only);
}

static int
put(json_t *o, const char *key, json_t *val)
{
    return val == NULL || json_object_set_new(o, key, val) != 0 ? -1 : 0;
}

int
rates_price_json(json_t *o, const price_t *p)
{
    json_t *detail;
    size_t  i;
    int     bad = 0, priced = p->state != PRICE_UNPRICED;

#define PUT(k, v)  bad |= put(o, k, v)
#define INT(v)     json_integer((json_int_t) (v))
    PUT("price_state", json_string(price_state_name(p->state)));
    PUT("price_note", p->note != NULL ? json_string(p->note) : json_null());
    PUT("rate_id", p->rate != NULL ? INT(p->rate->id) : json_null());
    if (p->meter != NULL) {
        PUT("fee_kind", json_string(p->meter->kind == FEE_FIXED ? "fixed" : "percentage"));
        PUT("fee_rate", INT(p->fee_rate));
        PUT("fee_tokens", p->meter->kind == FEE_FIXED && p->meter->unit == UNIT_TOKENS
                          ? INT(p->fee_units) : json_null());
        PUT("fee_unit", json_string(price_unit_name(p->meter->unit)));
        PUT("fee_units", INT(p->fee_units));
        PUT("fee_units_before", p->fee_units_before >= 0 ? INT(p->fee_units_before)
                                                         : json_null());
        detail = json_array();
        for (i = 0; detail != NULL && i < p->nsplit; i++) {
            json_t *s = json_pack("{s:I, s:I, s:I}",
                                  "start", (json_int_t) p->split[i].start,
                                  "units", (json_int_t) p->split[i].units,
                                  "rate", (json_int_t) p->split[i].rate);
            if (s == NULL || json_array_append_new(detail, s) != 0) {
                bad = 1;
            }
        }
        PUT("fee_detail", detail);
    }
    PUT("service_charge_ppm", INT(p->service_charge_ppm));
    PUT("service_charge_basis", json_string(price_sc_basis_name(p->service_charge_basis)));
    /* unpriced: the amounts are unknown, not zero */
    PUT("base_cost_nusd", priced ? INT(p->base_nusd) : json_null());
    PUT("fee_nusd", priced ? INT(p->fee_nusd) : json_null());
    PUT("service_charge_nusd", priced ? INT(p->service_charge_nusd) : json_null());
#undef PUT
#undef INT
    return bad ? -1 : 0;
}
