/*
 * In-flight records: what the usage event of a forwarded request needs when
 * the worker that serves it dies before its event has left the worker
 * (docs/security.md, class 12). A fixed table of fixed-size slots in memory
 * the caller provides (the module: the lava_inflight_zone shared memory);
 * the caller serializes the table operations (the zone's mutex). Pure C, no
 * I/O, no nginx types.
 *
 * Life of a record:
 *   claim     the worker that will forward the request takes a free slot
 *             (owner: its pid and process start time) and fills it;
 *   progress  the owner updates the counters in place as the answer streams
 *             (no lock: nobody else reads a record while its owner lives);
 *   done      at the log phase the owner stores the final usage of the event
 *             it queues (state DONE);
 *   release   once the event has left the worker for good (Redis
 *             acknowledged its XADD, or the spool wrote it);
 *   take      a worker that finds the owner dead makes itself the owner and
 *             books the record as outcome worker_lost (lava_inflight_usage),
 *             then releases it the same way.
 *
 * A reference (index, generation) names one use of a slot: a stale one (the
 * slot released, or claimed again since) finds nothing.
 */
#ifndef LAVA_INFLIGHT_H
#define LAVA_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "lava_event_fields.h"
#include "lava_id.h"
#include "lava_meter.h"
#include "lava_usage.h"

/* bytes kept of the texts of a record, NUL included; longer values are cut
 * (endpoint, at a UTF-8 boundary) or left out (metadata) */
#define LAVA_INFLIGHT_ID_MAX        (LAVA_ID_MAX + 1)
#define LAVA_INFLIGHT_HOST_MAX      (LAVA_EVENT_MAX_host + 1)
#define LAVA_INFLIGHT_ENDPOINT_MAX  513
#define LAVA_INFLIGHT_METHOD_MAX    (LAVA_EVENT_MAX_method + 1)
#define LAVA_INFLIGHT_MODEL_MAX     LAVA_USAGE_MODEL_MAX
#define LAVA_INFLIGHT_METADATA_MAX  513

#define LAVA_INFLIGHT_NIL           UINT32_MAX

typedef enum {
    LAVA_INFLIGHT_FREE = 0,
    LAVA_INFLIGHT_LIVE,         /* claimed: the request is being served */
    LAVA_INFLIGHT_DONE          /* its event is built and queued: the final
                                   usage is in the record */
} lava_inflight_state_e;

/* payer and key_source as in the event (lib/lava_event_fields.h) */
typedef enum {
    LAVA_INFLIGHT_PAYER_NONE = 0,
    LAVA_INFLIGHT_PAYER_CUSTOMER,
    LAVA_INFLIGHT_PAYER_MERCHANT
} lava_inflight_payer_e;

typedef enum {
    LAVA_INFLIGHT_KEY_NONE = 0,
    LAVA_INFLIGHT_KEY_MANAGED,
    LAVA_INFLIGHT_KEY_BYOK
} lava_inflight_key_e;

/* a process: its pid and its start time (clock ticks since boot, from
 * /proc/<pid>/stat; 0 unknown), so that a reused pid is another owner */
typedef struct {
    int64_t   pid;
    uint64_t  start;
} lava_inflight_owner_t;

typedef struct {
    uint32_t  idx;
    uint32_t  gen;              /* 0: no record */
} lava_inflight_ref_t;


typedef struct {
    /* the table's (under the caller's lock) */
    uint32_t               state;       /* lava_inflight_state_e */
    uint32_t               gen;
    uint32_t               next;        /* free list */
    uint32_t               taken;       /* times taken from a dead owner */
    lava_inflight_owner_t  owner;

    /* set at claim */
    char      request_id[LAVA_REQID_LEN + 1];
    int64_t   ts_ms;                    /* wall clock at the start, ms */
    char      merchant_id[LAVA_INFLIGHT_ID_MAX];
    char      customer_id[LAVA_INFLIGHT_ID_MAX];
    char      meter[LAVA_INFLIGHT_ID_MAX];
    char      spend_key_id[LAVA_INFLIGHT_ID_MAX];   /* "" none */
    char      provider[LAVA_INFLIGHT_ID_MAX];
    char      host[LAVA_INFLIGHT_HOST_MAX];
    char      endpoint[LAVA_INFLIGHT_ENDPOINT_MAX];
    char      method[LAVA_INFLIGHT_METHOD_MAX];
    char      model[LAVA_INFLIGHT_MODEL_MAX];      /* the final one once
                                                      DONE */
    char      metadata[LAVA_INFLIGHT_METADATA_MAX];  /* "" none, or too
                                                        long to keep */
    uint8_t   payer;                    /* lava_inflight_payer_e */
    uint8_t   key_source;               /* lava_inflight_key_e */
    uint8_t   stream;                   /* the body asked for a stream */
    uint8_t   sse;                      /* the answer is an event stream */
    int32_t   ep;                       /* lava_endpoint_e */
    int32_t   fmt;                      /* lava_usage_format_e */

    /* what the request said (lava_request_t), for the estimate */
    int32_t   rq_parsed;
    int32_t   rq_model_default;
    int64_t   rq_n;
    int64_t   rq_characters;
    int64_t   rq_text_bytes;
    int64_t   rq_max_output;            /* tokens, 0 not stated */
    int64_t   request_bytes;

    /* progress: written by the owner in place as the answer streams */
    int64_t   updated_ms;               /* wall clock of the last update */
    int64_t   status;                   /* provider's status, 0 none yet */
    int64_t   ttfb_ms;                  /* -1 none */
    int64_t   content_bytes;            /* tap: generated text bytes */
    int64_t   bytes_out;                /* body bytes relayed */
    int64_t   character_cost;           /* ElevenLabs header, -1 */
    uint32_t  tap_flags;                /* LAVA_TAP_F_* */
    int32_t   usage_seen;
    int32_t   usage_final;
    int32_t   error_event;
    lava_usage_buckets_t  usage;        /* as seen so far; once DONE, the
                                           event's */

    /* done: what the queued event says */
    int32_t   done_source;              /* lava_source_e */
    uint32_t  done_meter_flags;         /* LAVA_METER_F_* */
    int64_t   done_status;
    int64_t   done_duration_ms;
} lava_inflight_rec_t;


typedef struct {
    uint32_t             nslots;
    uint32_t             free;          /* head of the free list */
    uint32_t             used;
    uint32_t             hwm;           /* slots below it were ever used */
    uint32_t             gen;           /* last generation handed out */
    uint32_t             pad;
    uint64_t             claimed;       /* since the table was made */
    uint64_t             full;          /* claims refused: no free slot */
    uint64_t             taken;         /* records taken from dead owners */
    lava_inflight_rec_t  slot[];
} lava_inflight_table_t;


/* bytes of a table of n slots */
size_t lava_inflight_size(uint32_t n);

/* slots a table of at most `bytes` bytes holds */
uint32_t lava_inflight_slots(size_t bytes);

/* Makes a table of n slots at mem (lava_inflight_size(n) bytes, aligned for
 * int64_t). NULL when n is 0. */
lava_inflight_table_t *lava_inflight_init(void *mem, uint32_t n);

/*
 * Claims a free slot for owner: the record is zeroed but for its table
 * fields, ttfb_ms and character_cost (-1), state LIVE. NULL when the table
 * is full (counted in t->full).
 */
lava_inflight_rec_t *lava_inflight_claim(lava_inflight_table_t *t,
    const lava_inflight_owner_t *owner, lava_inflight_ref_t *ref);

/* The record of ref, NULL when the reference is stale or empty. */
lava_inflight_rec_t *lava_inflight_get(lava_inflight_table_t *t,
    lava_inflight_ref_t ref);

/* Frees the record of ref. 1 freed, 0 stale or empty reference. */
int lava_inflight_release(lava_inflight_table_t *t, lava_inflight_ref_t ref);

/*
 * The distinct owners of used records other than self, up to max of them,
 * into out. Returns how many.
 */
size_t lava_inflight_owners(const lava_inflight_table_t *t,
    const lava_inflight_owner_t *self, lava_inflight_owner_t *out,
    size_t max);

/*
 * Makes self the owner of up to max used records of dead (an owner that no
 * longer exists), their references into refs. Returns how many; fewer than
 * max: none of dead's is left.
 */
size_t lava_inflight_take(lava_inflight_table_t *t,
    const lava_inflight_owner_t *dead, const lava_inflight_owner_t *self,
    lava_inflight_ref_t *refs, size_t max);

/*
 * The usage to book for a record taken from a dead owner, flagged
 * LAVA_METER_F_WORKER_LOST in *meter_flags:
 *   DONE  the usage of the event the owner had queued, as it was;
 *   LIVE  the usage seen so far completed by lava_meter_finish() as an
 *         answer the gateway stopped reading (the abort rule of
 *         docs/providers.md: the prompt in full, every output token seen,
 *         estimates capped by what the request could cost); a request with
 *         no provider status yet counts as sent (the provider may have it).
 * *status: the event's status (the provider's, else 500). u is
 * overwritten.
 */
lava_source_e lava_inflight_usage(const lava_inflight_rec_t *r,
    lava_usage_t *u, unsigned *tap_flags, unsigned *meter_flags,
    int64_t *status);

/* Copies s[0..n) into dst (size bytes with the NUL), cut at a UTF-8
 * character boundary when longer. Returns the bytes copied. */
size_t lava_inflight_copy(char *dst, size_t size, const char *s, size_t n);

/*
 * Reads the state letter and the start time (field 22) of a
 * /proc/<pid>/stat text. 0 read, -1 not such a text.
 */
int lava_inflight_proc_stat(const char *text, size_t n, char *state,
    uint64_t *start);

#endif
