#include <stdio.h>
#include <string.h>

#include "entry3.h"
#include "lava_event_v2.h"

static int
is(const sv_t *s, const char *lit)
{
    size_t n = strlen(lit);

    return s->n == n && memcmp(s->p, lit, n) == 0;
}

long
entry3_count(const sv_t *kv, size_t npairs, char *err, size_t errsize)
{
    size_t i, n;

    /* the module writes v first; an entry whose v is "3" anywhere is of
     * version 3 and must have exactly that shape */
    for (i = 0; i < npairs; i++) {
        if (is(&kv[2 * i], "v")) {
            break;
        }
    }
    if (i == npairs || !is(&kv[2 * i + 1], LAVA_EVENT_V3_VERSION)) {
        return 0;
    }
    if (i != 0) {
        snprintf(err, errsize, "version 3 entry: v is not its first field");
        return -1;
    }
    if (npairs < 3 || (npairs - 1) % 2 != 0) {
        snprintf(err, errsize, "version 3 entry: fields are not (request_id, e) couples");
        return -1;
    }
    n = (npairs - 1) / 2;
    if (n > LAVA_EVENT_V3_READ_MAX) {
        snprintf(err, errsize, "version 3 entry: more than %d events",
                 LAVA_EVENT_V3_READ_MAX);
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (!is(&kv[2 * (1 + 2 * i)], "request_id")
            || !is(&kv[2 * (2 + 2 * i)], LAVA_EVENT_V2_PAYLOAD))
        {
            snprintf(err, errsize, "version 3 entry: fields are not (request_id, e) couples");
            return -1;
        }
    }
    return (long) n;
}

void
entry3_event(const sv_t *kv, size_t k, sv_t *out)
{
    out[0] = (sv_t) { "v", 1 };
    out[1] = (sv_t) { LAVA_EVENT_V2_VERSION, sizeof(LAVA_EVENT_V2_VERSION) - 1 };
    out[2] = kv[2 * (1 + 2 * k)];
    out[3] = kv[2 * (1 + 2 * k) + 1];
    out[4] = kv[2 * (2 + 2 * k)];
    out[5] = kv[2 * (2 + 2 * k) + 1];
}

const sv_t *
entry3_payload(const sv_t *kv, size_t k)
{
    return &kv[2 * (2 + 2 * k) + 1];
}

size_t
entry3_stream_id(const sv_t *id, size_t k, char *sid)
{
    int n = snprintf(sid, ENTRY3_SID_MAX, "%.*s/%zu", (int) (id->n < 48 ? id->n : 48), id->p,
                     k + 1);

    return n < 0 ? 0 : (size_t) n >= ENTRY3_SID_MAX ? ENTRY3_SID_MAX - 1 : (size_t) n;
}
