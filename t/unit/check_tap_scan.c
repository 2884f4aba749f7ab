/*
 * The tap's one-pass event scan (lib/lava_tap_scan.c) against its
 * reference (the byte loops and substring searches the tap used before):
 * hand-made edge cases with their expected answers, every line and suffix
 * of the SSE and JSON fixtures, and random documents built from the bytes
 * the scan cares about. Also the usage of a stream's final chunk whose
 * members hold 19-digit integers: read by the scanner, as jansson reads it.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "unit.h"
#include "lava_tap_scan.h"
#include "lava_usage.h"
#include "lava_usage_scan.h"
#include "lava_fixture.h"


static void
same(const char *p, size_t n, const char *what)
{
    lava_tap_scan_t  fast, ref;

    lava_tap_scan(p, n, &fast);
    lava_tap_scan_ref(p, n, &ref);

    ck_assert_msg(fast.text_bytes == ref.text_bytes && fast.found == ref.found,
                  "%s: scan %zu/%x, reference %zu/%x on [%.*s]", what,
                  fast.text_bytes, fast.found, ref.text_bytes, ref.found,
                  (int) (n > 200 ? 200 : n), p);
}


static const struct {
    const char  *doc;
    size_t       text;
    unsigned     found;
} cases[] = {
    /* an OpenAI chunk: the content counted, "usage":null is no usage */
    { "{\"choices\":[{\"delta\":{\"content\":\"hello\"}}],\"usage\":null}",
      5, 0 },
    { "{\"usage\":{\"prompt_tokens\":1}}", 0, LAVA_TAP_SCAN_USAGE },
    { "{\"usage\" :\t nullx}", 0, 0 },
    { "{\"usage\": nul", 0, LAVA_TAP_SCAN_USAGE },
    { "{\"usage\":", 0, LAVA_TAP_SCAN_USAGE },
    { "{\"usageMetadata\":{\"totalTokenCount\":3}}", 0, LAVA_TAP_SCAN_USAGE },
    { "{\"x_usage\":1}", 0, LAVA_TAP_SCAN_USAGE },
    { "{\"usage-x\":1}", 0, 0 },
    { "{\"usag\":1}", 0, 0 },
    /* in text the quotes are escaped: no token, no key; but a substring
     * search finds "error" at an escaped quote followed by error and a
     * string's closing quote */
    { "{\"text\":\"say \\\"error\\\" now\"}", 17, 0 },
    { "{\"text\":\"usage\\\": 1\"}", 10, 0 },
    { "{\"text\":\"say \\\"error\"}", 11, LAVA_TAP_SCAN_ERROR },
    { "{\"type\":\"error\",\"error\":{}}", 0, LAVA_TAP_SCAN_ERROR },
    { "{\"type\":\"web_search_call\"}", 0, LAVA_TAP_SCAN_WSC },
    { "{\"groundingMetadata\":{}}", 0, LAVA_TAP_SCAN_GROUNDING },
    { "\"a\"error\"", 0, LAVA_TAP_SCAN_ERROR },
    /* arrays under a text key, other keys stop it, braces too */
    { "{\"content\":[\"ab\",\"cd\"],\"id\":\"xyz\"}", 4, 0 },
    { "{\"delta\":{\"text\":\"abc\"},\"x\":\"no\"}", 3, 0 },
    { "{\"text\":\"ab\\\\\",\"t\":\"c\"}", 4, 0 },
    /* a string cut by the end is not counted */
    { "{\"text\":\"abc", 0, 0 },
    { "{\"text\":\"abc\\", 0, 0 },
    { "", 0, 0 },
    { "\"", 0, 0 },
};


START_TEST(test_cases)
{
    size_t           i;
    lava_tap_scan_t  r;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lava_tap_scan(cases[i].doc, strlen(cases[i].doc), &r);

        ck_assert_msg(r.text_bytes == cases[i].text && r.found == cases[i].found,
                      "case %zu [%s]: %zu/%x, expected %zu/%x", i,
                      cases[i].doc, r.text_bytes, r.found, cases[i].text,
                      cases[i].found);

        same(cases[i].doc, strlen(cases[i].doc), "case");
    }
}
END_TEST


static void
every_part(const char *p, size_t n, const char *name)
{
    size_t       k;
    const char  *line, *nl, *end;

    same(p, n, name);

    end = p + n;

    for (line = p; line < end; line = nl + 1) {
        nl = memchr(line, '\n', end - line);
        if (nl == NULL) {
            nl = end;
        }

        same(line, nl - line, name);

        for (k = 1; k < (size_t) (nl - line); k++) {
            same(line + k, (nl - line) - k, name);
            same(line, k, name);
        }
    }
}


/* the provider fixtures: the .sse and .json files of t/fixtures/<provider> */
static int
provider_fixtures(void)
{
    int             n;
    DIR            *d, *sd;
    char           *body, name[2 * FX_NAME_MAX + 2], sub[1024];
    size_t          len, l;
    struct dirent  *de, *se;

    d = opendir(fx_dir());
    ck_assert_msg(d != NULL, "no fixture directory");
    n = 0;

    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strlen(de->d_name) >= FX_NAME_MAX) {
            continue;
        }

        snprintf(sub, sizeof(sub), "%s/%s", fx_dir(), de->d_name);
        sd = opendir(sub);
        if (sd == NULL) {
            continue;                       /* a file */
        }

        while ((se = readdir(sd)) != NULL) {
            l = strlen(se->d_name);

            if (l >= FX_NAME_MAX
                || !((l > 4 && strcmp(se->d_name + l - 4, ".sse") == 0)
                     || (l > 5 && strcmp(se->d_name + l - 5, ".json") == 0)))
            {
                continue;
            }

            snprintf(name, sizeof(name), "%s/%s", de->d_name, se->d_name);
            body = fx_read(name, &len);
            every_part(body, len, name);
            free(body);
            n++;
        }

        closedir(sd);
    }

    closedir(d);

    return n;
}


START_TEST(test_fixtures)
{
    int          i, j, nfix;
    char        *body;
    size_t       len;
    static char  names[FX_MAX_FILES][FX_NAME_MAX];
    static const char  *const suffixes[] = { ".sse", ".json", NULL };

    for (j = 0; suffixes[j]; j++) {
        nfix = fx_list(suffixes[j], names);
        ck_assert_int_gt(nfix, 0);

        for (i = 0; i < nfix; i++) {
            body = fx_read(names[i], &len);
            every_part(body, len, names[i]);
            free(body);
        }
    }

    ck_assert_int_gt(provider_fixtures(), 10);
}
END_TEST


/* random documents from the pieces the scan looks at */
START_TEST(test_random)
{
    int          i, k, m;
    char         doc[512];
    size_t       n, len;
    uint32_t     st = 12345;

    static const char  *const pieces[] = {
        "\"", "\\", "\\\"", "{", "}", "[", "]", ":", ",", " ", "\n", "\t",
        "usage", "Usage", "_", "x", "u", "sage", "null", "nul", "Metadata",
        "error", "web_search_call", "groundingMetadata", "content", "text",
        "delta", "arguments", "partial_json", "thinking", "reasoning",
        "reasoning_content", "refusal", "transcript", "\xc3\xa9", "1",
        "\"usage\":", "\"error\"", "\"text\":\"", "\":", "\"web_search_call\"",
    };

    for (i = 0; i < 200000; i++) {
        st = st * 1103515245u + 12345u;
        m = 1 + (st >> 16) % 40;
        n = 0;

        for (k = 0; k < m; k++) {
            st = st * 1103515245u + 12345u;
            len = strlen(pieces[(st >> 16) % (sizeof(pieces) / sizeof(pieces[0]))]);

            if (n + len > sizeof(doc)) {
                break;
            }

            memcpy(doc + n,
                   pieces[(st >> 16) % (sizeof(pieces) / sizeof(pieces[0]))],
                   len);
            n += len;
        }

        same(doc, n, "random");
    }
}
END_TEST


/*
 * A final chunk as bench/fastmock writes it: a 19-digit nanosecond
 * timestamp beside the usage. The scanner reads it (no jansson), with the
 * same result as the whole-document parse; 19-digit counters and integers
 * beyond 64 bits agree too.
 */
START_TEST(test_int64_chunk)
{
    int           i, rc, rc2;
    lava_usage_t  a, b;

    static const char  *const docs[] = {
        "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\","
        "\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":20,"
        "\"total_tokens\":32},\"t\":1765000000000000000}",
        "{\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":"
        "{\"prompt_tokens\":1,\"completion_tokens\":2},\"t\":9223372036854775807}",
        "{\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":"
        "{\"prompt_tokens\":1,\"completion_tokens\":2},\"t\":-9223372036854775808}",
        "{\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":"
        "{\"prompt_tokens\":1,\"completion_tokens\":2},\"t\":9223372036854775808}",
        "{\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":"
        "{\"prompt_tokens\":1,\"completion_tokens\":2},\"t\":-9223372036854775809}",
        "{\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":"
        "{\"prompt_tokens\":1,\"completion_tokens\":2},\"t\":99999999999999999999}",
        "{\"choices\":[],\"usage\":{\"prompt_tokens\":1000000000000000000,"
        "\"completion_tokens\":2}}",
        "{\"choices\":[],\"usage\":{\"prompt_tokens\":-1000000000000000000,"
        "\"completion_tokens\":2}}",
        "{\"choices\":[],\"usage\":{\"prompt_tokens\":999999999999999999,"
        "\"completion_tokens\":2}}",
        "{\"choices\":[],\"usage\":{\"prompt_tokens\":1,"
        "\"completion_tokens\":2,\"x\":1234567890123456789}}",
        "{\"choices\":[],\"usage\":{\"prompt_tokens\":1,"
        "\"completion_tokens\":2},\"t\":1234567890123456789.5}",
        "{\"type\":\"message_start\",\"message\":{\"model\":\"claude\",\"usage\":"
        "{\"input_tokens\":5,\"output_tokens\":1},\"t\":1765000000000000000}}",
    };

    for (i = 0; i < (int) (sizeof(docs) / sizeof(docs[0])); i++) {
        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));

        rc = lava_usage_parse_ep(&a, i == 11 ? LAVA_USAGE_ANTHROPIC
                                             : LAVA_USAGE_OPENAI,
                                 LAVA_EP_CHAT, docs[i], strlen(docs[i]));
        rc2 = lava_usage_parse_full(&b, i == 11 ? LAVA_USAGE_ANTHROPIC
                                                : LAVA_USAGE_OPENAI,
                                    LAVA_EP_CHAT, docs[i], strlen(docs[i]));

        ck_assert_msg(rc == rc2, "doc %d: %d, whole parse %d", i, rc, rc2);
        ck_assert_msg(memcmp(&a, &b, sizeof(a)) == 0,
                      "doc %d: the scanner and jansson read different usage", i);
    }

    /* the first two are the scanner's (no jansson); INT64_MIN and beyond
     * 64 bits are left to jansson */
    for (i = 0; i < 2; i++) {
        memset(&a, 0, sizeof(a));
        rc = lava_usage_scan_openai(&a, LAVA_EP_CHAT, docs[i], strlen(docs[i]));
        ck_assert_msg(rc == 1, "doc %d: the scanner said %d", i, rc);
    }

    for (i = 2; i < 4; i++) {
        memset(&a, 0, sizeof(a));
        rc = lava_usage_scan_openai(&a, LAVA_EP_CHAT, docs[i], strlen(docs[i]));
        ck_assert_msg(rc == LAVA_USAGE_SCAN_UNSURE, "doc %d: the scanner said %d",
                      i, rc);
    }
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s = suite_create("tap_scan");
    TCase  *tc = tcase_create("core");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cases);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_random);
    tcase_add_test(tc, test_int64_chunk);
    suite_add_tcase(s, tc);

    return s;
}
