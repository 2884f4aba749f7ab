/*
 * The stream translator's fast path (lib/lava_xlate_stream_fast.c) against
 * the jansson decoders (lib/lava_xlate_stream.c): every stream is translated
 * with lava_xlate_stream_fast_on 1 and 0, fed whole, split at every byte
 * offset and byte by byte, and both must give the same client bytes, return
 * code, completeness and error. The golden provider streams of
 * check_xlate_stream.c, then hostile events one at a time between a
 * stream's start and its end, each with the number of events the fast path
 * must take (so a fast path that declines everything fails here too).
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "xs_feed.h"
#include "lava_fixture.h"
#include "lava_xlate_stream_int.h"


#define CREATED  1765100000LL

static const char  *fmt_names[] = { "openai", "anthropic", "gemini" };


typedef struct {
    lava_xlate_buf_t  out;
    int               rc;           /* first non-zero return, or 0 */
    int               complete;
    char              err[200];
    unsigned long     fast;         /* events the fast path took */
} xr_t;


/* cut > 0: two feeds at that offset; 0: whole; < 0: byte by byte */
static void
xrun(lava_fmt_e from, lava_fmt_e to, long long created, int fast,
    const char *in, size_t n, long cut, xr_t *r)
{
    lava_xlate_stream_t  *s;
    const char           *e;

    memset(r, 0, sizeof(*r));
    lava_xlate_stream_fast_on = fast;

    s = lava_xlate_stream_new(from, to, NULL);
    FX_CHECK(s != NULL, "lava_xlate_stream_new");
    lava_xlate_stream_set_created(s, created);

    r->rc = xs_feed(s, in, n, cut, &r->out);
    r->complete = lava_xlate_stream_complete(s);
    e = lava_xlate_stream_error(s);
    if (e != NULL) {
        snprintf(r->err, sizeof(r->err), "%s", e);
    }
    r->fast = s->fast_events;

    lava_xlate_stream_free(s);
    lava_xlate_stream_fast_on = 1;
}


static void
same(const xr_t *a, const xr_t *b, const char *name, lava_fmt_e to, long cut)
{
    size_t  i;

    FX_CHECK(a->rc == b->rc, "%s -> %s (cut %ld): rc %d fast, %d jansson",
             name, fmt_names[to], cut, a->rc, b->rc);
    FX_CHECK(a->complete == b->complete, "%s -> %s (cut %ld): complete",
             name, fmt_names[to], cut);
    FX_CHECK(strcmp(a->err, b->err) == 0, "%s -> %s (cut %ld): error '%s' "
             "fast, '%s' jansson", name, fmt_names[to], cut, a->err, b->err);

    if (a->out.len == b->out.len
        && (a->out.len == 0 || memcmp(a->out.data, b->out.data, a->out.len)
                               == 0))
    {
        return;
    }

    for (i = 0; i < a->out.len && i < b->out.len
                && a->out.data[i] == b->out.data[i]; i++)
    {
        /* void */
    }

    ck_abort_msg("%s -> %s (cut %ld): the fast path's bytes differ at byte "
                 "%zu (%zu bytes fast, %zu jansson): ...%.60s", name,
                 fmt_names[to], cut, i, a->out.len, b->out.len,
                 b->out.data ? b->out.data + (i > 20 ? i - 20 : 0) : "");
}


/*
 * Both paths, whole, at every split and byte by byte; the fast path's
 * event count of the whole run (the same in any split: an event is decoded
 * when it is complete).
 */
static unsigned long
compare(lava_fmt_e from, lava_fmt_e to, long long created, const char *in,
    size_t n, const char *name)
{
    xr_t           f, j;
    long           cut;
    unsigned long  taken;

    xrun(from, to, created, 1, in, n, 0, &f);
    xrun(from, to, created, 0, in, n, 0, &j);
    same(&f, &j, name, to, 0);
    FX_CHECK(j.fast == 0, "%s: the fast path ran while off", name);
    taken = f.fast;
    free(f.out.data);
    free(j.out.data);

    for (cut = 1; cut < (long) n; cut++) {
        xrun(from, to, created, 1, in, n, cut, &f);
        xrun(from, to, created, 0, in, n, cut, &j);
        same(&f, &j, name, to, cut);
        FX_CHECK(f.fast == taken, "%s -> %s (cut %ld): %lu events fast, %lu "
                 "whole", name, fmt_names[to], cut, f.fast, taken);
        free(f.out.data);
        free(j.out.data);
    }

    xrun(from, to, created, 1, in, n, -1, &f);
    xrun(from, to, created, 0, in, n, -1, &j);
    same(&f, &j, name, to, -1);
    free(f.out.data);
    free(j.out.data);

    return taken;
}


/* ---- the golden streams ---- */

typedef struct {
    const char  *file;          /* under t/fixtures */
    lava_fmt_e   from;
    unsigned     taken;         /* events the fast path takes (at least) */
} golden_t;

static const golden_t  golden[] = {
    { "openai_stream_usage.sse", LAVA_FMT_OPENAI, 10 },
    { "openai_stream_nousage.sse", LAVA_FMT_OPENAI, 1 },
    { "xlate/stream/openai_tools.sse", LAVA_FMT_OPENAI, 0 },
    { "xlate/stream/openai_error.sse", LAVA_FMT_OPENAI, 0 },
    { "xlate/stream/openai_reasoning.sse", LAVA_FMT_OPENAI, 0 },
    { "anthropic_stream.sse", LAVA_FMT_ANTHROPIC, 5 },
    { "anthropic/stream_error.sse", LAVA_FMT_ANTHROPIC, 0 },
    { "xlate/stream/anthropic_tools.sse", LAVA_FMT_ANTHROPIC, 3 },
    { "gemini_stream.sse", LAVA_FMT_GEMINI, 1 },
    { "google/stream_cut.sse", LAVA_FMT_GEMINI, 0 },
    { "xlate/stream/gemini_tools.sse", LAVA_FMT_GEMINI, 1 },
    { "xlate/stream/gemini_error.sse", LAVA_FMT_GEMINI, 0 },
};

#define NGOLDEN  (int) (sizeof(golden) / sizeof(golden[0]))


START_TEST(test_golden_same)
{
    const golden_t  *g = &golden[_i / 3];
    lava_fmt_e       to = (lava_fmt_e) (_i % 3);
    char            *in, *crlf;
    size_t           n, crlf_len;
    unsigned long    taken;
    char             name[300];

    if (to == g->from) {
        return;
    }

    in = fx_read(g->file, &n);
    taken = compare(g->from, to, CREATED, in, n, g->file);
    ck_assert_msg(taken >= g->taken, "%s -> %s: %lu events fast, want at "
                  "least %u", g->file, fmt_names[to], taken, g->taken);

    /* Gemini sends CRLF */
    crlf = fx_eol(in, n, 1, &crlf_len);
    snprintf(name, sizeof(name), "%s (CRLF)", g->file);
    (void) compare(g->from, to, CREATED, crlf, crlf_len, name);

    free(crlf);
    free(in);
}
END_TEST


/* ---- hostile events, one at a time ---- */

/* what comes before and after the event under test, per provider */
static const char  *pre[3] = {
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
    "\"created\":1754551234,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
    "\"finish_reason\":null}]}\n\n",

    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
    "\"content\":[],\"model\":\"claude-x\",\"usage\":{\"input_tokens\":7,"
    "\"output_tokens\":1}}}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\","
    "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",

    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}],"
    "\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":"
    "9,\"candidatesTokenCount\":1,\"totalTokenCount\":10},\"modelVersion\":"
    "\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n",
};

static const char  *post[3] = {
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{},"
    "\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,"
    "\"completion_tokens\":4,\"total_tokens\":7}}\n\ndata: [DONE]\n\n",

    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
    "\"index\":0}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
    "{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":5}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",

    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"!\"}],"
    "\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
    "\"usageMetadata\":{\"promptTokenCount\":9,\"candidatesTokenCount\":4,"
    "\"totalTokenCount\":13}}\r\n\r\n",
};

/* an Anthropic stream whose open block is a tool call */
static const char  *pre_tool =
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
    "{\"id\":\"msg_2\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":7}}}"
    "\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\","
    "\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\","
    "\"name\":\"get_weather\",\"input\":{}}}\n\n";

/* an OpenAI stream whose first chunk has no id, model or created */
static const char  *pre_bare =
    "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n";


typedef struct {
    lava_fmt_e   from;
    int          pre;           /* 0 pre[from], 1 pre_tool, 2 pre_bare */
    const char  *event;         /* the SSE event(s) under test */
    int          taken;         /* events the fast path must take */
} hostile_t;

#define OA(data, taken)   { LAVA_FMT_OPENAI, 0, "data: " data "\n\n", taken }
#define AN(name, data, taken)                                                \
    { LAVA_FMT_ANTHROPIC, 0, "event: " name "\ndata: " data "\n\n", taken }
#define GE(data, taken)   { LAVA_FMT_GEMINI, 0, "data: " data "\r\n\r\n", taken }

static const hostile_t  hostile[] = {
    /* OpenAI: taken */
    OA("{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"plain\"},"
       "\"finish_reason\":null}],\"usage\":null}", 1),
    OA("{\"choices\":[{\"delta\":{\"content\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t"
       "\\u00e9\\u20ac\\ud83d\\ude00\\u0000e\\u001f\"}}]}", 1),
    OA(" { \"choices\" : [ { \"delta\" : { \"content\" : \"w\" } } ] } ", 1),
    OA("{\"error\":null,\"id\":5,\"choices\":[{\"delta\":{\"content\":\"z\","
       "\"role\":\"assistant\",\"refusal\":null,\"reasoning_content\":null,"
       "\"tool_calls\":null,\"x\":{\"content\":\"nested\"}},\"logprobs\":"
       "{\"a\":[1,2.5,-3,true,false]}}],\"obfuscation\":\"q\","
       "\"system_fingerprint\":\"fp\"}", 1),
    OA("{\"choices\":[{\"delta\":{\"content\":null}}]}", 1),
    OA("{\"choices\":[{\"delta\":{\"content\":\"\"}}]}", 1),
    OA("{\"choices\":[{\"delta\":{}}]}", 1),
    OA("{\"choices\":[{\"delta\":{\"content\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}}]}",
       1),
    /* OpenAI: declined, jansson decides */
    OA("{\"choices\":[{\"delta\":{\"content\":\"x\",\"content\":\"y\"}}]}", 0),
    OA("{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"choices\":[{\"delta\":"
       "{\"content\":\"y\"}}]}", 0),
    OA("{\"choices\":[{\"delta\":{\"content\":\"x\"}},{\"index\":1,\"delta\":"
       "{\"content\":\"y\"}}]}", 0),
    OA("{\"choices\":[{\"index\":1,\"delta\":{\"content\":\"y\"}}]}", 0),
    OA("{\"choices\":[{\"index\":0.0,\"delta\":{\"content\":\"y\"}}]}", 0),
    OA("{\"choices\":[{\"index\":-0,\"delta\":{\"content\":\"y\"}}]}", 0),
    OA("{\"choices\":[{\"delta\":{\"content\":\"y\"},\"finish_reason\":"
       "\"length\"}]}", 0),
    OA("{\"choices\":[{\"delta\":{\"content\":\"y\"}}],\"usage\":"
       "{\"prompt_tokens\":1,\"completion_tokens\":2}}", 0),
    OA("{\"choices\":[{\"delta\":{\"content\":5}}]}", 0),
    OA("{\"choices\":[{\"delta\":{\"refusal\":\"no\"}}]}", 0),
    OA("{\"choices\":[{\"delta\":{\"reasoning_content\":\"hm\",\"content\":"
       "\"x\"}}]}", 0),
    OA("{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"t\","
       "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}}]}", 0),
    OA("{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}", 0),
    OA("{\"choices\":[{\"delta\":{\"cont\\u0065nt\":\"k\"}}]}", 0),
    OA("{\"choices\":[{\"delta\":{\"content\":\"x\"}}]} x", 0),
    OA("{\"choices\":[{\"delta\":{\"content\":\"\xff\"}}]}", 0),
    OA("{\"choices\":[{\"delta\":{\"content\":\"\\ud83d\"}}]}", 0),
    OA("{\"choices\":[{\"delta\":{\"content\":\"\\x\"}}]}", 0),
    OA("{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"n\":"
       "123456789012345678901234567890}", 0),
    OA("{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"n\":2.5e3}", 0),
    /* bench/fastmock's clock: 19 digits, sure up to INT64_MAX */
    OA("{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"t\":"
       "1765100000123456789}", 1),
    OA("{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"t\":"
       "9223372036854775808}", 0),
    OA("{\"choices\":[]}", 0),
    OA("{\"choices\":{}}", 0),
    OA("[1,2]", 0),
    OA("{\"choices\":[{\"delta\":\"x\"}]}", 0),
    OA("{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"created\":1}", 1),
    /* an id, model or created not noted yet */
    { LAVA_FMT_OPENAI, 2, "data: {\"id\":\"late\",\"model\":\"late-m\","
      "\"created\":77,\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n"
      "data: {\"id\":\"late\",\"model\":\"late-m\",\"choices\":[{\"delta\":"
      "{\"content\":\"y\"}}]}\n\n", 1 },
    { LAVA_FMT_OPENAI, 2, "data: {\"created\":77,\"choices\":[{\"delta\":"
      "{\"content\":\"x\"}}]}\n\n", 0 },

    /* Anthropic: taken */
    AN("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
       "\"delta\":{\"type\":\"text_delta\",\"text\":\"t\\n\\\"q\\\"\\u00e9\"}}",
       1),
    AN("ping", "{\"type\": \"ping\"}", 1),
    AN("ping", "{\"type\":\"ping\",\"x\":[1,{\"y\":null}]}", 1),
    AN("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
       "\"delta\":{\"type\":\"text_delta\",\"text\":\"\"}}", 1),
    AN("content_block_delta", "{\"type\":\"content_block_delta\",\"delta\":"
       "{\"type\":\"text_delta\"}}", 1),
    AN("content_block_delta", "{\"type\":\"content_block_delta\",\"delta\":"
       "{\"type\":\"text_delta\",\"text\":\"a\",\"partial_json\":\"{\"}}", 1),
    AN("other", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
       "{\"type\":\"text_delta\",\"text\":\"named otherwise\"}}", 1),
    /* Anthropic: declined */
    AN("content_block_delta", "{\"type\":\"content_block_delta\",\"delta\":"
       "{\"type\":\"text_delta\",\"text\":\"a\",\"text\":\"b\"}}", 0),
    AN("content_block_delta", "{\"type\":\"content_block_delta\",\"delta\":"
       "{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}", 0),
    AN("content_block_delta", "{\"type\":\"content_block_delta\",\"delta\":"
       "{\"type\":\"thinking_delta\",\"thinking\":\"x\"}}", 0),
    AN("content_block_delta", "{\"type\":\"content_block_delta\",\"delta\":"
       "{\"text\":\"no type\"}}", 0),
    AN("content_block_delta", "{\"type\":\"content_block_delta\",\"delta\":5}",
       0),
    AN("content_block_delta", "{\"type\":\"ping\",\"type\":"
       "\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":"
       "\"dup\"}}", 0),
    AN("ping", "{\"type\":\"p\\u0069ng\"}", 0),
    AN("content_block_delta", "{\"delta\":{\"type\":\"text_delta\",\"text\":"
       "\"untyped\"}}", 0),
    AN("content_block_delta", "{\"type\":\"content_block_delta\",\"delta\":"
       "{\"type\":\"text_delta\",\"text\":null}}", 0),
    AN("content_block_delta", "{\"type\":\"content_block_delta\",\"delta\":"
       "{\"type\":\"text_delta\",\"text\":\"x\"}", 0),
    AN("message_foo", "{\"type\":\"message_foo\"}", 0),
    AN("error", "{\"type\":\"error\",\"error\":{\"type\":"
       "\"overloaded_error\",\"message\":\"busy\"}}", 0),
    /* an open tool_use block */
    { LAVA_FMT_ANTHROPIC, 1, "event: content_block_delta\ndata: {\"type\":"
      "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
      "\"input_json_delta\",\"partial_json\":\"\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
      "\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":"
      "\"{\\\"city\\\": \\\"Par\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
      "\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":"
      "\"is\\\\n\\u00e9\\\"}\"}}\n\n", 3 },
    { LAVA_FMT_ANTHROPIC, 1, "event: content_block_delta\ndata: {\"type\":"
      "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
      "\"text_delta\",\"text\":\"x\"}}\n\n", 0 },
    { LAVA_FMT_ANTHROPIC, 1, "event: content_block_delta\ndata: {\"type\":"
      "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
      "\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":1\"}}\n\n", 1 },

    /* Gemini: taken */
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"},{\"text\":"
       "\"b\\n\\u00e9\"},{\"text\":\"\"}],\"role\":\"model\"},\"index\":0}],"
       "\"usageMetadata\":{\"promptTokenCount\":9,\"candidatesTokenCount\":3,"
       "\"totalTokenCount\":12,\"promptTokensDetails\":[{\"modality\":"
       "\"TEXT\",\"tokenCount\":9}],\"thoughtsTokenCount\":240},"
       "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}", 1),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"u\"}]}}],"
       "\"usageMetadata\":{\"promptTokenCount\":10,\"cachedContentTokenCount\":"
       "50,\"toolUsePromptTokenCount\":5,\"thoughtsTokenCount\":7,"
       "\"candidatesTokenCount\":0}}", 1),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"n\"}]},"
       "\"finishReason\":null,\"safetyRatings\":[{\"a\":1}]}],"
       "\"usageMetadata\":null,\"error\":null}", 1),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"n\","
       "\"functionCall\":{\"name\":\"f\"},\"thoughtSignature\":\"s\"}]}}]}", 1),
    GE("{\"candidates\":[{\"content\":{\"parts\":[]}}]}", 1),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"big\"}]}}],"
       "\"usageMetadata\":{\"promptTokenCount\":999999999999999999,"
       "\"candidatesTokenCount\":999999999999999999}}", 1),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"1\"},{\"text\":"
       "\"2\"},{\"text\":\"3\"},{\"text\":\"4\"},{\"text\":\"5\"},{\"text\":"
       "\"6\"},{\"text\":\"7\"},{\"text\":\"8\"}]}}]}", 1),
    /* Gemini: declined */
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"1\"},{\"text\":"
       "\"2\"},{\"text\":\"3\"},{\"text\":\"4\"},{\"text\":\"5\"},{\"text\":"
       "\"6\"},{\"text\":\"7\"},{\"text\":\"8\"},{\"text\":\"9\"}]}}]}", 0),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"t\",\"thought\":"
       "true}]}}]}", 0),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"t\",\"thought\":"
       "false}]}}]}", 0),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":"
       "\"f\",\"args\":{\"a\":1}}}]}}]}", 0),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":5}]}}]}", 0),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\",\"text\":"
       "\"b\"}]}}]}", 0),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"r\"}]}}],"
       "\"usageMetadata\":{\"promptTokenCount\":1.0}}", 0),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"r\"}]}}],"
       "\"usageMetadata\":{\"promptTokenCount\":-3}}", 0),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"r\"}]}}],"
       "\"usageMetadata\":{\"promptTokenCount\":3,\"promptTokenCount\":4}}", 0),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"r\"}]}}],"
       "\"usageMetadata\":{\"promptTokenCount\":\"5\"}}", 0),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"r\"}]}}],"
       "\"usageMetadata\":[]}", 0),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}},"
       "{\"content\":{\"parts\":[{\"text\":\"b\"}]},\"index\":1}]}", 0),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},"
       "\"index\":1}]}", 0),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},"
       "\"finishReason\":\"MAX_TOKENS\"}]}", 0),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}],"
       "\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}", 0),
    GE("{\"error\":{\"code\":429,\"message\":\"slow down\",\"status\":"
       "\"RESOURCE_EXHAUSTED\"}}", 0),
    GE("{\"candidates\":{}}", 0),
    GE("{\"candidates\":[{\"index\":0}]}", 0),
    GE("{\"candidates\":[{\"content\":{\"role\":\"model\"}}]}", 0),
    GE("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}],"
       "\"responseId\":\"r1\",\"responseId\":\"r2\"}", 0),
};

#define NHOSTILE  (int) (sizeof(hostile) / sizeof(hostile[0]))


static char *
hostile_stream(const hostile_t *h, size_t *n)
{
    const char  *p = h->pre == 1 ? pre_tool : h->pre == 2 ? pre_bare
                                                          : pre[h->from];
    const char  *q = post[h->from];
    size_t       pl = strlen(p), el = strlen(h->event), ql = strlen(q);
    char        *s = malloc(pl + el + ql + 1);

    ck_assert_ptr_nonnull(s);
    memcpy(s, p, pl);
    memcpy(s + pl, h->event, el);
    memcpy(s + pl + el, q, ql + 1);
    *n = pl + el + ql;

    return s;
}


START_TEST(test_hostile)
{
    const hostile_t  *h = &hostile[_i / 3];
    lava_fmt_e        to = (lava_fmt_e) (_i % 3);
    char             *in, name[64];
    size_t            n;
    unsigned long     taken;

    if (to == h->from) {
        return;
    }

    in = hostile_stream(h, &n);
    snprintf(name, sizeof(name), "hostile event %d", _i / 3);

    /* the bare stream: created 0 until the provider names one */
    taken = compare(h->from, to, h->pre == 2 ? 0 : CREATED, in, n, name);
    ck_assert_msg(taken == (unsigned long) h->taken, "%s (%s -> %s): %lu "
                  "events fast, want %d: %s", name, fmt_names[h->from],
                  fmt_names[to], taken, h->taken, h->event);

    free(in);
}
END_TEST


/* strings over the fast path's decode buffer, with and without escapes */
START_TEST(test_long_text)
{
    lava_fmt_e     from = (lava_fmt_e) (_i / 2);
    int            esc = _i % 2;
    size_t         i, len = 6000, n, pl, ql;
    char          *text, *ev, *in;
    unsigned long  taken;
    xr_t           f, j;
    lava_fmt_e     to;

    text = malloc(len + 1);
    ck_assert_ptr_nonnull(text);
    for (i = 0; i < len; i++) {
        text[i] = esc && i % 100 == 0 ? '\\' : 'a' + (char) (i % 26);
        if (text[i] == '\\') {
            text[++i] = 'n';
        }
    }
    text[len] = '\0';

    ev = malloc(len + 512);
    ck_assert_ptr_nonnull(ev);

    switch (from) {
    case LAVA_FMT_OPENAI:
        n = (size_t) sprintf(ev, "data: {\"choices\":[{\"delta\":{\"content\":"
                                 "\"%s\"}}]}\n\n", text);
        break;
    case LAVA_FMT_ANTHROPIC:
        n = (size_t) sprintf(ev, "event: content_block_delta\ndata: "
                                 "{\"type\":\"content_block_delta\",\"delta\":"
                                 "{\"type\":\"text_delta\",\"text\":\"%s\"}}"
                                 "\n\n", text);
        break;
    default:
        n = (size_t) sprintf(ev, "data: {\"candidates\":[{\"content\":"
                                 "{\"parts\":[{\"text\":\"%s\"}]}}]}\r\n\r\n",
                                 text);
        break;
    }

    pl = strlen(pre[from]);
    ql = strlen(post[from]);
    in = malloc(pl + n + ql);
    ck_assert_ptr_nonnull(in);
    memcpy(in, pre[from], pl);
    memcpy(in + pl, ev, n);
    memcpy(in + pl + n, post[from], ql);
    n += pl + ql;

    for (to = LAVA_FMT_OPENAI; to <= LAVA_FMT_GEMINI; to++) {
        if (to == from) {
            continue;
        }

        xrun(from, to, CREATED, 1, in, n, 0, &f);
        xrun(from, to, CREATED, 0, in, n, 0, &j);
        same(&f, &j, esc ? "long escaped text" : "long text", to, 0);
        taken = f.fast;
        /* an escaped text over the decode buffer is declined */
        ck_assert_uint_eq(taken, esc ? 0 : 1);
        free(f.out.data);
        free(j.out.data);

        xrun(from, to, CREATED, 1, in, n, -1, &f);
        xrun(from, to, CREATED, 0, in, n, -1, &j);
        same(&f, &j, "long text", to, -1);
        free(f.out.data);
        free(j.out.data);
    }

    free(in);
    free(ev);
    free(text);
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s = suite_create("xlate_stream_fast");
    TCase  *tc;

    tc = tcase_create("same");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_golden_same, 0, NGOLDEN * 3);
    tcase_add_loop_test(tc, test_hostile, 0, NHOSTILE * 3);
    tcase_add_loop_test(tc, test_long_text, 0, 6);
    suite_add_tcase(s, tc);

    return s;
}
