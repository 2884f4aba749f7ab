/*
 * Response tap (lib/lava_tap.c): a whole provider response
 * body as it passes through nginx. Input: one control byte (bit 0: SSE,
 * bits 1-3: usage format, bit 4: small limits so the event and tail paths
 * are reached with small inputs), then the body. The body is tapped twice,
 * whole and cut into small feeds; both must find the same usage. The
 * one-pass event scan (lib/lava_tap_scan.c) must agree with its reference
 * on the body, on each of its lines and on its suffixes.
 */
#include <string.h>

#include "fuzz.h"
#include "lava_tap.h"
#include "lava_tap_scan.h"

static void
scan_same(const uint8_t *p, size_t n)
{
    lava_tap_scan_t  fast, ref;

    lava_tap_scan((const char *) p, n, &fast);
    lava_tap_scan_ref((const char *) p, n, &ref);

    FUZZ_CHECK(fast.text_bytes == ref.text_bytes,
               "the event scan counted other text than its reference");
    FUZZ_CHECK(fast.found == ref.found,
               "the event scan found other tokens than its reference");
}

static void
scan_check(const uint8_t *p, size_t n)
{
    size_t          k;
    const uint8_t  *line, *nl, *end;

    scan_same(p, n);

    end = p + n;

    for (line = p; line < end; line = nl + 1) {
        nl = memchr(line, '\n', end - line);
        if (nl == NULL) {
            nl = end;
        }

        scan_same(line, nl - line);
    }

    for (k = 1; k < n && k <= 64; k++) {
        scan_same(p + k, n - k);
    }
}

static void
tap(lava_tap_t *t, int sse, lava_usage_format_e fmt, int small,
    const uint8_t *p, size_t n, int split)
{
    uint32_t  st = (uint32_t) n * 2246822519u;
    size_t    k;

    FUZZ_CHECK(lava_tap_init(t, sse, fmt, small ? 64 : 0, small ? 256 : 0,
                             small ? 128 : 0) == 0, "init");
    if (!split) {
        lava_tap_feed(t, (const char *) p, n);
    } else {
        while (n) {
            k = fuzz_next_cut(&st, n);
            lava_tap_feed(t, (const char *) p, k);
            p += k;
            n -= k;
        }
    }
    lava_tap_finish(t);
    lava_tap_finish(t);         /* idempotent */

    FUZZ_CHECK(memchr(t->usage.model, '\0', sizeof(t->usage.model)) != NULL,
               "model not terminated");
    FUZZ_CHECK(t->usage.raw_len <= sizeof(t->usage.raw), "raw_len");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lava_tap_t    a, b;
    lava_usage_format_e  fmt;
    char                 flags[128];
    int                  sse, small;

    if (size < 1) {
        return 0;
    }

    sse = data[0] & 1;
    fmt = (lava_usage_format_e) (((data[0] >> 1) & 7) % (LAVA_USAGE_NONE + 1));
    small = (data[0] >> 4) & 1;

    scan_check(data + 1, size - 1);

    tap(&a, sse, fmt, small, data + 1, size - 1, 0);
    tap(&b, sse, fmt, small, data + 1, size - 1, 1);

    FUZZ_CHECK(a.total == size - 1 && b.total == size - 1, "bytes counted");
    FUZZ_CHECK(a.usage.seen == b.usage.seen, "split changed whether usage was seen");
    FUZZ_CHECK(memcmp(&a.usage.buckets, &b.usage.buckets, sizeof(a.usage.buckets)) == 0,
               "split changed the usage");
    FUZZ_CHECK(strcmp(a.usage.model, b.usage.model) == 0, "split changed the model");
    FUZZ_CHECK(a.usage.raw_len == b.usage.raw_len
               && memcmp(a.usage.raw, b.usage.raw, a.usage.raw_len) == 0,
               "split changed the raw usage");
    FUZZ_CHECK(a.flags == b.flags, "split changed the flags");
    FUZZ_CHECK(lava_tap_flags_str(a.flags, flags, sizeof(flags)) < sizeof(flags), "flags string");

    lava_tap_free(&a);
    lava_tap_free(&b);
    return 0;
}
