/*
 * Test support, used by the unit tests and the fuzz targets that hold the
 * translators' fast path against the general one: two outputs are the same
 * when their bytes are, but for the digits of a first "created" member (an
 * OpenAI answer translated from a provider that sends none is stamped with
 * the time of the call, and the two paths may straddle a second).
 * Header only; no I/O.
 */
#ifndef LAVA_XLATE_SAME_H
#define LAVA_XLATE_SAME_H

#include <string.h>     /* memmem: the includer defines _GNU_SOURCE first */


static inline int
lava_xlate_same(const char *a, size_t alen, const char *b, size_t blen)
{
    const char  *ca, *cb, *ea, *eb;

    ca = memmem(a, alen, "\"created\":", 10);
    cb = memmem(b, blen, "\"created\":", 10);

    if (ca == NULL || cb == NULL) {
        return alen == blen && memcmp(a, b, alen) == 0;
    }

    if (ca - a != cb - b || memcmp(a, b, ca - a) != 0) {
        return 0;
    }

    for (ea = ca + 10; ea < a + alen && *ea >= '0' && *ea <= '9'; ea++) {
        /* void */
    }
    for (eb = cb + 10; eb < b + blen && *eb >= '0' && *eb <= '9'; eb++) {
        /* void */
    }

    return (a + alen - ea) == (b + blen - eb)
           && memcmp(ea, eb, a + alen - ea) == 0;
}

#endif /* LAVA_XLATE_SAME_H */
