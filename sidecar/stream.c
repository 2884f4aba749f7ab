#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rconn.h"
#include "stream.h"

static int
error_is(const redisReply *r, const char *prefix)
{
    size_t n = strlen(prefix);

    return r->type == REDIS_REPLY_ERROR && r->len >= n && memcmp(r->str, prefix, n) == 0;
}

int
stream_group_create(redisContext *c, const config_t *cfg)
{
    redisReply *r;

    /* from 0, not $: entries written before the first sidecar ran are billed too */
    r = redisCommand(c, "XGROUP CREATE %s %s 0 MKSTREAM", cfg->stream, cfg->group);
    if (r != NULL && error_is(r, "BUSYGROUP")) {
        freeReplyObject(r);
        return STREAM_OK;
    }
    if (rconn_failed(c, r, "xgroup create")) {
        return STREAM_FAILED;
    }
    slog(SLOG_INFO, "created consumer group %s on stream %s", cfg->group, cfg->stream);
    freeReplyObject(r);
    return STREAM_OK;
}

void
stream_batch_free(stream_batch_t *b)
{
    if (b->reply != NULL) {
        freeReplyObject(b->reply);
    }
    b->reply = NULL;
    b->entries = NULL;
    b->n = 0;
}

/* An entries array as XREADGROUP and XAUTOCLAIM return it. */
static int
take_entries(stream_batch_t *b, redisReply *arr)
{
    size_t i;

    if (arr->type != REDIS_REPLY_ARRAY) {
        return -1;
    }
    for (i = 0; i < arr->elements; i++) {
        redisReply *e = arr->element[i];

        /* Redis 6.2 puts nil for entries deleted while pending */
        if (e->type == REDIS_REPLY_NIL) {
            continue;
        }
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
            || e->element[0]->type != REDIS_REPLY_STRING
            || e->element[0]->len >= STREAM_ID_MAX
            || (e->element[1]->type != REDIS_REPLY_ARRAY
                && e->element[1]->type != REDIS_REPLY_NIL))
        {
            return -1;
        }
    }
    b->entries = arr->element;
    b->n = arr->elements;
    return 0;
}

static int
failed(redisContext *c, redisReply *r, const char *what)
{
    if (r != NULL && error_is(r, "NOGROUP")) {
        slog(SLOG_WARN, "redis %s: consumer group or stream missing, creating it again", what);
        freeReplyObject(r);
        return STREAM_NOGROUP;
    }
    rconn_failed(c, r, what);
    return STREAM_FAILED;
}

int
stream_read(redisContext *c, const config_t *cfg, const char *id, int block_ms,
    stream_batch_t *b)
{
    redisReply *r;
    char        count[16], block[16];
    const char *argv[12];
    size_t      argc = 0;

    memset(b, 0, sizeof(*b));
    snprintf(count, sizeof(count), "%d", cfg->batch_size);
    snprintf(block, sizeof(block), "%d", block_ms < 1 ? 1 : block_ms);

    argv[argc++] = "XREADGROUP";
    argv[argc++] = "GROUP";
    argv[argc++] = cfg->group;
    argv[argc++] = cfg->consumer;
    argv[argc++] = "COUNT";
    argv[argc++] = count;
    if (strcmp(id, ">") == 0 && block_ms >= 0) {
        argv[argc++] = "BLOCK";
        argv[argc++] = block;
    }
    argv[argc++] = "STREAMS";
    argv[argc++] = cfg->stream;
    argv[argc++] = id;

    r = redisCommandArgv(c, (int) argc, argv, NULL);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        return failed(c, r, "xreadgroup");
    }
    b->reply = r;

    if (r->type == REDIS_REPLY_NIL) {
        return STREAM_OK;                       /* BLOCK timed out */
    }
    /* [[stream, entries]] */
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1
        || r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2
        || take_entries(b, r->element[0]->element[1]) != 0)
    {
        slog(SLOG_ERROR, "redis xreadgroup: unexpected reply shape");
        stream_batch_free(b);
        return STREAM_FAILED;
    }
    return STREAM_OK;
}

int
stream_autoclaim(redisContext *c, const config_t *cfg, char cursor[STREAM_ID_MAX],
    stream_batch_t *b)
{
    redisReply *r;
    char        idle[16], count[16];
    const char *argv[] = { "XAUTOCLAIM", cfg->stream, cfg->group, cfg->consumer, idle,
                           cursor, "COUNT", count };

    memset(b, 0, sizeof(*b));
    snprintf(idle, sizeof(idle), "%d", cfg->claim_idle_ms);
    snprintf(count, sizeof(count), "%d", cfg->batch_size);

    r = redisCommandArgv(c, 8, argv, NULL);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        return failed(c, r, "xautoclaim");
    }
    b->reply = r;

    /* [next cursor, entries, deleted ids (7.0)] */
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[0]->len >= STREAM_ID_MAX
        || take_entries(b, r->element[1]) != 0)
    {
        slog(SLOG_ERROR, "redis xautoclaim: unexpected reply shape");
        stream_batch_free(b);
        return STREAM_FAILED;
    }
    memcpy(cursor, r->element[0]->str, r->element[0]->len);
    cursor[r->element[0]->len] = '\0';
    return STREAM_OK;
}

int
stream_ack(redisContext *c, const config_t *cfg, redisReply *const *entries, size_t n)
{
    redisReply  *r;
    const char **argv;
    size_t      *lens, argc = 0, i;
    int          rc;

    if (n == 0) {
        return STREAM_OK;
    }
    argv = malloc((n + 3) * sizeof(*argv));
    lens = malloc((n + 3) * sizeof(*lens));
    if (argv == NULL || lens == NULL) {
        free(argv);
        free(lens);
        slog(SLOG_ERROR, "redis xack failed: out of memory");
        return STREAM_FAILED;
    }

    argv[argc] = "XACK";        lens[argc++] = 4;
    argv[argc] = cfg->stream;   lens[argc++] = strlen(cfg->stream);
    argv[argc] = cfg->group;    lens[argc++] = strlen(cfg->group);
    for (i = 0; i < n; i++) {
        if (entries[i] == NULL || entries[i]->type != REDIS_REPLY_ARRAY) {
            continue;
        }
        argv[argc] = entries[i]->element[0]->str;
        lens[argc++] = entries[i]->element[0]->len;
    }

    r = redisCommandArgv(c, (int) argc, argv, lens);
    free(argv);
    free(lens);

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        return failed(c, r, "xack");
    }
    rc = STREAM_OK;
    freeReplyObject(r);
    return rc;
}

int
stream_id_parse(const char *s, size_t len, stream_id_t *id)
{
    char                buf[STREAM_ID_MAX], *end;
    const char         *dash;
    unsigned long long  ms, seq;

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    dash = strchr(buf, '-');
    if (dash == NULL || buf[0] < '0' || buf[0] > '9' || dash[1] < '0' || dash[1] > '9') {
        return -1;
    }
    errno = 0;
    ms = strtoull(buf, &end, 10);
    if (errno != 0 || end != dash) {
        return -1;
    }
    seq = strtoull(dash + 1, &end, 10);
    if (errno != 0 || *end != '\0') {
        return -1;
    }
    id->ms = ms;
    id->seq = seq;
    return 0;
}

int
stream_id_cmp(const stream_id_t *a, const stream_id_t *b)
{
    if (a->ms != b->ms) {
        return a->ms < b->ms ? -1 : 1;
    }
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int
reply_id(const redisReply *r, stream_id_t *id)
{
    return r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
           ? stream_id_parse(r->str, r->len, id) : -1;
}

int
stream_deliveries(redisContext *c, const config_t *cfg, redisReply *const *entries,
    size_t n, long long *counts)
{
    redisReply  *r, *first = NULL, *last = NULL;
    char         count[24];
    size_t       i, k;
    const char  *argv[7];
    size_t       lens[7];

    memset(counts, 0, n * sizeof(*counts));
    for (i = 0; i < n; i++) {
        if (entries[i]->type == REDIS_REPLY_ARRAY) {
            if (first == NULL) {
                first = entries[i]->element[0];
            }
            last = entries[i]->element[0];
        }
    }
    if (first == NULL) {
        return STREAM_OK;
    }
    snprintf(count, sizeof(count), "%zu", n);

    argv[0] = "XPENDING";   lens[0] = 8;
    argv[1] = cfg->stream;  lens[1] = strlen(cfg->stream);
    argv[2] = cfg->group;   lens[2] = strlen(cfg->group);
    argv[3] = first->str;   lens[3] = first->len;
    argv[4] = last->str;    lens[4] = last->len;
    argv[5] = count;        lens[5] = strlen(count);
    argv[6] = cfg->consumer; lens[6] = strlen(cfg->consumer);

    r = redisCommandArgv(c, 7, argv, lens);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        return failed(c, r, "xpending");
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        slog(SLOG_ERROR, "redis xpending: unexpected reply shape");
        freeReplyObject(r);
        return STREAM_FAILED;
    }

    /* [[id, consumer, idle ms, deliveries], ...], in id order like the entries */
    k = 0;
    for (i = 0; i < r->elements; i++) {
        redisReply *p = r->element[i];

        if (p->type != REDIS_REPLY_ARRAY || p->elements < 4
            || p->element[0]->type != REDIS_REPLY_STRING
            || p->element[3]->type != REDIS_REPLY_INTEGER)
        {
            continue;
        }
        for (; k < n; k++) {
            redisReply *id;

            if (entries[k]->type != REDIS_REPLY_ARRAY) {
                continue;
            }
            id = entries[k]->element[0];
            if (id->len == p->element[0]->len
                && memcmp(id->str, p->element[0]->str, id->len) == 0)
            {
                counts[k++] = p->element[3]->integer;
                break;
            }
        }
    }
    freeReplyObject(r);
    return STREAM_OK;
}

/* The value after name in a flat [name, value, ...] reply. */
static redisReply *
field(const redisReply *r, const char *name)
{
    size_t i;

    for (i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i];

        if ((k->type == REDIS_REPLY_STRING || k->type == REDIS_REPLY_STATUS)
            && k->len == strlen(name) && memcmp(k->str, name, k->len) == 0)
        {
            return r->element[i + 1];
        }
    }
    return NULL;
}

int
stream_groups_safe(redisContext *c, const config_t *cfg, stream_id_t *safe, size_t *ngroups)
{
    redisReply  *r, *p;
    size_t       i;
    stream_id_t  id, low;
    int          rc = STREAM_FAILED;

    *ngroups = 0;
    r = redisCommand(c, "XINFO GROUPS %s", cfg->stream);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        return failed(c, r, "xinfo groups");
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        goto shape;
    }
    for (i = 0; i < r->elements; i++) {
        redisReply *g = r->element[i], *name, *pending, *last;

        if (g->type != REDIS_REPLY_ARRAY) {
            goto shape;
        }
        name = field(g, "name");
        pending = field(g, "pending");
        last = field(g, "last-delivered-id");
        if (name == NULL || name->type != REDIS_REPLY_STRING || pending == NULL
            || pending->type != REDIS_REPLY_INTEGER || reply_id(last, &low) != 0)
        {
            goto shape;
        }
        if (pending->integer > 0) {
            /* summary form: [count, smallest id, greatest id, consumers] */
            p = redisCommand(c, "XPENDING %s %b", cfg->stream, name->str, name->len);
            if (p == NULL || p->type == REDIS_REPLY_ERROR) {
                freeReplyObject(r);
                return failed(c, p, "xpending");
            }
            if (p->type == REDIS_REPLY_ARRAY && p->elements >= 2
                && p->element[1]->type != REDIS_REPLY_NIL)
            {
                if (reply_id(p->element[1], &id) != 0) {
                    freeReplyObject(p);
                    goto shape;
                }
                if (stream_id_cmp(&id, &low) < 0) {
                    low = id;
                }
            }
            freeReplyObject(p);
        }
        if (*ngroups == 0 || stream_id_cmp(&low, safe) < 0) {
            *safe = low;
        }
        (*ngroups)++;
    }
    rc = STREAM_OK;
    freeReplyObject(r);
    return rc;

shape:
    slog(SLOG_ERROR, "redis xinfo groups: unexpected reply shape");
    freeReplyObject(r);
    return STREAM_FAILED;
}

int
stream_trim(redisContext *c, const config_t *cfg, long long *trimmed)
{
    redisReply         *r;
    stream_id_t         safe, keep;
    size_t              ngroups;
    unsigned long long  now_ms;
    char                minid[STREAM_ID_MAX];
    int                 rc;

    *trimmed = 0;
    rc = stream_groups_safe(c, cfg, &safe, &ngroups);
    if (rc != STREAM_OK) {
        return rc;
    }
    if (ngroups == 0) {
        return STREAM_OK;               /* nobody has read it: keep all */
    }

    /* the retention counts on Redis's clock, which wrote the ids */
    r = redisCommand(c, "TIME");
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        return failed(c, r, "time");
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_STRING)
    {
        slog(SLOG_ERROR, "redis time: unexpected reply shape");
        freeReplyObject(r);
        return STREAM_FAILED;
    }
    now_ms = strtoull(r->element[0]->str, NULL, 10) * 1000
             + strtoull(r->element[1]->str, NULL, 10) / 1000;
    freeReplyObject(r);

    keep.ms = now_ms > (unsigned long long) cfg->trim_retain_ms
              ? now_ms - (unsigned long long) cfg->trim_retain_ms : 0;
    keep.seq = 0;
    if (stream_id_cmp(&keep, &safe) < 0) {
        safe = keep;
    }
    if (safe.ms == 0 && safe.seq == 0) {
        return STREAM_OK;
    }

    /* MINID removes the entries below the id: all delivered and acknowledged */
    snprintf(minid, sizeof(minid), "%llu-%llu", safe.ms, safe.seq);
    r = redisCommand(c, "XTRIM %s MINID %s", cfg->stream, minid);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        return failed(c, r, "xtrim");
    }
    if (r->type == REDIS_REPLY_INTEGER) {
        *trimmed = r->integer;
    }
    freeReplyObject(r);
    return STREAM_OK;
}
