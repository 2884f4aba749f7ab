/*
 * multipart/form-data field reader (lib/lava_multipart.c): the body of an
 * audio request. Input: one byte (0 even: field "model", odd: "model_id"),
 * then the Content-Type value up to "\n", then the body. Checks: fed whole
 * and cut into small pieces, the verdict and the value are the same; the
 * value is terminated, shorter than the bound, and occurs in the body.
 */
#define _GNU_SOURCE                 /* memmem */
#include <string.h>

#include "fuzz.h"
#include "lava_multipart.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                rc1, rc2;
    size_t             n, off, cut;
    uint32_t           seed;
    const char        *ct, *nl, *body, *name;
    lava_multipart_t  *a, *b;

    if (size < 2) {
        return 0;
    }

    name = (data[0] & 1) ? "model_id" : "model";
    ct = (const char *) data + 1;
    nl = memchr(ct, '\n', size - 1);
    if (nl == NULL) {
        return 0;
    }

    body = nl + 1;
    n = size - (size_t) (body - (const char *) data);

    a = malloc(sizeof(lava_multipart_t));
    b = malloc(sizeof(lava_multipart_t));
    FUZZ_CHECK(a && b, "malloc");

    rc1 = lava_multipart_init(a, ct, (size_t) (nl - ct), name);
    rc2 = lava_multipart_init(b, ct, (size_t) (nl - ct), name);
    FUZZ_CHECK(rc1 == rc2, "init is deterministic");

    if (rc1 == 0) {
        (void) lava_multipart_feed(a, body, n);
        rc1 = lava_multipart_finish(a);

        seed = (uint32_t) size * 2654435761u;
        for (off = 0; off < n; off += cut) {
            cut = fuzz_next_cut(&seed, n - off);
            (void) lava_multipart_feed(b, body + off, cut);
        }
        rc2 = lava_multipart_finish(b);

        FUZZ_CHECK(rc1 == rc2, "verdict depends on the cuts");
        FUZZ_CHECK(strcmp(a->value, b->value) == 0, "value depends on the cuts");
        FUZZ_CHECK(memchr(a->value, '\0', sizeof(a->value)) != NULL,
                   "value not terminated");
        FUZZ_CHECK(rc1 != 0 || a->error == NULL, "an error but complete");

        if (a->value[0]) {
            FUZZ_CHECK(memmem(body, n, a->value, strlen(a->value)) != NULL,
                       "value not in the body");
        }
    }

    free(a);
    free(b);
    return 0;
}
