/*
 * SSE scanner: every fixture in every line-end variant, split at every byte
 * offset and fed byte by byte, gives the events of a whole feed; plus the
 * edge cases of the event stream format one by one.
 */

#include <check.h>

#include "unit.h"
#include "lava_sse.h"
#include "lava_fixture.h"


typedef struct {
    int      n;
    int      cap;
    char   **name;
    char   **data;
    size_t  *len;
    int      stop_after;     /* callback returns non-zero after this many */
    size_t   max_cap;        /* largest scanner buffer seen */
} events_t;


static void
events_init(events_t *e)
{
    memset(e, 0, sizeof(events_t));
    e->stop_after = -1;
}


static void
events_free(events_t *e)
{
    int  i;

    for (i = 0; i < e->n; i++) {
        free(e->name[i]);
        free(e->data[i]);
    }

    free(e->name);
    free(e->data);
    free(e->len);
    memset(e, 0, sizeof(events_t));
}


static int
on_event(void *data, const char *event, size_t event_len, const char *p,
    size_t n)
{
    events_t  *e = data;

    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->name = realloc(e->name, e->cap * sizeof(char *));
        e->data = realloc(e->data, e->cap * sizeof(char *));
        e->len = realloc(e->len, e->cap * sizeof(size_t));
    }

    FX_CHECK(strlen(event) == event_len, "event name length");

    e->name[e->n] = strndup(event, event_len);
    e->data[e->n] = malloc(n + 1);
    memcpy(e->data[e->n], p, n);
    e->data[e->n][n] = '\0';
    e->len[e->n] = n;
    e->n++;

    return (e->stop_after >= 0 && e->n >= e->stop_after) ? 1 : 0;
}


static void
events_eq(events_t *a, events_t *b, const char *what)
{
    int  i;

    FX_CHECK(a->n == b->n, "%s: %d events, expected %d", what, a->n,
                  b->n);

    for (i = 0; i < a->n; i++) {
        FX_CHECK(strcmp(a->name[i], b->name[i]) == 0,
                      "%s: event %d name \"%s\", expected \"%s\"", what, i,
                      a->name[i], b->name[i]);
        FX_CHECK(a->len[i] == b->len[i]
                      && memcmp(a->data[i], b->data[i], a->len[i]) == 0,
                      "%s: event %d data differs", what, i);
    }
}


/* feeds p in pieces cut at the given offsets, then finishes */
static void
scan(const char *p, size_t n, const size_t *cuts, int ncuts, size_t max,
    events_t *out)
{
    int         i;
    size_t      from, to;
    lava_sse_t  s;

    events_init(out);
    lava_sse_init(&s, max, on_event, out);

    from = 0;

    for (i = 0; i <= ncuts; i++) {
        to = (i < ncuts) ? cuts[i] : n;
        if (lava_sse_feed(&s, p + from, to - from) != LAVA_SSE_OK
            || s.cap > s.max_event)
        {
            ck_abort_msg("feed failed or buffer over its bound");
        }

        from = to;
    }

    FX_CHECK(lava_sse_finish(&s) == LAVA_SSE_OK, "finish failed");
    FX_CHECK(s.events == (unsigned long) out->n, "events counter");
    lava_sse_free(&s);
}


static void
scan_bytes(const char *p, size_t n, events_t *out)
{
    size_t      i;
    lava_sse_t  s;

    events_init(out);
    lava_sse_init(&s, 0, on_event, out);

    for (i = 0; i < n; i++) {
        if (lava_sse_feed(&s, p + i, 1) != LAVA_SSE_OK) {
            ck_abort_msg("feed failed at byte %zu", i);
        }
    }

    FX_CHECK(lava_sse_finish(&s) == LAVA_SSE_OK, "finish failed");
    lava_sse_free(&s);
}


START_TEST(test_fixtures_every_split)
{
    int          i, j, v, nfix;
    char         what[512], *body, *var;
    size_t       len, vlen, k;
    events_t     ref, got, expect;
    fx_expect_t  e;
    static char  names[FX_MAX_FILES][FX_NAME_MAX];

    nfix = fx_list(".sse", names);
    ck_assert_int_ge(nfix, 6);

    for (i = 0; i < nfix; i++) {
        body = fx_read(names[i], &len);
        fx_expect_load(names[i], &e);

        for (v = 0; v < FX_EOL_VARIANTS; v++) {
            var = fx_eol(body, len, v, &vlen);

            snprintf(what, sizeof(what), "%.200s %s whole", names[i],
                     fx_eol_names[v]);
            scan(var, vlen, NULL, 0, 0, &ref);

            FX_CHECK(e.events < 0 || ref.n == e.events,
                          "%s: %d events, expected %ld", what, ref.n,
                          e.events);

            if (e.nev) {
                events_init(&expect);
                for (j = 0; j < e.nev; j++) {
                    on_event(&expect, e.ev_name[j], strlen(e.ev_name[j]),
                             e.ev_data[j], strlen(e.ev_data[j]));
                }

                events_eq(&ref, &expect, what);
                events_free(&expect);
            }

            for (k = 0; k <= vlen; k++) {
                snprintf(what, sizeof(what), "%.200s %s split at %zu", names[i],
                         fx_eol_names[v], k);
                scan(var, vlen, &k, 1, 0, &got);
                events_eq(&got, &ref, what);
                events_free(&got);
            }

            snprintf(what, sizeof(what), "%.200s %s byte by byte", names[i],
                     fx_eol_names[v]);
            scan_bytes(var, vlen, &got);
            events_eq(&got, &ref, what);
            events_free(&got);

            events_free(&ref);
            free(var);
        }

        fx_expect_free(&e);
        free(body);
    }
}
END_TEST


/* one whole feed of a string literal */
static void
scan_str(const char *s, events_t *out)
{
    scan(s, strlen(s), NULL, 0, 0, out);
}


START_TEST(test_cr_lf_split_across_feeds)
{
    size_t       cut;
    events_t     ev;
    const char  *s = "data: a\r\ndata: b\r\n\r\n";

    /* cut between the CR and the LF of each line end: still one event,
     * the LF must not count as a second (blank) line */
    for (cut = 0; cut <= strlen(s); cut++) {
        scan(s, strlen(s), &cut, 1, 0, &ev);
        ck_assert_int_eq(ev.n, 1);
        ck_assert_str_eq(ev.data[0], "a\nb");
        events_free(&ev);
    }
}
END_TEST


START_TEST(test_line_endings)
{
    events_t  ev;

    scan_str("data: lf\n\ndata: crlf\r\n\r\ndata: cr\r\rdata: mixed\r\n\n", &ev);
    ck_assert_int_eq(ev.n, 4);
    ck_assert_str_eq(ev.data[0], "lf");
    ck_assert_str_eq(ev.data[1], "crlf");
    ck_assert_str_eq(ev.data[2], "cr");
    ck_assert_str_eq(ev.data[3], "mixed");
    events_free(&ev);

    /* CR CR is two line ends: a blank line */
    scan_str("data: x\r\rdata: y\r\r", &ev);
    ck_assert_int_eq(ev.n, 2);
    events_free(&ev);

    /* LF CR: two line ends too */
    scan_str("data: x\n\rdata: y\n\r", &ev);
    ck_assert_int_eq(ev.n, 2);
    events_free(&ev);
}
END_TEST


START_TEST(test_fields)
{
    events_t  ev;

    /* one leading space removed, not two; none needed */
    scan_str("data:  two\ndata:none\ndata: one\n\n", &ev);
    ck_assert_int_eq(ev.n, 1);
    ck_assert_str_eq(ev.data[0], " two\nnone\none");
    events_free(&ev);

    /* "data" without a colon is an empty data line */
    scan_str("data\n\n", &ev);
    ck_assert_int_eq(ev.n, 1);
    ck_assert_uint_eq(ev.len[0], 0);
    events_free(&ev);

    scan_str("data: a\ndata\ndata: b\n\n", &ev);
    ck_assert_str_eq(ev.data[0], "a\n\nb");
    events_free(&ev);

    /* "data:" with nothing after it */
    scan_str("data:\n\n", &ev);
    ck_assert_int_eq(ev.n, 1);
    ck_assert_str_eq(ev.data[0], "");
    events_free(&ev);

    /* colons in the value stay */
    scan_str("data: a:b: c\n\n", &ev);
    ck_assert_str_eq(ev.data[0], "a:b: c");
    events_free(&ev);

    /* event names; the last event line wins; reset after dispatch */
    scan_str("event: one\nevent: two\ndata: x\n\ndata: y\n\n", &ev);
    ck_assert_int_eq(ev.n, 2);
    ck_assert_str_eq(ev.name[0], "two");
    ck_assert_str_eq(ev.name[1], "");
    events_free(&ev);

    /* "event" without colon clears the name */
    scan_str("event: one\nevent\ndata: x\n\n", &ev);
    ck_assert_str_eq(ev.name[0], "");
    events_free(&ev);

    /* an event name without data dispatches nothing and is forgotten */
    scan_str("event: lonely\n\ndata: x\n\n", &ev);
    ck_assert_int_eq(ev.n, 1);
    ck_assert_str_eq(ev.name[0], "");
    events_free(&ev);

    /* names are field names exactly: "Data", "datax", " data" are unknown */
    scan_str("Data: a\ndatax: b\n data: c\nid: 1\nretry: 5\ndata: d\n\n", &ev);
    ck_assert_int_eq(ev.n, 1);
    ck_assert_str_eq(ev.data[0], "d");
    events_free(&ev);

    /* a field name longer than the name buffer whose start is "data" */
    scan_str("dataaaaaaaaaaaaaaaaaaaaaaaaaaaaa: no\ndata: yes\n\n", &ev);
    ck_assert_str_eq(ev.data[0], "yes");
    events_free(&ev);
}
END_TEST


START_TEST(test_event_name_cut)
{
    int       i;
    char      s[256];
    events_t  ev;

    strcpy(s, "event: ");
    for (i = 0; i < 100; i++) {
        strcat(s, "n");
    }

    strcat(s, "\ndata: x\n\n");
    scan_str(s, &ev);
    ck_assert_int_eq(ev.n, 1);
    ck_assert_uint_eq(strlen(ev.name[0]), 63);
    events_free(&ev);
}
END_TEST


START_TEST(test_comments_and_blank_lines)
{
    events_t  ev;

    scan_str(": hello\n:\n\n\n\n: data: no\ndata: yes\n: mid\n\n\n", &ev);
    ck_assert_int_eq(ev.n, 1);
    ck_assert_str_eq(ev.data[0], "yes");
    events_free(&ev);

    scan_str("\n\n\r\n\r\r", &ev);
    ck_assert_int_eq(ev.n, 0);
    events_free(&ev);
}
END_TEST


START_TEST(test_no_blank_line_between_events)
{
    events_t  ev;

    /* spec: data lines before the blank line belong to one event */
    scan_str("data: {\"a\":1}\ndata: {\"b\":2}\n\n", &ev);
    ck_assert_int_eq(ev.n, 1);
    ck_assert_str_eq(ev.data[0], "{\"a\":1}\n{\"b\":2}");
    events_free(&ev);
}
END_TEST


START_TEST(test_pending_at_finish)
{
    events_t  ev;

    /* no line end at all */
    scan_str("data: last", &ev);
    ck_assert_int_eq(ev.n, 1);
    ck_assert_str_eq(ev.data[0], "last");
    events_free(&ev);

    /* line end but no blank line; CR alone at the very end */
    scan_str("event: e\ndata: a\r", &ev);
    ck_assert_int_eq(ev.n, 1);
    ck_assert_str_eq(ev.name[0], "e");
    ck_assert_str_eq(ev.data[0], "a");
    events_free(&ev);

    /* a comment at the end is not an event */
    scan_str("data: a\n\n: bye", &ev);
    ck_assert_int_eq(ev.n, 1);
    events_free(&ev);

    /* "data" without colon at the very end */
    scan_str("data", &ev);
    ck_assert_int_eq(ev.n, 1);
    ck_assert_str_eq(ev.data[0], "");
    events_free(&ev);
}
END_TEST


START_TEST(test_finish_idempotent)
{
    events_t    ev;
    lava_sse_t  s;

    events_init(&ev);
    lava_sse_init(&s, 0, on_event, &ev);
    lava_sse_feed(&s, "data: a", 7);
    ck_assert_int_eq(lava_sse_finish(&s), LAVA_SSE_OK);
    ck_assert_int_eq(lava_sse_finish(&s), LAVA_SSE_OK);
    ck_assert_int_eq(ev.n, 1);
    lava_sse_free(&s);
    lava_sse_free(&s);
    events_free(&ev);
}
END_TEST


START_TEST(test_bom)
{
    size_t       cut;
    events_t     ev;
    const char  *s = "\xEF\xBB\xBF" "data: x\n\n";

    for (cut = 0; cut <= strlen(s); cut++) {
        scan(s, strlen(s), &cut, 1, 0, &ev);
        ck_assert_int_eq(ev.n, 1);
        ck_assert_str_eq(ev.data[0], "x");
        events_free(&ev);
    }

    /* only at the very start; a partial BOM is part of a field name */
    scan_str("\xEF\xBB" "data: x\n\ndata: y\n\n", &ev);
    ck_assert_int_eq(ev.n, 1);
    ck_assert_str_eq(ev.data[0], "y");
    events_free(&ev);

    scan_str("\xEF" "data: x\n\ndata: y\n\n", &ev);
    ck_assert_int_eq(ev.n, 1);
    ck_assert_str_eq(ev.data[0], "y");
    events_free(&ev);

    scan_str("data: a\n\n\xEF\xBB\xBF" "data: b\n\n", &ev);
    ck_assert_int_eq(ev.n, 1);
    ck_assert_str_eq(ev.data[0], "a");
    events_free(&ev);
}
END_TEST


START_TEST(test_huge_event_skipped)
{
    int          i, pass;
    char        *big, *s;
    size_t       n, off, step;
    events_t     ev;
    lava_sse_t   sc;

    /* 3 MB event against a 4 KiB bound, between two small ones */
    n = 3 * 1024 * 1024;
    big = malloc(n + 256);
    s = big;
    s += sprintf(s, "data: before\n\ndata: ");
    memset(s, 'x', n - 64);
    s += n - 64;
    s += sprintf(s, "\ndata: more\n\nevent: e\ndata: after\n\n");
    n = s - big;

    for (pass = 0; pass < 3; pass++) {
        step = pass == 0 ? n : pass == 1 ? 4096 : 7;

        events_init(&ev);
        lava_sse_init(&sc, 4096, on_event, &ev);

        for (off = 0; off < n; off += step) {
            if (lava_sse_feed(&sc, big + off, off + step > n ? n - off : step)
                != LAVA_SSE_OK || sc.cap > 4096)
            {
                ck_abort_msg("feed failed or buffer over 4096 at %zu", off);
            }
        }

        ck_assert_int_eq(lava_sse_finish(&sc), LAVA_SSE_OK);
        ck_assert_int_eq(ev.n, 2);
        ck_assert_str_eq(ev.data[0], "before");
        ck_assert_str_eq(ev.name[1], "e");
        ck_assert_str_eq(ev.data[1], "after");
        ck_assert_uint_eq(sc.skipped, 1);
        ck_assert_uint_eq(sc.events, 2);
        lava_sse_free(&sc);
        events_free(&ev);
    }

    free(big);

    /* exactly at the bound is kept; one byte more (also through the '\n'
     * joining two lines) is skipped */
    for (i = 0; i < 3; i++) {
        char  buf[64];

        events_init(&ev);
        lava_sse_init(&sc, 8, on_event, &ev);
        strcpy(buf, i == 0 ? "data: 12345678\n\n"
                    : i == 1 ? "data: 123456789\n\n"
                    : "data: 1234\ndata: 1234\n\n");
        lava_sse_feed(&sc, buf, strlen(buf));
        lava_sse_finish(&sc);
        ck_assert_int_eq(ev.n, i == 0 ? 1 : 0);
        ck_assert_uint_eq(sc.skipped, i == 0 ? 0 : 1);
        lava_sse_free(&sc);
        events_free(&ev);
    }

    /* a huge event still open at the end of the stream */
    events_init(&ev);
    lava_sse_init(&sc, 16, on_event, &ev);
    lava_sse_feed(&sc, "data: 0123456789abcdefghij", 26);
    lava_sse_finish(&sc);
    ck_assert_int_eq(ev.n, 0);
    ck_assert_uint_eq(sc.skipped, 1);
    lava_sse_free(&sc);
    events_free(&ev);
}
END_TEST


START_TEST(test_sticky_error)
{
    events_t     ev;
    lava_sse_t   s;
    const char  *p = "data: 1\n\ndata: 2\n\ndata: 3\n\n";

    events_init(&ev);
    ev.stop_after = 1;
    lava_sse_init(&s, 0, on_event, &ev);

    ck_assert_int_eq(lava_sse_feed(&s, p, strlen(p)), LAVA_SSE_ERR);
    ck_assert_int_eq(ev.n, 1);
    ck_assert_int_eq(lava_sse_feed(&s, p, strlen(p)), LAVA_SSE_ERR);
    ck_assert_int_eq(lava_sse_finish(&s), LAVA_SSE_ERR);
    ck_assert_int_eq(ev.n, 1);

    lava_sse_free(&s);
    events_free(&ev);
}
END_TEST


START_TEST(test_binary_and_nul)
{
    events_t  ev;

    /* NUL and high bytes are data like any other */
    scan("data: a\0b\xff\n\n", 12, NULL, 0, 0, &ev);
    ck_assert_int_eq(ev.n, 1);
    ck_assert_uint_eq(ev.len[0], 4);
    ck_assert(memcmp(ev.data[0], "a\0b\xff", 4) == 0);
    events_free(&ev);
}
END_TEST


START_TEST(test_many_events_one_feed)
{
    int       i;
    char     *s, *p;
    events_t  ev;

    s = malloc(20000 * 24);
    p = s;

    for (i = 0; i < 20000; i++) {
        p += sprintf(p, "data: %d\n\n", i);
    }

    scan(s, p - s, NULL, 0, 0, &ev);
    ck_assert_int_eq(ev.n, 20000);
    ck_assert_str_eq(ev.data[19999], "19999");
    events_free(&ev);
    free(s);
}
END_TEST


/*
 * The scanner keeps nothing of the caller's bytes past a feed: they are
 * overwritten after each feed here, at every split of a stream with
 * multi-line events, CRLF and a huge event on a tail, and every event
 * still comes out whole.
 */
START_TEST(test_feed_bytes_not_kept)
{
    int          k, step;
    char        *scratch;
    size_t       n, from, len;
    events_t     whole, cut;
    lava_sse_t   s;

    static const char  stream[] =
        "data: {\"a\":1}\n\n"
        "event: delta\r\ndata: one\r\ndata: two\r\n\r\n"
        ": comment\n"
        "data:\ndata: after an empty line\n\n"
        "data: 0123456789012345678901234567890123456789\n\n"
        "data: last without a blank line";

    n = sizeof(stream) - 1;

    scan(stream, n, NULL, 0, 32, &whole);
    ck_assert_int_eq(whole.n, 4);

    scratch = malloc(n);

    for (step = 1; step <= (int) n; step++) {
        events_init(&cut);
        lava_sse_init(&s, 32, on_event, &cut);

        for (from = 0; from < n; from += len) {
            len = (from + step > n) ? n - from : (size_t) step;
            memcpy(scratch, stream + from, len);
            ck_assert_int_eq(lava_sse_feed(&s, scratch, len), LAVA_SSE_OK);
            memset(scratch, 'X', n);
        }

        ck_assert_int_eq(lava_sse_finish(&s), LAVA_SSE_OK);
        lava_sse_free(&s);

        for (k = 0; k < whole.n && k < cut.n; k++) {
            ck_assert_msg(cut.len[k] == whole.len[k]
                          && memcmp(cut.data[k], whole.data[k], whole.len[k]) == 0,
                          "step %d: event %d is [%s], expected [%s]", step, k,
                          cut.data[k], whole.data[k]);
        }

        ck_assert_int_eq(cut.n, whole.n);
        events_free(&cut);
    }

    free(scratch);
    events_free(&whole);
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("sse");
    tc = tcase_create("core");
    tcase_set_timeout(tc, 600);

    tcase_add_test(tc, test_fixtures_every_split);
    tcase_add_test(tc, test_cr_lf_split_across_feeds);
    tcase_add_test(tc, test_line_endings);
    tcase_add_test(tc, test_fields);
    tcase_add_test(tc, test_event_name_cut);
    tcase_add_test(tc, test_comments_and_blank_lines);
    tcase_add_test(tc, test_no_blank_line_between_events);
    tcase_add_test(tc, test_pending_at_finish);
    tcase_add_test(tc, test_finish_idempotent);
    tcase_add_test(tc, test_bom);
    tcase_add_test(tc, test_huge_event_skipped);
    tcase_add_test(tc, test_sticky_error);
    tcase_add_test(tc, test_binary_and_nul);
    tcase_add_test(tc, test_many_events_one_feed);
    tcase_add_test(tc, test_feed_bytes_not_kept);
    suite_add_tcase(s, tc);

    return s;
}
