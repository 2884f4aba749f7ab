/*
 * The usage of an OpenAI-shaped answer read without jansson: the request
 * path's common documents -- a chat completion body, the include_usage
 * chunk of a stream, a body or chunk in the input_tokens/output_tokens
 * shape -- read from the text with lib/lava_json_scan.c, the usage object
 * kept (raw) as jansson's compact dump of it would write it.
 *
 * Where it cannot be sure to read what lava_usage.c's jansson parser reads
 * it says so (LAVA_USAGE_SCAN_UNSURE) before touching u, and the caller
 * parses as before: no usage object (Groq's x_groq, Moonshot's
 * choices[0].usage, a transcription's duration), a Responses API event or
 * output ("type", "output"), images and transcriptions, a chunk whose
 * choices are still open, strings it reads or keeps that hold an escape,
 * reals and "-0" in the usage object (jansson rewrites them), a name twice
 * in the usage object, a usage object that would not fit raw, anything the
 * scanner leaves to jansson. The fuzz targets fuzz_usage_openai and
 * fuzz_usage_ep and the Check suite check_json_scan compare it with the
 * whole-document parse (lava_usage_parse_full).
 *
 * Also the two setters lava_usage.c's parsers share with it.
 */
#ifndef LAVA_USAGE_SCAN_H
#define LAVA_USAGE_SCAN_H

#include "lava_usage.h"

/* counters above this are not token counts (and could overflow sums) */
#define LAVA_USAGE_COUNT_MAX  ((int64_t) 1 << 50)

#define LAVA_USAGE_SCAN_UNSURE  2

/*
 * json: one trimmed, non-empty document of endpoint ep. 1 usage found,
 * 0 none, -1 bad types, as lava_usage_parse_ep() (u->seen left to it), or
 * LAVA_USAGE_SCAN_UNSURE with u untouched.
 */
int lava_usage_scan_openai(lava_usage_t *u, int ep, const char *json,
    size_t len);

/*
 * The same for an Anthropic message body and a stream's message_start,
 * while nothing was seen before (a later usage merges into the earlier one
 * with jansson): the counters present replace, raw the usage object.
 */
int lava_usage_scan_anthropic(lava_usage_t *u, const char *json, size_t len);

/* the chat completions shape into the buckets; total -1: not reported */
void lava_usage_chat_set(lava_usage_t *u, int64_t prompt, int64_t completion,
    int64_t total, int64_t cached, int64_t ain, int64_t reasoning,
    int64_t aout);

/* the input_tokens/output_tokens shape into the buckets */
void lava_usage_io_set(lava_usage_t *u, int64_t in, int64_t out,
    int64_t cached, int64_t ain, int64_t reasoning, int64_t aout);

#endif /* LAVA_USAGE_SCAN_H */
