/*
 * Stream translation's fast path: the provider events that carry only a
 * text delta (nearly every event of a stream) decoded with the
 * non-allocating scanner (lava_json_scan.h) instead of a jansson tree, then
 * written by the same writers (lava_xs_text, lava_xs_tool_args of
 * lava_xlate_stream_out.c) the jansson decoders of lava_xlate_stream.c call.
 *
 * Taken, per provider format:
 *   OpenAI     a chat.completion.chunk after the first, with one choice
 *              (index 0 or none) whose delta has a string or null content
 *              (role and null refusal, reasoning_content or tool_calls
 *              allowed), finish_reason null or absent, usage null or absent,
 *              error null or absent;
 *   Anthropic  content_block_delta text_delta in an open text block,
 *              input_json_delta in an open tool_use block, and ping;
 *   Gemini     a chunk after the first, with one candidate (index 0 or
 *              none) whose parts are all text (no "thought"), no
 *              finishReason, no promptFeedback, error null or absent, and
 *              usageMetadata whose counts are plain integers (or null, or
 *              absent).
 * Everything else is declined (LAVA_XS_FAST_DECLINED: nothing was done)
 * and the jansson decoder runs: the first event (it notes the id, model and
 * created and writes the client's start), an id or model not noted yet, a
 * finish reason, a usage report of OpenAI or Anthropic, tool calls of
 * OpenAI and Gemini, reasoning, errors, a second choice, any member the
 * decoder reads given twice (jansson keeps the last), any value of a type
 * the decoder would treat specially, an escaped member name, a string with
 * escapes longer than XSF_TEXT_MAX, and anything the scanner refuses or is
 * unsure of (then jansson decides, as before).
 *
 * So the client bytes are those of the jansson path, byte for byte:
 * t/unit/check_xlate_stream_fast.c compares both paths for the golden
 * streams at every split point, and fuzz/fuzz_xlate_stream.c runs both on
 * every input and aborts on a difference.
 *
 * The whole event is validated (lava_json_scan_member validates every
 * member's value as strictly as json_loadb with JSON_ALLOW_NUL) before
 * anything is written: an event is either taken whole or declined whole.
 * The values inside the top-level members are then walked without a second
 * validation. No allocation: strings are used where they lie in the
 * event's buffer, those with escapes are decoded into a buffer on the
 * stack. Ownership: nothing is kept; s is the caller's.
 */

#include <string.h>

#include "lava_json.h"
#include "lava_json_scan.h"
#include "lava_xlate_stream_int.h"


/* bytes of an escaped string decoded here (its text as written); a longer
 * one is declined */
#define XSF_TEXT_MAX  4096

/* text parts of one Gemini chunk taken here */
#define XSF_PARTS     8


/* a string value where it lies in the event: its bytes between the quotes,
 * and whether they hold an escape */
typedef struct {
    const char  *p;
    size_t       n;
    int          esc;
} xsf_str_t;


/* the members of one object, validated (lava_json_scan_member) */
typedef struct {
    const char  *p;
    size_t       n;
    size_t       off;
    int          done;
} xsf_obj_t;


#define XSF_IS(k, kl, lit)                                                   \
    ((kl) == sizeof(lit) - 1 && memcmp(k, lit, sizeof(lit) - 1) == 0)

#define XSF_LIT(v, vl, lit)  XSF_IS(v, vl, lit)

/* a member the decoder reads, seen before: jansson would keep the last */
#define XSF_ONCE(seen, bit)                                                  \
    do {                                                                     \
        if ((seen) & (bit)) {                                                \
            return LAVA_XS_FAST_DECLINED;                                    \
        }                                                                    \
        (seen) |= (bit);                                                     \
    } while (0)


/* p[0..n) must be one object, white space around it allowed */
static int
xsf_obj_init(xsf_obj_t *o, const char *p, size_t n)
{
    o->p = p;
    o->n = n;
    o->off = 0;
    o->done = 0;

    p = lava_json_ws(p, p + n);

    return (p < o->p + n && *p == '{') ? 0 : -1;
}


/* the next member: 0, 1 after the last one, -1 invalid or unsure */
static int
xsf_obj_next(xsf_obj_t *o, const char **k, size_t *kl, const char **v,
    size_t *vl)
{
    int               done;
    lava_json_scan_e  rc;

    if (o->done) {
        return 1;
    }

    rc = lava_json_scan_member(o->p, o->n, &o->off, 1, k, kl, v, vl, &done);
    if (rc != LAVA_JSON_SCAN_OK) {
        return -1;
    }

    o->done = done;

    return *k == NULL ? 1 : 0;      /* {} has no member */
}


/*
 * Walking a value the top-level scan validated (lava_json_scan_member: every
 * byte seen, every nested member name free of escapes, since an escaped one
 * makes the scanner unsure): no checks but the ends, no second validation.
 */

/* p at a string's opening quote: just after its closing one */
static const char *
xsf_skip_string(const char *p, const char *end)
{
    const char  *q, *b;

    for (q = p + 1; /* void */; q++) {
        q = memchr(q, '"', (size_t) (end - q));
        if (q == NULL) {
            return end;
        }

        /* escaped when an odd number of backslashes precede it (the
         * opening quote stops the count) */
        for (b = q; b[-1] == '\\'; b--) {
            /* void */
        }

        if (((q - b) & 1) == 0) {
            return q + 1;
        }
    }
}


/* p at a value: just after it */
static const char *
xsf_skip(const char *p, const char *end)
{
    int  depth = 0;

    while (p < end) {
        switch (*p) {

        case '"':
            p = xsf_skip_string(p, end);
            break;

        case '{':
        case '[':
            depth++;
            p++;
            continue;

        case '}':
        case ']':
            depth--;
            p++;
            break;

        case ',':
        case ':':
        case ' ':
        case '\t':
        case '\r':
        case '\n':
            p++;
            continue;

        default:                    /* a number, true, false, null */
            while (p < end && *p != ',' && *p != '}' && *p != ']'
                   && !lava_json_is_ws(*p))
            {
                p++;
            }
            break;
        }

        if (depth == 0) {
            return p;
        }
    }

    return p;
}


/* the members of a validated object, or the elements of an array */
typedef struct {
    const char  *p;
    const char  *end;
    char         close;
} xsf_walk_t;


/* v[0..vl) must be an object (open '{') or an array ('['): 0, or -1 */
static int
xsf_walk_init(xsf_walk_t *w, const char *v, size_t vl, char open)
{
    if (vl == 0 || *v != open) {
        return -1;
    }

    w->end = v + vl;
    w->close = open == '{' ? '}' : ']';
    w->p = lava_json_ws(v + 1, w->end);

    return 0;
}


/* the next member (*k its name) or element: 0, 1 after the last, -1 */
static int
xsf_walk_next(xsf_walk_t *w, const char **k, size_t *kl, const char **v,
    size_t *vl)
{
    const char  *p = w->p, *q;

    if (p >= w->end || *p == w->close) {
        return 1;
    }

    if (w->close == '}') {
        if (*p != '"') {
            return -1;
        }

        q = memchr(p + 1, '"', (size_t) (w->end - p - 1));
        if (q == NULL) {
            return -1;
        }

        *k = p + 1;
        *kl = (size_t) (q - p - 1);

        p = lava_json_ws(q + 1, w->end);
        if (p == w->end || *p != ':') {
            return -1;
        }

        p = lava_json_ws(p + 1, w->end);
    }

    *v = p;
    q = xsf_skip(p, w->end);
    *vl = (size_t) (q - p);

    p = lava_json_ws(q, w->end);
    if (p < w->end && *p == ',') {
        p = lava_json_ws(p + 1, w->end);
    }

    w->p = p;

    return 0;
}


/* the one element of a validated array: 0, or -1 (empty, or a second) */
static int
xsf_one(const char *v, size_t vl, const char **e, size_t *el)
{
    const char  *k;
    size_t       kl;
    xsf_walk_t   w;

    if (xsf_walk_init(&w, v, vl, '[') != 0
        || xsf_walk_next(&w, &k, &kl, e, el) != 0)
    {
        return -1;
    }

    return xsf_walk_next(&w, &k, &kl, &v, &vl) == 1 ? 0 : -1;
}


/* a string value: 0, or -1 when v is not a string or an escaped one is
 * over XSF_TEXT_MAX */
static int
xsf_string(const char *v, size_t vl, xsf_str_t *s)
{
    if (vl < 2 || v[0] != '"') {
        return -1;
    }

    s->p = v + 1;
    s->n = vl - 2;
    s->esc = memchr(s->p, '\\', s->n) != NULL;

    return (s->esc && s->n > XSF_TEXT_MAX) ? -1 : 0;
}


static unsigned
xsf_hex4(const char *p)
{
    unsigned  i, c, v = 0;

    for (i = 0; i < 4; i++) {
        c = (unsigned char) p[i];
        v <<= 4;
        v |= (c <= '9') ? c - '0' : (c | 0x20) - 'a' + 10;
    }

    return v;
}


/*
 * The decoded text of s, as jansson decodes it: s's own bytes without
 * escapes, else decoded into buf (XSF_TEXT_MAX bytes; the decoded text is
 * never longer than its escaped form). The scanner validated s: every
 * escape is well formed, surrogates come in pairs, \u0000 is allowed
 * (JSON_ALLOW_NUL).
 */
static const char *
xsf_decode(const xsf_str_t *s, char *buf, size_t *n)
{
    size_t       i, o;
    unsigned     cp, lo;
    const char  *p = s->p;

    if (!s->esc) {
        *n = s->n;
        return s->p;
    }

    for (i = 0, o = 0; i < s->n; /* void */) {
        if (p[i] != '\\') {
            buf[o++] = p[i++];
            continue;
        }

        switch (p[i + 1]) {
        case 'b': buf[o++] = '\b'; i += 2; continue;
        case 'f': buf[o++] = '\f'; i += 2; continue;
        case 'n': buf[o++] = '\n'; i += 2; continue;
        case 'r': buf[o++] = '\r'; i += 2; continue;
        case 't': buf[o++] = '\t'; i += 2; continue;
        case 'u': break;
        default:  buf[o++] = p[i + 1]; i += 2; continue;   /* " \ / */
        }

        cp = xsf_hex4(p + i + 2);
        i += 6;

        if (cp >= 0xd800 && cp <= 0xdbff) {
            lo = xsf_hex4(p + i + 2);
            i += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }

        if (cp < 0x80) {
            buf[o++] = (char) cp;

        } else if (cp < 0x800) {
            buf[o++] = (char) (0xc0 | (cp >> 6));
            buf[o++] = (char) (0x80 | (cp & 0x3f));

        } else if (cp < 0x10000) {
            buf[o++] = (char) (0xe0 | (cp >> 12));
            buf[o++] = (char) (0x80 | ((cp >> 6) & 0x3f));
            buf[o++] = (char) (0x80 | (cp & 0x3f));

        } else {
            buf[o++] = (char) (0xf0 | (cp >> 18));
            buf[o++] = (char) (0x80 | ((cp >> 12) & 0x3f));
            buf[o++] = (char) (0x80 | ((cp >> 6) & 0x3f));
            buf[o++] = (char) (0x80 | (cp & 0x3f));
        }
    }

    *n = o;
    return buf;
}


/* a count of Gemini's usageMetadata: a plain non-negative integer (the
 * scanner gave it, so at most 18 digits), -1 for anything else */
static int64_t
xsf_count(const char *v, size_t vl)
{
    size_t   i;
    int64_t  x = 0;

    if (vl == 0) {
        return -1;
    }

    for (i = 0; i < vl; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return -1;
        }

        x = x * 10 + (v[i] - '0');
    }

    return x;
}


/* ---- OpenAI chat.completion.chunk ---- */

static int
xsf_openai(xs_t *s, const char *p, size_t n)
{
    int          rc, has_text;
    size_t       kl, vl, cl, tn;
    unsigned     seen;
    xsf_obj_t    o;
    xsf_walk_t   w;
    xsf_str_t    text;
    const char  *k, *v, *choices, *c, *delta, *t;
    char         buf[XSF_TEXT_MAX];

    /* the first chunk notes created and writes the client's start */
    if (!s->started) {
        return LAVA_XS_FAST_DECLINED;
    }

    if (xsf_obj_init(&o, p, n) != 0) {
        return LAVA_XS_FAST_DECLINED;
    }

    seen = 0;
    choices = NULL;
    cl = 0;

    while ((rc = xsf_obj_next(&o, &k, &kl, &v, &vl)) == 0) {

        if (XSF_IS(k, kl, "choices")) {
            XSF_ONCE(seen, 0x1);
            choices = v;
            cl = vl;

        } else if (XSF_IS(k, kl, "id")) {
            XSF_ONCE(seen, 0x2);
            if (s->id[0] == '\0' && *v == '"') {
                return LAVA_XS_FAST_DECLINED;       /* to be noted */
            }

        } else if (XSF_IS(k, kl, "model")) {
            XSF_ONCE(seen, 0x4);
            if (s->model[0] == '\0' && *v == '"') {
                return LAVA_XS_FAST_DECLINED;
            }

        } else if (XSF_IS(k, kl, "created")) {
            XSF_ONCE(seen, 0x8);
            if (s->created == 0) {
                return LAVA_XS_FAST_DECLINED;
            }

        } else if (XSF_IS(k, kl, "usage") || XSF_IS(k, kl, "error")) {
            if (!XSF_LIT(v, vl, "null")) {
                return LAVA_XS_FAST_DECLINED;
            }
        }
    }

    if (rc < 0 || choices == NULL || xsf_one(choices, cl, &c, &cl) != 0
        || xsf_walk_init(&w, c, cl, '{') != 0)
    {
        return LAVA_XS_FAST_DECLINED;
    }

    /* the choice */
    seen = 0;
    delta = NULL;

    while ((rc = xsf_walk_next(&w, &k, &kl, &v, &vl)) == 0) {

        if (XSF_IS(k, kl, "delta")) {
            XSF_ONCE(seen, 0x1);
            delta = v;
            cl = vl;

        } else if (XSF_IS(k, kl, "index")) {
            XSF_ONCE(seen, 0x2);
            if (!XSF_LIT(v, vl, "0")) {
                return LAVA_XS_FAST_DECLINED;
            }

        } else if (XSF_IS(k, kl, "finish_reason")) {
            XSF_ONCE(seen, 0x4);
            if (!XSF_LIT(v, vl, "null")) {
                return LAVA_XS_FAST_DECLINED;
            }
        }
    }

    if (rc < 0 || delta == NULL || xsf_walk_init(&w, delta, cl, '{') != 0) {
        return LAVA_XS_FAST_DECLINED;
    }

    /* its delta */
    seen = 0;
    has_text = 0;
    text.p = NULL;
    text.n = 0;
    text.esc = 0;

    while ((rc = xsf_walk_next(&w, &k, &kl, &v, &vl)) == 0) {

        if (XSF_IS(k, kl, "content")) {
            XSF_ONCE(seen, 0x1);

            if (XSF_LIT(v, vl, "null")) {
                continue;
            }

            if (xsf_string(v, vl, &text) != 0) {
                return LAVA_XS_FAST_DECLINED;
            }

            has_text = 1;

        } else if (XSF_IS(k, kl, "refusal")
                   || XSF_IS(k, kl, "reasoning_content")
                   || XSF_IS(k, kl, "tool_calls"))
        {
            if (!XSF_LIT(v, vl, "null")) {
                return LAVA_XS_FAST_DECLINED;
            }
        }
    }

    if (rc < 0) {
        return LAVA_XS_FAST_DECLINED;
    }

    if (has_text && text.n) {
        t = xsf_decode(&text, buf, &tn);
        if (tn) {
            lava_xs_text(s, t, tn);
        }
    }

    return 0;
}


/* ---- Anthropic Messages events ---- */

static int
xsf_anthropic(xs_t *s, const char *p, size_t n)
{
    int          rc, ping;
    size_t       kl, vl, dl, tn;
    unsigned     seen;
    xsf_obj_t    o;
    xsf_walk_t   w;
    xsf_str_t    type, text, json;
    const char  *k, *v, *delta, *t;
    char         buf[XSF_TEXT_MAX];

    if (xsf_obj_init(&o, p, n) != 0) {
        return LAVA_XS_FAST_DECLINED;
    }

    seen = 0;
    delta = NULL;
    dl = 0;
    type.p = NULL;

    while ((rc = xsf_obj_next(&o, &k, &kl, &v, &vl)) == 0) {

        if (XSF_IS(k, kl, "type")) {
            XSF_ONCE(seen, 0x1);
            if (xsf_string(v, vl, &type) != 0 || type.esc) {
                return LAVA_XS_FAST_DECLINED;
            }

        } else if (XSF_IS(k, kl, "delta")) {
            XSF_ONCE(seen, 0x2);
            delta = v;
            dl = vl;
        }
    }

    if (rc < 0 || type.p == NULL) {
        return LAVA_XS_FAST_DECLINED;
    }

    ping = XSF_LIT(type.p, type.n, "ping");

    if (ping) {
        return 0;                       /* nothing to translate */
    }

    if (!XSF_LIT(type.p, type.n, "content_block_delta") || delta == NULL
        || xsf_walk_init(&w, delta, dl, '{') != 0)
    {
        return LAVA_XS_FAST_DECLINED;
    }

    /* the delta */
    seen = 0;
    type.p = NULL;
    text.p = NULL;
    json.p = NULL;

    while ((rc = xsf_walk_next(&w, &k, &kl, &v, &vl)) == 0) {

        if (XSF_IS(k, kl, "type")) {
            XSF_ONCE(seen, 0x1);
            if (xsf_string(v, vl, &type) != 0 || type.esc) {
                return LAVA_XS_FAST_DECLINED;
            }

        } else if (XSF_IS(k, kl, "text")) {
            XSF_ONCE(seen, 0x2);
            if (xsf_string(v, vl, &text) != 0) {
                return LAVA_XS_FAST_DECLINED;
            }

        } else if (XSF_IS(k, kl, "partial_json")) {
            XSF_ONCE(seen, 0x4);
            if (xsf_string(v, vl, &json) != 0) {
                return LAVA_XS_FAST_DECLINED;
            }
        }
    }

    if (rc < 0 || type.p == NULL) {
        return LAVA_XS_FAST_DECLINED;
    }

    if (s->src_blk == XS_BLK_TEXT && XSF_LIT(type.p, type.n, "text_delta")) {
        if (text.p != NULL && text.n) {
            t = xsf_decode(&text, buf, &tn);
            if (tn) {
                lava_xs_text(s, t, tn);
            }
        }

        return 0;
    }

    if (s->src_blk == XS_BLK_TOOL
        && XSF_LIT(type.p, type.n, "input_json_delta"))
    {
        if (json.p != NULL && json.n) {
            t = xsf_decode(&json, buf, &tn);
            if (tn) {
                lava_xs_tool_args(s, s->src_tools, t, tn);
            }
        }

        return 0;
    }

    return LAVA_XS_FAST_DECLINED;
}


/* ---- Gemini GenerateContentResponse chunks ---- */

/* usageMetadata into u, as lava_xlate_usage_read reads it: 0, or -1 when
 * a count is not a plain integer or is given twice */
static int
xsf_gemini_usage(const char *v, size_t vl, lava_xlate_usage_t *u)
{
    int          rc, i;
    size_t       kl, cl;
    int64_t      x, c[5];
    unsigned     seen;
    xsf_walk_t   w;
    const char  *k, *cv;

    /* in lava_xlate_usage_names[LAVA_FMT_GEMINI]'s order, then the
     * tool-use prompt */
    static const char  *names[5] = {
        "promptTokenCount", "candidatesTokenCount",
        "cachedContentTokenCount", "thoughtsTokenCount",
        "toolUsePromptTokenCount"
    };

    if (xsf_walk_init(&w, v, vl, '{') != 0) {
        return -1;
    }

    memset(c, 0, sizeof(c));
    seen = 0;

    while ((rc = xsf_walk_next(&w, &k, &kl, &cv, &cl)) == 0) {
        for (i = 0; i < 5; i++) {
            if (kl == strlen(names[i]) && memcmp(k, names[i], kl) == 0) {
                break;
            }
        }

        if (i == 5) {
            continue;
        }

        if (seen & (1u << i)) {
            return -1;
        }

        seen |= 1u << i;
        x = xsf_count(cv, cl);
        if (x < 0) {
            return -1;
        }

        c[i] = x;
    }

    if (rc < 0) {
        return -1;
    }

    lava_xlate_usage_gemini(u, c[0], c[1], c[2], c[3], c[4]);
    return 0;
}


static int
xsf_gemini(xs_t *s, const char *p, size_t n)
{
    int                 rc, i, nparts;
    size_t              kl, vl, cl, ul, tn;
    unsigned            seen, pseen;
    xsf_obj_t           o;
    xsf_walk_t          w, a, pw;
    xsf_str_t           parts[XSF_PARTS];
    const char         *k, *v, *cands, *c, *content, *usage, *parr, *t;
    lava_xlate_usage_t  u;
    char                buf[XSF_TEXT_MAX];

    /* the first chunk writes the client's start */
    if (!s->started || xsf_obj_init(&o, p, n) != 0) {
        return LAVA_XS_FAST_DECLINED;
    }

    seen = 0;
    cands = NULL;
    usage = NULL;
    cl = 0;
    ul = 0;

    while ((rc = xsf_obj_next(&o, &k, &kl, &v, &vl)) == 0) {

        if (XSF_IS(k, kl, "candidates")) {
            XSF_ONCE(seen, 0x1);
            cands = v;
            cl = vl;

        } else if (XSF_IS(k, kl, "usageMetadata")) {
            XSF_ONCE(seen, 0x2);
            if (!XSF_LIT(v, vl, "null")) {
                usage = v;
                ul = vl;
            }

        } else if (XSF_IS(k, kl, "responseId")) {
            XSF_ONCE(seen, 0x4);
            if (s->id[0] == '\0' && *v == '"') {
                return LAVA_XS_FAST_DECLINED;
            }

        } else if (XSF_IS(k, kl, "modelVersion")) {
            XSF_ONCE(seen, 0x8);
            if (s->model[0] == '\0' && *v == '"') {
                return LAVA_XS_FAST_DECLINED;
            }

        } else if (XSF_IS(k, kl, "error")) {
            if (!XSF_LIT(v, vl, "null")) {
                return LAVA_XS_FAST_DECLINED;
            }

        } else if (XSF_IS(k, kl, "promptFeedback")) {
            return LAVA_XS_FAST_DECLINED;
        }
    }

    if (rc < 0 || cands == NULL || xsf_one(cands, cl, &c, &cl) != 0
        || xsf_walk_init(&w, c, cl, '{') != 0)
    {
        return LAVA_XS_FAST_DECLINED;
    }

    /* the candidate */
    seen = 0;
    content = NULL;

    while ((rc = xsf_walk_next(&w, &k, &kl, &v, &vl)) == 0) {

        if (XSF_IS(k, kl, "content")) {
            XSF_ONCE(seen, 0x1);
            content = v;
            cl = vl;

        } else if (XSF_IS(k, kl, "index")) {
            XSF_ONCE(seen, 0x2);
            if (!XSF_LIT(v, vl, "0")) {
                return LAVA_XS_FAST_DECLINED;
            }

        } else if (XSF_IS(k, kl, "finishReason")) {
            XSF_ONCE(seen, 0x4);
            if (!XSF_LIT(v, vl, "null")) {
                return LAVA_XS_FAST_DECLINED;
            }
        }
    }

    if (rc < 0 || content == NULL
        || xsf_walk_init(&w, content, cl, '{') != 0)
    {
        return LAVA_XS_FAST_DECLINED;
    }

    /* its content */
    seen = 0;
    parr = NULL;

    while ((rc = xsf_walk_next(&w, &k, &kl, &v, &vl)) == 0) {
        if (XSF_IS(k, kl, "parts")) {
            XSF_ONCE(seen, 0x1);
            parr = v;
            cl = vl;
        }
    }

    if (rc < 0 || parr == NULL || xsf_walk_init(&a, parr, cl, '[') != 0) {
        return LAVA_XS_FAST_DECLINED;
    }

    /* its parts: text only */
    nparts = 0;

    while ((rc = xsf_walk_next(&a, &k, &kl, &c, &cl)) == 0) {
        if (nparts == XSF_PARTS || xsf_walk_init(&pw, c, cl, '{') != 0) {
            return LAVA_XS_FAST_DECLINED;
        }

        pseen = 0;

        while ((rc = xsf_walk_next(&pw, &k, &kl, &v, &vl)) == 0) {

            if (XSF_IS(k, kl, "text")) {
                XSF_ONCE(pseen, 0x1);
                if (xsf_string(v, vl, &parts[nparts]) != 0) {
                    return LAVA_XS_FAST_DECLINED;
                }

            } else if (XSF_IS(k, kl, "thought")) {
                return LAVA_XS_FAST_DECLINED;       /* a thought summary */
            }
        }

        if (rc < 0 || !(pseen & 0x1)) {
            return LAVA_XS_FAST_DECLINED;
        }

        nparts++;
    }

    if (rc < 0) {
        return LAVA_XS_FAST_DECLINED;
    }

    if (usage != NULL) {
        if (xsf_gemini_usage(usage, ul, &u) != 0) {
            return LAVA_XS_FAST_DECLINED;
        }

        s->usage = u;
    }

    /* taken: written as the jansson decoder writes it (usage first) */
    for (i = 0; i < nparts; i++) {
        if (parts[i].n == 0) {
            continue;
        }

        t = xsf_decode(&parts[i], buf, &tn);
        if (tn) {
            lava_xs_text(s, t, tn);
        }
    }

    return 0;
}


int
lava_xs_fast_event(xs_t *s, const char *payload, size_t len)
{
    switch (s->from) {

    case LAVA_FMT_OPENAI:
        return xsf_openai(s, payload, len);

    case LAVA_FMT_ANTHROPIC:
        return xsf_anthropic(s, payload, len);

    default:
        return xsf_gemini(s, payload, len);
    }
}
