#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "event.h"
#include "lava_event_v2.h"
#include "lava_id.h"

/* What the value must be: the kinds of lib/lava_event_fields.h. */
typedef enum {
    F_VERSION,      /* "1" */
    F_REQID,        /* lava_reqid_valid() (lib/lava_id.h) */
    F_INT,          /* int64 >= 0, base-10 digits only */
    F_ID,           /* lava_id_valid() (lib/lava_id.h) */
    F_TEXT,         /* UTF-8, no NUL, at most max bytes */
    F_ENUM,
    F_BOOL01
} field_kind_e;

typedef struct {
    const char          *name;
    field_kind_e         kind;
    int                  required;
    size_t               off;
    size_t               max;
    const char *const   *names;      /* F_ENUM: index = stored value */
} field_spec_t;

/* <name>_names[] of each ENUM field: its values, index = stored value */
#define VALUE_NAME(v)  #v,
#define NAMES(a, name, column, kind, req, max)  LAVA_EVENT_KIND(kind, NAMES)(name)
#define NAMES_VERSION(n)
#define NAMES_REQID(n)
#define NAMES_INT(n)
#define NAMES_ID(n)
#define NAMES_TEXT(n)
#define NAMES_JSON(n)
#define NAMES_ENUM(n)                                                          \
    static const char *const n##_names[] = { LAVA_EVENT_VALUES_##n(VALUE_NAME) NULL };
#define NAMES_BOOL(n)
#define NAMES_BUCKET(n)

LAVA_EVENT_FIELDS(NAMES, _)

/* event_<name>_name() of each ENUM field (event.h) */
#define NAME_OF(a, name, column, kind, req, max)  LAVA_EVENT_KIND(kind, NAME_OF)(name)
#define NAME_OF_VERSION(n)
#define NAME_OF_REQID(n)
#define NAME_OF_INT(n)
#define NAME_OF_ID(n)
#define NAME_OF_TEXT(n)
#define NAME_OF_JSON(n)
#define NAME_OF_ENUM(n)                                                        \
    const char *event_##n##_name(n##_e v) { return n##_names[v]; }
#define NAME_OF_BOOL(n)
#define NAME_OF_BUCKET(n)

LAVA_EVENT_FIELDS(NAME_OF, _)

#define NVALUES(names)  (sizeof(names) / sizeof(names[0]) - 1)
_Static_assert(NVALUES(payer_names) == PAYER_MERCHANT + 1, "payer_e and its values");
_Static_assert(NVALUES(key_source_names) == KEY_BYOK + 1, "key_source_e and its values");
_Static_assert(NVALUES(outcome_names) == OUTCOME_WORKER_LOST + 1, "outcome_e and its values");
_Static_assert(NVALUES(usage_source_names) == USAGE_ESTIMATED + 1,
               "usage_source_e and its values");

/* One field_spec_t per row of the table, in its order. */
#define SPEC(a, name, column, kind, req, max)                                  \
    LAVA_EVENT_KIND(kind, SPEC)(name, req, max)
#define SPEC_VERSION(n, req, max)  { #n, F_VERSION, req, offsetof(event_t, n), 0, NULL },
#define SPEC_REQID(n, req, max)    { #n, F_REQID,   req, offsetof(event_t, n), 0, NULL },
#define SPEC_INT(n, req, max)      { #n, F_INT,     req, offsetof(event_t, n), 0, NULL },
#define SPEC_ID(n, req, max)       { #n, F_ID,      req, offsetof(event_t, n), 0, NULL },
#define SPEC_TEXT(n, req, max)     { #n, F_TEXT,    req, offsetof(event_t, n), max, NULL },
#define SPEC_JSON(n, req, max)     { #n, F_TEXT,    req, offsetof(event_t, n), max, NULL },
#define SPEC_ENUM(n, req, max)     { #n, F_ENUM,    req, offsetof(event_t, n), 0, n##_names },
#define SPEC_BOOL(n, req, max)     { #n, F_BOOL01,  req, offsetof(event_t, n), 0, NULL },
#define SPEC_BUCKET(n, req, max)                                               \
    { #n, F_INT,     req, offsetof(event_t, usage) + offsetof(usage_t, n), 0, NULL },

static const field_spec_t fields[] = {
    LAVA_EVENT_FIELDS(SPEC, _)
};

#define NFIELDS  (sizeof(fields) / sizeof(fields[0]))

/* seen fields are bits of a uint64_t; fields[0] is v, checked first */
_Static_assert(NFIELDS <= 64 && NFIELDS <= EVENT_MAX_FIELDS, "too many event fields");
_Static_assert(NFIELDS == LAVA_EVENT_NFIELDS, "one field_spec_t per table row");

int
event_utf8_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *) s, *end = p + n;
    unsigned             c, need;
    uint32_t             cp, min;

    while (p < end) {
        c = *p++;
        if (c < 0x80) {
            if (c == 0) {
                return 0;
            }
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            need = 1; cp = c & 0x1f; min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            need = 2; cp = c & 0x0f; min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            need = 3; cp = c & 0x07; min = 0x10000;
        } else {
            return 0;
        }
        if ((size_t) (end - p) < need) {
            return 0;
        }
        while (need--) {
            if ((*p & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (*p++ & 0x3f);
        }
        /* overlong forms, surrogates and beyond U+10FFFF */
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
    }
    return 1;
}

/* Plain base-10 digits, no sign, fits in int64. */
static int
parse_int(const sv_t *v, int64_t *out)
{
    int64_t n = 0;
    size_t  i;

    if (v->n == 0 || v->n > 19) {
        return -1;
    }
    for (i = 0; i < v->n; i++) {
        if (v->p[i] < '0' || v->p[i] > '9') {
            return -1;
        }
        if (__builtin_mul_overflow(n, 10, &n)
            || __builtin_add_overflow(n, v->p[i] - '0', &n))
        {
            return -1;
        }
    }
    *out = n;
    return 0;
}

static int
sv_eq(const sv_t *v, const char *s)
{
    size_t n = strlen(s);

    return v->n == n && memcmp(v->p, s, n) == 0;
}

/* The value as a short printable string for error messages. */
static const char *
shown(const sv_t *v, char *buf, size_t size)
{
    size_t i, j = 0;

    for (i = 0; i < v->n && j + 1 < size; i++) {
        buf[j++] = (v->p[i] >= 0x20 && v->p[i] < 0x7f) ? v->p[i] : '?';
    }
    buf[j] = '\0';
    return buf;
}

static int
decode_field(event_t *ev, const field_spec_t *f, const sv_t *v, char *err, size_t errsize)
{
    char    *base = (char *) ev;
    char     tmp[40];
    int64_t  n;
    size_t   i;

    switch (f->kind) {

    case F_VERSION:
        if (!sv_eq(v, LAVA_EVENT_VERSION)) {
            snprintf(err, errsize, "unknown event version \"%s\"", shown(v, tmp, sizeof(tmp)));
            return -1;
        }
        *(int *) (base + f->off) = EVENT_VERSION;
        return 0;

    case F_REQID:
        if (!lava_reqid_valid(v->p, v->n)) {
            snprintf(err, errsize, "malformed request_id \"%s\"", shown(v, tmp, sizeof(tmp)));
            return -1;
        }
        *(sv_t *) (base + f->off) = *v;
        return 0;

    case F_INT:
        if (parse_int(v, &n) != 0) {
            snprintf(err, errsize, "field %s is not a non-negative integer: \"%s\"",
                     f->name, shown(v, tmp, sizeof(tmp)));
            return -1;
        }
        if (f->off == offsetof(event_t, status)) {
            if (n < LAVA_EVENT_STATUS_MIN || n > LAVA_EVENT_STATUS_MAX) {
                snprintf(err, errsize, "status %lld is not an http status", (long long) n);
                return -1;
            }
        }
        *(int64_t *) (base + f->off) = n;
        return 0;

    case F_ID:
        if (!lava_id_valid(v->p, v->n)) {
            snprintf(err, errsize, "field %s is not an id (" LAVA_ID_PATTERN ")",
                     f->name);
            return -1;
        }
        *(sv_t *) (base + f->off) = *v;
        return 0;

    case F_TEXT:
        if (v->n > f->max) {
            snprintf(err, errsize, "field %s is longer than %zu bytes", f->name, f->max);
            return -1;
        }
        *(sv_t *) (base + f->off) = *v;
        return 0;

    case F_ENUM:
        for (i = 0; f->names[i] != NULL; i++) {
            if (sv_eq(v, f->names[i])) {
                *(int *) (base + f->off) = (int) i;
                return 0;
            }
        }
        snprintf(err, errsize, "field %s has unknown value \"%s\"", f->name,
                 shown(v, tmp, sizeof(tmp)));
        return -1;

    case F_BOOL01:
        if (!sv_eq(v, "0") && !sv_eq(v, "1")) {
            snprintf(err, errsize, "field %s is not 0 or 1", f->name);
            return -1;
        }
        *(int *) (base + f->off) = v->p[0] == '1';
        return 0;
    }

    return -1;
}

typedef struct {
    const sv_t *name;
    const sv_t *value;
} pair_t;

static int
pair_cmp(const void *a, const void *b)
{
    const pair_t *x = a, *y = b;
    size_t        n = x->name->n < y->name->n ? x->name->n : y->name->n;
    int           c = memcmp(x->name->p, y->name->p, n);

    if (c != 0) {
        return c;
    }
    return (x->name->n > y->name->n) - (x->name->n < y->name->n);
}

/*
 * sha256 over the fields sorted by name, each as 4-byte big-endian length
 * + bytes of the name, then the same for the value. Field order in the
 * entry does not matter; any change of a name or value does.
 */
static int
content_hash(const sv_t *kv, size_t npairs, unsigned char out[EVENT_HASH_LEN])
{
    pair_t        pairs[EVENT_MAX_FIELDS];
    EVP_MD_CTX   *ctx;
    unsigned char len[4];
    unsigned int  outlen = 0;
    size_t        i, k;
    int           ok;

    for (i = 0; i < npairs; i++) {
        pairs[i].name = &kv[2 * i];
        pairs[i].value = &kv[2 * i + 1];
    }
    qsort(pairs, npairs, sizeof(pair_t), pair_cmp);

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return -1;
    }
    ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (i = 0; ok && i < npairs; i++) {
        const sv_t *parts[2] = { pairs[i].name, pairs[i].value };

        for (k = 0; ok && k < 2; k++) {
            len[0] = (unsigned char) (parts[k]->n >> 24);
            len[1] = (unsigned char) (parts[k]->n >> 16);
            len[2] = (unsigned char) (parts[k]->n >> 8);
            len[3] = (unsigned char) parts[k]->n;
            ok = EVP_DigestUpdate(ctx, len, 4)
                 && (parts[k]->n == 0 || EVP_DigestUpdate(ctx, parts[k]->p, parts[k]->n));
        }
    }
    ok = ok && EVP_DigestFinal_ex(ctx, out, &outlen) && outlen == EVENT_HASH_LEN;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

static int decode_v1(event_t *ev, const sv_t *kv, size_t npairs, char *err,
                     size_t errsize);

/*
 * A version 2 entry (lib/lava_event_v2.h): its payload unpacked into the
 * pairs of the version 1 entry it stands for, v "1" included, then decoded
 * as that entry: the same checks, the same event, the same content hash,
 * so a redelivery is recognised whichever version carried it.
 */
static int
decode_v2(event_t *ev, const sv_t *kv, size_t npairs, char *err, size_t errsize)
{
    static const sv_t        v1 = { LAVA_EVENT_VERSION, sizeof(LAVA_EVENT_VERSION) - 1 };
    sv_t                     x[2 * EVENT_MAX_FIELDS];
    const sv_t              *payload = NULL;
    lava_event_v2_reader_t   rd;
    size_t                   i, n = 0;
    int                      rc;

    for (i = 0; i < npairs; i++) {
        const sv_t *name = &kv[2 * i];

        if (sv_eq(name, LAVA_EVENT_V2_PAYLOAD)) {
            if (payload != NULL) {
                snprintf(err, errsize, "field " LAVA_EVENT_V2_PAYLOAD " appears twice");
                return -1;
            }
            payload = &kv[2 * i + 1];
            continue;
        }
        if (n == EVENT_MAX_FIELDS) {
            snprintf(err, errsize, "entry has more than %d fields", EVENT_MAX_FIELDS);
            return -1;
        }
        x[2 * n] = *name;
        x[2 * n + 1] = sv_eq(name, "v") ? v1 : kv[2 * i + 1];
        n++;
    }
    if (payload == NULL) {
        snprintf(err, errsize, "required field " LAVA_EVENT_V2_PAYLOAD " is missing");
        return -1;
    }

    lava_event_v2_reader_init(&rd, payload->p, payload->n);
    for ( ;; ) {
        const char *name, *value;
        size_t      nlen, vlen;

        rc = lava_event_v2_next(&rd, &name, &nlen, &value, &vlen);
        if (rc == 0) {
            break;
        }
        if (rc < 0) {
            snprintf(err, errsize, "field " LAVA_EVENT_V2_PAYLOAD ": %s",
                     lava_event_v2_strerror(rd.err));
            return -1;
        }
        if (n == EVENT_MAX_FIELDS) {
            snprintf(err, errsize, "entry has more than %d fields", EVENT_MAX_FIELDS);
            return -1;
        }
        x[2 * n] = (sv_t) { name, nlen };
        x[2 * n + 1] = (sv_t) { value, vlen };
        n++;
    }

    return decode_v1(ev, x, n, err, errsize);
}

int
event_decode(event_t *ev, const sv_t *kv, size_t npairs, char *err, size_t errsize)
{
    size_t  i;

    /* the version decides how to read the rest; decode_v1 refuses an entry
     * without v, or with an unknown one */
    for (i = 0; i < npairs && i < EVENT_MAX_FIELDS; i++) {
        if (sv_eq(&kv[2 * i], "v")) {
            if (sv_eq(&kv[2 * i + 1], LAVA_EVENT_V2_VERSION)) {
                return decode_v2(ev, kv, npairs, err, errsize);
            }
            break;
        }
    }

    return decode_v1(ev, kv, npairs, err, errsize);
}

static int
decode_v1(event_t *ev, const sv_t *kv, size_t npairs, char *err, size_t errsize)
{
    sv_t      stream_id = ev->stream_id;
    uint64_t  seen = 0;
    size_t    i, j, vpos = (size_t) -1;
    char      tmp[40];

    memset(ev, 0, sizeof(*ev));
    ev->stream_id = stream_id;
    ev->ttfb_ms = -1;
    ev->bytes_out = -1;
    ev->attempt = -1;

    if (npairs == 0) {
        snprintf(err, errsize, "entry has no fields");
        return -1;
    }
    if (npairs > EVENT_MAX_FIELDS) {
        snprintf(err, errsize, "entry has more than %d fields", EVENT_MAX_FIELDS);
        return -1;
    }

    /* Bytes first: whatever is stored must be valid text. */
    for (i = 0; i < 2 * npairs; i++) {
        if (kv[i].n > EVENT_MAX_VALUE) {
            snprintf(err, errsize, "entry has a value longer than %d bytes", EVENT_MAX_VALUE);
            return -1;
        }
        if (!event_utf8_ok(kv[i].p, kv[i].n)) {
            snprintf(err, errsize, "entry has a NUL byte or invalid utf-8 (%s \"%s\")",
                     i % 2 ? "value of" : "field", shown(&kv[i - i % 2], tmp, sizeof(tmp)));
            return -1;
        }
    }

    /* The version decides how to read the rest: check it before anything. */
    for (i = 0; i < npairs; i++) {
        if (sv_eq(&kv[2 * i], "v")) {
            vpos = i;
            break;
        }
    }
    if (vpos == (size_t) -1) {
        snprintf(err, errsize, "required field v is missing");
        return -1;
    }
    if (decode_field(ev, &fields[0], &kv[2 * vpos + 1], err, errsize) != 0) {
        return -1;
    }

    for (i = 0; i < npairs; i++) {
        const sv_t *name = &kv[2 * i], *value = &kv[2 * i + 1];

        for (j = 0; j < NFIELDS; j++) {
            if (sv_eq(name, fields[j].name)) {
                break;
            }
        }
        if (j == NFIELDS) {
            continue;                   /* unknown: ignored, but hashed */
        }
        if (seen & ((uint64_t) 1 << j)) {
            snprintf(err, errsize, "field %s appears twice", fields[j].name);
            return -1;
        }
        seen |= (uint64_t) 1 << j;

        if (value->n == 0) {
            if (fields[j].required) {
                snprintf(err, errsize, "required field %s is empty", fields[j].name);
                return -1;
            }
            continue;                   /* empty means absent */
        }
        if (decode_field(ev, &fields[j], value, err, errsize) != 0) {
            return -1;
        }
    }

    for (j = 0; j < NFIELDS; j++) {
        if (fields[j].required && !(seen & ((uint64_t) 1 << j))) {
            snprintf(err, errsize, "required field %s is missing", fields[j].name);
            return -1;
        }
    }

    /* Postgres timestamps end in 294276; a year past 9999 is a broken clock */
    if (ev->ts_ms > EVENT_MAX_TS_MS) {
        snprintf(err, errsize, "ts_ms %lld is after the year 9999", (long long) ev->ts_ms);
        return -1;
    }

    if (ev->payer == PAYER_CUSTOMER && (ev->merchant_id.n == 0 || ev->customer_id.n == 0)) {
        snprintf(err, errsize, "payer customer without merchant_id and customer_id");
        return -1;
    }
    if (ev->payer == PAYER_MERCHANT && ev->merchant_id.n == 0) {
        snprintf(err, errsize, "payer merchant without merchant_id");
        return -1;
    }

    /* docs/events.md: attempt 1..LAVA_EVENT_ATTEMPT_MAX, attempt_of only
     * on an attempt, and never the row's own id */
    if (ev->attempt >= 0
        && (ev->attempt < 1 || ev->attempt > LAVA_EVENT_ATTEMPT_MAX))
    {
        snprintf(err, errsize, "attempt %lld is not within 1..%d",
                 (long long) ev->attempt, LAVA_EVENT_ATTEMPT_MAX);
        return -1;
    }
    if (ev->attempt_of.n != 0
        && (ev->attempt < 0
            || (ev->attempt_of.n == ev->request_id.n
                && memcmp(ev->attempt_of.p, ev->request_id.p, ev->request_id.n) == 0)))
    {
        snprintf(err, errsize, ev->attempt < 0 ? "attempt_of without attempt"
                                               : "attempt_of is the event's own request_id");
        return -1;
    }

    if (content_hash(kv, npairs, ev->hash) != 0) {
        snprintf(err, errsize, "sha256 of the entry failed");
        return -1;
    }

    return 0;
}
