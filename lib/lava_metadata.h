/*
 * x-lava-metadata: a small JSON object the client attaches to a request,
 * stored with its ledger row (events.metadata, jsonb) and queried in psql.
 * Pure C, no I/O: the check the access handler runs on the header value.
 */

#ifndef LAVA_METADATA_H
#define LAVA_METADATA_H

#include <stddef.h>

#include "lava_id.h"

#define LAVA_METADATA_MAX      4096          /* bytes of the header value */
#define LAVA_METADATA_KEY_MAX  LAVA_ID_MAX   /* bytes of a key */

enum {
    LAVA_METADATA_OK = 0,
    LAVA_METADATA_TOO_LARGE,
    LAVA_METADATA_NOT_OBJECT,     /* not JSON, or JSON but not an object */
    LAVA_METADATA_BAD_KEY         /* a key empty, too long or of other bytes */
};

/*
 * Keys are 1 to 64 characters of A-Z a-z 0-9 _ . : -, the charset of ids
 * (lava_id_valid), so that they are safe as jsonb keys in psql, logs and CSV exports.
 */
int lava_metadata_check(const char *s, size_t len);

#endif /* LAVA_METADATA_H */
