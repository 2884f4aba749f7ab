/*
 * Server-sent events scanner. Fed bytes in any split; calls back once per
 * complete event with its `event:` name and its `data:` lines joined by '\n'.
 * Modelled on hiredis read.c: no I/O, explicit limits, sticky error.
 *
 * Line endings: LF, CRLF or CR, also when the CR and LF arrive in different
 * feeds. Comments (lines starting ':') and unknown fields are ignored. An event
 * ends at a blank line; a `data:` line that follows another event's data with
 * no blank line between is still appended (spec behaviour). An event whose data
 * exceeds max_event bytes is skipped whole and counted in `skipped`; the
 * scanner keeps working. Memory: one buffer that grows up to max_event,
 * allocated only for an event that spans feeds: the data of an event whose
 * bytes all arrive in one feed (one data line, or all of them) is handed
 * to the callback from the caller's bytes, without a copy.
 * The event name is "" when the event had no `event:` line; the data is not
 * NUL-terminated (payload_len counts it). A UTF-8 BOM at the very start is
 * skipped. max_event 0 selects 64 KiB.
 */
#ifndef LAVA_SSE_H
#define LAVA_SSE_H

#include <stddef.h>

#define LAVA_SSE_OK      0
#define LAVA_SSE_ERR    -1      /* out of memory or callback asked to stop */

/* Return 0 to go on, non-zero to stop (sticky error). */
typedef int (*lava_sse_event_pt)(void *data, const char *event,
    size_t event_len, const char *payload, size_t payload_len);

/*
 * Optional (lava_sse_set_tail): an event over max_event is still skipped and
 * counted, but the last bytes of its data (at most max_event, kept in the
 * same buffer used as a ring) are handed to on_tail when it ends, so that a
 * usage object written at the end of a huge event can still be read. The
 * tail starts anywhere, mid-line or mid-character.
 */
typedef lava_sse_event_pt  lava_sse_tail_pt;

typedef struct {
    lava_sse_event_pt  on_event;
    void              *data;
    size_t             max_event;      /* bytes of data kept per event */

    char              *buf;            /* data of the event being read (owned) */
    size_t             len;            /* bytes of data, in buf or in ext */
    const char        *ext;            /* or: the data is ext[0..len), bytes
                                          of the current feed (not owned),
                                          copied to buf before the feed
                                          returns or more data is added */
    size_t             cap;
    char               event[64];      /* event name, cut at 63 bytes */
    size_t             event_len;

    char               line[16];       /* field name of the current line */
    size_t             line_len;
    int                state;          /* private */
    int                cr;             /* last byte was CR */
    int                has_data;
    int                too_big;        /* current event over max_event */

    unsigned long      events;         /* events delivered */
    unsigned long      skipped;        /* events over max_event */
    int                err;            /* sticky */

    lava_sse_tail_pt   on_tail;        /* NULL: big events are dropped */
    size_t             tail_pos;       /* ring write position */
} lava_sse_t;

void lava_sse_init(lava_sse_t *s, size_t max_event, lava_sse_event_pt cb,
    void *data);
void lava_sse_set_tail(lava_sse_t *s, lava_sse_tail_pt cb);
int lava_sse_feed(lava_sse_t *s, const char *p, size_t n);
/* End of stream: delivers a pending event that lacked its final blank line. */
int lava_sse_finish(lava_sse_t *s);
void lava_sse_free(lava_sse_t *s);

#endif
