/*
 * The meter's members of a request body without jansson (see
 * lava_request_scan.h).
 */

#include <string.h>
#include <strings.h>

#include "lava_json.h"
#include "lava_request_scan.h"
#include "lava_tools.h"


/* the members lava_tools_check() reads: left to jansson when present */
static const char  *lava_request_scan_tool_keys[] = {
    "tools", "connectors", "web_search_options", "search_parameters",
    "prompt", "mcp_servers", NULL
};

/* the output bounds (lava_request_max_output) */
static const char  *lava_request_scan_bound_keys[] = {
    "max_tokens", "max_completion_tokens", "max_output_tokens", NULL
};


static int
lava_request_scan_is(const char *key, size_t klen, const char *name)
{
    return strlen(name) == klen && memcmp(key, name, klen) == 0;
}


static int
lava_request_scan_in(const char *key, size_t klen, const char *const *set)
{
    for ( /* void */ ; *set; set++) {
        if (lava_request_scan_is(key, klen, *set)) {
            return 1;
        }
    }

    return 0;
}


/* 1: key differs from a member of set only in letter case (Go's
 * encoding/json would read it as that member) */
static int
lava_request_scan_twin(const char *key, size_t klen, const char *const *set)
{
    for ( /* void */ ; *set; set++) {
        if (strlen(*set) == klen && strncasecmp(key, *set, klen) == 0
            && memcmp(key, *set, klen) != 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * A validated JSON number that jansson reads as an integer (no fraction,
 * no exponent; at most 19 digits up to INT64_MAX, lava_json_scan leaves
 * longer ones to jansson): 1 and *n, 0 another value.
 */
static int
lava_request_scan_int(const char *v, size_t vlen, int64_t *n)
{
    size_t   i;
    int64_t  x;

    if (vlen == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9'))) {
        return 0;
    }

    x = 0;

    for (i = (v[0] == '-'); i < vlen; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return 0;                       /* 1.5: a real */
        }

        x = x * 10 + (v[i] - '0');
    }

    *n = v[0] == '-' ? -x : x;

    return 1;
}


/* an output bound: the largest believable one (lava_request_max_output) */
static void
lava_request_scan_bound(lava_request_scan_t *s, const char *v, size_t vlen)
{
    int64_t  n;

    if (lava_request_scan_int(v, vlen, &n)
        && n > 0 && n <= LAVA_METER_OUTPUT_MAX_STATED && n > s->max_output)
    {
        s->max_output = n;
    }
}


/*
 * The members of an object value: f is called for each (name, value);
 * the last of duplicates is what jansson keeps, so f must let a later
 * member override an earlier one. 0 read, -1 unsure (an escaped name).
 */
static int
lava_request_scan_object(lava_request_scan_t *s, const char *v, size_t vlen,
    void (*f)(lava_request_scan_t *s, const char *key, size_t klen,
              const char *v, size_t vlen))
{
    int          done;
    size_t       off, klen, mlen;
    const char  *key, *m;

    off = 0;

    do {
        /* validated already: only an escaped name is not OK here */
        if (lava_json_scan_member(v, vlen, &off, 1, &key, &klen, &m, &mlen,
                                  &done)
            != LAVA_JSON_SCAN_OK)
        {
            return -1;
        }

        if (key == NULL) {
            break;
        }

        f(s, key, klen, m, mlen);

    } while (!done);

    return 0;
}


static void
lava_request_scan_so(lava_request_scan_t *s, const char *key, size_t klen,
    const char *v, size_t vlen)
{
    if (lava_request_scan_twin(key, klen, s->so_keys)) {
        s->twin = 1;
    }

    if (lava_request_scan_is(key, klen, "include_usage")) {
        s->include_usage = vlen == 4 && memcmp(v, "true", 4) == 0;
    }
}


static void
lava_request_scan_gc(lava_request_scan_t *s, const char *key, size_t klen,
    const char *v, size_t vlen)
{
    if (lava_request_scan_is(key, klen, "maxOutputTokens")) {
        /* the last one is jansson's */
        s->gc_max = v;
        s->gc_max_len = vlen;
    }
}


int
lava_request_scan_init(lava_request_scan_t *s, lava_endpoint_e ep,
    const lava_json_text_rules_t *rules, const char *const *read_keys,
    const char *const *so_keys)
{
    memset(s, 0, sizeof(lava_request_scan_t));

    s->ep = ep;
    s->rules = rules;
    s->read_keys = read_keys;
    s->so_keys = so_keys;

    switch (ep) {

    case LAVA_EP_CHAT:
    case LAVA_EP_RESPONSES:
    case LAVA_EP_EMBEDDINGS:
    case LAVA_EP_MESSAGES:
    case LAVA_EP_GENERATE:
    case LAVA_EP_EMBED:
    case LAVA_EP_COHERE_CHAT:
    case LAVA_EP_RERANK:
        /* "model" is the billed member, no characters, no image rules */
        return 1;

    default:
        /* speech and text-to-speech bill characters, speech-to-text and
         * the rest read model_id, images read every member */
        s->unsure = 1;
        return 0;
    }
}


void
lava_request_scan_member(lava_request_scan_t *s, const char *key,
    size_t klen, const char *v, size_t vlen, int64_t text)
{
    size_t  i;

    if (s->unsure) {
        return;
    }

    /* jansson keeps the last of duplicates: left to it */
    for (i = 0; i < s->nkeys; i++) {
        if (s->key_lens[i] == klen && memcmp(s->keys[i], key, klen) == 0) {
            s->unsure = 1;
            return;
        }
    }

    if (s->nkeys == LAVA_REQUEST_SCAN_KEYS
        || lava_request_scan_in(key, klen, lava_request_scan_tool_keys))
    {
        s->unsure = 1;
        return;
    }

    s->keys[s->nkeys] = key;
    s->key_lens[s->nkeys] = klen;
    s->nkeys++;

    s->text_bytes += text;

    if (lava_request_scan_twin(key, klen, s->read_keys)) {
        s->twin = 1;
    }

    if (lava_request_scan_is(key, klen, "model")) {
        if (vlen && v[0] == '"') {
            if (memchr(v, '\\', vlen) != NULL) {
                s->unsure = 1;              /* decoded by jansson */
                return;
            }

            s->model = v + 1;
            s->model_len = vlen - 2;
        }

    } else if (lava_request_scan_is(key, klen, "stream")) {
        s->stream = vlen == 4 && memcmp(v, "true", 4) == 0;

    } else if (lava_request_scan_is(key, klen, "background")) {
        s->background = vlen == 4 && memcmp(v, "true", 4) == 0;

    } else if (lava_request_scan_is(key, klen, "n")) {
        int64_t  n;

        if (lava_request_scan_int(v, vlen, &n) && n > 0 && n <= 10000) {
            s->n = n;
        }

    } else if (lava_request_scan_is(key, klen, "stream_options")) {
        if (vlen && v[0] == '{'
            && lava_request_scan_object(s, v, vlen, lava_request_scan_so) != 0)
        {
            s->unsure = 1;
        }

    } else if (lava_request_scan_is(key, klen, "generationConfig")) {
        if (vlen && v[0] == '{'
            && lava_request_scan_object(s, v, vlen, lava_request_scan_gc) != 0)
        {
            s->unsure = 1;
        }

    } else if (lava_request_scan_in(key, klen, lava_request_scan_bound_keys)) {
        lava_request_scan_bound(s, v, vlen);
    }
}


int
lava_request_scan_finish(lava_request_scan_t *s, lava_request_t *rq,
    int64_t text_bytes)
{
    if (s->twin) {
        return -1;
    }

    if (s->gc_max) {
        lava_request_scan_bound(s, s->gc_max, s->gc_max_len);
    }

    rq->parsed = 1;
    rq->stream = s->stream;
    rq->background = s->background;
    rq->include_usage = s->include_usage;
    rq->n = s->n;

    if (s->model) {
        /* longer than the event takes: refused before forwarding */
        if (s->model_len >= LAVA_USAGE_MODEL_MAX) {
            rq->model_too_long = 1;

        } else {
            (void) lava_usage_model_set(rq->model, s->model, s->model_len);
        }
    }

    rq->text_bytes = text_bytes + s->text_bytes;
    rq->max_output = s->max_output;
    rq->tools = (int) lava_tools_check_plain(s->ep, rq->model);

    return 0;
}
