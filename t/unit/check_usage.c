/*
 * Every provider family, end to end through the pure-C parts: the fixtures
 * under t/fixtures/<provider>/ are routed by their path, tapped at every
 * split point (SSE also with CRLF, CR and mixed line ends), and metered with
 * their request body; the normalised usage, its source and the flags must be
 * what the .expect file says. Plus the request side: routes, request
 * inspection and the include_usage rewrite.
 *
 * .expect keys beyond t/fixtures/README: path, method (default POST),
 * request <file in the same directory>, status (default 200), complete
 * (default 1), character_cost, final, source, meter_flags,
 * tail_meter_flags (meter flags when the JSON body is read from its tail),
 * tail skip (the body cannot be read from its tail). Bodies: .json, .sse,
 * or .none (audio answers: nothing to tap).
 */

#include <check.h>
#include <sys/stat.h>

#include "unit.h"
#include "lava_meter.h"
#include "lava_tap.h"
#include "lava_fixture.h"
#include "tap_replay.h"


typedef struct {
    fx_expect_t  e;                 /* the keys of t/fixtures/README */
    char         path[512];
    char         method[16];
    char         request[256];
    unsigned     status;
    int          complete;
    int64_t      character_cost;
    int          final;             /* -1 not given */
    char         source[16];
    char         meter_flags[128];
    char         tail_meter_flags[128];
    int          has_tail_meter_flags;
    int          tail_skip;
} ux_expect_t;


static int
ux_key(void *data, const char *key, const char *value)
{
    ux_expect_t  *x = data;

#define UX_STR(k, field)                                                     \
    if (strcmp(key, k) == 0) {                                               \
        snprintf(x->field, sizeof(x->field), "%s", value);                   \
        return 0;                                                            \
    }

    UX_STR("path", path);
    UX_STR("method", method);
    UX_STR("request", request);
    UX_STR("source", source);
    UX_STR("meter_flags", meter_flags);

#undef UX_STR

    if (strcmp(key, "tail_meter_flags") == 0) {
        snprintf(x->tail_meter_flags, sizeof(x->tail_meter_flags), "%s",
                 value);
        x->has_tail_meter_flags = 1;

    } else if (strcmp(key, "status") == 0) {
        x->status = (unsigned) atoi(value);

    } else if (strcmp(key, "complete") == 0) {
        x->complete = atoi(value);

    } else if (strcmp(key, "character_cost") == 0) {
        x->character_cost = strtoll(value, NULL, 10);

    } else if (strcmp(key, "final") == 0) {
        x->final = atoi(value);

    } else if (strcmp(key, "tail") == 0 && strcmp(value, "skip") == 0) {
        x->tail_skip = 1;

    } else {
        return -1;
    }

    return 0;
}


static void
ux_expect_load(const char *body, ux_expect_t *x)
{
    memset(x, 0, sizeof(ux_expect_t));
    strcpy(x->method, "POST");
    x->status = 200;
    x->complete = 1;
    x->character_cost = -1;
    x->final = -1;

    fx_expect_load_ext(body, &x->e, ux_key, x);

    if (x->e.format[0] == '\0' || x->path[0] == '\0' || x->source[0] == '\0')
    {
        fprintf(stderr, "%s/%s: format, path and source are required\n",
                fx_dir(), body);
        exit(2);
    }
}


typedef struct {
    const char          *name;
    const ux_expect_t   *x;
    lava_route_t         rt;
    lava_request_t       rq;
    int                  has_rq;
    size_t               request_bytes;
} ux_case_t;


/* the tap's view, then the meter's */
static void
ux_check(ux_case_t *c, lava_tap_t *t, int tapped, const char *what,
    const char *tap_flags, const char *meter_flags)
{
    int              i;
    char             buf[256];
    unsigned         mflags;
    lava_usage_t     u;
    lava_source_e    src;
    lava_meter_in_t  in;
    const ux_expect_t  *x = c->x;

    if (tapped) {
        if (x->e.events >= 0) {
            FX_CHECK(t->scanner.events == (unsigned long) x->e.events,
                     "%s: %lu events", what, t->scanner.events);
        }

        lava_tap_flags_str(t->flags, buf, sizeof(buf));
        FX_CHECK(strcmp(buf, tap_flags) == 0,
                 "%s: tap flags \"%s\", expected \"%s\"", what, buf,
                 tap_flags);
    }

    u = t->usage;

    if (x->e.seen >= 0) {
        FX_CHECK(u.seen == x->e.seen, "%s: seen %d", what, u.seen);
    }

    if (x->final >= 0) {
        FX_CHECK(u.final == x->final, "%s: final %d", what, u.final);
    }

    if (x->e.has_model) {
        FX_CHECK(strcmp(u.model, x->e.model) == 0,
                 "%s: model \"%s\", expected \"%s\"", what, u.model,
                 x->e.model);
    }

    memset(&in, 0, sizeof(in));
    in.ep = c->rt.ep;
    in.rq = c->has_rq ? &c->rq : NULL;
    in.request_bytes = c->request_bytes;
    in.status = x->status;
    in.complete = x->complete;
    in.content_bytes = t->content_bytes;
    in.character_cost = x->character_cost;

    mflags = 0;
    src = lava_meter_finish(&u, &in, &mflags);

    FX_CHECK(strcmp(lava_meter_source_name(src), x->source) == 0,
             "%s: source %s, expected %s", what, lava_meter_source_name(src),
             x->source);

    for (i = 0; i < LAVA_USAGE_NBUCKETS; i++) {
        FX_CHECK(fx_bucket(&u.buckets, i) == x->e.bucket[i],
                 "%s: %s is %lld, expected %lld", what, fx_bucket_names[i],
                 (long long) fx_bucket(&u.buckets, i), (long long) x->e.bucket[i]);
    }

    if (x->e.has_raw) {
        FX_CHECK(u.raw_len == strlen(x->e.raw)
                 && memcmp(u.raw, x->e.raw, u.raw_len) == 0,
                 "%s: raw \"%.*s\"", what, (int) u.raw_len, u.raw);
    }

    lava_meter_flags_str(mflags, buf, 0, sizeof(buf));
    FX_CHECK(strcmp(buf, meter_flags) == 0,
             "%s: meter flags \"%s\", expected \"%s\"", what, buf,
             meter_flags);
}


/* what ux_check() is given for each replay of a fixture */
typedef struct {
    ux_case_t   *c;
    const char  *tap_flags;
    const char  *meter_flags;
} ux_replay_t;


static void
ux_replay_check(void *data, lava_tap_t *t, const char *what)
{
    ux_replay_t  *r = data;

    ux_check(r->c, t, 1, what, r->tap_flags, r->meter_flags);
}


static void
ux_replay(ux_case_t *c, int sse, const char *p, size_t n,
    const char *variant, size_t max_json, size_t tail_max,
    const char *tap_flags, const char *meter_flags)
{
    ux_replay_t    r = { c, tap_flags, meter_flags };
    fx_tap_opts_t  o;

    memset(&o, 0, sizeof(o));
    o.sse = sse;
    o.fmt = c->rt.fmt;
    o.endpoint = c->rt.ep;
    o.max_json = max_json;
    o.tail_max = tail_max;

    fx_tap_replay(&o, c->name, variant, p, n, ux_replay_check, &r);
}


static int
ux_ends(const char *s, const char *suffix)
{
    size_t  l = strlen(s), sl = strlen(suffix);

    return l > sl && strcmp(s + l - sl, suffix) == 0;
}


/* one fixture of the provider directory fx_dir() */
static int
ux_run_fixture(const char *body)
{
    int          v, fmt;
    char         name[1024], *text, *var;
    size_t       len, vlen;
    ux_case_t    c;
    ux_expect_t  x;
    lava_tap_t   t;

    ux_expect_load(body, &x);

    memset(&c, 0, sizeof(c));
    snprintf(name, sizeof(name), "%s/%s", fx_dir(), body);
    c.name = name;
    c.x = &x;

    fmt = lava_usage_format_from_name(x.e.format, strlen(x.e.format));
    ck_assert_msg(fmt >= 0, "%s: format %s", name, x.e.format);

    lava_meter_route((lava_usage_format_e) fmt, x.method, strlen(x.method),
                     x.path, strlen(x.path), &c.rt);

    if (x.request[0]) {
        text = fx_read(x.request, &len);
        c.request_bytes = len;
        c.has_rq = 1;
        ck_assert_msg(lava_request_inspect(&c.rq, c.rt.ep, text, len) == 0,
                      "%s: request %s is not a JSON object", name, x.request);
        free(text);
    }

    text = fx_read(body, &len);

    if (ux_ends(body, ".sse")) {
        for (v = 0; v < FX_EOL_VARIANTS; v++) {
            var = fx_eol(text, len, v, &vlen);
            ux_replay(&c, 1, var, vlen, fx_eol_names[v], 0, 0, x.e.flags,
                      x.meter_flags);
            free(var);
        }

    } else if (ux_ends(body, ".json")) {
        ux_replay(&c, 0, text, len, "whole", 0, 0, x.e.flags, x.meter_flags);

        if (!x.tail_skip && len > 64) {
            /* past max_json: only the tail of the body is searched */
            ux_replay(&c, 0, text, len, "tail", 64, 4096, "json_too_big",
                      x.has_tail_meter_flags ? x.tail_meter_flags
                                             : x.meter_flags);
        }

    } else {
        /* an audio answer: no tap, the request is all there is */
        FX_CHECK(lava_tap_init(&t, 0, LAVA_USAGE_NONE, 0, 0, 0) == 0, "init");
        lava_tap_finish(&t);
        ux_check(&c, &t, 0, name, "", x.meter_flags);
        lava_tap_free(&t);
    }

    free(text);
    fx_expect_free(&x.e);

    return 1;
}


START_TEST(test_provider_fixtures)
{
    int             n, providers, i, k, nf;
    DIR            *d;
    char            base[512], dir[1024];
    struct stat     st;
    struct dirent  *de;
    static char     files[FX_MAX_FILES][FX_NAME_MAX];

    static const char  *kinds[] = { ".json", ".sse", ".none" };

    snprintf(base, sizeof(base), "%s", fx_dir());
    d = opendir(base);
    ck_assert_ptr_nonnull(d);

    n = 0;
    providers = 0;

    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }

        snprintf(dir, sizeof(dir), "%s/%s", base, de->d_name);
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            continue;
        }

        /* the fixture helpers read from LAVA_FIXTURES */
        setenv("LAVA_FIXTURES", dir, 1);
        providers++;

        for (k = 0; k < 3; k++) {
            nf = fx_list(kinds[k], files);

            for (i = 0; i < nf; i++) {
                n += ux_run_fixture(files[i]);
            }
        }
    }

    closedir(d);
    setenv("LAVA_FIXTURES", base, 1);

    /* a fixture set per provider family, and none silently skipped */
    ck_assert_int_ge(providers, 12);
    ck_assert_int_ge(n, 45);
}
END_TEST


/* ---- a Responses API completion bigger than the event bound ---- */

START_TEST(test_big_responses_event)
{
    char          *s, *p;
    size_t         len, off, k;
    uint32_t       seed;
    lava_tap_t     t;
    lava_route_t   rt;

    lava_meter_route(LAVA_USAGE_OPENAI, "POST", 4, "/v1/responses", 13, &rt);
    ck_assert_int_eq(rt.ep, LAVA_EP_RESPONSES);

    /* 300 KB of output repeated in response.completed, usage at its end */
    s = malloc(400 * 1024);
    p = s + sprintf(s, "event: response.created\ndata: {\"type\":"
                       "\"response.created\",\"response\":{\"id\":\"r\","
                       "\"model\":\"o3\",\"usage\":null}}\n\n"
                       "event: response.completed\ndata: {\"type\":"
                       "\"response.completed\",\"response\":{\"id\":\"r\","
                       "\"model\":\"o3\",\"output\":[{\"type\":\"message\","
                       "\"content\":[{\"type\":\"output_text\",\"text\":\"");
    memset(p, 'w', 300 * 1024);
    p += 300 * 1024;
    p += sprintf(p, "\"}]}],\"usage\":{\"input_tokens\":900,"
                    "\"input_tokens_details\":{\"cached_tokens\":100},"
                    "\"output_tokens\":70000,\"output_tokens_details\":"
                    "{\"reasoning_tokens\":6000},\"total_tokens\":70900},"
                    "\"user\":null}}\n\n");
    len = p - s;

    for (seed = 1; seed < 40; seed++) {
        lava_tap_init(&t, 1, rt.fmt, 0, 0, 0);
        t.endpoint = rt.ep;

        for (off = 0; off < len; off += k) {
            k = 1 + (seed * 7919 + off) % 9000;
            if (k > len - off) {
                k = len - off;
            }

            lava_tap_feed(&t, s + off, k);
            FX_CHECK(t.scanner.cap <= t.scanner.max_event, "event bound");
        }

        lava_tap_finish(&t);

        FX_CHECK(t.usage.seen && t.usage.final, "usage of a big event");
        FX_CHECK(t.usage.input_tokens == 800
                 && t.usage.cached_input_tokens == 100
                 && t.usage.output_tokens == 64000
                 && t.usage.reasoning_tokens == 6000,
                 "seed %u: %lld/%lld/%lld/%lld", seed,
                 (long long) t.usage.input_tokens,
                 (long long) t.usage.cached_input_tokens,
                 (long long) t.usage.output_tokens,
                 (long long) t.usage.reasoning_tokens);
        FX_CHECK(t.flags == LAVA_TAP_F_EVENT_TOO_BIG, "flags %u", t.flags);
        lava_tap_free(&t);
    }

    free(s);
}
END_TEST


/* the tail ring of the scanner, wrapped at every offset */
static char    tail_seen[4096];
static size_t  tail_len;

static int
on_tail(void *data, const char *ev, size_t evlen, const char *p, size_t n)
{
    memcpy(tail_seen, p, n);
    tail_len = n;
    return 0;
}

static int
on_event(void *data, const char *ev, size_t evlen, const char *p, size_t n)
{
    return 0;
}


START_TEST(test_sse_tail_ring)
{
    char        data[3000], wire[3100];
    size_t      n, i, k, wlen;
    lava_sse_t  s;

    for (i = 0; i < sizeof(data); i++) {
        data[i] = 'a' + i % 26;
    }

    for (n = 200; n < 2000; n += 37) {
        wlen = sprintf(wire, "data: %.*s\n\n", (int) n, data);

        for (k = 1; k < 64; k += 5) {
            lava_sse_init(&s, 128, on_event, NULL);
            lava_sse_set_tail(&s, on_tail);
            tail_len = 0;

            for (i = 0; i < wlen; i += k) {
                lava_sse_feed(&s, wire + i, (i + k > wlen) ? wlen - i : k);
            }

            lava_sse_finish(&s);

            FX_CHECK(s.skipped == 1 && s.events == 0, "skipped");
            FX_CHECK(tail_len == 128 && memcmp(tail_seen, data + n - 128, 128)
                                        == 0,
                     "n %zu step %zu: the last 128 bytes", n, k);
            lava_sse_free(&s);
        }
    }
}
END_TEST


/* ---- routes ---- */

START_TEST(test_routes)
{
    size_t  i;

    static const struct {
        lava_usage_format_e  provider;
        const char          *method;
        const char          *path;
        lava_endpoint_e      ep;
        lava_usage_format_e  fmt;
        const char          *model;
    } cases[] = {
        { LAVA_USAGE_OPENAI, "POST", "/v1/chat/completions", LAVA_EP_CHAT,
          LAVA_USAGE_OPENAI, NULL },
        { LAVA_USAGE_OPENAI, "POST", "/v1/completions", LAVA_EP_CHAT,
          LAVA_USAGE_OPENAI, NULL },
        { LAVA_USAGE_OPENAI, "POST", "/v1/responses", LAVA_EP_RESPONSES,
          LAVA_USAGE_OPENAI, NULL },
        { LAVA_USAGE_OPENAI, "GET", "/v1/responses/resp_1", LAVA_EP_OTHER,
          LAVA_USAGE_NONE, NULL },
        { LAVA_USAGE_OPENAI, "POST", "/v1/responses/resp_1/cancel",
          LAVA_EP_OTHER, LAVA_USAGE_NONE, NULL },
        { LAVA_USAGE_OPENAI, "POST", "/v1/embeddings/", LAVA_EP_EMBEDDINGS,
          LAVA_USAGE_OPENAI, NULL },
        { LAVA_USAGE_OPENAI, "POST", "/v1/images/edits", LAVA_EP_IMAGES,
          LAVA_USAGE_OPENAI, NULL },
        { LAVA_USAGE_OPENAI, "POST", "/v1/audio/speech", LAVA_EP_SPEECH,
          LAVA_USAGE_NONE, NULL },
        /* not metered: a usage object in the answer is never billed */
        { LAVA_USAGE_OPENAI, "GET", "/v1/models", LAVA_EP_OTHER,
          LAVA_USAGE_NONE, NULL },
        { LAVA_USAGE_OPENAI, "GET", "/v1/chat/completions/chatcmpl-1",
          LAVA_EP_OTHER, LAVA_USAGE_NONE, NULL },
        { LAVA_USAGE_OPENAI, "GET", "/v1/chat/completions", LAVA_EP_OTHER,
          LAVA_USAGE_NONE, NULL },
        { LAVA_USAGE_COHERE, "GET", "/v1/models", LAVA_EP_OTHER,
          LAVA_USAGE_NONE, NULL },
        { LAVA_USAGE_ANTHROPIC, "POST", "/v1/messages", LAVA_EP_MESSAGES,
          LAVA_USAGE_ANTHROPIC, NULL },
        { LAVA_USAGE_ANTHROPIC, "POST", "/v1/messages/count_tokens",
          LAVA_EP_OTHER, LAVA_USAGE_NONE, NULL },
        { LAVA_USAGE_ANTHROPIC, "POST", "/v1/chat/completions", LAVA_EP_CHAT,
          LAVA_USAGE_OPENAI, NULL },
        { LAVA_USAGE_GEMINI, "POST",
          "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
          LAVA_EP_GENERATE, LAVA_USAGE_GEMINI, "gemini-2.5-pro" },
        { LAVA_USAGE_GEMINI, "POST",
          "/v1beta/tunedModels/my-model:generateContent", LAVA_EP_GENERATE,
          LAVA_USAGE_GEMINI, "my-model" },
        { LAVA_USAGE_GEMINI, "POST",
          "/v1beta/models/gemini-2.5-pro:countTokens", LAVA_EP_OTHER,
          LAVA_USAGE_NONE, "gemini-2.5-pro" },
        { LAVA_USAGE_GEMINI, "POST", "/v1beta/openai/chat/completions",
          LAVA_EP_CHAT, LAVA_USAGE_OPENAI, NULL },
        { LAVA_USAGE_GEMINI, "GET", "/v1beta/models", LAVA_EP_OTHER,
          LAVA_USAGE_NONE, NULL },
        { LAVA_USAGE_COHERE, "POST", "/v2/chat", LAVA_EP_COHERE_CHAT,
          LAVA_USAGE_COHERE, NULL },
        { LAVA_USAGE_COHERE, "POST", "/v1/rerank", LAVA_EP_RERANK,
          LAVA_USAGE_COHERE, NULL },
        { LAVA_USAGE_COHERE, "POST", "/compatibility/v1/chat/completions",
          LAVA_EP_CHAT, LAVA_USAGE_OPENAI, NULL },
        { LAVA_USAGE_ELEVENLABS, "POST", "/v1/text-to-speech/abc/stream",
          LAVA_EP_TTS, LAVA_USAGE_NONE, NULL },
        { LAVA_USAGE_ELEVENLABS, "POST", "/v1/speech-to-text", LAVA_EP_STT,
          LAVA_USAGE_ELEVENLABS, NULL },
        { LAVA_USAGE_ELEVENLABS, "GET", "/v1/speech-to-text/transcripts/x",
          LAVA_EP_OTHER, LAVA_USAGE_NONE, NULL },
        { LAVA_USAGE_ELEVENLABS, "GET", "/v1/voices", LAVA_EP_OTHER,
          LAVA_USAGE_NONE, NULL },
        { LAVA_USAGE_RETELL, "GET", "/v2/get-call/c1", LAVA_EP_CALL,
          LAVA_USAGE_RETELL, NULL },
        { LAVA_USAGE_RETELL, "POST", "/v2/list-calls", LAVA_EP_OTHER,
          LAVA_USAGE_NONE, NULL },
        { LAVA_USAGE_CUSTOM, "POST", "/v1/chat/completions", LAVA_EP_OTHER,
          LAVA_USAGE_CUSTOM, NULL },
        { LAVA_USAGE_NONE, "POST", "/v2/search", LAVA_EP_OTHER,
          LAVA_USAGE_NONE, NULL },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lava_route_t  rt;

        lava_meter_route(cases[i].provider, cases[i].method,
                         strlen(cases[i].method), cases[i].path,
                         strlen(cases[i].path), &rt);

        ck_assert_msg(rt.ep == cases[i].ep && rt.fmt == cases[i].fmt,
                      "%s %s: ep %d fmt %d", cases[i].method, cases[i].path,
                      rt.ep, rt.fmt);

        if (cases[i].model) {
            ck_assert_msg(rt.model_len == strlen(cases[i].model)
                          && memcmp(rt.model, cases[i].model, rt.model_len)
                             == 0, "%s: model", cases[i].path);

        } else {
            ck_assert_ptr_null(rt.model);
        }
    }
}
END_TEST


/* the endpoint policy: what a managed key serves (issue 11) */
/* the model of a request that names none (issue 11, class 4) */
START_TEST(test_model_default)
{
    size_t          i;
    lava_route_t    rt;
    lava_request_t  rq;
    const char     *d;

    static const struct {
        lava_usage_format_e  provider;
        const char          *host;
        const char          *path;
        const char          *body;       /* NULL: multipart */
        int                  needed;
        const char          *model;      /* the default, NULL none */
    } cases[] = {
        { LAVA_USAGE_OPENAI, "api.openai.com", "/v1/images/generations",
          "{\"prompt\":\"a cat\",\"n\":2,\"size\":\"512x512\"}", 1,
          "dall-e-2" },
        { LAVA_USAGE_OPENAI, "api.openai.com", "/v1/images/generations",
          "{\"prompt\":\"a cat\",\"quality\":\"high\"}", 1, NULL },
        { LAVA_USAGE_OPENAI, "api.openai.com", "/v1/images/generations",
          "{\"prompt\":\"a cat\",\"size\":\"1536x1024\"}", 1, NULL },
        { LAVA_USAGE_OPENAI, "api.openai.com", "/v1/images/variations",
          NULL, 1, "dall-e-2" },
        { LAVA_USAGE_OPENAI, "api.openai.com", "/v1/images/edits",
          NULL, 1, NULL },
        { LAVA_USAGE_OPENAI, "api.together.xyz", "/v1/images/generations",
          "{\"prompt\":\"a cat\"}", 1, NULL },
        { LAVA_USAGE_OPENAI, "api.openai.com", "/v1/audio/speech",
          "{\"input\":\"hi\"}", 1, NULL },
        { LAVA_USAGE_OPENAI, "api.openai.com", "/v1/audio/transcriptions",
          NULL, 1, NULL },
        { LAVA_USAGE_OPENAI, "api.openai.com", "/v1/chat/completions",
          "{}", 0, NULL },
        { LAVA_USAGE_OPENAI, "api.openai.com", "/v1/embeddings",
          "{}", 0, NULL },
        { LAVA_USAGE_COHERE, "api.cohere.com", "/v1/chat", "{}", 1, NULL },
        { LAVA_USAGE_COHERE, "api.cohere.com", "/v1/embed", "{}", 1, NULL },
        { LAVA_USAGE_COHERE, "api.cohere.com", "/v2/rerank", "{}", 1, NULL },
        { LAVA_USAGE_COHERE, "api.cohere.com",
          "/compatibility/v1/chat/completions", "{}", 0, NULL },
        { LAVA_USAGE_GEMINI, "generativelanguage.googleapis.com",
          "/v1beta/models/g:embedContent", "{}", 0, NULL },
        { LAVA_USAGE_ANTHROPIC, "api.anthropic.com", "/v1/messages", "{}",
          0, NULL },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lava_meter_route(cases[i].provider, "POST", 4, cases[i].path,
                         strlen(cases[i].path), &rt);
        ck_assert_msg(lava_meter_model_needed(&rt) == cases[i].needed,
                      "%s: needed", cases[i].path);

        if (cases[i].body) {
            ck_assert_int_eq(lava_request_inspect(&rq, rt.ep, cases[i].body,
                                                  strlen(cases[i].body)), 0);
        }

        d = lava_meter_model_default(cases[i].host, strlen(cases[i].host),
                                     &rt, cases[i].path,
                                     strlen(cases[i].path),
                                     cases[i].body ? &rq : NULL);
        if (cases[i].model) {
            ck_assert_msg(d && strcmp(d, cases[i].model) == 0,
                          "%s %s: default", cases[i].host, cases[i].path);
        } else {
            ck_assert_msg(d == NULL, "%s %s: no default", cases[i].host,
                          cases[i].path);
        }
    }
}
END_TEST


START_TEST(test_routes_metered)
{
    size_t  i;

    static const struct {
        lava_usage_format_e  provider;
        const char          *method;
        const char          *path;
        int                  metered;
    } cases[] = {
        { LAVA_USAGE_OPENAI, "POST", "/v1/chat/completions", 1 },
        { LAVA_USAGE_OPENAI, "POST", "/v1/responses", 1 },
        { LAVA_USAGE_OPENAI, "POST", "/v1/embeddings", 1 },
        { LAVA_USAGE_OPENAI, "POST", "/v1/images/generations", 1 },
        { LAVA_USAGE_OPENAI, "POST", "/v1/audio/transcriptions", 1 },
        { LAVA_USAGE_OPENAI, "POST", "/v1/audio/speech", 1 },
        { LAVA_USAGE_OPENAI, "GET", "/v1/chat/completions", 0 },
        { LAVA_USAGE_OPENAI, "GET", "/v1/chat/completions/chatcmpl-1", 0 },
        { LAVA_USAGE_OPENAI, "GET", "/v1/responses/resp_1", 0 },
        { LAVA_USAGE_OPENAI, "POST", "/v1/responses/resp_1/cancel", 0 },
        { LAVA_USAGE_OPENAI, "POST", "/v1/batches", 0 },
        { LAVA_USAGE_OPENAI, "POST", "/v1/files", 0 },
        { LAVA_USAGE_OPENAI, "GET", "/v1/files/file-1/content", 0 },
        { LAVA_USAGE_OPENAI, "POST", "/v1/fine_tuning/jobs", 0 },
        { LAVA_USAGE_OPENAI, "POST", "/v1/videos", 0 },
        { LAVA_USAGE_OPENAI, "POST", "/v1/realtime/client_secrets", 0 },
        { LAVA_USAGE_OPENAI, "GET", "/v1/vector_stores", 0 },
        { LAVA_USAGE_OPENAI, "POST", "/v1/assistants", 0 },
        { LAVA_USAGE_OPENAI, "GET", "/v1/organization/users", 0 },
        { LAVA_USAGE_OPENAI, "GET", "/v1/models", 0 },
        { LAVA_USAGE_ANTHROPIC, "POST", "/v1/messages", 1 },
        { LAVA_USAGE_ANTHROPIC, "POST", "/v1/chat/completions", 1 },
        { LAVA_USAGE_ANTHROPIC, "POST", "/v1/messages/batches", 0 },
        { LAVA_USAGE_ANTHROPIC, "POST", "/v1/complete", 0 },
        { LAVA_USAGE_GEMINI, "POST", "/v1beta/models/g:generateContent", 1 },
        { LAVA_USAGE_GEMINI, "POST", "/v1beta/models/g:embedContent", 1 },
        { LAVA_USAGE_GEMINI, "POST", "/v1beta/models/g:batchGenerateContent",
          0 },
        { LAVA_USAGE_GEMINI, "POST", "/v1beta/models/imagen-4:predict", 0 },
        { LAVA_USAGE_GEMINI, "GET", "/v1beta/models/g:generateContent", 0 },
        { LAVA_USAGE_COHERE, "POST", "/v2/chat", 1 },
        { LAVA_USAGE_COHERE, "POST", "/v2/rerank", 1 },
        { LAVA_USAGE_COHERE, "POST", "/v1/datasets", 0 },
        { LAVA_USAGE_ELEVENLABS, "POST", "/v1/text-to-speech/v1", 1 },
        { LAVA_USAGE_ELEVENLABS, "POST", "/v1/speech-to-text", 1 },
        { LAVA_USAGE_ELEVENLABS, "POST", "/v1/sound-generation", 0 },
        { LAVA_USAGE_ELEVENLABS, "POST", "/v1/dubbing", 0 },
        { LAVA_USAGE_RETELL, "GET", "/v2/get-call/c1", 1 },
        { LAVA_USAGE_RETELL, "POST", "/v2/create-phone-call", 0 },
        { LAVA_USAGE_CUSTOM, "DELETE", "/anything", 1 },
        { LAVA_USAGE_NONE, "POST", "/v2/search", 1 },
        { LAVA_USAGE_NONE, "GET", "/v1/profile", 1 },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lava_route_t  rt;

        lava_meter_route(cases[i].provider, cases[i].method,
                         strlen(cases[i].method), cases[i].path,
                         strlen(cases[i].path), &rt);

        ck_assert_msg(rt.metered == cases[i].metered, "%s %s: metered %d",
                      cases[i].method, cases[i].path, rt.metered);

        if (!rt.metered) {
            ck_assert_msg(rt.ep == LAVA_EP_OTHER && rt.fmt == LAVA_USAGE_NONE,
                          "%s %s: not metered, ep %d fmt %d",
                          cases[i].method, cases[i].path, rt.ep, rt.fmt);
        }
    }
}
END_TEST


/* ---- request bodies ---- */

static int
inspect(lava_request_t *rq, lava_endpoint_e ep, const char *s)
{
    return lava_request_inspect(rq, ep, s, strlen(s));
}


/* OpenAI Responses "background": refused with the managed key (issue 11) */
START_TEST(test_request_background)
{
    lava_request_t  rq;

    ck_assert_int_eq(inspect(&rq, LAVA_EP_RESPONSES,
        "{\"model\":\"gpt-4.1\",\"input\":\"hi\",\"background\":true}"), 0);
    ck_assert_int_eq(rq.background, 1);

    ck_assert_int_eq(inspect(&rq, LAVA_EP_RESPONSES,
        "{\"model\":\"gpt-4.1\",\"background\":false}"), 0);
    ck_assert_int_eq(rq.background, 0);

    ck_assert_int_eq(inspect(&rq, LAVA_EP_RESPONSES,
        "{\"model\":\"gpt-4.1\",\"background\":\"true\"}"), 0);
    ck_assert_int_eq(rq.background, 0);

    ck_assert_int_eq(inspect(&rq, LAVA_EP_RESPONSES, "{\"input\":\"hi\"}"), 0);
    ck_assert_int_eq(rq.background, 0);
}
END_TEST


START_TEST(test_request_inspect)
{
    lava_request_t  rq;

    ck_assert_int_eq(inspect(&rq, LAVA_EP_CHAT, "[1]"), -1);
    ck_assert_int_eq(rq.parsed, 0);
    ck_assert_int_eq(inspect(&rq, LAVA_EP_CHAT, "{\"a\":"), -1);

    ck_assert_int_eq(inspect(&rq, LAVA_EP_CHAT,
        "{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":"
        "{\"include_usage\":true},\"messages\":[{\"role\":\"user\","
        "\"content\":[{\"type\":\"text\",\"text\":\"abcd\"},{\"type\":"
        "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,"
        "AAAAAAAAAAAAAAAAAAAA\"}}]}]}"), 0);
    ck_assert_int_eq(rq.stream, 1);
    ck_assert_int_eq(rq.include_usage, 1);
    ck_assert_str_eq(rq.model, "gpt-4o");
    /* the image is not prompt text */
    ck_assert_int_eq(rq.text_bytes, 4);
    ck_assert_int_eq(rq.characters, -1);

    ck_assert_int_eq(inspect(&rq, LAVA_EP_CHAT,
        "{\"stream\":\"yes\",\"stream_options\":{\"include_usage\":false}}"),
        0);
    ck_assert_int_eq(rq.stream, 0);
    ck_assert_int_eq(rq.include_usage, 0);

    /* Anthropic: system prompt and a base64 image source */
    ck_assert_int_eq(inspect(&rq, LAVA_EP_MESSAGES,
        "{\"model\":\"claude\",\"system\":\"be brief\",\"messages\":[{\"role\""
        ":\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":"
        "\"base64\",\"media_type\":\"image/png\",\"data\":\"QUFBQUFB\"}},"
        "{\"type\":\"text\",\"text\":\"what?\"}]}]}"), 0);
    ck_assert_int_eq(rq.text_bytes, 8 + 5);

    /* TTS: Unicode characters, not bytes; ElevenLabs model_id */
    ck_assert_int_eq(inspect(&rq, LAVA_EP_TTS,
        "{\"text\":\"\xc3\xa9t\xc3\xa9 \xe2\x82\xac\",\"model_id\":"
        "\"eleven_flash_v2_5\"}"), 0);
    ck_assert_int_eq(rq.characters, 5);
    ck_assert_str_eq(rq.model, "eleven_flash_v2_5");

    ck_assert_int_eq(inspect(&rq, LAVA_EP_TTS, "{\"model_id\":\"x\"}"), 0);
    ck_assert_int_eq(rq.characters, 0);

    /* ElevenLabs bills by model_id and ignores "model" */
    ck_assert_int_eq(inspect(&rq, LAVA_EP_TTS,
        "{\"text\":\"hi\",\"model\":\"eleven_flash_v2_5\",\"model_id\":"
        "\"eleven_multilingual_v2\"}"), 0);
    ck_assert_str_eq(rq.model, "eleven_multilingual_v2");
    ck_assert_int_eq(rq.model_default, 0);

    /* without model_id: the documented default, flagged */
    ck_assert_int_eq(inspect(&rq, LAVA_EP_TTS,
        "{\"text\":\"hi\",\"model\":\"eleven_flash_v2_5\"}"), 0);
    ck_assert_str_eq(rq.model, LAVA_METER_ELEVENLABS_TTS_MODEL);
    ck_assert_int_eq(rq.model_default, 1);
    ck_assert_int_eq(inspect(&rq, LAVA_EP_TTS,
        "{\"inputs\":[{\"text\":\"hi\",\"voice_id\":\"v\"}]}"), 0);
    ck_assert_str_eq(rq.model, LAVA_METER_ELEVENLABS_DIALOGUE_MODEL);
    ck_assert_int_eq(rq.characters, 2);

    /* elsewhere "model" is the member */
    ck_assert_int_eq(inspect(&rq, LAVA_EP_CHAT,
        "{\"model_id\":\"x\",\"model\":\"gpt-4o\"}"), 0);
    ck_assert_str_eq(rq.model, "gpt-4o");
    ck_assert_int_eq(inspect(&rq, LAVA_EP_CHAT, "{\"model_id\":\"x\"}"), 0);
    ck_assert_str_eq(rq.model, "");

    /* keys decoded, the last duplicate wins: what the provider reads */
    ck_assert_int_eq(inspect(&rq, LAVA_EP_CHAT,
        "{\"model\":\"a\",\"stre\\u0061m\":true,\"mod\\u0065l\":\"b\","
        "\"stream_options\":{\"include_usage\":true},"
        "\"stream_option\\u0073\":{\"include_usage\":false}}"), 0);
    ck_assert_int_eq(rq.stream, 1);
    ck_assert_int_eq(rq.include_usage, 0);
    ck_assert_str_eq(rq.model, "b");

    /* a key that differs from a metered member only in case: Go's parser
     * would take it for the member */
    ck_assert_int_eq(inspect(&rq, LAVA_EP_CHAT,
        "{\"model\":\"gpt-4o-mini\",\"MODEL\":\"gpt-4o\"}"), -1);
    ck_assert_int_eq(inspect(&rq, LAVA_EP_CHAT,
        "{\"stream\":true,\"stream_options\":{\"Include_Usage\":false}}"),
        -1);
    ck_assert_int_eq(inspect(&rq, LAVA_EP_CHAT,
        "{\"model\":\"m\",\"metadata\":{\"Model\":\"x\"}}"), 0);

    /* what jansson cannot read is not a body the gateway read */
    ck_assert_int_eq(inspect(&rq, LAVA_EP_CHAT,
        "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":"
        "\"user\",\"content\":\"\\ud800\"}]}"), -1);
    ck_assert_int_eq(rq.parsed, 0);
    ck_assert_int_eq(inspect(&rq, LAVA_EP_CHAT,
        "{\"model\":\"m\",\"x\":\"a\\u0000b\"}"), 0);

    ck_assert_int_eq(inspect(&rq, LAVA_EP_IMAGES,
        "{\"prompt\":\"cat\",\"n\":3}"), 0);
    ck_assert_int_eq(rq.n, 3);
    ck_assert_int_eq(inspect(&rq, LAVA_EP_IMAGES, "{\"n\":-3}"), 0);
    ck_assert_int_eq(rq.n, 0);
    ck_assert_int_eq(inspect(&rq, LAVA_EP_IMAGES, "{\"n\":2.5}"), 0);
    ck_assert_int_eq(rq.n, 0);
}
END_TEST


/* a model of the event's limit is kept whole; one byte more is flagged */
START_TEST(test_request_model_limit)
{
    char            body[LAVA_EVENT_MAX_model + 64];
    size_t          n;
    lava_request_t  rq;

    for (n = LAVA_EVENT_MAX_model - 1; n <= LAVA_EVENT_MAX_model + 1; n++) {
        memcpy(body, "{\"model\":\"", 10);
        memset(body + 10, 'm', n);
        memcpy(body + 10 + n, "\"}", 3);

        ck_assert_int_eq(inspect(&rq, LAVA_EP_CHAT, body), 0);
        ck_assert_int_eq(rq.model_too_long, n > LAVA_EVENT_MAX_model);
        ck_assert_uint_eq(strlen(rq.model),
                          n > LAVA_EVENT_MAX_model ? 0 : n);

        /* model_id (ElevenLabs) the same */
        memcpy(body, "{\"model_id\":\"", 13);
        memset(body + 13, 'm', n);
        memcpy(body + 13 + n, "\"}", 3);

        ck_assert_int_eq(inspect(&rq, LAVA_EP_TTS, body), 0);
        ck_assert_int_eq(rq.model_too_long, n > LAVA_EVENT_MAX_model);
    }

    ck_assert_uint_eq(LAVA_USAGE_MODEL_MAX, LAVA_EVENT_MAX_model + 1);
}
END_TEST


static int
rewrite(const char *in, char *out, size_t *olen)
{
    return lava_request_add_include_usage(in, strlen(in), out,
                                          strlen(in)
                                          + LAVA_INCLUDE_USAGE_EXTRA, olen);
}


START_TEST(test_include_usage_rewrite)
{
    int     rc;
    char    out[1024];
    size_t  i, olen;

    static const struct {
        const char  *in;
        int          rc;
        const char  *out;
    } cases[] = {
        { "{\"model\":\"m\",\"stream\":true}", 1,
          "{\"stream_options\":{\"include_usage\":true},\"model\":\"m\","
          "\"stream\":true}" },
        { "  {  \"stream\" : true }\n", 1,
          "  {\"stream_options\":{\"include_usage\":true},  \"stream\" : "
          "true }\n" },
        { "{}", 1, "{\"stream_options\":{\"include_usage\":true}}" },
        { "{\"stream_options\":null,\"stream\":true}", 1,
          "{\"stream_options\":{\"include_usage\":true},\"stream\":true}" },
        { "{\"stream_options\":{},\"stream\":true}", 1,
          "{\"stream_options\":{\"include_usage\":true},\"stream\":true}" },
        { "{\"stream_options\":{\"x\":1},\"stream\":true}", 1,
          "{\"stream_options\":{\"include_usage\":true,\"x\":1},"
          "\"stream\":true}" },
        { "{\"stream\":true,\"stream_options\":{\"include_usage\": false}}", 1,
          "{\"stream\":true,\"stream_options\":{\"include_usage\": true}}" },
        { "{\"stream_options\":{\"include_usage\":true}}", 0, NULL },
        /* content that mentions the key is not the key */
        { "{\"messages\":[{\"content\":\"\\\"stream_options\\\":null\"}]}", 1,
          "{\"stream_options\":{\"include_usage\":true},\"messages\":"
          "[{\"content\":\"\\\"stream_options\\\":null\"}]}" },
        /* keys as a JSON parser reads them: escapes decoded, the last
         * duplicate wins, and the provider sees exactly one of each member
         * rewritten */
        { "{\"stream\":true,\"stream_option\\u0073\":{\"include_usage\":"
          "false}}", 1,
          "{\"stream\":true,\"stream_option\\u0073\":{\"include_usage\":"
          "true}}" },
        { "{\"stream\\u005foptions\":{\"include_usage\":true}}", 0, NULL },
        { "{\"stream_options\":{\"include_usage\":true},\"stream\":true,"
          "\"stream_options\":{\"include_usage\":false}}", 1,
          "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}" },
        { "{\"stream_options\":{\"include_usage\":false},"
          "\"stream_options\":{\"include_usage\":true}}", 1,
          "{\"stream_options\":{\"include_usage\":true}}" },
        { "{\"stream_options\":{\"include_usage\":true,"
          "\"include\\u005fusage\":false,\"x\":1}}", 1,
          "{\"stream_options\":{\"include\\u005fusage\":true,\"x\":1}}" },
        { "{ \"a\":1, \"stream_options\":null, \"b\":2, \"stream_options\":"
          "{}, \"c\":3 }", 1,
          "{ \"a\":1, \"b\":2, \"stream_options\":{\"include_usage\":true}, "
          "\"c\":3 }" },
        { "{\"stream_options\":{},\"a\":1,\"stream_options\":null}", 1,
          "{\"a\":1,\"stream_options\":{\"include_usage\":true}}" },
        { "{\"stream_options\":7,\"stream_options\":{}}", 1,
          "{\"stream_options\":{\"include_usage\":true}}" },
        /* a key that only looks like it */
        { "{\"stream_options\\u0000\":null}", 1,
          "{\"stream_options\":{\"include_usage\":true},"
          "\"stream_options\\u0000\":null}" },
        { "[]", -1, NULL },
        { "{\"stream_options\":7}", -1, NULL },
        { "{\"stream_options\":{},\"stream_options\":7}", -1, NULL },
        { "", -1, NULL },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        olen = 0;
        rc = rewrite(cases[i].in, out, &olen);

        ck_assert_msg(rc == cases[i].rc, "%s: rc %d", cases[i].in, rc);

        if (rc == 1) {
            ck_assert_msg(olen == strlen(cases[i].out)
                          && memcmp(out, cases[i].out, olen) == 0,
                          "%s -> %.*s", cases[i].in, (int) olen, out);
        }
    }
}
END_TEST


/* ---- the meter's edges ---- */

START_TEST(test_meter_edges)
{
    unsigned         flags;
    lava_usage_t     u;
    lava_request_t   rq;
    lava_meter_in_t  in;

    memset(&in, 0, sizeof(in));
    memset(&u, 0, sizeof(u));
    in.ep = LAVA_EP_CHAT;
    in.character_cost = -1;

    /* a provider error books nothing, even with text in it */
    in.status = 429;
    in.content_bytes = 400;
    flags = 0;
    ck_assert_int_eq(lava_meter_finish(&u, &in, &flags), LAVA_SOURCE_NONE);
    ck_assert_int_eq(u.output_tokens, 0);

    /* no answer at all */
    in.status = 0;
    ck_assert_int_eq(lava_meter_finish(&u, &in, &flags), LAVA_SOURCE_NONE);

    /* a body not read: its size stands in for the prompt */
    in.status = 200;
    in.request_bytes = 4001;
    in.content_bytes = 0;
    ck_assert_int_eq(lava_meter_finish(&u, &in, &flags),
                     LAVA_SOURCE_ESTIMATED);
    ck_assert_int_eq(u.input_tokens, 1001);
    ck_assert_int_eq(u.output_tokens, 0);

    /* a metered unit nobody reported */
    memset(&u, 0, sizeof(u));
    in.ep = LAVA_EP_STT;
    flags = 0;
    ck_assert_int_eq(lava_meter_finish(&u, &in, &flags), LAVA_SOURCE_NONE);
    ck_assert_uint_eq(flags, LAVA_METER_F_MISSING);

    /* TTS with a body too big to read: the size bounds the characters */
    memset(&u, 0, sizeof(u));
    in.ep = LAVA_EP_TTS;
    in.rq = NULL;
    in.request_bytes = 321;
    flags = 0;
    ck_assert_int_eq(lava_meter_finish(&u, &in, &flags),
                     LAVA_SOURCE_ESTIMATED);
    ck_assert_int_eq(u.characters, 321);

    /* TTS without a body but with ElevenLabs' header */
    memset(&u, 0, sizeof(u));
    in.character_cost = 77;
    flags = 0;
    ck_assert_int_eq(lava_meter_finish(&u, &in, &flags),
                     LAVA_SOURCE_REPORTED);
    ck_assert_int_eq(u.characters, 77);
    ck_assert_uint_eq(flags, 0);

    /* images without a body: one */
    memset(&u, 0, sizeof(u));
    memset(&rq, 0, sizeof(rq));
    in.ep = LAVA_EP_IMAGES;
    in.rq = &rq;
    ck_assert_int_eq(lava_meter_finish(&u, &in, &flags),
                     LAVA_SOURCE_REPORTED);
    ck_assert_int_eq(u.images, 1);

    /* gpt-image: the tokens OpenAI reports, never the images beside them
     * (the response counted one; read from its tail, none) */
    memset(&u, 0, sizeof(u));
    u.seen = 1;
    u.final = 1;
    u.input_tokens = 50;
    u.output_tokens = 1050;
    u.images = 1;
    rq.n = 2;
    flags = 0;
    ck_assert_int_eq(lava_meter_finish(&u, &in, &flags),
                     LAVA_SOURCE_REPORTED);
    ck_assert_int_eq(u.images, 0);
    ck_assert_int_eq(u.output_tokens, 1050);
    ck_assert_uint_eq(flags, 0);

    u.images = 0;
    ck_assert_int_eq(lava_meter_finish(&u, &in, &flags),
                     LAVA_SOURCE_REPORTED);
    ck_assert_int_eq(u.images, 0);
    ck_assert_uint_eq(flags, 0);

    /* dall-e: no token usage, billed by image */
    memset(&u, 0, sizeof(u));
    u.seen = 1;
    u.images = 2;
    ck_assert_int_eq(lava_meter_finish(&u, &in, &flags),
                     LAVA_SOURCE_REPORTED);
    ck_assert_int_eq(u.images, 2);
    ck_assert_int_eq(u.input_tokens, 0);
    rq.n = 0;

    /* flags: whole names only */
    {
        char    buf[64];
        size_t  n;

        strcpy(buf, "compressed");
        n = lava_meter_flags_str(LAVA_METER_F_PARTIAL | LAVA_METER_F_MISSING,
                                 buf, 10, sizeof(buf));
        ck_assert_str_eq(buf, "compressed,usage_partial,usage_missing");
        ck_assert_uint_eq(n, strlen(buf));

        n = lava_meter_flags_str(LAVA_METER_F_PARTIAL, buf, 0, 10);
        ck_assert_str_eq(buf, "");
        ck_assert_uint_eq(n, 0);
    }
}
END_TEST


/* ---- class 9: estimates bounded by what the request could cost; aborts ---- */

START_TEST(test_meter_caps)
{
    unsigned         flags;
    lava_usage_t     u;
    lava_request_t   rq;
    lava_meter_in_t  in;

    static const char  chat[] =
        "{\"model\":\"gpt-4o\",\"max_tokens\":100,"
        "\"max_completion_tokens\":300,\"messages\":[{\"role\":\"user\","
        "\"content\":\"hi\"}]}";
    static const char  gemini[] =
        "{\"contents\":[],\"generationConfig\":{\"maxOutputTokens\":50}}";
    static const char  silly[] =
        "{\"max_output_tokens\":-5,\"max_tokens\":99999999999}";

    /* the bounds the request states: the largest */
    ck_assert_int_eq(lava_request_inspect(&rq, LAVA_EP_CHAT, chat,
                                          sizeof(chat) - 1), 0);
    ck_assert_int_eq(rq.max_output, 300);
    ck_assert_int_eq(lava_request_inspect(&rq, LAVA_EP_CHAT, gemini,
                                          sizeof(gemini) - 1), 0);
    ck_assert_int_eq(rq.max_output, 50);
    ck_assert_int_eq(lava_request_inspect(&rq, LAVA_EP_CHAT, silly,
                                          sizeof(silly) - 1), 0);
    ck_assert_int_eq(rq.max_output, 0);

    /* a gzip bomb's 64 MiB of text, no usage: capped at the stated bound */
    ck_assert_int_eq(lava_request_inspect(&rq, LAVA_EP_CHAT, chat,
                                          sizeof(chat) - 1), 0);
    memset(&in, 0, sizeof(in));
    memset(&u, 0, sizeof(u));
    in.ep = LAVA_EP_CHAT;
    in.character_cost = -1;
    in.status = 200;
    in.complete = 1;
    in.rq = &rq;
    in.content_bytes = 64 * 1024 * 1024;
    flags = 0;
    ck_assert_int_eq(lava_meter_finish(&u, &in, &flags),
                     LAVA_SOURCE_ESTIMATED);
    ck_assert_int_eq(u.output_tokens, 300);
    ck_assert_uint_eq(flags, LAVA_METER_F_CAPPED);

    /* n answers: n times the bound */
    rq.n = 2;
    memset(&u, 0, sizeof(u));
    ck_assert_int_eq(lava_meter_finish(&u, &in, &flags),
                     LAVA_SOURCE_ESTIMATED);
    ck_assert_int_eq(u.output_tokens, 600);
    rq.n = 0;

    /* no bound stated: the family's */
    in.rq = NULL;
    in.request_bytes = 40;
    memset(&u, 0, sizeof(u));
    ck_assert_int_eq(lava_meter_finish(&u, &in, &flags),
                     LAVA_SOURCE_ESTIMATED);
    ck_assert_int_eq(u.output_tokens, LAVA_METER_OUTPUT_MAX_OPENAI);
    in.fmt = LAVA_USAGE_GEMINI;
    memset(&u, 0, sizeof(u));
    ck_assert_int_eq(lava_meter_finish(&u, &in, &flags),
                     LAVA_SOURCE_ESTIMATED);
    ck_assert_int_eq(u.output_tokens, LAVA_METER_OUTPUT_MAX_GEMINI);

    /* reported usage is never capped, and a reported floor stays */
    memset(&u, 0, sizeof(u));
    u.seen = 1;
    u.output_tokens = 200000;
    flags = 0;
    ck_assert_int_eq(lava_meter_finish(&u, &in, &flags),
                     LAVA_SOURCE_ESTIMATED);
    ck_assert_int_eq(u.output_tokens, 200000);

    /* the client left before the answer began, the prompt was sent: the
     * prompt is billed (abort rule), flagged */
    memset(&u, 0, sizeof(u));
    in.fmt = LAVA_USAGE_OPENAI;
    in.status = 0;
    in.complete = 0;
    in.content_bytes = 0;
    in.request_bytes = 4000;
    in.abandoned = 1;
    in.request_sent = 1;
    flags = 0;
    ck_assert_int_eq(lava_meter_finish(&u, &in, &flags),
                     LAVA_SOURCE_ESTIMATED);
    ck_assert_int_eq(u.input_tokens, 1000);
    ck_assert_uint_eq(flags, LAVA_METER_F_ABORT);

    /* ... not when the prompt never reached the provider */
    memset(&u, 0, sizeof(u));
    in.request_sent = 0;
    flags = 0;
    ck_assert_int_eq(lava_meter_finish(&u, &in, &flags), LAVA_SOURCE_NONE);
    ck_assert_uint_eq(flags, 0);

    /* a cut answer after the client left: prompt and all text seen */
    memset(&u, 0, sizeof(u));
    in.request_sent = 1;
    in.status = 200;
    in.content_bytes = 401;
    flags = 0;
    ck_assert_int_eq(lava_meter_finish(&u, &in, &flags),
                     LAVA_SOURCE_ESTIMATED);
    ck_assert_int_eq(u.input_tokens, 1000);
    ck_assert_int_eq(u.output_tokens, 101);
    ck_assert_uint_eq(flags, LAVA_METER_F_ABORT);

    {
        char    buf[64];

        buf[0] = '\0';
        (void) lava_meter_flags_str(LAVA_METER_F_ABORT | LAVA_METER_F_CAPPED,
                                    buf, 0, sizeof(buf));
        ck_assert_str_eq(buf, "abort_estimate,estimate_capped");
    }
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("usage");
    tc = tcase_create("providers");
    tcase_set_timeout(tc, 900);

    tcase_add_test(tc, test_provider_fixtures);
    tcase_add_test(tc, test_big_responses_event);
    tcase_add_test(tc, test_sse_tail_ring);
    tcase_add_test(tc, test_routes);
    tcase_add_test(tc, test_routes_metered);
    tcase_add_test(tc, test_model_default);
    tcase_add_test(tc, test_request_background);
    tcase_add_test(tc, test_request_inspect);
    tcase_add_test(tc, test_request_model_limit);
    tcase_add_test(tc, test_include_usage_rewrite);
    tcase_add_test(tc, test_meter_edges);
    tcase_add_test(tc, test_meter_caps);
    suite_add_tcase(s, tc);

    return s;
}
