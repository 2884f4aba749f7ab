/*
 * The tail ring of the SSE scanner (an event over max_event) and of the tap
 * (a JSON body over max_json): the last cap bytes of what was written, kept
 * in a buffer of cap bytes that the caller owns. *len is how many bytes are
 * held (at most cap), *pos where the next byte goes; once the ring is full,
 * *pos is also where the oldest byte is.
 *
 * Header only (static inline): written once per run of bytes, not per byte,
 * and no call more than the copies themselves. No allocation, no I/O.
 */
#ifndef LAVA_RING_H
#define LAVA_RING_H

#include <stddef.h>
#include <string.h>


/* Appends p[0..n) to the ring buf[0..cap), cap > 0. */
static inline void
lava_ring_write(char *buf, size_t cap, size_t *len, size_t *pos,
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
lava_ring_reverse(char *p, size_t n)
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
lava_ring_linearize(char *buf, size_t cap, size_t len, size_t *pos)
{
    if (len < cap || *pos == 0) {
        return;
    }

    lava_ring_reverse(buf, *pos);
    lava_ring_reverse(buf + *pos, len - *pos);
    lava_ring_reverse(buf, len);
    *pos = 0;
}

#endif
