#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "book.h"
#include "bookcopy.h"
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

void
book_account_key(char *buf, size_t size, account_kind_e k, const event_t *ev)
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
        book_account_key(debit, sizeof(debit), x[i].debit, it->ev);
        book_account_key(credit, sizeof(credit), x[i].credit, it->ev);
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

/* COPY of one buffer of rows into a staging table; 0, or -1 with res set
 * to the failed result (the caller clears it). */
static int
copy_in(PGconn *conn, const char *sql, const copybuf_t *b, PGresult **res)
{
    PGresult *r;

    *res = NULL;
    r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        *res = r;
        return -1;
    }
    PQclear(r);
    if ((b->n > 0 && PQputCopyData(conn, b->p, (int) b->n) != 1)
        || PQputCopyEnd(conn, NULL) != 1)
    {
        *res = PQgetResult(conn);
        while ((r = PQgetResult(conn)) != NULL) {
            PQclear(r);
        }
        return -1;
    }
    r = PQgetResult(conn);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        *res = r;
        while ((r = PQgetResult(conn)) != NULL) {
            PQclear(r);
        }
        return -1;
    }
    PQclear(r);
    while ((r = PQgetResult(conn)) != NULL) {
        PQclear(r);
    }
    return 0;
}

/* Postgres failed a step with res: BOOK_REJECTED (the data) or BOOK_RETRY. */
static int
failed(PGconn *conn, PGresult *res, size_t n, char *why, size_t whysize)
{
    int rc = db_refused(conn, res) ? BOOK_REJECTED : BOOK_RETRY;

    if (res != NULL && PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) != NULL) {
        /* the primary message only: the context would quote the SQL or the row */
        const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

        snprintf(why, whysize, "%s (sqlstate %s)",
                 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY), st ? st : "none");
    } else {
        snprintf(why, whysize, "%s", db_error(conn));
    }
    slog(rc == BOOK_REJECTED ? SLOG_WARN : SLOG_ERROR,
         "postgres book_batch of %zu events failed: %s", n, why);
    return rc;
}

/* The next result of a pipeline and the NULL that ends it; NULL when the
 * connection broke. */
static PGresult *
pipeline_result(PGconn *conn)
{
    PGresult *r = PQgetResult(conn), *x;

    if (r != NULL && PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
        while ((x = PQgetResult(conn)) != NULL) {
            PQclear(x);
        }
    }
    return r;
}

/*
 * book_batch() and COMMIT sent together in pipeline mode; meanwhile(arg)
 * runs while Postgres works on them. The results: the rows of book_batch()
 * in *res (or its error), and whether COMMIT succeeded. -1 when the
 * pipeline could not be used or the connection broke.
 */
static int
book_pipelined(PGconn *conn, const char *const params[2], book_meanwhile_pt meanwhile,
    void *arg, PGresult **res, int *committed)
{
    PGresult *c, *sync;
    int       ok;

    *res = NULL;
    *committed = 0;
    if (PQenterPipelineMode(conn) != 1) {
        return -1;
    }
    if (PQsendQueryParams(conn, "SELECT request_id, result FROM book_batch($1, $2::jsonb)",
                          2, NULL, params, NULL, NULL, 0) != 1
        || PQsendQueryParams(conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) != 1
        || PQpipelineSync(conn) != 1)
    {
        (void) PQexitPipelineMode(conn);
        return -1;
    }

    meanwhile(arg);

    *res = pipeline_result(conn);
    c = pipeline_result(conn);
    sync = PQgetResult(conn);
    ok = c != NULL && sync != NULL && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    *committed = ok && PQresultStatus(*res) == PGRES_TUPLES_OK
                 && PQresultStatus(c) == PGRES_COMMAND_OK;
    PQclear(c);
    PQclear(sync);
    if (!ok || PQexitPipelineMode(conn) != 1) {
        return -1;
    }
    return 0;
}

int
book_batch(PGconn *conn, const char *stream, book_item_t *items, size_t n,
    const book_dead_t *dead, size_t ndead, book_result_t *out, char *why, size_t whysize)
{
    return book_batch_then(conn, stream, items, n, dead, ndead, out, why, whysize, NULL, NULL);
}

int
book_batch_then(PGconn *conn, const char *stream, book_item_t *items, size_t n,
    const book_dead_t *dead, size_t ndead, book_result_t *out, char *why, size_t whysize,
    book_meanwhile_pt meanwhile, void *arg)
{
    int          committed = 0, pipelined = 0;
    json_t      *dls = NULL, *o;
    char        *p_dead = NULL;
    const char  *params[2];
    copybuf_t    evs, xfers;
    PGresult    *res = NULL;
    size_t       i;
    long         seq = 0;
    int          rc = BOOK_RETRY, row, rows;

    memset(out, 0, sizeof(*out));
    memset(&evs, 0, sizeof(evs));
    memset(&xfers, 0, sizeof(xfers));
    why[0] = '\0';

    /* the session's staging tables (created once), emptied at commit */
    res = PQexec(conn, "BEGIN; SELECT book_stage()");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        slog(SLOG_ERROR, "postgres begin failed: %s", db_error(conn));
        snprintf(why, whysize, "%s", db_error(conn));
        rollback(conn);
        goto done;
    }
    PQclear(res);
    res = NULL;

    /* graduated meters: fees from the customers' counts, read under lock */
    rc = tiers_apply(conn, items, n, why, whysize);
    if (rc != BOOK_OK) {
        rollback(conn);
        goto done;
    }
    rc = BOOK_RETRY;

    for (i = 0; i < n; i++) {
        if (bookcopy_event(&evs, &items[i]) != 0
            || bookcopy_transfers(&xfers, &items[i], &seq) != 0)
        {
            goto oom;
        }
    }
    dls = json_array();
    if (dls == NULL) {
        goto oom;
    }
    for (i = 0; i < ndead; i++) {
        o = dead_json(&dead[i]);
        if (o == NULL || json_array_append_new(dls, o) != 0) {
            goto oom;
        }
    }
    p_dead = json_dumps(dls, JSON_COMPACT);
    if (p_dead == NULL) {
        goto oom;
    }

    if ((n > 0 && copy_in(conn, bookcopy_events_sql, &evs, &res) != 0)
        || (seq > 0 && copy_in(conn, bookcopy_transfers_sql, &xfers, &res) != 0))
    {
        rc = failed(conn, res, n, why, whysize);
        rollback(conn);
        goto done;
    }

    params[0] = stream;
    params[1] = p_dead;
    if (meanwhile != NULL) {
        if (book_pipelined(conn, params, meanwhile, arg, &res, &committed) != 0) {
            /* the connection broke, or the pipeline could not be started:
             * nothing is known to be committed; the caller retries */
            slog(SLOG_ERROR, "postgres book_batch of %zu events failed: %s", n,
                 db_error(conn));
            snprintf(why, whysize, "%s", db_error(conn));
            /* a session left half way through a pipeline is not used again:
             * a new one (its transaction is rolled back with the old) */
            if (PQstatus(conn) == CONNECTION_OK) {
                PQreset(conn);
            }
            rc = BOOK_RETRY;
            goto done;
        }
        pipelined = 1;
    } else {
        res = PQexecParams(conn, "SELECT request_id, result FROM book_batch($1, $2::jsonb)",
                           2, NULL, params, NULL, NULL, 0);
    }

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = failed(conn, res, n, why, whysize);
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
    if (pipelined ? !committed : db_command(conn, "COMMIT", "commit") != 0) {
        if (pipelined) {
            slog(SLOG_ERROR, "postgres commit failed: %s", db_error(conn));
            rollback(conn);
        }
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
    free(p_dead);
    json_decref(dls);
    bookcopy_free(&evs);
    bookcopy_free(&xfers);
    return rc;
}
