/*
 * x-lava-metadata and the request body inspection (ngx_http_lava_access.c):
 * both hand client bytes to jansson's json_loadb and read the result. That
 * code sits inline in the access handler with nginx types around it, so this
 * target repeats the same calls with the same flags and limits: the metadata
 * header is refused over 4096 bytes and must be a JSON object whose keys are
 * 1 to 64 characters of A-Z a-z 0-9 _ . : - (ngx_http_lava_metadata_keys_ok,
 * walked the same way here); the body is
 * parsed whole and "stream" and "model" are read from it. Input: the header
 * value (also used as the body).
 */
#include <string.h>

#include <jansson.h>

#include "fuzz.h"

#define METADATA_MAX  4096          /* NGX_HTTP_LAVA_METADATA_MAX */
#define KEY_MAX       64            /* NGX_HTTP_LAVA_METADATA_KEY_MAX */
#define MODEL_MAX     128           /* LAVA_USAGE_MODEL_MAX */

static int
keys_ok(json_t *md)
{
    size_t       i, len;
    const char  *key;
    json_t      *v;
    uint8_t      c;

    json_object_foreach(md, key, v) {
        len = strlen(key);

        if (len == 0 || len > KEY_MAX) {
            return 0;
        }

        for (i = 0; i < len; i++) {
            c = (uint8_t) key[i];

            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                  || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':'
                  || c == '-'))
            {
                return 0;
            }
        }
    }

    return 1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t        *md, *root, *v;
    json_error_t   jerr;
    const char    *model;
    size_t         mlen;

    if (size <= METADATA_MAX) {
        md = json_loadb((const char *) data, size, 0, &jerr);
        if (md) {
            if (json_is_object(md)) {
                (void) keys_ok(md);
            }
            json_decref(md);
        }
    }

    root = json_loadb((const char *) data, size, 0, &jerr);
    if (root == NULL) {
        return 0;
    }
    if (json_is_object(root)) {
        v = json_object_get(root, "stream");
        (void) json_is_true(v);
        v = json_object_get(root, "model");
        model = json_string_value(v);
        if (model) {
            mlen = json_string_length(v);
            if (mlen <= MODEL_MAX - 1) {
                FUZZ_CHECK(memchr(model, '\0', mlen + 1) != NULL, "model copy");
            }
        }
    }
    json_decref(root);
    return 0;
}
