/*
 * The translators' internal form (private to lib/lava_xlate*.c): a jansson
 * tree every source format is read into and every target format is
 * written from, so six directions are three readers and three writers.
 *
 * Request:
 *   { "model": str,                       absent: none in the body
 *     "system": [ part ],                 text parts, in order
 *     "messages": [ { "role": "user"|"assistant", "parts": [ part ] } ],
 *     "tools": [ { "name", "description"?, "parameters"? } ],
 *     "tool_choice": { "mode": "auto"|"none"|"required"|"tool", "name"? },
 *     "parallel": false,                  present only when refused
 *     "max_tokens": int, "temperature": num, "top_p": num, "top_k": int,
 *     "stop": [ str ],
 *     "format": { "type": "json" } | { "type": "json_schema", "name",
 *                                      "schema", "strict"? },
 *     "stream": bool, "include_usage": bool, "user": str,
 *     "presence_penalty": num, "frequency_penalty": num, "seed": int,
 *     "thinking_budget": int }
 * Parts:
 *   { "type": "text", "text" }
 *   { "type": "image", "url" } | { "type": "image", "mime", "data" }
 *   { "type": "tool_call", "id", "name", "args": object }    assistant
 *   { "type": "tool_result", "id", "name", "content": str,
 *     "error": true? }                                       user
 *   { "type": "thinking", "text" }                           responses
 *
 * Response: lava_xlate_resp_t below, its parts as above.
 */
#ifndef LAVA_XLATE_INT_H
#define LAVA_XLATE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lava_xlate.h"
#include "lava_xlate_map.h"


/*
 * How every translated body is written: compact, and reals with 15
 * significant digits, so 0.7 stays "0.7" (jansson's default of 17 writes
 * 0.69999999999999996); 15 digits round-trip every decimal a client writes
 * with up to 15 digits.
 */
#define LAVA_XJSON_DUMP  (JSON_COMPACT | JSON_REAL_PRECISION(15))


typedef struct {
    lava_fmt_e   from;
    lava_fmt_e   to;
    char        *err;
    size_t       errlen;
} lava_xctx_t;

/* err = the formatted message; returns -1 */
int lava_xerr(lava_xctx_t *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* err = "<what> is not supported by <target>"; returns -1 */
int lava_xunsupported(lava_xctx_t *x, const char *what);

/* obj[key] as a string, NULL when absent or not a string */
const char *lava_xstr(const json_t *obj, const char *key);

/* obj[camel] or obj[snake] (protobuf JSON accepts both spellings) */
json_t *lava_xget2(const json_t *obj, const char *camel, const char *snake);

/* appends a new {"type": "text", "text": s} to arr; -1 on failure */
int lava_xtext_part(json_t *arr, const char *s, size_t len);


/* source body (parsed) -> internal request; 0 or -1 with err */
int lava_xreq_read_openai(lava_xctx_t *x, json_t *body, json_t *req);
int lava_xreq_read_anthropic(lava_xctx_t *x, json_t *body, json_t *req);
int lava_xreq_read_gemini(lava_xctx_t *x, json_t *body, json_t *req);

/* internal request -> target body (a new object in *out); 0 or -1 */
int lava_xreq_write_openai(lava_xctx_t *x, json_t *req, json_t **out);
int lava_xreq_write_anthropic(lava_xctx_t *x, json_t *req, json_t **out);
int lava_xreq_write_gemini(lava_xctx_t *x, json_t *req, json_t **out);


typedef struct {
    char                 id[256];
    char                 model[LAVA_XLATE_MODEL_MAX];
    int64_t              created;         /* unix s, 0 unknown */
    json_t              *parts;           /* array of parts, owned */
    lava_finish_e        finish;
    char                 stop_sequence[256];   /* "" none/unknown */
    lava_xlate_usage_t   usage;
} lava_xlate_resp_t;

/* 1: an OpenAI model that takes max_completion_tokens (o1..o9*, gpt-5*) */
int lava_xopenai_reasoning_model(const char *m);


/*
 * The fast path (lava_xlate_fast.c): small text-only bodies of the common
 * directions translated without jansson, byte for byte as the general path
 * would; LAVA_XFAST_DECLINED for anything else (the general path runs).
 * lava_xlate_fast_on: 0 turns it off (the unit tests compare both paths).
 */
#define LAVA_XFAST_DECLINED  1

extern int  lava_xlate_fast_on;

int lava_xfast_request(lava_fmt_e from, lava_fmt_e to, const char *body,
    size_t len, const char *model, lava_xlate_req_info_t *info,
    lava_xlate_buf_t *out);
int lava_xfast_response(lava_fmt_e from, lava_fmt_e to, const char *body,
    size_t len, lava_xlate_buf_t *out);


int lava_xresp_read(lava_xctx_t *x, json_t *body, lava_xlate_resp_t *r);
int lava_xresp_write(lava_xctx_t *x, lava_xlate_resp_t *r, json_t **out);

#endif
