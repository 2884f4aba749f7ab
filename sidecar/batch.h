/*
 * One read of the stream, from entries to acknowledgement:
 * decode -> price -> book (one transaction) -> XACK.
 */
#ifndef SIDECAR_BATCH_H
#define SIDECAR_BATCH_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "book.h"
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

/*
 * batch_process() in two steps, so that the next read can be decoded while
 * Postgres books the one before (consume.c): batch_decode() decodes the
 * entries of partition part of nparts, marking the others to be acknowledged
 * unread (partition.h; NULL: out of memory), which stay owned by the caller's reply
 * until batch_book() returns; batch_book() prices, books and acks them as
 * batch_process() does, calls meanwhile(arg) (if not NULL) once while
 * Postgres works on the booking, and frees the batch.
 */
typedef struct batch_s batch_t;

batch_t *batch_decode(redisReply *const *entries, size_t n, int part, int nparts);
int batch_book(sidecar_t *s, batch_t *b, book_meanwhile_pt meanwhile, void *arg);
void batch_free(batch_t *b);

#endif
