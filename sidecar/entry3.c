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
entry3_split(const sv_t *kv, size_t npairs, sv_t *ev, char *err, size_t errsize)
{
    lava_event_v2_reader_t  rd;
    const char             *name, *value, *start = NULL;
    size_t                  i, nlen, vlen, n = 0;
    int                     rc;

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
    if (npairs != 2 || i != 0 || !is(&kv[2], LAVA_EVENT_V2_PAYLOAD)) {
        snprintf(err, errsize, "version 3 entry: its fields are not v, then e");
        return -1;
    }

    /* e is one list of version 2 pairs (any length: the reader's bound on
     * a payload is per event here, checked when each is decoded) */
    rd.p = kv[3].p;
    rd.end = kv[3].p + kv[3].n;
    rd.err = LAVA_EVENT_V2_OK;

    for ( ;; ) {
        const char *at = rd.p;

        rc = lava_event_v2_next(&rd, &name, &nlen, &value, &vlen);
        if (rc < 0) {
            snprintf(err, errsize, "version 3 entry: field e: %s",
                     lava_event_v2_strerror(rd.err));
            return -1;
        }
        if (rc > 0 && !(nlen == sizeof(LAVA_EVENT_V3_SEPARATOR) - 1
                        && memcmp(name, LAVA_EVENT_V3_SEPARATOR, nlen) == 0))
        {
            if (n == 0) {
                snprintf(err, errsize, "version 3 entry: field e does not start with a"
                         " request_id");
                return -1;
            }
            continue;
        }
        /* the end of e, or the next event: the one before ends here */
        if (n > 0 && ev != NULL) {
            ev[2 * (n - 1) + 1].p = start;
            ev[2 * (n - 1) + 1].n = (size_t) (at - start);
        }
        if (rc == 0) {
            break;
        }
        if (n == LAVA_EVENT_V3_READ_MAX) {
            snprintf(err, errsize, "version 3 entry: more than %d events",
                     LAVA_EVENT_V3_READ_MAX);
            return -1;
        }
        if (ev != NULL) {
            ev[2 * n].p = value;
            ev[2 * n].n = vlen;
        }
        start = rd.p;
        n++;
    }
    if (n == 0) {
        snprintf(err, errsize, "version 3 entry: no events");
        return -1;
    }
    return (long) n;
}

void
entry3_event(const sv_t *rid, const sv_t *payload, sv_t *out)
{
    out[0] = (sv_t) { "v", 1 };
    out[1] = (sv_t) { LAVA_EVENT_V2_VERSION, sizeof(LAVA_EVENT_V2_VERSION) - 1 };
    out[2] = (sv_t) { "request_id", sizeof("request_id") - 1 };
    out[3] = *rid;
    out[4] = (sv_t) { LAVA_EVENT_V2_PAYLOAD, sizeof(LAVA_EVENT_V2_PAYLOAD) - 1 };
    out[5] = *payload;
}

size_t
entry3_stream_id(const sv_t *id, size_t k, char *sid)
{
    int n = snprintf(sid, ENTRY3_SID_MAX, "%.*s/%zu", (int) (id->n < 48 ? id->n : 48), id->p,
                     k + 1);

    return n < 0 ? 0 : (size_t) n >= ENTRY3_SID_MAX ? ENTRY3_SID_MAX - 1 : (size_t) n;
}
