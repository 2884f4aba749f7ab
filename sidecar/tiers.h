/*
 * Graduated meter tiers count per customer: the fee of a request depends on
 * how many units the customer had used on the meter before it. That count
 * lives in Postgres (meter_usage), shared by every sidecar. Inside the
 * booking transaction, before the events are written, tiers_apply() locks
 * the counters of the (meter, customer) pairs of the batch in key order (so
 * concurrent sidecars never deadlock), reads them and which requests are
 * booked already, and prices each metered request's fee from the count
 * before it, in (start time, request id) order. book_batch() then moves the
 * counters on for the events it inserts, in the same transaction.
 */
#ifndef SIDECAR_TIERS_H
#define SIDECAR_TIERS_H

#include <stddef.h>

#include <libpq-fe.h>

#include "book.h"

/* Inside an open transaction. BOOK_OK, BOOK_RETRY or BOOK_REJECTED (why set). */
int tiers_apply(PGconn *conn, book_item_t *items, size_t n, char *why, size_t whysize);

/*
 * The same for requests booked unpriced and re-priced now (reprice.h): all
 * of them are in events, none is skipped as booked (the caller holds their
 * reprice_queue rows, so none is settled meanwhile).
 */
int tiers_apply_reprice(PGconn *conn, book_item_t *items, size_t n, char *why,
    size_t whysize);

#endif
