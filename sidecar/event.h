/*
 * Decoding of one stream entry (docs/events.md, version 1) into an event.
 * Validation is strict: a required field missing, an integer that is not
 * plain base-10 digits or does not fit, an unknown enum value, a duplicated
 * field, a NUL byte or invalid UTF-8 in any value (Postgres would refuse the
 * whole batch) all make the entry poison. Unknown fields are ignored (later
 * minor additions) but are part of the content hash.
 */
#ifndef SIDECAR_EVENT_H
#define SIDECAR_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "price.h"

#define EVENT_VERSION        1
#define EVENT_MAX_FIELDS     64
#define EVENT_MAX_VALUE      65536      /* bytes of any one value */
#define EVENT_HASH_LEN       32         /* sha256 */
#define EVENT_MAX_TS_MS      253402300799999LL   /* 9999-12-31T23:59:59.999Z */

/* A string that points into memory owned by someone else (the reply). */
typedef struct {
    const char  *p;
    size_t       n;                      /* 0: absent or empty */
} sv_t;

typedef enum { KEY_NONE = 0, KEY_MANAGED, KEY_BYOK } key_source_e;
typedef enum {
    OUTCOME_COMPLETE = 0, OUTCOME_CLIENT_ABORT, OUTCOME_UPSTREAM_ERROR, OUTCOME_REFUSED
} outcome_e;
typedef enum { USAGE_NONE = 0, USAGE_REPORTED, USAGE_ESTIMATED } usage_source_e;

typedef struct {
    sv_t            stream_id;           /* set by the caller */
    int             v;
    sv_t            request_id;
    int64_t         ts_ms;
    int64_t         duration_ms;
    int64_t         ttfb_ms;             /* -1: absent */
    sv_t            merchant_id;
    sv_t            customer_id;
    sv_t            meter;
    payer_e         payer;
    key_source_e    key_source;
    sv_t            provider;
    sv_t            host;
    sv_t            endpoint;
    sv_t            method;
    sv_t            model;
    int             status;
    outcome_e       outcome;
    sv_t            error;
    int             stream;
    usage_source_e  usage_source;
    usage_t         usage;
    sv_t            usage_raw;
    sv_t            metadata;
    int64_t         bytes_out;           /* -1: absent */
    sv_t            tap_flags;
    unsigned char   hash[EVENT_HASH_LEN];  /* over all fields, see event.c */
} event_t;

/*
 * kv holds 2 * npairs strings: field, value, field, value, ... (the entry as
 * Redis returned it). ev->stream_id is left as the caller set it. Returns 0,
 * or -1 with a lower-case reason in err.
 */
int event_decode(event_t *ev, const sv_t *kv, size_t npairs, char *err, size_t errsize);

const char *event_payer_name(payer_e p);
const char *event_key_source_name(key_source_e k);
const char *event_outcome_name(outcome_e o);
const char *event_usage_source_name(usage_source_e u);

/* 1 when s is valid UTF-8 without NUL bytes. */
int event_utf8_ok(const char *s, size_t n);

#endif
