#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "db.h"
#include "log.h"
#include "money.h"
#include "tiers.h"

typedef struct {
    const char  *merchant;     /* NUL-terminated copies owned by the JSON */
    const char  *slug;
    const char  *customer;
    int64_t      units;
} counter_t;

static int
sv_cmp(const sv_t *a, const sv_t *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    int    c = memcmp(a->p, b->p, n);

    return c != 0 ? c : (a->n > b->n) - (a->n < b->n);
}

/* (merchant, meter, customer, start, request id) */
static int
item_cmp(const void *x, const void *y)
{
    const event_t *a = (*(book_item_t *const *) x)->ev;
    const event_t *b = (*(book_item_t *const *) y)->ev;
    int            c;

    if ((c = sv_cmp(&a->merchant_id, &b->merchant_id)) != 0
        || (c = sv_cmp(&a->meter, &b->meter)) != 0
        || (c = sv_cmp(&a->customer_id, &b->customer_id)) != 0)
    {
        return c;
    }
    if (a->ts_ms != b->ts_ms) {
        return (a->ts_ms > b->ts_ms) - (a->ts_ms < b->ts_ms);
    }
    return sv_cmp(&a->request_id, &b->request_id);
}

static int
same_pair(const event_t *a, const event_t *b)
{
    return sv_cmp(&a->merchant_id, &b->merchant_id) == 0 && sv_cmp(&a->meter, &b->meter) == 0
           && sv_cmp(&a->customer_id, &b->customer_id) == 0;
}

static int
counter_cmp(const void *x, const void *y)
{
    const counter_t *a = x, *b = y;
    int              c = strcmp(a->merchant, b->merchant);

    if (c == 0) {
        c = strcmp(a->slug, b->slug);
    }
    return c != 0 ? c : strcmp(a->customer, b->customer);
}

static int
str_cmp(const void *x, const void *y)
{
    return strcmp(*(const char *const *) x, *(const char *const *) y);
}

static char *
z(const sv_t *v)
{
    char *s = malloc(v->n + 1);

    if (s != NULL) {
        memcpy(s, v->p, v->n);
        s[v->n] = '\0';
    }
    return s;
}

/* skip_booked: requests already in events book nothing and count nothing */
static int
apply(PGconn *conn, book_item_t *items, size_t n, int skip_booked, char *why,
    size_t whysize)
{
    book_item_t **idx = NULL;
    json_t       *keys = NULL, *ids = NULL, *reply = NULL, *usage, *booked;
    counter_t    *ctr = NULL;
    const char  **done = NULL;
    char         *p_keys = NULL, *p_ids = NULL, *rid = NULL;
    const char   *params[2];
    PGresult     *res = NULL;
    size_t        i, k = 0, nctr = 0, ndone = 0;
    int64_t       count = 0;
    int           rc = BOOK_RETRY;

    idx = malloc(n * sizeof(*idx) + 1);
    if (idx == NULL) {
        goto oom;
    }
    for (i = 0; i < n; i++) {
        if (items[i].price.state == PRICE_PRICED && items[i].price.meter != NULL
            && items[i].ev->payer == PAYER_CUSTOMER)
        {
            idx[k++] = &items[i];
        }
    }
    if (k == 0) {
        free(idx);
        return BOOK_OK;
    }
    qsort(idx, k, sizeof(*idx), item_cmp);

    keys = json_array();
    ids = json_array();
    if (keys == NULL || ids == NULL) {
        goto oom;
    }
    for (i = 0; i < k; i++) {
        const event_t *ev = idx[i]->ev;

        if (skip_booked
            && json_array_append_new(ids, json_stringn(ev->request_id.p, ev->request_id.n)) != 0)
        {
            goto oom;
        }
        if (i > 0 && same_pair(ev, idx[i - 1]->ev)) {
            continue;
        }
        if (json_array_append_new(keys, json_pack("[s%, s%, s%]",
                ev->merchant_id.p, ev->merchant_id.n, ev->meter.p, ev->meter.n,
                ev->customer_id.p, ev->customer_id.n)) != 0)
        {
            goto oom;
        }
    }
    p_keys = json_dumps(keys, JSON_COMPACT);
    p_ids = json_dumps(ids, JSON_COMPACT);
    if (p_keys == NULL || p_ids == NULL) {
        goto oom;
    }

    params[0] = p_keys;
    params[1] = p_ids;
    res = PQexecParams(conn, "SELECT meter_usage_lock($1::jsonb, $2::jsonb)", 2, NULL,
                       params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        rc = db_refused(conn, res) ? BOOK_REJECTED : BOOK_RETRY;
        snprintf(why, whysize, "meter_usage_lock: %s", db_error(conn));
        slog(SLOG_ERROR, "postgres %s", why);
        goto done;
    }
    reply = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    usage = json_object_get(reply, "usage");
    booked = json_object_get(reply, "booked");
    if (!json_is_array(usage) || !json_is_array(booked)) {
        snprintf(why, whysize, "meter_usage_lock answered something else");
        slog(SLOG_ERROR, "postgres %s", why);
        goto done;
    }

    ctr = calloc(json_array_size(usage) + 1, sizeof(*ctr));
    done = calloc(json_array_size(booked) + 1, sizeof(*done));
    if (ctr == NULL || done == NULL) {
        goto oom;
    }
    for (i = 0; i < json_array_size(usage); i++) {
        json_t *row = json_array_get(usage, i);

        if (json_unpack(row, "[s, s, s, I]", &ctr[nctr].merchant, &ctr[nctr].slug,
                        &ctr[nctr].customer, &ctr[nctr].units) == 0)
        {
            nctr++;
        }
    }
    for (i = 0; i < json_array_size(booked); i++) {
        if (json_is_string(json_array_get(booked, i))) {
            done[ndone++] = json_string_value(json_array_get(booked, i));
        }
    }
    qsort(ctr, nctr, sizeof(*ctr), counter_cmp);
    qsort(done, ndone, sizeof(*done), str_cmp);

    /* each pair's requests in order, each from the count the ones before
     * it left; requests booked already book nothing and count nothing */
    for (i = 0; i < k; i++) {
        const event_t *ev = idx[i]->ev;
        counter_t      key, *c;
        char          *m, *s, *cu;

        if (i == 0 || !same_pair(ev, idx[i - 1]->ev)) {
            m = z(&ev->merchant_id);
            s = z(&ev->meter);
            cu = z(&ev->customer_id);
            if (m == NULL || s == NULL || cu == NULL) {
                free(m);
                free(s);
                free(cu);
                goto oom;
            }
            key.merchant = m;
            key.slug = s;
            key.customer = cu;
            c = bsearch(&key, ctr, nctr, sizeof(*ctr), counter_cmp);
            count = c != NULL ? c->units : 0;
            free(m);
            free(s);
            free(cu);
        }
        free(rid);
        rid = z(&ev->request_id);
        if (rid == NULL) {
            goto oom;
        }
        if (bsearch(&rid, done, ndone, sizeof(*done), str_cmp) != NULL) {
            continue;
        }
        price_set_before(&idx[i]->price, count);
        if (idx[i]->price.state == PRICE_PRICED
            && money_add(count, idx[i]->price.fee_units, &count) != 0)
        {
            count = INT64_MAX;
        }
    }
    rc = BOOK_OK;
    goto done;

oom:
    snprintf(why, whysize, "out of memory");
    slog(SLOG_ERROR, "pricing graduated meters failed: out of memory");

done:
    PQclear(res);
    json_decref(keys);
    json_decref(ids);
    json_decref(reply);
    free(p_keys);
    free(p_ids);
    free(rid);
    free(ctr);
    free(done);
    free(idx);
    return rc;
}

int
tiers_apply(PGconn *conn, book_item_t *items, size_t n, char *why, size_t whysize)
{
    return apply(conn, items, n, 1, why, whysize);
}

int
tiers_apply_reprice(PGconn *conn, book_item_t *items, size_t n, char *why, size_t whysize)
{
    return apply(conn, items, n, 0, why, whysize);
}
