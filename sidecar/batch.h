/*
 * One read of the stream, from entries to acknowledgement:
 * decode -> price -> book (one transaction) -> XACK.
 */
#ifndef SIDECAR_BATCH_H
#define SIDECAR_BATCH_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "sidecar.h"

/* A rate or meter missing from memory triggers a reload, at most this often. */
#define BATCH_MISS_RELOAD_MS  1000

/*
 * Books the entries (retrying while Postgres is away) and acks them.
 * Returns 0 when booked (acked or not: an unacked booked entry is
 * redelivered and books nothing), -1 when a stop request came before the
 * batch could be booked: then nothing is acked.
 */
int batch_process(sidecar_t *s, redisReply *const *entries, size_t n);

#endif
