/*
 * Stream translation (lib/lava_xlate_stream.c): a provider's SSE body into
 * the client's SSE shape.
 * Input: one control byte (bits 0-1 provider format, bits 2-3 client
 * format, both mod 3; bit 4 LAVA_XLATE_STREAM_NO_USAGE), then the stream.
 * The stream is translated three times, whole and cut into small feeds
 * with the scanner fast path on (lib/lava_xlate_stream_fast.c), and whole
 * with it off (every event decoded by jansson): all give the same bytes,
 * return codes, completeness and error; every client event is a JSON object
 * (or OpenAI's [DONE], last), a failure is reported once with a message and
 * sticks.
 */
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "lava_sse.h"
#include "lava_xlate_stream.h"

typedef struct {
    lava_xlate_buf_t  out;
    int               rc;
    int               complete;
    char              err[200];
} result_t;


static void
translate(lava_fmt_e from, lava_fmt_e to, unsigned opts, const uint8_t *p,
    size_t n, int split, int fast, result_t *r)
{
    lava_xlate_stream_t  *s;
    uint32_t              st = (uint32_t) n * 2654435761u;
    size_t                k, before;
    int                   rc;
    const char           *e;

    memset(r, 0, sizeof(*r));
    lava_xlate_stream_fast_on = fast;

    s = lava_xlate_stream_new(from, to, (opts & 1) ? NULL : "client-model");
    FUZZ_CHECK(s != NULL, "new");
    lava_xlate_stream_set_opts(s, opts);
    lava_xlate_stream_set_created(s, 1765100000);

    while (n) {
        k = split ? fuzz_next_cut(&st, n) : n;
        before = r->out.len;
        rc = lava_xlate_stream_feed(s, (const char *) p, k, &r->out);

        if (r->rc) {
            /* sticky: nothing more after the failure */
            FUZZ_CHECK(rc == -1 && r->out.len == before, "failure not sticky");
        }

        r->rc = r->rc ? r->rc : rc;
        p += k;
        n -= k;
    }

    before = r->out.len;
    rc = lava_xlate_stream_finish(s, &r->out);
    if (r->rc) {
        FUZZ_CHECK(rc == -1 && r->out.len == before, "finish not sticky");
    }
    r->rc = r->rc ? r->rc : rc;

    e = lava_xlate_stream_error(s);
    FUZZ_CHECK((r->rc == -1) == (e != NULL), "error message iff failure");
    if (e != NULL) {
        FUZZ_CHECK(strlen(e) < sizeof(r->err), "error message length");
        strcpy(r->err, e);
    }

    r->complete = lava_xlate_stream_complete(s);
    lava_xlate_stream_free(s);
    lava_xlate_stream_fast_on = 1;
}


typedef struct {
    lava_fmt_e  to;
    int         done;
    unsigned    events;
} check_t;


static int
on_event(void *data, const char *event, size_t event_len, const char *p,
    size_t n)
{
    check_t       *k = data;
    json_t        *o;
    json_error_t   jerr;

    FUZZ_CHECK(!k->done, "an event after [DONE]");
    k->events++;

    if (k->to == LAVA_FMT_OPENAI && n == 6 && memcmp(p, "[DONE]", 6) == 0) {
        k->done = 1;
        return 0;
    }

    o = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    FUZZ_CHECK(json_is_object(o), "a client event is not a JSON object");

    if (k->to == LAVA_FMT_ANTHROPIC) {
        json_t  *t = json_object_get(o, "type");

        FUZZ_CHECK(json_is_string(t) && json_string_length(t) == event_len
                   && memcmp(json_string_value(t), event, event_len) == 0,
                   "an Anthropic event's name is not its type");
    } else {
        FUZZ_CHECK(event_len == 0, "an event name outside Anthropic");
    }

    json_decref(o);
    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lava_fmt_e  from, to;
    unsigned    opts;
    result_t    whole, cut, slow;
    check_t     k;
    lava_sse_t  sse;

    if (size < 1) {
        return 0;
    }

    from = (lava_fmt_e) ((data[0] & 3) % 3);
    to = (lava_fmt_e) (((data[0] >> 2) & 3) % 3);
    opts = (data[0] >> 4) & 1;

    translate(from, to, opts, data + 1, size - 1, 0, 1, &whole);
    translate(from, to, opts, data + 1, size - 1, 1, 1, &cut);
    translate(from, to, opts, data + 1, size - 1, 0, 0, &slow);

    FUZZ_CHECK(whole.rc == cut.rc, "split changed the result");
    FUZZ_CHECK(whole.complete == cut.complete, "split changed completeness");
    FUZZ_CHECK(strcmp(whole.err, cut.err) == 0, "split changed the error");
    FUZZ_CHECK(whole.out.len == cut.out.len
               && (whole.out.len == 0
                   || memcmp(whole.out.data, cut.out.data, whole.out.len) == 0),
               "split changed the client bytes");

    FUZZ_CHECK(whole.rc == slow.rc, "the fast path changed the result");
    FUZZ_CHECK(whole.complete == slow.complete,
               "the fast path changed completeness");
    FUZZ_CHECK(strcmp(whole.err, slow.err) == 0,
               "the fast path changed the error");
    FUZZ_CHECK(whole.out.len == slow.out.len
               && (whole.out.len == 0
                   || memcmp(whole.out.data, slow.out.data, whole.out.len)
                      == 0),
               "the fast path changed the client bytes");

    if (from == to) {
        FUZZ_CHECK(whole.out.len == size - 1
                   && (size == 1
                       || memcmp(whole.out.data, data + 1, size - 1) == 0),
                   "same format is not a pass-through");

    } else {
        memset(&k, 0, sizeof(k));
        k.to = to;
        lava_sse_init(&sse, 16 * 1024 * 1024, on_event, &k);
        FUZZ_CHECK(lava_sse_feed(&sse, whole.out.data ? whole.out.data : "",
                                 whole.out.len) == LAVA_SSE_OK, "rescan");
        FUZZ_CHECK(lava_sse_finish(&sse) == LAVA_SSE_OK, "rescan finish");
        FUZZ_CHECK(sse.skipped == 0, "a client event over the rescan bound");
        lava_sse_free(&sse);

        FUZZ_CHECK(whole.rc == 0 || k.events > 0,
                   "a failure not told to the client");
    }

    free(whole.out.data);
    free(cut.out.data);
    free(slow.out.data);
    return 0;
}
