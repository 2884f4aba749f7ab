/*
 * Dead letters the sidecar decides on its own, and their replay
 * (docs/sidecar.md, sql/schema/03_dead_letters.sql, sql/functions/dead_letters.sql).
 *
 * - An entry delivered more than max_deliveries times without being
 *   acknowledged made the sidecar stop (crash, kill, timeout) each time it
 *   was processed. It is dead-lettered unread, with the count as the reason,
 *   and acknowledged, so that it no longer holds up the stream. (Entries that
 *   cannot be decoded or booked are dead-lettered at their first delivery by
 *   batch.c and book_batch(): another delivery cannot change that verdict.)
 * - Replay: dead letters marked in psql with replay_dead_letter() or
 *   replay_dead_letters() are written to the stream again (XADD) and marked
 *   replayed in the same transaction that selected them. A replayed entry is
 *   booked like any other; if it fails again it becomes a new dead letter.
 */
#ifndef SIDECAR_DEADLETTER_H
#define SIDECAR_DEADLETTER_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "sidecar.h"

/* dead letters replayed per transaction */
#define DEADLETTER_REPLAY_BATCH  100

/*
 * Dead-letters the entries (with their delivery counts) and acknowledges
 * them. 0 done; -1 a stop request came first (nothing acknowledged).
 */
int deadletter_overdelivered(sidecar_t *s, redisReply *const *entries, size_t n,
    const long long *counts);

/*
 * Writes the dead letters marked for replay to the stream. Returns how many
 * were replayed, or -1 when Postgres or Redis failed (logged; retried on the
 * next tick).
 */
int deadletter_replay(sidecar_t *s);

#endif
