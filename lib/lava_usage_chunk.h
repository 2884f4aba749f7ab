/*
 * The include_usage chunk of an OpenAI-compatible stream.
 *
 * When the gateway itself added stream_options.include_usage to a streaming
 * chat request, the provider ends the stream with one extra SSE event whose
 * JSON has an empty "choices" array and a "usage" object; the module removes
 * that event before the client sees it (ngx_http_lava_strip.c). This is the
 * byte-scanning half of that filter:
 *
 *  - lava_usage_chunk_cut() is fed the stream's bytes in any split and says
 *    where each event ends (after the line end of its blank line; CR, LF and
 *    CRLF line ends). The state is two bits; nothing is copied or held.
 *  - lava_usage_chunk_only() says whether the raw bytes of one event (its
 *    "data:" lines and all) are that chunk.
 *
 * No I/O, no allocation; every scan stays within the n bytes given (no NUL
 * terminator needed or read).
 */
#ifndef LAVA_USAGE_CHUNK_H
#define LAVA_USAGE_CHUNK_H

#include <stddef.h>

/*
 * Bytes of an event the strip filter holds (copies) while it waits for the
 * event's end: an event split across buffers that grows past this is never
 * the usage chunk (those are a few hundred bytes) and goes through.
 */
#define LAVA_USAGE_CHUNK_MAX  4096

typedef struct {
    unsigned  bol:1;            /* at the start of a line */
    unsigned  cr:1;             /* the last byte was CR */
} lava_usage_chunk_t;


/* Before the first byte of a stream. */
void lava_usage_chunk_init(lava_usage_chunk_t *c);

/*
 * Scans p[0..n) for the end of the current event. Returns the number of
 * bytes up to and including the line end that ends it (1..n), or 0 when the
 * event goes on past p + n (all n bytes were scanned). After a non-zero
 * return the caller continues with p + that many bytes: the next event.
 * An empty line at the start of a stream, or one more after an event's
 * blank line, is an event of its own (a single line end).
 */
size_t lava_usage_chunk_cut(lava_usage_chunk_t *c, const char *p, size_t n);

/*
 * 1: the event p[0..n) is the usage-only chunk: it has a "choices" key whose
 * value is an empty array and, anywhere, a "usage" key whose value is an
 * object; 0 otherwise. Keys are matched without regard to ASCII case, and
 * JSON whitespace is allowed around ':' and inside the "[ ]". Inside JSON
 * strings quotes are escaped, so "choices" and "usage" with both quotes only
 * occur as keys (or at the end of a string holding an escaped quote, which
 * a provider's usage chunk does not have).
 */
int lava_usage_chunk_only(const char *p, size_t n);

#endif
