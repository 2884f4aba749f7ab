/*
 * Usage extraction and the response tap: every provider fixture (JSON and
 * SSE) gives its expected normalised usage whatever the split and line ends;
 * multi-megabyte bodies stay within the memory bounds.
 */

#include <check.h>

#include "unit.h"
#include "lava_tap.h"
#include "lava_fixture.h"
#include "tap_replay.h"


static void
check_usage(lava_tap_t *t, fx_expect_t *e, const char *what,
    const char *flags)
{
    int      i;
    char     buf[128];

    for (i = 0; i < LAVA_USAGE_NBUCKETS; i++) {
        FX_CHECK(fx_bucket(&t->usage.buckets, i) == e->bucket[i],
                      "%s: %s is %lld, expected %lld", what,
                      fx_bucket_names[i], (long long) fx_bucket(&t->usage.buckets, i),
                      (long long) e->bucket[i]);
    }

    if (e->seen >= 0) {
        FX_CHECK(t->usage.seen == e->seen, "%s: seen %d", what,
                      t->usage.seen);
    }

    if (e->has_model) {
        FX_CHECK(strcmp(t->usage.model, e->model) == 0,
                      "%s: model \"%s\", expected \"%s\"", what,
                      t->usage.model, e->model);
    }

    if (e->has_raw) {
        FX_CHECK(t->usage.raw_len == strlen(e->raw)
                      && memcmp(t->usage.raw, e->raw, t->usage.raw_len) == 0,
                      "%s: raw \"%.*s\"", what, (int) t->usage.raw_len,
                      t->usage.raw);
    }

    lava_tap_flags_str(t->flags, buf, sizeof(buf));
    FX_CHECK(strcmp(buf, flags) == 0, "%s: flags \"%s\", expected \"%s\"",
                  what, buf, flags);
}


/* what check_usage() is given for each replay of a fixture */
typedef struct {
    fx_expect_t  *e;
    const char   *flags;
} replay_t;


static void
replay_check(void *data, lava_tap_t *t, const char *what)
{
    replay_t  *r = data;

    check_usage(t, r->e, what, r->flags);
}


static void
replay(const char *name, const char *p, size_t n, int sse, fx_expect_t *e,
    const char *variant, size_t max_json, size_t tail_max, const char *flags)
{
    int            fmt;
    replay_t       r = { e, flags };
    fx_tap_opts_t  o;

    fmt = lava_usage_format_from_name(e->format, strlen(e->format));
    ck_assert_int_ge(fmt, 0);

    memset(&o, 0, sizeof(o));
    o.sse = sse;
    o.fmt = fmt;
    o.max_json = max_json;
    o.tail_max = tail_max;

    fx_tap_replay(&o, name, variant, p, n, replay_check, &r);
}


START_TEST(test_sse_fixtures)
{
    int          i, v, nfix;
    char        *body, *var;
    size_t       len, vlen;
    fx_expect_t  e;
    static char  names[FX_MAX_FILES][FX_NAME_MAX];

    nfix = fx_list(".sse", names);

    for (i = 0; i < nfix; i++) {
        fx_expect_load(names[i], &e);

        if (strcmp(e.format, "none") == 0) {
            fx_expect_free(&e);
            continue;
        }

        body = fx_read(names[i], &len);

        for (v = 0; v < FX_EOL_VARIANTS; v++) {
            var = fx_eol(body, len, v, &vlen);
            replay(names[i], var, vlen, 1, &e, fx_eol_names[v], 0, 0, e.flags);
            free(var);
        }

        free(body);
        fx_expect_free(&e);
    }
}
END_TEST


START_TEST(test_json_fixtures)
{
    int          i, nfix;
    char        *body;
    size_t       len;
    fx_expect_t  e;
    static char  names[FX_MAX_FILES][FX_NAME_MAX];

    nfix = fx_list(".json", names);
    ck_assert_int_ge(nfix, 7);

    for (i = 0; i < nfix; i++) {
        fx_expect_load(names[i], &e);
        body = fx_read(names[i], &len);

        replay(names[i], body, len, 0, &e, "whole", 0, 0, e.flags);

        /* the same body past max_json: found again in the tail ring */
        replay(names[i], body, len, 0, &e, "tail", 64, 4096, "json_too_big");

        free(body);
        fx_expect_free(&e);
    }
}
END_TEST


/* ---- lava_usage_parse ---- */

static int
parse(lava_usage_t *u, lava_usage_format_e fmt, const char *s)
{
    return lava_usage_parse(u, fmt, s, strlen(s));
}


START_TEST(test_usage_openai)
{
    lava_usage_t  u;

    memset(&u, 0, sizeof(u));

    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI, "[DONE]"), 0);
    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI, "  [DONE]\n"), 0);
    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI, ""), 0);
    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI, "not json"), -1);
    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI, "{\"a\":"), -1);
    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI, "{\"usage\":null}"), 0);
    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI, "{\"usage\":{}}"), 0);
    ck_assert_int_eq(u.seen, 0);

    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI,
        "{\"model\":\"m1\",\"usage\":{\"prompt_tokens\":100,"
        "\"completion_tokens\":50,\"prompt_tokens_details\":"
        "{\"cached_tokens\":40,\"audio_tokens\":10},"
        "\"completion_tokens_details\":{\"reasoning_tokens\":20,"
        "\"audio_tokens\":5}}}"), 1);
    ck_assert_int_eq(u.seen, 1);
    ck_assert_int_eq(u.input_tokens, 50);
    ck_assert_int_eq(u.cached_input_tokens, 40);
    ck_assert_int_eq(u.audio_input_tokens, 10);
    ck_assert_int_eq(u.output_tokens, 25);
    ck_assert_int_eq(u.reasoning_tokens, 20);
    ck_assert_int_eq(u.audio_output_tokens, 5);
    ck_assert_str_eq(u.model, "m1");

    /* later chunks with usage null or absent never reset */
    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI,
                           "{\"model\":\"m1\",\"usage\":null,\"choices\":[]}"),
                     0);
    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI, "{\"choices\":[]}"), 0);
    ck_assert_int_eq(u.input_tokens, 50);
    ck_assert_int_eq(u.output_tokens, 25);

    /* a later usage replaces (last wins, never summed) */
    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI,
        "{\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}"), 1);
    ck_assert_int_eq(u.input_tokens, 7);
    ck_assert_int_eq(u.cached_input_tokens, 0);
    ck_assert_int_eq(u.output_tokens, 3);
    ck_assert_int_eq(u.reasoning_tokens, 0);

    /* wrong types: -1 and nothing changes */
    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI,
        "{\"usage\":{\"prompt_tokens\":\"9\",\"completion_tokens\":1}}"), -1);
    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI,
        "{\"usage\":{\"prompt_tokens\":-9,\"completion_tokens\":1}}"), -1);
    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI,
        "{\"usage\":{\"prompt_tokens\":1.5,\"completion_tokens\":1}}"), -1);
    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI,
        "{\"usage\":{\"prompt_tokens\":1,\"prompt_tokens_details\":[]}}"), -1);
    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI, "{\"usage\":[1]}"), -1);
    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI,
        "{\"usage\":{\"prompt_tokens\":1e300}}"), -1);
    ck_assert_int_eq(u.input_tokens, 7);
    ck_assert_int_eq(u.output_tokens, 3);

    /* integral reals are counters; details larger than totals are clamped */
    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI,
        "{\"usage\":{\"prompt_tokens\":10.0,\"completion_tokens\":4,"
        "\"prompt_tokens_details\":{\"cached_tokens\":30},"
        "\"completion_tokens_details\":{\"reasoning_tokens\":9}}}"), 1);
    ck_assert_int_eq(u.input_tokens, 0);
    ck_assert_int_eq(u.cached_input_tokens, 10);
    ck_assert_int_eq(u.output_tokens, 0);
    ck_assert_int_eq(u.reasoning_tokens, 4);

    /* model names that cannot go into an event are ignored */
    memset(&u, 0, sizeof(u));
    parse(&u, LAVA_USAGE_OPENAI, "{\"model\":\"a b\",\"usage\":null}");
    ck_assert_str_eq(u.model, "");
    parse(&u, LAVA_USAGE_OPENAI, "{\"model\":\"a\\nb\"}");
    ck_assert_str_eq(u.model, "");
    parse(&u, LAVA_USAGE_OPENAI, "{\"model\":7}");
    ck_assert_str_eq(u.model, "");
}
END_TEST


START_TEST(test_usage_raw_bound)
{
    char          *s, *p;
    lava_usage_t   u;

    memset(&u, 0, sizeof(u));

    /* a usage object bigger than LAVA_USAGE_RAW_MAX: counted, not kept */
    s = malloc(10000);
    ck_assert_ptr_nonnull(s);
    p = s + sprintf(s, "{\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":"
                       "6,\"pad\":\"");
    memset(p, 'x', 5000);
    p += 5000;
    strcpy(p, "\"}}");

    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI, s), 1);
    ck_assert_int_eq(u.input_tokens, 5);
    ck_assert_uint_eq(u.raw_len, 0);

    /* exactly LAVA_USAGE_RAW_MAX bytes fit */
    p = s + sprintf(s, "{\"usage\":{\"prompt_tokens\":5,\"pad\":\"");
    memset(p, 'y', LAVA_USAGE_RAW_MAX - 28);
    strcpy(p + LAVA_USAGE_RAW_MAX - 28, "\"}}");
    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI, s), 1);
    ck_assert_uint_eq(u.raw_len, LAVA_USAGE_RAW_MAX);

    p = s + sprintf(s, "{\"usage\":{\"prompt_tokens\":5,\"pad\":\"");
    memset(p, 'y', LAVA_USAGE_RAW_MAX - 27);
    strcpy(p + LAVA_USAGE_RAW_MAX - 27, "\"}}");
    ck_assert_int_eq(parse(&u, LAVA_USAGE_OPENAI, s), 1);
    ck_assert_uint_eq(u.raw_len, 0);

    free(s);
}
END_TEST


START_TEST(test_usage_anthropic)
{
    lava_usage_t  u;

    memset(&u, 0, sizeof(u));

    ck_assert_int_eq(parse(&u, LAVA_USAGE_ANTHROPIC,
        "{\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\","
        "\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":100,"
        "\"cache_creation_input_tokens\":30,\"output_tokens\":1}}}"), 1);
    ck_assert_int_eq(u.input_tokens, 10);
    ck_assert_int_eq(u.cached_input_tokens, 100);
    ck_assert_int_eq(u.cache_write_tokens, 30);
    ck_assert_int_eq(u.output_tokens, 1);
    ck_assert_str_eq(u.model, "claude-x");

    ck_assert_int_eq(parse(&u, LAVA_USAGE_ANTHROPIC, "{\"type\":\"ping\"}"), 0);
    ck_assert_int_eq(parse(&u, LAVA_USAGE_ANTHROPIC,
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}"), 0);

    /* cumulative deltas: last wins, only the fields present */
    ck_assert_int_eq(parse(&u, LAVA_USAGE_ANTHROPIC,
        "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":20}}"), 1);
    ck_assert_int_eq(parse(&u, LAVA_USAGE_ANTHROPIC,
        "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":35}}"), 1);
    ck_assert_int_eq(u.output_tokens, 35);
    ck_assert_int_eq(u.input_tokens, 10);
    ck_assert_int_eq(u.cached_input_tokens, 100);

    /* raw is the merged object */
    ck_assert_int_eq((int) u.raw_len,
        (int) strlen("{\"input_tokens\":10,\"cache_read_input_tokens\":100,"
                     "\"cache_creation_input_tokens\":30,"
                     "\"output_tokens\":35}"));
    ck_assert(memcmp(u.raw, "{\"input_tokens\":10,\"cache_read_input_tokens\""
                     ":100,\"cache_creation_input_tokens\":30,"
                     "\"output_tokens\":35}", u.raw_len) == 0);

    /* 5-minute and 1-hour writes apart */
    memset(&u, 0, sizeof(u));
    ck_assert_int_eq(parse(&u, LAVA_USAGE_ANTHROPIC,
        "{\"type\":\"message\",\"usage\":{\"input_tokens\":1,"
        "\"cache_creation_input_tokens\":300,\"cache_creation\":"
        "{\"ephemeral_5m_input_tokens\":100,\"ephemeral_1h_input_tokens\":200},"
        "\"output_tokens\":2}}"), 1);
    ck_assert_int_eq(u.cache_write_tokens, 100);
    ck_assert_int_eq(u.cache_write_1h_tokens, 200);

    /* a bad type leaves everything as it was */
    ck_assert_int_eq(parse(&u, LAVA_USAGE_ANTHROPIC,
        "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":\"9\"}}"),
        -1);
    ck_assert_int_eq(u.output_tokens, 2);
}
END_TEST


START_TEST(test_usage_gemini_cohere)
{
    lava_usage_t  u;

    /* streamGenerateContent without alt=sse: a JSON array */
    memset(&u, 0, sizeof(u));
    ck_assert_int_eq(parse(&u, LAVA_USAGE_GEMINI,
        "[{\"usageMetadata\":{\"promptTokenCount\":5,\"candidatesTokenCount\":1}"
        ",\"modelVersion\":\"gemini-2.0-flash\"},"
        "{\"usageMetadata\":{\"promptTokenCount\":5,\"candidatesTokenCount\":9,"
        "\"toolUsePromptTokenCount\":3}}]"), 1);
    ck_assert_int_eq(u.input_tokens, 8);
    ck_assert_int_eq(u.output_tokens, 9);
    ck_assert_str_eq(u.model, "gemini-2.0-flash");

    /* audio modality */
    memset(&u, 0, sizeof(u));
    ck_assert_int_eq(parse(&u, LAVA_USAGE_GEMINI,
        "{\"usageMetadata\":{\"promptTokenCount\":100,"
        "\"candidatesTokenCount\":50,\"cachedContentTokenCount\":30,"
        "\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":60},"
        "{\"modality\":\"AUDIO\",\"tokenCount\":40}],"
        "\"cacheTokensDetails\":[{\"modality\":\"AUDIO\",\"tokenCount\":10},"
        "{\"modality\":\"TEXT\",\"tokenCount\":20}],"
        "\"candidatesTokensDetails\":[{\"modality\":\"AUDIO\","
        "\"tokenCount\":45}]}}"), 1);
    ck_assert_int_eq(u.cached_input_tokens, 30);
    ck_assert_int_eq(u.audio_input_tokens, 30);
    ck_assert_int_eq(u.input_tokens, 40);
    ck_assert_int_eq(u.audio_output_tokens, 45);
    ck_assert_int_eq(u.output_tokens, 5);

    ck_assert_int_eq(parse(&u, LAVA_USAGE_GEMINI,
        "{\"usageMetadata\":{\"promptTokensDetails\":{}}}"), -1);

    /* Cohere v1 meta and v1 stream-end */
    memset(&u, 0, sizeof(u));
    ck_assert_int_eq(parse(&u, LAVA_USAGE_COHERE,
        "{\"text\":\"hi\",\"meta\":{\"billed_units\":{\"input_tokens\":4,"
        "\"output_tokens\":2}}}"), 1);
    ck_assert_int_eq(u.input_tokens, 4);
    ck_assert_int_eq(parse(&u, LAVA_USAGE_COHERE,
        "{\"event_type\":\"stream-end\",\"response\":{\"meta\":{\"tokens\":"
        "{\"input_tokens\":8,\"output_tokens\":3}}}}"), 1);
    ck_assert_int_eq(u.input_tokens, 8);
    ck_assert_int_eq(u.output_tokens, 3);
}
END_TEST


static int64_t
duration(const char *num, int *rc)
{
    char          s[256];
    lava_usage_t  u;

    memset(&u, 0, sizeof(u));
    snprintf(s, sizeof(s), "{\"usage\" : { \"duration_seconds\" :%s }}", num);
    *rc = parse(&u, LAVA_USAGE_CUSTOM, s);

    return u.usage_duration_ms;
}


START_TEST(test_usage_custom_duration)
{
    int     rc;
    size_t  i;

    static const struct {
        const char  *num;
        int64_t      ms;
    } cases[] = {
        { "2.5", 2500 },
        { "3", 3000 },
        { "0", 0 },
        { "0.001", 1 },
        { "0.0005", 1 },             /* halves round up */
        { "0.0004999", 0 },
        { "1.0015", 1002 },          /* 1001.5, a double says 1001.4999... */
        { "12345678.9015", 12345678902 },
        { "1e3", 1000000 },
        { "2.5E-1", 250 },
        { "25e-2", 250 },
        { "1E+2", 100000 },
        { "0.1", 100 },
        { "4.35", 4350 },            /* 4349.999... as a double */
        { "1e-30", 0 },
        { "123456789012345678901234", -1 },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t  ms = duration(cases[i].num, &rc);

        if (cases[i].ms < 0) {
            ck_assert_msg(rc == -1, "%s: rc %d", cases[i].num, rc);
            continue;
        }

        ck_assert_msg(rc == 1 && ms == cases[i].ms,
                      "%s -> %lld ms (rc %d), expected %lld", cases[i].num,
                      (long long) ms, rc, (long long) cases[i].ms);
    }

    duration("-1", &rc);
    ck_assert_int_eq(rc, -1);
    duration("\"2.5\"", &rc);
    ck_assert_int_eq(rc, -1);
}
END_TEST


START_TEST(test_usage_misc)
{
    lava_usage_t  u;

    ck_assert_int_eq(lava_usage_format_from_name("openai", 6),
                     LAVA_USAGE_OPENAI);
    ck_assert_int_eq(lava_usage_format_from_name("anthropic", 9),
                     LAVA_USAGE_ANTHROPIC);
    ck_assert_int_eq(lava_usage_format_from_name("gemini", 6),
                     LAVA_USAGE_GEMINI);
    ck_assert_int_eq(lava_usage_format_from_name("cohere", 6),
                     LAVA_USAGE_COHERE);
    ck_assert_int_eq(lava_usage_format_from_name("custom", 6),
                     LAVA_USAGE_CUSTOM);
    ck_assert_int_eq(lava_usage_format_from_name("none", 4), LAVA_USAGE_NONE);
    ck_assert_int_eq(lava_usage_format_from_name("openai2", 7), -1);
    ck_assert_int_eq(lava_usage_format_from_name("open", 4), -1);
    ck_assert_int_eq(lava_usage_format_from_name("OpenAI", 6), -1);

    memset(&u, 0, sizeof(u));
    ck_assert_int_eq(parse(&u, LAVA_USAGE_NONE, "{\"usage\":{}}"), 0);

    /* custom: characters only; tokens without split are input */
    ck_assert_int_eq(parse(&u, LAVA_USAGE_CUSTOM,
                           "{\"usage\":{\"characters\":12}}"), 1);
    ck_assert_int_eq(u.characters, 12);
    ck_assert_int_eq(parse(&u, LAVA_USAGE_CUSTOM,
                           "{\"usage\":{\"tokens\":\"12\"}}"), -1);
    ck_assert_int_eq(u.characters, 12);

    ck_assert_uint_eq(lava_json_span("{\"a\":\"}\\\"\"}x", 12), 11);
    ck_assert_uint_eq(lava_json_span("[1,[2],{\"]\":3}] ", 16), 15);
    ck_assert_uint_eq(lava_json_span("{\"a\":1", 6), 0);
    ck_assert_uint_eq(lava_json_span("123,", 4), 3);
    ck_assert_uint_eq(lava_json_span("\"ab\\\"c\",", 8), 7);
    ck_assert_uint_eq(lava_json_span("}", 1), 0);
}
END_TEST


START_TEST(test_flags_str)
{
    char    buf[128];
    size_t  n;

    n = lava_tap_flags_str(0, buf, sizeof(buf));
    ck_assert_uint_eq(n, 0);
    ck_assert_str_eq(buf, "");

    n = lava_tap_flags_str(0x1f, buf, 96);
    ck_assert_str_eq(buf, "event_too_big,json_too_big,usage_unparsed,"
                          "compressed,body_in_file");
    ck_assert_uint_eq(n, strlen(buf));

    lava_tap_flags_str(LAVA_TAP_F_COMPRESSED | LAVA_TAP_F_UNPARSED, buf, 96);
    ck_assert_str_eq(buf, "usage_unparsed,compressed");

    /* short buffers hold whole names only */
    n = lava_tap_flags_str(0x1f, buf, 30);
    ck_assert_str_eq(buf, "event_too_big,json_too_big");
    ck_assert_uint_eq(n, 26);
    n = lava_tap_flags_str(0x1f, buf, 5);
    ck_assert_str_eq(buf, "");
}
END_TEST


/* ---- the tap itself ---- */

static void
feed_str(lava_tap_t *t, const char *s)
{
    lava_tap_feed(t, s, strlen(s));
}


START_TEST(test_tap_sse_no_blank_line)
{
    lava_tap_t  t;

    /* chunk and usage chunk joined by a missing blank line */
    lava_tap_init(&t, 1, LAVA_USAGE_OPENAI, 0, 0, 0);
    feed_str(&t, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}],"
                 "\"usage\":null}\n"
                 "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,"
                 "\"completion_tokens\":4}}\n\ndata: [DONE]\n\n");
    lava_tap_finish(&t);
    ck_assert_int_eq(t.usage.seen, 1);
    ck_assert_int_eq(t.usage.input_tokens, 3);
    ck_assert_int_eq(t.usage.output_tokens, 4);
    ck_assert_uint_eq(t.flags, 0);
    lava_tap_free(&t);
}
END_TEST


/* the stream's last event, per family; nothing before it ends the stream */
START_TEST(test_tap_ended)
{
    size_t       i, n, cut;
    lava_tap_t   t;

    static const struct {
        lava_usage_format_e   fmt;
        const char           *before;      /* does not end the stream */
        const char           *last;        /* ends it */
    } cases[] = {
        { LAVA_USAGE_OPENAI,
          "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
          "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,"
          "\"completion_tokens\":4}}\n\n"
          "data: {\"choices\":[{\"delta\":{\"content\":\"[DONE]\"}}]}\n\n",
          "data: [DONE]\n\n" },
        { LAVA_USAGE_OPENAI,
          "event: response.output_text.done\ndata: {\"type\":"
          "\"response.output_text.done\"}\n\n",
          "event: response.completed\ndata: {\"type\":\"response.completed\","
          "\"response\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}}"
          "\n\n" },
        { LAVA_USAGE_ANTHROPIC,
          "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":"
          "{\"output_tokens\":4}}\n\n",
          "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n" },
        { LAVA_USAGE_GEMINI,
          "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}],"
          "\"usageMetadata\":{\"promptTokenCount\":3,"
          "\"candidatesTokenCount\":1}}\r\n\r\n",
          "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\"}]},"
          "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":3,"
          "\"candidatesTokenCount\":2}}\r\n\r\n" },
        { LAVA_USAGE_COHERE,
          "event: content-end\ndata: {\"type\":\"content-end\"}\n\n",
          "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":"
          "{\"finish_reason\":\"COMPLETE\"}}\n\n" },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lava_tap_init(&t, 1, cases[i].fmt, 0, 0, 0);
        feed_str(&t, cases[i].before);
        ck_assert_msg(!t.ended, "case %zu ended early", i);
        /* its data without the blank line (a lone CR is a line end): not
         * the end yet */
        n = strlen(cases[i].last);
        cut = cases[i].last[n - 1] == '\n' && cases[i].last[n - 2] == '\r'
              ? 2 : 1;
        lava_tap_feed(&t, cases[i].last, n - cut);
        ck_assert_msg(!t.ended, "case %zu ended before its blank line", i);
        feed_str(&t, cases[i].last + n - cut);
        ck_assert_msg(t.ended, "case %zu did not end", i);
        lava_tap_free(&t);
    }
}
END_TEST


START_TEST(test_tap_unparsed)
{
    lava_tap_t  t;

    lava_tap_init(&t, 0, LAVA_USAGE_OPENAI, 0, 0, 0);
    feed_str(&t, "{\"usage\":{\"prompt_tokens\":3");
    lava_tap_finish(&t);
    ck_assert_int_eq(t.usage.seen, 0);
    ck_assert_uint_eq(t.flags, LAVA_TAP_F_UNPARSED);
    lava_tap_free(&t);

    lava_tap_init(&t, 1, LAVA_USAGE_OPENAI, 0, 0, 0);
    feed_str(&t, "data: {\"usage\":{\"prompt_tokens\":\n\n");
    lava_tap_finish(&t);
    ck_assert_uint_eq(t.flags, LAVA_TAP_F_UNPARSED);
    lava_tap_free(&t);

    /* events that cannot hold usage are not parsed, so not flagged */
    lava_tap_init(&t, 1, LAVA_USAGE_OPENAI, 0, 0, 0);
    feed_str(&t, "data: not json\n\ndata: [DONE]\n\n");
    lava_tap_finish(&t);
    ck_assert_uint_eq(t.flags, 0);
    lava_tap_free(&t);

    /* an empty JSON body is not an error; an error body has no usage */
    lava_tap_init(&t, 0, LAVA_USAGE_OPENAI, 0, 0, 0);
    lava_tap_finish(&t);
    ck_assert_uint_eq(t.flags, 0);
    lava_tap_free(&t);

    lava_tap_init(&t, 0, LAVA_USAGE_OPENAI, 0, 0, 0);
    feed_str(&t, "{\"error\":{\"message\":\"Rate limit\",\"type\":"
                 "\"requests\",\"code\":\"rate_limit_exceeded\"}}");
    lava_tap_finish(&t);
    ck_assert_uint_eq(t.flags, 0);
    ck_assert_int_eq(t.usage.seen, 0);
    lava_tap_free(&t);
}
END_TEST


START_TEST(test_tap_mislabelled_sse)
{
    lava_tap_t  t;

    /* an event stream sent as application/json */
    lava_tap_init(&t, 0, LAVA_USAGE_OPENAI, 0, 0, 0);
    feed_str(&t, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,"
                 "\"completion_tokens\":4}}\n\ndata: [DONE]\n\n");
    lava_tap_finish(&t);
    ck_assert_int_eq(t.usage.seen, 1);
    ck_assert_int_eq(t.usage.output_tokens, 4);
    ck_assert_uint_eq(t.flags, 0);
    lava_tap_free(&t);
}
END_TEST


START_TEST(test_tap_finish_idempotent)
{
    lava_tap_t  t;

    lava_tap_init(&t, 1, LAVA_USAGE_OPENAI, 0, 0, 0);
    feed_str(&t, "data: {\"usage\":{\"prompt_tokens\":3}}");
    lava_tap_finish(&t);
    lava_tap_finish(&t);
    /* bytes after the end change nothing */
    feed_str(&t, "\n\ndata: {\"usage\":{\"prompt_tokens\":9}}\n\n");
    lava_tap_finish(&t);
    ck_assert_int_eq(t.usage.input_tokens, 3);
    lava_tap_free(&t);
    lava_tap_free(&t);

    ck_assert_int_eq(lava_tap_init(&t, 0, (lava_usage_format_e) 99, 0, 0, 0),
                     -1);

    lava_tap_init(&t, 0, LAVA_USAGE_NONE, 0, 0, 0);
    feed_str(&t, "{\"usage\":{\"tokens\":3}}");
    lava_tap_finish(&t);
    ck_assert_int_eq(t.usage.seen, 0);
    ck_assert_uint_eq(t.total, 22);
    lava_tap_free(&t);
}
END_TEST


/* xorshift: deterministic chunk sizes */
static uint32_t
rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}


/* feeds in random chunks of 1..max, checking the memory bounds each time */
static void
feed_bounded(lava_tap_t *t, const char *p, size_t n, size_t max,
    uint32_t seed)
{
    size_t  off, k, bound;

    bound = t->max_json > t->tail_max ? t->max_json : t->tail_max;

    for (off = 0; off < n; off += k) {
        k = 1 + rnd(&seed) % max;
        if (k > n - off) {
            k = n - off;
        }

        lava_tap_feed(t, p + off, k);

        /* plain checks: a Check assertion per chunk costs a pipe write */
        if (t->json_cap > bound || t->json_len > t->json_cap
            || (t->tail_mode && t->json_cap > t->tail_max)
            || t->scanner.cap > t->scanner.max_event)
        {
            ck_abort_msg("memory bound exceeded at offset %zu: json_cap %zu "
                         "json_len %zu scanner cap %zu", off, t->json_cap,
                         t->json_len, t->scanner.cap);
        }
    }
}


static const char  openai_usage[] =
    "\"usage\": {\"prompt_tokens\": 1342, \"completion_tokens\": 8000, "
    "\"total_tokens\": 9342, \"prompt_tokens_details\": {\"cached_tokens\": "
    "1152, \"audio_tokens\": 0}, \"completion_tokens_details\": "
    "{\"reasoning_tokens\": 4000, \"audio_tokens\": 0}}";


/* An 8 MB chat completion whose content quotes decoy usage objects. */
static char *
big_json(size_t size, size_t *len)
{
    char    *s, *p;
    size_t   i;

    s = malloc(size + 4096);
    p = s + sprintf(s, "{\"id\":\"chatcmpl-big\",\"object\":\"chat.completion\","
                       "\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{"
                       "\"index\":0,\"message\":{\"role\":\"assistant\","
                       "\"content\":\"");

    for (i = 0; (size_t) (p - s) < size; i++) {
        if (i % 1000 == 0) {
            p += sprintf(p, "quoted \\\"usage\\\": {\\\"prompt_tokens\\\": 1} ");
        }

        p += sprintf(p, "word%zu ", i);
    }

    p += sprintf(p, "\"},\"finish_reason\":\"stop\"}],%s,"
                    "\"note\":\"\\\"usage\\\":{\\\"prompt_tokens\\\":7}\","
                    "\"system_fingerprint\":\"fp_1\"}\n", openai_usage);

    *len = p - s;
    return s;
}


START_TEST(test_tap_big_json)
{
    int          pass;
    char        *s;
    size_t       len;
    lava_tap_t   t;

    s = big_json(8 * 1024 * 1024, &len);
    ck_assert_uint_gt(len, 8 * 1024 * 1024);

    for (pass = 0; pass < 3; pass++) {
        lava_tap_init(&t, 0, LAVA_USAGE_OPENAI, 0, 0, 0);
        ck_assert_uint_eq(t.max_json, 1024 * 1024);
        ck_assert_uint_eq(t.tail_max, 64 * 1024);

        feed_bounded(&t, s, len, pass == 0 ? 16384 : pass == 1 ? 4000 : 97,
                     pass + 1);
        ck_assert_int_eq(t.tail_mode, 1);
        lava_tap_finish(&t);

        ck_assert_uint_eq(t.total, len);
        ck_assert_int_eq(t.usage.seen, 1);
        ck_assert_int_eq(t.usage.input_tokens, 190);
        ck_assert_int_eq(t.usage.cached_input_tokens, 1152);
        ck_assert_int_eq(t.usage.output_tokens, 4000);
        ck_assert_int_eq(t.usage.reasoning_tokens, 4000);
        ck_assert_str_eq(t.usage.model, "gpt-4o-2024-08-06");
        ck_assert_uint_eq(t.flags, LAVA_TAP_F_JSON_TOO_BIG);
        ck_assert_ptr_null(t.json);
        lava_tap_free(&t);
    }

    /* the same body cut before its usage: nothing found, no crash */
    lava_tap_init(&t, 0, LAVA_USAGE_OPENAI, 0, 0, 0);
    feed_bounded(&t, s, len - 300, 65536, 7);
    lava_tap_finish(&t);
    ck_assert_int_eq(t.usage.seen, 0);
    ck_assert(t.flags & LAVA_TAP_F_JSON_TOO_BIG);
    lava_tap_free(&t);

    free(s);
}
END_TEST


START_TEST(test_tap_ring_wrap)
{
    char        *s, *p;
    size_t       pad, len;
    lava_tap_t   t;

    /* the ring wraps at every offset of the usage object */
    s = malloc(8192);

    for (pad = 0; pad < 1100; pad++) {
        p = s + sprintf(s, "{\"model\":\"m\",\"x\":\"");
        memset(p, 'a', 3000 + pad);
        p += 3000 + pad;
        p += sprintf(p, "\",%s}", openai_usage);
        len = p - s;

        lava_tap_init(&t, 0, LAVA_USAGE_OPENAI, 0, 128, 1024);
        feed_bounded(&t, s, len, 200, pad + 1);
        lava_tap_finish(&t);
        ck_assert_msg(t.usage.seen == 1 && t.usage.output_tokens == 4000,
                      "pad %zu", pad);
        ck_assert_str_eq(t.usage.model, "m");
        lava_tap_free(&t);
    }

    free(s);
}
END_TEST


START_TEST(test_tap_big_sse)
{
    int          pass;
    char        *s, *p;
    size_t       len, i, size;
    lava_tap_t   t;

    size = 8 * 1024 * 1024;
    s = malloc(size + 8192);
    p = s;

    for (i = 0; (size_t) (p - s) < size; i++) {
        p += sprintf(p, "data: {\"id\":\"chatcmpl-1\",\"object\":"
                        "\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\","
                        "\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                        "\"token %zu \"},\"finish_reason\":null}],"
                        "\"usage\":null}\n\n", i);
    }

    p += sprintf(p, "data: {\"id\":\"chatcmpl-1\",\"model\":\"gpt-4o-mini\","
                    "\"choices\":[],%s}\n\ndata: [DONE]\n\n", openai_usage);
    len = p - s;

    for (pass = 0; pass < 2; pass++) {
        lava_tap_init(&t, 1, LAVA_USAGE_OPENAI, 0, 0, 0);
        feed_bounded(&t, s, len, pass ? 13 : 16384, 3);
        lava_tap_finish(&t);

        ck_assert_int_eq(t.usage.seen, 1);
        ck_assert_int_eq(t.usage.output_tokens, 4000);
        ck_assert_str_eq(t.usage.model, "gpt-4o-mini");
        ck_assert_uint_eq(t.scanner.events, i + 2);
        ck_assert_uint_eq(t.flags, 0);
        ck_assert_ptr_null(t.json);
        lava_tap_free(&t);
    }

    free(s);
}
END_TEST


START_TEST(test_tap_sse_huge_event)
{
    char        *s, *p;
    size_t       len;
    lava_tap_t   t;

    /* a 3 MB event (a giant tool call) over the 64 KiB bound, then usage */
    s = malloc(4 * 1024 * 1024);
    p = s + sprintf(s, "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{"
                       "\"function\":{\"arguments\":\"");
    memset(p, 'z', 3 * 1024 * 1024);
    p += 3 * 1024 * 1024;
    p += sprintf(p, "\"}}]}}],\"usage\":null}\n\n"
                    "data: {\"choices\":[],%s}\n\ndata: [DONE]\n\n",
                 openai_usage);
    len = p - s;

    lava_tap_init(&t, 1, LAVA_USAGE_OPENAI, 0, 0, 0);
    feed_bounded(&t, s, len, 65536, 11);
    lava_tap_finish(&t);

    ck_assert_int_eq(t.usage.seen, 1);
    ck_assert_int_eq(t.usage.input_tokens, 190);
    ck_assert_uint_eq(t.scanner.skipped, 1);
    ck_assert_uint_eq(t.flags, LAVA_TAP_F_EVENT_TOO_BIG);
    lava_tap_free(&t);

    free(s);
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("tap");
    tc = tcase_create("core");
    tcase_set_timeout(tc, 900);

    tcase_add_test(tc, test_sse_fixtures);
    tcase_add_test(tc, test_json_fixtures);
    tcase_add_test(tc, test_usage_openai);
    tcase_add_test(tc, test_usage_raw_bound);
    tcase_add_test(tc, test_usage_anthropic);
    tcase_add_test(tc, test_usage_gemini_cohere);
    tcase_add_test(tc, test_usage_custom_duration);
    tcase_add_test(tc, test_usage_misc);
    tcase_add_test(tc, test_flags_str);
    tcase_add_test(tc, test_tap_sse_no_blank_line);
    tcase_add_test(tc, test_tap_ended);
    tcase_add_test(tc, test_tap_unparsed);
    tcase_add_test(tc, test_tap_mislabelled_sse);
    tcase_add_test(tc, test_tap_finish_idempotent);
    tcase_add_test(tc, test_tap_big_json);
    tcase_add_test(tc, test_tap_ring_wrap);
    tcase_add_test(tc, test_tap_big_sse);
    tcase_add_test(tc, test_tap_sse_huge_event);
    suite_add_tcase(s, tc);

    return s;
}
