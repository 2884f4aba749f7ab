/*
 * The usage of an OpenAI-shaped answer without jansson (see
 * lava_usage_scan.h).
 */

#include <string.h>

#include "lava_json.h"
#include "lava_json_scan.h"
#include "lava_usage_scan.h"


#define LAVA_USAGE_SCAN_NAMES  32     /* members of one object told apart */
#define LAVA_USAGE_SCAN_DEPTH  8      /* usage objects nest this deep */

#define LAVA_SCAN_UNSURE  (-2)        /* internal: leave it to jansson */


/* a member's value, white space trimmed; v NULL: absent */
typedef struct {
    const char  *v;
    size_t       n;
} lava_usage_span_t;


static int
lava_usage_scan_is(const char *p, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(p, s, n) == 0;
}


/* absent or null, as json_object_get() and json_is_null() see it */
static int
lava_usage_scan_none(const lava_usage_span_t *s)
{
    return s->v == NULL || lava_usage_scan_is(s->v, s->n, "null");
}


/*
 * lava_usage_count() on a value: 1 a counter, 0 absent or null, -1 another
 * type or out of range, LAVA_SCAN_UNSURE a real (jansson's double decides
 * whether 12.0 is a counter).
 */
static int
lava_usage_scan_count(const lava_usage_span_t *s, int64_t *v)
{
    size_t   i;
    int64_t  x;

    if (lava_usage_scan_none(s)) {
        return 0;
    }

    if (s->v[0] != '-' && (s->v[0] < '0' || s->v[0] > '9')) {
        return -1;                                  /* not a number */
    }

    x = 0;

    for (i = (s->v[0] == '-'); i < s->n; i++) {
        if (s->v[i] < '0' || s->v[i] > '9') {
            return LAVA_SCAN_UNSURE;                /* a real */
        }

        /* at most 19 digits (lava_json_scan leaves longer ones); the 19th
         * is not added, so even INT64_MIN's cannot overflow x */
        if (i - (s->v[0] == '-') < 18) {
            x = x * 10 + (s->v[i] - '0');
        }
    }

    if (s->n - (s->v[0] == '-') > 18) {
        /* 10^18 or more, or negative: above LAVA_USAGE_COUNT_MAX */
        return -1;
    }

    if (s->v[0] == '-' && x != 0) {
        return -1;
    }

    if (x > LAVA_USAGE_COUNT_MAX) {
        return -1;
    }

    *v = x;

    return 1;
}


/*
 * The members named in names[] of the object value o (validated): their
 * values into spans[], the last of duplicates as jansson keeps it. 0 read,
 * LAVA_SCAN_UNSURE an escaped name.
 */
static int
lava_usage_scan_members(const lava_usage_span_t *o, const char *const *names,
    lava_usage_span_t *spans)
{
    int          done;
    size_t       off, klen, vlen, i;
    const char  *key, *v;

    off = 0;

    do {
        if (lava_json_scan_member(o->v, o->n, &off, 0,
                                  &key, &klen, &v, &vlen, &done)
            != LAVA_JSON_SCAN_OK)
        {
            return LAVA_SCAN_UNSURE;
        }

        if (key == NULL) {
            break;
        }

        for (i = 0; names[i]; i++) {
            if (lava_usage_scan_is(key, klen, names[i])) {
                spans[i].v = v;
                spans[i].n = vlen;
                break;
            }
        }

    } while (!done);

    return 0;
}


/*
 * LAVA_OBJ and LAVA_GET of lava_usage.c on one value: an object's members
 * into spans (all absent for absent or null), -1 another type.
 */
static int
lava_usage_scan_object(const lava_usage_span_t *o, const char *const *names,
    lava_usage_span_t *spans, size_t nspans)
{
    memset(spans, 0, nspans * sizeof(lava_usage_span_t));

    if (lava_usage_scan_none(o)) {
        return 0;
    }

    if (o->v[0] != '{') {
        return -1;
    }

    return lava_usage_scan_members(o, names, spans);
}


/* the output buffer of the compact dump */
typedef struct {
    char    *p;
    size_t   left;
} lava_usage_dump_t;


static int
lava_usage_scan_put(lava_usage_dump_t *d, const char *s, size_t n)
{
    if (n > d->left) {
        return LAVA_SCAN_UNSURE;    /* jansson's cut dump: left to it */
    }

    memcpy(d->p, s, n);
    d->p += n;
    d->left -= n;

    return 0;
}


/*
 * The validated value at v (n bytes, trimmed) as json_dumpb(JSON_COMPACT)
 * writes what jansson parsed from it: no white space, members in their
 * order. Left to jansson where its dump may differ from the text: an escape
 * in a string (jansson writes it decoded or in its own form), a real
 * (printed by jansson), "-0" (an integer 0), a name twice (one member, the
 * last value at the first place).
 */
static int
lava_usage_scan_dump(const char *v, size_t n, int depth, lava_usage_dump_t *d)
{
    int          done;
    size_t       i, k, off, klen, vlen, nnames;
    const char  *key, *m, *p, *end;
    const char  *names[LAVA_USAGE_SCAN_NAMES];
    size_t       lens[LAVA_USAGE_SCAN_NAMES];

    if (depth > LAVA_USAGE_SCAN_DEPTH) {
        return LAVA_SCAN_UNSURE;
    }

    switch (v[0]) {

    case '"':
        if (memchr(v, '\\', n) != NULL) {
            return LAVA_SCAN_UNSURE;
        }

        return lava_usage_scan_put(d, v, n);

    case '{':
        if (lava_usage_scan_put(d, "{", 1) != 0) {
            return LAVA_SCAN_UNSURE;
        }

        off = 0;
        nnames = 0;

        do {
            if (lava_json_scan_member(v, n, &off, 0, &key,
                                      &klen, &m, &vlen, &done)
                != LAVA_JSON_SCAN_OK)
            {
                return LAVA_SCAN_UNSURE;
            }

            if (key == NULL) {
                break;
            }

            for (k = 0; k < nnames; k++) {
                if (lens[k] == klen && memcmp(names[k], key, klen) == 0) {
                    return LAVA_SCAN_UNSURE;
                }
            }

            if (nnames == LAVA_USAGE_SCAN_NAMES) {
                return LAVA_SCAN_UNSURE;
            }

            names[nnames] = key;
            lens[nnames++] = klen;

            /* the name with its quotes: no escape (lava_json_scan_key) */
            if ((nnames > 1 && lava_usage_scan_put(d, ",", 1) != 0)
                || lava_usage_scan_put(d, key - 1, klen + 2) != 0
                || lava_usage_scan_put(d, ":", 1) != 0
                || lava_usage_scan_dump(m, vlen, depth + 1, d) != 0)
            {
                return LAVA_SCAN_UNSURE;
            }

        } while (!done);

        return lava_usage_scan_put(d, "}", 1);

    case '[':
        if (lava_usage_scan_put(d, "[", 1) != 0) {
            return LAVA_SCAN_UNSURE;
        }

        end = v + n;
        p = lava_json_ws(v + 1, end);

        for (i = 0; p < end && *p != ']'; i++) {
            /* validated: the element's span, then ',' or ']' */
            vlen = lava_json_span(p, (size_t) (end - p));
            if (vlen == 0) {
                return LAVA_SCAN_UNSURE;
            }

            if ((i > 0 && lava_usage_scan_put(d, ",", 1) != 0)
                || lava_usage_scan_dump(p, vlen, depth + 1, d) != 0)
            {
                return LAVA_SCAN_UNSURE;
            }

            p = lava_json_ws(p + vlen, end);

            if (p < end && *p == ',') {
                p = lava_json_ws(p + 1, end);
            }
        }

        return lava_usage_scan_put(d, "]", 1);

    case 't':
    case 'f':
    case 'n':
        return lava_usage_scan_put(d, v, n);

    default:
        /* a number: an integer as written, but -0 and reals are jansson's */
        for (i = 0; i < n; i++) {
            if (v[i] == '.' || v[i] == 'e' || v[i] == 'E') {
                return LAVA_SCAN_UNSURE;
            }
        }

        if (n == 2 && v[0] == '-' && v[1] == '0') {
            return LAVA_SCAN_UNSURE;
        }

        return lava_usage_scan_put(d, v, n);
    }
}


/* the usage object's members the two shapes read */
enum {
    U_PROMPT = 0, U_COMPLETION, U_TOTAL, U_HIT, U_CACHED, U_PD, U_CD,
    U_IN, U_OUT, U_ID, U_ID2, U_OD, U_SECONDS, U_N
};

static const char  *const lava_usage_scan_usage_names[] = {
    "prompt_tokens", "completion_tokens", "total_tokens",
    "prompt_cache_hit_tokens", "cached_tokens", "prompt_tokens_details",
    "completion_tokens_details", "input_tokens", "output_tokens",
    "input_tokens_details", "input_token_details", "output_tokens_details",
    "seconds", NULL
};

/* the members of the details objects */
enum { D_CACHED = 0, D_AUDIO, D_REASONING, D_N };

static const char  *const lava_usage_scan_detail_names[] = {
    "cached_tokens", "audio_tokens", "reasoning_tokens", NULL
};

/* the top-level members */
enum { T_TYPE = 0, T_OUTPUT, T_OBJECT, T_MODEL, T_USAGE, T_CHOICES, T_N };

static const char  *const lava_usage_scan_top_names[] = {
    "type", "output", "object", "model", "usage", "choices", NULL
};


/* GET of lava_usage.c: the worst outcome wins (unsure over -1) */
#define LAVA_SCAN_GET(span, v, seen, err)                                    \
    do {                                                                     \
        int  r_ = lava_usage_scan_count(span, v);                            \
        if (r_ < 0) {                                                        \
            (err) = (err) == LAVA_SCAN_UNSURE ? (err) : r_;                  \
        } else {                                                             \
            (seen) |= r_;                                                    \
        }                                                                    \
    } while (0)


/*
 * The usage object us (an object) into u: 1 read, 0 neither shape's
 * counters, -1 bad types, LAVA_SCAN_UNSURE. u is changed only on 1, after
 * the last point where it could be unsure.
 */
static int
lava_usage_scan_usage(lava_usage_t *u, const lava_usage_span_t *us)
{
    int                  err, any, has_total, has_cached, unused, chat;
    char                 raw[LAVA_USAGE_RAW_MAX];
    int64_t              a, b, total, hit, cached, ain, reasoning, aout;
    lava_usage_dump_t    d;
    lava_usage_span_t    m[U_N], pd[D_N], cd[D_N];
    const lava_usage_span_t  *id;

    memset(m, 0, sizeof(m));

    if (lava_usage_scan_members(us, lava_usage_scan_usage_names, m) != 0) {
        return LAVA_SCAN_UNSURE;
    }

    /* which shape: json_object_get() finds a member even when null */
    if (m[U_PROMPT].v || m[U_COMPLETION].v) {
        chat = 1;

    } else if (m[U_IN].v || m[U_OUT].v) {
        chat = 0;

    } else if (m[U_SECONDS].v) {
        return LAVA_SCAN_UNSURE;        /* a duration: read from its text */

    } else {
        return 0;
    }

    err = any = has_total = has_cached = unused = 0;
    a = b = total = hit = cached = ain = reasoning = aout = 0;

    if (chat) {
        LAVA_SCAN_GET(&m[U_PROMPT], &a, any, err);
        LAVA_SCAN_GET(&m[U_COMPLETION], &b, any, err);
        LAVA_SCAN_GET(&m[U_TOTAL], &total, has_total, err);
        LAVA_SCAN_GET(&m[U_HIT], &hit, unused, err);

        if (m[U_HIT].v == NULL) {
            /* Moonshot (Kimi) reports its cache hits as usage.cached_tokens */
            LAVA_SCAN_GET(&m[U_CACHED], &hit, unused, err);
        }

        id = &m[U_PD];

    } else {
        LAVA_SCAN_GET(&m[U_IN], &a, any, err);
        LAVA_SCAN_GET(&m[U_OUT], &b, any, err);

        /* transcriptions name it input_token_details */
        id = lava_usage_scan_none(&m[U_ID]) ? &m[U_ID2] : &m[U_ID];
    }

    switch (lava_usage_scan_object(id, lava_usage_scan_detail_names, pd, D_N))
    {
    case 0:
        break;
    case -1:
        err = err ? err : -1;
        break;
    default:
        return LAVA_SCAN_UNSURE;
    }

    switch (lava_usage_scan_object(chat ? &m[U_CD] : &m[U_OD],
                                   lava_usage_scan_detail_names, cd, D_N))
    {
    case 0:
        break;
    case -1:
        err = err ? err : -1;
        break;
    default:
        return LAVA_SCAN_UNSURE;
    }

    LAVA_SCAN_GET(&pd[D_CACHED], &cached, has_cached, err);
    LAVA_SCAN_GET(&pd[D_AUDIO], &ain, unused, err);
    LAVA_SCAN_GET(&cd[D_REASONING], &reasoning, unused, err);
    LAVA_SCAN_GET(&cd[D_AUDIO], &aout, unused, err);

    if (err) {
        return err;
    }

    if (!any) {
        return 0;
    }

    d.p = raw;
    d.left = sizeof(raw);

    if (lava_usage_scan_dump(us->v, us->n, 0, &d) != 0) {
        return LAVA_SCAN_UNSURE;
    }

    if (chat) {
        lava_usage_chat_set(u, a, b, has_total ? total : -1,
                            has_cached ? cached : hit, ain, reasoning, aout);

    } else {
        lava_usage_io_set(u, a, b, cached, ain, reasoning, aout);
    }

    u->raw_len = sizeof(raw) - d.left;
    memcpy(u->raw, raw, u->raw_len);

    return 1;
}


int
lava_usage_scan_openai(lava_usage_t *u, int ep, const char *json,
    size_t len)
{
    int                final, rc;
    const char        *p, *end;
    lava_usage_span_t  t[T_N];

    if (ep == LAVA_EP_IMAGES || ep == LAVA_EP_TRANSCRIPTION
        || len == 0 || json[0] != '{')
    {
        return LAVA_USAGE_SCAN_UNSURE;
    }

    memset(t, 0, sizeof(t));

    /* validates the whole document as jansson would (no NUL in strings) */
    if (lava_usage_scan_members(&(lava_usage_span_t) { json, len },
                                lava_usage_scan_top_names, t)
        != 0)
    {
        return LAVA_USAGE_SCAN_UNSURE;
    }

    if (t[T_TYPE].v || t[T_OUTPUT].v || lava_usage_scan_none(&t[T_USAGE])) {
        /* Responses API events and outputs; usage elsewhere or none */
        return LAVA_USAGE_SCAN_UNSURE;
    }

    if ((t[T_OBJECT].v && memchr(t[T_OBJECT].v, '\\', t[T_OBJECT].n))
        || (t[T_MODEL].v && memchr(t[T_MODEL].v, '\\', t[T_MODEL].n)))
    {
        return LAVA_USAGE_SCAN_UNSURE;
    }

    final = 1;

    if (t[T_OBJECT].v
        && lava_usage_scan_is(t[T_OBJECT].v, t[T_OBJECT].n,
                              "\"chat.completion.chunk\"")
        && t[T_CHOICES].v && t[T_CHOICES].v[0] == '[')
    {
        end = t[T_CHOICES].v + t[T_CHOICES].n;
        p = lava_json_ws(t[T_CHOICES].v + 1, end);

        if (p == end || *p != ']') {
            /* a chunk with choices: which are finished is jansson's */
            return LAVA_USAGE_SCAN_UNSURE;
        }
    }

    /* u changes only once the usage is read: unsure leaves it untouched */
    if (t[T_USAGE].v[0] == '{') {
        rc = lava_usage_scan_usage(u, &t[T_USAGE]);

        if (rc == LAVA_SCAN_UNSURE) {
            return LAVA_USAGE_SCAN_UNSURE;
        }

    } else {
        rc = -1;                    /* "usage" of another type */
    }

    if (t[T_MODEL].v && t[T_MODEL].v[0] == '"') {
        (void) lava_usage_model_set(u->model, t[T_MODEL].v + 1,
                                    t[T_MODEL].n - 2);
    }

    if (rc == 1) {
        u->final = final;
    }

    return rc;
}


/* the members of an Anthropic usage object and of its two sub-objects */
enum {
    A_IN = 0, A_OUT, A_READ, A_CW, A_CC, A_STU, A_N
};

static const char  *const lava_usage_scan_anthropic_names[] = {
    "input_tokens", "output_tokens", "cache_read_input_tokens",
    "cache_creation_input_tokens", "cache_creation", "server_tool_use", NULL
};

enum { C_5M = 0, C_1H, C_N };

static const char  *const lava_usage_scan_cc_names[] = {
    "ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens", NULL
};

enum { S_WS = 0, S_WF, S_N };

static const char  *const lava_usage_scan_stu_names[] = {
    "web_search_requests", "web_fetch_requests", NULL
};

/* the top-level members of a message body or a message_start's message */
enum { M_TYPE = 0, M_MODEL, M_USAGE, M_MESSAGE, M_N };

static const char  *const lava_usage_scan_message_names[] = {
    "type", "model", "usage", "message", NULL
};


int
lava_usage_scan_anthropic(lava_usage_t *u, const char *json, size_t len)
{
    int                 err, has[A_N], has_5m, has_1h, has_ws, has_wf, final;
    char                raw[LAVA_USAGE_RAW_MAX];
    int64_t             v[A_N], w5m, w1h, ws, wf;
    lava_usage_dump_t   d;
    lava_usage_span_t   t[M_N], m[M_N], a[A_N], cc[C_N], stu[S_N];
    const lava_usage_span_t  *doc, *us;

    if (u->seen || len == 0 || json[0] != '{') {
        /* a stream's later usage is merged into the earlier one: jansson */
        return LAVA_USAGE_SCAN_UNSURE;
    }

    memset(t, 0, sizeof(t));

    if (lava_usage_scan_members(&(lava_usage_span_t) { json, len },
                                lava_usage_scan_message_names, t)
        != 0)
    {
        return LAVA_USAGE_SCAN_UNSURE;
    }

    if (t[M_TYPE].v && t[M_TYPE].v[0] != '"') {
        /* json_string_value() of a non-string: as no type */
        return LAVA_USAGE_SCAN_UNSURE;
    }

    if (t[M_TYPE].v == NULL
        || lava_usage_scan_is(t[M_TYPE].v, t[M_TYPE].n, "\"message\""))
    {
        doc = &(lava_usage_span_t) { json, len };
        memcpy(m, t, sizeof(m));
        final = 1;

    } else if (lava_usage_scan_is(t[M_TYPE].v, t[M_TYPE].n,
                                  "\"message_start\""))
    {
        if (t[M_MESSAGE].v == NULL || t[M_MESSAGE].v[0] != '{') {
            return LAVA_USAGE_SCAN_UNSURE;
        }

        doc = &t[M_MESSAGE];
        memset(m, 0, sizeof(m));

        if (lava_usage_scan_members(doc, lava_usage_scan_message_names, m)
            != 0)
        {
            return LAVA_USAGE_SCAN_UNSURE;
        }

        final = 0;

    } else {
        /* message_delta without an earlier usage, errors, the rest */
        return LAVA_USAGE_SCAN_UNSURE;
    }

    if ((m[M_MODEL].v && memchr(m[M_MODEL].v, '\\', m[M_MODEL].n))
        || (t[M_TYPE].v && memchr(t[M_TYPE].v, '\\', t[M_TYPE].n))
        || lava_usage_scan_none(&m[M_USAGE]) || m[M_USAGE].v[0] != '{')
    {
        /* escapes; no usage or one of another type (-1 after the model) */
        return LAVA_USAGE_SCAN_UNSURE;
    }

    us = &m[M_USAGE];
    memset(a, 0, sizeof(a));

    if (lava_usage_scan_members(us, lava_usage_scan_anthropic_names, a) != 0
        || lava_usage_scan_object(&a[A_CC], lava_usage_scan_cc_names, cc,
                                  C_N) != 0
        || lava_usage_scan_object(&a[A_STU], lava_usage_scan_stu_names, stu,
                                  S_N) != 0)
    {
        /* -1 of a sub-object is jansson's too: the model then still set */
        return LAVA_USAGE_SCAN_UNSURE;
    }

    err = 0;
    memset(has, 0, sizeof(has));
    memset(v, 0, sizeof(v));
    has_5m = has_1h = has_ws = has_wf = 0;
    w5m = w1h = ws = wf = 0;

    LAVA_SCAN_GET(&a[A_IN], &v[A_IN], has[A_IN], err);
    LAVA_SCAN_GET(&a[A_OUT], &v[A_OUT], has[A_OUT], err);
    LAVA_SCAN_GET(&a[A_READ], &v[A_READ], has[A_READ], err);
    LAVA_SCAN_GET(&a[A_CW], &v[A_CW], has[A_CW], err);
    LAVA_SCAN_GET(&cc[C_5M], &w5m, has_5m, err);
    LAVA_SCAN_GET(&cc[C_1H], &w1h, has_1h, err);
    LAVA_SCAN_GET(&stu[S_WS], &ws, has_ws, err);
    LAVA_SCAN_GET(&stu[S_WF], &wf, has_wf, err);

    if (err
        || !(has[A_IN] | has[A_OUT] | has[A_READ] | has[A_CW] | has_5m
             | has_1h | has_ws | has_wf))
    {
        /* bad types and usage without counters: left to jansson */
        return LAVA_USAGE_SCAN_UNSURE;
    }

    d.p = raw;
    d.left = sizeof(raw);

    if (lava_usage_scan_dump(us->v, us->n, 0, &d) != 0) {
        return LAVA_USAGE_SCAN_UNSURE;
    }

    /* as lava_usage_anthropic(): each field present replaces */
    if (m[M_MODEL].v && m[M_MODEL].v[0] == '"') {
        (void) lava_usage_model_set(u->model, m[M_MODEL].v + 1,
                                    m[M_MODEL].n - 2);
    }

    if (has[A_IN]) {
        u->input_tokens = v[A_IN];
    }

    if (has[A_OUT]) {
        u->output_tokens = v[A_OUT];
    }

    if (has[A_READ]) {
        u->cached_input_tokens = v[A_READ];
    }

    if (has_1h) {
        u->cache_write_1h_tokens = w1h;
    }

    if (has_ws) {
        u->web_search_calls = ws;
    }

    if (has_wf) {
        u->web_fetch_calls = wf;
    }

    if (has[A_CW]) {
        u->cache_write_tokens = v[A_CW] > u->cache_write_1h_tokens
                                ? v[A_CW] - u->cache_write_1h_tokens : 0;

    } else if (has_5m) {
        u->cache_write_tokens = w5m;
    }

    u->raw_len = sizeof(raw) - d.left;
    memcpy(u->raw, raw, u->raw_len);
    u->final = final;

    return 1;
}
