/*
 * Stream translation (lib/lava_xlate_stream.c): golden provider streams
 * translated into each other client format and compared byte for byte with
 * t/fixtures/xlate/stream/<stem>.<client>.out, fed whole, split at every
 * byte offset, byte by byte and with CRLF, CR and mixed line ends
 * (fixtures are stored with LF; Gemini sends CRLF); every client event is
 * checked to be well-formed for its format. Then the failures one by one:
 * each is sticky and told to the client in its own shape.
 *
 * LAVA_XLATE_GOLDEN=write rewrites the .out files from the translator
 * (review the diff before committing it).
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "unit.h"
#include "xs_feed.h"
#include "lava_fixture.h"
#include "lava_sse.h"
#include "lava_xlate_stream.h"




#define CREATED  1765100000LL

typedef struct {
    const char  *file;          /* under t/fixtures */
    lava_fmt_e   from;
    const char  *model;         /* shown to the client, NULL: provider's */
    int          complete;      /* the provider's stream ended properly */
} xs_case_t;

static const xs_case_t  cases[] = {
    { "openai_stream_usage.sse", LAVA_FMT_OPENAI, NULL, 1 },
    { "openai_stream_nousage.sse", LAVA_FMT_OPENAI, NULL, 1 },
    { "xlate/stream/openai_tools.sse", LAVA_FMT_OPENAI, "openai/gpt-4o", 1 },
    { "xlate/stream/openai_error.sse", LAVA_FMT_OPENAI, NULL, 0 },
    { "xlate/stream/openai_reasoning.sse", LAVA_FMT_OPENAI, NULL, 1 },
    { "anthropic_stream.sse", LAVA_FMT_ANTHROPIC, NULL, 1 },
    { "anthropic/stream_error.sse", LAVA_FMT_ANTHROPIC, NULL, 0 },
    { "xlate/stream/anthropic_tools.sse", LAVA_FMT_ANTHROPIC,
      "anthropic/claude-sonnet-4-5", 1 },
    { "gemini_stream.sse", LAVA_FMT_GEMINI, NULL, 1 },
    { "google/stream_cut.sse", LAVA_FMT_GEMINI, NULL, 0 },
    { "xlate/stream/gemini_tools.sse", LAVA_FMT_GEMINI, NULL, 1 },
    { "xlate/stream/gemini_error.sse", LAVA_FMT_GEMINI, NULL, 0 },
};

#define NCASES  (int) (sizeof(cases) / sizeof(cases[0]))

static const char  *fmt_names[] = { "openai", "anthropic", "gemini" };


/* ---- running a stream ---- */

typedef struct {
    lava_xlate_buf_t  out;
    int               rc;           /* first non-zero return, or 0 */
    int               complete;
} run_t;


static lava_xlate_stream_t *
xs_new(lava_fmt_e from, lava_fmt_e to, const char *model)
{
    lava_xlate_stream_t  *s = lava_xlate_stream_new(from, to, model);

    FX_CHECK(s != NULL, "lava_xlate_stream_new");
    lava_xlate_stream_set_created(s, CREATED);
    return s;
}


/* fed in pieces: cut > 0 at that offset (two feeds), cut == 0 whole,
 * cut < 0 one byte at a time */
static void
run(const xs_case_t *c, lava_fmt_e to, const char *in, size_t n, long cut,
    run_t *r)
{
    lava_xlate_stream_t  *s = xs_new(c->from, to, c->model);

    memset(r, 0, sizeof(run_t));

    r->rc = xs_feed(s, in, n, cut, &r->out);
    r->complete = lava_xlate_stream_complete(s);
    lava_xlate_stream_free(s);
}


/* ---- well-formed client events ---- */

typedef struct {
    lava_fmt_e  to;
    int         n;
    int         done;           /* OpenAI [DONE] seen */
    int         bad;
    char        why[256];
} check_t;


static int
on_client_event(void *data, const char *event, size_t event_len,
    const char *p, size_t n)
{
    check_t       *k = data;
    json_t        *o, *t;
    json_error_t   jerr;

    k->n++;

    if (k->done) {
        snprintf(k->why, sizeof(k->why), "an event after [DONE]");
        k->bad = 1;
        return 1;
    }

    if (k->to == LAVA_FMT_OPENAI && n == 6 && memcmp(p, "[DONE]", 6) == 0) {
        k->done = 1;
        return 0;
    }

    o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o)) {
        snprintf(k->why, sizeof(k->why), "event %d: not a JSON object: %s",
                 k->n, jerr.text);
        k->bad = 1;
        json_decref(o);
        return 1;
    }

    switch (k->to) {

    case LAVA_FMT_OPENAI:
        if (event_len != 0
            || (!json_is_object(json_object_get(o, "error"))
                && (!json_is_string(json_object_get(o, "object"))
                    || !json_is_array(json_object_get(o, "choices")))))
        {
            snprintf(k->why, sizeof(k->why), "event %d: not a chunk", k->n);
            k->bad = 1;
        }
        break;

    case LAVA_FMT_ANTHROPIC:
        /* the event name is the data's type */
        t = json_object_get(o, "type");
        if (!json_is_string(t) || json_string_length(t) != event_len
            || memcmp(json_string_value(t), event, event_len) != 0)
        {
            snprintf(k->why, sizeof(k->why), "event %d: name is not type",
                     k->n);
            k->bad = 1;
        }
        break;

    default:
        if (event_len != 0
            || (!json_is_object(json_object_get(o, "error"))
                && !json_is_array(json_object_get(o, "candidates"))))
        {
            snprintf(k->why, sizeof(k->why), "event %d: not a response",
                     k->n);
            k->bad = 1;
        }
        break;
    }

    json_decref(o);
    return k->bad;
}


static void
check_client_stream(lava_fmt_e to, const char *p, size_t n, const char *name)
{
    lava_sse_t  sse;
    check_t     k;

    memset(&k, 0, sizeof(k));
    k.to = to;

    lava_sse_init(&sse, 0, on_client_event, &k);
    lava_sse_feed(&sse, p, n);
    lava_sse_finish(&sse);
    lava_sse_free(&sse);

    FX_CHECK(!k.bad, "%s -> %s: %s", name, fmt_names[to], k.why);
    FX_CHECK(k.n > 0, "%s -> %s: no client event", name, fmt_names[to]);
}


/* ---- the golden files ---- */

static void
out_name(const xs_case_t *c, lava_fmt_e to, char *buf, size_t size)
{
    char         stem[256];
    const char  *f = c->file;
    size_t       i;

    if (strncmp(f, "xlate/stream/", 13) == 0) {
        f += 13;
    }

    snprintf(stem, sizeof(stem), "%s", f);
    stem[strlen(stem) - 4] = '\0';          /* ".sse" */

    for (i = 0; stem[i]; i++) {
        if (stem[i] == '/') {
            stem[i] = '_';
        }
    }

    snprintf(buf, size, "xlate/stream/%s.%s.out", stem, fmt_names[to]);
}


static void
golden_write(const char *name, const char *p, size_t n)
{
    char   path[1024];
    FILE  *f;

    snprintf(path, sizeof(path), "%s/%s", fx_dir(), name);
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}


static void
same_bytes(const run_t *r, const char *want, size_t want_len,
    const char *what, const char *name, long cut)
{
    size_t  i;

    if (r->out.len == want_len && memcmp(r->out.data, want, want_len) == 0) {
        return;
    }

    for (i = 0; i < r->out.len && i < want_len
                && r->out.data[i] == want[i]; i++)
    {
        /* void */
    }

    ck_abort_msg("%s (%s, cut %ld): output differs from the golden file "
                 "at byte %zu (%zu bytes, want %zu)", name, what, cut, i,
                 r->out.len, want_len);
}


START_TEST(test_golden)
{
    const xs_case_t  *c = &cases[_i / 3];
    lava_fmt_e        to = (lava_fmt_e) (_i % 3);
    char              name[512];
    char             *in, *want, *crlf;
    size_t            n, want_len, crlf_len;
    long              cut;
    int               eol;
    run_t             whole, r;

    static const char  *eol_names[] = { "LF", "CRLF", "CR", "mixed" };
    const char       *gw = getenv("LAVA_XLATE_GOLDEN");

    if (to == c->from) {
        return;                 /* test_same_format */
    }

    in = fx_read(c->file, &n);
    out_name(c, to, name, sizeof(name));

    run(c, to, in, n, 0, &whole);
    ck_assert_msg(whole.rc == 0, "%s -> %s: rc %d", c->file, fmt_names[to],
                  whole.rc);
    ck_assert_int_eq(whole.complete, c->complete);
    check_client_stream(to, whole.out.data, whole.out.len, c->file);

    if (gw != NULL && strcmp(gw, "write") == 0) {
        golden_write(name, whole.out.data, whole.out.len);
    }

    want = fx_read(name, &want_len);
    same_bytes(&whole, want, want_len, "whole", name, 0);

    for (cut = 1; cut < (long) n; cut++) {
        run(c, to, in, n, cut, &r);
        FX_CHECK(r.rc == 0, "%s: rc %d at cut %ld", name, r.rc, cut);
        same_bytes(&r, want, want_len, "split", name, cut);
        free(r.out.data);
    }

    run(c, to, in, n, -1, &r);
    same_bytes(&r, want, want_len, "byte by byte", name, -1);
    free(r.out.data);

    for (eol = 1; eol <= 3; eol++) {
        crlf = fx_eol(in, n, eol, &crlf_len);

        run(c, to, crlf, crlf_len, 0, &r);
        same_bytes(&r, want, want_len, eol_names[eol], name, 0);
        free(r.out.data);

        run(c, to, crlf, crlf_len, -1, &r);
        same_bytes(&r, want, want_len, eol_names[eol], name, -1);
        free(r.out.data);

        free(crlf);
    }
    free(whole.out.data);
    free(want);
    free(in);
}
END_TEST


/* ---- same format: the bytes go through ---- */

START_TEST(test_same_format)
{
    const xs_case_t  *c = &cases[_i];
    char             *in;
    size_t            n;
    run_t             r;

    in = fx_read(c->file, &n);

    run(c, c->from, in, n, (long) n / 3, &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.out.len, n);
    ck_assert(memcmp(r.out.data, in, n) == 0);

    free(r.out.data);
    free(in);
}
END_TEST


/* ---- out NULL: the bytes kept for lava_xlate_stream_take ---- */

/* fed in pieces of 7 bytes with out NULL, taken after every call (as the
 * module's filter does), the same bytes as the golden run; a failure's
 * event is kept like any other and nothing follows it */
START_TEST(test_take)
{
    const xs_case_t      *c = &cases[_i / 3];
    lava_fmt_e            to = (lava_fmt_e) (_i % 3);
    lava_xlate_stream_t  *s;
    run_t                 whole;
    char                 *in, *got;
    const char           *p;
    size_t                n, i, k, len, got_len;
    int                   rc, first;

    in = fx_read(c->file, &n);
    run(c, to, in, n, 0, &whole);

    s = xs_new(c->from, to, c->model);
    got = malloc(whole.out.len + n + 1);
    ck_assert_ptr_nonnull(got);
    got_len = 0;
    first = 0;

    for (i = 0; i <= n; i += k) {
        k = n - i < 7 ? n - i : 7;
        rc = i < n ? lava_xlate_stream_feed(s, in + i, k, NULL)
                   : lava_xlate_stream_finish(s, NULL);
        first = first ? first : rc;

        p = lava_xlate_stream_take(s, &len);
        memcpy(got + got_len, p, len);
        got_len += len;

        /* taken: nothing left for a second take */
        (void) lava_xlate_stream_take(s, &len);
        ck_assert_uint_eq(len, 0);

        if (i == n) {
            break;
        }
    }

    ck_assert_int_eq(first, whole.rc);
    ck_assert_msg(got_len == whole.out.len
                  && memcmp(got, whole.out.data, got_len) == 0,
                  "%s -> %s: kept and taken bytes differ from the appended "
                  "ones", c->file, fmt_names[to]);

    lava_xlate_stream_free(s);
    free(got);
    free(whole.out.data);
    free(in);
}
END_TEST


START_TEST(test_take_failure)
{
    static const char     in[] = "data: {\"choices\":[{\"delta\":"
                                 "{\"content\":\"Hi\"}}]}\n\ndata: {nope\n\n";
    lava_xlate_stream_t  *s = xs_new(LAVA_FMT_OPENAI, LAVA_FMT_ANTHROPIC,
                                     NULL);
    const char           *p;
    size_t                len;

    ck_assert_int_eq(lava_xlate_stream_feed(s, in, sizeof(in) - 1, NULL), -1);
    p = lava_xlate_stream_take(s, &len);
    ck_assert_msg(len > 0 && strstr(p, "\"Hi\"") != NULL
                  && strstr(p, "event: error\n") != NULL
                  && strstr(p, "stream translation failed: ") != NULL,
                  "%.*s", (int) len, p);

    ck_assert_int_eq(lava_xlate_stream_feed(s, "data: {}\n\n", 10, NULL), -1);
    ck_assert_int_eq(lava_xlate_stream_finish(s, NULL), -1);
    (void) lava_xlate_stream_take(s, &len);
    ck_assert_uint_eq(len, 0);

    lava_xlate_stream_free(s);
}
END_TEST


/* ---- failures ---- */

static lava_xlate_stream_t *
fail_stream(lava_fmt_e from, lava_fmt_e to, const char *in, run_t *r)
{
    lava_xlate_stream_t  *s = xs_new(from, to, NULL);

    memset(r, 0, sizeof(run_t));
    r->rc = lava_xlate_stream_feed(s, in, strlen(in), &r->out);
    return s;
}


/* the failure was told once, in the client's shape, and stays */
static void
check_sticky(lava_xlate_stream_t *s, run_t *r, lava_fmt_e to,
    const char *what)
{
    size_t  len;
    char   *text;

    ck_assert_int_eq(r->rc, -1);
    ck_assert_ptr_nonnull(lava_xlate_stream_error(s));
    ck_assert_msg(strstr(lava_xlate_stream_error(s), what) != NULL,
                  "error \"%s\" does not name \"%s\"",
                  lava_xlate_stream_error(s), what);

    text = strndup(r->out.data, r->out.len);
    ck_assert_msg(strstr(text, "stream translation failed: ") != NULL,
                  "no client error event in: %s", text);

    switch (to) {
    case LAVA_FMT_OPENAI:
        ck_assert(strstr(text, "data: {\"error\":{\"message\":") != NULL);
        ck_assert(strstr(text, "\"type\":\"server_error\"") != NULL);
        break;
    case LAVA_FMT_ANTHROPIC:
        ck_assert(strstr(text, "event: error\ndata: {\"type\":\"error\","
                               "\"error\":{\"type\":\"api_error\"") != NULL);
        break;
    default:
        ck_assert(strstr(text, "data: {\"error\":{\"code\":500,") != NULL);
        ck_assert(strstr(text, "\"status\":\"INTERNAL\"") != NULL);
        break;
    }

    check_client_stream(to, r->out.data, r->out.len, what);
    free(text);

    /* sticky: nothing more is written */
    len = r->out.len;
    ck_assert_int_eq(lava_xlate_stream_feed(s, "data: {}\n\n", 10, &r->out),
                     -1);
    ck_assert_int_eq(lava_xlate_stream_finish(s, &r->out), -1);
    ck_assert_uint_eq(r->out.len, len);

    lava_xlate_stream_free(s);
    free(r->out.data);
}


START_TEST(test_not_json)
{
    lava_fmt_e            to = (lava_fmt_e) _i;
    lava_fmt_e            from = to == LAVA_FMT_ANTHROPIC ? LAVA_FMT_OPENAI
                                                          : LAVA_FMT_ANTHROPIC;
    lava_xlate_stream_t  *s;
    run_t                 r;

    s = fail_stream(from, to,
        from == LAVA_FMT_OPENAI
        ? "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,"
          "\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: {nope\n\n"
        : "event: message_start\ndata: {\"type\":\"message_start\",\"message\""
          ":{\"id\":\"msg_1\",\"model\":\"m\",\"usage\":{\"input_tokens\":3}}}"
          "\n\nevent: content_block_start\ndata: [1,2]\n\n", &r);

    check_sticky(s, &r, to, "not a JSON object");
}
END_TEST


START_TEST(test_event_over_limit)
{
    lava_xlate_stream_t  *s = xs_new(LAVA_FMT_ANTHROPIC, LAVA_FMT_OPENAI,
                                     NULL);
    size_t                n = LAVA_XLATE_STREAM_MAX_EVENT + 100;
    char                 *big = malloc(n + 8);
    run_t                 r;

    memset(&r, 0, sizeof(r));
    memcpy(big, "data: {\"", 8);
    memset(big + 8, 'a', n - 8);
    r.rc = lava_xlate_stream_feed(s, big, n, &r.out);
    ck_assert_int_eq(r.rc, 0);          /* not over until it ends */
    r.rc = lava_xlate_stream_feed(s, "\n\n", 2, &r.out);

    check_sticky(s, &r, LAVA_FMT_OPENAI, "over the size limit");
    free(big);
}
END_TEST


START_TEST(test_second_choice)
{
    lava_xlate_stream_t  *s;
    run_t                 r;

    s = fail_stream(LAVA_FMT_OPENAI, LAVA_FMT_ANTHROPIC,
        "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":1,"
        "\"delta\":{\"content\":\"Hi\"}}]}\n\n", &r);
    check_sticky(s, &r, LAVA_FMT_ANTHROPIC, "second choice");

    s = fail_stream(LAVA_FMT_GEMINI, LAVA_FMT_OPENAI,
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},"
        "\"index\":1}]}\n\n", &r);
    check_sticky(s, &r, LAVA_FMT_OPENAI, "second candidate");
}
END_TEST


/* OpenAI tool calls whose deltas interleave cannot become Anthropic blocks */
START_TEST(test_args_out_of_order)
{
    lava_xlate_stream_t  *s;
    run_t                 r;

    s = fail_stream(LAVA_FMT_OPENAI, (lava_fmt_e) (_i + 1),
        "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,"
        "\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\","
        "\"function\":{\"name\":\"f\",\"arguments\":\"\"}},{\"index\":1,"
        "\"id\":\"call_b\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\""
        "}}]}}]}\n\n"
        "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,"
        "\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
        "{\"arguments\":\"{}\"}}]}}]}\n\n", &r);
    check_sticky(s, &r, (lava_fmt_e) (_i + 1), "out of order");
}
END_TEST


/* a Gemini functionCall needs an object; found when the call ends */
START_TEST(test_args_not_object)
{
    lava_xlate_stream_t  *s;
    run_t                 r;
    const char           *stop;

    s = fail_stream(LAVA_FMT_ANTHROPIC, LAVA_FMT_GEMINI,
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
        "{\"id\":\"msg_1\",\"model\":\"m\"}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\","
        "\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\","
        "\"name\":\"f\",\"input\":{}}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":0,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"[1,\"}}\n\n", &r);
    ck_assert_int_eq(r.rc, 0);          /* held until the call ends */
    ck_assert_uint_eq(r.out.len, 0);

    stop = "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
           "\"index\":0}\n\n";
    r.rc = lava_xlate_stream_feed(s, stop, strlen(stop), &r.out);
    check_sticky(s, &r, LAVA_FMT_GEMINI, "not a JSON object");
}
END_TEST


/* an OpenAI client that did not ask for usage gets no usage chunk */
START_TEST(test_no_usage_chunk)
{
    lava_xlate_stream_t  *s = xs_new(LAVA_FMT_ANTHROPIC, LAVA_FMT_OPENAI,
                                     NULL);
    char                 *in, *text;
    size_t                n;
    lava_xlate_buf_t      out = { NULL, 0 };

    lava_xlate_stream_set_opts(s, LAVA_XLATE_STREAM_NO_USAGE);
    in = fx_read("anthropic_stream.sse", &n);

    ck_assert_int_eq(lava_xlate_stream_feed(s, in, n, &out), 0);
    ck_assert_int_eq(lava_xlate_stream_finish(s, &out), 0);

    text = strndup(out.data, out.len);
    ck_assert(strstr(text, "\"usage\"") == NULL);
    ck_assert(strstr(text, "\"finish_reason\":\"stop\"") != NULL);
    ck_assert(strstr(text, "data: [DONE]\n\n") != NULL);

    free(text);
    free(out.data);
    free(in);
    lava_xlate_stream_free(s);
}
END_TEST


/* bytes of a stream's end are written at once, before the provider closes
 * (OpenAI [DONE], Anthropic message_stop), not held for EOF */
START_TEST(test_end_without_eof)
{
    lava_xlate_stream_t  *s = xs_new(LAVA_FMT_ANTHROPIC, LAVA_FMT_OPENAI,
                                     NULL);
    char                 *in;
    size_t                n, len;
    lava_xlate_buf_t      out = { NULL, 0 };

    in = fx_read("anthropic_stream.sse", &n);
    ck_assert_int_eq(lava_xlate_stream_feed(s, in, n, &out), 0);
    ck_assert_int_eq(lava_xlate_stream_complete(s), 1);
    ck_assert(out.len > 14);
    ck_assert(memcmp(out.data + out.len - 14, "data: [DONE]\n\n", 14) == 0);

    len = out.len;
    ck_assert_int_eq(lava_xlate_stream_finish(s, &out), 0);
    ck_assert_uint_eq(out.len, len);

    free(out.data);
    free(in);
    lava_xlate_stream_free(s);
}
END_TEST


/* after a provider's error event nothing more is relayed */
START_TEST(test_after_provider_error)
{
    lava_xlate_stream_t  *s = xs_new(LAVA_FMT_ANTHROPIC, LAVA_FMT_GEMINI,
                                     NULL);
    char                 *in;
    const char           *stop;
    size_t                n, len;
    lava_xlate_buf_t      out = { NULL, 0 };

    in = fx_read("anthropic/stream_error.sse", &n);
    ck_assert_int_eq(lava_xlate_stream_feed(s, in, n, &out), 0);
    len = out.len;

    stop = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    ck_assert_int_eq(lava_xlate_stream_feed(s, stop, strlen(stop), &out), 0);
    ck_assert_int_eq(lava_xlate_stream_finish(s, &out), 0);
    ck_assert_uint_eq(out.len, len);
    ck_assert_int_eq(lava_xlate_stream_complete(s), 0);
    ck_assert_ptr_null(lava_xlate_stream_error(s));

    free(out.data);
    free(in);
    lava_xlate_stream_free(s);
}
END_TEST


/* an OpenAI-compatible stream without [DONE]: ended at EOF after its
 * finish reason; a refusal delta is text and the content filter's finish */
START_TEST(test_eof_after_finish)
{
    lava_xlate_stream_t  *s = xs_new(LAVA_FMT_OPENAI, LAVA_FMT_ANTHROPIC,
                                     NULL);
    char                 *text;
    const char           *in =
        "data: {\"id\":\"chatcmpl-9\",\"model\":\"m\",\"choices\":[{\"index\":0,"
        "\"delta\":{\"refusal\":\"I can't\"}}]}\n\n"
        "data: {\"id\":\"chatcmpl-9\",\"model\":\"m\",\"choices\":[{\"index\":0,"
        "\"delta\":{},\"finish_reason\":\"length\"}]}\n\n";
    lava_xlate_buf_t      out = { NULL, 0 };

    ck_assert_int_eq(lava_xlate_stream_feed(s, in, strlen(in), &out), 0);
    ck_assert_int_eq(lava_xlate_stream_complete(s), 0);
    text = strndup(out.data, out.len);
    ck_assert(strstr(text, "\"text_delta\",\"text\":\"I can't\"") != NULL);
    ck_assert(strstr(text, "message_stop") == NULL);
    free(text);

    ck_assert_int_eq(lava_xlate_stream_finish(s, &out), 0);
    ck_assert_int_eq(lava_xlate_stream_complete(s), 1);
    text = strndup(out.data, out.len);
    ck_assert(strstr(text, "\"stop_reason\":\"refusal\"") != NULL);
    ck_assert(strstr(text, "event: message_stop\n") != NULL);
    check_client_stream(LAVA_FMT_ANTHROPIC, out.data, out.len, "eof");

    free(text);
    free(out.data);
    lava_xlate_stream_free(s);
}
END_TEST


START_TEST(test_new_bad_format)
{
    ck_assert_ptr_null(lava_xlate_stream_new((lava_fmt_e) 3,
                                             LAVA_FMT_OPENAI, NULL));
    ck_assert_ptr_null(lava_xlate_stream_new(LAVA_FMT_OPENAI,
                                             (lava_fmt_e) -1, NULL));
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s = suite_create("xlate_stream");
    TCase  *tc;

    tc = tcase_create("golden");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_golden, 0, NCASES * 3);
    tcase_add_loop_test(tc, test_same_format, 0, NCASES);
    tcase_add_loop_test(tc, test_take, 0, NCASES * 3);
    tcase_add_test(tc, test_take_failure);
    suite_add_tcase(s, tc);

    tc = tcase_create("failures");
    tcase_add_loop_test(tc, test_not_json, 0, 3);
    tcase_add_test(tc, test_event_over_limit);
    tcase_add_test(tc, test_second_choice);
    tcase_add_loop_test(tc, test_args_out_of_order, 0, 2);
    tcase_add_test(tc, test_args_not_object);
    tcase_add_test(tc, test_no_usage_chunk);
    tcase_add_test(tc, test_end_without_eof);
    tcase_add_test(tc, test_after_provider_error);
    tcase_add_test(tc, test_eof_after_finish);
    tcase_add_test(tc, test_new_bad_format);
    suite_add_tcase(s, tc);

    return s;
}
