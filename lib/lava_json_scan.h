/*
 * A non-allocating JSON scanner for the request path: it validates one JSON
 * value as strictly as jansson's json_loadb() (with or without
 * JSON_ALLOW_NUL: the meter parses request bodies with it, the usage
 * parsers answers without) and, in the same pass, sums
 * the bytes of the decoded strings under the keys the meter counts as
 * prompt text (lava_meter.c's text walk). The meter uses it for the
 * members it reads only to count their text ("messages", "contents", ...),
 * so that jansson parses the few members it does read, not the prompt; and
 * the usage parsers for the members of an answer that hold the generated
 * content (lib/lava_usage.c).
 *
 * Where the scanner cannot be sure to agree with jansson it says so
 * (LAVA_JSON_SCAN_UNSURE) instead of guessing, and the caller parses the
 * whole body with jansson as before: keys holding escapes, numbers of
 * more than 18 characters (but integers of 19 digits that fit 64 bits with
 * LAVA_JSON_SCAN_INT64) or with an exponent (jansson refuses integers
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
    int                 allow_nul;  /* LAVA_JSON_SCAN_* flags; 1 is
                                       "\u0000" in a string: jansson's
                                       JSON_ALLOW_NUL (else invalid) */
} lava_json_text_rules_t;

/*
 * The flags of rules.allow_nul and of lava_json_scan_member(). INT64:
 * integers of 19 digits that fit 64 bits are OK (else UNSURE), for callers
 * whose own reading of a number does not assume at most 18 characters.
 */
#define LAVA_JSON_SCAN_ALLOW_NUL  0x01
#define LAVA_JSON_SCAN_INT64      0x02

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

/*
 * The top-level members of the object at p (n bytes, white space around it
 * allowed), one per call: *off is where the next one starts (0 the first
 * time). LAVA_JSON_SCAN_OK with the member's name, and its value's bytes
 * (white space trimmed) in *value, *value_len; *done 1 after the last one
 * (and *key NULL for an empty object).
 * The values are validated (flags: LAVA_JSON_SCAN_*, 0 or 1 as allow_nul
 * was); their text is not counted.
 */
lava_json_scan_e lava_json_scan_member(const char *p, size_t n, size_t *off,
    int flags, const char **key, size_t *key_len, const char **value,
    size_t *value_len, int *done);

#endif /* LAVA_JSON_SCAN_H */
