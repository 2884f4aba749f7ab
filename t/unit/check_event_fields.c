/*
 * The usage event's table (lib/lava_event_fields.h) against the places that
 * cannot be expanded from it: the field table of docs/events.md, and the SQL
 * (the events table, the columns book_batch() inserts from its staging
 * table book_events_in, both lists of dead_letter_stream_fields()).
 *
 * The SQL objects are found by name in every .sql file under sql/ (paths sorted;
 * the last definition wins, as when the files run in that order), so the
 * test does not depend on which file holds them. LAVA_SRCDIR: the top of the
 * source tree (default: the current directory).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <ftw.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "lava_event_fields.h"

/* <name>_values[] of each ENUM field */
#define VALUE_STR(v)  #v,
#define VALUES(a, name, column, kind, req, max)  LAVA_EVENT_KIND(kind, VALUES)(name)
#define VALUES_VERSION(n)
#define VALUES_REQID(n)
#define VALUES_INT(n)
#define VALUES_ID(n)
#define VALUES_TEXT(n)
#define VALUES_JSON(n)
#define VALUES_ENUM(n)                                                          \
    static const char *const n##_values[] = { LAVA_EVENT_VALUES_##n(VALUE_STR) NULL };
#define VALUES_BOOL(n)
#define VALUES_BUCKET(n)

LAVA_EVENT_FIELDS(VALUES, _)

typedef struct {
    const char          *name;          /* stream field */
    const char          *column;        /* events column, JSON key */
    const char          *kind;
    int                  required;
    const char *const   *values;        /* ENUM: its values, else NULL */
} row_t;

#define ROW(a, name, column, kind, req, max)                                   \
    { #name, #column, #kind, req, LAVA_EVENT_KIND(kind, ROWV)(name) },
#define ROWV_VERSION(n)  NULL
#define ROWV_REQID(n)    NULL
#define ROWV_INT(n)      NULL
#define ROWV_ID(n)       NULL
#define ROWV_TEXT(n)     NULL
#define ROWV_JSON(n)     NULL
#define ROWV_ENUM(n)     n##_values
#define ROWV_BOOL(n)     NULL
#define ROWV_BUCKET(n)   NULL

static const row_t rows[] = {
    LAVA_EVENT_FIELDS(ROW, _)
};

#define NROWS  (sizeof(rows) / sizeof(rows[0]))
#define MAXFILES  512
#define MAXLIST   256


static const char *
srcdir(void)
{
    const char  *d = getenv("LAVA_SRCDIR");

    return d ? d : ".";
}


static char *
slurp(const char *path)
{
    FILE   *f;
    char   *buf;
    long    n;

    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t) n + 1);
    ck_assert(buf != NULL);
    ck_assert_msg(fread(buf, 1, (size_t) n, f) == (size_t) n, "cannot read %s", path);
    buf[n] = '\0';
    fclose(f);
    return buf;
}


static const row_t *
row_by_column(const char *column)
{
    size_t  i;

    for (i = 0; i < NROWS; i++) {
        if (strcmp(rows[i].column, column) == 0) {
            return &rows[i];
        }
    }
    return NULL;
}


static int
is_bucket(const row_t *r)
{
    return strcmp(r->kind, "BUCKET") == 0;
}


/* ---- docs/events.md ------------------------------------------------------ */

START_TEST(docs_list_every_field_in_order)
{
    char        path[4096], *doc, *line, *save = NULL;
    char        name[128], req[16], value[80];
    size_t      i = 0, k;
    int         in_table = 0;

    snprintf(path, sizeof(path), "%s/docs/events.md", srcdir());
    doc = slurp(path);

    for (line = strtok_r(doc, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!in_table) {
            in_table = strncmp(line, "| field | required |", 20) == 0;
            continue;
        }
        if (line[0] != '|') {
            break;                      /* the end of the field table */
        }
        if (strncmp(line, "|---", 4) == 0) {
            continue;
        }
        ck_assert_msg(sscanf(line, "| `%127[^`]` | %15[a-z] |", name, req) == 2,
                      "docs/events.md: a field row that is not | `name` | yes/no |: %s",
                      line);
        ck_assert_msg(i < NROWS, "docs/events.md: field %s is not in lib/lava_event_fields.h",
                      name);
        ck_assert_msg(strcmp(name, rows[i].name) == 0,
                      "docs/events.md: row %zu is %s, lib/lava_event_fields.h has %s there"
                      " (same fields, same order)", i + 1, name, rows[i].name);
        ck_assert_msg(strcmp(req, rows[i].required ? "yes" : "no") == 0,
                      "docs/events.md: %s is required \"%s\", the table says %s",
                      name, req, rows[i].required ? "yes" : "no");
        for (k = 0; rows[i].values && rows[i].values[k]; k++) {
            snprintf(value, sizeof(value), "`%s`", rows[i].values[k]);
            ck_assert_msg(strstr(line, value) != NULL,
                          "docs/events.md: the row of %s does not name its value %s",
                          name, value);
        }
        i++;
    }

    ck_assert_msg(in_table, "docs/events.md: no \"| field | required |\" table");
    ck_assert_msg(i == NROWS, "docs/events.md: field %s of lib/lava_event_fields.h has no row",
                  rows[i < NROWS ? i : 0].name);
    free(doc);
}
END_TEST


/* ---- the SQL files --------------------------------------------------------- */

typedef struct {
    char   *path;
    char   *text;                   /* lower case, comments blanked */
} sql_file_t;

static char       *sql_paths[MAXFILES];
static size_t      sql_npaths;
static sql_file_t  sql[MAXFILES];
static size_t      nsql;


static int
sql_collect(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    size_t  n = strlen(path);

    if (type == FTW_F && n > 4 && strcmp(path + n - 4, ".sql") == 0
        && sql_npaths < MAXFILES)
    {
        sql_paths[sql_npaths++] = strdup(path);
    }
    return 0;
}


static int
str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


/* Lower case; -- and block comments outside quotes become blanks. */
static void
sql_normalise(char *s)
{
    char  q = 0;

    for (; *s; s++) {
        if (q) {
            if (*s == q) {
                q = 0;
            }
        } else if (*s == '\'' || *s == '"') {
            q = *s;
        } else if (s[0] == '-' && s[1] == '-') {
            while (*s && *s != '\n') {
                *s++ = ' ';
            }
            if (*s == '\0') {
                return;
            }
        } else if (s[0] == '/' && s[1] == '*') {
            while (*s && !(s[0] == '*' && s[1] == '/')) {
                *s++ = ' ';
            }
            if (*s == '\0') {
                return;
            }
            s[0] = ' ';
            s[1] = ' ';
            s++;
            continue;
        }
        *s = (char) tolower((unsigned char) *s);
    }
}


static void
sql_load(void)
{
    char    dir[4096];
    size_t  i;

    if (nsql > 0) {
        return;
    }
    snprintf(dir, sizeof(dir), "%s/sql", srcdir());
    ck_assert_msg(nftw(dir, sql_collect, 16, FTW_PHYS) == 0, "cannot walk %s", dir);
    ck_assert_msg(sql_npaths > 0, "no .sql file under %s", dir);
    qsort(sql_paths, sql_npaths, sizeof(char *), str_cmp);
    for (i = 0; i < sql_npaths; i++) {
        sql[nsql].path = sql_paths[i];
        sql[nsql].text = slurp(sql_paths[i]);
        sql_normalise(sql[nsql].text);
        nsql++;
    }
}


/*
 * The last match of pattern (extended, on the normalised text) in all files:
 * *file and the offset just past the match; -1 when there is none.
 */
static long
sql_find_last(const char *pattern, const sql_file_t **file)
{
    regex_t      re;
    regmatch_t   m;
    size_t       i;
    long         last = -1;
    const char  *p;

    ck_assert_msg(regcomp(&re, pattern, REG_EXTENDED) == 0, "bad pattern %s", pattern);
    for (i = 0; i < nsql; i++) {
        p = sql[i].text;
        while (regexec(&re, p, 1, &m, p == sql[i].text ? 0 : REG_NOTBOL) == 0) {
            *file = &sql[i];
            last = (long) (p - sql[i].text) + m.rm_eo;
            p += m.rm_eo > 0 ? m.rm_eo : 1;
        }
    }
    regfree(&re);
    return last;
}


/* The end of the text in parentheses (or brackets) that starts at s[0]. */
static const char *
sql_close(const char *s)
{
    int   depth = 0;
    char  q = 0;

    for (; *s; s++) {
        if (q) {
            if (*s == q) {
                q = 0;
            }
        } else if (*s == '\'' || *s == '"') {
            q = *s;
        } else if (*s == '(' || *s == '[') {
            depth++;
        } else if ((*s == ')' || *s == ']') && --depth == 0) {
            return s;
        }
    }
    return NULL;
}


/*
 * The items of the list between s[0] == '(' (or '[') and its end, split at
 * commas outside parentheses and quotes, trimmed; the caller frees
 * item[0..n).
 */
static size_t
sql_items(const char *s, char **item, size_t max)
{
    const char  *end = sql_close(s), *p, *start;
    int          depth = 0;
    char         q = 0;
    size_t       n = 0, len;

    ck_assert_msg(end != NULL, "a list without its closing parenthesis");
    start = s + 1;
    for (p = s + 1; p <= end; p++) {
        if (q) {
            if (*p == q) {
                q = 0;
            }
            continue;
        }
        if (*p == '\'' || *p == '"') {
            q = *p;
        } else if ((*p == '(' || *p == '[') && p != end) {
            depth++;
        } else if ((*p == ')' || *p == ']') && depth > 0) {
            depth--;
        } else if ((*p == ',' && depth == 0) || p == end) {
            while (start < p && isspace((unsigned char) *start)) {
                start++;
            }
            len = (size_t) (p - start);
            while (len > 0 && isspace((unsigned char) start[len - 1])) {
                len--;
            }
            ck_assert(n < max);
            item[n++] = strndup(start, len);
            start = p + 1;
        }
    }
    return n;
}


static void
items_free(char **item, size_t n)
{
    while (n > 0) {
        free(item[--n]);
    }
}


static int
in_list(char **item, size_t n, const char *s)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (strcmp(item[i], s) == 0) {
            return 1;
        }
    }
    return 0;
}


/* The first word of s (identifier characters), into buf. */
static const char *
first_word(const char *s, char *buf, size_t size)
{
    size_t  n = 0;

    while (*s == '"') {
        s++;
    }
    while ((isalnum((unsigned char) *s) || *s == '_') && n + 1 < size) {
        buf[n++] = *s++;
    }
    buf[n] = '\0';
    return s;
}


/* The dollar-quoted body of the function defined just before text + from. */
static char *
sql_body(const char *text, long from)
{
    regex_t      re;
    regmatch_t   m;
    const char  *p = text + from, *end;
    char         tag[64];
    size_t       n;

    ck_assert(regcomp(&re, "\\$[a-z_]*\\$", REG_EXTENDED) == 0);
    ck_assert_msg(regexec(&re, p, 1, &m, REG_NOTBOL) == 0, "a function without a $$ body");
    regfree(&re);
    n = (size_t) (m.rm_eo - m.rm_so);
    ck_assert(n < sizeof(tag));
    memcpy(tag, p + m.rm_so, n);
    tag[n] = '\0';
    p += m.rm_eo;
    end = strstr(p, tag);
    ck_assert_msg(end != NULL, "a function body without its closing %s", tag);
    return strndup(p, (size_t) (end - p));
}


#define SQL_SCHEMA  "([a-z_][a-z0-9_]*\\.)?"
/* a definition, not a GRANT or COMMENT naming the function */
#define SQL_CREATE_FUNCTION  "create[[:space:]]+(or[[:space:]]+replace[[:space:]]+)?function[[:space:]]+"

/* Columns of the events table: its CREATE TABLE and any ALTER TABLE ADD. */
typedef struct {
    char    name[64];
    char   *def;                    /* the rest of its definition */
} column_t;

static size_t
events_columns(column_t *col, size_t max, const char **where, char **table)
{
    const sql_file_t  *f = NULL;
    regex_t            re, add;
    regmatch_t         m[5];
    const char        *p, *stmt_end;
    char              *item[MAXLIST], word[64];
    size_t             n, i, ncol = 0;
    long               at;

    at = sql_find_last("create[[:space:]]+table[[:space:]]+(if[[:space:]]+not[[:space:]]+"
                       "exists[[:space:]]+)?" SQL_SCHEMA "\"?events\"?[[:space:]]*\\(", &f);
    ck_assert_msg(at >= 0, "no CREATE TABLE events in sql/");
    *where = f->path;
    if (table != NULL) {
        *table = strndup(f->text + at - 1,
                         (size_t) (sql_close(f->text + at - 1) - (f->text + at - 1)) + 1);
    }

    n = sql_items(f->text + at - 1, item, MAXLIST);
    for (i = 0; i < n; i++) {
        p = first_word(item[i], word, sizeof(word));
        if (strcmp(word, "check") == 0 || strcmp(word, "constraint") == 0
            || strcmp(word, "primary") == 0 || strcmp(word, "unique") == 0
            || strcmp(word, "foreign") == 0 || strcmp(word, "exclude") == 0
            || strcmp(word, "like") == 0 || word[0] == '\0')
        {
            continue;
        }
        ck_assert(ncol < max);
        snprintf(col[ncol].name, sizeof(col[ncol].name), "%s", word);
        col[ncol].def = strdup(p);
        ncol++;
    }
    items_free(item, n);

    /* columns added later (ALTER TABLE events ADD [COLUMN] name ...) */
    ck_assert(regcomp(&re, "alter[[:space:]]+table[[:space:]]+(if[[:space:]]+exists[[:space:]]+)?"
                      "(only[[:space:]]+)?" SQL_SCHEMA "events[[:space:]]", REG_EXTENDED) == 0);
    ck_assert(regcomp(&add, "(^|[[:space:],])add[[:space:]]+(column[[:space:]]+)?"
                      "(if[[:space:]]+not[[:space:]]+exists[[:space:]]+)?"
                      "([a-z_][a-z0-9_]*)", REG_EXTENDED) == 0);
    for (i = 0; i < nsql; i++) {
        for (p = sql[i].text; regexec(&re, p, 1, m, p == sql[i].text ? 0 : REG_NOTBOL) == 0; ) {
            p += m[0].rm_eo;
            stmt_end = strchr(p, ';');
            stmt_end = stmt_end ? stmt_end : p + strlen(p);
            while (regexec(&add, p, 5, m, REG_NOTBOL) == 0 && p + m[4].rm_so < stmt_end) {
                snprintf(word, sizeof(word), "%.*s", (int) (m[4].rm_eo - m[4].rm_so),
                         p + m[4].rm_so);
                p += m[4].rm_eo;
                if (strcmp(word, "constraint") == 0 || strcmp(word, "check") == 0
                    || strcmp(word, "primary") == 0 || strcmp(word, "unique") == 0
                    || strcmp(word, "foreign") == 0)
                {
                    continue;
                }
                ck_assert(ncol < max);
                snprintf(col[ncol].name, sizeof(col[ncol].name), "%s", word);
                col[ncol].def = strndup(p, (size_t) (strcspn(p, ",;")));
                ncol++;
            }
            p = stmt_end;
        }
    }
    regfree(&re);
    regfree(&add);
    return ncol;
}


static const column_t *
column_named(const column_t *col, size_t n, const char *name)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (strcmp(col[i].name, name) == 0) {
            return &col[i];
        }
    }
    return NULL;
}


/* "bigint   not null default 0" with any blanks: a bucket's column. */
static int
bucket_def(const char *def)
{
    char    norm[256];
    size_t  n = 0;
    int     space = 0;

    for (; *def && n + 1 < sizeof(norm); def++) {
        if (isspace((unsigned char) *def)) {
            space = n > 0;
            continue;
        }
        if (space) {
            norm[n++] = ' ';
            space = 0;
        }
        norm[n++] = *def;
    }
    norm[n] = '\0';
    return strncmp(norm, "bigint not null default 0", 25) == 0
           && !isdigit((unsigned char) norm[25]);
}


START_TEST(events_table_has_every_column)
{
    column_t          col[MAXLIST];
    const column_t   *c;
    const row_t      *r;
    const char       *where;
    char             *table, *item[MAXLIST], pattern[160], want[80];
    regex_t           re;
    regmatch_t        m;
    size_t            n, i, k, nitem;

    sql_load();
    n = events_columns(col, MAXLIST, &where, &table);

    for (i = 0; i < NROWS; i++) {
        c = column_named(col, n, rows[i].column);
        ck_assert_msg(c != NULL, "%s: events has no column %s (field %s)",
                      where, rows[i].column, rows[i].name);
        ck_assert_msg(!is_bucket(&rows[i]) || bucket_def(c->def),
                      "%s: events.%s is a usage bucket: bigint NOT NULL DEFAULT 0, not \"%s\"",
                      where, c->name, c->def);
    }

    /* an ENUM's CHECK (column IN (...)), where the table has one, allows
     * exactly its values */
    for (i = 0; i < NROWS; i++) {
        if (rows[i].values == NULL) {
            continue;
        }
        snprintf(pattern, sizeof(pattern), "[^a-z0-9_]%s[[:space:]]+in[[:space:]]*\\(",
                 rows[i].column);
        ck_assert(regcomp(&re, pattern, REG_EXTENDED) == 0);
        if (regexec(&re, table, 1, &m, 0) == 0) {
            nitem = sql_items(table + m.rm_eo - 1, item, MAXLIST);
            for (k = 0; rows[i].values[k]; k++) {
                snprintf(want, sizeof(want), "'%s'", rows[i].values[k]);
                ck_assert_msg(in_list(item, nitem, want), "%s: events.%s does not allow %s",
                              where, rows[i].column, want);
            }
            ck_assert_msg(nitem == k, "%s: events.%s allows %zu values, the table has %zu",
                          where, rows[i].column, nitem, k);
            items_free(item, nitem);
        }
        regfree(&re);
    }
    free(table);

    /* a bucket in SQL only */
    for (i = 0; i < n; i++) {
        r = row_by_column(col[i].name);
        ck_assert_msg(!bucket_def(col[i].def) || (r != NULL && is_bucket(r)),
                      "%s: events.%s looks like a usage bucket (bigint NOT NULL DEFAULT 0)"
                      " but is not one in lib/lava_event_fields.h", where, col[i].name);
    }

    for (i = 0; i < n; i++) {
        free(col[i].def);
    }
}
END_TEST


START_TEST(book_batch_inserts_every_column)
{
    const sql_file_t  *f = NULL;
    regex_t            re;
    regmatch_t         m;
    column_t           col[MAXLIST];
    const char        *where, *p, *list_end, *from, *q;
    char              *body, *item[MAXLIST], *ref[MAXLIST], word[64];
    size_t             n, nref = 0, ncol, i;
    long               at;

    sql_load();
    ncol = events_columns(col, MAXLIST, &where, NULL);

    at = sql_find_last(SQL_CREATE_FUNCTION SQL_SCHEMA "book_batch[[:space:]]*\\(", &f);
    ck_assert_msg(at >= 0, "no FUNCTION book_batch in sql/");
    body = sql_body(f->text, at);

    /* INSERT INTO events (columns) SELECT e.x, ... FROM book_events_in */
    ck_assert(regcomp(&re, "insert[[:space:]]+into[[:space:]]+" SQL_SCHEMA
                      "events[[:space:]]*\\(", REG_EXTENDED) == 0);
    ck_assert_msg(regexec(&re, body, 1, &m, 0) == 0,
                  "%s: book_batch() has no INSERT INTO events (...)", f->path);
    regfree(&re);
    p = body + m.rm_eo - 1;
    list_end = sql_close(p);
    n = sql_items(p, item, MAXLIST);

    from = strstr(list_end, "book_events_in");
    ck_assert_msg(from != NULL, "%s: book_batch() inserts events without"
                  " reading book_events_in", f->path);

    /* the columns the SELECT list reads from the record: alias.column */
    for (q = list_end; q < from; q++) {
        if (*q == '.' && q > list_end && (isalnum((unsigned char) q[-1]) || q[-1] == '_')) {
            first_word(q + 1, word, sizeof(word));
            if (word[0] != '\0' && nref < MAXLIST) {
                ref[nref++] = strdup(word);
            }
        }
    }

    for (i = 0; i < NROWS; i++) {
        ck_assert_msg(in_list(item, n, rows[i].column),
                      "%s: book_batch() does not insert events.%s (field %s)",
                      f->path, rows[i].column, rows[i].name);
        ck_assert_msg(in_list(ref, nref, rows[i].column),
                      "%s: book_batch() inserts events.%s but does not read it from"
                      " book_events_in (field %s)",
                      f->path, rows[i].column, rows[i].name);
    }
    for (i = 0; i < n; i++) {
        ck_assert_msg(column_named(col, ncol, item[i]) != NULL,
                      "%s: book_batch() inserts %s, which %s does not give events",
                      f->path, item[i], where);
    }

    items_free(item, n);
    items_free(ref, nref);
    for (i = 0; i < ncol; i++) {
        free(col[i].def);
    }
    free(body);
}
END_TEST


START_TEST(dead_letter_stream_fields_lists_every_field)
{
    const sql_file_t  *f = NULL;
    regex_t            re;
    regmatch_t         m;
    char              *body, *item[MAXLIST], want[160], word[64];
    const char        *p;
    const row_t       *r;
    size_t             n, i, nbuckets = 0, nfields = 0;
    int                fields_seen = 0, buckets_seen = 0, all, buckets;
    long               at;

    sql_load();
    at = sql_find_last(SQL_CREATE_FUNCTION SQL_SCHEMA
                       "dead_letter_stream_fields[[:space:]]*\\(", &f);
    ck_assert_msg(at >= 0, "no FUNCTION dead_letter_stream_fields in sql/");
    body = sql_body(f->text, at);

    for (i = 0; i < NROWS; i++) {
        nbuckets += is_bucket(&rows[i]);
    }

    /* its lists, IN ('...', ...) or ARRAY['...', ...]: the one with
     * request_id names every field's column, the one with input_tokens
     * alone every bucket's */
    ck_assert(regcomp(&re, "([[:space:]]in[[:space:]]*\\(|array[[:space:]]*\\[)",
                      REG_EXTENDED) == 0);
    for (p = body; regexec(&re, p, 1, &m, p == body ? 0 : REG_NOTBOL) == 0; ) {
        p += m.rm_eo - 1;
        n = sql_items(p, item, MAXLIST);
        all = in_list(item, n, "'request_id'");
        buckets = !all && in_list(item, n, "'input_tokens'");
        if (all || buckets) {
            fields_seen |= all;
            buckets_seen |= buckets;
            nfields = 0;
            for (i = 0; i < n; i++) {
                ck_assert_msg(item[i][0] == '\'', "%s: dead_letter_stream_fields() lists %s",
                              f->path, item[i]);
                snprintf(word, sizeof(word), "%.*s", (int) strlen(item[i]) - 2, item[i] + 1);
                r = row_by_column(word);
                ck_assert_msg(r != NULL, "%s: dead_letter_stream_fields() lists %s, which"
                              " is no field's column in lib/lava_event_fields.h",
                              f->path, word);
                ck_assert_msg(all || is_bucket(r), "%s: dead_letter_stream_fields() leaves"
                              " out %s when zero, which is not a usage bucket", f->path, word);
            }
            for (i = 0; i < NROWS; i++) {
                if (all || is_bucket(&rows[i])) {
                    snprintf(want, sizeof(want), "'%s'", rows[i].column);
                    ck_assert_msg(in_list(item, n, want), "%s: dead_letter_stream_fields()"
                                  " does not list %s%s", f->path, rows[i].column,
                                  all ? "" : " among the buckets left out when zero");
                    nfields++;
                }
            }
            ck_assert_msg(nfields == (all ? NROWS : nbuckets), "count");
        }
        items_free(item, n);
        p++;
    }
    regfree(&re);

    ck_assert_msg(fields_seen, "%s: dead_letter_stream_fields() has no IN list of the"
                  " fields (with 'request_id')", f->path);
    ck_assert_msg(buckets_seen, "%s: dead_letter_stream_fields() has no IN list of the"
                  " buckets left out when zero", f->path);

    /* columns named otherwise than their field are renamed back */
    for (i = 0; i < NROWS; i++) {
        if (strcmp(rows[i].name, rows[i].column) != 0) {
            snprintf(want, sizeof(want), "'%s'[[:space:]]+then[[:space:]]+'%s'",
                     rows[i].column, rows[i].name);
            ck_assert(regcomp(&re, want, REG_EXTENDED | REG_NOSUB) == 0);
            ck_assert_msg(regexec(&re, body, 0, NULL, 0) == 0, "%s:"
                          " dead_letter_stream_fields() does not name column %s %s again"
                          " (WHEN '%s' THEN '%s')", f->path, rows[i].column, rows[i].name,
                          rows[i].column, rows[i].name);
            regfree(&re);
        }
    }

    free(body);
}
END_TEST


START_TEST(buckets_are_one_struct)
{
    size_t  i, nbuckets = 0;

    for (i = 0; i < NROWS; i++) {
        nbuckets += is_bucket(&rows[i]);
    }
    ck_assert_uint_eq(NROWS, LAVA_EVENT_NFIELDS);
    ck_assert_uint_eq(nbuckets, LAVA_USAGE_NBUCKETS);
    ck_assert_uint_eq(sizeof(lava_usage_buckets_t), nbuckets * sizeof(int64_t));
    ck_assert_str_eq(rows[0].name, "v");
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s = suite_create("event_fields");
    TCase  *tc = tcase_create("contract");

    tcase_add_test(tc, buckets_are_one_struct);
    tcase_add_test(tc, docs_list_every_field_in_order);
    tcase_add_test(tc, events_table_has_every_column);
    tcase_add_test(tc, book_batch_inserts_every_column);
    tcase_add_test(tc, dead_letter_stream_fields_lists_every_field);
    suite_add_tcase(s, tc);
    return s;
}
