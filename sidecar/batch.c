#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "book.h"
#include "entry3.h"
#include "event.h"
#include "log.h"
#include "metrics.h"
#include "partition.h"
#include "stream.h"

/* One event: a stream entry, or one event of a version 3 entry (entry3.h). */
typedef struct {
    redisReply  *entry;
    sv_t        *kv;            /* 2 * npairs, pointing into the reply */
    size_t       npairs;
    event_t      ev;
    int          state;         /* ENTRY_* */
    char         reason[256];   /* ENTRY_DEAD */
    char         sid[ENTRY3_SID_MAX];   /* ev.stream_id of a version 3 event */
} entry_t;

enum {
    ENTRY_BOOK = 0,             /* decoded, to be priced and booked */
    ENTRY_DEAD,                 /* to dead_letters */
    ENTRY_SKIP,                 /* nothing to book: ack only */
    ENTRY_OTHER                 /* another partition's (partition.h): ack only */
};

/* The entry's fields into e->kv; -1 when there is nothing to decode
 * (e->state says why). */
static int
fields(entry_t *e, redisReply *entry)
{
    redisReply *f;
    size_t      i;

    e->entry = entry;
    e->ev.stream_id.p = entry->element[0]->str;
    e->ev.stream_id.n = entry->element[0]->len;

    f = entry->element[1];
    if (f->type != REDIS_REPLY_ARRAY) {
        /* deleted from the stream while pending: nothing left to book */
        slog(SLOG_WARN, "stream entry %s has no fields (deleted); acknowledging it",
             entry->element[0]->str);
        e->state = ENTRY_SKIP;
        return -1;
    }
    if (f->elements % 2 != 0) {
        e->state = ENTRY_DEAD;
        strcpy(e->reason, "entry has an odd number of field strings");
        return -1;
    }

    e->npairs = f->elements / 2;
    e->kv = calloc(f->elements + 1, sizeof(sv_t));
    if (e->kv == NULL) {
        e->state = ENTRY_DEAD;
        strcpy(e->reason, "out of memory decoding the entry");
        return -1;
    }
    for (i = 0; i < f->elements; i++) {
        if (f->element[i]->type != REDIS_REPLY_STRING) {
            e->state = ENTRY_DEAD;
            strcpy(e->reason, "entry has a field that is not a string");
            return -1;
        }
        e->kv[i].p = f->element[i]->str;
        e->kv[i].n = f->element[i]->len;
    }
    return 0;
}

static void
decode(entry_t *e, redisReply *entry)
{
    if (fields(e, entry) != 0) {
        return;
    }
    if (event_decode(&e->ev, e->kv, e->npairs, e->reason, sizeof(e->reason)) != 0) {
        e->state = ENTRY_DEAD;
        return;
    }
    e->state = ENTRY_BOOK;
}

static int
by_request_id(const void *a, const void *b)
{
    const entry_t *x = *(entry_t *const *) a, *y = *(entry_t *const *) b;
    int            c = memcmp(x->ev.request_id.p, y->ev.request_id.p, 30);

    /* equal ids keep stream order: the first one is booked */
    return c != 0 ? c : (x < y ? -1 : x > y);
}

/* A request id twice in one batch: book it once. The same content again is
 * a plain redelivery; a worker_lost event (another worker's estimate for a
 * request whose worker died) gives way to the request's own event; other
 * content is kept as a dead letter. */
static void
dedupe(entry_t *es, size_t n)
{
    entry_t **idx;
    size_t    i, k = 0;

    idx = malloc(n * sizeof(*idx) + 1);
    if (idx == NULL) {
        return;     /* book_batch skips the repeat itself; only the count differs */
    }
    for (i = 0; i < n; i++) {
        if (es[i].state == ENTRY_BOOK) {
            idx[k++] = &es[i];
        }
    }
    qsort(idx, k, sizeof(*idx), by_request_id);
    for (i = 1; i < k; i++) {
        if (memcmp(idx[i]->ev.request_id.p, idx[i - 1]->ev.request_id.p, 30) != 0) {
            continue;
        }
        if (memcmp(idx[i]->ev.hash, idx[i - 1]->ev.hash, EVENT_HASH_LEN) == 0
            || idx[i]->ev.outcome == OUTCOME_WORKER_LOST)
        {
            idx[i]->state = ENTRY_SKIP;
        } else if (idx[i - 1]->ev.outcome == OUTCOME_WORKER_LOST) {
            idx[i - 1]->state = ENTRY_SKIP;
            continue;           /* idx[i] is the one booked */
        } else {
            idx[i]->state = ENTRY_DEAD;
            strcpy(idx[i]->reason, "request id repeated in the batch with other content");
        }
        idx[i] = idx[i - 1];    /* compare later repeats with the one booked */
    }
    free(idx);
}

/* Prices every entry; returns how many missed a rate or meter. */
static size_t
price_all(sidecar_t *s, entry_t *es, size_t n, book_item_t *items)
{
    size_t k = 0, misses = 0, i;

    for (i = 0; i < n; i++) {
        if (es[i].state != ENTRY_BOOK) {
            continue;
        }
        items[k].ev = &es[i].ev;
        items[k].kv = es[i].kv;
        items[k].npairs = es[i].npairs;
        misses += (size_t) rates_price_event(s->rates, &es[i].ev, s->cfg.service_charge_ppm,
                                             s->cfg.service_charge_basis, &items[k].price);
        k++;
    }
    return misses;
}

static void
make_dead(book_dead_t *d, const entry_t *e)
{
    d->stream_id = e->ev.stream_id;
    d->kv = e->kv;
    d->npairs = e->npairs;
    strcpy(d->reason, e->reason);
}

/* Waits for Postgres; -1 when a stop request came first. */
static int
wait_db(sidecar_t *s)
{
    while (sidecar_db_ready(s) != 0) {
        if (loop_stop) {
            return -1;
        }
        backoff_wait(&s->db_backoff);
        if (loop_stop) {
            return -1;
        }
    }
    return 0;
}

static void
add_result(book_result_t *sum, const book_result_t *r)
{
    sum->booked += r->booked;
    sum->duplicate += r->duplicate;
    sum->conflict += r->conflict;
    sum->dead += r->dead;
    sum->poison += r->poison;
}

/*
 * Postgres refused the batch as data (a constraint, a value it cannot
 * take). Book one entry per transaction so only the entry at fault is
 * dead-lettered, with Postgres's message as the reason.
 */
static int
book_one_by_one(sidecar_t *s, book_item_t *items, size_t nitems, book_dead_t *dead,
    size_t ndead, book_result_t *sum)
{
    book_result_t r;
    book_dead_t   d;
    char          why[200];
    size_t        i;
    int           rc;

    for (i = 0; i < ndead + nitems; i++) {
        for (;;) {
            if (wait_db(s) != 0) {
                return -1;
            }
            rc = i < ndead
                 ? book_batch(s->db, s->cfg.stream, NULL, 0, &dead[i], 1, &r, why, sizeof(why))
                 : book_batch(s->db, s->cfg.stream, &items[i - ndead], 1, NULL, 0, &r, why,
                              sizeof(why));
            if (rc == BOOK_REJECTED && i >= ndead) {
                const book_item_t *it = &items[i - ndead];

                d.stream_id = it->ev->stream_id;
                d.kv = it->kv;
                d.npairs = it->npairs;
                snprintf(d.reason, sizeof(d.reason), "postgres refused the event: %s", why);
                rc = book_batch(s->db, s->cfg.stream, NULL, 0, &d, 1, &r, why, sizeof(why));
            }
            if (rc == BOOK_OK) {
                add_result(sum, &r);
                break;
            }
            if (rc == BOOK_REJECTED) {
                /* not even storable as a dead letter: leave it in the stream */
                slog(SLOG_ERROR, "stream entry %.*s cannot be stored, not even as a dead"
                     " letter; it stays in the stream: %s",
                     (int) (i < ndead ? dead[i].stream_id.n : items[i - ndead].ev->stream_id.n),
                     i < ndead ? dead[i].stream_id.p : items[i - ndead].ev->stream_id.p, why);
                break;
            }
            sidecar_db_failed(s);
            backoff_wait(&s->db_backoff);
        }
    }
    return 0;
}

/* 1 when the entry's first field is v "3": several events (entry3.h) */
static int
is_v3(const redisReply *entry)
{
    const redisReply *f;

    if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2) {
        return 0;
    }
    f = entry->element[1];
    return f->type == REDIS_REPLY_ARRAY && f->elements >= 2
           && f->element[0]->type == REDIS_REPLY_STRING
           && f->element[1]->type == REDIS_REPLY_STRING
           && f->element[0]->len == 1 && f->element[0]->str[0] == 'v'
           && f->element[1]->len == 1 && f->element[1]->str[0] == LAVA_EVENT_V3_VERSION[0];
}

/* Events an entry gives: one, or those of a version 3 entry (a malformed
 * one is one poison entry). */
static size_t
events_bound(const redisReply *entry)
{
    const redisReply *f;
    sv_t              kv[4];
    char              err[8];
    long              n;
    size_t            i;

    if (!is_v3(entry) || entry->element[1]->elements != 4) {
        return 1;
    }
    f = entry->element[1];
    for (i = 0; i < 4; i++) {
        if (f->element[i]->type != REDIS_REPLY_STRING) {
            return 1;
        }
        kv[i].p = f->element[i]->str;
        kv[i].n = f->element[i]->len;
    }
    n = entry3_split(kv, 2, NULL, err, sizeof(err));
    return n > 1 ? (size_t) n : 1;
}

/*
 * A version 3 entry into its events, es[0..]: each decoded, partitioned and
 * later booked or dead-lettered on its own, under its own stream id
 * ("<entry id>/<k>"); returns how many of es it used. A malformed entry is
 * one poison entry, in the partition partition_of() gives it.
 */
static size_t
decode3(entry_t *es, redisReply *entry, int part, int nparts)
{
    entry_t  *e = &es[0];
    sv_t     *kv, *evs, id;
    long      n;
    size_t    k;

    e->entry = entry;
    e->ev.stream_id.p = entry->element[0]->str;
    e->ev.stream_id.n = entry->element[0]->len;
    if (fields(e, entry) != 0) {
        if (e->state == ENTRY_DEAD && partition_of(entry, nparts) != part) {
            e->state = ENTRY_OTHER;
        }
        return 1;
    }
    n = entry3_split(e->kv, e->npairs, NULL, e->reason, sizeof(e->reason));
    evs = n > 0 ? calloc(2 * (size_t) n, sizeof(sv_t)) : NULL;
    if (n > 0 && evs == NULL) {
        n = -1;
        strcpy(e->reason, "out of memory decoding the entry");
    }
    if (n <= 0) {
        e->state = partition_of(entry, nparts) == part ? ENTRY_DEAD : ENTRY_OTHER;
        if (n == 0) {
            strcpy(e->reason, "version 3 entry without events");
        }
        return 1;
    }

    (void) entry3_split(e->kv, e->npairs, evs, e->reason, sizeof(e->reason));
    kv = e->kv;
    e->kv = NULL;
    id = e->ev.stream_id;
    for (k = 0; k < (size_t) n; k++) {
        const sv_t *payload = &evs[2 * k + 1];

        e = &es[k];
        e->entry = entry;
        e->ev.stream_id.p = e->sid;
        e->ev.stream_id.n = entry3_stream_id(&id, k, e->sid);
        if (partition_of_event(payload->p, payload->n, e->sid, e->ev.stream_id.n, nparts)
            != part)
        {
            e->state = ENTRY_OTHER;
            continue;
        }
        e->kv = calloc(2 * ENTRY3_PAIRS + 1, sizeof(sv_t));
        if (e->kv == NULL) {
            e->state = ENTRY_DEAD;
            strcpy(e->reason, "out of memory decoding the entry");
            continue;
        }
        e->npairs = ENTRY3_PAIRS;
        entry3_event(&evs[2 * k], payload, e->kv);
        if (event_decode(&e->ev, e->kv, e->npairs, e->reason, sizeof(e->reason)) != 0) {
            e->state = ENTRY_DEAD;
            continue;
        }
        e->state = ENTRY_BOOK;
    }
    free(kv);
    free(evs);
    return (size_t) n;
}

/* Decoded entries of one read, before pricing (batch.h). */
struct batch_s {
    redisReply *const  *entries;    /* owned by the caller's reply */
    size_t              n;          /* entries */
    entry_t            *es;
    size_t              nes;        /* events: n, more with version 3 */
};

batch_t *
batch_decode(redisReply *const *entries, size_t n, int part, int nparts)
{
    batch_t *b;
    entry_t *e;
    size_t   i, nes = 0;

    b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return NULL;
    }
    b->entries = entries;
    b->n = n;
    for (i = 0; i < n; i++) {
        nes += events_bound(entries[i]);
    }
    b->es = calloc(nes + 1, sizeof(entry_t));
    if (b->es == NULL) {
        free(b);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        e = &b->es[b->nes];
        if (entries[i]->type != REDIS_REPLY_ARRAY) {
            e->state = ENTRY_SKIP;          /* nil: deleted entry (Redis 6.2) */
            b->nes++;
            continue;
        }
        /* several events: each in its own partition */
        if (is_v3(entries[i])) {
            b->nes += decode3(e, entries[i], part, nparts);
            continue;
        }
        b->nes++;
        /* before decoding, and before the repeats of a request id are
         * looked for: each partition's sidecar sees only its own */
        if (partition_of(entries[i], nparts) != part) {
            e->state = ENTRY_OTHER;
            e->ev.stream_id.p = entries[i]->element[0]->str;
            e->ev.stream_id.n = entries[i]->element[0]->len;
            continue;
        }
        decode(e, entries[i]);
    }
    dedupe(b->es, b->nes);
    return b;
}

void
batch_free(batch_t *b)
{
    size_t i;

    if (b == NULL) {
        return;
    }
    for (i = 0; i < b->nes; i++) {
        free(b->es[i].kv);
    }
    free(b->es);
    free(b);
}

int
batch_process(sidecar_t *s, redisReply *const *entries, size_t n)
{
    batch_t *b;

    if (n == 0) {
        return 0;
    }
    b = batch_decode(entries, n, s->cfg.partition, s->cfg.partitions);
    if (b == NULL) {
        slog(SLOG_ERROR, "processing a batch of %zu entries failed: out of memory", n);
        return -1;
    }
    return batch_book(s, b, NULL, NULL);
}

int
batch_book(sidecar_t *s, batch_t *b, book_meanwhile_pt meanwhile, void *arg)
{
    redisReply   *const *entries = b->entries;
    entry_t       *es = b->es;
    book_item_t   *items = NULL;
    book_dead_t   *dead = NULL;
    book_result_t  res, sum;
    char           why[200];
    /* n: the events; the entries (b->n of them) are what is acknowledged */
    size_t         i, n = b->nes, nitems = 0, ndead = 0, nother = 0, misses;
    int            rc, ret = -1;
    int64_t        t0 = metrics_now_us();   /* booking time, metrics */

    if (b->n == 0) {
        batch_free(b);
        return 0;
    }
    items = calloc(n, sizeof(*items));
    dead = calloc(n, sizeof(*dead));
    if (items == NULL || dead == NULL) {
        slog(SLOG_ERROR, "processing a batch of %zu entries failed: out of memory", n);
        goto done;
    }
    memset(&sum, 0, sizeof(sum));

    /* Price against the table in memory; a miss may be a rate or meter
     * created since the last load, so load again (rarely) and re-price. */
    /* a rate, alias or meter changed in Postgres since the load */
    if (s->rates != NULL && sidecar_db_ready(s) == 0 && rates_changed(s->db, s->rates) > 0) {
        (void) sidecar_rates_reload(s);
    }
    while (s->rates == NULL) {
        /* never price against no table at all: that would book unpriced */
        if (wait_db(s) != 0) {
            goto done;
        }
        if (sidecar_rates_reload(s) != 0) {
            backoff_wait(&s->db_backoff);
            if (loop_stop) {
                goto done;
            }
        }
    }
    misses = price_all(s, es, n, items);
    if (misses > 0 && loop_now_ms() - s->rates_loaded_ms >= BATCH_MISS_RELOAD_MS
        && sidecar_rates_reload(s) == 0)
    {
        misses = price_all(s, es, n, items);
    }
    for (i = 0; i < n; i++) {
        if (es[i].state == ENTRY_BOOK) {
            nitems++;
        } else if (es[i].state == ENTRY_OTHER) {
            nother++;
        } else if (es[i].state == ENTRY_DEAD) {
            make_dead(&dead[ndead++], &es[i]);
            slog(SLOG_WARN, "stream entry %.*s dead-lettered: %s", (int) es[i].ev.stream_id.n,
                 es[i].ev.stream_id.p, es[i].reason);
        }
    }

    for (;;) {
        if (nitems + ndead == 0) {
            break;              /* only other partitions' entries: ack them */
        }
        if (wait_db(s) != 0) {
            goto done;
        }
        /* the first attempt only: what runs meanwhile runs once */
        rc = book_batch_then(s->db, s->cfg.stream, items, nitems, dead, ndead, &res, why,
                             sizeof(why), meanwhile, arg);
        meanwhile = NULL;
        if (rc == BOOK_OK) {
            add_result(&sum, &res);
            break;
        }
        if (rc == BOOK_REJECTED) {
            if (book_one_by_one(s, items, nitems, dead, ndead, &sum) != 0) {
                goto done;
            }
            break;
        }
        sidecar_db_failed(s);
        if (loop_stop) {
            goto done;
        }
        backoff_wait(&s->db_backoff);
    }

    if (sum.booked + sum.duplicate + sum.conflict + sum.dead + sum.poison > 0) {
        slog(SLOG_INFO, "batch of %zu: booked %zu, duplicate %zu, conflict %zu,"
             " dead-lettered %zu", n, sum.booked, sum.duplicate, sum.conflict,
             sum.dead + sum.poison);
    }
    if (nother > 0) {
        slog(SLOG_DEBUG, "batch of %zu: %zu of other partitions acknowledged unread",
             n, nother);
    }
    if (misses > 0) {
        slog(SLOG_WARN, "%zu requests booked unpriced: no rate or meter for them", misses);
    }

    metrics_batch(n, &sum, t0);

    /* Committed: now, and only now, acknowledge. */
    ret = 0;
    if (sidecar_redis_ready(s) != 0
        || stream_ack(s->redis, &s->cfg, entries, b->n) != STREAM_OK)
    {
        slog(SLOG_WARN, "acknowledging %zu booked entries failed; they will be"
             " redelivered and book nothing", b->n);
        sidecar_redis_failed(s);
    }

done:
    batch_free(b);
    free(items);
    free(dead);
    return ret;
}
