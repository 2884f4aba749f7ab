/*
 * x-lava-metadata (lib/lava_metadata.c): the header value as the client
 * sent it. Checks: no crash, a verdict in range, nothing over the size bound
 * accepted, and an accepted value really is a JSON object whose keys keep to
 * the charset. (The request body has its own target, "request".)
 */
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "lava_metadata.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          rc;
    json_t      *md, *v;
    const char  *key;

    rc = lava_metadata_check((const char *) data, size);

    FUZZ_CHECK(rc >= LAVA_METADATA_OK && rc <= LAVA_METADATA_BAD_KEY, "verdict");
    FUZZ_CHECK(size <= LAVA_METADATA_MAX || rc == LAVA_METADATA_TOO_LARGE,
               "size bound");

    if (rc != LAVA_METADATA_OK) {
        return 0;
    }

    md = json_loadb((const char *) data, size, 0, NULL);
    FUZZ_CHECK(md != NULL && json_is_object(md), "accepted, not an object");

    json_object_foreach(md, key, v) {
        FUZZ_CHECK(key[0] != '\0' && strlen(key) <= LAVA_METADATA_KEY_MAX
                   && strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789_.:-") == strlen(key),
                   "accepted key");
    }

    json_decref(md);
    return 0;
}
