/*
 * What the response tap learns from one SSE event's data (or a JSON body)
 * without a parse, in one pass over its bytes (lib/lava_tap.c decides what
 * to do with it):
 *
 *  - text_bytes: the bytes of string values under a generated-text key
 *    (content, text, delta, arguments, partial_json, thinking, reasoning,
 *    reasoning_content, refusal, transcript), as escaped in the JSON, for
 *    an estimate when the usage never comes. A string followed by ':' is a
 *    key; a '{' or '}' outside a string, or a value under another key,
 *    stops the counting; a string cut by the end is not counted.
 *  - found: the tokens that decide whether the data is parsed at all:
 *    LAVA_TAP_SCAN_USAGE    a key whose name holds "usage" right before its
 *                           letters end ("usage", "usageMetadata") and whose
 *                           value is not null (or is cut by the end)
 *    LAVA_TAP_SCAN_ERROR    "error" with both quotes, anywhere
 *    LAVA_TAP_SCAN_WSC      "web_search_call" with both quotes
 *    LAVA_TAP_SCAN_GROUNDING "groundingMetadata" with both quotes
 *    Byte patterns, exactly as a substring search finds them: a quote is
 *    any '"' byte, escaped or not.
 *
 * lava_tap_scan_ref() is the reference, the byte loops and substring
 * searches the tap used before: the Check suite check_tap and the tap fuzz
 * target compare the two on every input. No I/O, no allocation.
 */
#ifndef LAVA_TAP_SCAN_H
#define LAVA_TAP_SCAN_H

#include <stddef.h>

#define LAVA_TAP_SCAN_USAGE       0x01
#define LAVA_TAP_SCAN_ERROR       0x02
#define LAVA_TAP_SCAN_WSC         0x04
#define LAVA_TAP_SCAN_GROUNDING   0x08

typedef struct {
    size_t    text_bytes;
    unsigned  found;            /* LAVA_TAP_SCAN_* */
} lava_tap_scan_t;

void lava_tap_scan(const char *p, size_t n, lava_tap_scan_t *r);
void lava_tap_scan_ref(const char *p, size_t n, lava_tap_scan_t *r);

/* the first occurrence of n[0..nn) in h[0..hn), NULL when none */
const char *lava_tap_memmem(const char *h, size_t hn, const char *n,
    size_t nn);

#endif /* LAVA_TAP_SCAN_H */
