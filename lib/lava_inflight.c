/*
 * In-flight records (lava_inflight.h): the slot table and the usage of a
 * record whose worker died.
 */
#include <string.h>

#include "lava_inflight.h"
#include "lava_tap.h"


size_t
lava_inflight_size(uint32_t n)
{
    return sizeof(lava_inflight_table_t) + (size_t) n
                                           * sizeof(lava_inflight_rec_t);
}


uint32_t
lava_inflight_slots(size_t bytes)
{
    size_t  n;

    if (bytes <= sizeof(lava_inflight_table_t)) {
        return 0;
    }

    n = (bytes - sizeof(lava_inflight_table_t)) / sizeof(lava_inflight_rec_t);

    return n >= LAVA_INFLIGHT_NIL ? LAVA_INFLIGHT_NIL - 1 : (uint32_t) n;
}


lava_inflight_table_t *
lava_inflight_init(void *mem, uint32_t n)
{
    uint32_t                i;
    lava_inflight_table_t  *t = mem;

    if (n == 0 || n >= LAVA_INFLIGHT_NIL) {
        return NULL;
    }

    memset(t, 0, sizeof(lava_inflight_table_t));
    t->nslots = n;

    /* lowest slots first: the used ones stay below a low water mark that
     * the scan does not look past */
    for (i = 0; i < n; i++) {
        t->slot[i].state = LAVA_INFLIGHT_FREE;
        t->slot[i].gen = 0;
        t->slot[i].next = (i + 1 < n) ? i + 1 : LAVA_INFLIGHT_NIL;
    }

    t->free = 0;

    return t;
}


lava_inflight_rec_t *
lava_inflight_claim(lava_inflight_table_t *t,
    const lava_inflight_owner_t *owner, lava_inflight_ref_t *ref)
{
    uint32_t              idx, gen, next;
    lava_inflight_rec_t  *r;

    idx = t->free;

    if (idx >= t->nslots) {
        t->full++;
        ref->idx = LAVA_INFLIGHT_NIL;
        ref->gen = 0;
        return NULL;
    }

    r = &t->slot[idx];
    next = r->next;

    /* generation 0 is "no record" */
    gen = ++t->gen;
    if (gen == 0) {
        gen = ++t->gen;
    }

    memset(r, 0, sizeof(lava_inflight_rec_t));
    r->gen = gen;
    r->next = LAVA_INFLIGHT_NIL;
    r->owner = *owner;
    r->ttfb_ms = -1;
    r->character_cost = -1;
    r->state = LAVA_INFLIGHT_LIVE;

    t->free = next;
    t->used++;
    t->claimed++;

    if (idx >= t->hwm) {
        t->hwm = idx + 1;
    }

    ref->idx = idx;
    ref->gen = gen;

    return r;
}


lava_inflight_rec_t *
lava_inflight_get(lava_inflight_table_t *t, lava_inflight_ref_t ref)
{
    lava_inflight_rec_t  *r;

    if (t == NULL || ref.gen == 0 || ref.idx >= t->nslots) {
        return NULL;
    }

    r = &t->slot[ref.idx];

    if (r->gen != ref.gen || r->state == LAVA_INFLIGHT_FREE) {
        return NULL;
    }

    return r;
}


int
lava_inflight_release(lava_inflight_table_t *t, lava_inflight_ref_t ref)
{
    lava_inflight_rec_t  *r;

    r = lava_inflight_get(t, ref);
    if (r == NULL) {
        return 0;
    }

    r->state = LAVA_INFLIGHT_FREE;
    r->next = t->free;
    t->free = ref.idx;
    t->used--;

    /* the mark comes down as the top slots are freed: the scan looks at
     * the slots below it only */
    if (ref.idx + 1 == t->hwm) {
        while (t->hwm && t->slot[t->hwm - 1].state == LAVA_INFLIGHT_FREE) {
            t->hwm--;
        }
    }

    return 1;
}


static int
lava_inflight_same(const lava_inflight_owner_t *a,
    const lava_inflight_owner_t *b)
{
    return a->pid == b->pid && a->start == b->start;
}


size_t
lava_inflight_owners(const lava_inflight_table_t *t,
    const lava_inflight_owner_t *self, lava_inflight_owner_t *out,
    size_t max)
{
    size_t                      n, k;
    uint32_t                    i;
    const lava_inflight_rec_t  *r;

    n = 0;

    for (i = 0; i < t->hwm && n < max; i++) {
        r = &t->slot[i];

        if (r->state == LAVA_INFLIGHT_FREE || lava_inflight_same(&r->owner, self))
        {
            continue;
        }

        for (k = 0; k < n; k++) {
            if (lava_inflight_same(&out[k], &r->owner)) {
                break;
            }
        }

        if (k == n) {
            out[n++] = r->owner;
        }
    }

    return n;
}


size_t
lava_inflight_take(lava_inflight_table_t *t,
    const lava_inflight_owner_t *dead, const lava_inflight_owner_t *self,
    lava_inflight_ref_t *refs, size_t max)
{
    size_t                n;
    uint32_t              i;
    lava_inflight_rec_t  *r;

    n = 0;

    for (i = 0; i < t->hwm && n < max; i++) {
        r = &t->slot[i];

        if (r->state == LAVA_INFLIGHT_FREE || !lava_inflight_same(&r->owner, dead))
        {
            continue;
        }

        r->owner = *self;
        r->taken++;
        t->taken++;

        refs[n].idx = i;
        refs[n].gen = r->gen;
        n++;
    }

    return n;
}


lava_source_e
lava_inflight_usage(const lava_inflight_rec_t *r, lava_usage_t *u,
    unsigned *tap_flags, unsigned *meter_flags, int64_t *status)
{
    unsigned          flags;
    lava_source_e     src;
    lava_request_t    rq;
    lava_meter_in_t   in;

    memset(u, 0, sizeof(lava_usage_t));
    u->buckets = r->usage;
    *tap_flags = r->tap_flags;

    if (r->state == LAVA_INFLIGHT_DONE) {
        /* the event was built: its usage as it was */
        *meter_flags = r->done_meter_flags | LAVA_METER_F_WORKER_LOST;
        *status = r->done_status;
        return (lava_source_e) r->done_source;
    }

    u->seen = r->usage_seen;
    u->final = r->usage_final;
    u->error_event = r->error_event;

    memset(&rq, 0, sizeof(lava_request_t));
    rq.parsed = r->rq_parsed;
    rq.n = r->rq_n;
    rq.characters = r->rq_characters;
    rq.text_bytes = r->rq_text_bytes;
    rq.max_output = r->rq_max_output;
    rq.model_default = r->rq_model_default;

    memset(&in, 0, sizeof(lava_meter_in_t));
    in.ep = (lava_endpoint_e) r->ep;
    in.fmt = (lava_usage_format_e) r->fmt;
    in.rq = &rq;
    in.request_bytes = r->request_bytes > 0 ? (size_t) r->request_bytes : 0;
    in.status = (r->status > 0 && r->status < 1000) ? (unsigned) r->status : 0;
    in.complete = 0;
    /* nobody reads the answer any more: what the provider may have spent
     * is what an abandoned answer costs (the abort rule) */
    in.abandoned = 1;
    in.request_sent = 1;
    in.content_bytes = r->content_bytes > 0 ? (size_t) r->content_bytes : 0;
    in.character_cost = r->character_cost;

    if (!r->usage_seen
        && (r->tap_flags & (LAVA_TAP_F_COMPRESSED
                            | LAVA_TAP_F_BODY_IN_FILE))
        && r->bytes_out > r->content_bytes)
    {
        /* the text was not readable: its size on the wire bounds it (as
         * ngx_http_lava_meter() does) */
        in.content_bytes = (size_t) r->bytes_out;
    }

    flags = 0;
    src = lava_meter_finish(u, &in, &flags);

    *meter_flags = flags | LAVA_METER_F_WORKER_LOST;
    *status = (r->status >= LAVA_EVENT_STATUS_MIN
               && r->status <= LAVA_EVENT_STATUS_MAX) ? r->status : 500;

    return src;
}


size_t
lava_inflight_copy(char *dst, size_t size, const char *s, size_t n)
{
    if (size == 0) {
        return 0;
    }

    if (n >= size) {
        n = size - 1;

        /* not in the middle of a UTF-8 sequence */
        while (n && ((unsigned char) s[n] & 0xc0) == 0x80) {
            n--;
        }
    }

    if (n) {
        memcpy(dst, s, n);
    }

    dst[n] = '\0';

    return n;
}


int
lava_inflight_proc_stat(const char *text, size_t n, char *state,
    uint64_t *start)
{
    size_t    i, field;
    uint64_t  v;

    /* "pid (comm) S ppid ...": comm may hold spaces and parentheses, so the
     * fields start after the last ')' */
    i = n;
    while (i && text[i - 1] != ')') {
        i--;
    }

    if (i == 0 || i + 2 >= n || text[i] != ' ') {
        return -1;
    }

    i++;
    *state = text[i];

    /* field 3 is the state; the start time is field 22 */
    field = 3;

    while (field < 22) {
        while (i < n && text[i] != ' ') {
            i++;
        }

        if (i >= n) {
            return -1;
        }

        i++;
        field++;
    }

    v = 0;

    if (i >= n || text[i] < '0' || text[i] > '9') {
        return -1;
    }

    while (i < n && text[i] >= '0' && text[i] <= '9') {
        if (v > (UINT64_MAX - 9) / 10) {
            return -1;
        }

        v = v * 10 + (uint64_t) (text[i] - '0');
        i++;
    }

    *start = v;

    return 0;
}
