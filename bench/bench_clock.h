/*
 * The clock of the benchmark programs (fastmock, sseclient): both read it on
 * the same machine, so CLOCK_REALTIME stamps written by one can be compared
 * by the other. Header only; each program is one .c file.
 */
#ifndef BENCH_CLOCK_H
#define BENCH_CLOCK_H

#include <stdint.h>
#include <time.h>

/* c in nanoseconds */
static inline int64_t
now_ns(clockid_t c)
{
    struct timespec ts;

    clock_gettime(c, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
