/*
 * The events of a version 3 stream entry (sidecar/entry3.c): its field e,
 * which anyone able to XADD to the stream controls. Input: the bytes of e.
 * A split finds at most LAVA_EVENT_V3_READ_MAX events, the same number when
 * counted and when split, each request id and payload inside the input, in
 * order and not overlapping; each event then decodes (sidecar/event.c) as
 * the version 2 entry it stands for without reading outside the input.
 */
#include <stdlib.h>
#include <string.h>

#include "entry3.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sv_t   ev[2 * LAVA_EVENT_V3_READ_MAX];
    const char   *p = (const char *) data, *end = p + size, *last = p;
    sv_t          kv[4] = { { "v", 1 }, { "3", 1 }, { "e", 1 }, { p, size } };
    sv_t          one[2 * ENTRY3_PAIRS];
    event_t       e;
    char          err[256];
    long          n, m, k;

    n = entry3_split(kv, 2, NULL, err, sizeof(err));
    FUZZ_CHECK(n == -1 || (n >= 1 && n <= LAVA_EVENT_V3_READ_MAX), "event count in range");
    if (n < 1) {
        return 0;
    }
    m = entry3_split(kv, 2, ev, err, sizeof(err));
    FUZZ_CHECK(m == n, "counted and split alike");

    for (k = 0; k < n; k++) {
        const sv_t *rid = &ev[2 * k], *pl = &ev[2 * k + 1];

        FUZZ_CHECK(rid->p >= last && rid->p + rid->n <= end, "request id inside, in order");
        FUZZ_CHECK(pl->p >= rid->p + rid->n && pl->p + pl->n <= end, "payload inside, after it");
        last = pl->p + pl->n;

        entry3_event(rid, pl, one);
        memset(&e, 0, sizeof(e));
        e.stream_id = (sv_t) { "1700000000000-0/1", 17 };
        (void) event_decode(&e, one, ENTRY3_PAIRS, err, sizeof(err));
    }
    return 0;
}
