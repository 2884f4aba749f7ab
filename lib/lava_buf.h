/*
 * The bounded buffers of the SSE scanner (an event's data, up to max_event)
 * and of the tap (a JSON body, up to max_json): the buffer grows by doubling
 * up to its bound; past the bound only its tail is kept, as a ring.
 *
 * The ring holds the last cap bytes of what was written, in a buffer of cap
 * bytes that the caller owns. *len is how many bytes are held (at most cap),
 * *pos where the next byte goes; once the ring is full, *pos is also where
 * the oldest byte is.
 *
 * Header only (static inline): called once per run of bytes, not per byte,
 * and no call more than the copies themselves. No I/O; only
 * lava_buf_grow() allocates.
 */
#ifndef LAVA_BUF_H
#define LAVA_BUF_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>


/*
 * Makes *buf (*cap bytes, caller-owned, NULL when 0) hold at least need
 * bytes, need <= max: doubling from min_cap, never beyond max. 0, or -1 when
 * realloc failed (*buf and *cap unchanged).
 */
static inline int
lava_buf_grow(char **buf, size_t *cap, size_t need, size_t min_cap,
    size_t max)
{
    char    *nb;
    size_t   c;

    if (need <= *cap) {
        return 0;
    }

    c = *cap ? *cap : min_cap;

    while (c < need) {
        c *= 2;
    }

    if (c > max) {
        c = max;
    }

    nb = realloc(*buf, c);
    if (nb == NULL) {
        return -1;
    }

    *buf = nb;
    *cap = c;

    return 0;
}


/* Appends p[0..n) to the ring buf[0..cap), cap > 0. */
static inline void
lava_buf_ring_write(char *buf, size_t cap, size_t *len, size_t *pos,
    const char *p, size_t n)
{
    size_t  first;

    if (n >= cap) {
        memcpy(buf, p + n - cap, cap);
        *len = cap;
        *pos = 0;
        return;
    }

    first = cap - *pos;
    if (first > n) {
        first = n;
    }

    memcpy(buf + *pos, p, first);
    memcpy(buf, p + first, n - first);

    *pos = (*pos + n) % cap;
    *len = (*len + n < cap) ? *len + n : cap;
}


static inline void
lava_buf_reverse(char *p, size_t n)
{
    char    c;
    size_t  i;

    for (i = 0; i < n / 2; i++) {
        c = p[i];
        p[i] = p[n - 1 - i];
        p[n - 1 - i] = c;
    }
}


/*
 * Puts the ring in order, oldest byte first, in place (three reversals, no
 * second buffer); *pos is 0 after. A ring not yet full is in order already.
 */
static inline void
lava_buf_ring_linearize(char *buf, size_t cap, size_t len, size_t *pos)
{
    if (len < cap || *pos == 0) {
        return;
    }

    lava_buf_reverse(buf, *pos);
    lava_buf_reverse(buf + *pos, len - *pos);
    lava_buf_reverse(buf, len);
    *pos = 0;
}

#endif
