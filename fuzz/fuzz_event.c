/*
 * Stream entry decoding in the sidecar (sidecar/event.c): the field/value
 * strings of one Redis Stream entry, which anyone able to XADD to the stream
 * controls. Input: the strings one after another, each ended by a NUL byte
 * (the last one by the end of the input); an odd string out is dropped. NUL
 * inside a value is covered by the unit tests. On success the decoded event
 * must be what the ledger accepts, and a version 1 entry the module could
 * write (names of [a-z0-9_], no empty value) packed as version 2
 * (lib/lava_event_v2.c) must decode to the same event, hash included.
 */
#include <string.h>

#include "event.h"
#include "fuzz.h"
#include "lava_event_v2.h"

#define MAXSTR  (2 * EVENT_MAX_FIELDS + 8)

/* 1: the entry is version 1 and packable as the module packs one */
static int
packable(const sv_t *kv, size_t n)
{
    size_t  i, j;
    int     v1 = 0;

    for (i = 0; i + 1 < n; i += 2) {
        if (kv[i].n == 0 || kv[i].n > LAVA_EVENT_V2_NAME_MAX || kv[i + 1].n == 0) {
            return 0;
        }
        for (j = 0; j < kv[i].n; j++) {
            char c = kv[i].p[j];

            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
                return 0;
            }
        }
        if (kv[i].n == 1 && kv[i].p[0] == 'e') {
            return 0;
        }
        if (kv[i].n == 1 && kv[i].p[0] == 'v') {
            v1 = kv[i + 1].n == 1 && kv[i + 1].p[0] == '1';
        }
    }
    return v1;
}

/* the entry packed as version 2 decodes to the same event */
static void
same_as_v2(const sv_t *kv, size_t n, const event_t *ev1)
{
    static const char  *argv[MAXSTR];
    static size_t       argvlen[MAXSTR];
    static char         payload[LAVA_EVENT_V2_MAX];
    static sv_t         kv2[6];
    event_t             ev2;
    size_t              i, np = 0;
    char                err[256];

    for (i = 0; i + 1 < n; i += 2) {
        argv[i] = kv[i].p;
        argvlen[i] = kv[i].n;
        argv[i + 1] = kv[i + 1].p;
        argvlen[i + 1] = kv[i + 1].n;
        if (kv[i].n == 10 && memcmp(kv[i].p, "request_id", 10) == 0) {
            kv2[2] = kv[i];
            kv2[3] = kv[i + 1];
        }
    }
    n -= n % 2;
    if (lava_event_v2_size(n, argv, argvlen) > sizeof(payload)) {
        return;
    }
    kv2[0] = (sv_t) { "v", 1 };
    kv2[1] = (sv_t) { "2", 1 };
    kv2[4] = (sv_t) { "e", 1 };
    kv2[5] = (sv_t) { payload, lava_event_v2_pack(payload, n, argv, argvlen) };
    np = 3;

    memset(&ev2, 0, sizeof(ev2));
    ev2.stream_id = ev1->stream_id;
    FUZZ_CHECK(event_decode(&ev2, kv2, np, err, sizeof(err)) == 0, "version 2 refused");
    FUZZ_CHECK(memcmp(ev1->hash, ev2.hash, EVENT_HASH_LEN) == 0, "version 2 hash");
    FUZZ_CHECK(ev1->status == ev2.status && ev1->ts_ms == ev2.ts_ms
               && memcmp(&ev1->usage, &ev2.usage, sizeof(ev1->usage)) == 0,
               "version 2 event");
}

static int
text_ok(const sv_t *v)
{
    return v->n == 0 || (v->p != NULL && event_utf8_ok(v->p, v->n));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sv_t    kv[MAXSTR];
    event_t        ev;
    const char    *p = (const char *) data, *end = p + size, *z;
    size_t         n = 0;
    char           err[256];

    while (p < end && n < MAXSTR) {
        z = memchr(p, '\0', end - p);
        kv[n].p = p;
        kv[n].n = z ? (size_t) (z - p) : (size_t) (end - p);
        n++;
        p = z ? z + 1 : end;
    }

    memset(&ev, 0, sizeof(ev));
    ev.stream_id.p = "1-0";
    ev.stream_id.n = 3;
    err[0] = '\0';

    if (event_decode(&ev, kv, n / 2, err, sizeof(err)) != 0) {
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)), "error without reason");
        return 0;
    }

    FUZZ_CHECK(ev.v == EVENT_VERSION, "version");
    FUZZ_CHECK(ev.request_id.n == 30, "request id");
    FUZZ_CHECK(ev.status >= 100 && ev.status <= 599, "status");
    FUZZ_CHECK(ev.ts_ms >= 0 && ev.ts_ms <= EVENT_MAX_TS_MS, "ts_ms");
    FUZZ_CHECK(ev.duration_ms >= 0, "duration_ms");
    FUZZ_CHECK(event_payer_name(ev.payer) && event_outcome_name(ev.outcome)
               && event_key_source_name(ev.key_source)
               && event_usage_source_name(ev.usage_source), "enum names");
    FUZZ_CHECK(ev.stream == 0 || ev.stream == 1, "stream");
    /* absent text fields are NULL with length 0 */
    FUZZ_CHECK(text_ok(&ev.model) && text_ok(&ev.metadata) && text_ok(&ev.usage_raw)
               && text_ok(&ev.endpoint) && text_ok(&ev.host), "text fields");
    FUZZ_CHECK(ev.stream_id.n == 3, "stream id kept");

    if (packable(kv, n - n % 2)) {
        same_as_v2(kv, n - n % 2, &ev);
    }
    return 0;
}
