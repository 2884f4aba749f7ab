/*
 * SSE scanner (lib/lava_sse.c): provider response bytes.
 * Input: one byte choosing max_event (default, 16, 64 or 256 bytes), then the
 * stream. The stream is scanned twice, whole and cut into small feeds; both
 * must deliver the same events, and every event must respect the limits.
 */
#include <string.h>

#include "fuzz.h"
#include "lava_sse.h"

typedef struct {
    size_t    max_event;
    uint64_t  hash;         /* FNV-1a over every event, in order */
    unsigned  events;
} seen_t;

static void
mix(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *c = p;

    while (n--) {
        *h = (*h ^ *c++) * 1099511628211ull;
    }
}

static int
on_event(void *data, const char *event, size_t event_len, const char *payload,
    size_t payload_len)
{
    seen_t  *s = data;

    FUZZ_CHECK(event != NULL && payload != NULL, "NULL name or data");
    FUZZ_CHECK(event_len < 64 && event[event_len] == '\0', "event name");
    FUZZ_CHECK(payload_len <= s->max_event, "data over max_event");

    mix(&s->hash, &event_len, sizeof(event_len));
    mix(&s->hash, event, event_len);
    mix(&s->hash, &payload_len, sizeof(payload_len));
    mix(&s->hash, payload, payload_len);
    s->events++;
    return 0;
}

static void
scan(const uint8_t *p, size_t n, size_t max_event, int split, seen_t *out,
    unsigned long *skipped)
{
    lava_sse_t  s;
    uint32_t    st = (uint32_t) n * 2654435761u;
    size_t      k;

    memset(out, 0, sizeof(*out));
    out->max_event = max_event ? max_event : 65536;
    out->hash = 1469598103934665603ull;

    lava_sse_init(&s, max_event, on_event, out);

    if (!split) {
        FUZZ_CHECK(lava_sse_feed(&s, (const char *) p, n) == LAVA_SSE_OK, "feed");
    } else {
        while (n) {
            k = fuzz_next_cut(&st, n);
            FUZZ_CHECK(lava_sse_feed(&s, (const char *) p, k) == LAVA_SSE_OK, "feed");
            p += k;
            n -= k;
        }
    }

    FUZZ_CHECK(lava_sse_finish(&s) == LAVA_SSE_OK, "finish");
    FUZZ_CHECK(s.events == out->events, "events counter");
    FUZZ_CHECK(s.cap <= out->max_event, "buffer over max_event");
    *skipped = s.skipped;
    lava_sse_free(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t  maxes[4] = { 0, 16, 64, 256 };
    seen_t               whole, cut;
    unsigned long        sk1, sk2;
    size_t               max_event;

    if (size < 1) {
        return 0;
    }

    max_event = maxes[data[0] & 3];
    scan(data + 1, size - 1, max_event, 0, &whole, &sk1);
    scan(data + 1, size - 1, max_event, 1, &cut, &sk2);

    FUZZ_CHECK(whole.events == cut.events, "split changed the event count");
    FUZZ_CHECK(whole.hash == cut.hash, "split changed the events");
    FUZZ_CHECK(sk1 == sk2, "split changed the skipped count");
    return 0;
}
