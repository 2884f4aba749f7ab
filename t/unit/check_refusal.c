/*
 * The refusal table (lib/lava_refusal.h) against itself and against the
 * list of codes in docs/directives.md ("Errors the gateway answers
 * itself"): every (status, code) pair of the table is documented, and every
 * documented one is in the table. LAVA_DOCS overrides the docs directory
 * (default: docs, from the top of the tree, where `make unit` runs).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "lava_refusal.h"


#define SECTION   "## Errors the gateway answers itself"
#define PAIRS_MAX 64
#define CODE_MAX  64

typedef struct {
    int          status;
    const char  *code;
    const char  *message;
} row_t;

static const row_t  rows[] = {
#define ROW(name, status, code, message)  { status, code, message },
    LAVA_REFUSALS(ROW)
#undef ROW
};

#define NROWS  (sizeof(rows) / sizeof(rows[0]))

typedef struct {
    int   status;
    char  code[CODE_MAX];
    int   line;
} pair_t;


/* (status, code) pairs of the docs' table, in order */
static size_t
doc_pairs(pair_t *out, size_t max)
{
    FILE        *f;
    char         path[512], line[4096], *p, *q;
    const char  *dir;
    int          in, lineno, status;
    size_t       n, len;

    dir = getenv("LAVA_DOCS");
    snprintf(path, sizeof(path), "%s/directives.md", dir ? dir : "docs");

    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);

    in = 0;
    lineno = 0;
    n = 0;

    while (fgets(line, sizeof(line), f)) {
        lineno++;

        if (strncmp(line, "## ", 3) == 0) {
            in = (strncmp(line, SECTION, sizeof(SECTION) - 1) == 0);
            continue;
        }

        /* | 401 | `missing_token` / `invalid_token` | when | */
        if (!in || sscanf(line, "| %d |", &status) != 1) {
            continue;
        }

        p = strchr(line + 1, '|');
        q = p ? strchr(p + 1, '|') : NULL;
        ck_assert_msg(q != NULL, "%s:%d: no code column", path, lineno);

        for ( ;; ) {
            p = memchr(p, '`', q - p);
            if (p == NULL) {
                break;
            }

            len = strcspn(p + 1, "`");
            ck_assert_msg(p + 1 + len < q && len > 0 && len < CODE_MAX,
                          "%s:%d: bad code", path, lineno);
            ck_assert_msg(n < max, "%s: too many codes", path);

            out[n].status = status;
            memcpy(out[n].code, p + 1, len);
            out[n].code[len] = '\0';
            out[n].line = lineno;
            n++;

            p += len + 2;
        }
    }

    fclose(f);

    ck_assert_msg(n > 0, "%s: no codes under \"%s\"", path, SECTION);

    return n;
}


START_TEST(test_table)
{
    size_t       i, j;
    const char  *c;

    ck_assert_uint_eq(NROWS, LAVA_REFUSAL_COUNT);
    ck_assert_int_eq(LAVA_REFUSAL_INVALID_PATH, 0);

    for (i = 0; i < NROWS; i++) {
        ck_assert_msg(rows[i].status >= 400 && rows[i].status <= 599,
                      "row %zu: status %d", i, rows[i].status);

        ck_assert_msg(rows[i].code[0] != '\0', "row %zu: no code", i);
        for (c = rows[i].code; *c; c++) {
            ck_assert_msg((*c >= 'a' && *c <= 'z') || *c == '_',
                          "row %zu: code \"%s\"", i, rows[i].code);
        }

        /* the sender brings the message of these two only */
        if (i == LAVA_REFUSAL_INVALID_U || i == LAVA_REFUSAL_INVALID_TOKEN) {
            ck_assert_ptr_null(rows[i].message);

        } else {
            ck_assert_msg(rows[i].message && rows[i].message[0],
                          "row %zu (%s): no message", i, rows[i].code);
        }

        /* a code means one status */
        for (j = 0; j < i; j++) {
            if (strcmp(rows[i].code, rows[j].code) == 0) {
                ck_assert_msg(rows[i].status == rows[j].status,
                              "%s: status %d and %d", rows[i].code,
                              rows[j].status, rows[i].status);
            }
        }
    }
}
END_TEST


/* client-visible: the messages tests and SDK users see, byte for byte */
START_TEST(test_wire)
{
    ck_assert_str_eq(rows[LAVA_REFUSAL_MISSING_TOKEN].message,
                     "a forward token is required "
                     "(Authorization: Bearer <token>)");
    ck_assert_int_eq(rows[LAVA_REFUSAL_INSUFFICIENT_BALANCE].status, 402);
    ck_assert_str_eq(rows[LAVA_REFUSAL_EVENT_SPOOL_FULL].code,
                     "event_spool_full");
    ck_assert_str_eq(rows[LAVA_REFUSAL_METADATA_BAD_KEY].code,
                     "invalid_metadata");
    ck_assert_str_eq(rows[LAVA_REFUSAL_PROVIDER_UNREACHABLE].message,
                     "the provider could not be reached or its TLS "
                     "certificate could not be verified");
}
END_TEST


START_TEST(test_docs_agree)
{
    int     found;
    size_t  i, j, n;
    pair_t  doc[PAIRS_MAX];

    n = doc_pairs(doc, PAIRS_MAX);

    /* every code of the table is documented, with its status */
    for (i = 0; i < NROWS; i++) {
        found = 0;

        for (j = 0; j < n; j++) {
            if (strcmp(doc[j].code, rows[i].code) == 0) {
                ck_assert_msg(doc[j].status == rows[i].status,
                              "docs/directives.md:%d: %s is %d, the table "
                              "says %d", doc[j].line, doc[j].code,
                              doc[j].status, rows[i].status);
                found = 1;
            }
        }

        ck_assert_msg(found, "%d %s is not in docs/directives.md",
                      rows[i].status, rows[i].code);
    }

    /* and nothing else is, once */
    for (j = 0; j < n; j++) {
        found = 0;

        for (i = 0; i < NROWS; i++) {
            found |= (strcmp(doc[j].code, rows[i].code) == 0);
        }

        ck_assert_msg(found, "docs/directives.md:%d: %s is not in "
                      "lib/lava_refusal.h", doc[j].line, doc[j].code);

        for (i = 0; i < j; i++) {
            ck_assert_msg(strcmp(doc[i].code, doc[j].code) != 0,
                          "docs/directives.md:%d: %s listed twice",
                          doc[j].line, doc[j].code);
        }
    }
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s = suite_create("refusal");
    TCase  *tc = tcase_create("table");

    tcase_add_test(tc, test_table);
    tcase_add_test(tc, test_wire);
    tcase_add_test(tc, test_docs_agree);
    suite_add_tcase(s, tc);

    return s;
}
