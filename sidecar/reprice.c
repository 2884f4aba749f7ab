#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "book.h"
#include "db.h"
#include "log.h"
#include "rates.h"
#include "reprice.h"
#include "tiers.h"

#define STR_(x)      #x
#define STRINGIFY(x) STR_(x)

/* the columns of an events row that pricing reads, in this order: the
 * usage buckets as lib/lava_event_fields.h declares them (bucket columns
 * are named as the buckets) */
#define BUCKET_COLUMN(name)  " " #name ","
#define BUCKET_COUNT(name)   + 1
#define NBUCKETS             (0 LAVA_USAGE_BUCKETS(BUCKET_COUNT))
#define COLUMNS \
    "request_id, ts_ms, merchant_id, customer_id, meter_slug, payer, key_source," \
    " provider, model, status, outcome," \
    LAVA_USAGE_BUCKETS(BUCKET_COLUMN) \
    " service_charge_ppm, service_charge_basis, tap_flags"

enum {
    C_REQUEST_ID = 0, C_TS_MS, C_MERCHANT, C_CUSTOMER, C_METER, C_PAYER, C_KEY_SOURCE,
    C_PROVIDER, C_MODEL, C_STATUS, C_OUTCOME, C_USAGE, C_SC_PPM = C_USAGE + NBUCKETS,
    C_SC_BASIS, C_TAP_FLAGS
};

enum {
    REPRICE_OK = 0,
    REPRICE_STALE = 1,          /* rates changed since the load: load, start over */
    REPRICE_RETRY = BOOK_RETRY,
    REPRICE_REJECTED = BOOK_REJECTED
};

typedef struct {
    int  settled;
    int  zero;
    int  unpriced;
} tally_t;

static void
rollback(PGconn *conn)
{
    if (PQstatus(conn) == CONNECTION_OK) {
        (void) db_command(conn, "ROLLBACK", "rollback");
    }
}

static sv_t
col_sv(PGresult *res, int row, int col)
{
    sv_t v = { "", 0 };

    if (!PQgetisnull(res, row, col)) {
        v.p = PQgetvalue(res, row, col);
        v.n = (size_t) PQgetlength(res, row, col);
    }
    return v;
}

static int64_t
col_i64(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* index of s in names (as the event_*_name() functions spell them), else 0 */
static int
enum_of(const char *s, const char *(*name)(int), int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (strcmp(s, name(i)) == 0) {
            return i;
        }
    }
    return 0;
}

static const char *payer_name(int i) { return event_payer_name((payer_e) i); }
static const char *key_source_name(int i) { return event_key_source_name((key_source_e) i); }
static const char *outcome_name(int i) { return event_outcome_name((outcome_e) i); }
static const char *sc_basis_name(int i) { return price_sc_basis_name((sc_basis_e) i); }

/* What pricing reads of an events row; the strings point into res. */
static void
event_of_row(event_t *ev, PGresult *res, int row)
{
    int      i = C_USAGE;

    memset(ev, 0, sizeof(*ev));
    ev->v = EVENT_VERSION;
    ev->request_id = col_sv(res, row, C_REQUEST_ID);
    ev->ts_ms = col_i64(res, row, C_TS_MS);
    ev->merchant_id = col_sv(res, row, C_MERCHANT);
    ev->customer_id = col_sv(res, row, C_CUSTOMER);
    ev->meter = col_sv(res, row, C_METER);
    ev->payer = (payer_e) enum_of(PQgetvalue(res, row, C_PAYER), payer_name, 3);
    ev->key_source = (key_source_e) enum_of(PQgetvalue(res, row, C_KEY_SOURCE),
                                            key_source_name, 3);
    ev->provider = col_sv(res, row, C_PROVIDER);
    ev->model = col_sv(res, row, C_MODEL);
    ev->status = (int) col_i64(res, row, C_STATUS);
    ev->outcome = (outcome_e) enum_of(PQgetvalue(res, row, C_OUTCOME), outcome_name,
                                          OUTCOME_WORKER_LOST + 1);
#define BUCKET_READ(name)  ev->usage.name = col_i64(res, row, i++);
    LAVA_USAGE_BUCKETS(BUCKET_READ)
#undef BUCKET_READ
    ev->tap_flags = col_sv(res, row, C_TAP_FLAGS);   /* per_request */
    ev->ttfb_ms = -1;
    ev->bytes_out = -1;
    ev->attempt = -1;
}

/* {request_id, the pricing columns of an events row} */
static json_t *
result_json(const book_item_t *it)
{
    json_t *o = json_object();

    if (o == NULL
        || json_object_set_new(o, "request_id",
                               json_stringn(it->ev->request_id.p, it->ev->request_id.n)) != 0
        || rates_price_json(o, &it->price) != 0)
    {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* reprice_book() with the priced items; counts the results into t. */
static int
book(PGconn *conn, book_item_t *items, size_t n, tally_t *t, char *why, size_t whysize)
{
    json_t      *results = json_array(), *xfers = json_array(), *o;
    char        *p_results = NULL, *p_xfers = NULL;
    const char  *params[2];
    PGresult    *res = NULL;
    size_t       i;
    int          rc = REPRICE_RETRY, row;

    if (results == NULL || xfers == NULL) {
        goto oom;
    }
    for (i = 0; i < n; i++) {
        o = result_json(&items[i]);
        if (o == NULL || json_array_append_new(results, o) != 0
            || book_transfers_json(xfers, &items[i]) != 0)
        {
            goto oom;
        }
    }
    p_results = json_dumps(results, JSON_COMPACT);
    p_xfers = json_dumps(xfers, JSON_COMPACT);
    if (p_results == NULL || p_xfers == NULL) {
        goto oom;
    }

    params[0] = p_results;
    params[1] = p_xfers;
    res = PQexecParams(conn, "SELECT request_id, result FROM reprice_book($1::jsonb, $2::jsonb)",
                       2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = db_refused(conn, res) ? REPRICE_REJECTED : REPRICE_RETRY;
        if (res != NULL && PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) != NULL) {
            /* the primary message only: the context would quote the SQL */
            snprintf(why, whysize, "%s", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        } else {
            snprintf(why, whysize, "%s", db_error(conn));
        }
        slog(rc == REPRICE_REJECTED ? SLOG_WARN : SLOG_ERROR,
             "postgres reprice_book of %zu requests failed: %s", n, why);
        goto done;
    }
    for (row = 0; row < PQntuples(res); row++) {
        const char *r = PQgetvalue(res, row, 1);

        if (strcmp(r, "settled") == 0) {
            t->settled++;
        } else if (strcmp(r, "zero") == 0) {
            t->zero++;
        } else {
            t->unpriced++;
        }
    }
    rc = REPRICE_OK;
    goto done;

oom:
    snprintf(why, whysize, "out of memory");
    slog(SLOG_ERROR, "re-pricing %zu requests failed: out of memory", n);

done:
    PQclear(res);
    free(p_results);
    free(p_xfers);
    json_decref(results);
    json_decref(xfers);
    return rc;
}

/*
 * One transaction: take up to limit marked requests, price, settle, COMMIT.
 * *taken: how many were taken (0: nothing marked, or another sidecar is on
 * it). With limit 1, *rid gets the request id (for mark_refused()).
 */
static int
batch(sidecar_t *s, int limit, int *taken, tally_t *t, char *rid, size_t ridsize,
    char *why, size_t whysize)
{
    PGresult    *res;
    event_t     *evs = NULL;
    book_item_t *items = NULL;
    tally_t      mine;
    char         lim[16];
    const char  *params[1];
    int          i, n, changed, rc = REPRICE_RETRY;

    *taken = 0;
    why[0] = '\0';
    if (db_command(s->db, "BEGIN", "begin") != 0) {
        return REPRICE_RETRY;
    }

    snprintf(lim, sizeof(lim), "%d", limit);
    params[0] = lim;
    res = PQexecParams(s->db, "SELECT " COLUMNS " FROM reprice_take($1::integer)", 1, NULL,
                       params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        slog(SLOG_ERROR, "postgres reprice_take failed: %s", db_error(s->db));
        PQclear(res);
        rollback(s->db);
        return REPRICE_RETRY;
    }
    n = PQntuples(res);
    if (n == 0) {
        PQclear(res);
        return db_command(s->db, "COMMIT", "commit") == 0 ? REPRICE_OK : REPRICE_RETRY;
    }

    /* Read after the marks: a rate added before them is in this version. */
    changed = rates_changed(s->db, s->rates);
    if (changed != 0) {
        PQclear(res);
        rollback(s->db);
        return changed > 0 ? REPRICE_STALE : REPRICE_RETRY;
    }

    evs = calloc((size_t) n, sizeof(*evs));
    items = calloc((size_t) n, sizeof(*items));
    if (evs == NULL || items == NULL) {
        snprintf(why, whysize, "out of memory");
        slog(SLOG_ERROR, "re-pricing %d requests failed: out of memory", n);
        goto fail;
    }
    for (i = 0; i < n; i++) {
        event_of_row(&evs[i], res, i);
        items[i].ev = &evs[i];
        (void) rates_price_event(s->rates, &evs[i], col_i64(res, i, C_SC_PPM),
                                 (sc_basis_e) enum_of(PQgetvalue(res, i, C_SC_BASIS),
                                                      sc_basis_name, 3),
                                 &items[i].price);
    }
    if (n == 1) {
        snprintf(rid, ridsize, "%s", PQgetvalue(res, 0, C_REQUEST_ID));
    }

    /* graduated meters: fees from the customers' counts, read under lock */
    rc = tiers_apply_reprice(s->db, items, (size_t) n, why, whysize);
    if (rc != BOOK_OK) {
        goto fail;
    }
    memset(&mine, 0, sizeof(mine));
    rc = book(s->db, items, (size_t) n, &mine, why, whysize);
    if (rc != REPRICE_OK) {
        goto fail;
    }
    if (db_command(s->db, "COMMIT", "commit") != 0) {
        rc = REPRICE_RETRY;
        goto done;
    }
    t->settled += mine.settled;
    t->zero += mine.zero;
    t->unpriced += mine.unpriced;
    *taken = n;
    goto done;

fail:
    rollback(s->db);

done:
    PQclear(res);
    free(evs);
    free(items);
    return rc;
}

/* A request Postgres refuses to settle: recorded as still unpriced, with
 * why, so that it holds up nothing and can be marked again. */
static void
mark_refused(sidecar_t *s, const char *rid, const char *why)
{
    const char *params[2];
    char        note[300];
    PGresult   *res;

    snprintf(note, sizeof(note), "not settled: %s", why);
    params[0] = rid;
    params[1] = note;
    res = PQexecParams(s->db,
        "UPDATE reprice_queue SET priced_at = now(), result = 'unpriced', note = $2"
        " WHERE request_id = $1 AND priced_at IS NULL", 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        slog(SLOG_ERROR, "postgres marking request %s not settled failed: %s", rid,
             db_error(s->db));
    } else {
        slog(SLOG_WARN, "request %s not settled: %s", rid, why);
    }
    PQclear(res);
}

static int
waiting(PGconn *conn)
{
    PGresult *res = PQexec(conn,
        "SELECT EXISTS (SELECT 1 FROM reprice_queue WHERE priced_at IS NULL)");
    int       rc = -1;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        rc = PQgetvalue(res, 0, 0)[0] == 't';
    } else {
        slog(SLOG_ERROR, "postgres reading reprice_queue failed: %s", db_error(conn));
    }
    PQclear(res);
    return rc;
}

int
reprice_run(sidecar_t *s)
{
    tally_t t;
    char    why[256], rid[80];
    int     limit = REPRICE_BATCH, batches = 0, singles = 0, stale = 0, taken, rc, w;

    if (sidecar_db_ready(s) != 0) {
        return -1;
    }
    w = waiting(s->db);
    if (w <= 0) {
        if (w < 0) {
            sidecar_db_failed(s);
        }
        return w;
    }

    memset(&t, 0, sizeof(t));
    /* after a refused batch, one request per transaction until the one
     * refused is found: at most REPRICE_BATCH of those per call */
    while (batches < REPRICE_MAX_BATCHES && singles < REPRICE_BATCH) {
        if (s->rates == NULL && sidecar_rates_reload(s) != 0) {
            goto fail;
        }
        rid[0] = '\0';
        rc = batch(s, limit, &taken, &t, rid, sizeof(rid), why, sizeof(why));
        if (limit == 1) {
            singles++;
        } else {
            batches++;
        }
        if (rc == REPRICE_STALE) {
            /* a rate, alias or meter changed: never price against the old */
            if (++stale > 3 || sidecar_rates_reload(s) != 0) {
                goto fail;
            }
            continue;
        }
        if (rc == REPRICE_REJECTED) {
            if (limit > 1) {
                limit = 1;              /* find the one Postgres refuses */
                continue;
            }
            if (rid[0] != '\0') {
                mark_refused(s, rid, why);
            }
            limit = REPRICE_BATCH;
            continue;
        }
        if (rc != REPRICE_OK) {
            goto fail;
        }
        if (taken < limit && limit == REPRICE_BATCH) {
            break;                      /* all done, or another sidecar is on it */
        }
        if (taken == 0) {
            break;
        }
    }

    if (t.settled + t.zero + t.unpriced > 0) {
        slog(SLOG_INFO, "re-priced %d requests: settled %d, zero %d, still unpriced %d",
             t.settled + t.zero + t.unpriced, t.settled, t.zero, t.unpriced);
    }
    return t.settled + t.zero + t.unpriced;

fail:
    sidecar_db_failed(s);
    return -1;
}
