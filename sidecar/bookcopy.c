#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bookcopy.h"
#include "log.h"

/*
 * The events columns, in the order bookcopy_event() writes them: the ones
 * the sidecar adds first, then one per field of lib/lava_event_fields.h,
 * then the price (what rates_price_json() gives re-pricing as keys).
 */
#define COL(a, name, column, kind, req, max)  ", " #column
const char bookcopy_events_sql[] =
    "COPY book_events_in (stream_id, content_hash"
    LAVA_EVENT_FIELDS(COL, _)
    ", price_state, price_note, rate_id, fee_kind, fee_rate, fee_tokens, fee_unit,"
    " fee_units, fee_units_before, fee_detail, service_charge_ppm, service_charge_basis,"
    " base_cost_nusd, fee_nusd, service_charge_nusd) FROM STDIN";
#undef COL

const char bookcopy_transfers_sql[] =
    "COPY book_transfers_in (n, request_id, merchant_id, kind, debit, credit, amount_nusd)"
    " FROM STDIN";

void
bookcopy_free(copybuf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

static char *
reserve(copybuf_t *b, size_t n)
{
    char   *p;
    size_t  cap;

    if (b->oom) {
        return NULL;
    }
    if (b->n + n > b->cap) {
        cap = b->cap != 0 ? b->cap : 64 * 1024;
        while (cap < b->n + n) {
            cap *= 2;
        }
        p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->n;
}

static void
raw(copybuf_t *b, const char *s, size_t n)
{
    char *p = reserve(b, n);

    if (p != NULL) {
        memcpy(p, s, n);
        b->n += n;
    }
}

/* A column separator before every column but the first of the row. */
#define SEP(b, first)  do { if (!(first)) raw(b, "\t", 1); } while (0)

static void
null(copybuf_t *b)
{
    raw(b, "\\N", 2);
}

/* Text with COPY's escapes: backslash, and the row and column separators. */
static void
text(copybuf_t *b, const char *s, size_t n)
{
    char   *p = reserve(b, 2 * n);
    size_t  i;

    if (p == NULL) {
        return;
    }
    for (i = 0; i < n; i++) {
        switch (s[i]) {
        case '\\': *p++ = '\\'; *p++ = '\\'; break;
        case '\n': *p++ = '\\'; *p++ = 'n'; break;
        case '\r': *p++ = '\\'; *p++ = 'r'; break;
        case '\t': *p++ = '\\'; *p++ = 't'; break;
        default:   *p++ = s[i]; break;
        }
    }
    b->n = (size_t) (p - b->p);
}

static void
str(copybuf_t *b, const char *s)
{
    text(b, s, strlen(s));
}

/* an absent or empty value is NULL, as in the events table */
static void
sv(copybuf_t *b, const sv_t *v)
{
    if (v->n == 0) {
        null(b);
    } else {
        text(b, v->p, v->n);
    }
}

static void
i64(copybuf_t *b, int64_t v)
{
    char buf[24];
    int  n = snprintf(buf, sizeof(buf), "%lld", (long long) v);

    raw(b, buf, (size_t) n);
}

static void
i64_or_null(copybuf_t *b, int ok, int64_t v)
{
    if (ok) {
        i64(b, v);
    } else {
        null(b);
    }
}

/* jansson's JSON text of j, escaped for COPY; j is released */
static void
json_text(copybuf_t *b, json_t *j)
{
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

    if (s == NULL) {
        b->oom = 1;
    } else {
        str(b, s);
    }
    free(s);
    json_decref(j);
}

/* x-lava-metadata goes into a jsonb column: the object itself; anything
 * else (not from the module) is kept as a JSON string, never dropped */
static void
metadata(copybuf_t *b, const sv_t *v)
{
    json_t *j;

    if (v->n == 0) {
        null(b);
        return;
    }
    j = json_loadb(v->p, v->n, 0, NULL);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        j = json_stringn(v->p, v->n);
    }
    json_text(b, j);
}

/* One column per field of lib/lava_event_fields.h; absent texts and
 * optional integers are NULL, absent buckets 0. */
#define COL(a, name, column, kind, req, max)                                  \
    SEP(b, 0); LAVA_EVENT_KIND(kind, COL)(name, req);
#define COL_VERSION(n, req)  i64(b, ev->n)
#define COL_REQID(n, req)    sv(b, &ev->n)
#define COL_INT(n, req)      i64_or_null(b, req || ev->n >= 0, ev->n)
#define COL_ID(n, req)       sv(b, &ev->n)
#define COL_TEXT(n, req)     sv(b, &ev->n)
#define COL_JSON(n, req)     metadata(b, &ev->n)
#define COL_ENUM(n, req)     str(b, event_##n##_name(ev->n))
#define COL_BOOL(n, req)     raw(b, ev->n ? "t" : "f", 1)
#define COL_BUCKET(n, req)   i64(b, u->n)

int
bookcopy_event(copybuf_t *b, const book_item_t *it)
{
    static const char hex[] = "0123456789abcdef";
    const event_t    *ev = it->ev;
    const price_t    *p = &it->price;
    const usage_t    *u = &ev->usage;
    const meter_t    *m = p->meter;
    char              hash[3 + 2 * EVENT_HASH_LEN], *h;
    size_t            i;
    int               priced = p->state != PRICE_UNPRICED;

    sv(b, &ev->stream_id);
    SEP(b, 0);
    /* bytea as \x<hex>, its backslash escaped for COPY */
    h = hash;
    *h++ = '\\';
    *h++ = '\\';
    *h++ = 'x';
    for (i = 0; i < EVENT_HASH_LEN; i++) {
        *h++ = hex[ev->hash[i] >> 4];
        *h++ = hex[ev->hash[i] & 15];
    }
    raw(b, hash, sizeof(hash));

    LAVA_EVENT_FIELDS(COL, _)

    SEP(b, 0);
    str(b, price_state_name(p->state));
    SEP(b, 0);
    if (p->note != NULL) {
        str(b, p->note);
    } else {
        null(b);
    }
    SEP(b, 0);
    i64_or_null(b, p->rate != NULL, p->rate != NULL ? p->rate->id : 0);
    if (m != NULL) {
        SEP(b, 0);
        str(b, m->kind == FEE_FIXED ? "fixed" : "percentage");
        SEP(b, 0);
        i64(b, p->fee_rate);
        SEP(b, 0);
        i64_or_null(b, m->kind == FEE_FIXED && m->unit == UNIT_TOKENS, p->fee_units);
        SEP(b, 0);
        str(b, price_unit_name(m->unit));
        SEP(b, 0);
        i64(b, p->fee_units);
        SEP(b, 0);
        i64_or_null(b, p->fee_units_before >= 0, p->fee_units_before);
        SEP(b, 0);
        /* fee_detail: [{"start":, "units":, "rate":}, ...] */
        raw(b, "[", 1);
        for (i = 0; i < p->nsplit; i++) {
            char buf[96];
            int  n = snprintf(buf, sizeof(buf), "%s{\"start\": %lld, \"units\": %lld,"
                              " \"rate\": %lld}", i > 0 ? ", " : "",
                              (long long) p->split[i].start, (long long) p->split[i].units,
                              (long long) p->split[i].rate);

            raw(b, buf, (size_t) n);
        }
        raw(b, "]", 1);
    } else {
        raw(b, "\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N", 21);
    }
    SEP(b, 0);
    i64(b, p->service_charge_ppm);
    SEP(b, 0);
    str(b, price_sc_basis_name(p->service_charge_basis));
    /* unpriced: the amounts are unknown, not zero */
    SEP(b, 0);
    i64_or_null(b, priced, p->base_nusd);
    SEP(b, 0);
    i64_or_null(b, priced, p->fee_nusd);
    SEP(b, 0);
    i64_or_null(b, priced, p->service_charge_nusd);
    raw(b, "\n", 1);
    return b->oom ? -1 : 0;
}

#undef COL

int
bookcopy_transfers(copybuf_t *b, const book_item_t *it, long *seq)
{
    xfer_t  x[PRICE_MAX_XFERS];
    char    key[96];
    int     i, n;

    n = price_transfers(&it->price, it->ev->payer, it->ev->key_source == KEY_BYOK, x);
    for (i = 0; i < n; i++) {
        i64(b, (*seq)++);
        SEP(b, 0);
        sv(b, &it->ev->request_id);
        SEP(b, 0);
        sv(b, &it->ev->merchant_id);
        SEP(b, 0);
        str(b, xfer_kind_name(x[i].kind));
        SEP(b, 0);
        book_account_key(key, sizeof(key), x[i].debit, it->ev);
        str(b, key);
        SEP(b, 0);
        book_account_key(key, sizeof(key), x[i].credit, it->ev);
        str(b, key);
        SEP(b, 0);
        i64(b, x[i].amount_nusd);
        raw(b, "\n", 1);
    }
    return b->oom ? -1 : 0;
}
