/*
 * The consumer side of the usage stream (hiredis, blocking). Entries are
 * acknowledged only after the transaction that booked them committed; an
 * entry read but never acked stays pending and is read again (by this
 * consumer after a restart, or by XAUTOCLAIM in any sidecar of the group).
 */
#ifndef SIDECAR_STREAM_H
#define SIDECAR_STREAM_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "config.h"

#define STREAM_ID_MAX  48    /* "<ms>-<seq>", two uint64 */

/* Entries of one read; entries point into reply, which owns them. */
typedef struct {
    redisReply   *reply;
    redisReply  **entries;   /* each: [id, [field, value, ...] or nil] */
    size_t        n;
} stream_batch_t;

enum {
    STREAM_OK = 0,
    STREAM_FAILED = -1,      /* connection lost or error reply (logged) */
    STREAM_NOGROUP = -2      /* the stream or group is gone: create it again */
};

/* XGROUP CREATE <stream> <group> 0 MKSTREAM; an existing group is fine. */
int stream_group_create(redisContext *c, const config_t *cfg);

/* XREADGROUP ... COUNT batch_size [BLOCK block_ms] STREAMS <stream> <id>.
 * id ">" reads new entries (and blocks); another id reads this consumer's
 * own pending entries after it. */
int stream_read(redisContext *c, const config_t *cfg, const char *id, int block_ms,
    stream_batch_t *b);

/* XAUTOCLAIM of entries idle longer than claim_idle_ms, from *cursor on;
 * *cursor is updated ("0-0": the scan went round). */
int stream_autoclaim(redisContext *c, const config_t *cfg, char cursor[STREAM_ID_MAX],
    stream_batch_t *b);

int stream_ack(redisContext *c, const config_t *cfg, redisReply *const *entries, size_t n);

void stream_batch_free(stream_batch_t *b);

#endif
