/*
 * The translators' fast path: small text-only chat bodies translated
 * without jansson (no tree, no allocation per member), between the OpenAI
 * Chat Completions shape and the Anthropic Messages shape: an Anthropic
 * client's request to an OpenAI chat endpoint and its answer, and the
 * answer of Anthropic to an OpenAI client (that client's request still
 * takes the general path).
 *
 * It takes only what it fully understands and declines everything else
 * (returns LAVA_XFAST_DECLINED), and lib/lava_xlate.c then translates with
 * the general path through the internal form. What it writes is byte for
 * byte what the general path writes for the same body: members in the same
 * order, strings and numbers as jansson dumps them (LAVA_XJSON_DUMP). So it
 * copies a string only when its bytes are what jansson would write back
 * (no escapes but \" \\ \b \f \n \r \t), a number only when its text is
 * jansson's ("%.15g" for reals, canonical integers), and declines the rest.
 * Every member of the body is parsed structurally (objects it reads are
 * checked for duplicate members as JSON_REJECT_DUPLICATES does); values it
 * skips in a response must be scalars or empty.
 * t/unit/check_xlate_fast.c holds both paths to the same output.
 *
 * The caller owns out->data (malloc'd, NUL-terminated) on success.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lava_json.h"
#include "lava_json_scan.h"
#include "lava_xlate_int.h"


/* ---- output buffer ------------------------------------------------------ */

typedef struct {
    char    *p;
    size_t   len;
    size_t   size;
    int      oom;
} lava_xfbuf_t;


static void
lava_xfput(lava_xfbuf_t *b, const char *s, size_t n)
{
    size_t   size;
    char    *np;

    if (b->oom) {
        return;
    }

    if (b->len + n + 1 > b->size) {
        size = b->size ? b->size * 2 : 512;
        while (size < b->len + n + 1) {
            size *= 2;
        }

        np = realloc(b->p, size);
        if (np == NULL) {
            b->oom = 1;
            return;
        }

        b->p = np;
        b->size = size;
    }

    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}


#define lava_xfputs(b, s)  lava_xfput(b, s, sizeof(s) - 1)


static void
lava_xfputz(lava_xfbuf_t *b, const char *s)
{
    lava_xfput(b, s, strlen(s));
}


static void
lava_xfint(lava_xfbuf_t *b, int64_t v)
{
    char  num[24];
    int   n;

    n = snprintf(num, sizeof(num), "%lld", (long long) v);
    lava_xfput(b, num, (size_t) n);
}


/* a JSON string of s (n bytes, already in jansson's escaped form) */
static void
lava_xfstr(lava_xfbuf_t *b, const char *s, size_t n)
{
    lava_xfputs(b, "\"");
    lava_xfput(b, s, n);
    lava_xfputs(b, "\"");
}


static int
lava_xfdone(lava_xfbuf_t *b, lava_xlate_buf_t *out)
{
    if (b->oom || b->p == NULL) {
        free(b->p);
        return LAVA_XFAST_DECLINED;
    }

    out->data = b->p;
    out->len = b->len;
    return 0;
}


/* ---- values ------------------------------------------------------------- */

/*
 * A string value (v at its opening quote, vlen bytes, validated by the
 * scanner): its inner bytes, which jansson would write back the same.
 * plain: no escape at all (the bytes are the decoded string). -1: decline.
 */
static int
lava_xfstring(const char *v, size_t vlen, const char **s, size_t *n,
    int *plain)
{
    size_t  i;

    if (vlen < 2 || v[0] != '"' || v[vlen - 1] != '"') {
        return -1;
    }

    *s = v + 1;
    *n = vlen - 2;
    *plain = 1;

    for (i = 1; i + 1 < vlen; i++) {
        if (v[i] != '\\') {
            continue;
        }

        *plain = 0;
        i++;

        switch (v[i]) {
        case '"': case '\\': case 'b': case 'f': case 'n': case 'r': case 't':
            break;
        default:
            return -1;      /* \/ and \u: jansson writes them otherwise */
        }
    }

    return 0;
}


/* a string without escapes, or -1 */
static int
lava_xfplain(const char *v, size_t vlen, const char **s, size_t *n)
{
    int  plain;

    if (lava_xfstring(v, vlen, s, n, &plain) != 0 || !plain) {
        return -1;
    }

    return 0;
}


static int
lava_xfis(const char *v, size_t vlen, const char *lit)
{
    return vlen == strlen(lit) && memcmp(v, lit, vlen) == 0;
}


/*
 * A number whose text jansson writes back unchanged: a canonical integer
 * (*real 0) or a real that "%.15g" (with ".0" added to a whole number)
 * renders as it is written. -1: decline.
 */
static int
lava_xfnumber(const char *v, size_t vlen, int *real)
{
    size_t   i, start;
    char     lit[32], num[40];
    double   d;

    if (vlen == 0 || vlen >= sizeof(lit)) {
        return -1;
    }

    start = v[0] == '-' ? 1 : 0;
    *real = 0;

    for (i = start; i < vlen; i++) {
        if (v[i] == '.') {
            *real = 1;
        } else if (v[i] < '0' || v[i] > '9') {
            return -1;          /* an exponent */
        }
    }

    if (i == start || (v[start] == '0' && vlen > start + 1
                       && v[start + 1] != '.'))
    {
        return -1;
    }

    if (!*real) {
        /* "-0" is written "0"; 18 digits fit 64 bits */
        return (vlen - start > 18 || (start && v[1] == '0')) ? -1 : 0;
    }

    memcpy(lit, v, vlen);
    lit[vlen] = '\0';
    d = strtod(lit, NULL);

    snprintf(num, sizeof(num), "%.15g", d);

    if (strpbrk(num, ".e") == NULL) {
        strcat(num, ".0");
    }

    return strcmp(num, lit) == 0 ? 0 : -1;
}


/* the value of a decimal integer literal (validated), clamped at 0 */
static int64_t
lava_xfint_value(const char *v, size_t vlen)
{
    size_t   i;
    int64_t  n;

    if (vlen == 0 || v[0] == '-') {
        return 0;
    }

    n = 0;

    for (i = 0; i < vlen; i++) {
        n = n * 10 + (v[i] - '0');
    }

    return n;
}


/* ---- iteration ---------------------------------------------------------- */

/* array elements one per call: *off 0 the first time; 1 one more in
 * *value, 0 the end, -1 not an array of valid values */
static int
lava_xfnext(const char *p, size_t n, size_t *off, const char **value,
    size_t *value_len)
{
    size_t                  used;
    int64_t                 bytes;
    const char             *q, *end;
    lava_json_text_rules_t  rules = { NULL, NULL, 0, 0 };

    end = p + n;
    q = p + *off;

    if (*off == 0) {
        q = lava_json_ws(q, end);
        if (q == end || *q != '[') {
            return -1;
        }

        q = lava_json_ws(q + 1, end);
        if (q < end && *q == ']') {
            return 0;
        }

    } else {
        q = lava_json_ws(q, end);
        if (q < end && *q == ']') {
            return 0;
        }
        if (q == end || *q != ',') {
            return -1;
        }
        q = lava_json_ws(q + 1, end);
    }

    bytes = 0;

    if (lava_json_scan_text(q, (size_t) (end - q), &rules, 1, 0, &used,
                            &bytes)
        != LAVA_JSON_SCAN_OK)
    {
        return -1;
    }

    *value = q;
    *value_len = used;
    *off = (size_t) (q + used - p);

    return 1;
}


/* members of the object at p, each named in names (at most 32), once:
 * vals[i] its value ({NULL, 0} absent); -1 another member, a duplicate
 * or not an object */
typedef struct {
    const char  *v;
    size_t       len;
} lava_xfval_t;


static int
lava_xfmembers(const char *p, size_t n, const char *const *names,
    lava_xfval_t *vals)
{
    int          done;
    size_t       off, i, klen, vlen;
    uint32_t     seen;
    const char  *key, *v;

    off = 0;
    seen = 0;

    for (i = 0; names[i] != NULL; i++) {
        vals[i].v = NULL;
        vals[i].len = 0;
    }

    do {
        if (lava_json_scan_member(p, n, &off, 0, &key, &klen, &v, &vlen,
                                  &done)
            != LAVA_JSON_SCAN_OK)
        {
            return -1;
        }

        if (key == NULL) {
            break;              /* {} */
        }

        for (i = 0; names[i] != NULL; i++) {
            if (strlen(names[i]) == klen
                && memcmp(names[i], key, klen) == 0)
            {
                break;
            }
        }

        if (names[i] == NULL || (seen & (1u << i))) {
            return -1;
        }

        seen |= 1u << i;
        vals[i].v = v;
        vals[i].len = vlen;

    } while (!done);

    return 0;
}


static int
lava_xfnull(const lava_xfval_t *v)
{
    return v->v == NULL || lava_xfis(v->v, v->len, "null");
}


/* a value the reader does not look at: a scalar, [] or {} */
static int
lava_xfscalar(const lava_xfval_t *v)
{
    const char  *q;

    if (v->v == NULL) {
        return 1;
    }

    if (v->v[0] != '[' && v->v[0] != '{') {
        return 1;
    }

    q = lava_json_ws(v->v + 1, v->v + v->len);

    return q < v->v + v->len && (*q == ']' || *q == '}');
}


/* ---- requests: Anthropic client, OpenAI provider ------------------------ */

enum {
    XF_A_MODEL = 0, XF_A_MAX_TOKENS, XF_A_MESSAGES, XF_A_SYSTEM,
    XF_A_TEMPERATURE, XF_A_TOP_P, XF_A_STOP, XF_A_STREAM
};

static const char *const  lava_xf_anthropic_req[] = {
    "model", "max_tokens", "messages", "system", "temperature", "top_p",
    "stop_sequences", "stream", NULL
};

static const char *const  lava_xf_anthropic_msg[] = {
    "role", "content", NULL
};

static const char *const  lava_xf_text_block[] = {
    "type", "text", NULL
};


/* the text of a {"type":"text","text":...} block, or -1 */
static int
lava_xftext_block(const char *v, size_t vlen, const char **s, size_t *n)
{
    int           plain;
    lava_xfval_t  b[2];

    if (v[0] != '{' || lava_xfmembers(v, vlen, lava_xf_text_block, b) != 0
        || b[0].v == NULL || b[1].v == NULL
        || !lava_xfis(b[0].v, b[0].len, "\"text\""))
    {
        return -1;
    }

    return lava_xfstring(b[1].v, b[1].len, s, n, &plain);
}


/*
 * The system prompt: a string, or text blocks joined by a blank line
 * (lava_xsystem_text()); *none when absent, null, "" or [] (no system
 * message is written).
 */
static int
lava_xfsystem(lava_xfbuf_t *b, const lava_xfval_t *sys)
{
    int          k, plain;
    size_t       off, n, tlen;
    const char  *s, *t;

    if (lava_xfnull(sys)) {
        return 0;
    }

    if (sys->v[0] == '"') {
        if (lava_xfstring(sys->v, sys->len, &s, &n, &plain) != 0) {
            return -1;
        }

        if (n == 0) {
            return 0;
        }

        lava_xfputs(b, "{\"role\":\"system\",\"content\":\"");
        lava_xfput(b, s, n);
        lava_xfputs(b, "\"}");
        return 1;
    }

    off = 0;
    k = 0;

    while ((plain = lava_xfnext(sys->v, sys->len, &off, &t, &tlen)) == 1) {
        if (lava_xftext_block(t, tlen, &s, &n) != 0) {
            return -1;
        }

        lava_xfputz(b, k ? "\\n\\n" : "{\"role\":\"system\",\"content\":\"");
        lava_xfput(b, s, n);
        k++;
    }

    if (plain < 0) {
        return -1;
    }

    if (k) {
        lava_xfputs(b, "\"}");
    }

    return k > 0;
}


/* one Anthropic message as an OpenAI one (lava_xopenai_msgs()): written,
 * or skipped (an assistant turn without text); -1 declined */
#define LAVA_XF_BLOCKS  32

static int
lava_xfa2o_message(lava_xfbuf_t *b, const char *v, size_t vlen, int *first)
{
    int           user, k, i, r, plain;
    size_t        off, n, tlen, total;
    const char   *s, *t, *role;
    lava_xfval_t  m[2], text[LAVA_XF_BLOCKS];

    if (v[0] != '{' || lava_xfmembers(v, vlen, lava_xf_anthropic_msg, m) != 0
        || m[0].v == NULL || m[1].v == NULL
        || lava_xfplain(m[0].v, m[0].len, &role, &n) != 0)
    {
        return -1;
    }

    if (n == 4 && memcmp(role, "user", 4) == 0) {
        user = 1;
    } else if (n == 9 && memcmp(role, "assistant", 9) == 0) {
        user = 0;
    } else {
        return -1;
    }

    if (m[1].v[0] == '"') {
        if (lava_xfstring(m[1].v, m[1].len, &s, &n, &plain) != 0) {
            return -1;
        }

        text[0].v = s;
        text[0].len = n;
        k = 1;

    } else {
        off = 0;
        k = 0;

        while ((r = lava_xfnext(m[1].v, m[1].len, &off, &t, &tlen)) == 1) {
            if (k == LAVA_XF_BLOCKS
                || lava_xftext_block(t, tlen, &text[k].v, &text[k].len) != 0)
            {
                return -1;
            }
            k++;
        }

        if (r < 0 || k == 0) {
            return -1;
        }
    }

    total = 0;
    for (i = 0; i < k; i++) {
        total += text[i].len;
    }

    if (!user && total == 0) {
        return 0;               /* an empty assistant turn is not sent */
    }

    lava_xfputz(b, *first ? "{\"role\":\"" : ",{\"role\":\"");
    lava_xfputz(b, user ? "user\",\"content\":" : "assistant\",\"content\":");
    *first = 0;

    if (user && k > 1) {
        /* several text parts stay an array */
        for (i = 0; i < k; i++) {
            lava_xfputz(b, i ? ",{\"type\":\"text\",\"text\":\""
                             : "[{\"type\":\"text\",\"text\":\"");
            lava_xfput(b, text[i].v, text[i].len);
            lava_xfputs(b, "\"}");
        }

        lava_xfputs(b, "]}");
        return 0;
    }

    /* one text, or an assistant's texts joined */
    lava_xfputs(b, "\"");
    for (i = 0; i < k; i++) {
        lava_xfput(b, text[i].v, text[i].len);
    }
    lava_xfputs(b, "\"}");

    return 0;
}


static int
lava_xfast_a2o(const char *body, size_t len, const char *model,
    lava_xlate_req_info_t *info, lava_xlate_buf_t *out)
{
    int           real, first, stream, body_stream, r, plain;
    size_t        off, n, mlen, slen, elen;
    const char   *m, *s, *e;
    lava_xfbuf_t  b;
    lava_xfval_t  v[8];
    char          mz[LAVA_XLATE_MODEL_MAX];

    if (lava_xfmembers(body, len, lava_xf_anthropic_req, v) != 0
        || v[XF_A_MODEL].v == NULL || v[XF_A_MESSAGES].v == NULL
        || lava_xfplain(v[XF_A_MODEL].v, v[XF_A_MODEL].len, &m, &mlen) != 0
        || mlen >= LAVA_XLATE_MODEL_MAX)
    {
        return LAVA_XFAST_DECLINED;
    }

    /* null members are absent to the reader */
    for (n = XF_A_MAX_TOKENS; n <= XF_A_STREAM; n++) {
        if (n != XF_A_MESSAGES && n != XF_A_SYSTEM && v[n].v != NULL
            && lava_xfis(v[n].v, v[n].len, "null"))
        {
            v[n].v = NULL;
            v[n].len = 0;
        }
    }

    /* numbers as jansson writes them; max_tokens an integer >= 1 */
    if (v[XF_A_MAX_TOKENS].v != NULL
        && (lava_xfnumber(v[XF_A_MAX_TOKENS].v, v[XF_A_MAX_TOKENS].len,
                          &real) != 0
            || real || v[XF_A_MAX_TOKENS].v[0] == '-'
            || lava_xfis(v[XF_A_MAX_TOKENS].v, v[XF_A_MAX_TOKENS].len, "0")))
    {
        return LAVA_XFAST_DECLINED;
    }

    if ((v[XF_A_TEMPERATURE].v != NULL
         && (lava_xfnumber(v[XF_A_TEMPERATURE].v, v[XF_A_TEMPERATURE].len,
                           &real) != 0
             || v[XF_A_TEMPERATURE].v[0] == '-'
             || strtod(v[XF_A_TEMPERATURE].v, NULL) > 1.0))
        || (v[XF_A_TOP_P].v != NULL
            && (lava_xfnumber(v[XF_A_TOP_P].v, v[XF_A_TOP_P].len, &real) != 0
                || v[XF_A_TOP_P].v[0] == '-'
                || strtod(v[XF_A_TOP_P].v, NULL) > 1.0)))
    {
        return LAVA_XFAST_DECLINED;
    }

    if (v[XF_A_STREAM].v == NULL
        || lava_xfis(v[XF_A_STREAM].v, v[XF_A_STREAM].len, "false"))
    {
        stream = 0;

    } else if (lava_xfis(v[XF_A_STREAM].v, v[XF_A_STREAM].len, "true")) {
        stream = 1;

    } else {
        return LAVA_XFAST_DECLINED;
    }

    /* an Anthropic client's stream always carries usage; a flag from the
     * client's URL (info->stream) does not change that */
    body_stream = stream;

    if (info != NULL && info->stream >= 0) {
        stream = info->stream;
    }

    if (model != NULL) {
        /* written as it is: only bytes jansson writes unescaped */
        for (s = model; *s; s++) {
            if ((unsigned char) *s < 0x20 || (unsigned char) *s >= 0x7f
                || *s == '"' || *s == '\\')
            {
                return LAVA_XFAST_DECLINED;
            }
        }
    }

    memset(&b, 0, sizeof(b));
    lava_xfputs(&b, "{\"model\":");

    if (model != NULL) {
        lava_xfstr(&b, model, strlen(model));
    } else {
        lava_xfstr(&b, m, mlen);
    }

    lava_xfputs(&b, ",\"messages\":[");

    r = lava_xfsystem(&b, &v[XF_A_SYSTEM]);
    if (r < 0) {
        goto decline;
    }

    first = (r == 0);
    off = 0;
    n = 0;

    while ((r = lava_xfnext(v[XF_A_MESSAGES].v, v[XF_A_MESSAGES].len, &off,
                            &s, &slen)) == 1)
    {
        if (lava_xfa2o_message(&b, s, slen, &first) != 0) {
            goto decline;
        }
        n++;
    }

    if (r < 0 || n == 0) {
        goto decline;
    }

    lava_xfputs(&b, "]");

    if (v[XF_A_MAX_TOKENS].v != NULL) {
        /* the written model decides the member (NUL-terminated for it) */
        if (model == NULL) {
            memcpy(mz, m, mlen);
            mz[mlen] = '\0';
        }

        real = lava_xopenai_reasoning_model(model != NULL ? model : mz);

        lava_xfputz(&b, real ? ",\"max_completion_tokens\":"
                             : ",\"max_tokens\":");
        lava_xfput(&b, v[XF_A_MAX_TOKENS].v, v[XF_A_MAX_TOKENS].len);
    }

    if (v[XF_A_TEMPERATURE].v != NULL) {
        lava_xfputs(&b, ",\"temperature\":");
        lava_xfput(&b, v[XF_A_TEMPERATURE].v, v[XF_A_TEMPERATURE].len);
    }

    if (v[XF_A_TOP_P].v != NULL) {
        lava_xfputs(&b, ",\"top_p\":");
        lava_xfput(&b, v[XF_A_TOP_P].v, v[XF_A_TOP_P].len);
    }

    if (v[XF_A_STOP].v != NULL) {
        off = 0;
        n = 0;

        while ((r = lava_xfnext(v[XF_A_STOP].v, v[XF_A_STOP].len, &off, &s,
                                &slen)) == 1)
        {
            if (lava_xfstring(s, slen, &e, &elen, &plain) != 0) {
                goto decline;
            }

            lava_xfputz(&b, n ? "," : ",\"stop\":[");
            lava_xfstr(&b, e, elen);
            n++;
        }

        if (r < 0) {
            goto decline;
        }

        if (n) {
            lava_xfputs(&b, "]");
        }
    }

    if (stream) {
        lava_xfputs(&b, ",\"stream\":true,\"stream_options\":"
                        "{\"include_usage\":true}");
    }

    lava_xfputs(&b, "}");

    if (info != NULL) {
        info->stream = stream;
        info->include_usage = body_stream;
        memcpy(info->model, m, mlen);
        info->model[mlen] = '\0';
    }

    return lava_xfdone(&b, out);

decline:

    free(b.p);
    return LAVA_XFAST_DECLINED;
}


int
lava_xfast_request(lava_fmt_e from, lava_fmt_e to, const char *body,
    size_t len, const char *model, lava_xlate_req_info_t *info,
    lava_xlate_buf_t *out)
{
    if (from == LAVA_FMT_ANTHROPIC && to == LAVA_FMT_OPENAI) {
        return lava_xfast_a2o(body, len, model, info, out);
    }

    return LAVA_XFAST_DECLINED;
}


/* ---- responses: an OpenAI chat.completion to an Anthropic message ------- */

enum {
    XF_O_ID = 0, XF_O_OBJECT, XF_O_CREATED, XF_O_MODEL, XF_O_CHOICES,
    XF_O_USAGE, XF_O_FINGERPRINT, XF_O_TIER
};

static const char *const  lava_xf_openai_resp[] = {
    "id", "object", "created", "model", "choices", "usage",
    "system_fingerprint", "service_tier", NULL
};

enum {
    XF_C_INDEX = 0, XF_C_MESSAGE, XF_C_LOGPROBS, XF_C_FINISH
};

static const char *const  lava_xf_openai_choice[] = {
    "index", "message", "logprobs", "finish_reason", NULL
};

enum {
    XF_M_ROLE = 0, XF_M_CONTENT, XF_M_REFUSAL, XF_M_ANNOTATIONS,
    XF_M_TOOL_CALLS, XF_M_REASONING
};

static const char *const  lava_xf_openai_msg[] = {
    "role", "content", "refusal", "annotations", "tool_calls",
    "reasoning_content", NULL
};


/*
 * The usage object's integers as lava_xlate_usage_read() reads them
 * (members of one level of nested objects; integers only, a real or a
 * nested array declines). Every member is checked for duplicates.
 */
static int
lava_xfusage(lava_fmt_e fmt, const char *p, size_t n, lava_xlate_usage_t *u)
{
    int          done, d2, real;
    size_t       off, off2, klen, k2len, vlen, v2len;
    int64_t      x, cached_hit, cached_plain, plain;
    const char  *key, *k2, *v, *v2;
    char         keys[16][48];
    int          nkeys, i;

    memset(u, 0, sizeof(*u));

    if (n == 0 || lava_xfis(p, n, "null")) {
        return 0;
    }

    if (p[0] != '{') {
        return 0;           /* not an object: no usage (seen 0) */
    }

    u->seen = 1;
    cached_hit = 0;
    cached_plain = 0;
    plain = 0;
    off = 0;
    nkeys = 0;

    do {
        if (lava_json_scan_member(p, n, &off, 0, &key, &klen, &v, &vlen,
                                  &done)
            != LAVA_JSON_SCAN_OK)
        {
            return -1;
        }

        if (key == NULL) {
            break;
        }

        if (klen >= sizeof(keys[0]) || nkeys == 16) {
            return -1;
        }

        for (i = 0; i < nkeys; i++) {
            if (strlen(keys[i]) == klen && memcmp(keys[i], key, klen) == 0) {
                return -1;
            }
        }

        memcpy(keys[nkeys], key, klen);
        keys[nkeys++][klen] = '\0';

        if (v[0] == '{') {
            int   nk2 = 0;
            char  k2s[16][48];

            off2 = 0;

            do {
                if (lava_json_scan_member(v, vlen, &off2, 0, &k2, &k2len,
                                          &v2, &v2len, &d2)
                    != LAVA_JSON_SCAN_OK)
                {
                    return -1;
                }

                if (k2 == NULL) {
                    break;
                }

                if (k2len >= sizeof(k2s[0]) || nk2 == 16) {
                    return -1;
                }

                for (i = 0; i < nk2; i++) {
                    if (strlen(k2s[i]) == k2len
                        && memcmp(k2s[i], k2, k2len) == 0)
                    {
                        return -1;
                    }
                }

                memcpy(k2s[nk2], k2, k2len);
                k2s[nk2++][k2len] = '\0';

                if (v2[0] == '{' || v2[0] == '[') {
                    return -1;
                }

                if (v2[0] != '-' && (v2[0] < '0' || v2[0] > '9')) {
                    continue;
                }

                if (lava_xfnumber(v2, v2len, &real) != 0 || real) {
                    return -1;
                }

                x = lava_xfint_value(v2, v2len);

                if (fmt != LAVA_FMT_OPENAI) {
                    continue;       /* Anthropic's nested counts: not read */
                }

                if (klen == 21
                    && memcmp(key, "prompt_tokens_details", 21) == 0)
                {
                    if (k2len == 13 && memcmp(k2, "cached_tokens", 13) == 0) {
                        u->cached = x;
                    } else if (k2len == 18
                               && memcmp(k2, "cache_write_tokens", 18) == 0)
                    {
                        u->cache_write = x;
                    }

                } else if (klen == 25
                           && memcmp(key, "completion_tokens_details", 25)
                              == 0
                           && k2len == 16
                           && memcmp(k2, "reasoning_tokens", 16) == 0)
                {
                    u->reasoning = x;
                }

            } while (!d2);

            continue;
        }

        if (v[0] == '[') {
            return -1;
        }

        if (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
            continue;
        }

        if (lava_xfnumber(v, vlen, &real) != 0 || real) {
            return -1;
        }

        x = lava_xfint_value(v, vlen);

        if (fmt == LAVA_FMT_ANTHROPIC) {
            if (klen == 12 && memcmp(key, "input_tokens", 12) == 0) {
                plain = x;
            } else if (klen == 13 && memcmp(key, "output_tokens", 13) == 0) {
                u->output = x;
            } else if (klen == 23
                       && memcmp(key, "cache_read_input_tokens", 23) == 0)
            {
                u->cached = x;
            } else if (klen == 27
                       && memcmp(key, "cache_creation_input_tokens", 27) == 0)
            {
                u->cache_write = x;
            }

            continue;
        }

        if (klen == 13 && memcmp(key, "prompt_tokens", 13) == 0) {
            u->input = x;
        } else if (klen == 17 && memcmp(key, "completion_tokens", 17) == 0) {
            u->output = x;
        } else if (klen == 23
                   && memcmp(key, "prompt_cache_hit_tokens", 23) == 0)
        {
            cached_hit = x;
        } else if (klen == 13 && memcmp(key, "cached_tokens", 13) == 0) {
            cached_plain = x;
        }

    } while (!done);

    /* as lava_xlate_usage_read(): Anthropic's input excludes the cache;
     * the OpenAI hosts' own cache members */
    if (fmt == LAVA_FMT_ANTHROPIC) {
        u->input = plain + u->cached + u->cache_write;

    } else if (u->cached == 0) {
        u->cached = cached_hit;
    }
    if (fmt == LAVA_FMT_OPENAI && u->cached == 0) {
        u->cached = cached_plain;
    }

    if (u->cached > u->input) {
        u->cached = u->input;
    }
    if (u->cache_write > u->input - u->cached) {
        u->cache_write = u->input - u->cached;
    }
    if (u->reasoning > u->output) {
        u->reasoning = u->output;
    }

    return 0;
}


static int
lava_xfast_o2a_response(const char *body, size_t len, lava_xlate_buf_t *out)
{
    int                  r, plain;
    size_t               off, n, idlen, mlen, tlen, flen;
    const char          *s, *id, *m, *t, *f;
    lava_xfbuf_t         b;
    lava_xfval_t         v[8], c[4], msg[6];
    lava_finish_e        finish;
    lava_xlate_usage_t   u;
    char                 idz[256], idbuf[300];

    if (lava_xfmembers(body, len, lava_xf_openai_resp, v) != 0
        || !lava_xfscalar(&v[XF_O_OBJECT]) || !lava_xfscalar(&v[XF_O_CREATED])
        || !lava_xfscalar(&v[XF_O_FINGERPRINT])
        || !lava_xfscalar(&v[XF_O_TIER]) || v[XF_O_CHOICES].v == NULL)
    {
        return LAVA_XFAST_DECLINED;
    }

    /* id and model: strings without escapes, or absent */
    id = NULL;
    idlen = 0;
    m = "";
    mlen = 0;

    if (!lava_xfnull(&v[XF_O_ID])) {
        if (lava_xfplain(v[XF_O_ID].v, v[XF_O_ID].len, &id, &idlen) != 0
            || idlen >= sizeof(idz))
        {
            return LAVA_XFAST_DECLINED;
        }
    }

    if (!lava_xfnull(&v[XF_O_MODEL])) {
        if (lava_xfplain(v[XF_O_MODEL].v, v[XF_O_MODEL].len, &m, &mlen) != 0
            || mlen >= LAVA_XLATE_MODEL_MAX)
        {
            return LAVA_XFAST_DECLINED;
        }
    }

    /* exactly one choice */
    off = 0;
    r = lava_xfnext(v[XF_O_CHOICES].v, v[XF_O_CHOICES].len, &off, &s, &n);

    if (r != 1 || s[0] != '{'
        || lava_xfnext(v[XF_O_CHOICES].v, v[XF_O_CHOICES].len, &off, &t,
                       &tlen) != 0
        || lava_xfmembers(s, n, lava_xf_openai_choice, c) != 0
        || !lava_xfscalar(&c[XF_C_INDEX]) || !lava_xfnull(&c[XF_C_LOGPROBS])
        || c[XF_C_MESSAGE].v == NULL || c[XF_C_MESSAGE].v[0] != '{'
        || lava_xfmembers(c[XF_C_MESSAGE].v, c[XF_C_MESSAGE].len,
                          lava_xf_openai_msg, msg) != 0
        || !lava_xfscalar(&msg[XF_M_ROLE])
        || !lava_xfnull(&msg[XF_M_REFUSAL])
        || !lava_xfnull(&msg[XF_M_REASONING])
        || !lava_xfscalar(&msg[XF_M_ANNOTATIONS])
        || !lava_xfscalar(&msg[XF_M_TOOL_CALLS])
        || (msg[XF_M_TOOL_CALLS].v != NULL
            && !lava_xfnull(&msg[XF_M_TOOL_CALLS])
            && msg[XF_M_TOOL_CALLS].v[0] != '['))
    {
        return LAVA_XFAST_DECLINED;
    }

    /* the content: a string (empty: no part) or null */
    t = NULL;
    tlen = 0;

    if (!lava_xfnull(&msg[XF_M_CONTENT])) {
        if (msg[XF_M_CONTENT].v[0] != '"'
            || lava_xfstring(msg[XF_M_CONTENT].v, msg[XF_M_CONTENT].len, &t,
                             &tlen, &plain) != 0)
        {
            return LAVA_XFAST_DECLINED;
        }
    }

    f = NULL;
    flen = 0;

    if (!lava_xfnull(&c[XF_C_FINISH])
        && lava_xfplain(c[XF_C_FINISH].v, c[XF_C_FINISH].len, &f, &flen) != 0)
    {
        return LAVA_XFAST_DECLINED;
    }

    finish = lava_xlate_finish_parse(LAVA_FMT_OPENAI, f, flen, 0);

    if (lava_xfusage(LAVA_FMT_OPENAI, v[XF_O_USAGE].v, v[XF_O_USAGE].len, &u)
        != 0)
    {
        return LAVA_XFAST_DECLINED;
    }

    if (id != NULL) {
        memcpy(idz, id, idlen);
        idz[idlen] = '\0';
    }

    lava_xlate_id(LAVA_FMT_OPENAI, LAVA_FMT_ANTHROPIC, id ? idz : NULL, idbuf,
                  sizeof(idbuf));

    memset(&b, 0, sizeof(b));
    lava_xfputs(&b, "{\"id\":");
    lava_xfstr(&b, idbuf, strlen(idbuf));
    lava_xfputs(&b, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    lava_xfstr(&b, m, mlen);
    lava_xfputs(&b, ",\"content\":[");

    if (tlen > 0) {
        lava_xfputs(&b, "{\"type\":\"text\",\"text\":");
        lava_xfstr(&b, t, tlen);
        lava_xfputs(&b, "}");
    }

    lava_xfputs(&b, "],\"stop_reason\":");
    s = lava_xlate_finish_name(LAVA_FMT_ANTHROPIC,
                               finish ? finish : LAVA_FINISH_STOP);
    lava_xfstr(&b, s, strlen(s));
    lava_xfputs(&b, ",\"stop_sequence\":null,\"usage\":{\"input_tokens\":");
    lava_xfint(&b, u.input - u.cached - u.cache_write);
    lava_xfputs(&b, ",\"cache_creation_input_tokens\":");
    lava_xfint(&b, u.cache_write);
    lava_xfputs(&b, ",\"cache_read_input_tokens\":");
    lava_xfint(&b, u.cached);
    lava_xfputs(&b, ",\"output_tokens\":");
    lava_xfint(&b, u.output);
    lava_xfputs(&b, "}}");

    return lava_xfdone(&b, out);
}


/* ---- responses: an Anthropic message to an OpenAI chat.completion ------ */

enum {
    XF_N_ID = 0, XF_N_TYPE, XF_N_ROLE, XF_N_MODEL, XF_N_CONTENT, XF_N_STOP,
    XF_N_STOP_SEQUENCE, XF_N_USAGE, XF_N_CONTAINER
};

static const char *const  lava_xf_anthropic_resp[] = {
    "id", "type", "role", "model", "content", "stop_reason", "stop_sequence",
    "usage", "container", NULL
};

static const char *const  lava_xf_anthropic_text[] = {
    "type", "text", "citations", NULL
};


static int
lava_xfast_a2o_response(const char *body, size_t len, lava_xlate_buf_t *out)
{
    int                  r, k, plain;
    size_t               off, n, idlen, mlen, flen, i;
    const char          *s, *id, *m, *f;
    lava_xfbuf_t         b;
    lava_xfval_t         v[9], t[3], text[LAVA_XF_BLOCKS];
    lava_finish_e        finish;
    lava_xlate_usage_t   u;
    char                 idz[256], idbuf[300];

    if (lava_xfmembers(body, len, lava_xf_anthropic_resp, v) != 0
        || !lava_xfscalar(&v[XF_N_TYPE]) || !lava_xfscalar(&v[XF_N_ROLE])
        || !lava_xfscalar(&v[XF_N_STOP_SEQUENCE])
        || !lava_xfnull(&v[XF_N_CONTAINER])
        || v[XF_N_CONTENT].v == NULL || v[XF_N_CONTENT].v[0] != '[')
    {
        return LAVA_XFAST_DECLINED;
    }

    id = "";
    idlen = 0;
    m = "";
    mlen = 0;

    if (!lava_xfnull(&v[XF_N_ID])
        && (lava_xfplain(v[XF_N_ID].v, v[XF_N_ID].len, &id, &idlen) != 0
            || idlen >= sizeof(idz)))
    {
        return LAVA_XFAST_DECLINED;
    }

    if (!lava_xfnull(&v[XF_N_MODEL])
        && (lava_xfplain(v[XF_N_MODEL].v, v[XF_N_MODEL].len, &m, &mlen) != 0
            || mlen >= LAVA_XLATE_MODEL_MAX))
    {
        return LAVA_XFAST_DECLINED;
    }

    /* text blocks only */
    off = 0;
    k = 0;

    while ((r = lava_xfnext(v[XF_N_CONTENT].v, v[XF_N_CONTENT].len, &off, &s,
                            &n)) == 1)
    {
        if (k == LAVA_XF_BLOCKS || s[0] != '{'
            || lava_xfmembers(s, n, lava_xf_anthropic_text, t) != 0
            || t[0].v == NULL || !lava_xfis(t[0].v, t[0].len, "\"text\"")
            || !lava_xfscalar(&t[2]))
        {
            return LAVA_XFAST_DECLINED;
        }

        text[k].v = "";
        text[k].len = 0;

        if (t[1].v != NULL
            && (t[1].v[0] != '"'
                || lava_xfstring(t[1].v, t[1].len, &text[k].v, &text[k].len,
                                 &plain) != 0))
        {
            return LAVA_XFAST_DECLINED;
        }

        k++;
    }

    if (r < 0) {
        return LAVA_XFAST_DECLINED;
    }

    f = NULL;
    flen = 0;

    if (!lava_xfnull(&v[XF_N_STOP])
        && lava_xfplain(v[XF_N_STOP].v, v[XF_N_STOP].len, &f, &flen) != 0)
    {
        return LAVA_XFAST_DECLINED;
    }

    finish = lava_xlate_finish_parse(LAVA_FMT_ANTHROPIC, f, flen, 0);

    if (lava_xfusage(LAVA_FMT_ANTHROPIC, v[XF_N_USAGE].v, v[XF_N_USAGE].len,
                     &u)
        != 0)
    {
        return LAVA_XFAST_DECLINED;
    }

    memcpy(idz, id, idlen);
    idz[idlen] = '\0';
    lava_xlate_id(LAVA_FMT_ANTHROPIC, LAVA_FMT_OPENAI, idz, idbuf,
                  sizeof(idbuf));

    memset(&b, 0, sizeof(b));
    lava_xfputs(&b, "{\"id\":");
    lava_xfstr(&b, idbuf, strlen(idbuf));
    lava_xfputs(&b, ",\"object\":\"chat.completion\",\"created\":");
    lava_xfint(&b, (int64_t) time(NULL));
    lava_xfputs(&b, ",\"model\":");
    lava_xfstr(&b, m, mlen);
    lava_xfputs(&b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                    "\"assistant\",\"content\":");

    if (k == 0) {
        lava_xfputs(&b, "null");

    } else {
        /* the texts joined */
        lava_xfputs(&b, "\"");
        for (i = 0; i < (size_t) k; i++) {
            lava_xfput(&b, text[i].v, text[i].len);
        }
        lava_xfputs(&b, "\"");
    }

    lava_xfputs(&b, ",\"refusal\":null},\"logprobs\":null,"
                    "\"finish_reason\":");
    s = lava_xlate_finish_name(LAVA_FMT_OPENAI,
                               finish ? finish : LAVA_FINISH_STOP);
    lava_xfstr(&b, s, strlen(s));
    lava_xfputs(&b, "}]");

    if (u.seen) {
        lava_xfputs(&b, ",\"usage\":{\"prompt_tokens\":");
        lava_xfint(&b, u.input);
        lava_xfputs(&b, ",\"completion_tokens\":");
        lava_xfint(&b, u.output);
        lava_xfputs(&b, ",\"total_tokens\":");
        lava_xfint(&b, u.input + u.output);
        lava_xfputs(&b, ",\"prompt_tokens_details\":{\"cached_tokens\":");
        lava_xfint(&b, u.cached);

        if (u.cache_write > 0) {
            lava_xfputs(&b, ",\"cache_write_tokens\":");
            lava_xfint(&b, u.cache_write);
        }

        lava_xfputs(&b, "},\"completion_tokens_details\":"
                        "{\"reasoning_tokens\":");
        lava_xfint(&b, u.reasoning);
        lava_xfputs(&b, "}}");
    }

    lava_xfputs(&b, "}");

    return lava_xfdone(&b, out);
}


int
lava_xfast_response(lava_fmt_e from, lava_fmt_e to, const char *body,
    size_t len, lava_xlate_buf_t *out)
{
    if (from == LAVA_FMT_OPENAI && to == LAVA_FMT_ANTHROPIC) {
        return lava_xfast_o2a_response(body, len, out);
    }

    if (from == LAVA_FMT_ANTHROPIC && to == LAVA_FMT_OPENAI) {
        return lava_xfast_a2o_response(body, len, out);
    }

    return LAVA_XFAST_DECLINED;
}
