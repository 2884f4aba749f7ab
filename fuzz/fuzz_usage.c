/*
 * Usage extraction (lib/lava_usage.c): one JSON document from
 * a provider, a whole body or one SSE data payload. Built once per format
 * (FUZZ_USAGE_FORMAT), so each target's corpus holds that provider's shapes.
 * Checks: the result code, the model and raw buffers stay terminated and in
 * bounds, the counters are never negative, reading the same document twice
 * changes nothing (last value wins, never summed), lava_json_span never
 * reaches past its input, and leaving the content out of jansson's parse
 * (lava_usage_parse_ep) reads what the whole-document parse reads
 * (lava_usage_parse_full).
 */
#include <string.h>

#include "fuzz.h"
#include "lava_usage.h"

#ifndef FUZZ_USAGE_FORMAT
#error "build with -DFUZZ_USAGE_FORMAT=LAVA_USAGE_<FORMAT>"
#endif

static void
check(const lava_usage_t *u)
{
    const int64_t  *c = (const int64_t *) &u->buckets;
    size_t          i;

    FUZZ_CHECK(memchr(u->model, '\0', sizeof(u->model)) != NULL, "model not terminated");
    FUZZ_CHECK(u->raw_len <= sizeof(u->raw), "raw_len");
    for (i = 0; i < LAVA_USAGE_NBUCKETS; i++) {
        FUZZ_CHECK(c[i] >= 0, "negative counter");
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lava_usage_t  a, b, full;
    const char          *p = (const char *) data;
    size_t               span;
    int                  rc, rc2;

    memset(&a, 0, sizeof(a));
    rc = lava_usage_parse(&a, FUZZ_USAGE_FORMAT, p, size);
    FUZZ_CHECK(rc >= -1 && rc <= 1, "result code");
    FUZZ_CHECK(rc != 1 || a.seen, "usage found but not seen");
    check(&a);

    b = a;
    rc2 = lava_usage_parse(&b, FUZZ_USAGE_FORMAT, p, size);
    FUZZ_CHECK(rc2 == rc, "second read gave another result");
    check(&b);
    FUZZ_CHECK(memcmp(&a.buckets, &b.buckets, sizeof(a.buckets)) == 0,
               "reading the same document twice changed the counters");
    FUZZ_CHECK(strcmp(a.model, b.model) == 0, "second read changed the model");

    memset(&full, 0, sizeof(full));
    rc2 = lava_usage_parse_full(&full, FUZZ_USAGE_FORMAT, LAVA_EP_OTHER, p, size);
    FUZZ_CHECK(rc2 == rc, "the slim and the whole parse disagree on the result");
    FUZZ_CHECK(memcmp(&full, &a, sizeof(a)) == 0,
               "the slim and the whole parse read different usage");

    span = lava_json_span(p, size);
    FUZZ_CHECK(span <= size, "json span past the input");
    return 0;
}
