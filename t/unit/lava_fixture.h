/*
 * Fixture loading and line-end variants shared by the unit tests (header
 * only: `make unit` builds each check_*.c on its own). Fixtures live in
 * t/fixtures (LAVA_FIXTURES overrides), see t/fixtures/README for the
 * .expect format.
 */
#ifndef LAVA_FIXTURE_H
#define LAVA_FIXTURE_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lava_event_fields.h"

/* each suite uses some of these helpers, never all of them */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"

/* An assertion for hot loops: Check's own ck_assert_* write a message to a
 * pipe for every passing check, which dominates replays at every split. */
#define FX_CHECK(cond, ...)                                                  \
    do {                                                                     \
        if (!(cond)) {                                                       \
            ck_abort_msg(__VA_ARGS__);                                       \
        }                                                                    \
    } while (0)

#define FX_MAX_FILES   64
#define FX_MAX_EVENTS  64
#define FX_NAME_MAX    256

typedef struct {
    char     format[16];
    long     events;            /* -1: not given */
    int      seen;              /* -1: not given */
    int      has_model;
    char     model[256];
    int      has_raw;
    char     raw[8192];
    char     flags[128];
    int64_t  bucket[LAVA_USAGE_NBUCKETS];   /* fx_bucket_names order */
    int      nev;
    char    *ev_name[FX_MAX_EVENTS];
    char    *ev_data[FX_MAX_EVENTS];
} fx_expect_t;

/* The buckets of lib/lava_event_fields.h: .expect keys and offsets. */
#define FX_BUCKET_NAME(name)  #name,
#define FX_BUCKET_OFF(name)   offsetof(lava_usage_buckets_t, name),

static const char *fx_bucket_names[LAVA_USAGE_NBUCKETS] = {
    LAVA_USAGE_BUCKETS(FX_BUCKET_NAME)
};

static const size_t fx_bucket_off[LAVA_USAGE_NBUCKETS] = {
    LAVA_USAGE_BUCKETS(FX_BUCKET_OFF)
};


/* bucket i (fx_bucket_names order) of b */
static inline int64_t
fx_bucket(const lava_usage_buckets_t *b, int i)
{
    return *(const int64_t *) ((const char *) b + fx_bucket_off[i]);
}


static const char *
fx_dir(void)
{
    const char  *d = getenv("LAVA_FIXTURES");

    return d ? d : "t/fixtures";
}


/* whole file, NUL-terminated; exits on error (a missing fixture is a bug) */
static char *
fx_read(const char *name, size_t *len)
{
    char    path[1024];
    char   *buf;
    long    n;
    FILE   *f;

    snprintf(path, sizeof(path), "%s/%s", fx_dir(), name);

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open fixture %s\n", path);
        exit(2);
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    buf = malloc(n + 1);
    if (buf == NULL || fread(buf, 1, n, f) != (size_t) n) {
        fprintf(stderr, "cannot read fixture %s\n", path);
        exit(2);
    }

    buf[n] = '\0';
    fclose(f);
    *len = (size_t) n;

    return buf;
}


static int
fx_cmp(const void *a, const void *b)
{
    return strcmp((const char *) a, (const char *) b);
}


/* fixture bodies ending in `suffix` that have an .expect file, sorted */
static int
fx_list(const char *suffix, char names[][FX_NAME_MAX])
{
    int             n;
    size_t          l, sl;
    DIR            *d;
    FILE           *f;
    char            path[1024];
    struct dirent  *de;

    d = opendir(fx_dir());
    if (d == NULL) {
        fprintf(stderr, "cannot open fixture directory %s\n", fx_dir());
        exit(2);
    }

    n = 0;
    sl = strlen(suffix);

    while ((de = readdir(d)) != NULL && n < FX_MAX_FILES) {
        l = strlen(de->d_name);

        if (l <= sl || l >= FX_NAME_MAX
            || strcmp(de->d_name + l - sl, suffix) != 0)
        {
            continue;
        }

        snprintf(path, sizeof(path), "%s/%s.expect", fx_dir(), de->d_name);
        f = fopen(path, "r");
        if (f == NULL) {
            fprintf(stderr, "fixture %s has no .expect file\n", de->d_name);
            exit(2);
        }

        fclose(f);
        strcpy(names[n++], de->d_name);
    }

    closedir(d);
    qsort(names, n, FX_NAME_MAX, fx_cmp);

    return n;
}


/* "a\\nb" -> "a\nb" */
static char *
fx_unescape(const char *s)
{
    char  *out, *o;

    out = o = malloc(strlen(s) + 1);

    for ( /* void */ ; *s; s++) {
        if (s[0] == '\\' && s[1] == 'n') {
            *o++ = '\n';
            s++;

        } else if (s[0] == '\\' && s[1] == '\\') {
            *o++ = '\\';
            s++;

        } else {
            *o++ = *s;
        }
    }

    *o = '\0';

    return out;
}


/* A key fx_expect_load does not know: 0 taken, -1 unknown too. */
typedef int (*fx_key_pt)(void *data, const char *key, const char *value);

static void
fx_expect_load_ext(const char *body, fx_expect_t *e, fx_key_pt ext,
    void *ext_data)
{
    int      i;
    char     name[FX_NAME_MAX + 8], *text, *line, *next, *sp, *bar;
    size_t   len;

    memset(e, 0, sizeof(fx_expect_t));
    e->events = -1;
    e->seen = -1;

    snprintf(name, sizeof(name), "%.200s.expect", body);
    text = fx_read(name, &len);

    for (line = text; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        }

        sp = strchr(line, ' ');
        if (sp == NULL) {
            continue;
        }

        *sp++ = '\0';

        if (strcmp(line, "format") == 0) {
            snprintf(e->format, sizeof(e->format), "%s", sp);

        } else if (strcmp(line, "events") == 0) {
            e->events = atol(sp);

        } else if (strcmp(line, "seen") == 0) {
            e->seen = atoi(sp);

        } else if (strcmp(line, "model") == 0) {
            e->has_model = 1;
            snprintf(e->model, sizeof(e->model), "%s", sp);

        } else if (strcmp(line, "raw") == 0) {
            e->has_raw = 1;
            snprintf(e->raw, sizeof(e->raw), "%s", sp);

        } else if (strcmp(line, "flags") == 0) {
            snprintf(e->flags, sizeof(e->flags), "%s", sp);

        } else if (strcmp(line, "ev") == 0) {
            bar = strchr(sp, '|');
            if (bar == NULL || e->nev == FX_MAX_EVENTS) {
                fprintf(stderr, "bad ev line in %s\n", name);
                exit(2);
            }

            *bar = '\0';
            e->ev_name[e->nev] = fx_unescape(sp);
            e->ev_data[e->nev] = fx_unescape(bar + 1);
            e->nev++;

        } else {
            for (i = 0; i < LAVA_USAGE_NBUCKETS; i++) {
                if (strcmp(line, fx_bucket_names[i]) == 0) {
                    e->bucket[i] = strtoll(sp, NULL, 10);
                    break;
                }
            }

            if (i == LAVA_USAGE_NBUCKETS && (ext == NULL || ext(ext_data, line, sp) != 0)) {
                fprintf(stderr, "unknown key %s in %s\n", line, name);
                exit(2);
            }
        }
    }

    free(text);
}


static inline void
fx_expect_load(const char *body, fx_expect_t *e)
{
    fx_expect_load_ext(body, e, NULL, NULL);
}


static void
fx_expect_free(fx_expect_t *e)
{
    int  i;

    for (i = 0; i < e->nev; i++) {
        free(e->ev_name[i]);
        free(e->ev_data[i]);
    }
}


/* Line-end variants of an LF fixture: 0 LF, 1 CRLF, 2 CR, 3 mixed (LF, CR
 * and CRLF in turn: never CR then LF, which would read as one CRLF). */
#define FX_EOL_VARIANTS  4

static const char *fx_eol_names[FX_EOL_VARIANTS] = {
    "LF", "CRLF", "CR", "mixed"
};

static char *
fx_eol(const char *s, size_t n, int variant, size_t *out_len)
{
    char    *out, *o;
    size_t   i, k;

    out = o = malloc(2 * n + 1);
    k = 0;

    for (i = 0; i < n; i++) {
        if (s[i] != '\n') {
            *o++ = s[i];
            continue;
        }

        switch (variant == 3 ? (int) "\0\2\1"[k++ % 3] : variant) {
        case 0:
            *o++ = '\n';
            break;
        case 1:
            *o++ = '\r';
            *o++ = '\n';
            break;
        default:
            *o++ = '\r';
            break;
        }
    }

    *o = '\0';
    *out_len = o - out;

    return out;
}


#pragma GCC diagnostic pop

#endif
