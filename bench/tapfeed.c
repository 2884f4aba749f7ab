/*
 * The response tap alone (lib/lava_tap.c) on the stream of bench/run's SSE
 * row: 10 OpenAI chunks of 32 bytes of content, the include_usage chunk
 * (with bench/fastmock's 19-digit "t") and [DONE], fed one event per feed
 * as nginx hands the chunks of a chunked answer to the body filter.
 * Prints the time per stream and what the tap read (it must not change);
 * under `valgrind --tool=callgrind` the instructions per stream (this
 * machine's VM has no hardware counters for `perf stat -e instructions`).
 *
 *   build/bench/tapfeed [streams]      (default 200,000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_clock.h"
#include "lava_tap.h"

#define EVENTS  10


int
main(int argc, char **argv)
{
    int         i, r, rounds, nev;
    char        pad[33];
    size_t      evl[EVENTS + 1];
    int64_t     t0, t1;
    lava_tap_t  t;
    static char evs[EVENTS + 1][512];

    rounds = argc > 1 ? atoi(argv[1]) : 200000;
    memset(pad, 'x', 32);
    pad[32] = '\0';

    for (nev = 0; nev < EVENTS; nev++) {
        evl[nev] = snprintf(evs[nev], sizeof(evs[nev]),
            "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\","
            "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":"
            "{\"content\":\"%s\"},\"finish_reason\":null}],\"usage\":null,"
            "\"t\":%lld}\n\n", pad, 1765000000000000000LL + nev);
    }

    evl[nev++] = snprintf(evs[EVENTS], sizeof(evs[EVENTS]),
        "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\","
        "\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,"
        "\"completion_tokens\":20,\"total_tokens\":32},\"t\":%lld}\n\n"
        "data: [DONE]\n\n", 1765000000000000000LL);

    t0 = now_ns(CLOCK_MONOTONIC);

    for (r = 0; r < rounds; r++) {
        if (lava_tap_init(&t, 1, LAVA_USAGE_OPENAI, 0, 0, 0) != 0) {
            return 1;
        }

        t.endpoint = LAVA_EP_CHAT;

        for (i = 0; i < nev; i++) {
            lava_tap_feed(&t, evs[i], evl[i]);
        }

        lava_tap_finish(&t);
        lava_tap_free(&t);
    }

    t1 = now_ns(CLOCK_MONOTONIC);

    printf("%.0f ns per stream; usage seen %d final %d, %lld in, %lld out, "
           "text %zu bytes, ended %d, flags %u, raw %.*s\n",
           (double) (t1 - t0) / rounds, t.usage.seen, t.usage.final,
           (long long) t.usage.input_tokens, (long long) t.usage.output_tokens,
           t.content_bytes, t.ended, t.flags, (int) t.usage.raw_len,
           t.usage.raw);

    return 0;
}
