/*
 * The rows of a batch in COPY text format (docs/ledger.md, "Booking"):
 * book.c sends them into the session's staging tables (book_stage(),
 * sql/functions/booking.sql) with COPY, and book_batch() books from there
 * set-based. The events columns are expanded from lib/lava_event_fields.h
 * plus the stream id, the content hash and the price columns; the transfer
 * rows are the plan of price_transfers().
 */
#ifndef SIDECAR_BOOKCOPY_H
#define SIDECAR_BOOKCOPY_H

#include <stddef.h>

#include "book.h"

/* A growing buffer of COPY text; oom is sticky (append nothing more). */
typedef struct {
    char    *p;
    size_t   n;
    size_t   cap;
    int      oom;
} copybuf_t;

/* The COPY statements the rows below are for. */
extern const char bookcopy_events_sql[];
extern const char bookcopy_transfers_sql[];

void bookcopy_free(copybuf_t *b);

/* One events row of a priced item. 0, or -1 (out of memory). */
int bookcopy_event(copybuf_t *b, const book_item_t *it);

/*
 * The transfer rows of a priced item, numbered on from *seq (the order
 * transfer ids follow). 0, or -1 (out of memory).
 */
int bookcopy_transfers(copybuf_t *b, const book_item_t *it, long *seq);

#endif
