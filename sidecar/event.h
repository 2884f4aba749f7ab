/*
 * Decoding of one stream entry (docs/events.md, versions 1 and 2) into an
 * event. A version 2 entry is unpacked (lib/lava_event_v2.h) into the
 * version 1 entry it stands for and decoded as that one: the same event
 * (v 1: the fields are version 1's) and the same content hash.
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

#include "lava_event_fields.h"
#include "price.h"

#define EVENT_VERSION        1
#define EVENT_MAX_FIELDS     64
#define EVENT_MAX_VALUE      LAVA_EVENT_MAX_VALUE  /* bytes of any one value */
#define EVENT_HASH_LEN       32         /* sha256 */
#define EVENT_MAX_TS_MS      253402300799999LL   /* 9999-12-31T23:59:59.999Z */

/* A string that points into memory owned by someone else (the reply). */
typedef struct {
    const char  *p;
    size_t       n;                      /* 0: absent or empty */
} sv_t;

/* the ENUM fields: in the order of LAVA_EVENT_VALUES_<field> (and payer_e) */
typedef enum { KEY_NONE = 0, KEY_MANAGED, KEY_BYOK } key_source_e;
typedef enum {
    OUTCOME_COMPLETE = 0, OUTCOME_CLIENT_ABORT, OUTCOME_UPSTREAM_ERROR, OUTCOME_REFUSED,
    OUTCOME_WORKER_LOST
} outcome_e;
typedef enum { USAGE_NONE = 0, USAGE_REPORTED, USAGE_ESTIMATED } usage_source_e;

/*
 * The decoded entry: one member per field of lib/lava_event_fields.h, typed
 * by its kind (EVENT_MEMBER_<kind>), the buckets in usage. Absent optional
 * integers are -1, absent texts { NULL, 0 }, absent buckets 0.
 */
#define EVENT_MEMBER(a, name, column, kind, req, max)  LAVA_EVENT_KIND(kind, EVENT_MEMBER)(name)
#define EVENT_MEMBER_VERSION(name)  int name;
#define EVENT_MEMBER_REQID(name)    sv_t name;
#define EVENT_MEMBER_INT(name)      int64_t name;
#define EVENT_MEMBER_ID(name)       sv_t name;
#define EVENT_MEMBER_TEXT(name)     sv_t name;
#define EVENT_MEMBER_JSON(name)     sv_t name;
#define EVENT_MEMBER_ENUM(name)     name##_e name;
#define EVENT_MEMBER_BOOL(name)     int name;
#define EVENT_MEMBER_BUCKET(name)

typedef struct {
    sv_t            stream_id;           /* set by the caller */
    LAVA_EVENT_FIELDS(EVENT_MEMBER, _)
    usage_t         usage;
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
