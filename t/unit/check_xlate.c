/*
 * JSON body translation (lib/lava_xlate*.c): golden pairs for every
 * direction under t/fixtures/xlate/{request,response,error}, named
 * <case>.<from>.json (the input) and <case>.<from>_to_<to>.json (what the
 * translator must write, compared as JSON values); refusals naming what
 * the target lacks; the shared tables of lib/lava_xlate_map.c.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "unit.h"
#include "lava_fixture.h"
#include "lava_xlate.h"
#include "lava_xlate_map.h"


/* the target model every golden request is translated with */
#define XL_MODEL  "target-model"

static const char *xl_fmt[] = { "openai", "anthropic", "gemini" };


static lava_fmt_e
xl_fmt_of(const char *s, size_t n)
{
    int  i;

    for (i = 0; i < 3; i++) {
        if (strlen(xl_fmt[i]) == n && strncmp(s, xl_fmt[i], n) == 0) {
            return (lava_fmt_e) i;
        }
    }

    return (lava_fmt_e) -1;
}


/* out (bytes) must be the JSON value of file `want` */
static void
xl_compare(const char *want_name, const char *out, size_t len)
{
    char          *want_text;
    size_t         want_len;
    json_t        *want, *got, *c;
    json_error_t   je;
    char          *dump;

    want_text = fx_read(want_name, &want_len);
    want = json_loadb(want_text, want_len, 0, &je);
    ck_assert_msg(want != NULL, "%s: %s", want_name, je.text);

    got = json_loadb(out, len, 0, &je);
    ck_assert_msg(got != NULL, "%s: output not JSON: %s", want_name, je.text);

    /* "created" is the translation time when the provider gave none: a
     * golden 0 means "any positive integer" */
    c = json_object_get(want, "created");
    if (json_is_integer(c) && json_integer_value(c) == 0) {
        ck_assert_msg(json_integer_value(json_object_get(got, "created")) > 0,
                      "%s: created", want_name);
        json_object_set_new(want, "created", json_integer(0));
        json_object_set_new(got, "created", json_integer(0));
    }

    dump = json_dumps(got, JSON_COMPACT);
    ck_assert_msg(json_equal(want, got), "%s differs: %s", want_name, dump);

    free(dump);
    json_decref(want);
    json_decref(got);
    free(want_text);
}


/* every <case>.<from>_to_<to>.json of one kind; returns pairs checked */
static int
xl_golden(const char *kind)
{
    char            dir[1024], in_name[512], want_name[512], err[256];
    DIR            *d;
    struct dirent  *de;
    const char     *name, *dot, *to_, *ext;
    char           *body;
    size_t          body_len, clen;
    lava_fmt_e      from, to;
    lava_xlate_buf_t out;
    int             n, rc, status;
    FILE           *f;

    snprintf(dir, sizeof(dir), "%s/xlate/%s", fx_dir(), kind);
    d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    n = 0;

    while ((de = readdir(d)) != NULL) {
        name = de->d_name;
        to_ = strstr(name, "_to_");
        ext = strrchr(name, '.');

        if (to_ == NULL || ext == NULL || strcmp(ext, ".json") != 0) {
            continue;
        }

        dot = strchr(name, '.');
        clen = (size_t) (dot - name);
        from = xl_fmt_of(dot + 1, (size_t) (to_ - dot - 1));
        to = xl_fmt_of(to_ + 4, (size_t) (ext - to_ - 4));
        ck_assert_msg((int) from >= 0 && (int) to >= 0, "bad name %s", name);

        snprintf(in_name, sizeof(in_name), "%s/xlate/%s/%.*s.%s.json",
                 fx_dir(), kind, (int) clen, name, xl_fmt[from]);
        f = fopen(in_name, "rb");
        if (f == NULL) {
            snprintf(in_name, sizeof(in_name), "%s/xlate/%s/%.*s.%s.txt",
                     fx_dir(), kind, (int) clen, name, xl_fmt[from]);
        } else {
            fclose(f);
        }

        /* fx_read wants names relative to the fixture directory */
        body = fx_read(in_name + strlen(fx_dir()) + 1, &body_len);
        snprintf(want_name, sizeof(want_name), "xlate/%s/%s", kind, name);

        if (strcmp(kind, "request") == 0) {
            rc = lava_xlate_request(from, to, body, body_len, XL_MODEL, &out,
                                    err, sizeof(err));
        } else if (strcmp(kind, "response") == 0) {
            rc = lava_xlate_response(from, to, body, body_len, &out, err,
                                     sizeof(err));
        } else {
            /* <name>_<status> */
            status = 500;
            for (size_t k = clen; k > 0; k--) {
                if (name[k - 1] == '_') {
                    status = atoi(name + k);
                    break;
                }
            }
            rc = lava_xlate_error(from, to, status, body, body_len, &out);
            strcpy(err, "error translation failed");
        }

        ck_assert_msg(rc == 0, "%s: %s", want_name, err);
        xl_compare(want_name, out.data, out.len);

        free(out.data);
        free(body);
        n++;
    }

    closedir(d);
    return n;
}


START_TEST(test_xlate_golden_requests)
{
    /* six directions of tools_images plus the single ones */
    ck_assert_int_ge(xl_golden("request"), 14);
}
END_TEST


START_TEST(test_xlate_golden_responses)
{
    ck_assert_int_ge(xl_golden("response"), 15);
}
END_TEST


START_TEST(test_xlate_golden_errors)
{
    ck_assert_int_ge(xl_golden("error"), 8);
}
END_TEST


/* what cannot be translated names itself */
typedef struct {
    lava_fmt_e   from;
    lava_fmt_e   to;
    const char  *body;
    const char  *err;
} xl_refusal_t;

static const xl_refusal_t  xl_refusals[] = {
    { LAVA_FMT_ANTHROPIC, LAVA_FMT_OPENAI,
      "{\"model\":\"c\",\"max_tokens\":5,\"top_k\":3,"
      "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
      "top_k is not supported by openai" },
    { LAVA_FMT_OPENAI, LAVA_FMT_ANTHROPIC,
      "{\"model\":\"g\",\"response_format\":{\"type\":\"json_object\"},"
      "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
      "a JSON response format is not supported by anthropic" },
    { LAVA_FMT_OPENAI, LAVA_FMT_ANTHROPIC,
      "{\"model\":\"g\",\"seed\":1,"
      "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
      "seed is not supported by anthropic" },
    { LAVA_FMT_OPENAI, LAVA_FMT_ANTHROPIC,
      "{\"model\":\"g\",\"temperature\":1.5,"
      "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
      "temperature above 1 is not supported by anthropic" },
    { LAVA_FMT_OPENAI, LAVA_FMT_GEMINI,
      "{\"model\":\"g\",\"n\":2,"
      "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
      "n other than 1 is not supported by gemini" },
    { LAVA_FMT_OPENAI, LAVA_FMT_GEMINI,
      "{\"model\":\"g\",\"logit_bias\":{\"1\":2},"
      "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
      "logit_bias is not supported by gemini" },
    { LAVA_FMT_OPENAI, LAVA_FMT_GEMINI,
      "{\"model\":\"g\",\"parallel_tool_calls\":false,"
      "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
      "turning parallel tool calls off is not supported by gemini" },
    { LAVA_FMT_OPENAI, LAVA_FMT_ANTHROPIC,
      "{\"model\":\"g\",\"messages\":[{\"role\":\"user\",\"content\":"
      "[{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"AA\","
      "\"format\":\"wav\"}}]}]}",
      "input_audio content in this message is not supported by anthropic" },
    { LAVA_FMT_OPENAI, LAVA_FMT_ANTHROPIC,
      "{\"model\":\"g\",\"messages\":[{\"role\":\"user\",\"content\":"
      "[{\"type\":\"image_url\",\"image_url\":{\"url\":"
      "\"data:image/tiff;base64,AA\"}}]}]}",
      "an image of type image/tiff is not supported by anthropic" },
    { LAVA_FMT_ANTHROPIC, LAVA_FMT_GEMINI,
      "{\"model\":\"c\",\"max_tokens\":5,\"tools\":[{\"type\":"
      "\"web_search_20250305\",\"name\":\"web_search\"}],"
      "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
      "the web_search_20250305 tool is not supported by gemini" },
    { LAVA_FMT_ANTHROPIC, LAVA_FMT_OPENAI,
      "{\"model\":\"c\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\","
      "\"content\":[{\"type\":\"document\",\"source\":{}}]}]}",
      "document content blocks is not supported by openai" },
    { LAVA_FMT_ANTHROPIC, LAVA_FMT_OPENAI,
      "{\"model\":\"c\",\"max_tokens\":5,\"thinking\":{\"type\":\"enabled\","
      "\"budget_tokens\":1024},"
      "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
      "a thinking budget is not supported by openai" },
    { LAVA_FMT_GEMINI, LAVA_FMT_OPENAI,
      "{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}],"
      "\"tools\":[{\"googleSearch\":{}}]}",
      "the googleSearch tool is not supported by openai" },
    { LAVA_FMT_GEMINI, LAVA_FMT_ANTHROPIC,
      "{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}],"
      "\"safetySettings\":[]}",
      "safetySettings is not supported by anthropic" },
    { LAVA_FMT_GEMINI, LAVA_FMT_ANTHROPIC,
      "{\"contents\":[{\"parts\":[{\"inlineData\":{\"mimeType\":"
      "\"audio/wav\",\"data\":\"AA\"}}]}]}",
      "inline data of type audio/wav is not supported by anthropic" },
    { LAVA_FMT_GEMINI, LAVA_FMT_OPENAI,
      "{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}],"
      "\"generationConfig\":{\"responseLogprobs\":true}}",
      "generationConfig.responseLogprobs is not supported by openai" },
    { LAVA_FMT_OPENAI, LAVA_FMT_GEMINI,
      "{\"model\":\"g\",\"messages\":[{\"role\":\"tool\","
      "\"tool_call_id\":\"x\",\"content\":\"1\"}]}",
      "tool message x answers no tool call" },
    { LAVA_FMT_OPENAI, LAVA_FMT_GEMINI, "{\"model\":",
      "request body is not valid JSON" },
    { LAVA_FMT_OPENAI, LAVA_FMT_GEMINI, "[1]",
      "request body is not a JSON object" },
    { LAVA_FMT_OPENAI, LAVA_FMT_GEMINI,
      "{\"model\":\"a\",\"model\":\"b\",\"messages\":[]}",
      "request body is not valid JSON" },
    { LAVA_FMT_GEMINI, LAVA_FMT_OPENAI,
      "{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}]}",
      "model is required" },
    { LAVA_FMT_GEMINI, LAVA_FMT_OPENAI,
      "{\"contents\":[{\"parts\":[{\"fileData\":{\"mimeType\":"
      "\"image/png\",\"fileUri\":\"https://generativelanguage.googleapis.com"
      "/v1beta/files/abc\"}}]}]}",
      "a Gemini Files API upload is not supported by openai" },
    { LAVA_FMT_GEMINI, LAVA_FMT_OPENAI,
      "{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}],"
      "\"tools\":{\"functionDeclarations\":[{\"name\":\"f\"}]}}",
      "tools must be an array" },
    /* names from the body are quoted with only safe bytes */
    { LAVA_FMT_OPENAI, LAVA_FMT_GEMINI,
      "{\"model\":\"g\",\"a\\\"b\\\\c\\n\u00e9\":1,\"messages\":[]}",
      "a?b?c??? is not supported by gemini" },
};


START_TEST(test_xlate_refusals)
{
    const xl_refusal_t  *c = &xl_refusals[_i];
    lava_xlate_buf_t     out;
    char                 err[256];
    int                  rc;

    rc = lava_xlate_request(c->from, c->to, c->body, strlen(c->body),
                            c->from == LAVA_FMT_GEMINI
                            && strstr(c->err, "model") == NULL ? "m" : NULL,
                            &out, err, sizeof(err));

    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_null(out.data);
    ck_assert_msg(strncmp(err, c->err, strlen(c->err)) == 0,
                  "case %d: got \"%s\", want \"%s\"", _i, err, c->err);
}
END_TEST


/* a response the target cannot express fails too */
START_TEST(test_xlate_response_refusal)
{
    static const char  body[] =
        "{\"id\":\"msg_1\",\"type\":\"message\",\"model\":\"c\",\"content\":"
        "[{\"type\":\"server_tool_use\",\"id\":\"s\",\"name\":\"web_search\","
        "\"input\":{}}],\"stop_reason\":\"end_turn\",\"usage\":{}}";
    lava_xlate_buf_t   out;
    char               err[256];

    ck_assert_int_eq(lava_xlate_response(LAVA_FMT_ANTHROPIC, LAVA_FMT_OPENAI,
                                         body, sizeof(body) - 1, &out, err,
                                         sizeof(err)), -1);
    ck_assert_str_eq(err, "server_tool_use content in a response is not "
                     "supported by openai");
}
END_TEST


/* a model name longer than the translator keeps is cut between
 * characters, so the response is still written */
START_TEST(test_xlate_long_model)
{
    char              body[1024], model[600];
    lava_xlate_buf_t  out;
    char              err[256];
    size_t            i;
    json_t           *j;

    for (i = 0; i + 2 <= 500; i += 2) {
        model[i] = (char) 0xc3;          /* "é" */
        model[i + 1] = (char) 0xa9;
    }
    model[i] = '\0';                     /* 250 characters, 500 bytes */

    snprintf(body, sizeof(body), "{\"id\":\"msg_1\",\"model\":\"%s\","
             "\"content\":[],\"stop_reason\":\"end_turn\",\"usage\":{}}",
             model);

    ck_assert_int_eq(lava_xlate_response(LAVA_FMT_ANTHROPIC, LAVA_FMT_OPENAI,
                                         body, strlen(body), &out, err,
                                         sizeof(err)), 0);
    j = json_loadb(out.data, out.len, 0, NULL);
    ck_assert_int_eq(strlen(json_string_value(json_object_get(j, "model"))),
                     LAVA_XLATE_MODEL_MAX - 2);
    json_decref(j);
    free(out.data);
}
END_TEST


/* same format: the body as sent, only the model replaced */
START_TEST(test_xlate_same_format)
{
    static const char  body[] =
        "{\"model\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
        "\"stream\":true,\"whatever\":1}";
    lava_xlate_buf_t       out;
    lava_xlate_req_info_t  info;
    char                   err[256];

    info.stream = -1;
    ck_assert_int_eq(lava_xlate_request_info(LAVA_FMT_OPENAI, LAVA_FMT_OPENAI,
                                             body, sizeof(body) - 1, "b",
                                             &info, &out, err, sizeof(err)),
                     0);
    ck_assert_str_eq(out.data, "{\"model\":\"b\",\"messages\":[{\"role\":"
                     "\"user\",\"content\":\"hi\"}],\"stream\":true,"
                     "\"whatever\":1}");
    ck_assert_int_eq(info.stream, 1);
    ck_assert_int_eq(info.include_usage, 0);
    ck_assert_str_eq(info.model, "a");
    free(out.data);

    ck_assert_int_eq(lava_xlate_response(LAVA_FMT_ANTHROPIC, LAVA_FMT_ANTHROPIC,
                                         "{ \"x\": 0.7 }", 12, &out, err,
                                         sizeof(err)), 0);
    ck_assert_int_eq(out.len, 12);
    ck_assert_str_eq(out.data, "{ \"x\": 0.7 }");
    free(out.data);
}
END_TEST


/* the stream flag: from a Gemini client's URL, forced usage to OpenAI,
 * none in a Gemini body */
START_TEST(test_xlate_stream_info)
{
    static const char  gem[] = "{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}]}";
    static const char  oai[] =
        "{\"model\":\"a\",\"stream\":true,\"messages\":[{\"role\":\"user\","
        "\"content\":\"hi\"}]}";
    static const char  ant[] =
        "{\"model\":\"c\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\","
        "\"content\":\"hi\"}]}";
    lava_xlate_buf_t       out;
    lava_xlate_req_info_t  info;
    char                   err[256];
    json_t                *j;

    info.stream = 1;
    ck_assert_int_eq(lava_xlate_request_info(LAVA_FMT_GEMINI, LAVA_FMT_OPENAI,
                                             gem, sizeof(gem) - 1, "gpt-4o",
                                             &info, &out, err, sizeof(err)),
                     0);
    j = json_loadb(out.data, out.len, 0, NULL);
    ck_assert(json_is_true(json_object_get(j, "stream")));
    ck_assert(json_is_true(json_object_get(json_object_get(j,
                           "stream_options"), "include_usage")));
    ck_assert_int_eq(info.stream, 1);
    ck_assert_int_eq(info.include_usage, 1);
    json_decref(j);
    free(out.data);

    info.stream = -1;
    ck_assert_int_eq(lava_xlate_request_info(LAVA_FMT_OPENAI, LAVA_FMT_GEMINI,
                                             oai, sizeof(oai) - 1, NULL,
                                             &info, &out, err, sizeof(err)),
                     0);
    ck_assert_int_eq(info.stream, 1);
    ck_assert_int_eq(info.include_usage, 0);    /* the client did not ask */
    ck_assert_ptr_null(strstr(out.data, "stream"));
    ck_assert_ptr_null(strstr(out.data, "model"));
    free(out.data);

    /* reasoning models get max_completion_tokens */
    ck_assert_int_eq(lava_xlate_request(LAVA_FMT_ANTHROPIC, LAVA_FMT_OPENAI,
                                        ant, sizeof(ant) - 1, "o3-mini", &out,
                                        err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(out.data, "\"max_completion_tokens\":9"));
    free(out.data);
}
END_TEST


/* decimals keep the digits the client wrote, in bodies and arguments */
START_TEST(test_xlate_reals)
{
    static const char  body[] =
        "{\"model\":\"c\",\"max_tokens\":9,\"temperature\":0.7,\"top_p\":0.9,"
        "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\","
        "\"id\":\"t\",\"name\":\"f\",\"input\":{\"lat\":48.8566}}]}]}";
    lava_xlate_buf_t  out;
    char              err[256];

    ck_assert_int_eq(lava_xlate_request(LAVA_FMT_ANTHROPIC, LAVA_FMT_OPENAI,
                                        body, sizeof(body) - 1, NULL, &out,
                                        err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(out.data, "\"temperature\":0.7,"));
    ck_assert_ptr_nonnull(strstr(out.data, "\"top_p\":0.9"));
    ck_assert_ptr_nonnull(strstr(out.data, "{\\\"lat\\\":48.8566}"));
    free(out.data);
}
END_TEST


/* Gemini pairs calls and results by name and order, without ids */
START_TEST(test_xlate_gemini_pairing)
{
    static const char  body[] =
        "{\"contents\":["
        "{\"role\":\"user\",\"parts\":[{\"text\":\"go\"}]},"
        "{\"role\":\"model\",\"parts\":["
        "{\"functionCall\":{\"name\":\"f\",\"args\":{\"n\":1}}},"
        "{\"functionCall\":{\"name\":\"g\",\"args\":{}}},"
        "{\"functionCall\":{\"name\":\"f\",\"args\":{\"n\":2}}}]},"
        "{\"role\":\"user\",\"parts\":["
        "{\"functionResponse\":{\"name\":\"f\",\"response\":{\"output\":\"a\"}}},"
        "{\"functionResponse\":{\"name\":\"f\",\"response\":{\"error\":\"b\"}}},"
        "{\"functionResponse\":{\"name\":\"g\",\"response\":{\"x\":1}}}]}]}";
    lava_xlate_buf_t  out;
    char              err[256];
    json_t           *j, *m;

    ck_assert_int_eq(lava_xlate_request(LAVA_FMT_GEMINI, LAVA_FMT_OPENAI, body,
                                        sizeof(body) - 1, "m", &out, err,
                                        sizeof(err)), 0);
    j = json_loadb(out.data, out.len, 0, NULL);
    m = json_object_get(j, "messages");
    ck_assert_int_eq(json_array_size(m), 5);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 2),
                     "tool_call_id")), "call_1");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 2),
                     "content")), "a");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 3),
                     "tool_call_id")), "call_3");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 4),
                     "tool_call_id")), "call_2");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 4),
                     "content")), "{\"x\":1}");
    json_decref(j);
    free(out.data);

    /* to Anthropic the error result is marked */
    ck_assert_int_eq(lava_xlate_request(LAVA_FMT_GEMINI, LAVA_FMT_ANTHROPIC,
                                        body, sizeof(body) - 1, "m", &out, err,
                                        sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(out.data, "\"tool_use_id\":\"call_3\","
                                 "\"content\":\"b\",\"is_error\":true"));
    free(out.data);
}
END_TEST


START_TEST(test_xlate_map_finish)
{
    int  f, fmt;

    ck_assert_int_eq(lava_xlate_finish_parse(LAVA_FMT_GEMINI, "STOP", 4, 1),
                     LAVA_FINISH_TOOL_CALLS);
    ck_assert_int_eq(lava_xlate_finish_parse(LAVA_FMT_GEMINI, "STOP", 4, 0),
                     LAVA_FINISH_STOP);
    ck_assert_int_eq(lava_xlate_finish_parse(LAVA_FMT_GEMINI, "RECITATION",
                                             10, 0),
                     LAVA_FINISH_CONTENT_FILTER);
    ck_assert_int_eq(lava_xlate_finish_parse(LAVA_FMT_OPENAI, "function_call",
                                             13, 0), LAVA_FINISH_TOOL_CALLS);
    ck_assert_int_eq(lava_xlate_finish_parse(LAVA_FMT_ANTHROPIC, "new_one",
                                             7, 0), LAVA_FINISH_OTHER);
    ck_assert_int_eq(lava_xlate_finish_parse(LAVA_FMT_ANTHROPIC, NULL, 0, 0),
                     LAVA_FINISH_NONE);

    /* every reason has a name in every format, and a format's own name
     * reads back as a reason it writes the same way */
    for (fmt = 0; fmt < LAVA_FMT_N; fmt++) {
        ck_assert_ptr_null(lava_xlate_finish_name(fmt, LAVA_FINISH_NONE));
        for (f = LAVA_FINISH_STOP; f < LAVA_FINISH_N; f++) {
            const char  *n = lava_xlate_finish_name(fmt, f);

            ck_assert_ptr_nonnull(n);
            ck_assert_str_eq(lava_xlate_finish_name(fmt,
                lava_xlate_finish_parse(fmt, n, strlen(n),
                                        f == LAVA_FINISH_TOOL_CALLS)), n);
        }
    }
}
END_TEST


START_TEST(test_xlate_map_usage)
{
    lava_xlate_usage_t  u, v;
    json_t             *j;
    int                 fmt;

    j = json_loads("{\"input_tokens\":93,\"cache_creation_input_tokens\":200,"
                   "\"cache_read_input_tokens\":1024,\"output_tokens\":46}",
                   0, NULL);
    lava_xlate_usage_read(LAVA_FMT_ANTHROPIC, j, &u);
    json_decref(j);
    ck_assert_int_eq(u.input, 1317);
    ck_assert_int_eq(u.cached, 1024);
    ck_assert_int_eq(u.cache_write, 200);
    ck_assert_int_eq(u.output, 46);

    j = json_loads("{\"promptTokenCount\":100,\"candidatesTokenCount\":30,"
                   "\"thoughtsTokenCount\":20,\"cachedContentTokenCount\":500}",
                   0, NULL);
    lava_xlate_usage_read(LAVA_FMT_GEMINI, j, &u);
    json_decref(j);
    ck_assert_int_eq(u.input, 100);
    ck_assert_int_eq(u.cached, 100);        /* a part never exceeds its total */
    ck_assert_int_eq(u.output, 50);
    ck_assert_int_eq(u.reasoning, 20);

    /* written and read back the same in every format that can hold it */
    u.input = 1000; u.cached = 600; u.cache_write = 0; u.output = 80;
    u.reasoning = 30; u.seen = 1;
    for (fmt = 0; fmt < LAVA_FMT_N; fmt++) {
        j = lava_xlate_usage_json(fmt, &u);
        lava_xlate_usage_read(fmt, j, &v);
        json_decref(j);
        ck_assert_int_eq(v.input, u.input);
        ck_assert_int_eq(v.cached, u.cached);
        ck_assert_int_eq(v.output, u.output);
        ck_assert_int_eq(v.reasoning, fmt == LAVA_FMT_ANTHROPIC ? 0 : 30);
    }

    lava_xlate_usage_read(LAVA_FMT_OPENAI, NULL, &v);
    ck_assert_int_eq(v.seen, 0);
}
END_TEST


START_TEST(test_xlate_map_misc)
{
    char  buf[64];

    ck_assert_int_eq(lava_xlate_fmt("google", 6), LAVA_FMT_GEMINI);
    ck_assert_int_eq(lava_xlate_fmt("anthropic", 9), LAVA_FMT_ANTHROPIC);
    ck_assert_int_eq(lava_xlate_fmt("openai", 6), LAVA_FMT_OPENAI);
    ck_assert_int_eq((int) lava_xlate_fmt("bedrock", 7), -1);
    ck_assert_int_eq((int) lava_xlate_fmt("openai2", 7), -1);

    ck_assert_str_eq(lava_xlate_role_name(LAVA_FMT_GEMINI,
                                          LAVA_ROLE_ASSISTANT), "model");
    ck_assert_ptr_null(lava_xlate_role_name(LAVA_FMT_ANTHROPIC,
                                            LAVA_ROLE_SYSTEM));
    ck_assert_int_eq(lava_xlate_role_parse(LAVA_FMT_OPENAI, "developer"),
                     LAVA_ROLE_SYSTEM);
    ck_assert_int_eq(lava_xlate_role_parse(LAVA_FMT_ANTHROPIC, "system"), -1);

    ck_assert_str_eq(lava_xlate_error_type(LAVA_FMT_ANTHROPIC, 529),
                     "overloaded_error");
    ck_assert_str_eq(lava_xlate_error_type(LAVA_FMT_GEMINI, 418),
                     "INVALID_ARGUMENT");
    ck_assert_str_eq(lava_xlate_error_type(LAVA_FMT_OPENAI, 502),
                     "server_error");

    ck_assert_str_eq(lava_xlate_id(LAVA_FMT_ANTHROPIC, LAVA_FMT_OPENAI,
                                   "msg_01X", buf, sizeof(buf)),
                     "chatcmpl-01X");
    ck_assert_str_eq(lava_xlate_id(LAVA_FMT_OPENAI, LAVA_FMT_GEMINI,
                                   "chatcmpl-9", buf, sizeof(buf)), "9");
    ck_assert_str_eq(lava_xlate_id(LAVA_FMT_GEMINI, LAVA_FMT_ANTHROPIC,
                                   NULL, buf, sizeof(buf)), "msg_lava");
}
END_TEST


/* an error body with no JSON and one in the client's own shape */
START_TEST(test_xlate_error_same)
{
    static const char  body[] = "{\"error\":{\"message\":\"x\",\"weird\":1}}";
    lava_xlate_buf_t   out;

    ck_assert_int_eq(lava_xlate_error(LAVA_FMT_OPENAI, LAVA_FMT_OPENAI, 400,
                                      body, sizeof(body) - 1, &out), 0);
    ck_assert_str_eq(out.data, body);
    free(out.data);

    ck_assert_int_eq(lava_xlate_error(LAVA_FMT_OPENAI, LAVA_FMT_OPENAI, 503,
                                      "", 0, &out), 0);
    ck_assert_str_eq(out.data, "{\"error\":{\"message\":\"the provider "
                     "answered HTTP 503\",\"type\":\"server_error\","
                     "\"param\":null,\"code\":null}}");
    free(out.data);
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s = suite_create("xlate");
    TCase  *tc = tcase_create("xlate");

    tcase_add_test(tc, test_xlate_golden_requests);
    tcase_add_test(tc, test_xlate_golden_responses);
    tcase_add_test(tc, test_xlate_golden_errors);
    tcase_add_loop_test(tc, test_xlate_refusals, 0,
                        sizeof(xl_refusals) / sizeof(xl_refusals[0]));
    tcase_add_test(tc, test_xlate_response_refusal);
    tcase_add_test(tc, test_xlate_same_format);
    tcase_add_test(tc, test_xlate_long_model);
    tcase_add_test(tc, test_xlate_stream_info);
    tcase_add_test(tc, test_xlate_reals);
    tcase_add_test(tc, test_xlate_gemini_pairing);
    tcase_add_test(tc, test_xlate_map_finish);
    tcase_add_test(tc, test_xlate_map_usage);
    tcase_add_test(tc, test_xlate_map_misc);
    tcase_add_test(tc, test_xlate_error_same);
    suite_add_tcase(s, tc);

    return s;
}
