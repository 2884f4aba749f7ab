/*
 * A non-allocating JSON scanner for the request path: it validates one JSON
 * value as strictly as jansson's json_loadb() (with JSON_ALLOW_NUL, the
 * flag the meter parses request bodies with) and, in the same pass, sums
 * the bytes of the decoded strings under the keys the meter counts as
 * prompt text (lava_meter.c's text walk). The meter uses it for the
 * members it reads only to count their text ("messages", "contents", ...),
 * so that jansson parses the few members it does read, not the prompt.
 *
 * Where the scanner cannot be sure to agree with jansson it says so
 * (LAVA_JSON_SCAN_UNSURE) instead of guessing, and the caller parses the
 * whole body with jansson as before: keys holding escapes, numbers of
 * more than 18 characters or with an exponent (jansson refuses integers
 * beyond 64 bits and reals that overflow), nesting deeper than
 * LAVA_JSON_SCAN_DEPTH. Invalid UTF-8, raw control characters, lone
 * surrogates, bad escapes and grammar errors are LAVA_JSON_SCAN_INVALID.
 *
 * One difference is known and accepted: jansson keeps the last of
 * duplicate members of an object, the scanner counts the text of all of
 * them (an estimate can only grow; nothing billed from a report changes).
 */

#ifndef LAVA_JSON_SCAN_H
#define LAVA_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

#define LAVA_JSON_SCAN_DEPTH  256

typedef enum {
    LAVA_JSON_SCAN_OK = 0,
    LAVA_JSON_SCAN_INVALID,      /* jansson refuses it too */
    LAVA_JSON_SCAN_UNSURE        /* parse it with jansson */
} lava_json_scan_e;

typedef struct {
    const char  *const *text_keys;  /* strings below these keys count */
    const char  *const *skip_keys;  /* nothing below these keys counts */
    int                 max_depth;  /* nor below this depth */
} lava_json_text_rules_t;

/*
 * Scans the value at p (leading white space allowed), n bytes available.
 * depth: the value's depth in its document (a member of the root object
 * is at 1); counting: whether its strings count (it is below a text key).
 * On LAVA_JSON_SCAN_OK *used is the bytes up to the value's end and the
 * counted bytes are added to *bytes.
 */
lava_json_scan_e lava_json_scan_text(const char *p, size_t n,
    const lava_json_text_rules_t *rules, int depth, int counting,
    size_t *used, int64_t *bytes);

/*
 * A member name at p (at its opening quote): on LAVA_JSON_SCAN_OK the name
 * between the quotes (no escapes: a name with one is UNSURE) and *used the
 * bytes up to the closing quote included.
 */
lava_json_scan_e lava_json_scan_key(const char *p, size_t n,
    const char **key, size_t *key_len, size_t *used);

#endif /* LAVA_JSON_SCAN_H */
