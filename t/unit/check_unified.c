/*
 * The unified endpoints' provider table (lib/lava_unified.c): the chat URL
 * of a provider, Gemini's model and stream in the path, "provider/model"
 * split only on a known provider, and a chat URL for every provider of
 * conf/providers.conf whose API has chat completions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "lava_unified.h"


static int
known(void *data, const char *p, size_t len)
{
    (void) data;

    return (len == 9 && memcmp(p, "anthropic", 9) == 0)
           || (len == 8 && memcmp(p, "together", 8) == 0);
}


static int
url(const char *prov, const char *host, const char *model, int stream,
    char *buf, size_t size, int *shape)
{
    return lava_unified_url(prov, strlen(prov), host, strlen(host), model,
                            strlen(model), stream, buf, size, shape);
}


START_TEST(test_urls)
{
    char  buf[LAVA_UNIFIED_URL_MAX];
    int   n, shape;

    n = url("openai", "api.openai.com", "gpt-4o", 0, buf, sizeof(buf), &shape);
    ck_assert_int_eq(n, (int) strlen(buf));
    ck_assert_str_eq(buf, "https://api.openai.com/v1/chat/completions");
    ck_assert_int_eq(shape, LAVA_UNIFIED_OPENAI);

    url("anthropic", "api.anthropic.com", "claude-sonnet-4-5", 1, buf,
        sizeof(buf), &shape);
    ck_assert_str_eq(buf, "https://api.anthropic.com/v1/messages");
    ck_assert_int_eq(shape, LAVA_UNIFIED_ANTHROPIC);

    url("google", "generativelanguage.googleapis.com", "gemini-2.5-flash", 0,
        buf, sizeof(buf), &shape);
    ck_assert_str_eq(buf, "https://generativelanguage.googleapis.com"
                     "/v1beta/models/gemini-2.5-flash:generateContent");
    ck_assert_int_eq(shape, LAVA_UNIFIED_GEMINI);

    url("google", "generativelanguage.googleapis.com", "gemini-2.5-flash", 1,
        buf, sizeof(buf), &shape);
    ck_assert_str_eq(buf, "https://generativelanguage.googleapis.com/v1beta/"
                     "models/gemini-2.5-flash:streamGenerateContent?alt=sse");

    url("groq", "api.groq.com", "llama-3.3-70b", 0, buf, sizeof(buf), &shape);
    ck_assert_str_eq(buf, "https://api.groq.com/openai/v1/chat/completions");

    /* a Gemini model is one path segment */
    ck_assert_int_eq(url("google", "g", "../x", 0, buf, sizeof(buf), &shape),
                     -1);
    ck_assert_int_eq(url("google", "g", "a?b", 0, buf, sizeof(buf), &shape),
                     -1);
    ck_assert_int_eq(url("google", "g", "", 0, buf, sizeof(buf), &shape), -1);

    /* no chat endpoint: per-request and audio providers, unknown names */
    ck_assert_int_eq(url("elevenlabs", "api.elevenlabs.io", "m", 0, buf,
                         sizeof(buf), &shape), -1);
    ck_assert_int_eq(url("pearch", "api.pearch.ai", "m", 0, buf, sizeof(buf),
                         &shape), -1);
    ck_assert_int_eq(url("openaix", "h", "m", 0, buf, sizeof(buf), &shape),
                     -1);

    /* buffer bounds */
    ck_assert_int_eq(url("openai", "api.openai.com", "m", 0, buf, 42,
                         &shape), -1);
    ck_assert_int_eq(url("openai", "api.openai.com", "m", 0, buf, 43,
                         &shape), 42);
}
END_TEST


START_TEST(test_split)
{
    size_t       plen, mlen;
    const char  *m;

    ck_assert_int_eq(lava_unified_split("anthropic/claude-sonnet-4-5", 27,
                                        known, NULL, &plen, &m, &mlen), 1);
    ck_assert_int_eq((int) plen, 9);
    ck_assert_int_eq((int) mlen, 17);
    ck_assert(memcmp(m, "claude-sonnet-4-5", mlen) == 0);

    /* the model may hold '/' itself */
    ck_assert_int_eq(lava_unified_split("together/meta-llama/Llama-3", 27,
                                        known, NULL, &plen, &m, &mlen), 1);
    ck_assert(mlen == 18 && memcmp(m, "meta-llama/Llama-3", mlen) == 0);

    /* not a provider, or an empty side: a bare name */
    ck_assert_int_eq(lava_unified_split("meta-llama/Llama-3", 18, known, NULL,
                                        &plen, &m, &mlen), 0);
    ck_assert_int_eq(lava_unified_split("anthropic/", 10, known, NULL, &plen,
                                        &m, &mlen), 0);
    ck_assert_int_eq(lava_unified_split("/x", 2, known, NULL, &plen, &m,
                                        &mlen), 0);
    ck_assert_int_eq(lava_unified_split("gpt-4o", 6, known, NULL, &plen, &m,
                                        &mlen), 0);
}
END_TEST


/* every chat-capable provider of conf/providers.conf has a chat URL */
START_TEST(test_providers_conf)
{
    FILE        *f;
    char         line[1024], name[64], usage[64], buf[LAVA_UNIFIED_URL_MAX];
    char        *p;
    int          shape, n;
    const char  *dir;
    char         path[512];

    dir = getenv("LAVA_ROOT");
    snprintf(path, sizeof(path), "%s/conf/providers.conf", dir ? dir : ".");

    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s cannot be read", path);

    n = 0;

    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "lava_provider %63s", name) != 1) {
            continue;
        }

        p = strstr(line, " usage=");
        ck_assert(p != NULL);
        ck_assert_int_eq(sscanf(p, " usage=%63s", usage), 1);

        if (strcmp(usage, "openai") != 0 && strcmp(usage, "anthropic") != 0
            && strcmp(usage, "gemini") != 0 && strcmp(name, "cohere") != 0)
        {
            continue;
        }

        ck_assert_msg(url(name, "h", "m", 0, buf, sizeof(buf), &shape) > 0,
                      "provider %s has no chat URL in lib/lava_unified.c",
                      name);
        n++;
    }

    fclose(f);
    ck_assert_int_gt(n, 20);
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("unified");
    tc = tcase_create("core");
    tcase_add_test(tc, test_urls);
    tcase_add_test(tc, test_split);
    tcase_add_test(tc, test_providers_conf);
    suite_add_tcase(s, tc);

    return s;
}
