/*
 * The tap's pass over an event's data (see lava_tap_scan.h).
 *
 * Before, the tap went over every event four times: a byte loop for the
 * text, and a substring search each for "usage", "error" and (OpenAI)
 * "web_search_call", the searches stopping at every quote or 'u' to call
 * memcmp. Here one pass does it all: the text walk steps from quote to
 * quote with lava_find.h, and every quote byte it passes (opening,
 * closing or escaped: each is seen exactly once) is where a quoted token
 * starts or a "usage" key ends, so the tokens are checked there, inline.
 */

#include <string.h>

#include "lava_tap_scan.h"
#include "lava_find.h"
#include "lava_json.h"


/* the bytes a "usage" key's name may go on with: [A-Za-z_] */
static const unsigned char  lava_tap_scan_letters[256] = {
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1, ['_'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1
};

#define lava_tap_scan_letter(c)  lava_tap_scan_letters[(unsigned char) (c)]


/* keys whose string values are generated text */
static inline int
lava_tap_scan_text_key(const char *k, size_t n)
{
    switch (n) {
    case 4:
        return memcmp(k, "text", 4) == 0;
    case 5:
        return memcmp(k, "delta", 5) == 0;
    case 7:
        return memcmp(k, "content", 7) == 0 || memcmp(k, "refusal", 7) == 0;
    case 8:
        return memcmp(k, "thinking", 8) == 0;
    case 9:
        return memcmp(k, "arguments", 9) == 0
               || memcmp(k, "reasoning", 9) == 0;
    case 10:
        return memcmp(k, "transcript", 10) == 0;
    case 12:
        return memcmp(k, "partial_json", 12) == 0;
    case 17:
        return memcmp(k, "reasoning_content", 17) == 0;
    default:
        return 0;
    }
}


/* the quoted tokens that start at the quote byte c (c < end) */
static inline void
lava_tap_scan_token(const char *c, const char *end, unsigned *found)
{
    size_t  left;

    left = end - c;

    switch (left > 1 ? c[1] : '\0') {

    case 'e':
        if (left >= 7 && memcmp(c + 1, "error\"", 6) == 0) {
            *found |= LAVA_TAP_SCAN_ERROR;
        }
        break;

    case 'w':
        if (left >= 17 && memcmp(c + 1, "web_search_call\"", 16) == 0) {
            *found |= LAVA_TAP_SCAN_WSC;
        }
        break;

    case 'g':
        if (left >= 19 && memcmp(c + 1, "groundingMetadata\"", 18) == 0) {
            *found |= LAVA_TAP_SCAN_GROUNDING;
        }
        break;

    default:
        break;
    }
}


/*
 * The quote byte at c (p0 <= c < end) is followed by white space and the
 * colon at k: a "usage" key when "usage" lies in the letters right before
 * c and the value is not null. A substring search for "usage" that skips
 * letters to a quote arrives at this quote exactly in that case.
 */
static inline void
lava_tap_scan_usage(const char *p0, const char *c, const char *k,
    const char *end, unsigned *found)
{
    const char  *r;

    if (c - p0 < 5 || !lava_tap_scan_letter(c[-1])) {
        return;
    }

    k = lava_json_ws(k + 1, end);

    if (end - k >= 4 && memcmp(k, "null", 4) == 0) {
        return;
    }

    for (r = c - 1; r >= p0 && lava_tap_scan_letter(*r); r--) {
        if (*r == 'u' && c - r >= 5 && memcmp(r, "usage", 5) == 0) {
            *found |= LAVA_TAP_SCAN_USAGE;
            return;
        }
    }
}


/* any quote byte at c: the tokens that start there, a usage key it ends */
static inline void
lava_tap_scan_quote(const char *p0, const char *c, const char *end,
    unsigned *found)
{
    const char  *k;

    lava_tap_scan_token(c, end, found);

    if ((*found & LAVA_TAP_SCAN_USAGE) || c - p0 < 5
        || !lava_tap_scan_letter(c[-1]))
    {
        return;
    }

    k = lava_json_ws(c + 1, end);

    if (k < end && *k == ':') {
        lava_tap_scan_usage(p0, c, k, end, found);
    }
}


void
lava_tap_scan(const char *p, size_t n, lava_tap_scan_t *r)
{
    int          counting;
    size_t       bytes;
    unsigned     found;
    const char  *p0, *end, *s, *q;

    p0 = p;
    end = p + n;
    counting = 0;
    bytes = 0;
    found = 0;

    while (p < end) {
        p += lava_find3(p, end - p, '"', '{', '}');

        if (p == end) {
            break;
        }

        if (*p != '"') {
            counting = 0;
            p++;
            continue;
        }

        lava_tap_scan_quote(p0, p, end, &found);
        s = ++p;

        while (p < end) {
            p += lava_find2(p, end - p, '"', '\\');

            if (p == end || *p == '"') {
                break;
            }

            /* a backslash: the byte after it is escaped, a quote too */
            if (end - p > 1 && p[1] == '"') {
                lava_tap_scan_quote(p0, p + 1, end, &found);
            }

            p += 2;
        }

        if (p >= end) {
            /* a string cut by the end is not counted */
            break;
        }

        /* the closing quote: the same as lava_tap_scan_quote() */
        lava_tap_scan_token(p, end, &found);

        q = lava_json_ws(p + 1, end);

        if (q < end && *q == ':') {
            if (!(found & LAVA_TAP_SCAN_USAGE)) {
                lava_tap_scan_usage(p0, p, q, end, &found);
            }

            counting = lava_tap_scan_text_key(s, p - s);

        } else if (counting) {
            bytes += p - s;
        }

        p++;
    }

    r->text_bytes = bytes;
    r->found = found;
}


const char *
lava_tap_memmem(const char *h, size_t hn, const char *n, size_t nn)
{
    size_t       i;
    const char  *p, *end;

    if (nn == 0 || hn < nn) {
        return NULL;
    }

    end = h + hn - nn + 1;

    for (p = h; p < end; p++) {
        p = memchr(p, n[0], end - p);
        if (p == NULL) {
            return NULL;
        }

        /* the needles are a few bytes: compared here, not in a call */
        for (i = 1; i < nn && p[i] == n[i]; i++) {
            /* void */
        }

        if (i == nn) {
            return p;
        }
    }

    return NULL;
}


/* ---- the reference: the tap's loops before the one-pass scan ---- */

static int
lava_tap_ref_usage(const char *p, size_t n)
{
    const char  *k, *q, *end;

    end = p + n;
    q = p;

    while ((k = lava_tap_memmem(q, end - q, "usage", 5)) != NULL) {
        q = k + 5;

        for (k = q; k < end && ((*k >= 'A' && *k <= 'Z')
                                || (*k >= 'a' && *k <= 'z') || *k == '_');
             k++)
        {
            /* usageMetadata */
        }

        if (k == end || *k != '"') {
            continue;
        }

        k = lava_json_ws(k + 1, end);

        if (k == end || *k != ':') {
            continue;
        }

        k = lava_json_ws(k + 1, end);

        if (end - k >= 4 && memcmp(k, "null", 4) == 0) {
            continue;
        }

        return 1;
    }

    return 0;
}


static const struct {
    const char  *name;
    size_t       len;
} lava_tap_ref_keys[] = {
    { "content", 7 }, { "text", 4 }, { "delta", 5 }, { "arguments", 9 },
    { "partial_json", 12 }, { "thinking", 8 }, { "reasoning", 9 },
    { "reasoning_content", 17 }, { "refusal", 7 }, { "transcript", 10 },
    { NULL, 0 }
};


static int
lava_tap_ref_text_key(const char *k, size_t n)
{
    size_t  i;

    for (i = 0; lava_tap_ref_keys[i].name; i++) {
        if (lava_tap_ref_keys[i].len == n
            && memcmp(lava_tap_ref_keys[i].name, k, n) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static size_t
lava_tap_ref_text(const char *p, size_t n)
{
    int          counting;
    size_t       bytes;
    const char  *end, *s, *q;

    end = p + n;
    counting = 0;
    bytes = 0;

    while (p < end) {
        if (*p != '"') {
            if (*p == '{' || *p == '}') {
                counting = 0;
            }

            p++;
            continue;
        }

        s = ++p;

        while (p < end && *p != '"') {
            p += (*p == '\\') ? 2 : 1;
        }

        if (p >= end) {
            return bytes;
        }

        q = lava_json_ws(p + 1, end);

        if (q < end && *q == ':') {
            counting = lava_tap_ref_text_key(s, p - s);

        } else if (counting) {
            bytes += p - s;
        }

        p++;
    }

    return bytes;
}


void
lava_tap_scan_ref(const char *p, size_t n, lava_tap_scan_t *r)
{
    r->text_bytes = lava_tap_ref_text(p, n);
    r->found = 0;

    if (lava_tap_ref_usage(p, n)) {
        r->found |= LAVA_TAP_SCAN_USAGE;
    }

    if (lava_tap_memmem(p, n, "\"error\"", 7)) {
        r->found |= LAVA_TAP_SCAN_ERROR;
    }

    if (lava_tap_memmem(p, n, "\"web_search_call\"", 17)) {
        r->found |= LAVA_TAP_SCAN_WSC;
    }

    if (lava_tap_memmem(p, n, "\"groundingMetadata\"", 19)) {
        r->found |= LAVA_TAP_SCAN_GROUNDING;
    }
}
