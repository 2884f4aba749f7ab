/*
 * The include_usage chunk of an OpenAI-compatible stream (see
 * lava_usage_chunk.h).
 */

#include "lava_usage_chunk.h"
#include "lava_json.h"


void
lava_usage_chunk_init(lava_usage_chunk_t *c)
{
    c->bol = 1;
    c->cr = 0;
}


size_t
lava_usage_chunk_cut(lava_usage_chunk_t *c, const char *p, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {

        if (c->cr && p[i] == '\n') {
            /* the LF of a CRLF */
            c->cr = 0;
            continue;
        }

        c->cr = 0;

        if (p[i] != '\r' && p[i] != '\n') {
            c->bol = 0;
            continue;
        }

        c->cr = (p[i] == '\r');

        if (!c->bol) {
            c->bol = 1;
            continue;
        }

        /* a blank line: the event ends here */
        return i + 1;
    }

    return 0;
}


static unsigned char
lava_usage_chunk_lower(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') ? (ch | 0x20) : ch;
}


/* the first key (lower case, with its quotes) in [p, end), or NULL */
static const char *
lava_usage_chunk_find(const char *p, const char *end, const char *key,
    size_t klen)
{
    size_t  i;

    for ( /* void */ ; (size_t) (end - p) >= klen; p++) {

        for (i = 0; i < klen; i++) {
            if (lava_usage_chunk_lower((unsigned char) p[i])
                != (unsigned char) key[i])
            {
                break;
            }
        }

        if (i == klen) {
            return p;
        }
    }

    return NULL;
}


/* `"key" : <ch>` at k (k at the opening quote of "key", klen bytes) */
static int
lava_usage_chunk_key_then(const char *k, const char *end, size_t klen,
    char ch)
{
    const char  *p;

    p = lava_json_ws(k + klen, end);
    if (p == end || *p != ':') {
        return 0;
    }

    p = lava_json_ws(p + 1, end);

    return p < end && *p == ch;
}


int
lava_usage_chunk_only(const char *p, size_t n)
{
    const char  *end, *k, *q;

    end = p + n;

    k = lava_usage_chunk_find(p, end, "\"choices\"", 9);
    if (k == NULL || !lava_usage_chunk_key_then(k, end, 9, '[')) {
        return 0;
    }

    /* key_then saw the '[' after the colon: the first one after the key */
    for (q = k + 9; *q != '['; q++) { /* void */ }

    q = lava_json_ws(q + 1, end);
    if (q == end || *q != ']') {
        return 0;
    }

    for (k = p; k < end; k++) {
        k = lava_usage_chunk_find(k, end, "\"usage\"", 7);
        if (k == NULL) {
            return 0;
        }

        if (lava_usage_chunk_key_then(k, end, 7, '{')) {
            return 1;
        }
    }

    return 0;
}
