/*
 * Stream translation: a provider's SSE answer into the client's SSE shape,
 * event by event, for the OpenAI Chat Completions stream
 * (chat.completion.chunk ... data: [DONE]), the Anthropic Messages stream
 * (message_start, content_block_start/_delta/_stop, message_delta,
 * message_stop, ping, error) and the Gemini streamGenerateContent?alt=sse
 * stream (running GenerateContentResponse chunks, no end marker).
 *
 * Fed the provider's bytes in any split; every complete provider event is
 * decoded (jansson, one event at a time) into the internal form of
 * lava_xlate_stream_int.h and written at once in the client's shape, so no
 * more is held than one event, the open tool call's arguments when the client
 * speaks Gemini (a Gemini functionCall carries whole arguments) and the
 * finish reason and usage until the stream's end. Text and tool-call argument
 * deltas, finish reasons, usage (cached, cache-write and reasoning tokens),
 * the response id and model, and error events are translated; what is not
 * (thinking text, server tool blocks, a second choice) is listed in
 * docs/translation-streams.md.
 *
 * Same format on both sides: the bytes go through unchanged.
 *
 * Errors: a provider's error event is translated (it is not a failure of the
 * translator: feed returns 0, later events are ignored). A failure of the
 * translator itself (an event that is not the JSON its format promises, an
 * event or a tool call's arguments over the limits below, a second choice,
 * out of memory) is sticky: the call that meets it appends one error event in
 * the client's shape ("stream translation failed: <what>") to out, returns
 * -1, and every later feed or finish returns -1 and appends nothing.
 * lava_xlate_stream_error() gives the message (secret-free: it names the
 * failure, never the provider's bytes).
 *
 * Ownership: the stream is malloc'd by lava_xlate_stream_new() and freed by
 * lava_xlate_stream_free(); out->data is malloc'd (realloc'd to grow), the
 * caller frees it. With out NULL the client bytes stay in the stream's own
 * buffer (grown once, then reused) until lava_xlate_stream_take(): no
 * allocation per call for a caller that copies them anyway. Pure C, no I/O,
 * no nginx types.
 */
#ifndef LAVA_XLATE_STREAM_H
#define LAVA_XLATE_STREAM_H

#include <stddef.h>

#include "lava_xlate.h"

/* Bytes of one provider event's data (an event over it is a failure, never a
 * silent drop). */
#define LAVA_XLATE_STREAM_MAX_EVENT  (1024 * 1024)

/* Bytes of one tool call's arguments held for a Gemini client. */
#define LAVA_XLATE_STREAM_MAX_ARGS   (1024 * 1024)

/* Options (lava_xlate_stream_set_opts). */
#define LAVA_XLATE_STREAM_NO_USAGE   0x1   /* OpenAI client: no usage chunk
                                              (it did not ask for
                                              stream_options.include_usage) */

typedef struct lava_xlate_stream_s  lava_xlate_stream_t;

/*
 * model: the model name the client is shown (copied; NULL: the provider's).
 * NULL when out of memory or a format is unknown.
 */
lava_xlate_stream_t *lava_xlate_stream_new(lava_fmt_e from, lava_fmt_e to,
    const char *model);

/* Appends the client bytes for in[0..len) to out (NULL: keeps them, see
 * lava_xlate_stream_take): 0, or -1 (see above). */
int lava_xlate_stream_feed(lava_xlate_stream_t *s, const char *in, size_t len,
    lava_xlate_buf_t *out);

/*
 * At the provider's EOF: a last event that lacked its blank line, then what
 * ends the client's stream if the provider's stream ended properly but
 * without its end marker: a Gemini stream always (it has none), any other
 * after its finish reason (an OpenAI-compatible stream without [DONE]). The
 * end of OpenAI ([DONE]) and Anthropic (message_stop) streams is written
 * when it is read, not held for EOF. A stream cut before its finish reason
 * gets no end: the client sees it cut. 0 or -1.
 */
int lava_xlate_stream_finish(lava_xlate_stream_t *s, lava_xlate_buf_t *out);

void lava_xlate_stream_free(lava_xlate_stream_t *s);

/*
 * The client bytes kept by feed and finish calls with out NULL since the
 * last take (*len 0: none), in the stream's buffer: valid until the next
 * feed, finish or free.
 */
const char *lava_xlate_stream_take(lava_xlate_stream_t *s, size_t *len);

/* LAVA_XLATE_STREAM_* options; call before the first feed. */
void lava_xlate_stream_set_opts(lava_xlate_stream_t *s, unsigned opts);

/*
 * The "created" of OpenAI chunks when the provider gives none (Anthropic,
 * Gemini), unix seconds; default: the time of lava_xlate_stream_new().
 */
void lava_xlate_stream_set_created(lava_xlate_stream_t *s, long long created);

/* 1 once the client's stream has its end (the provider's end marker, or
 * EOF after a finish reason). */
int lava_xlate_stream_complete(const lava_xlate_stream_t *s);

/* The sticky failure's message, or NULL. */
const char *lava_xlate_stream_error(const lava_xlate_stream_t *s);

/*
 * 1 (the default): the common text-delta events are decoded by the scanner
 * (lib/lava_xlate_stream_fast.c), the rest with jansson; 0: every event with
 * jansson. The client bytes are the same either way: the unit tests, the
 * fuzz target and bench/xstream.c compare both paths.
 */
extern int  lava_xlate_stream_fast_on;

#endif
