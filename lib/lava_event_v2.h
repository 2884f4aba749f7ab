/*
 * The compact stream entry, version 2 (docs/events.md, "Version 2"): the
 * fields of one usage event packed into a single value, so that Redis keeps
 * three fields per entry instead of about thirty and hiredis formats three
 * arguments. The fields are those of lib/lava_event_fields.h; this codec
 * knows none of them by name: it packs and unpacks (name, value) pairs, so
 * a row added to the table is written and read with no change here.
 *
 * An entry of version 2 is
 *
 *     v           "2"
 *     request_id  the request id, as in version 1 (the sidecar's and
 *                 psql's key without unpacking)
 *     e           the payload: every other field of version 1, each as
 *
 *                     <name> ":" <length> ":" <value> "\n"
 *
 *                 name [a-z0-9_]{1,32}, length the value's bytes in
 *                 base 10 (no sign, no leading zero, at most 65536),
 *                 value any bytes; fields in the table's order, empty
 *                 values left out as in version 1.
 *
 * Decoding is pull style, hiredis fashion: the reader is fed the payload
 * once, returns one pair per call, keeps its first error (sticky) and never
 * reads past the payload. No I/O, no allocation: names and values point
 * into the payload.
 */

#ifndef LAVA_EVENT_V2_H
#define LAVA_EVENT_V2_H

#include <stddef.h>

#include "lava_event_fields.h"

#define LAVA_EVENT_V2_VERSION     "2"
#define LAVA_EVENT_V2_PAYLOAD     "e"        /* the payload's field name */
#define LAVA_EVENT_V2_NAME_MAX    32
#define LAVA_EVENT_V2_LEN_DIGITS  5          /* 65536 */

/*
 * Most bytes of a payload the reader accepts: every row of the table at
 * its largest (a value of a kind without a max is at most 64 bytes: ids,
 * integers), plus room for fields a newer writer may add.
 */
#define LAVA_EVENT_V2_ROW_MAX(a, name, column, kind, req, max)                \
    + (sizeof(#name) + LAVA_EVENT_V2_LEN_DIGITS + 3                           \
       + ((max) > 64 ? (max) : 64))

enum {
    LAVA_EVENT_V2_MAX = 4096 LAVA_EVENT_FIELDS(LAVA_EVENT_V2_ROW_MAX, _)
};


typedef enum {
    LAVA_EVENT_V2_OK = 0,
    LAVA_EVENT_V2_BAD_NAME,        /* empty, too long or a byte not allowed */
    LAVA_EVENT_V2_BAD_LENGTH,      /* not digits, leading zero, too long */
    LAVA_EVENT_V2_TRUNCATED,       /* the value runs past the payload */
    LAVA_EVENT_V2_BAD_END,         /* no "\n" after the value */
    LAVA_EVENT_V2_TOO_LARGE        /* payload over LAVA_EVENT_V2_MAX */
} lava_event_v2_err_e;


/*
 * Bytes of the payload that packs the pairs of argv/argvlen (argc strings:
 * name, value, ...), leaving out the names "v" and "request_id" (they are
 * fields of the entry itself) and empty values.
 */
size_t lava_event_v2_size(size_t argc, const char **argv,
    const size_t *argvlen);

/*
 * Writes that payload into buf (at least lava_event_v2_size() bytes);
 * returns its length. Names are the table's: the writer does not check them.
 */
size_t lava_event_v2_pack(char *buf, size_t argc, const char **argv,
    const size_t *argvlen);


typedef struct {
    const char           *p;
    const char           *end;
    lava_event_v2_err_e   err;       /* sticky: the first error */
} lava_event_v2_reader_t;

void lava_event_v2_reader_init(lava_event_v2_reader_t *rd, const char *p,
    size_t n);

/*
 * The next pair: 1 and name/value set (pointing into the payload), 0 at
 * the end of the payload, -1 on an error (rd->err, and every later call).
 */
int lava_event_v2_next(lava_event_v2_reader_t *rd, const char **name,
    size_t *name_len, const char **value, size_t *value_len);

/* "bad field name"..., for logs and dead letters (no payload bytes) */
const char *lava_event_v2_strerror(lava_event_v2_err_e err);

#endif /* LAVA_EVENT_V2_H */
