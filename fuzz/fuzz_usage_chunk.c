/*
 * The include_usage chunk (lib/lava_usage_chunk.c): the bytes of a stream as
 * an OpenAI-compatible provider sent them. Checks: the event ends are the
 * same whether the bytes come whole or cut into pieces (fuzz_next_cut), each
 * one within what was fed; the verdict on each event is 0 or 1, reads
 * nothing past the event (an exactly sized copy, under ASan), names both
 * keys when it is 1, and stays 1 when the event grows (a prefix that is the
 * chunk makes every longer event the chunk).
 */
#include <string.h>

#include "fuzz.h"
#include "lava_usage_chunk.h"

#define ENDS_MAX  4096


/* lower-case needle, ASCII case-insensitive */
static int
has_key(const char *p, size_t n, const char *key)
{
    size_t  i, j, k;

    k = strlen(key);

    for (i = 0; i + k <= n; i++) {
        for (j = 0; j < k; j++) {
            unsigned char c = (unsigned char) p[i + j];

            if (c >= 'A' && c <= 'Z') {
                c |= 0x20;
            }

            if (c != (unsigned char) key[j]) {
                break;
            }
        }

        if (j == k) {
            return 1;
        }
    }

    return 0;
}


/* the verdict on an exact copy of p[0..n) */
static int
only(const uint8_t *p, size_t n)
{
    int    rc;
    char  *copy;

    copy = malloc(n ? n : 1);
    FUZZ_CHECK(copy != NULL, "malloc");
    memcpy(copy, p, n);
    rc = lava_usage_chunk_only(copy, n);
    free(copy);

    FUZZ_CHECK(rc == 0 || rc == 1, "verdict in range");
    FUZZ_CHECK(rc == 0 || (has_key((const char *) p, n, "\"choices\"")
                           && has_key((const char *) p, n, "\"usage\"")),
               "a chunk names both keys");

    return rc;
}


/* event ends of data fed whole (seed 0) or in pieces */
static size_t
cut_all(const uint8_t *data, size_t size, uint32_t seed, size_t *ends)
{
    size_t              off, piece, k, n, ne;
    uint32_t            st;
    lava_usage_chunk_t  c;

    lava_usage_chunk_init(&c);
    st = seed;
    ne = 0;

    for (off = 0; off < size; off += piece) {
        piece = seed ? fuzz_next_cut(&st, size - off) : size - off;

        for (k = 0; k < piece; k += n) {
            n = lava_usage_chunk_cut(&c, (const char *) data + off + k,
                                     piece - k);
            if (n == 0) {
                break;
            }

            FUZZ_CHECK(n <= piece - k, "an end within the feed");

            if (ne < ENDS_MAX) {
                ends[ne] = off + k + n;
            }

            ne++;
        }
    }

    return ne;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t    i, ne, ns, from, len, half;
    uint32_t  seed;
    static size_t  whole[ENDS_MAX], split[ENDS_MAX];

    seed = size ? 1u + data[0] : 1u;

    ne = cut_all(data, size, 0, whole);
    ns = cut_all(data, size, seed, split);

    FUZZ_CHECK(ne == ns, "as many events in any split");

    if (ne > ENDS_MAX) {
        ne = ENDS_MAX;
    }

    from = 0;

    for (i = 0; i < ne; i++) {
        FUZZ_CHECK(whole[i] == split[i], "the same ends in any split");
        FUZZ_CHECK(whole[i] > from && whole[i] <= size, "ends in order");

        len = whole[i] - from;
        half = len / 2;

        if (only(data + from, half) == 1) {
            FUZZ_CHECK(only(data + from, len) == 1, "a chunk stays one");

        } else {
            (void) only(data + from, len);
        }

        from = whole[i];
    }

    /* the rest, and everything as one event */
    (void) only(data + from, size - from);
    (void) only(data, size);

    return 0;
}
