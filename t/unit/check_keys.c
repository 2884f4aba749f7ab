/*
 * Provider key file (lib/lava_keys.c): the file as scripts/lava-stack and
 * operators write it, with comments, blank lines, tabs and CRLF; a line
 * without a key, or with a key of other bytes, stops the reader for good
 * at its line number; the size bound at its edge; truncation at every byte
 * never reads outside the file nor yields a key of other bytes.
 */

#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "lava_keys.h"


#define MAX_ENTRIES  16

typedef struct {
    int                 rc;          /* the last lava_keys_next() */
    size_t              n;
    size_t              line;        /* of the reader at the end */
    lava_keys_entry_t   e[MAX_ENTRIES + 1];
    char                name[MAX_ENTRIES][64];
    char                key[MAX_ENTRIES][128];
} read_t;


/* reads an exact-size copy of the file to the end or the error */
static void
read_all(const char *file, size_t len, read_t *r)
{
    int           rc;
    char         *copy;
    lava_keys_t   k;

    memset(r, 0, sizeof(read_t));

    copy = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, file, len);

    rc = lava_keys_init(&k, copy, len);
    ck_assert_int_eq(rc, LAVA_KEYS_OK);

    for ( ;; ) {
        rc = lava_keys_next(&k, &r->e[r->n]);

        if (rc != LAVA_KEYS_OK) {
            break;
        }

        ck_assert_uint_lt(r->n, MAX_ENTRIES);
        ck_assert(r->e[r->n].name >= copy
                  && r->e[r->n].name + r->e[r->n].name_len <= copy + len);
        ck_assert(r->e[r->n].key >= copy
                  && r->e[r->n].key + r->e[r->n].key_len <= copy + len);
        ck_assert_uint_lt(r->e[r->n].name_len, 64);
        ck_assert_uint_lt(r->e[r->n].key_len, 128);
        memcpy(r->name[r->n], r->e[r->n].name, r->e[r->n].name_len);
        memcpy(r->key[r->n], r->e[r->n].key, r->e[r->n].key_len);
        r->n++;
    }

    r->rc = rc;
    r->line = k.line;

    /* sticky: the same answer again */
    ck_assert_int_eq(lava_keys_next(&k, &r->e[r->n]), rc);

    free(copy);
}


static void
read_str(const char *file, read_t *r)
{
    read_all(file, strlen(file), r);
}


START_TEST(test_file)
{
    read_t  r;

    read_str("# Managed provider keys: <provider> <key>\n"
             "openai sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z\n"
             "\n"
             "anthropic\tsk-ant-api03-xyz_0123456789-ABC\n"
             "   # indented comment\n"
             "  gemini   AIzaSyD-0123456789abcdefghijklmnopqrs  \n"
             "elevenlabs sk_0123456789abcdef0123456789abcdef\r\n"
             "retell key_#not_a_comment~!@$%^&*()\n"
             "\t\r\n"
             "mistral x", &r);

    ck_assert_int_eq(r.rc, LAVA_KEYS_DONE);
    ck_assert_uint_eq(r.n, 6);
    ck_assert_uint_eq(r.line, 10);

    ck_assert_str_eq(r.name[0], "openai");
    ck_assert_str_eq(r.key[0], "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z");
    ck_assert_uint_eq(r.e[0].line, 2);
    ck_assert_str_eq(r.name[1], "anthropic");
    ck_assert_str_eq(r.key[1], "sk-ant-api03-xyz_0123456789-ABC");
    ck_assert_uint_eq(r.e[1].line, 4);
    ck_assert_str_eq(r.name[2], "gemini");
    ck_assert_str_eq(r.key[2], "AIzaSyD-0123456789abcdefghijklmnopqrs");
    ck_assert_uint_eq(r.e[2].line, 6);
    ck_assert_str_eq(r.name[3], "elevenlabs");
    ck_assert_str_eq(r.key[3], "sk_0123456789abcdef0123456789abcdef");
    ck_assert_str_eq(r.name[4], "retell");
    ck_assert_str_eq(r.key[4], "key_#not_a_comment~!@$%^&*()");
    ck_assert_str_eq(r.name[5], "mistral");
    ck_assert_str_eq(r.key[5], "x");
    ck_assert_uint_eq(r.e[5].line, 10);
}
END_TEST


START_TEST(test_empty)
{
    read_t  r;

    read_str("", &r);
    ck_assert_int_eq(r.rc, LAVA_KEYS_DONE);
    ck_assert_uint_eq(r.n, 0);
    ck_assert_uint_eq(r.line, 0);

    read_str("\n\n# only comments\n  \t \n", &r);
    ck_assert_int_eq(r.rc, LAVA_KEYS_DONE);
    ck_assert_uint_eq(r.n, 0);
    ck_assert_uint_eq(r.line, 4);
}
END_TEST


/* duplicates are all given, in order: the caller keeps the last one */
START_TEST(test_duplicates)
{
    read_t  r;

    read_str("openai sk-old\nopenai sk-new\nunknown sk-x\n", &r);
    ck_assert_int_eq(r.rc, LAVA_KEYS_DONE);
    ck_assert_uint_eq(r.n, 3);
    ck_assert_str_eq(r.key[0], "sk-old");
    ck_assert_str_eq(r.key[1], "sk-new");
    ck_assert_str_eq(r.name[2], "unknown");
}
END_TEST


START_TEST(test_bad_lines)
{
    size_t      i;
    read_t      r;
    const char  *bad[] = {
        "openai\n",                      /* no key */
        "openai   \t \n",
        "openai sk-a b\n",               /* a space inside the key */
        "openai sk-a\tb\n",
        "openai sk-a\rb\n",
        "openai sk-a\x01\n",             /* control bytes, DEL, UTF-8 */
        "openai sk-\x7f\n",
        "openai sk-caf\xc3\xa9\n",
        "openai sk-\xff\n",
        "openai \"sk-a\" extra\n",
        "sk-looks-like-a-key-only\n",
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        read_str(bad[i], &r);
        ck_assert_msg(r.rc == LAVA_KEYS_BAD_LINE, "case %zu", i);
        ck_assert_uint_eq(r.n, 0);
        ck_assert_uint_eq(r.line, 1);
    }

    /* a bad line stops the reader: the lines after it are not read */
    read_str("openai sk-1\n# c\nanthropic\ngemini sk-3\n", &r);
    ck_assert_int_eq(r.rc, LAVA_KEYS_BAD_LINE);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_uint_eq(r.line, 3);

    /* NUL bytes are bytes like the others */
    read_all("openai sk-\0x\n", 13, &r);
    ck_assert_int_eq(r.rc, LAVA_KEYS_BAD_LINE);
    read_all("open\0ai sk-x\n", 13, &r);
    ck_assert_int_eq(r.rc, LAVA_KEYS_DONE);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_uint_eq(r.e[0].name_len, 7);
}
END_TEST


START_TEST(test_size)
{
    char               *file;
    lava_keys_t         k;
    lava_keys_entry_t   e;

    file = malloc(LAVA_KEYS_FILE_MAX + 1);
    ck_assert_ptr_nonnull(file);
    memset(file, '\n', LAVA_KEYS_FILE_MAX + 1);
    memcpy(file + LAVA_KEYS_FILE_MAX - 10, "openai sk-", 10);

    ck_assert_int_eq(lava_keys_init(&k, file, LAVA_KEYS_FILE_MAX),
                     LAVA_KEYS_OK);
    ck_assert_int_eq(lava_keys_next(&k, &e), LAVA_KEYS_OK);
    ck_assert_uint_eq(e.key_len, 3);
    ck_assert_uint_eq(e.line, LAVA_KEYS_FILE_MAX - 10 + 1);
    ck_assert_int_eq(lava_keys_next(&k, &e), LAVA_KEYS_DONE);

    ck_assert_int_eq(lava_keys_init(&k, file, LAVA_KEYS_FILE_MAX + 1),
                     LAVA_KEYS_TOO_LARGE);
    ck_assert_int_eq(lava_keys_next(&k, &e), LAVA_KEYS_TOO_LARGE);
    ck_assert_int_eq(lava_keys_next(&k, &e), LAVA_KEYS_TOO_LARGE);

    free(file);
}
END_TEST


START_TEST(test_truncated)
{
    size_t       n, len, i, j;
    read_t       r;
    const char  *file = "# keys\nopenai sk-proj-abc\r\n\tanthropic  sk-ant-x \n"
                        "gemini AIza-1\n";

    len = strlen(file);

    for (n = 0; n <= len; n++) {
        read_all(file, n, &r);

        /* a prefix cuts the last line: no key, or a shorter one */
        ck_assert_msg(r.rc == LAVA_KEYS_DONE || r.rc == LAVA_KEYS_BAD_LINE,
                      "prefix %zu", n);

        for (i = 0; i < r.n; i++) {
            ck_assert_uint_gt(r.e[i].key_len, 0);

            for (j = 0; j < r.e[i].key_len; j++) {
                ck_assert(r.key[i][j] > 0x20 && r.key[i][j] < 0x7f);
            }
        }
    }

    ck_assert_uint_eq(r.n, 3);
}
END_TEST


START_TEST(test_name_charset)
{
    static const char  *good[] = { "openai", "google", "elevenlabs", "x",
                                   "azure-openai_eu2",
                                   "abcdefghijklmnopqrstuvwx", NULL };
    static const char  *bad[] = { "", "OpenAI", "sk-proj-AbC123", "1openai",
                                  "-openai", "_x", "open ai", "open.ai",
                                  "abcdefghijklmnopqrstuvwxy",
                                  "0123456789abcdef0123456789abcdef",
                                  "sk_0123456789abcdef0123456789abcdef", NULL };
    const char        **p;

    for (p = good; *p; p++) {
        ck_assert_msg(lava_keys_name_valid(*p, strlen(*p)), "%s", *p);
    }

    for (p = bad; *p; p++) {
        ck_assert_msg(!lava_keys_name_valid(*p, strlen(*p)), "%s", *p);
    }
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s = suite_create("keys");
    TCase  *tc = tcase_create("file");

    tcase_add_test(tc, test_file);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_duplicates);
    tcase_add_test(tc, test_bad_lines);
    tcase_add_test(tc, test_size);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_name_charset);
    suite_add_tcase(s, tc);

    return s;
}
