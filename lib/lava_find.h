/*
 * The first of two or three given bytes in a run of bytes: what the SSE
 * scanner (a line end: CR or LF) and the tap's event scan (a quote or a
 * backslash inside a JSON string; a quote or a brace outside one) look for
 * on every byte of a stream. On x86-64 (SSE2 is part of the ABI) 16 bytes
 * are compared per step; elsewhere, and for the last bytes, one at a time.
 * Never reads outside p[0..n).
 *
 * Header only (static inline): called once per string or line, with runs
 * of a few dozen bytes, where a call into libc costs more than the search.
 */
#ifndef LAVA_FIND_H
#define LAVA_FIND_H

#include <stddef.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif


/* index of the first byte of p[0..n) that is a or b; n when none */
static inline size_t
lava_find2(const char *p, size_t n, char a, char b)
{
    size_t  i = 0;

#if defined(__SSE2__)
    int      m;
    __m128i  va, vb, v;

    va = _mm_set1_epi8(a);
    vb = _mm_set1_epi8(b);

    for ( /* void */ ; i + 16 <= n; i += 16) {
        v = _mm_loadu_si128((const __m128i *) (p + i));
        m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, va),
                                           _mm_cmpeq_epi8(v, vb)));
        if (m) {
            return i + (size_t) __builtin_ctz((unsigned) m);
        }
    }
#endif

    for ( /* void */ ; i < n; i++) {
        if (p[i] == a || p[i] == b) {
            return i;
        }
    }

    return n;
}


/* index of the first byte of p[0..n) that is a, b or c; n when none */
static inline size_t
lava_find3(const char *p, size_t n, char a, char b, char c)
{
    size_t  i = 0;

#if defined(__SSE2__)
    int      m;
    __m128i  va, vb, vc, v;

    va = _mm_set1_epi8(a);
    vb = _mm_set1_epi8(b);
    vc = _mm_set1_epi8(c);

    for ( /* void */ ; i + 16 <= n; i += 16) {
        v = _mm_loadu_si128((const __m128i *) (p + i));
        m = _mm_movemask_epi8(_mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vb)),
                _mm_cmpeq_epi8(v, vc)));
        if (m) {
            return i + (size_t) __builtin_ctz((unsigned) m);
        }
    }
#endif

    for ( /* void */ ; i < n; i++) {
        if (p[i] == a || p[i] == b || p[i] == c) {
            return i;
        }
    }

    return n;
}

#endif /* LAVA_FIND_H */
