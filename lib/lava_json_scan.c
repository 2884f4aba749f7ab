/*
 * Non-allocating JSON validation and text counting (see lava_json_scan.h).
 */

#include <string.h>

#include "lava_json.h"
#include "lava_json_scan.h"


/*
 * One string at p (its opening quote): validates it as jansson does (UTF-8,
 * no raw control character, escapes, surrogate pairs) and gives its
 * decoded size. Returns the bytes up to the closing quote included, 0 when
 * invalid. *esc is set when it held an escape.
 */
static size_t
lava_json_scan_string(const char *p, size_t n, int allow_nul,
    int64_t *decoded, int *esc)
{
    size_t               i, k, need;
    uint32_t             cp, lo, min;
    int64_t              len;
    const unsigned char *s = (const unsigned char *) p;

    len = 0;
    *esc = 0;

    for (i = 1; i < n; /* void */) {
        unsigned c = s[i];

        if (c == '"') {
            *decoded = len;
            return i + 1;
        }

        if (c < 0x20) {
            return 0;
        }

        if (c == '\\') {
            *esc = 1;

            if (i + 1 >= n) {
                return 0;
            }

            c = s[i + 1];

            if (c != 'u') {
                if (strchr("\"\\/bfnrt", (int) c) == NULL || c == '\0') {
                    return 0;
                }

                len++;
                i += 2;
                continue;
            }

            /* \uXXXX, a surrogate pair as two of them */
            cp = 0;

            for (k = 0; k < 4; k++) {
                if (i + 2 + k >= n) {
                    return 0;
                }

                c = s[i + 2 + k];
                cp <<= 4;

                if (c >= '0' && c <= '9') {
                    cp |= c - '0';
                } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
                    cp |= (c | 0x20) - 'a' + 10;
                } else {
                    return 0;
                }
            }

            i += 6;

            if (cp >= 0xdc00 && cp <= 0xdfff) {
                return 0;                          /* lone low surrogate */
            }

            if (cp == 0 && !allow_nul) {
                return 0;
            }

            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u') {
                    return 0;
                }

                lo = 0;

                for (k = 0; k < 4; k++) {
                    c = s[i + 2 + k];
                    lo <<= 4;

                    if (c >= '0' && c <= '9') {
                        lo |= c - '0';
                    } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
                        lo |= (c | 0x20) - 'a' + 10;
                    } else {
                        return 0;
                    }
                }

                if (lo < 0xdc00 || lo > 0xdfff) {
                    return 0;
                }

                i += 6;
                len += 4;
                continue;
            }

            len += cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
            continue;
        }

        if (c < 0x80) {
            len++;
            i++;
            continue;
        }

        /* UTF-8: shortest form, no surrogates, at most U+10FFFF */
        if ((c & 0xe0) == 0xc0) {
            need = 1; cp = c & 0x1f; min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            need = 2; cp = c & 0x0f; min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            need = 3; cp = c & 0x07; min = 0x10000;
        } else {
            return 0;
        }

        if (i + need >= n) {
            return 0;
        }

        for (k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }

            cp = (cp << 6) | (s[i + k] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }

        len += (int64_t) need + 1;
        i += need + 1;
    }

    return 0;
}


/* a number: its length, 0 invalid, (size_t) -1 for jansson to judge;
 * int64: an integer of 19 digits is judged here (LAVA_JSON_SCAN_INT64) */
static size_t
lava_json_scan_number(const char *p, size_t n, int int64)
{
    size_t  i = 0, digits;

    if (i < n && p[i] == '-') {
        i++;
    }

    if (i == n || p[i] < '0' || p[i] > '9') {
        return 0;
    }

    if (p[i] == '0') {
        i++;

    } else {
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            i++;
        }
    }

    if (i < n && p[i] == '.') {
        i++;
        digits = i;

        while (i < n && p[i] >= '0' && p[i] <= '9') {
            i++;
        }

        if (i == digits) {
            return 0;
        }
    }

    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        /* a real that may overflow: jansson refuses those */
        return (size_t) -1;
    }

    if (int64 && i > 18 && memchr(p, '.', i) == NULL) {
        /*
         * jansson reads an integer with strtoll() and refuses it only on
         * overflow: 19 digits (no leading zero) fit when not above
         * 9223372036854775807 (...808 negative), compared as text
         */
        digits = i - (p[0] == '-');

        if (digits == 19
            && memcmp(p + (p[0] == '-'), p[0] == '-' ? "9223372036854775808"
                                                     : "9223372036854775807",
                      19) <= 0)
        {
            return i;
        }
    }

    /* an integer beyond 64 bits is refused by jansson, a long real may
     * overflow: leave both to it */
    return i > 18 ? (size_t) -1 : i;
}


static int
lava_json_scan_in(const char *key, size_t len, const char *const *set)
{
    for ( /* void */ ; set && *set; set++) {
        if (strlen(*set) == len && memcmp(*set, key, len) == 0) {
            return 1;
        }
    }

    return 0;
}


lava_json_scan_e
lava_json_scan_key(const char *p, size_t n, const char **key,
    size_t *key_len, size_t *used)
{
    int      esc;
    size_t   span;
    int64_t  decoded;

    if (n == 0 || *p != '"') {
        return LAVA_JSON_SCAN_INVALID;
    }

    /* jansson refuses a NUL in a key whatever the flags */
    span = lava_json_scan_string(p, n, 0, &decoded, &esc);

    if (span == 0) {
        return LAVA_JSON_SCAN_INVALID;
    }

    if (esc) {
        /* "mes\u0073ages" is "messages" to jansson */
        return LAVA_JSON_SCAN_UNSURE;
    }

    *key = p + 1;
    *key_len = span - 2;
    *used = span;

    return LAVA_JSON_SCAN_OK;
}


/*
 * The open containers: per level object (1) or array (0), whether its
 * strings count, and whether it is below a skip key (where nothing counts,
 * whatever the keys further down: text_walk does not go there).
 */
typedef struct {
    uint8_t  object[LAVA_JSON_SCAN_DEPTH];
    uint8_t  counting[LAVA_JSON_SCAN_DEPTH];
    uint8_t  skip[LAVA_JSON_SCAN_DEPTH];      /* below a skip key */
} lava_json_scan_stack_t;


lava_json_scan_e
lava_json_scan_text(const char *p, size_t n,
    const lava_json_text_rules_t *rules, int depth, int counting,
    size_t *used, int64_t *bytes)
{
    int                     esc, member_counts, member_skip, top;
    size_t                  span, klen;
    int64_t                 decoded, total;
    const char             *start, *end, *key;
    lava_json_scan_e        rc;
    lava_json_scan_stack_t  st;

    start = p;
    end = p + n;
    top = -1;                   /* no container open */
    total = 0;
    member_counts = counting;   /* whether the next value's strings count */
    member_skip = 0;

value:

    p = lava_json_ws(p, end);

    if (p == end) {
        return LAVA_JSON_SCAN_INVALID;
    }

    switch (*p) {

    case '{':
    case '[':
        if (top + 1 >= LAVA_JSON_SCAN_DEPTH) {
            return LAVA_JSON_SCAN_UNSURE;
        }

        top++;
        st.object[top] = (*p == '{');
        st.skip[top] = (uint8_t) member_skip;
        /* text_walk: nothing is counted below its depth limit */
        st.counting[top] = member_counts && depth + top < rules->max_depth;
        p = lava_json_ws(p + 1, end);

        if (p < end && *p == (st.object[top] ? '}' : ']')) {
            p++;
            top--;
            goto next;
        }

        if (!st.object[top]) {
            member_counts = st.counting[top];
            member_skip = st.skip[top];
            goto value;
        }

        goto member;

    case '"':
        span = lava_json_scan_string(p, (size_t) (end - p),
                                     rules->allow_nul & LAVA_JSON_SCAN_ALLOW_NUL,
                                     &decoded, &esc);

        if (span == 0) {
            return LAVA_JSON_SCAN_INVALID;
        }

        if (member_counts && depth + top + 1 <= rules->max_depth) {
            total += decoded;
        }

        p += span;
        goto next;

    case 't':
        if (end - p < 4 || memcmp(p, "true", 4) != 0) {
            return LAVA_JSON_SCAN_INVALID;
        }

        p += 4;
        goto next;

    case 'f':
        if (end - p < 5 || memcmp(p, "false", 5) != 0) {
            return LAVA_JSON_SCAN_INVALID;
        }

        p += 5;
        goto next;

    case 'n':
        if (end - p < 4 || memcmp(p, "null", 4) != 0) {
            return LAVA_JSON_SCAN_INVALID;
        }

        p += 4;
        goto next;

    default:
        span = lava_json_scan_number(p, (size_t) (end - p),
                                     rules->allow_nul & LAVA_JSON_SCAN_INT64);

        if (span == (size_t) -1) {
            return LAVA_JSON_SCAN_UNSURE;
        }

        if (span == 0) {
            return LAVA_JSON_SCAN_INVALID;
        }

        p += span;
        goto next;
    }

member:

    /* p at a member name */
    rc = lava_json_scan_key(p, (size_t) (end - p), &key, &klen, &span);
    if (rc != LAVA_JSON_SCAN_OK) {
        return rc;
    }

    p = lava_json_ws(p + span, end);

    if (p == end || *p != ':') {
        return LAVA_JSON_SCAN_INVALID;
    }

    p++;

    member_skip = st.skip[top]
                  || lava_json_scan_in(key, klen, rules->skip_keys);

    if (member_skip) {
        member_counts = 0;

    } else {
        member_counts = st.counting[top]
                        || lava_json_scan_in(key, klen, rules->text_keys);
    }

    goto value;

next:

    /* after a value: the end, or what its container takes next */
    if (top < 0) {
        *used = (size_t) (p - start);
        *bytes += total;
        return LAVA_JSON_SCAN_OK;
    }

    p = lava_json_ws(p, end);

    if (p == end) {
        return LAVA_JSON_SCAN_INVALID;
    }

    if (*p == ',') {
        p = lava_json_ws(p + 1, end);

        if (st.object[top]) {
            goto member;
        }

        member_counts = st.counting[top];
        member_skip = st.skip[top];
        goto value;
    }

    if (*p == (st.object[top] ? '}' : ']')) {
        p++;
        top--;
        goto next;
    }

    return LAVA_JSON_SCAN_INVALID;
}


lava_json_scan_e
lava_json_scan_member(const char *p, size_t n, size_t *off, int flags,
    const char **key, size_t *key_len, const char **value,
    size_t *value_len, int *done)
{
    size_t                  used;
    int64_t                 bytes;
    const char             *q, *end, *v;
    lava_json_scan_e        rc;
    lava_json_text_rules_t  rules = { NULL, NULL, 0, flags };

    end = p + n;
    q = p + *off;
    *done = 0;

    if (*off == 0) {
        q = lava_json_ws(q, end);

        if (q == end || *q != '{') {
            return LAVA_JSON_SCAN_INVALID;
        }

        q = lava_json_ws(q + 1, end);

        if (q < end && *q == '}') {
            *done = 1;               /* {}: no member, *key NULL */
            *key = NULL;
            *key_len = 0;
            *value_len = 0;
            return lava_json_ws(q + 1, end) == end ? LAVA_JSON_SCAN_OK
                                                   : LAVA_JSON_SCAN_INVALID;
        }
    }

    rc = lava_json_scan_key(q, (size_t) (end - q), key, key_len, &used);
    if (rc != LAVA_JSON_SCAN_OK) {
        return rc;
    }

    q = lava_json_ws(q + used, end);

    if (q == end || *q != ':') {
        return LAVA_JSON_SCAN_INVALID;
    }

    v = lava_json_ws(q + 1, end);
    bytes = 0;

    rc = lava_json_scan_text(v, (size_t) (end - v), &rules, 1, 0, &used,
                             &bytes);
    if (rc != LAVA_JSON_SCAN_OK) {
        return rc;
    }

    *value = v;
    *value_len = used;
    q = lava_json_ws(v + used, end);

    if (q < end && *q == ',') {
        *off = (size_t) (lava_json_ws(q + 1, end) - p);
        return LAVA_JSON_SCAN_OK;
    }

    if (q < end && *q == '}' && lava_json_ws(q + 1, end) == end) {
        *done = 1;
        return LAVA_JSON_SCAN_OK;
    }

    return LAVA_JSON_SCAN_INVALID;
}
