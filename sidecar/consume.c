#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "consume.h"
#include "deadletter.h"
#include "log.h"
#include "metrics.h"
#include "partition.h"
#include "stream.h"

/* After Redis failed, the claim job runs again this much later. */
#define CONSUME_CLAIM_RETRY_MS  1000

static struct {
    int   reading_pending;                 /* own pending entries not all read */
    char  pending_cursor[STREAM_ID_MAX];   /* the last own pending entry read */
    char  claim_cursor[STREAM_ID_MAX];     /* XAUTOCLAIM's; "0-0": went round */
} cons;

/*
 * The next read, made and decoded while Postgres booked the batch before
 * (batch_book()'s meanwhile): its entries are delivered to this consumer
 * and wait, pending, for their own booking; if the sidecar stops or Redis
 * reconnects first, they are read again from the pending list.
 */
static struct {
    stream_batch_t  sb;          /* owns the reply */
    batch_t        *b;           /* NULL: not decoded yet */
} ahead;

static void
ahead_drop(void)
{
    batch_free(ahead.b);
    stream_batch_free(&ahead.sb);
    memset(&ahead, 0, sizeof(ahead));
}

/* book_meanwhile_pt: Postgres books the current batch meanwhile */
static void
read_ahead(void *arg)
{
    sidecar_t *s = arg;
    int        rc;

    if (ahead.sb.reply != NULL || cons.reading_pending || s->redis == NULL) {
        return;
    }
    rc = stream_read(s->redis, &s->cfg, ">", -1, &ahead.sb);     /* no waiting */
    if (rc != STREAM_OK) {
        if (rc == STREAM_NOGROUP) {
            s->group_ready = 0;
        }
        sidecar_redis_failed(s);
        memset(&ahead, 0, sizeof(ahead));
        /* what the failed read delivered is pending: read it from there */
        cons.reading_pending = 1;
        strcpy(cons.pending_cursor, "0");
        return;
    }
    if (ahead.sb.n == 0) {
        ahead_drop();
        return;
    }
    ahead.b = batch_decode(ahead.sb.entries, ahead.sb.n,     /* NULL: later */
                           s->cfg.partition, s->cfg.partitions);
    slog(SLOG_DEBUG, "read %zu entries ahead while postgres books", ahead.sb.n);
}

void
consume_init(void)
{
    cons.reading_pending = 1;
    strcpy(cons.pending_cursor, "0");
    strcpy(cons.claim_cursor, "0-0");
}

int
consume_connect(sidecar_t *s)
{
    int connected = s->redis != NULL;

    if (sidecar_redis_ready(s) != 0) {
        return -1;
    }
    if (!connected) {
        /* a new connection: first what was delivered to us and not acked
         * (a read made ahead among it) */
        ahead_drop();
        cons.reading_pending = 1;
        strcpy(cons.pending_cursor, "0");
    }
    return 0;
}

/*
 * Entries delivered before (own pending ones, claimed ones): those delivered
 * more than max_deliveries times are dead-lettered unread, the others booked
 * one per transaction. 0 done (or Redis failed: the entries stay pending and
 * come again), -1 a stop request came first.
 */
static int
process_redelivered(sidecar_t *s, stream_batch_t *b)
{
    long long    *counts;
    redisReply  **over;
    size_t        i, nover = 0;
    int           rc = 0;

    if (b->n == 0) {
        return 0;
    }
    counts = calloc(b->n, sizeof(*counts));
    over = calloc(b->n, sizeof(*over));
    if (counts == NULL || over == NULL
        || stream_deliveries(s->redis, &s->cfg, b->entries, b->n, counts) != STREAM_OK)
    {
        if (counts == NULL || over == NULL) {
            slog(SLOG_ERROR, "processing %zu redelivered entries failed: out of memory", b->n);
        }
        free(counts);
        free(over);
        sidecar_redis_failed(s);
        return 0;
    }

    for (i = 0; i < b->n; i++) {
        /* another partition's entry is acknowledged unread (batch.c), never
         * dead-lettered here: its own partition's sidecar books it */
        if (counts[i] > s->cfg.max_deliveries
            && partition_of(b->entries[i], s->cfg.partitions) == s->cfg.partition)
        {
            counts[nover] = counts[i];
            over[nover++] = b->entries[i];
        }
    }
    if (nover > 0) {
        rc = deadletter_overdelivered(s, over, nover, counts);
    }

    for (i = 0; rc == 0 && i < b->n; i++) {
        size_t k;
        int    skip = 0;

        for (k = 0; k < nover; k++) {
            if (over[k] == b->entries[i]) {
                skip = 1;
                break;
            }
        }
        if (!skip) {
            rc = batch_process(s, &b->entries[i], 1);
        }
    }
    free(counts);
    free(over);
    return rc;
}

/* The pending read goes on after the last entry it returned; none: done. */
static void
advance_pending(const stream_batch_t *b)
{
    const redisReply *last;

    if (b->n == 0) {
        cons.reading_pending = 0;
        return;
    }
    last = b->entries[b->n - 1];
    if (last->type == REDIS_REPLY_ARRAY) {
        memcpy(cons.pending_cursor, last->element[0]->str, last->element[0]->len);
        cons.pending_cursor[last->element[0]->len] = '\0';
    }
}

/* New entries: decoded (unless read ahead and decoded already), booked
 * while the next read is made ahead. */
static int
process_new(sidecar_t *s, stream_batch_t *sb, batch_t *b)
{
    if (sb->n == 0) {
        batch_free(b);
        return 0;
    }
    if (b == NULL) {
        b = batch_decode(sb->entries, sb->n, s->cfg.partition, s->cfg.partitions);
        if (b == NULL) {
            slog(SLOG_ERROR, "processing a batch of %zu entries failed: out of memory",
                 sb->n);
            return -1;
        }
    }
    /* a full batch: more are likely waiting, read them ahead; a smaller
     * one drained the stream, and its acknowledgement need not wait */
    return batch_book(s, b, sb->n >= (size_t) s->cfg.batch_size ? read_ahead : NULL, s);
}

int
consume_read(sidecar_t *s, int wait_ms)
{
    stream_batch_t  b;
    batch_t        *decoded;
    int             rc;

    if (ahead.sb.reply != NULL && !cons.reading_pending) {
        b = ahead.sb;
        decoded = ahead.b;
        memset(&ahead, 0, sizeof(ahead));
        rc = process_new(s, &b, decoded);
        stream_batch_free(&b);
        return rc != 0 ? -1 : 0;
    }
    ahead_drop();

    rc = stream_read(s->redis, &s->cfg, cons.reading_pending ? cons.pending_cursor : ">",
                     wait_ms, &b);
    if (rc != STREAM_OK) {
        if (rc == STREAM_NOGROUP) {
            s->group_ready = 0;
        }
        sidecar_redis_failed(s);
        if (s->redis != NULL) {
            backoff_wait(&s->redis_backoff);    /* an error reply: do not spin */
        }
        return 0;
    }

    metrics_read(b.n);
    if (cons.reading_pending) {
        advance_pending(&b);
    }
    rc = cons.reading_pending ? process_redelivered(s, &b) : process_new(s, &b, NULL);
    stream_batch_free(&b);
    return rc != 0 ? -1 : 0;
}

/* entries of consumers that died with them pending (this one included) */
int
consume_claim(sidecar_t *s, job_t *job)
{
    stream_batch_t  b;
    int             rc;

    rc = stream_autoclaim(s->redis, &s->cfg, cons.claim_cursor, &b);
    if (rc != STREAM_OK) {
        if (rc == STREAM_NOGROUP) {
            s->group_ready = 0;
        }
        sidecar_redis_failed(s);
        job->next_ms = job->now_ms + CONSUME_CLAIM_RETRY_MS;
        return JOB_AGAIN;
    }

    metrics_read(b.n);
    if (b.n > 0) {
        slog(SLOG_INFO, "claimed %zu entries idle for %d ms", b.n, s->cfg.claim_idle_ms);
    }
    rc = process_redelivered(s, &b);
    stream_batch_free(&b);
    if (rc != 0) {
        return JOB_STOP;                        /* stopping, nothing acked */
    }
    /* more may be waiting: claim again at once; else every claim_idle_ms / 2 */
    if (strcmp(cons.claim_cursor, "0-0") != 0) {
        job->next_ms = job->now_ms;
    }
    return JOB_OK;
}
