/*
 * Re-pricing of requests booked unpriced (docs/pricing.md,
 * sql/functions/repricing.sql).
 *
 * In psql, reprice_unpriced() marks requests in reprice_queue. Here they
 * are priced with the code that prices a request when it is booked
 * (rates_price_event(), price.c; graduated fees from the meter counts read
 * under lock, tiers.c) against a rate table at least as new as the marks,
 * and settled in one transaction per batch:
 *
 *   BEGIN
 *   reprice_take(n)      advisory lock (one sidecar at a time, so meter
 *                        counts move on in start order), the next marked
 *                        requests in start order, queue rows FOR UPDATE
 *                        SKIP LOCKED
 *   pricing_state        still the version of the table in memory, else
 *                        ROLLBACK, load the rates again, start over
 *   meter_usage_lock()   the customers' counts on the meters (tiers.c)
 *   reprice_book()       repricings rows, transfers (note 'repriced'), the
 *                        counts moved on, each result on its queue row
 *   COMMIT
 *
 * A request is settled at most once: the repricings row (primary key) is
 * inserted ON CONFLICT DO NOTHING and transfers are booked only for rows
 * inserted. The request's own service charge rate and basis (as booked)
 * apply, not this sidecar's configuration. A batch Postgres refuses is
 * tried again one request per transaction; a request refused alone is
 * recorded 'unpriced' with Postgres's message, and can be marked again.
 */
#ifndef SIDECAR_REPRICE_H
#define SIDECAR_REPRICE_H

#include "sidecar.h"

/* requests re-priced per transaction */
#define REPRICE_BATCH        100
/* batches per call at most, so that the stream is not kept waiting */
#define REPRICE_MAX_BATCHES  10

/*
 * Prices and settles the requests marked for re-pricing. Returns how many
 * were priced (settled, zero or still unpriced), or -1 when Postgres failed
 * (logged; tried again on the next call).
 */
int reprice_run(sidecar_t *s);

#endif
