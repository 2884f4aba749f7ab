#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "book.h"
#include "db.h"
#include "log.h"
#include "rates.h"
#include "tiers.h"

static json_t *
js(const sv_t *v)
{
    /* decoded values are valid UTF-8 without NUL (event_decode checked) */
    return v->n == 0 ? json_null() : json_stringn(v->p, v->n);
}

/* Raw bytes as JSON text even when they are not valid UTF-8: bytes that
 * would not fit are written as \xNN. */
static json_t *
js_raw(const sv_t *v)
{
    static const char hex[] = "0123456789abcdef";
    json_t           *j;
    char             *buf;
    size_t            i, k = 0;

    if (event_utf8_ok(v->p, v->n)) {
        return json_stringn(v->p, v->n);
    }
    buf = malloc(v->n * 4 + 1);
    if (buf == NULL) {
        return NULL;
    }
    for (i = 0; i < v->n; i++) {
        unsigned char c = (unsigned char) v->p[i];

        if (c >= 0x20 && c < 0x7f && c != '\\') {
            buf[k++] = (char) c;
        } else {
            buf[k++] = '\\';
            buf[k++] = 'x';
            buf[k++] = hex[c >> 4];
            buf[k++] = hex[c & 15];
        }
    }
    j = json_stringn(buf, k);
    free(buf);
    return j;
}

static int
put(json_t *obj, const char *key, json_t *val)
{
    return val == NULL || json_object_set_new(obj, key, val) != 0 ? -1 : 0;
}

/* x-lava-metadata goes into a jsonb column: the object itself; anything
 * else (not from the module) is kept as a JSON string, never dropped */
static json_t *
metadata_json(const sv_t *v)
{
    json_t *j;

    if (v->n == 0) {
        return json_null();
    }
    j = json_loadb(v->p, v->n, 0, NULL);
    if (j != NULL && json_is_object(j)) {
        return j;
    }
    json_decref(j);
    return json_stringn(v->p, v->n);
}

/*
 * One key per field of lib/lava_event_fields.h, named after its events
 * column; absent texts and optional integers are null, absent buckets 0.
 */
#define ROW(a, name, column, kind, req, max)                                   \
    PUT(#column, LAVA_EVENT_KIND(kind, ROW)(name, req));
#define ROW_VERSION(n, req)  INT(ev->n)
#define ROW_REQID(n, req)    js(&ev->n)
#define ROW_INT(n, req)      (req || ev->n >= 0 ? INT(ev->n) : json_null())
#define ROW_ID(n, req)       js(&ev->n)
#define ROW_TEXT(n, req)     js(&ev->n)
#define ROW_JSON(n, req)     metadata_json(&ev->n)
#define ROW_ENUM(n, req)     json_string(event_##n##_name(ev->n))
#define ROW_BOOL(n, req)     json_boolean(ev->n)
#define ROW_BUCKET(n, req)   INT(u->n)

static json_t *
event_json(const book_item_t *it)
{
    const event_t *ev = it->ev;
    const price_t *p = &it->price;
    const usage_t *u = &ev->usage;
    json_t        *o = json_object();
    char           hash[2 + 2 * EVENT_HASH_LEN + 1];
    size_t         i;
    int            bad = 0;

    if (o == NULL) {
        return NULL;
    }

    hash[0] = '\\';
    hash[1] = 'x';
    for (i = 0; i < EVENT_HASH_LEN; i++) {
        snprintf(hash + 2 + 2 * i, 3, "%02x", ev->hash[i]);
    }

#define PUT(k, v)  bad |= put(o, k, v)
#define INT(v)     json_integer((json_int_t) (v))
    PUT("stream_id", js(&ev->stream_id));
    PUT("content_hash", json_string(hash));
    LAVA_EVENT_FIELDS(ROW, _)
    bad |= rates_price_json(o, p);
#undef PUT
#undef INT
#undef ROW

    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static void
account_key(char *buf, size_t size, account_kind_e k, const event_t *ev)
{
    switch (k) {
    case ACCOUNT_WALLET:
        snprintf(buf, size, "wallet:%.*s", (int) ev->customer_id.n, ev->customer_id.p);
        break;
    case ACCOUNT_MERCHANT:
        snprintf(buf, size, "merchant:%.*s", (int) ev->merchant_id.n, ev->merchant_id.p);
        break;
    case ACCOUNT_PROVIDER:
        snprintf(buf, size, "provider:%.*s", (int) ev->provider.n, ev->provider.p);
        break;
    default:
        snprintf(buf, size, "platform");
        break;
    }
}

int
book_transfers_json(json_t *arr, const book_item_t *it)
{
    xfer_t  x[PRICE_MAX_XFERS];
    char    debit[96], credit[96];
    json_t *o;
    int     i, n;

    n = price_transfers(&it->price, it->ev->payer, it->ev->key_source == KEY_BYOK, x);
    for (i = 0; i < n; i++) {
        account_key(debit, sizeof(debit), x[i].debit, it->ev);
        account_key(credit, sizeof(credit), x[i].credit, it->ev);
        o = json_pack("{s:s%, s:s, s:s, s:s, s:I}",
                      "request_id", it->ev->request_id.p, it->ev->request_id.n,
                      "kind", xfer_kind_name(x[i].kind),
                      "debit", debit, "credit", credit,
                      "amount_nusd", (json_int_t) x[i].amount_nusd);
        if (o == NULL || json_array_append_new(arr, o) != 0) {
            return -1;
        }
    }
    return 0;
}

static json_t *
dead_json(const book_dead_t *d)
{
    json_t *o, *fields;
    char    key[80];
    size_t  i;
    int     k;

    fields = json_object();
    if (fields == NULL) {
        return NULL;
    }
    for (i = 0; d->kv != NULL && i < d->npairs; i++) {
        json_t *name = js_raw(&d->kv[2 * i]);

        if (name == NULL) {
            json_decref(fields);
            return NULL;
        }
        /* a repeated field keeps every value: name, name#2, ... */
        snprintf(key, sizeof(key), "%s", json_string_value(name));
        for (k = 2; json_object_get(fields, key) != NULL; k++) {
            snprintf(key, sizeof(key), "%.60s#%d", json_string_value(name), k);
        }
        json_decref(name);
        if (put(fields, key, js_raw(&d->kv[2 * i + 1])) != 0) {
            json_decref(fields);
            return NULL;
        }
    }

    o = json_object();
    if (o == NULL || put(o, "stream_id", js(&d->stream_id)) != 0
        || put(o, "reason", json_string(d->reason)) != 0
        || put(o, "fields", fields) != 0)
    {
        json_decref(o);
        return NULL;
    }
    /* request_id, when the entry has a printable one */
    {
        json_t *rid = json_object_get(fields, "request_id");

        if (json_is_string(rid) && json_string_length(rid) <= 64) {
            json_object_set(o, "request_id", rid);
        }
    }
    return o;
}

static void
rollback(PGconn *conn)
{
    PGresult *r;

    if (PQstatus(conn) == CONNECTION_OK) {
        r = PQexec(conn, "ROLLBACK");
        PQclear(r);
    }
}

int
book_batch(PGconn *conn, const char *stream, book_item_t *items, size_t n,
    const book_dead_t *dead, size_t ndead, book_result_t *out, char *why, size_t whysize)
{
    json_t      *evs = NULL, *xfers = NULL, *dls = NULL, *o;
    char        *p_events = NULL, *p_xfers = NULL, *p_dead = NULL;
    const char  *params[4];
    PGresult    *res = NULL;
    size_t       i;
    int          rc = BOOK_RETRY, row, rows;

    memset(out, 0, sizeof(*out));
    why[0] = '\0';

    if (db_command(conn, "BEGIN", "begin") != 0) {
        goto done;
    }

    /* graduated meters: fees from the customers' counts, read under lock */
    rc = tiers_apply(conn, items, n, why, whysize);
    if (rc != BOOK_OK) {
        rollback(conn);
        goto done;
    }
    rc = BOOK_RETRY;

    evs = json_array();
    xfers = json_array();
    dls = json_array();
    if (evs == NULL || xfers == NULL || dls == NULL) {
        goto oom;
    }
    for (i = 0; i < n; i++) {
        o = event_json(&items[i]);
        if (o == NULL || json_array_append_new(evs, o) != 0
            || book_transfers_json(xfers, &items[i]) != 0)
        {
            goto oom;
        }
    }
    for (i = 0; i < ndead; i++) {
        o = dead_json(&dead[i]);
        if (o == NULL || json_array_append_new(dls, o) != 0) {
            goto oom;
        }
    }

    p_events = json_dumps(evs, JSON_COMPACT);
    p_xfers = json_dumps(xfers, JSON_COMPACT);
    p_dead = json_dumps(dls, JSON_COMPACT);
    if (p_events == NULL || p_xfers == NULL || p_dead == NULL) {
        goto oom;
    }

    params[0] = stream;
    params[1] = p_events;
    params[2] = p_xfers;
    params[3] = p_dead;
    res = PQexecParams(conn,
        "SELECT request_id, result FROM book_batch($1, $2::jsonb, $3::jsonb, $4::jsonb)",
        4, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = db_refused(conn, res) ? BOOK_REJECTED : BOOK_RETRY;
        if (res != NULL && PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) != NULL) {
            /* the primary message only: the context would quote the SQL */
            const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

            snprintf(why, whysize, "%s (sqlstate %s)",
                     PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY), st ? st : "none");
        } else {
            snprintf(why, whysize, "%s", db_error(conn));
        }
        slog(rc == BOOK_REJECTED ? SLOG_WARN : SLOG_ERROR,
             "postgres book_batch of %zu events failed: %s", n, why);
        rollback(conn);
        goto done;
    }

    rows = PQntuples(res);
    for (row = 0; row < rows; row++) {
        const char *r = PQgetvalue(res, row, 1);

        if (strcmp(r, "booked") == 0) {
            out->booked++;
        } else if (strcmp(r, "duplicate") == 0) {
            out->duplicate++;
        } else if (strcmp(r, "conflict") == 0) {
            out->conflict++;
            slog(SLOG_WARN, "request %s was booked before with other content;"
                 " dead-lettered, nothing booked", PQgetvalue(res, row, 0));
        } else {
            out->dead++;
            slog(SLOG_WARN, "request %s names a merchant or account the ledger does not"
                 " have; dead-lettered", PQgetvalue(res, row, 0));
        }
    }
    out->poison = ndead;
    PQclear(res);
    res = NULL;

    /* Only a successful COMMIT lets the caller XACK. */
    if (db_command(conn, "COMMIT", "commit") != 0) {
        memset(out, 0, sizeof(*out));
        goto done;
    }
    rc = BOOK_OK;
    goto done;

oom:
    slog(SLOG_ERROR, "building the batch for postgres failed: out of memory");
    snprintf(why, whysize, "out of memory");
    rollback(conn);

done:
    PQclear(res);
    free(p_events);
    free(p_xfers);
    free(p_dead);
    json_decref(evs);
    json_decref(xfers);
    json_decref(dls);
    return rc;
}
