/*
 * Stream entry decoding in the sidecar (sidecar/event.c): the field/value
 * strings of one Redis Stream entry, which anyone able to XADD to the stream
 * controls. Input: the strings one after another, each ended by a NUL byte
 * (the last one by the end of the input); an odd string out is dropped. NUL
 * inside a value is covered by the unit tests. On success the decoded event
 * must be what the ledger accepts.
 */
#include <string.h>

#include "event.h"
#include "fuzz.h"

#define MAXSTR  (2 * EVENT_MAX_FIELDS + 8)

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
    return 0;
}
