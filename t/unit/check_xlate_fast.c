/*
 * The translators' fast path (lib/lava_xlate_fast.c) against the general
 * path: for every body, when the fast path takes it, the general path
 * (lava_xlate_fast_on = 0) must succeed and write the same bytes and the
 * same request info; bodies the general path refuses must be declined.
 * Bodies are hand-written edge cases, every combination of a few members'
 * variants, and the golden fixtures; the cases marked "fast" must be taken
 * (a fast path that declines everything would pass the rest).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "lava_fixture.h"
#include "lava_xlate.h"
#include "lava_xlate_int.h"
#include "lava_xlate_same.h"


static int  xf_taken;       /* bodies the fast path took, this test */


/* a request through both paths; returns whether the fast path took it */
static int
xf_request(lava_fmt_e from, lava_fmt_e to, const char *body,
    const char *model, int stream_in)
{
    int                     rs, rf, rp;
    char                    err[256];
    lava_xlate_buf_t        os, of, op;
    lava_xlate_req_info_t   is, inf, ip;

    memset(&is, 0, sizeof(is));
    memset(&inf, 0, sizeof(inf));
    memset(&ip, 0, sizeof(ip));
    is.stream = inf.stream = ip.stream = stream_in;

    lava_xlate_fast_on = 0;
    rs = lava_xlate_request_info(from, to, body, strlen(body), model, &is,
                                 &os, err, sizeof(err));
    lava_xlate_fast_on = 1;

    of.data = NULL;
    of.len = 0;
    rf = lava_xfast_request(from, to, body, strlen(body), model, &inf, &of);

    /* and the public entry point, the fast path on */
    rp = lava_xlate_request_info(from, to, body, strlen(body), model, &ip,
                                 &op, err, sizeof(err));

    ck_assert_msg(rp == rs, "public rc %d, general %d: %s", rp, rs, body);

    if (rs == 0) {
        ck_assert_msg(op.len == os.len && memcmp(op.data, os.data, os.len) == 0,
                      "public path differs for %s:\n%.*s\n%.*s", body,
                      (int) op.len, op.data, (int) os.len, os.data);
    }

    free(op.data);

    if (rf != 0) {
        free(os.data);
        return 0;
    }

    xf_taken++;

    ck_assert_msg(rs == 0, "fast path took a body the general path refuses "
                  "(%s): %s", err, body);
    ck_assert_msg(of.len == os.len && memcmp(of.data, os.data, os.len) == 0,
                  "fast path differs for %s:\nfast    %.*s\ngeneral %.*s",
                  body, (int) of.len, of.data, (int) os.len, os.data);
    ck_assert_int_eq(of.data[of.len], '\0');
    ck_assert_int_eq(inf.stream, is.stream);
    ck_assert_int_eq(inf.include_usage, is.include_usage);
    ck_assert_str_eq(inf.model, is.model);

    free(os.data);
    free(of.data);

    return 1;
}


static int
xf_response(lava_fmt_e from, lava_fmt_e to, const char *body, size_t len)
{
    int               rs, rf;
    char              err[256];
    lava_xlate_buf_t  os, of;

    lava_xlate_fast_on = 0;
    rs = lava_xlate_response(from, to, body, len, &os, err, sizeof(err));
    lava_xlate_fast_on = 1;

    of.data = NULL;
    of.len = 0;
    rf = lava_xfast_response(from, to, body, len, &of);

    if (rf != 0) {
        free(os.data);
        return 0;
    }

    xf_taken++;

    ck_assert_msg(rs == 0, "fast path took a response the general path "
                  "refuses (%s): %.*s", err, (int) len, body);
    ck_assert_msg(lava_xlate_same(of.data, of.len, os.data, os.len),
                  "fast path differs for %.*s:\nfast    %.*s\ngeneral %.*s",
                  (int) len, body, (int) of.len, of.data, (int) os.len,
                  os.data);

    free(os.data);
    free(of.data);

    return 1;
}


/* ---- Anthropic client, OpenAI provider: requests ------------------------ */

typedef struct {
    const char  *body;
    int          fast;      /* must be taken */
} xf_case_t;


static const xf_case_t  xf_a2o[] = {
    { "{\"model\":\"gpt-4o-mini\",\"max_tokens\":256,\"messages\":[{\"role\":"
      "\"user\",\"content\":\"Hello there\"}]}", 1 },
    { " { \"messages\" : [ { \"content\" : \"a\" , \"role\" : \"user\" } ] ,"
      " \"model\" : \"m\" } ", 1 },
    { "{\"model\":\"m\",\"max_tokens\":5,\"system\":\"be nice\",\"messages\":"
      "[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":"
      "[{\"type\":\"text\",\"text\":\"b\"},{\"type\":\"text\",\"text\":\"c\"}]},"
      "{\"role\":\"assistant\",\"content\":\"d\"},{\"role\":\"user\","
      "\"content\":\"\"}],\"temperature\":0.7,\"top_p\":1,\"stop_sequences\":"
      "[\"x\"],\"stream\":true}", 1 },
    { "{\"model\":\"o3\",\"max_tokens\":5,\"system\":[{\"type\":\"text\","
      "\"text\":\"s1\"},{\"type\":\"text\",\"text\":\"s2\"}],\"messages\":"
      "[{\"role\":\"user\",\"content\":\"a\"}],\"stream\":false,"
      "\"stop_sequences\":[]}", 1 },
    { "{\"model\":\"gpt-5-mini\",\"max_tokens\":1,\"messages\":[{\"role\":"
      "\"assistant\",\"content\":\"\"},{\"role\":\"user\",\"content\":"
      "\"q\\n\\\"x\\\"\\t\\\\\"}]}", 1 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":"
      "[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]},"
      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"\"}]}]}", 1 },
    { "{\"model\":\"m\",\"system\":\"\",\"messages\":[{\"role\":\"user\","
      "\"content\":\"h\\u00e9\"}]}", 0 },
    { "{\"model\":\"m\",\"system\":[],\"messages\":[{\"role\":\"user\","
      "\"content\":\"caf\xc3\xa9 \xe2\x82\xac\"}]}", 1 },
    { "{\"model\":\"m\",\"system\":null,\"messages\":[{\"role\":\"user\","
      "\"content\":\"a\\/b\"}]}", 0 },
    /* refused or not taken */
    { "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[]}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],"
      "\"model\":\"n\"}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"role\":\"user\","
      "\"content\":\"a\"}]}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"a\"}]}",
      0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[]}]}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
      "\"text\",\"text\":\"a\",\"type\":\"text\"}]}]}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
      "\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://x/y.png\"}}]}]}",
      0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
      "\"text\",\"text\":\"a\",\"cache_control\":{\"type\":\"ephemeral\"}}]}]}",
      0 },
    { "{\"model\":\"m\",\"temperature\":1.5,\"messages\":[{\"role\":\"user\","
      "\"content\":\"a\"}]}", 0 },
    { "{\"model\":\"m\",\"temperature\":0.70,\"messages\":[{\"role\":\"user\","
      "\"content\":\"a\"}]}", 0 },
    { "{\"model\":\"m\",\"temperature\":1.0,\"messages\":[{\"role\":\"user\","
      "\"content\":\"a\"}]}", 1 },
    { "{\"model\":\"m\",\"temperature\":1e-1,\"messages\":[{\"role\":\"user\","
      "\"content\":\"a\"}]}", 0 },
    { "{\"model\":\"m\",\"temperature\":-0.5,\"messages\":[{\"role\":\"user\","
      "\"content\":\"a\"}]}", 0 },
    { "{\"model\":\"m\",\"max_tokens\":0,\"messages\":[{\"role\":\"user\","
      "\"content\":\"a\"}]}", 0 },
    { "{\"model\":\"m\",\"max_tokens\":-3,\"messages\":[{\"role\":\"user\","
      "\"content\":\"a\"}]}", 0 },
    { "{\"model\":\"m\",\"max_tokens\":5.5,\"messages\":[{\"role\":\"user\","
      "\"content\":\"a\"}]}", 0 },
    { "{\"model\":\"m\",\"max_tokens\":\"5\",\"messages\":[{\"role\":\"user\","
      "\"content\":\"a\"}]}", 0 },
    { "{\"model\":\"m\",\"stream\":1,\"messages\":[{\"role\":\"user\","
      "\"content\":\"a\"}]}", 0 },
    { "{\"model\":\"m\",\"stop_sequences\":\"x\",\"messages\":[{\"role\":"
      "\"user\",\"content\":\"a\"}]}", 0 },
    { "{\"model\":\"m\",\"stop_sequences\":[1],\"messages\":[{\"role\":"
      "\"user\",\"content\":\"a\"}]}", 0 },
    { "{\"model\":\"m\",\"metadata\":{\"user_id\":\"u\"},\"messages\":[{\"role\":"
      "\"user\",\"content\":\"a\"}]}", 0 },
    { "{\"model\":\"m\",\"top_k\":3,\"messages\":[{\"role\":\"user\","
      "\"content\":\"a\"}]}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]} x",
      0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}",
      0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\x01\"}]}",
      0 },
    { "{\"model\":\"m\",\"messages\":{\"role\":\"user\",\"content\":\"a\"}}", 0 },
    { "{\"model\":5,\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", 0 },
    { "{\"model\":\"\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", 0 },
    { "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", 0 },
    { "[]", 0 },
    { "", 0 },
};


START_TEST(test_a2o_cases)
{
    size_t       i;
    int          s, took, took_all;
    const char  *models[] = { NULL, "target-model", "o4-mini", "gpt-5",
                              "with \"quote\"" };
    size_t       k;

    for (i = 0; i < sizeof(xf_a2o) / sizeof(xf_a2o[0]); i++) {
        took_all = 1;

        for (k = 0; k < sizeof(models) / sizeof(models[0]); k++) {
            for (s = -1; s <= 1; s++) {
                took = xf_request(LAVA_FMT_ANTHROPIC, LAVA_FMT_OPENAI,
                                  xf_a2o[i].body, models[k], s);
                if (k < 4 && !took) {
                    took_all = 0;
                }
            }
        }

        if (xf_a2o[i].fast) {
            ck_assert_msg(took_all, "the fast path declined case %zu: %s", i,
                          xf_a2o[i].body);
        }
    }
}
END_TEST


/* every combination of a few variants of each member */
START_TEST(test_a2o_combinations)
{
    char          body[2048];
    size_t        a, b, c, d, e, n, combos;

    static const char  *sys[] = {
        "", "\"system\":\"S\\nx\",", "\"system\":[],",
        "\"system\":[{\"type\":\"text\",\"text\":\"A\"}],",
        "\"system\":[{\"type\":\"text\",\"text\":\"\"},{\"type\":\"text\","
        "\"text\":\"B\"}],",
        "\"system\":null,", "\"system\":\"\",",
    };
    static const char  *msgs[] = {
        "[{\"role\":\"user\",\"content\":\"hi\"}]",
        "[{\"role\":\"user\",\"content\":\"\"}]",
        "[{\"role\":\"assistant\",\"content\":\"\"}]",
        "[{\"role\":\"assistant\",\"content\":[]}]",
        "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}]},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"\"}]},"
        "{\"role\":\"user\",\"content\":\"y\"}]",
        "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"},"
        "{\"type\":\"text\",\"text\":\"\"}]}]",
        "[{\"role\":\"assistant\",\"content\":\"a\"},{\"role\":\"assistant\","
        "\"content\":\"b\"}]",
    };
    static const char  *nums[] = {
        "", "\"max_tokens\":1024,", "\"temperature\":0,", "\"temperature\":1,",
        "\"top_p\":0.95,", "\"temperature\":0.25,\"top_p\":0.5,",
        "\"max_tokens\":123456789012345678,", "\"temperature\":0.1234567890123456,",
        "\"top_p\":1.00,", "\"max_tokens\":null,", "\"temperature\":null,",
    };
    static const char  *stops[] = {
        "", "\"stop_sequences\":[],", "\"stop_sequences\":[\"a\",\"\\n\"],",
        "\"stop_sequences\":null,", "\"stop_sequences\":[\"\"],",
    };
    static const char  *streams[] = {
        "", "\"stream\":true,", "\"stream\":false,", "\"stream\":null,",
    };

    combos = 0;
    xf_taken = 0;

    for (a = 0; a < sizeof(sys) / sizeof(sys[0]); a++)
    for (b = 0; b < sizeof(msgs) / sizeof(msgs[0]); b++)
    for (c = 0; c < sizeof(nums) / sizeof(nums[0]); c++)
    for (d = 0; d < sizeof(stops) / sizeof(stops[0]); d++)
    for (e = 0; e < sizeof(streams) / sizeof(streams[0]); e++) {
        n = (size_t) snprintf(body, sizeof(body),
                              "{%s%s%s%s\"model\":\"gpt-4o\",\"messages\":%s}",
                              sys[a], nums[c], stops[d], streams[e], msgs[b]);
        ck_assert_uint_lt(n, sizeof(body));

        /* the reasoning model's max_completion_tokens, on every other one */
        xf_request(LAVA_FMT_ANTHROPIC, LAVA_FMT_OPENAI, body,
                   (a + b + c + d + e) % 2 ? "o1" : NULL, -1);
        combos++;
    }

    /* most combinations are plain text chats the fast path must take */
    ck_assert_msg((size_t) xf_taken * 2 > combos, "the fast path took %d of %zu",
                  xf_taken, combos);
}
END_TEST


/* ---- OpenAI provider, Anthropic client: responses ----------------------- */

static const xf_case_t  xf_o2a[] = {
    { "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":"
      "1754551234,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":"
      "0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello from the "
      "benchmark mock.\"},\"finish_reason\":\"stop\"}],\"usage\":{"
      "\"prompt_tokens\":12,\"completion_tokens\":7,\"total_tokens\":19}}", 1 },
    { "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,"
      "\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
      "\"assistant\",\"content\":\"a\\nb \\\"c\\\"\",\"refusal\":null,"
      "\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"length\"}],"
      "\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":50,"
      "\"total_tokens\":150,\"prompt_tokens_details\":{\"cached_tokens\":40,"
      "\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":"
      "20,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
      "\"rejected_prediction_tokens\":0}},\"service_tier\":\"default\","
      "\"system_fingerprint\":\"fp_1\"}", 1 },
    { "{\"choices\":[{\"message\":{\"content\":null},\"finish_reason\":null}]}",
      1 },
    { "{\"choices\":[{\"message\":{\"content\":\"\"},\"finish_reason\":"
      "\"content_filter\"}],\"usage\":null}", 1 },
    { "{\"id\":\"x\",\"choices\":[{\"message\":{\"content\":\"t\"},"
      "\"finish_reason\":\"weird\"}],\"usage\":{\"prompt_tokens\":5,"
      "\"prompt_cache_hit_tokens\":9,\"completion_tokens\":-1}}", 1 },
    { "{\"choices\":[{\"message\":{\"content\":\"t\"}}],\"usage\":{"
      "\"prompt_tokens\":5,\"cached_tokens\":2,\"prompt_tokens_details\":"
      "{\"cache_write_tokens\":7}}}", 1 },
    { "{\"choices\":[{\"message\":{\"content\":\"t\",\"tool_calls\":[]}}],"
      "\"usage\":\"none\"}", 1 },
    /* declined or refused */
    { "{\"choices\":[{\"message\":{\"content\":\"t\",\"tool_calls\":[{\"id\":"
      "\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
      "\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}", 0 },
    { "{\"choices\":[{\"message\":{\"content\":\"t\",\"refusal\":\"no\"}}]}", 0 },
    { "{\"choices\":[{\"message\":{\"content\":\"t\",\"reasoning_content\":"
      "\"r\"}}]}", 0 },
    { "{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":"
      "\"t\"}]}}]}", 0 },
    { "{\"choices\":[]}", 0 },
    { "{\"choices\":[{\"message\":{\"content\":\"a\"}},{\"message\":"
      "{\"content\":\"b\"}}]}", 0 },
    { "{\"choices\":[{\"message\":\"x\"}]}", 0 },
    { "{\"id\":\"a\",\"id\":\"b\",\"choices\":[{\"message\":{\"content\":"
      "\"t\"}}]}", 0 },
    { "{\"choices\":[{\"message\":{\"content\":\"t\"}}],\"usage\":{"
      "\"prompt_tokens\":1,\"prompt_tokens\":2}}", 0 },
    { "{\"choices\":[{\"message\":{\"content\":\"t\"}}],\"usage\":{"
      "\"prompt_tokens\":1.5}}", 0 },
    { "{\"choices\":[{\"message\":{\"content\":\"t\"}}],\"usage\":{"
      "\"prompt_tokens_details\":{\"cached_tokens\":1,\"cached_tokens\":1}}}",
      0 },
    { "{\"choices\":[{\"message\":{\"content\":\"t\"},\"logprobs\":{\"content\":"
      "[{\"a\":1,\"a\":2}]}}]}", 0 },
    { "{\"choices\":[{\"message\":{\"content\":\"t\"}}],\"x_extra\":1}", 0 },
    { "{\"choices\":[{\"message\":{\"content\":\"\\u00e9\"}}]}", 0 },
    { "{\"model\":\"m\\/n\",\"choices\":[{\"message\":{\"content\":\"t\"}}]}",
      0 },
    { "{\"choices\":[{\"message\":{\"content\":\"t\"}}]", 0 },
    { "null", 0 },
};


START_TEST(test_o2a_cases)
{
    size_t  i;
    int     took;

    for (i = 0; i < sizeof(xf_o2a) / sizeof(xf_o2a[0]); i++) {
        took = xf_response(LAVA_FMT_OPENAI, LAVA_FMT_ANTHROPIC, xf_o2a[i].body,
                           strlen(xf_o2a[i].body));
        if (xf_o2a[i].fast) {
            ck_assert_msg(took, "the fast path declined response %zu: %s", i,
                          xf_o2a[i].body);
        }
    }
}
END_TEST


/* ---- Anthropic provider, OpenAI client: responses ----------------------- */

static const xf_case_t  xf_a2o_resp[] = {
    { "{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\","
      "\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[{\"type\":\"text\","
      "\"text\":\"Hello \\\"there\\\"\\n\"}],\"stop_reason\":\"end_turn\","
      "\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,"
      "\"cache_creation_input_tokens\":3,\"cache_read_input_tokens\":40,"
      "\"output_tokens\":7,\"service_tier\":\"standard\",\"cache_creation\":"
      "{\"ephemeral_5m_input_tokens\":3,\"ephemeral_1h_input_tokens\":0}}}", 1 },
    { "{\"id\":\"msg_02\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
      "{\"type\":\"text\",\"text\":\"b\",\"citations\":null}],\"stop_reason\":"
      "\"max_tokens\",\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}", 1 },
    { "{\"content\":[],\"stop_reason\":\"stop_sequence\",\"stop_sequence\":"
      "\"END\"}", 1 },
    { "{\"content\":[{\"type\":\"text\"}],\"stop_reason\":null,\"usage\":5}",
      1 },
    { "{\"content\":[{\"type\":\"text\",\"text\":\"\"}],\"stop_reason\":"
      "\"refusal\",\"usage\":{\"input_tokens\":-4,\"output_tokens\":0}}", 1 },
    /* declined or refused */
    { "{\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\","
      "\"input\":{}}],\"stop_reason\":\"tool_use\"}", 0 },
    { "{\"content\":[{\"type\":\"thinking\",\"thinking\":\"x\","
      "\"signature\":\"s\"},{\"type\":\"text\",\"text\":\"a\"}]}", 0 },
    { "{\"content\":[{\"type\":\"text\",\"text\":\"a\",\"citations\":"
      "[{\"type\":\"x\"}]}]}", 0 },
    { "{\"content\":\"a\"}", 0 },
    { "{\"model\":\"m\"}", 0 },
    { "{\"content\":[],\"usage\":{\"input_tokens\":1,\"input_tokens\":1}}", 0 },
    { "{\"content\":[],\"usage\":{\"input_tokens\":1.0}}", 0 },
    { "{\"content\":[],\"container\":{\"id\":\"c\"}}", 0 },
    { "{\"content\":[{\"type\":\"text\",\"text\":\"\\u00e9\"}]}", 0 },
};


START_TEST(test_a2o_responses)
{
    size_t  i;
    int     took;

    for (i = 0; i < sizeof(xf_a2o_resp) / sizeof(xf_a2o_resp[0]); i++) {
        took = xf_response(LAVA_FMT_ANTHROPIC, LAVA_FMT_OPENAI,
                           xf_a2o_resp[i].body, strlen(xf_a2o_resp[i].body));
        if (xf_a2o_resp[i].fast) {
            ck_assert_msg(took, "the fast path declined response %zu: %s", i,
                          xf_a2o_resp[i].body);
        }
    }
}
END_TEST


/* every golden fixture through both paths, in every direction */
START_TEST(test_fixtures)
{
    int             f, t;
    char            path[512];
    char           *text;
    size_t          len;
    DIR            *dir;
    struct dirent  *de;
    const char     *kinds[] = { "request", "response" };
    int             k;

    for (k = 0; k < 2; k++) {
        snprintf(path, sizeof(path), "%s/xlate/%s", fx_dir(),
                 kinds[k]);
        dir = opendir(path);
        ck_assert_ptr_nonnull(dir);

        while ((de = readdir(dir)) != NULL) {
            if (strstr(de->d_name, "_to_") != NULL
                || strstr(de->d_name, ".json") == NULL)
            {
                continue;
            }

            snprintf(path, sizeof(path), "xlate/%s/%s", kinds[k], de->d_name);
            text = fx_read(path, &len);
            ck_assert_ptr_nonnull(text);

            for (f = 0; f < LAVA_FMT_N; f++) {
                for (t = 0; t < LAVA_FMT_N; t++) {
                    if (f == t) {
                        continue;
                    }

                    if (k == 0) {
                        xf_request(f, t, text, "target-model", -1);
                    } else {
                        xf_response(f, t, text, len);
                    }
                }
            }

            free(text);
        }

        closedir(dir);
    }
}
END_TEST


/* the number rule: only texts jansson writes back the same */
START_TEST(test_numbers)
{
    size_t  i;
    char    body[256];

    static const char  *nums[] = {
        "0", "1", "0.5", "0.1", "0.7", "0.333", "0.0001", "0.00001", "1.0",
        "1.50", "0.123456789012345", "0.1234567890123456", "00.5", "-0",
        "0.", ".5", "1e0", "1E-2", "0.99999999999999999",
    };

    for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        snprintf(body, sizeof(body), "{\"model\":\"m\",\"top_p\":%s,"
                 "\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}",
                 nums[i]);
        xf_request(LAVA_FMT_ANTHROPIC, LAVA_FMT_OPENAI, body, NULL, -1);
    }
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("xlate_fast");
    tc = tcase_create("core");
    /* about 10,000 bodies through both paths: seconds on a loaded machine */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_a2o_cases);
    tcase_add_test(tc, test_a2o_combinations);
    tcase_add_test(tc, test_o2a_cases);
    tcase_add_test(tc, test_a2o_responses);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_numbers);
    suite_add_tcase(s, tc);

    return s;
}
