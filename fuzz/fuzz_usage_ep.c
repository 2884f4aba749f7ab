/*
 * Usage extraction per endpoint (lava_usage_parse_ep): every format and
 * endpoint together. Input: one byte (format), one byte (endpoint), then the
 * document. Same checks as fuzz_usage.c, without the per-format corpus.
 */
#include <string.h>

#include "fuzz.h"
#include "lava_usage.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lava_usage_t  a, b;
    const int64_t       *c;
    lava_usage_format_e  fmt;
    int                  ep, rc, rc2, i;

    if (size < 2) {
        return 0;
    }
    fmt = (lava_usage_format_e) (data[0] % (LAVA_USAGE_NONE + 1));
    ep = data[1] % (LAVA_EP_CALL + 1);

    memset(&a, 0, sizeof(a));
    rc = lava_usage_parse_ep(&a, fmt, ep, (const char *) data + 2, size - 2);
    FUZZ_CHECK(rc >= -1 && rc <= 1, "result code");
    FUZZ_CHECK(memchr(a.model, '\0', sizeof(a.model)) != NULL, "model not terminated");
    FUZZ_CHECK(a.raw_len <= sizeof(a.raw), "raw_len");
    for (c = (const int64_t *) &a.buckets, i = 0; i < LAVA_USAGE_NBUCKETS; i++) {
        FUZZ_CHECK(c[i] >= 0, "negative counter");
    }

    b = a;
    rc2 = lava_usage_parse_ep(&b, fmt, ep, (const char *) data + 2, size - 2);
    FUZZ_CHECK(rc2 == rc, "second read gave another result");
    FUZZ_CHECK(memcmp(&a.buckets, &b.buckets, sizeof(a.buckets)) == 0,
               "reading the same document twice changed the counters");
    return 0;
}
