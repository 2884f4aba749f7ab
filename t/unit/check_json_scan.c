/*
 * The request path's non-allocating JSON scanner (lib/lava_json_scan.c) and
 * the slim request inspection built on it (lava_request_inspect in
 * lib/lava_meter.c): the scanner accepts and refuses what jansson accepts
 * and refuses, counts prompt text as the meter's jansson walk does, and the
 * inspection reads what a whole-body jansson parse reads while jansson
 * allocates only for the members the meter reads, not for the prompt.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "unit.h"
#include "lava_json_scan.h"
#include "lava_meter.h"
#include "lava_usage.h"

static const char *const text_keys[] = { "messages", "content", "text", NULL };
static const char *const skip_keys[] = { "role", "image_url", NULL };

static lava_json_scan_e
scan(const char *s, int64_t *bytes)
{
    lava_json_text_rules_t  r = { text_keys, skip_keys, 64, 1 };
    size_t                  used = 0;
    lava_json_scan_e        rc;

    *bytes = 0;
    rc = lava_json_scan_text(s, strlen(s), &r, 1, 0, &used, bytes);
    if (rc == LAVA_JSON_SCAN_OK) {
        ck_assert_uint_eq(used, strlen(s));
    }
    return rc;
}

/* value, what the scanner says, what jansson says (1 accepts) */
static const struct {
    const char        *json;
    lava_json_scan_e   rc;
} values[] = {
    { "{}",                                   LAVA_JSON_SCAN_OK },
    { "[]",                                   LAVA_JSON_SCAN_OK },
    { " {\"a\" : [1, -2, 3.5, true, false, null, \"x\"]}", LAVA_JSON_SCAN_OK },
    { "\"caf\\u00e9 \\ud83d\\ude00 \\u0000\"",  LAVA_JSON_SCAN_OK },
    { "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", LAVA_JSON_SCAN_OK },
    { "{\"a\":{\"b\":[[[{}]]]}}",             LAVA_JSON_SCAN_OK },
    { "{\"a\":1,}",                           LAVA_JSON_SCAN_INVALID },
    { "[1,]",                                 LAVA_JSON_SCAN_INVALID },
    { "[01]",                                 LAVA_JSON_SCAN_INVALID },
    { "[1.]",                                 LAVA_JSON_SCAN_INVALID },
    { "[-]",                                  LAVA_JSON_SCAN_INVALID },
    { "[tru]",                                LAVA_JSON_SCAN_INVALID },
    { "[truex]",                              LAVA_JSON_SCAN_INVALID },
    { "{\"a\" 1}",                            LAVA_JSON_SCAN_INVALID },
    { "{1:2}",                                LAVA_JSON_SCAN_INVALID },
    { "[\"a\tb\"]",                           LAVA_JSON_SCAN_INVALID },   /* raw tab */
    { "[\"\\x\"]",                            LAVA_JSON_SCAN_INVALID },
    { "[\"\\ud83d\"]",                        LAVA_JSON_SCAN_INVALID },   /* lone high */
    { "[\"\\ude00\"]",                        LAVA_JSON_SCAN_INVALID },   /* lone low */
    { "[\"\\u12g4\"]",                        LAVA_JSON_SCAN_INVALID },
    { "[\"\xc0\xaf\"]",                       LAVA_JSON_SCAN_INVALID },   /* overlong */
    { "[\"\xed\xa0\x80\"]",                   LAVA_JSON_SCAN_INVALID },   /* surrogate */
    { "[\"\x80\"]",                           LAVA_JSON_SCAN_INVALID },
    { "[\"abc",                               LAVA_JSON_SCAN_INVALID },
    { "{\"a\":[1,2}",                         LAVA_JSON_SCAN_INVALID },
    { "[1e5]",                                LAVA_JSON_SCAN_UNSURE },
    { "[12345678901234567890]",               LAVA_JSON_SCAN_UNSURE },
    { "[1765100000123456789]",                LAVA_JSON_SCAN_OK },
    { "[9223372036854775807, -9223372036854775807]", LAVA_JSON_SCAN_OK },
    { "[9223372036854775808]",                LAVA_JSON_SCAN_UNSURE },
    { "[-9223372036854775808]",               LAVA_JSON_SCAN_UNSURE },
    { "[1765100000123456789.5]",              LAVA_JSON_SCAN_UNSURE },
    { "{\"a\\u0062\":1}",                     LAVA_JSON_SCAN_UNSURE },
};

START_TEST(agrees_with_jansson)
{
    int64_t  bytes;
    json_t  *j;
    char     doc[256];

    ck_assert_msg(scan(values[_i].json, &bytes) == values[_i].rc, "%s: scanner says %d",
                  values[_i].json, scan(values[_i].json, &bytes));
    if (values[_i].rc == LAVA_JSON_SCAN_UNSURE) {
        return;
    }
    /* as a member's value, the way the meter meets it */
    snprintf(doc, sizeof(doc), "{\"m\":%s}", values[_i].json);
    j = json_loadb(doc, strlen(doc), JSON_ALLOW_NUL, NULL);
    ck_assert_msg((j != NULL) == (values[_i].rc == LAVA_JSON_SCAN_OK),
                  "%s: jansson %s", values[_i].json, j ? "accepts" : "refuses");
    json_decref(j);
}
END_TEST

START_TEST(deep_nesting_is_left_to_jansson)
{
    char     *s = malloc(2 * LAVA_JSON_SCAN_DEPTH + 3);
    int64_t   bytes;
    size_t    i;

    for (i = 0; i < LAVA_JSON_SCAN_DEPTH + 1; i++) {
        s[i] = '[';
        s[2 * LAVA_JSON_SCAN_DEPTH + 1 - i] = ']';
    }
    s[2 * LAVA_JSON_SCAN_DEPTH + 2] = '\0';
    ck_assert_int_eq(scan(s, &bytes), LAVA_JSON_SCAN_UNSURE);
    free(s);
}
END_TEST

START_TEST(counts_text_as_the_walk_does)
{
    int64_t bytes;

    /* under a text key: strings count, decoded; keys never */
    ck_assert_int_eq(scan("{\"messages\":[{\"role\":\"user\",\"content\":\"a\\nb\\u00e9\"}]}",
                          &bytes), LAVA_JSON_SCAN_OK);
    ck_assert_int_eq(bytes, 5);                  /* a \n b é(2) */
    /* nothing below a skip key, whatever the keys further down */
    ck_assert_int_eq(scan("{\"messages\":[{\"image_url\":{\"text\":\"zzzz\"},\"text\":\"ab\"}]}",
                          &bytes), LAVA_JSON_SCAN_OK);
    ck_assert_int_eq(bytes, 2);
    /* outside a text key nothing counts until one is met */
    ck_assert_int_eq(scan("{\"other\":\"xxxx\",\"nested\":{\"text\":\"abc\"}}", &bytes),
                     LAVA_JSON_SCAN_OK);
    ck_assert_int_eq(bytes, 3);
}
END_TEST

/* -- the inspection: slim equals full ---------------------------------------- */

static size_t allocated;

static void *
counting_malloc(size_t n)
{
    allocated += n;
    return malloc(n);
}

static const char *bodies[] = {
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello there\"}],"
    "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"max_tokens\":50}",
    "{\"model\":\"claude-x\",\"system\":[{\"type\":\"text\",\"text\":\"be brief\"}],"
    "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"},"
    "{\"type\":\"image\",\"source\":{\"data\":\"AAAA\"}}]}],\"max_tokens\":1024,"
    "\"tools\":[{\"name\":\"get\",\"input_schema\":{}}]}",
    "{\"contents\":[{\"parts\":[{\"text\":\"x\"}]}],\"generationConfig\":{\"maxOutputTokens\":9}}",
    "{\"model\":\"gpt-5\",\"input\":[{\"role\":\"user\",\"content\":\"q\"}],\"instructions\":\"i\","
    "\"tools\":[{\"type\":\"web_search\"}]}",
    /* the last duplicate wins, in the prompt too */
    "{\"messages\":[{\"content\":\"long long long\"}],\"model\":\"m\",\"messages\":[{\"content\":\"s\"}]}",
    /* a case twin of a member the meter reads: refused either way */
    "{\"Model\":\"x\",\"model\":\"y\",\"messages\":[]}",
    /* left to jansson: an escaped key, an exponent */
    "{\"mod\\u0065l\":\"m\",\"messages\":[{\"content\":\"a\"}]}",
    "{\"model\":\"m\",\"messages\":[{\"content\":\"a\"}],\"temperature\":1e0}",
    /* invalid in the prompt, valid elsewhere */
    "{\"model\":\"m\",\"messages\":[{\"content\":\"a\"},]}",
    "{\"model\":\"m\",\"messages\":[{\"content\":\"\\ud800\"}]}",
    "{\"model\":\"m\"} trailing",
    "[1,2]",
    /* read without jansson (lib/lava_request_scan.c), or left to it */
    "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"stream_options\":{\"include_usage\":true,"
    "\"include_usage\":false,\"text\":\"abc\"},\"n\":3,\"max_completion_tokens\":70,"
    "\"max_tokens\":9,\"max_output_tokens\":2000000,\"background\":true,\"messages\":[]}",
    "{\"model\":\"m\",\"stream_options\":{\"Include_usage\":true},\"messages\":[]}",
    "{\"model\":\"m\",\"Stream\":true,\"messages\":[]}",
    "{\"model\":\"m\",\"model\":\"n\",\"messages\":[]}",
    "{\"model\":\"m\\u0031\",\"messages\":[]}",
    "{\"model\":7,\"n\":1.5,\"stream\":\"true\",\"max_tokens\":-4,\"messages\":[]}",
    "{\"model\":\"gpt-4o-search-preview\",\"messages\":[{\"content\":\"q\"}]}",
    "{\"model\":\"0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789\"}",
    "{\"contents\":[],\"generationConfig\":{\"maxOutputTokens\":9,\"maxOutputTokens\":77,"
    "\"stopSequences\":[\"x\"]},\"source\":{\"text\":\"not counted\"},\"query\":\"counted\","
    "\"metadata\":{\"text\":\"counted too\",\"role\":\"not this\"}}",
    "{\"model\":\"m\",\"tools\":null,\"messages\":[]}",
    "{\"model\":\"m\",\"stream_options\":{\"mo\\u0064el\":1},\"messages\":[]}",
    "{}",
};

START_TEST(slim_reads_what_full_reads)
{
    lava_request_t  a, b;
    int             ra, rb;
    lava_endpoint_e eps[] = { LAVA_EP_CHAT, LAVA_EP_MESSAGES, LAVA_EP_RESPONSES, LAVA_EP_SPEECH,
                              LAVA_EP_IMAGES };
    size_t          i;

    for (i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
        ra = lava_request_inspect(&a, eps[i], bodies[_i], strlen(bodies[_i]));
        rb = lava_request_inspect_full(&b, eps[i], bodies[_i], strlen(bodies[_i]));
        ck_assert_msg(ra == rb, "body %d ep %zu: %d vs %d", _i, i, ra, rb);
        ck_assert_msg(memcmp(&a, &b, sizeof(a)) == 0, "body %d ep %zu: fields differ"
                      " (text %lld vs %lld, model %s vs %s)", _i, i, (long long) a.text_bytes,
                      (long long) b.text_bytes, a.model, b.model);
    }
}
END_TEST

START_TEST(jansson_never_holds_the_prompt)
{
    lava_request_t  rq;
    size_t          n = 200000, i, full;
    char           *body = malloc(n + 200), *p;

    p = body + sprintf(body, "{\"model\":\"gpt-4o-mini\",\"messages\":[");
    for (i = 0; i < 1000; i++) {
        p += sprintf(p, "%s{\"role\":\"user\",\"content\":\"%0150d\"}", i ? "," : "", 0);
    }
    p += sprintf(p, "],\"stream\":true}");

    json_set_alloc_funcs(counting_malloc, free);
    allocated = 0;
    ck_assert_int_eq(lava_request_inspect_full(&rq, LAVA_EP_CHAT, body, (size_t) (p - body)), 0);
    full = allocated;
    allocated = 0;
    ck_assert_int_eq(lava_request_inspect(&rq, LAVA_EP_CHAT, body, (size_t) (p - body)), 0);
    json_set_alloc_funcs(malloc, free);

    ck_assert_int_eq(rq.text_bytes, 1000 * 150);
    ck_assert_int_eq(rq.stream, 1);
    ck_assert_str_eq(rq.model, "gpt-4o-mini");
    /* the whole body: jansson holds ~2000 strings; slim: model and stream */
    ck_assert_msg(full > 150000, "full parse allocated %zu", full);
    ck_assert_msg(allocated < 2048, "slim inspection allocated %zu", allocated);
    free(body);
}
END_TEST

START_TEST(jansson_never_reads_a_common_request)
{
    lava_request_t   rq;
    lava_endpoint_e  eps[] = { LAVA_EP_CHAT, LAVA_EP_MESSAGES, LAVA_EP_RESPONSES,
                               LAVA_EP_GENERATE, LAVA_EP_EMBEDDINGS };
    size_t           i;
    static const char  body[] =
        "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],"
        "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"max_tokens\":50,"
        "\"temperature\":0.5,\"metadata\":{\"k\":\"v\"},\"system\":\"be brief\"}";

    json_set_alloc_funcs(counting_malloc, free);

    for (i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
        allocated = 0;
        ck_assert_int_eq(lava_request_inspect(&rq, eps[i], body, sizeof(body) - 1), 0);
        ck_assert_msg(allocated == 0, "ep %zu: jansson allocated %zu", i, allocated);
        ck_assert_str_eq(rq.model, "gpt-4o-mini");
        ck_assert_int_eq(rq.stream, 1);
        ck_assert_int_eq(rq.include_usage, 1);
        ck_assert_int_eq(rq.max_output, 50);
        ck_assert_int_eq(rq.text_bytes, 5 + 8);
    }

    /* tools: the tools check reads them with jansson */
    allocated = 0;
    ck_assert_int_eq(lava_request_inspect(&rq, LAVA_EP_CHAT,
                     "{\"model\":\"m\",\"tools\":[]}", 24), 0);
    ck_assert_msg(allocated > 0, "tools read without jansson");
    json_set_alloc_funcs(malloc, free);
}
END_TEST

/* -- answers: the content left out of jansson's parse ------------------------ */

/* a JSON answer of fmt with ~100 KB of content: OpenAI (usage after the
 * choices, object "chat.completion" or another), Anthropic */
static char *
answer(lava_usage_format_e fmt, const char *object, const char *usage, size_t *len)
{
    char   *b = malloc(200000), *p = b;
    size_t  i;

    if (fmt == LAVA_USAGE_OPENAI) {
        p += sprintf(p, "{\"id\":\"x\",\"object\":\"%s\",\"model\":\"gpt-4o-mini\","
                        "\"choices\":[{\"index\":0,\"message\":{\"content\":\"", object);
    } else {
        p += sprintf(p, "{\"id\":\"x\",\"type\":\"message\",\"model\":\"claude-x\","
                        "\"content\":[{\"type\":\"text\",\"text\":\"");
    }
    for (i = 0; i < 1000; i++) {
        p += sprintf(p, "%s", "0123456789 \\n \\u00e9 abcdefghijklmnopqrstuvwxyz 0123456789 "
                              "0123456789 abcdefghijklmnopqrstuvwxyz 0123456789");
    }
    p += sprintf(p, fmt == LAVA_USAGE_OPENAI ? "\"},\"finish_reason\":\"stop\"}],\"usage\":%s}"
                                             : "\"}],\"usage\":%s}", usage);
    *len = (size_t) (p - b);
    return b;
}

static const struct {
    lava_usage_format_e  fmt;
    const char          *object, *usage;
    int                  slim;           /* content left out */
} answers[] = {
    { LAVA_USAGE_OPENAI, "chat.completion",
      "{\"prompt_tokens\":1200,\"completion_tokens\":300,\"prompt_tokens_details\":"
      "{\"cached_tokens\":200},\"completion_tokens_details\":{\"reasoning_tokens\":100}}", 1 },
    /* a chunk's choices say whether its usage is final; no usage: Moonshot's
     * may be in choices[0] */
    { LAVA_USAGE_OPENAI, "chat.completion.chunk", "{\"prompt_tokens\":1,\"completion_tokens\":2}", 0 },
    { LAVA_USAGE_OPENAI, "chat.completion", "null", 0 },
    { LAVA_USAGE_ANTHROPIC, NULL,
      "{\"input_tokens\":10,\"cache_read_input_tokens\":5,\"output_tokens\":7}", 1 },
};

START_TEST(answer_content_left_out)
{
    lava_usage_t  a, b;
    size_t        len, slim_alloc, full_alloc;
    char         *body = answer(answers[_i].fmt, answers[_i].object, answers[_i].usage, &len);
    int           ra, rb;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    json_set_alloc_funcs(counting_malloc, free);
    allocated = 0;
    rb = lava_usage_parse_full(&b, answers[_i].fmt, LAVA_EP_CHAT, body, len);
    full_alloc = allocated;
    allocated = 0;
    ra = lava_usage_parse_ep(&a, answers[_i].fmt, LAVA_EP_CHAT, body, len);
    slim_alloc = allocated;
    json_set_alloc_funcs(malloc, free);

    ck_assert_int_eq(ra, rb);
    ck_assert(memcmp(&a, &b, sizeof(a)) == 0);
    ck_assert_msg(full_alloc > 100000, "whole parse allocated %zu", full_alloc);
    if (answers[_i].slim) {
        ck_assert_int_eq(ra, 1);
        ck_assert_msg(slim_alloc < 4096, "slim parse allocated %zu", slim_alloc);
    } else {
        ck_assert_msg(slim_alloc > 100000, "the content was left out (%zu)", slim_alloc);
    }

    /* the content broken: jansson refuses the whole, so does the slim parse */
    body[len / 2] = '\x01';
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    ck_assert_int_eq(lava_usage_parse_ep(&a, answers[_i].fmt, LAVA_EP_CHAT, body, len),
                     lava_usage_parse_full(&b, answers[_i].fmt, LAVA_EP_CHAT, body, len));
    ck_assert(memcmp(&a, &b, sizeof(a)) == 0);
    free(body);
}
END_TEST

/* -- answers read without jansson (lib/lava_usage_scan.c), or left to it --- */

static const char *openai_docs[] = {
    "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1754551234,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
    "\"assistant\",\"content\":\"Hello\"},\"finish_reason\":\"stop\"}],\"usage\":"
    "{\"prompt_tokens\":12,\"completion_tokens\":7,\"total_tokens\":19}}",
    /* the include_usage chunk of a stream */
    "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[ ],"
    "\"usage\":{\"prompt_tokens\":3, \"completion_tokens\" : 4,\"prompt_tokens_details\":"
    "{\"cached_tokens\":1,\"audio_tokens\":null},\"completion_tokens_details\":"
    "{\"reasoning_tokens\":2,\"accepted_prediction_tokens\":0,\"x\":[1,{\"y\":\"z/\u00e9\"},[]]}}}",
    /* a chunk still open: its choices are jansson's */
    "{\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{\"content\":\"a\"}}],"
    "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}",
    "{\"object\":\"chat.completion.chunk\",\"choices\":[{\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}",
    /* xAI: reasoning beside completion_tokens; DeepSeek, Moonshot cache hits */
    "{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":45,"
    "\"completion_tokens_details\":{\"reasoning_tokens\":30}}}",
    "{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"prompt_cache_hit_tokens\":4,"
    "\"cached_tokens\":9}}",
    "{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"prompt_cache_hit_tokens\":null,"
    "\"cached_tokens\":9}}",
    "{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"cached_tokens\":9}}",
    /* the input/output shape, transcription details */
    "{\"object\":\"response\",\"model\":\"gpt-5\",\"usage\":{\"input_tokens\":100,"
    "\"output_tokens\":20,\"input_tokens_details\":{\"cached_tokens\":50},"
    "\"output_tokens_details\":{\"reasoning_tokens\":10}}}",
    "{\"text\":\"hi\",\"usage\":{\"input_tokens\":100,\"output_tokens\":20,"
    "\"input_tokens_details\":null,\"input_token_details\":{\"audio_tokens\":70}}}",
    /* bad types: -1, the model read all the same */
    "{\"model\":\"m\",\"usage\":\"many\"}",
    "{\"model\":\"m\",\"usage\":{\"prompt_tokens\":\"1\"}}",
    "{\"model\":\"m\",\"usage\":{\"prompt_tokens\":-1}}",
    "{\"model\":\"m\",\"usage\":{\"prompt_tokens\":1,\"prompt_tokens_details\":[]}}",
    "{\"model\":\"m\",\"usage\":{\"input_tokens\":1,\"input_tokens_details\":7}}",
    "{\"model\":\"m\",\"usage\":{\"prompt_tokens\":2000000000000000}}",
    /* nothing to read: 0 */
    "{\"model\":\"m\",\"usage\":{\"prompt_tokens\":null,\"completion_tokens\":null}}",
    "{\"model\":\"m\",\"usage\":{\"foo\":1}}",
    "{\"model\":7,\"usage\":{}}",
    /* left to jansson: reals, -0, escapes, duplicates, no usage, events */
    "{\"usage\":{\"prompt_tokens\":12.0,\"completion_tokens\":1}}",
    "{\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":1,\"cost\":0.25}}",
    "{\"usage\":{\"prompt_tokens\":-0,\"completion_tokens\":1}}",
    "{\"model\":\"gpt\\/4\",\"usage\":{\"prompt_tokens\":1}}",
    "{\"usage\":{\"prompt_tokens\":1,\"note\":\"a\\nb\"}}",
    "{\"usage\":{\"prompt_tokens\":1,\"prompt_tokens\":2}}",
    "{\"usage\":{\"prompt_tokens\":1},\"usage\":null,\"x_groq\":{\"usage\":{\"prompt_tokens\":5}}}",
    "{\"usage\":null,\"choices\":[{\"usage\":{\"prompt_tokens\":5}}]}",
    "{\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":1}}}",
    "{\"usage\":{\"type\":\"duration\",\"seconds\":3}}",
    "{\"usage\":{\"prompt_tokens\":1}} x",
    "{\"usage\":{\"prompt_tokens\":1},\"bad\":\"\\u0000\"}",
    "[{\"usage\":{\"prompt_tokens\":1}}]",
};

START_TEST(openai_scan_reads_what_full_reads)
{
    lava_usage_t  a, b;
    int           ra, rb, eps[] = { LAVA_EP_OTHER, LAVA_EP_CHAT, LAVA_EP_RESPONSES,
                                    LAVA_EP_IMAGES, LAVA_EP_TRANSCRIPTION };
    size_t        i, len = strlen(openai_docs[_i]);

    for (i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
        /* over what an earlier document left, both ways */
        memset(&a, 0, sizeof(a));
        strcpy(a.model, "before");
        a.input_tokens = 99;
        memset(a.raw, 'r', sizeof(a.raw));
        a.raw_len = 5;
        b = a;
        ra = lava_usage_parse_ep(&a, LAVA_USAGE_OPENAI, eps[i], openai_docs[_i], len);
        rb = lava_usage_parse_full(&b, LAVA_USAGE_OPENAI, eps[i], openai_docs[_i], len);
        ck_assert_msg(ra == rb, "doc %d ep %d: %d vs %d", _i, eps[i], ra, rb);
        ck_assert_msg(memcmp(&a, &b, sizeof(a)) == 0, "doc %d ep %d: usage differs (raw %.*s vs %.*s)",
                      _i, eps[i], (int) a.raw_len, a.raw, (int) b.raw_len, b.raw);
    }
}
END_TEST

START_TEST(jansson_never_reads_a_common_answer)
{
    lava_usage_t  u;
    size_t        i;

    json_set_alloc_funcs(counting_malloc, free);

    for (i = 0; i < 2; i++) {
        memset(&u, 0, sizeof(u));
        allocated = 0;
        ck_assert_int_eq(lava_usage_parse_ep(&u, LAVA_USAGE_OPENAI, LAVA_EP_CHAT, openai_docs[i],
                                             strlen(openai_docs[i])), 1);
        ck_assert_msg(allocated == 0, "doc %zu: jansson allocated %zu", i, allocated);
        ck_assert(u.seen && u.final);
    }

    ck_assert_str_eq(u.model, "gpt-4o");
    ck_assert_int_eq(u.input_tokens, 2);
    ck_assert_int_eq(u.cached_input_tokens, 1);
    ck_assert_int_eq(u.output_tokens, 2);
    ck_assert_int_eq(u.reasoning_tokens, 2);
    ck_assert_str_eq(u.raw, "{\"prompt_tokens\":3,\"completion_tokens\":4,\"prompt_tokens_details\":"
                     "{\"cached_tokens\":1,\"audio_tokens\":null},\"completion_tokens_details\":"
                     "{\"reasoning_tokens\":2,\"accepted_prediction_tokens\":0,\"x\":[1,{\"y\":"
                     "\"z/\u00e9\"},[]]}}");

    /* a real in the usage: jansson reads it */
    allocated = 0;
    ck_assert_int_eq(lava_usage_parse_ep(&u, LAVA_USAGE_OPENAI, LAVA_EP_CHAT, openai_docs[19],
                                         strlen(openai_docs[19])), 1);
    ck_assert_msg(allocated > 0, "a real read without jansson");
    json_set_alloc_funcs(malloc, free);
}
END_TEST

static const char *anthropic_docs[] = {
    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\","
    "\"content\":[{\"type\":\"text\",\"text\":\"Hello\"}],\"stop_reason\":\"end_turn\","
    "\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":40,\"cache_read_input_tokens\":5,"
    "\"cache_creation\":{\"ephemeral_5m_input_tokens\":10,\"ephemeral_1h_input_tokens\":30},"
    "\"output_tokens\":7,\"service_tier\":\"standard\",\"server_tool_use\":{\"web_search_requests\":2}}}",
    "{\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"model\":\"claude-x\","
    "\"content\":[],\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}",
    "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":15}}",
    "{\"model\":\"claude-x\",\"usage\":{\"input_tokens\":3,\"cache_creation\":{\"ephemeral_5m_input_tokens\":4}}}",
    "{\"type\":\"message\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":\"3\"}}",
    "{\"type\":\"message\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":3,\"cache_creation\":5}}",
    "{\"type\":\"message\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":3.0}}",
    "{\"type\":\"message\",\"model\":\"claude-x\",\"usage\":{}}",
    "{\"type\":\"message\",\"model\":\"claude-x\",\"usage\":[]}",
    "{\"type\":\"mess\\u0061ge\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":3}}",
    "{\"type\":7,\"usage\":{\"input_tokens\":3}}",
    "{\"type\":\"message_start\",\"message\":null}",
    "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3,\"input_tokens\":4}}}",
    "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}",
    "{\"type\":\"ping\"}",
};

START_TEST(anthropic_scan_reads_what_full_reads)
{
    lava_usage_t  a, b;
    int           ra, rb, seen;
    size_t        len = strlen(anthropic_docs[_i]);

    for (seen = 0; seen < 2; seen++) {
        memset(&a, 0, sizeof(a));
        strcpy(a.model, "before");
        a.output_tokens = 99;
        a.cache_write_1h_tokens = 3;
        if (seen) {
            /* a stream's later usage: merged with jansson */
            strcpy(a.raw, "{\"input_tokens\":25}");
            a.raw_len = strlen(a.raw);
            a.seen = 1;
        }
        b = a;
        ra = lava_usage_parse_ep(&a, LAVA_USAGE_ANTHROPIC, LAVA_EP_MESSAGES, anthropic_docs[_i], len);
        rb = lava_usage_parse_full(&b, LAVA_USAGE_ANTHROPIC, LAVA_EP_MESSAGES, anthropic_docs[_i], len);
        ck_assert_msg(ra == rb, "doc %d seen %d: %d vs %d", _i, seen, ra, rb);
        ck_assert_msg(memcmp(&a, &b, sizeof(a)) == 0, "doc %d seen %d: usage differs (raw %.*s vs %.*s)",
                      _i, seen, (int) a.raw_len, a.raw, (int) b.raw_len, b.raw);
    }
}
END_TEST

START_TEST(jansson_never_reads_an_anthropic_message)
{
    lava_usage_t  u;

    memset(&u, 0, sizeof(u));
    json_set_alloc_funcs(counting_malloc, free);
    allocated = 0;
    ck_assert_int_eq(lava_usage_parse_ep(&u, LAVA_USAGE_ANTHROPIC, LAVA_EP_MESSAGES, anthropic_docs[0],
                                         strlen(anthropic_docs[0])), 1);
    ck_assert_msg(allocated == 0, "jansson allocated %zu", allocated);
    json_set_alloc_funcs(malloc, free);

    ck_assert_str_eq(u.model, "claude-sonnet-4-5");
    ck_assert_int_eq(u.input_tokens, 12);
    ck_assert_int_eq(u.cached_input_tokens, 5);
    ck_assert_int_eq(u.cache_write_1h_tokens, 30);
    ck_assert_int_eq(u.cache_write_tokens, 10);
    ck_assert_int_eq(u.output_tokens, 7);
    ck_assert_int_eq(u.web_search_calls, 2);
    ck_assert(u.seen && u.final);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("json_scan");
    TCase *tc = tcase_create("scan");

    tcase_add_loop_test(tc, agrees_with_jansson, 0, (int) (sizeof(values) / sizeof(values[0])));
    tcase_add_test(tc, deep_nesting_is_left_to_jansson);
    tcase_add_test(tc, counts_text_as_the_walk_does);
    tcase_add_loop_test(tc, slim_reads_what_full_reads, 0,
                        (int) (sizeof(bodies) / sizeof(bodies[0])));
    tcase_add_test(tc, jansson_never_holds_the_prompt);
    tcase_add_test(tc, jansson_never_reads_a_common_request);
    tcase_add_loop_test(tc, answer_content_left_out, 0, (int) (sizeof(answers) / sizeof(answers[0])));
    tcase_add_loop_test(tc, openai_scan_reads_what_full_reads, 0,
                        (int) (sizeof(openai_docs) / sizeof(openai_docs[0])));
    tcase_add_test(tc, jansson_never_reads_a_common_answer);
    tcase_add_loop_test(tc, anthropic_scan_reads_what_full_reads, 0,
                        (int) (sizeof(anthropic_docs) / sizeof(anthropic_docs[0])));
    tcase_add_test(tc, jansson_never_reads_an_anthropic_message);
    suite_add_tcase(s, tc);
    return s;
}
