/*
 * Server-sent events scanner (see lava_sse.h for the contract).
 *
 * A byte-at-a-time state machine, so that any split of the input gives the
 * same events: the only state carried between feeds is the state number, the
 * field name read so far, the "last byte was CR" bit and the event being
 * built. Values are copied in runs up to the next line end.
 */

#include <stdlib.h>
#include <string.h>

#include "lava_sse.h"
#include "lava_buf.h"
#include "lava_find.h"


#define LAVA_SSE_DEFAULT_MAX  65536
#define LAVA_SSE_MIN_CAP      1024

enum {
    S_BOM0 = 0,     /* start of stream: a UTF-8 BOM may come first */
    S_BOM1,         /* EF seen */
    S_BOM2,         /* EF BB seen */
    S_LINE,         /* start of a line */
    S_FIELD,        /* reading the field name */
    S_SP_DATA,      /* after "data:", one space may be skipped */
    S_DATA,
    S_SP_EVENT,     /* after "event:" */
    S_EVENT,
    S_SKIP          /* comment or unknown field: ignored to the line end */
};


static void
lava_sse_reset_event(lava_sse_t *s)
{
    s->ext = NULL;
    s->len = 0;
    s->tail_pos = 0;
    s->has_data = 0;
    s->too_big = 0;
    s->event_len = 0;
    s->event[0] = '\0';
}


static void
lava_sse_dispatch(lava_sse_t *s)
{
    int  rc;

    if (!s->has_data) {
        /* spec: a blank line after no data line dispatches nothing */
        lava_sse_reset_event(s);
        return;
    }

    if (s->too_big) {
        s->skipped++;
        rc = 0;

        if (s->on_tail && s->len) {
            lava_buf_ring_linearize(s->buf, s->cap, s->len, &s->tail_pos);
            s->event[s->event_len] = '\0';
            rc = s->on_tail(s->data, s->event, s->event_len, s->buf, s->len);
        }

        lava_sse_reset_event(s);

        if (rc != 0) {
            s->err = 1;
        }

        return;
    }

    s->events++;
    s->event[s->event_len] = '\0';

    rc = s->on_event ? s->on_event(s->data, s->event, s->event_len,
                                   s->ext ? s->ext : s->buf ? s->buf : "",
                                   s->len)
                     : 0;

    lava_sse_reset_event(s);

    if (rc != 0) {
        s->err = 1;
    }
}


/* The data held in the caller's bytes (ext) copied to the buffer: the
 * feed is about to return, or more data follows. 0, or -1 (err set). */
static int
lava_sse_own(lava_sse_t *s)
{
    if (lava_buf_grow(&s->buf, &s->cap, s->len, LAVA_SSE_MIN_CAP,
                      s->max_event)
        != 0)
    {
        s->err = 1;
        return -1;
    }

    memcpy(s->buf, s->ext, s->len);
    s->ext = NULL;

    return 0;
}


/* Appends to the data of the current event; past max_event the event is
 * marked and its data dropped, so memory never grows beyond max_event. */
static void
lava_sse_append(lava_sse_t *s, const char *p, size_t n)
{
    char  *nb;

    if (n == 0) {
        return;
    }

    if (s->ext && lava_sse_own(s) != 0) {
        return;
    }

    if (s->len == 0 && !s->too_big && n <= s->max_event) {
        /* the event's first data: kept where it is until the event is
         * dispatched, or the feed returns, or more data follows */
        s->ext = p;
        s->len = n;
        return;
    }

    if (s->too_big) {
        if (s->on_tail && s->cap) {
            lava_buf_ring_write(s->buf, s->cap, &s->len, &s->tail_pos, p, n);
        }

        return;
    }

    if (n > s->max_event - s->len) {
        s->too_big = 1;

        if (s->on_tail == NULL) {
            s->len = 0;
            return;
        }

        /* the event's data so far stays as the start of the tail ring, in
         * a buffer of exactly max_event bytes */
        if (s->cap < s->max_event) {
            nb = realloc(s->buf, s->max_event);
            if (nb == NULL) {
                s->err = 1;
                return;
            }

            s->buf = nb;
            s->cap = s->max_event;
        }

        s->tail_pos = s->len % s->cap;
        lava_buf_ring_write(s->buf, s->cap, &s->len, &s->tail_pos, p, n);
        return;
    }

    if (lava_buf_grow(&s->buf, &s->cap, s->len + n, LAVA_SSE_MIN_CAP,
                      s->max_event)
        != 0)
    {
        s->err = 1;
        return;
    }

    memcpy(s->buf + s->len, p, n);
    s->len += n;
}


static void
lava_sse_start_data_line(lava_sse_t *s)
{
    if (s->has_data) {
        lava_sse_append(s, "\n", 1);
    }

    s->has_data = 1;
}


static int
lava_sse_field_is(lava_sse_t *s, const char *name, size_t len)
{
    return s->line_len == len && memcmp(s->line, name, len) == 0;
}


static void
lava_sse_end_of_line(lava_sse_t *s)
{
    switch (s->state) {

    case S_BOM0:
    case S_LINE:
        lava_sse_dispatch(s);
        break;

    case S_BOM1:
    case S_BOM2:
        /* a partial BOM alone on a line: an unknown field, ignored */
        break;

    case S_FIELD:
        /* a field name without a colon has an empty value */
        if (lava_sse_field_is(s, "data", 4)) {
            lava_sse_start_data_line(s);

        } else if (lava_sse_field_is(s, "event", 5)) {
            s->event_len = 0;
        }

        break;

    default:
        break;
    }

    s->state = S_LINE;
}


static void
lava_sse_field_end(lava_sse_t *s)
{
    if (lava_sse_field_is(s, "data", 4)) {
        lava_sse_start_data_line(s);
        s->state = S_SP_DATA;

    } else if (lava_sse_field_is(s, "event", 5)) {
        s->event_len = 0;
        s->state = S_SP_EVENT;

    } else {
        s->state = S_SKIP;
    }
}


static void
lava_sse_field_byte(lava_sse_t *s, char c)
{
    /* names longer than the buffer are unknown fields: keep the length
     * past any known name so that they never match */
    if (s->line_len < sizeof(s->line)) {
        s->line[s->line_len] = c;
    }

    if (s->line_len <= sizeof(s->line)) {
        s->line_len++;
    }
}


void
lava_sse_init(lava_sse_t *s, size_t max_event, lava_sse_event_pt cb,
    void *data)
{
    memset(s, 0, sizeof(lava_sse_t));

    s->on_event = cb;
    s->data = data;
    s->max_event = max_event ? max_event : LAVA_SSE_DEFAULT_MAX;
    s->state = S_BOM0;
}


void
lava_sse_set_tail(lava_sse_t *s, lava_sse_tail_pt cb)
{
    s->on_tail = cb;
}


int
lava_sse_feed(lava_sse_t *s, const char *p, size_t n)
{
    size_t         i, j;
    unsigned char  c;

    for (i = 0; i < n && !s->err; i++) {
        c = (unsigned char) p[i];

        if (s->cr) {
            s->cr = 0;

            if (c == '\n') {
                /* the LF of a CRLF, possibly in the next feed */
                continue;
            }
        }

        if (c == '\r' || c == '\n') {
            lava_sse_end_of_line(s);
            s->cr = (c == '\r');
            continue;
        }

        switch (s->state) {

        case S_BOM0:
            if (c == 0xEF) {
                s->state = S_BOM1;
                break;
            }

            s->state = S_LINE;
            goto line;

        case S_BOM1:
            if (c == 0xBB) {
                s->state = S_BOM2;
                break;
            }

            /* not a BOM: the EF starts a field name */
            s->line_len = 0;
            lava_sse_field_byte(s, (char) 0xEF);
            s->state = S_FIELD;
            goto field;

        case S_BOM2:
            if (c == 0xBF) {
                s->state = S_LINE;
                break;
            }

            s->line_len = 0;
            lava_sse_field_byte(s, (char) 0xEF);
            lava_sse_field_byte(s, (char) 0xBB);
            s->state = S_FIELD;
            goto field;

        case S_LINE:
        line:
            if (c == ':') {
                s->state = S_SKIP;      /* comment */
                break;
            }

            s->line_len = 0;
            s->state = S_FIELD;
            /* fall through */

        case S_FIELD:
        field:
            if (c == ':') {
                lava_sse_field_end(s);
                break;
            }

            lava_sse_field_byte(s, (char) c);
            break;

        case S_SP_DATA:
            s->state = S_DATA;

            if (c == ' ') {
                break;
            }

            /* fall through */

        case S_DATA:
            j = i + lava_find2(p + i, n - i, '\r', '\n');

            lava_sse_append(s, p + i, j - i);
            i = j - 1;
            break;

        case S_SP_EVENT:
            s->state = S_EVENT;

            if (c == ' ') {
                break;
            }

            /* fall through */

        case S_EVENT:
            if (s->event_len < sizeof(s->event) - 1) {
                s->event[s->event_len++] = (char) c;
            }

            break;

        default: /* S_SKIP */
            j = i + lava_find2(p + i, n - i, '\r', '\n');

            i = j - 1;
            break;
        }
    }

    if (s->ext && !s->err) {
        /* the event goes on in the next feed: its data is ours now */
        (void) lava_sse_own(s);
    }

    return s->err ? LAVA_SSE_ERR : LAVA_SSE_OK;
}


int
lava_sse_finish(lava_sse_t *s)
{
    if (s->err) {
        return LAVA_SSE_ERR;
    }

    if (s->state != S_LINE && s->state != S_BOM0) {
        /* the last line lacked its line end */
        lava_sse_end_of_line(s);
    }

    if (s->has_data) {
        lava_sse_dispatch(s);
    }

    lava_sse_reset_event(s);
    s->cr = 0;
    s->state = S_LINE;

    return s->err ? LAVA_SSE_ERR : LAVA_SSE_OK;
}


void
lava_sse_free(lava_sse_t *s)
{
    free(s->buf);
    s->buf = NULL;
    s->ext = NULL;
    s->len = 0;
    s->cap = 0;
}
