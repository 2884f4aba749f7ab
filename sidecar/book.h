/*
 * Booking of a batch in Postgres: one transaction that COPYs the priced
 * events and their planned transfers into the session's staging tables
 * (bookcopy.h), calls book_batch() (sql/functions/booking.sql) with the dead
 * letters, then COMMIT. Events insert ON CONFLICT (request_id) DO NOTHING
 * and transfers are written only for the events inserted, so a redelivered
 * request id books nothing.
 */
#ifndef SIDECAR_BOOK_H
#define SIDECAR_BOOK_H

#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "event.h"
#include "price.h"

/* A decoded, priced entry. */
typedef struct {
    const event_t  *ev;
    price_t         price;
    const sv_t     *kv;          /* the raw entry, for a dead letter */
    size_t          npairs;
} book_item_t;

/* An entry that goes to dead_letters. */
typedef struct {
    sv_t            stream_id;
    const sv_t     *kv;          /* may be NULL (entry without fields) */
    size_t          npairs;
    char            reason[256];
} book_dead_t;

typedef struct {
    size_t  booked;
    size_t  duplicate;
    size_t  conflict;
    size_t  dead;                /* refused by book_batch: unknown merchant or account */
    size_t  poison;              /* dead letters sent in */
} book_result_t;

enum {
    BOOK_OK = 0,
    BOOK_RETRY = -1,             /* connection lost or transient error: back off, retry */
    BOOK_REJECTED = -2           /* Postgres refused the data itself (message in why) */
};

/* items[].price of graduated meters is completed inside the transaction
 * (tiers.h), so the items are not const. */
int book_batch(PGconn *conn, const char *stream, book_item_t *items, size_t n,
    const book_dead_t *dead, size_t ndead, book_result_t *res, char *why, size_t whysize);

/*
 * book_batch(), and meanwhile(arg) once while Postgres runs book_batch()
 * and COMMIT: both are sent at once in libpq's pipeline mode, and the
 * results read after meanwhile returns. meanwhile must not use conn.
 */
typedef void (*book_meanwhile_pt)(void *arg);

int book_batch_then(PGconn *conn, const char *stream, book_item_t *items, size_t n,
    const book_dead_t *dead, size_t ndead, book_result_t *res, char *why, size_t whysize,
    book_meanwhile_pt meanwhile, void *arg);

/*
 * Appends the transfers a priced request books (price_transfers(): payer,
 * byok) to arr as {request_id, kind, debit, credit, amount_nusd} with
 * account keys; re-pricing books the same plan. 0 or -1 (out of memory).
 */
int book_transfers_json(json_t *arr, const book_item_t *it);

/* The ledger's name of an account a transfer of ev moves money on
 * (wallet:<customer>, merchant:<merchant>, provider:<provider>, platform). */
void book_account_key(char *buf, size_t size, account_kind_e k, const event_t *ev);

#endif
