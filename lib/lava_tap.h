/*
 * Response tap: everything the module learns from a response body. Fed the
 * body bytes exactly as they pass to the client (never modifies or holds
 * them), it finds the usage in SSE events or in a JSON body.
 *
 * Memory is bounded whatever the body size: SSE keeps one event (max_event);
 * JSON keeps the body up to max_json and past that only the last tail_max
 * bytes, where the usage object of OpenAI/Anthropic-style bodies sits (the
 * model is then read from the first max_json bytes). Both buffers are freed
 * by lava_tap_finish; lava_tap_free is still needed after an unfinished tap.
 *
 * SSE events whose data has no non-null "usage" key (nor an "error", nor a
 * billed tool call: "web_search_call", "groundingMetadata") are not parsed. An event whose data lines hold several documents (a missing blank
 * line) is read line by line; a "JSON" body that is really an event stream is
 * rescanned as SSE. An event over max_event is skipped (flagged), but the
 * usage object at the end of its last max_event bytes is still read (the
 * Responses API's response.completed repeats the whole output before it).
 */
#ifndef LAVA_TAP_H
#define LAVA_TAP_H

#include "lava_sse.h"
#include "lava_usage.h"

#define LAVA_TAP_F_EVENT_TOO_BIG   0x01
#define LAVA_TAP_F_JSON_TOO_BIG    0x02   /* only the tail was searched */
#define LAVA_TAP_F_UNPARSED        0x04   /* body/event was not valid JSON */
#define LAVA_TAP_F_COMPRESSED      0x08   /* set by the caller */
#define LAVA_TAP_F_BODY_IN_FILE    0x10   /* set by the caller */

typedef struct {
    int                  sse;            /* 1: text/event-stream */
    lava_usage_format_e  fmt;
    int                  endpoint;       /* lava_endpoint_e; set after init,
                                            LAVA_EP_OTHER by default */
    lava_sse_t           scanner;

    char                *json;           /* owned; JSON body or tail ring */
    size_t               json_len;
    size_t               json_cap;
    size_t               max_json;
    size_t               tail_max;
    int                  tail_mode;
    size_t               tail_pos;       /* ring write position in tail mode */
    size_t               total;          /* body bytes seen */

    /*
     * Bytes of generated text seen (string values of content, text, delta,
     * arguments, partial_json, thinking, reasoning... keys, as escaped in
     * the JSON), for an estimate when the usage is missing or partial.
     * SSE: every event; JSON: the body kept (past max_json: the whole body
     * size, an upper bound), not counted when the body reported its final
     * usage (no estimate is made then).
     */
    size_t               content_bytes;

    /*
     * OpenAI-format JSON bodies: the string tokens "web_search_call" (an
     * unescaped quote on both sides: only a JSON value or key, never text
     * inside a string) in the whole body, matched across feeds. Used when
     * the body was too big to keep: the Responses API's web search items
     * sit before the tail that is read. An upper bound: it counts the
     * items that only open or search a page of results too.
     */
    unsigned             wsc_matched;    /* bytes of the token matched */
    int                  wsc_escape;     /* the byte before was a backslash
                                            (escaping, not escaped) */
    int64_t              wsc_count;

    lava_usage_t         usage;
    unsigned             flags;          /* LAVA_TAP_F_* */
    int                  finished;

    /*
     * SSE: the stream's last event was seen (lava_tap_on_event): data
     * [DONE], an Anthropic message_stop, a Responses API
     * response.completed/incomplete/failed, a Cohere message-end, or a
     * Gemini chunk with a finishReason (Gemini has no terminator). A
     * client that stops reading there has had the whole answer.
     */
    int                  ended;
} lava_tap_t;

/* max_event / max_json / tail_max: 0 selects the defaults 64 KiB/1 MiB/64 KiB */
int lava_tap_init(lava_tap_t *t, int sse, lava_usage_format_e fmt,
    size_t max_event, size_t max_json, size_t tail_max);
void lava_tap_feed(lava_tap_t *t, const char *p, size_t n);
void lava_tap_finish(lava_tap_t *t);     /* idempotent */
void lava_tap_free(lava_tap_t *t);
/* "event_too_big,json_too_big" for the event's tap_flags field; buf >= 96 */
size_t lava_tap_flags_str(unsigned flags, char *buf, size_t size);

#endif
