/*
 * The x-lava-metadata check (see lava_metadata.h).
 */

#include <string.h>

#include <jansson.h>

#include "lava_metadata.h"


static int
lava_metadata_key_ok(const char *key)
{
    return lava_id_valid(key, strlen(key));
}


int
lava_metadata_check(const char *s, size_t len)
{
    int          rc;
    json_t      *md, *v;
    const char  *key;

    if (len > LAVA_METADATA_MAX) {
        return LAVA_METADATA_TOO_LARGE;
    }

    md = json_loadb(s, len, 0, NULL);

    if (md == NULL || !json_is_object(md)) {
        json_decref(md);
        return LAVA_METADATA_NOT_OBJECT;
    }

    rc = LAVA_METADATA_OK;

    json_object_foreach(md, key, v) {
        if (!lava_metadata_key_ok(key)) {
            rc = LAVA_METADATA_BAD_KEY;
            break;
        }
    }

    json_decref(md);

    return rc;
}
