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
 * id ">" reads new entries (and blocks, at least 1 ms; block_ms < 0: not
 * at all); another id reads this consumer's own pending entries after it. */
int stream_read(redisContext *c, const config_t *cfg, const char *id, int block_ms,
    stream_batch_t *b);

/* XAUTOCLAIM of entries idle longer than claim_idle_ms, from *cursor on;
 * *cursor is updated ("0-0": the scan went round). */
int stream_autoclaim(redisContext *c, const config_t *cfg, char cursor[STREAM_ID_MAX],
    stream_batch_t *b);

int stream_ack(redisContext *c, const config_t *cfg, redisReply *const *entries, size_t n);

/*
 * Delivery counts of entries pending in this consumer (XPENDING over the
 * entries' id range): counts[i] for entries[i], 0 when it is not pending
 * here any more (acknowledged meanwhile, or claimed by another sidecar).
 * The entries are in id order, as XREADGROUP and XAUTOCLAIM return them.
 */
int stream_deliveries(redisContext *c, const config_t *cfg, redisReply *const *entries,
    size_t n, long long *counts);

/* A stream entry id "<ms>-<seq>". */
typedef struct {
    unsigned long long  ms, seq;
} stream_id_t;

int stream_id_parse(const char *s, size_t len, stream_id_t *id);
int stream_id_cmp(const stream_id_t *a, const stream_id_t *b);

/*
 * Where every consumer group of the stream stands: *safe is the id below
 * which every entry was delivered and acknowledged by every group (the
 * oldest pending entry, else the last delivered one, over all groups).
 * STREAM_OK with *ngroups 0 when the stream has no group.
 */
int stream_groups_safe(redisContext *c, const config_t *cfg, stream_id_t *safe,
    size_t *ngroups);

/*
 * XTRIM <stream> MINID below both the safe id of every group and the
 * retention (trim_retain_ms before Redis's clock): never past a pending or
 * undelivered entry. *trimmed: entries removed.
 */
int stream_trim(redisContext *c, const config_t *cfg, long long *trimmed);

void stream_batch_free(stream_batch_t *b);

#endif
