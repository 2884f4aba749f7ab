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
    if (strcmp(id, ">") == 0) {
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
