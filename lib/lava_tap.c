/*
 * Response tap (see lava_tap.h).
 *
 * JSON bodies are kept whole up to max_json and parsed at the end. Past
 * max_json the buffer becomes a ring holding the last tail_max bytes: the
 * usage object of OpenAI, Anthropic, Cohere and Gemini bodies is written
 * after the content, so the tail is where it sits; at the end the last
 * "usage" key of the tail is found and the object after it is cut out and
 * parsed on its own. Content quoting a usage object cannot fool this: inside
 * a JSON string the quotes are escaped, so "usage" with both quotes and a
 * colon after it only occurs as a key.
 *
 * SSE bodies go through the scanner; each event's data is parsed, except
 * events that cannot hold usage (no "usage" in them), which are most of a
 * stream and are skipped without a JSON parse.
 */

#include <stdlib.h>
#include <string.h>

#include "lava_tap.h"
#include "lava_tap_scan.h"
#include "lava_flags.h"
#include "lava_json.h"
#include "lava_buf.h"


#define LAVA_TAP_DEFAULT_EVENT   (64 * 1024)
#define LAVA_TAP_DEFAULT_JSON    (1024 * 1024)
#define LAVA_TAP_DEFAULT_TAIL    (64 * 1024)
#define LAVA_TAP_MIN_CAP         (16 * 1024)
#define LAVA_TAP_TAIL_TRIES      64


/* last occurrence of n in h[0..hn) */
static const char *
lava_tap_memrmem(const char *h, size_t hn, const char *n, size_t nn)
{
    const char  *p;

    if (nn == 0 || hn < nn) {
        return NULL;
    }

    for (p = h + hn - nn; ; p--) {
        if (*p == n[0] && memcmp(p, n, nn) == 0) {
            return p;
        }

        if (p == h) {
            return NULL;
        }
    }
}


/*
 * Whether a document may carry usage: a key "usage" (or "usageMetadata")
 * whose value is not null. OpenAI streams with include_usage put
 * "usage":null in every chunk, and content text may say "usage": neither is
 * worth a JSON parse. sc: the document's lava_tap_scan().
 */
static int
lava_tap_may_hold_usage(lava_tap_t *t, const lava_tap_scan_t *sc,
    const char *p, size_t n)
{
    if (sc->found & LAVA_TAP_SCAN_USAGE) {
        return 1;
    }

    /* Cohere v1 reports billed units under "meta"; a Responses API
     * output_item.done event of a web search is a billed call; Gemini's
     * grounding metadata names the searches run */
    switch (t->fmt) {

    case LAVA_USAGE_COHERE:
        return lava_tap_memmem(p, n, "billed_units", 12) != NULL;

    case LAVA_USAGE_OPENAI:
        return (sc->found & LAVA_TAP_SCAN_WSC) != 0;

    case LAVA_USAGE_GEMINI:
        return (sc->found & LAVA_TAP_SCAN_GROUNDING) != 0;

    default:
        return 0;
    }
}


/* the generated text of a JSON body or a tail (see lava_tap_t) */
static void
lava_tap_count_text(lava_tap_t *t, const char *p, size_t n)
{
    lava_tap_scan_t  sc;

    lava_tap_scan(p, n, &sc);
    t->content_bytes += sc.text_bytes;
}


/* an error event: Anthropic's "event: error", the Responses API's
 * {"type":"error"}; cheap test before a parse */
static int
lava_tap_may_be_error(const char *event, size_t event_len,
    const lava_tap_scan_t *sc)
{
    return (event_len == 5 && memcmp(event, "error", 5) == 0)
           || (sc->found & LAVA_TAP_SCAN_ERROR);
}


/* a document that may hold usage (lava_tap_may_hold_usage) */
static void
lava_tap_payload(lava_tap_t *t, const char *p, size_t n)
{
    int              ok;
    const char      *line, *nl, *end;
    lava_tap_scan_t  sc;

    if (lava_usage_parse_ep(&t->usage, t->fmt, t->endpoint, p, n) >= 0) {
        return;
    }

    /*
     * Events sent without the blank line between them arrive as one event
     * whose data lines were joined by '\n': read each line as a document.
     */
    if (memchr(p, '\n', n) == NULL) {
        t->flags |= LAVA_TAP_F_UNPARSED;
        return;
    }

    ok = 1;
    end = p + n;

    for (line = p; line < end; line = nl + 1) {
        nl = memchr(line, '\n', end - line);
        if (nl == NULL) {
            nl = end;
        }

        lava_tap_scan(line, nl - line, &sc);

        if (lava_tap_may_hold_usage(t, &sc, line, nl - line)
            && lava_usage_parse_ep(&t->usage, t->fmt, t->endpoint, line, nl - line) < 0)
        {
            ok = 0;
        }
    }

    if (!ok) {
        t->flags |= LAVA_TAP_F_UNPARSED;
    }
}


/* the event names that end a stream (lava_tap_t.ended) */
#define lava_tap_name(s)  { s, sizeof(s) - 1 }

static const struct {
    const char  *name;
    size_t       len;
} lava_tap_last_events[] = {
    lava_tap_name("message_stop"),          /* Anthropic */
    lava_tap_name("response.completed"),    /* OpenAI Responses API */
    lava_tap_name("response.incomplete"),
    lava_tap_name("response.failed"),
    lava_tap_name("message-end"),           /* Cohere v2 */
    { NULL, 0 }
};


static int
lava_tap_last_event(const char *event, size_t event_len, const char *p,
    size_t n)
{
    size_t  i;

    /* [DONE], the OpenAI terminator, with the white space SSE allows */
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\r' || p[n - 1] == '\n')) {
        n--;
    }

    while (n && *p == ' ') {
        p++;
        n--;
    }

    if (n == 6 && memcmp(p, "[DONE]", 6) == 0) {
        return 1;
    }

    for (i = 0; event_len && lava_tap_last_events[i].name; i++) {
        if (event_len == lava_tap_last_events[i].len
            && memcmp(event, lava_tap_last_events[i].name, event_len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static int
lava_tap_on_event(void *data, const char *event, size_t event_len,
    const char *payload, size_t payload_len)
{
    int               hold;
    lava_tap_t       *t = data;
    lava_tap_scan_t   sc;

    if (lava_tap_last_event(event, event_len, payload, payload_len)) {
        t->ended = 1;
    }

    /* one pass over the data: its text and the tokens deciding a parse */
    lava_tap_scan(payload, payload_len, &sc);
    t->content_bytes += sc.text_bytes;

    hold = lava_tap_may_hold_usage(t, &sc, payload, payload_len);

    if (!hold && lava_tap_may_be_error(event, event_len, &sc)) {
        /* errors carry no usage; read only for the flag */
        (void) lava_usage_parse_ep(&t->usage, t->fmt, t->endpoint, payload,
                                   payload_len);
        return 0;
    }

    if (hold) {
        lava_tap_payload(t, payload, payload_len);
    }

    /* Gemini's last chunk is the one with a finishReason (and the usage) */
    if (t->fmt == LAVA_USAGE_GEMINI && t->usage.seen && t->usage.final) {
        t->ended = 1;
    }

    return 0;
}


static void lava_tap_find_usage(lava_tap_t *t, const char *buf, size_t len);


/* the last bytes of an event over max_event: its usage, if it ends there */
static int
lava_tap_on_tail(void *data, const char *event, size_t event_len,
    const char *tail, size_t tail_len)
{
    lava_tap_t  *t = data;

    lava_tap_count_text(t, tail, tail_len);
    lava_tap_find_usage(t, tail, tail_len);

    return 0;
}


/*
 * The value after a key that ends at p: past JSON white space, a colon and
 * JSON white space again. NULL when no colon follows or the value is cut by
 * end; else a pointer below end to the value's first byte.
 */
static const char *
lava_tap_json_value(const char *p, const char *end)
{
    p = lava_json_ws(p, end);
    if (p == end || *p != ':') {
        return NULL;
    }

    p = lava_json_ws(p + 1, end);

    return p == end ? NULL : p;
}


/*
 * The model named in a body that is too big to parse: the string after the
 * first (head) or last (tail) key `key`. Text inside a JSON string cannot
 * match "model" with both quotes: there they are escaped (\"model\").
 */
static void
lava_tap_find_model(lava_tap_t *t, const char *buf, size_t len, int last)
{
    size_t       klen, n, i;
    const char  *key, *k, *p, *end;

    if (t->usage.model[0]) {
        return;
    }

    key = (t->fmt == LAVA_USAGE_GEMINI) ? "\"modelVersion\"" : "\"model\"";
    klen = strlen(key);
    end = buf + len;
    n = len;

    for (i = 0; i < LAVA_TAP_TAIL_TRIES; i++) {
        k = last ? lava_tap_memrmem(buf, n, key, klen)
                 : lava_tap_memmem(buf + (len - n), n, key, klen);
        if (k == NULL) {
            return;
        }

        /* the next search looks before (tail) or after (head) this one */
        n = last ? (size_t) (k - buf) + klen - 1 : (size_t) (end - k) - 1;

        p = lava_tap_json_value(k + klen, end);
        if (p == NULL || *p != '"') {
            continue;
        }

        for (k = ++p; p < end && *p > 0x20 && *p < 0x7f && *p != '"'
                      && *p != '\\';
             p++)
        {
            /* void */
        }

        if (p == end || *p != '"' || p == k
            || (size_t) (p - k) >= LAVA_USAGE_MODEL_MAX)
        {
            continue;
        }

        memcpy(t->usage.model, k, p - k);
        t->usage.model[p - k] = '\0';
        return;
    }
}


int
lava_tap_init(lava_tap_t *t, int sse, lava_usage_format_e fmt,
    size_t max_event, size_t max_json, size_t tail_max)
{
    memset(t, 0, sizeof(lava_tap_t));

    if ((unsigned) fmt > LAVA_USAGE_NONE) {
        return -1;
    }

    t->sse = sse ? 1 : 0;
    t->fmt = fmt;
    t->max_json = max_json ? max_json : LAVA_TAP_DEFAULT_JSON;
    t->tail_max = tail_max ? tail_max : LAVA_TAP_DEFAULT_TAIL;

    lava_sse_init(&t->scanner, max_event ? max_event : LAVA_TAP_DEFAULT_EVENT,
                  lava_tap_on_event, t);
    lava_sse_set_tail(&t->scanner, lava_tap_on_tail);

    return 0;
}


/* The body buffer (or tail ring) goes; the scanner stays. */
static void
lava_tap_free_json(lava_tap_t *t)
{
    free(t->json);
    t->json = NULL;
    t->json_len = 0;
    t->json_cap = 0;
}


/* The tap gives up (memory): usage of this response is not read. */
static void
lava_tap_fail(lava_tap_t *t)
{
    t->flags |= LAVA_TAP_F_UNPARSED;
    t->finished = 1;
    lava_tap_free(t);
}


/* Past max_json: keep the last tail_max bytes of what was kept and of p,
 * in place, then shrink the buffer to the ring. */
static void
lava_tap_to_tail(lava_tap_t *t, const char *p, size_t n)
{
    char    *nb;
    size_t   keep;

    lava_tap_find_model(t, t->json, t->json_len, 0);

    t->tail_mode = 1;
    t->flags |= LAVA_TAP_F_JSON_TOO_BIG;

    if (t->json_cap < t->tail_max) {
        nb = realloc(t->json, t->tail_max);
        if (nb == NULL) {
            lava_tap_fail(t);
            return;
        }

        t->json = nb;
        t->json_cap = t->tail_max;
    }

    if (n >= t->tail_max) {
        memcpy(t->json, p + n - t->tail_max, t->tail_max);
        t->json_len = t->tail_max;

    } else {
        keep = t->tail_max - n;
        if (keep > t->json_len) {
            keep = t->json_len;
        }

        memmove(t->json, t->json + t->json_len - keep, keep);
        memcpy(t->json + keep, p, n);
        t->json_len = keep + n;
    }

    t->tail_pos = t->json_len % t->tail_max;

    if (t->json_cap > t->tail_max) {
        nb = realloc(t->json, t->tail_max);
        if (nb != NULL) {
            t->json = nb;
            t->json_cap = t->tail_max;
        }
    }
}


/*
 * Counts the token "web_search_call" (quotes included) in the bytes of a
 * JSON body, across feeds. Inside a JSON string a quote is escaped, so an
 * unescaped quote before the token and right after it means a whole
 * string token of the document: an output item's type in the Responses
 * API (its tools echo "web_search", never this). A backslash escapes the
 * next byte only: "\\" is an escaped backslash, and the quote after it is
 * a real one.
 */
static void
lava_tap_count_searches(lava_tap_t *t, const char *p, size_t n)
{
    size_t  i;

    static const char  token[] = "\"web_search_call\"";

    for (i = 0; i < n; i++) {

        if (t->wsc_escape) {
            /* an escaped byte: never a quote of the token */
            t->wsc_escape = 0;
            t->wsc_matched = 0;
            continue;
        }

        if (p[i] == token[t->wsc_matched]) {
            if (++t->wsc_matched == sizeof(token) - 1) {
                t->wsc_count++;
                t->wsc_matched = 0;
            }

        } else {
            /* the token has no other quote than its first and last */
            t->wsc_matched = (p[i] == '"');
        }

        if (p[i] == '\\') {
            t->wsc_escape = 1;
        }
    }
}


static void
lava_tap_json_feed(lava_tap_t *t, const char *p, size_t n)
{
    size_t  m;

    if (t->fmt == LAVA_USAGE_OPENAI) {
        lava_tap_count_searches(t, p, n);
    }

    if (t->tail_mode) {
        lava_buf_ring_write(t->json, t->tail_max, &t->json_len, &t->tail_pos,
                        p, n);
        return;
    }

    m = n;

    if (n > t->max_json - t->json_len) {
        /* fill the buffer to max_json first: the head searched for the
         * model is then the same whatever the split */
        m = t->max_json - t->json_len;
    }

    if (lava_buf_grow(&t->json, &t->json_cap, t->json_len + m,
                      LAVA_TAP_MIN_CAP, t->max_json)
        != 0)
    {
        lava_tap_fail(t);
        return;
    }

    memcpy(t->json + t->json_len, p, m);
    t->json_len += m;

    if (m < n) {
        lava_tap_to_tail(t, p + m, n - m);
    }
}


void
lava_tap_feed(lava_tap_t *t, const char *p, size_t n)
{
    if (t->finished || n == 0) {
        return;
    }

    t->total += n;

    if (t->fmt == LAVA_USAGE_NONE) {
        return;
    }

    if (t->sse) {
        if (lava_sse_feed(&t->scanner, p, n) != LAVA_SSE_OK) {
            lava_tap_fail(t);
            return;
        }

        if (t->scanner.skipped) {
            t->flags |= LAVA_TAP_F_EVENT_TOO_BIG;
        }

        return;
    }

    lava_tap_json_feed(t, p, n);
}


/*
 * The last `key` object in buf, cut out and parsed as {key:{...}} on its own:
 * the tail of a body or event too big to keep. 1 usage found, 0 not, -1 an
 * object that did not parse.
 */
static int
lava_tap_find_key(lava_tap_t *t, const char *buf, size_t len,
    const char *key)
{
    int          rc, unparsed;
    char        *doc;
    size_t       klen, n, span, i;
    const char  *k, *p, *end;

    end = buf + len;
    n = len;
    klen = strlen(key);
    unparsed = 0;

    for (i = 0; i < LAVA_TAP_TAIL_TRIES; i++) {
        k = lava_tap_memrmem(buf, n, key, klen);
        if (k == NULL) {
            break;
        }

        n = (size_t) (k - buf) + klen - 1;

        p = lava_tap_json_value(k + klen, end);
        if (p == NULL || *p != '{') {
            continue;
        }

        span = lava_json_span(p, end - p);
        if (span == 0) {
            /* cut by the end of the body */
            continue;
        }

        /* {"usage":{...}} parsed as a document of its own */
        doc = malloc(klen + span + 3);
        if (doc == NULL) {
            break;
        }

        doc[0] = '{';
        memcpy(doc + 1, key, klen);
        doc[klen + 1] = ':';
        memcpy(doc + klen + 2, p, span);
        doc[klen + span + 2] = '}';

        rc = lava_usage_parse_ep(&t->usage, t->fmt, t->endpoint, doc, klen + span + 3);

        free(doc);

        if (rc == 1) {
            return 1;
        }

        if (rc < 0) {
            unparsed = 1;
        }
    }

    return unparsed ? -1 : 0;
}


/*
 * Gemini's grounding metadata in the tail of a body or event too big to
 * keep: the last "groundingMetadata" object, parsed as the one candidate
 * of a document of its own (it sits after the candidate's content, before
 * usageMetadata). 0 none or read, -1 an object that did not parse.
 */
static int
lava_tap_find_grounding(lava_tap_t *t, const char *buf, size_t len)
{
    int          rc;
    char        *doc;
    size_t       span;
    const char  *k, *p, *end;

    static const char  key[] = "\"groundingMetadata\"";
    static const char  pre[] = "{\"candidates\":[{\"groundingMetadata\":";
    static const char  post[] = "}]}";

    end = buf + len;

    k = lava_tap_memrmem(buf, len, key, sizeof(key) - 1);
    if (k == NULL) {
        return 0;
    }

    p = lava_tap_json_value(k + sizeof(key) - 1, end);
    if (p == NULL || *p != '{') {
        return 0;
    }

    span = lava_json_span(p, end - p);
    if (span == 0) {
        return 0;
    }

    doc = malloc(sizeof(pre) - 1 + span + sizeof(post) - 1);
    if (doc == NULL) {
        return 0;
    }

    memcpy(doc, pre, sizeof(pre) - 1);
    memcpy(doc + sizeof(pre) - 1, p, span);
    memcpy(doc + sizeof(pre) - 1 + span, post, sizeof(post) - 1);

    rc = lava_usage_parse_ep(&t->usage, t->fmt, t->endpoint, doc,
                             sizeof(pre) - 1 + span + sizeof(post) - 1);

    free(doc);

    return rc < 0 ? -1 : 0;
}


/* the usage keys of each format: Gemini "usageMetadata", Cohere "usage"
 * (v2 chat) or "meta" (embed, rerank, v1), the others "usage" */
static void
lava_tap_find_usage(lava_tap_t *t, const char *buf, size_t len)
{
    int  rc;

    if (t->fmt == LAVA_USAGE_GEMINI) {
        rc = lava_tap_find_key(t, buf, len, "\"usageMetadata\"");

        if (lava_tap_find_grounding(t, buf, len) < 0) {
            rc = -1;
        }

    } else {
        rc = lava_tap_find_key(t, buf, len, "\"usage\"");

        if (rc != 1 && t->fmt == LAVA_USAGE_COHERE) {
            rc = lava_tap_find_key(t, buf, len, "\"meta\"");
        }
    }

    if (rc < 0) {
        t->flags |= LAVA_TAP_F_UNPARSED;
    }
}


static void
lava_tap_tail_usage(lava_tap_t *t)
{
    lava_buf_ring_linearize(t->json, t->tail_max, t->json_len, &t->tail_pos);
    lava_tap_find_usage(t, t->json, t->json_len);
    lava_tap_find_model(t, t->json, t->json_len, 1);
}


static int
lava_tap_looks_like_sse(const char *p, size_t n)
{
    while (n && lava_json_is_ws(*p)) {
        p++;
        n--;
    }

    return (n >= 5 && memcmp(p, "data:", 5) == 0)
           || (n >= 6 && memcmp(p, "event:", 6) == 0)
           || (n >= 1 && p[0] == ':');
}


void
lava_tap_finish(lava_tap_t *t)
{
    int         rc;
    lava_sse_t  s;

    if (t->finished) {
        return;
    }

    t->finished = 1;

    if (t->fmt == LAVA_USAGE_NONE) {
        return;
    }

    if (t->sse) {
        if (lava_sse_finish(&t->scanner) != LAVA_SSE_OK) {
            t->flags |= LAVA_TAP_F_UNPARSED;
        }

        if (t->scanner.skipped) {
            t->flags |= LAVA_TAP_F_EVENT_TOO_BIG;
        }

        lava_sse_free(&t->scanner);
        return;
    }

    if (t->tail_mode) {
        lava_tap_tail_usage(t);
        t->content_bytes = t->total;

        /* the Responses API's web search items were before the tail */
        if (t->wsc_count > t->usage.web_search_calls) {
            t->usage.web_search_calls = t->wsc_count;
        }

    } else if (t->json_len) {
        rc = lava_usage_parse_ep(&t->usage, t->fmt, t->endpoint, t->json,
                                 t->json_len);

        if (rc < 0 && lava_tap_looks_like_sse(t->json, t->json_len)) {
            /* an event stream sent with a JSON content type */
            lava_sse_init(&s, t->scanner.max_event, lava_tap_on_event, t);
            lava_sse_set_tail(&s, lava_tap_on_tail);
            lava_sse_feed(&s, t->json, t->json_len);
            lava_sse_finish(&s);

            if (s.skipped) {
                t->flags |= LAVA_TAP_F_EVENT_TOO_BIG;
            }

            lava_sse_free(&s);

        } else {
            /* the generated text only feeds an estimate: none is made
             * when the body reported its final usage (lava_meter_finish) */
            if (!(rc == 1 && t->usage.final)) {
                lava_tap_count_text(t, t->json, t->json_len);
            }

            if (rc < 0) {
                t->flags |= LAVA_TAP_F_UNPARSED;
            }
        }
    }

    lava_tap_free_json(t);
}


void
lava_tap_free(lava_tap_t *t)
{
    lava_tap_free_json(t);
    lava_sse_free(&t->scanner);
}


size_t
lava_tap_flags_str(unsigned flags, char *buf, size_t size)
{
    static const lava_flag_name_t  names[] = {
        { LAVA_TAP_F_EVENT_TOO_BIG, "event_too_big" },
        { LAVA_TAP_F_JSON_TOO_BIG,  "json_too_big" },
        { LAVA_TAP_F_UNPARSED,      "usage_unparsed" },
        { LAVA_TAP_F_COMPRESSED,    "compressed" },
        { LAVA_TAP_F_BODY_IN_FILE,  "body_in_file" },
    };

    return lava_flags_names(names, sizeof(names) / sizeof(names[0]), flags,
                            buf, 0, size);
}
