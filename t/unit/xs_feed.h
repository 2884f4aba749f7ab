/*
 * The stream translator fed in pieces, for the suites that replay streams
 * at every split (check_xlate_stream, check_xlate_stream_fast): cut > 0 two
 * feeds at that offset, cut == 0 whole, cut < 0 one byte at a time, then
 * the finish. The first non-zero return of a feed or the finish is the
 * result; the client bytes are appended to out.
 */
#ifndef XS_FEED_H
#define XS_FEED_H

#include <stddef.h>

#include "lava_xlate_stream.h"


static inline int
xs_feed(lava_xlate_stream_t *s, const char *in, size_t n, long cut,
    lava_xlate_buf_t *out)
{
    int     rc, first;
    size_t  i;

    first = 0;

    if (cut < 0) {
        for (i = 0; i < n; i++) {
            rc = lava_xlate_stream_feed(s, in + i, 1, out);
            first = first ? first : rc;
        }

    } else {
        rc = lava_xlate_stream_feed(s, in, (size_t) cut, out);
        first = first ? first : rc;
        rc = lava_xlate_stream_feed(s, in + cut, n - (size_t) cut, out);
        first = first ? first : rc;
    }

    rc = lava_xlate_stream_finish(s, out);

    return first ? first : rc;
}

#endif /* XS_FEED_H */
