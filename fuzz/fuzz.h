/*
 * Shared by the fuzz targets: a check that aborts (so libFuzzer and the
 * replay driver both report it with the input that caused it) and a
 * deterministic way to cut one input into feeds.
 */
#ifndef LAVA_FUZZ_H
#define LAVA_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, what)                                               \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", what,         \
                    __FILE__, __LINE__);                                     \
            abort();                                                         \
        }                                                                    \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Feed sizes from a seed byte: the same input is fed once whole and once cut
 * into pieces of 1..16 bytes, the cuts chosen by a small LCG seeded from the
 * input, so a target can compare both results (bytes in any split must give
 * the same answer).
 */
static inline size_t
fuzz_next_cut(uint32_t *state, size_t left)
{
    size_t  n;

    *state = *state * 1103515245u + 12345u;
    n = 1 + ((*state >> 16) & 15);
    return n < left ? n : left;
}

#endif
