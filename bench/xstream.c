/*
 * Stream translation cost per event (lib/lava_xlate_stream.c), without
 * nginx: one provider stream of N text-delta events (default 100,000) in the
 * shape each provider really sends (OpenAI chat.completion.chunk with
 * id, model, system_fingerprint, obfuscation; Anthropic content_block_delta;
 * Gemini chunks with usageMetadata), fed one event per
 * lava_xlate_stream_feed() call with a fresh output buffer freed after each
 * call, as the module's filter (ngx_http_lava_xlate_filter.c) does. One in
 * 16 texts holds an escape ("\n", "\"", "\u00e9").
 *
 *   xstream [-n EVENTS] [-r ROUNDS] [-d FROM>TO] [-b]
 *
 * -d picks one direction (openai>anthropic, ...; default all six), -b only
 * builds the streams (the base for `perf stat` instruction counts: subtract
 * its count). Environment LAVA_XSTREAM_FAST=0 turns the scanner fast path
 * off (lib/lava_xlate_stream_fast.c; the jansson path for every event).
 * Prints, per direction, the thread CPU time per event of each round and
 * their median, in nanoseconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_clock.h"
#include "lava_xlate_stream.h"

/* lib/lava_xlate_stream.c: 0 turns the fast path off (weak here, so the
 * program also builds against a lib/ from before the fast path, to compare) */
__attribute__((weak)) int  lava_xlate_stream_fast_on = 1;


typedef struct {
    char    *p;
    size_t   len, cap;
    size_t  *ev;        /* end offset of each event */
    size_t   nev, evcap;
} stream_t;


static void
put(stream_t *st, const char *p, size_t n)
{
    if (st->len + n > st->cap) {
        st->cap = (st->len + n) * 2;
        st->p = realloc(st->p, st->cap);
        if (st->p == NULL) {
            perror("realloc");
            exit(1);
        }
    }

    memcpy(st->p + st->len, p, n);
    st->len += n;
}


/* ends an event (one feed) */
static void
cut(stream_t *st)
{
    if (st->nev == st->evcap) {
        st->evcap = st->evcap ? st->evcap * 2 : 1024;
        st->ev = realloc(st->ev, st->evcap * sizeof(size_t));
        if (st->ev == NULL) {
            perror("realloc");
            exit(1);
        }
    }

    st->ev[st->nev++] = st->len;
}


static void
putf(stream_t *st, const char *fmt, const char *text)
{
    char  b[1024];
    int   n = snprintf(b, sizeof(b), fmt, text);

    put(st, b, (size_t) n);
    cut(st);
}


/* the i-th text delta, JSON-escaped as providers write it */
static const char *
text(long i)
{
    static char  b[64];

    switch (i % 16) {
    case 5:
        snprintf(b, sizeof(b), " line\\n%ld", i);
        break;
    case 11:
        snprintf(b, sizeof(b), " \\\"q\\\" caf\\u00e9 %ld", i);
        break;
    default:
        snprintf(b, sizeof(b), " token%ld", i);
        break;
    }

    return b;
}


static void
build(lava_fmt_e from, long n, stream_t *st)
{
    long  i;

    memset(st, 0, sizeof(*st));

    switch (from) {

    case LAVA_FMT_OPENAI:
        putf(st, "data: {\"id\":\"chatcmpl-C1x9yvVbXcH7w3A6qJ1m4aQ2r8sTn\","
             "\"object\":\"chat.completion.chunk\",\"created\":1754551234,"
             "\"model\":\"gpt-4o-mini-2024-07-18\",\"service_tier\":"
             "\"default\",\"system_fingerprint\":\"fp_560af6e559\","
             "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
             "\"content\":\"%s\",\"refusal\":null},\"logprobs\":null,"
             "\"finish_reason\":null}],\"usage\":null,\"obfuscation\":"
             "\"q3JbV\"}\n\n", "");

        for (i = 0; i < n; i++) {
            putf(st, "data: {\"id\":\"chatcmpl-C1x9yvVbXcH7w3A6qJ1m4aQ2r8sTn\","
                 "\"object\":\"chat.completion.chunk\",\"created\":1754551234,"
                 "\"model\":\"gpt-4o-mini-2024-07-18\",\"service_tier\":"
                 "\"default\",\"system_fingerprint\":\"fp_560af6e559\","
                 "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},"
                 "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null,"
                 "\"obfuscation\":\"o00\"}\n\n", text(i));
        }

        putf(st, "data: {\"id\":\"chatcmpl-C1x9yvVbXcH7w3A6qJ1m4aQ2r8sTn\","
             "\"object\":\"chat.completion.chunk\",\"created\":1754551234,"
             "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,"
             "\"delta\":{}%s,\"logprobs\":null,\"finish_reason\":\"stop\"}],"
             "\"usage\":null}\n\n", "");
        putf(st, "data: {\"id\":\"chatcmpl-C1x9yvVbXcH7w3A6qJ1m4aQ2r8sTn\","
             "\"object\":\"chat.completion.chunk\",\"created\":1754551234,"
             "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[],\"usage\":"
             "{\"prompt_tokens\":12,\"completion_tokens\":20,"
             "\"total_tokens\":32}%s}\n\ndata: [DONE]\n\n", "");
        break;

    case LAVA_FMT_ANTHROPIC:
        putf(st, "event: message_start\ndata: {\"type\":\"message_start\","
             "\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":"
             "\"message\",\"role\":\"assistant\",\"content\":[],\"model\":"
             "\"claude-3-5-haiku-20241022\",\"stop_reason\":null,"
             "\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,"
             "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
             "\"output_tokens\":2%s}}}\n\n", "");
        putf(st, "event: content_block_start\ndata: {\"type\":"
             "\"content_block_start\",\"index\":0,\"content_block\":"
             "{\"type\":\"text\",\"text\":\"%s\"}}\n\n", "");
        putf(st, "event: ping\ndata: {\"type\": \"ping\"}%s\n\n", "");

        for (i = 0; i < n; i++) {
            putf(st, "event: content_block_delta\ndata: {\"type\":"
                 "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
                 "\"text_delta\",\"text\":\"%s\"}}\n\n", text(i));
        }

        putf(st, "event: content_block_stop\ndata: {\"type\":"
             "\"content_block_stop\",\"index\":0}%s\n\n", "");
        putf(st, "event: message_delta\ndata: {\"type\":\"message_delta\","
             "\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
             "\"usage\":{\"output_tokens\":15}}%s\n\n", "");
        putf(st, "event: message_stop\ndata: {\"type\":\"message_stop\"}%s"
             "\n\n", "");
        break;

    default:
        for (i = 0; i < n; i++) {
            putf(st, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
                 "\"%s\"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":"
                 "{\"promptTokenCount\":9,\"candidatesTokenCount\":1,"
                 "\"totalTokenCount\":250,\"promptTokensDetails\":[{\"modality\":"
                 "\"TEXT\",\"tokenCount\":9}],\"thoughtsTokenCount\":240},"
                 "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":"
                 "\"Mn2vaJ3gL5i1z7IP0dXN2Qw\"}\r\n\r\n", text(i));
        }

        putf(st, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
             "\".\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
             "\"usageMetadata\":{\"promptTokenCount\":9,\"candidatesTokenCount\":"
             "58,\"totalTokenCount\":307,\"thoughtsTokenCount\":240},"
             "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":"
             "\"Mn2vaJ3gL5i1z7IP0dXN2Qw\"}%s\r\n\r\n", "");
        break;
    }
}


/* ns of thread CPU per event for one pass over the stream */
static double
run(lava_fmt_e from, lava_fmt_e to, const stream_t *st, long n,
    size_t *out_bytes)
{
    size_t                i, start;
    int64_t               t0, t1;
    lava_xlate_buf_t      out;
    lava_xlate_stream_t  *s;

    *out_bytes = 0;
    s = lava_xlate_stream_new(from, to, NULL);
    if (s == NULL) {
        fprintf(stderr, "lava_xlate_stream_new failed\n");
        exit(1);
    }

    t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);

    for (i = 0, start = 0; i < st->nev; start = st->ev[i], i++) {
        out.data = NULL;
        out.len = 0;

        if (lava_xlate_stream_feed(s, st->p + start, st->ev[i] - start, &out)
            != 0)
        {
            fprintf(stderr, "translation failed: %s\n",
                    lava_xlate_stream_error(s));
            exit(1);
        }

        *out_bytes += out.len;
        free(out.data);
    }

    out.data = NULL;
    out.len = 0;
    if (lava_xlate_stream_finish(s, &out) != 0 || !lava_xlate_stream_complete(s)) {
        fprintf(stderr, "the stream did not end properly\n");
        exit(1);
    }
    *out_bytes += out.len;
    free(out.data);

    t1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    lava_xlate_stream_free(s);

    return (double) (t1 - t0) / (double) n;
}


static int
cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}


int
main(int argc, char **argv)
{
    static const char  *names[] = { "openai", "anthropic", "gemini" };
    int                 c, r, rounds = 5, build_only = 0;
    long                n = 100000;
    const char         *dir = NULL, *fast;
    char                name[64];
    double              ns[64];
    size_t              bytes;
    stream_t            st[3];
    lava_fmt_e          from, to;

    while ((c = getopt(argc, argv, "n:r:d:b")) != -1) {
        switch (c) {
        case 'n': n = atol(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        case 'd': dir = optarg; break;
        case 'b': build_only = 1; break;
        default:
            fprintf(stderr, "usage: xstream [-n EVENTS] [-r ROUNDS] "
                            "[-d FROM>TO] [-b]\n");
            return 2;
        }
    }

    if (n < 1 || rounds < 1 || rounds > 64) {
        fprintf(stderr, "xstream: -n >= 1, -r 1..64\n");
        return 2;
    }

    fast = getenv("LAVA_XSTREAM_FAST");
    if (fast != NULL && strcmp(fast, "0") == 0) {
        lava_xlate_stream_fast_on = 0;
    }

    for (from = LAVA_FMT_OPENAI; from <= LAVA_FMT_GEMINI; from++) {
        build(from, n, &st[from]);
    }

    if (build_only) {
        return 0;
    }

    printf("%ld text-delta events per stream, %d rounds, fast path %s\n", n,
           rounds, lava_xlate_stream_fast_on ? "on" : "off");

    for (from = LAVA_FMT_OPENAI; from <= LAVA_FMT_GEMINI; from++) {
        for (to = LAVA_FMT_OPENAI; to <= LAVA_FMT_GEMINI; to++) {
            if (from == to) {
                continue;
            }

            snprintf(name, sizeof(name), "%s>%s", names[from], names[to]);
            if (dir != NULL && strcmp(dir, name) != 0) {
                continue;
            }

            printf("%-20s", name);

            for (r = 0; r < rounds; r++) {
                ns[r] = run(from, to, &st[from], n, &bytes);
                printf(" %7.1f", ns[r]);
            }

            qsort(ns, (size_t) rounds, sizeof(double), cmp_double);
            printf("  median %7.1f ns/event (%zu client bytes)\n",
                   ns[rounds / 2], bytes);
        }
    }

    return 0;
}
