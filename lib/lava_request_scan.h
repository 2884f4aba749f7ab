/*
 * The members of a request body the meter reads, read without jansson: the
 * request path's common case (lava_meter.c's lava_request_slim() hands it
 * every top-level member that is not prompt text, already validated by
 * lib/lava_json_scan.c). It reads what lava_request_read() reads from a
 * jansson document -- stream, background, stream_options.include_usage, n,
 * model, the output bounds, the text of the members, the case twins -- and
 * says "unsure" for everything else, so that the caller parses with jansson
 * as before: a member named twice (jansson keeps the last), a string it
 * reads that holds an escape, the members the tools check reads, the
 * endpoints that read more (speech, text-to-speech, speech-to-text, images,
 * per-request ones). The Check suite check_json_scan and the fuzz target
 * fuzz_request compare the two readings field by field.
 *
 * Nothing is allocated; the state lives on the caller's stack.
 */
#ifndef LAVA_REQUEST_SCAN_H
#define LAVA_REQUEST_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "lava_json_scan.h"
#include "lava_meter.h"

#define LAVA_REQUEST_SCAN_KEYS  32      /* members told apart (duplicates) */

typedef struct {
    lava_endpoint_e                ep;
    const lava_json_text_rules_t  *rules;      /* the meter's text walk */
    const char *const             *read_keys;  /* top-level case twins */
    const char *const             *so_keys;    /* stream_options twins */

    int                            unsure;     /* jansson must read it */
    int                            twin;       /* a case twin: refused */
    int                            stream;
    int                            background;
    int                            include_usage;
    int                            model_too_long;
    int64_t                        n;
    int64_t                        max_output;
    int64_t                        text_bytes;
    const char                    *model;      /* its bytes, no escapes */
    size_t                         model_len;
    const char                    *gc_max;     /* generationConfig.
                                                  maxOutputTokens, the
                                                  last one */
    size_t                         gc_max_len;

    size_t                         nkeys;
    const char                    *keys[LAVA_REQUEST_SCAN_KEYS];
    size_t                         key_lens[LAVA_REQUEST_SCAN_KEYS];
} lava_request_scan_t;

/* 1: the scanner may read a body of this endpoint, 0: jansson does */
int lava_request_scan_init(lava_request_scan_t *s, lava_endpoint_e ep,
    const lava_json_text_rules_t *rules, const char *const *read_keys,
    const char *const *so_keys);

/*
 * One top-level member that is not prompt text: its name (no escapes), its
 * value (validated, white space trimmed) and the bytes of its text as the
 * meter's text walk counts them (lava_json_scan_text). Sets s->unsure when
 * it cannot read it as jansson would.
 */
void lava_request_scan_member(lava_request_scan_t *s, const char *key,
    size_t klen, const char *v, size_t vlen, int64_t text);

/*
 * After the last member, unless s->unsure: fills rq (memset and
 * characters -1 already) as lava_request_read() would, text_bytes the
 * prompt text the caller counted. 0 read, -1 a case twin (rq untouched).
 */
int lava_request_scan_finish(lava_request_scan_t *s, lava_request_t *rq,
    int64_t text_bytes);

#endif /* LAVA_REQUEST_SCAN_H */
